"""Password login with a rate limit: after too many failures in the window the
username is refused without checking the password, whatever is sent."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.http import HttpRequest

from xunhuan.accounts.services import (
    login_failure_record,
    login_failures_clear,
    login_is_locked,
)


class RateLimitedModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        if login_is_locked(username=username):
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(username=username)
        else:
            login_failures_clear(username=username)
        return user

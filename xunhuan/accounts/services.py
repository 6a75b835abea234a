"""Writes of accounts: API tokens (hashed, revocable) and the login rate limiter."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from xunhuan.accounts.models import ApiToken, LoginFailure, Membership, Role
from xunhuan.accounts.selectors import api_tokens_revocable_by
from xunhuan.audit.services import audit_record
from xunhuan.core.errors import NotFound, ValidationFailed
from xunhuan.registry.models import Enterprise, Region

TOKEN_PREFIX = "xh_"  # noqa: S105 - a marker that tells tokens apart, not a secret


def token_digest(raw: str) -> str:
    """SHA-256 of a token. Tokens carry 256 random bits, so a fast hash is enough:
    no dictionary exists to try against it (unlike passwords)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Create a token for ``user`` and return it with its plain text, which is not
    stored anywhere and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValidationFailed("令牌须有名称 / a token needs a name", field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user_id=user.pk, name=name[:64], prefix=raw[:10], key_hash=token_digest(raw)
        )
        audit_record(
            actor=user,
            action="api_token.create",
            object_type="api_token",
            object_id=str(token.public_id),
            enterprise=None,
            after={"name": token.name, "prefix": token.prefix},
        )
    return token, raw


def api_token_revoke(*, user: AbstractBaseUser, public_id: uuid.UUID | str) -> ApiToken:
    """Revoke a token: the user's own, or, for an organization's admin, one belonging
    to a member of that organization (an enterprise, or a regulator's office). Anybody
    else is told the token does not exist. Revoking twice changes nothing and records
    nothing the second time."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("令牌不存在 / token not found", field="token") from exc
    with transaction.atomic():
        token = (
            api_tokens_revocable_by(user)
            .select_for_update()
            .select_related("user")
            .filter(public_id=key)
            .first()
        )
        if token is None:
            raise NotFound("令牌不存在 / token not found", field="token")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            own = token.user_id == user.pk
            enterprise, region = (None, None) if own else _shared_organization(user, token)
            audit_record(
                actor=user,
                action="api_token.revoke",
                object_type="api_token",
                object_id=str(token.public_id),
                # An admin's revocation is the organization's act: its trail (and its
                # regulators') shows it, a regulator office's under its region. A user's
                # own token belongs to no one organization.
                enterprise=enterprise,
                region=region,
                before={"name": token.name, "prefix": token.prefix, "revoked": False},
                after={"revoked": True, "owner": token.user.get_username(), "by_admin": not own},
            )
    return token


def _shared_organization(
    admin: AbstractBaseUser, token: ApiToken
) -> tuple[Enterprise | None, Region | None]:
    """The first enterprise (by key) where ``admin`` is an admin and the token's user
    sits or, failing one, the first regulator's region where both sit so."""
    seats = Membership.objects.filter(user_id=token.user_id)
    enterprise = (
        Enterprise.objects.filter(members__user_id=admin.pk, members__role=Role.ADMIN.value)
        .filter(pk__in=seats.values("enterprise_id"))
        .order_by("pk")
        .first()
    )
    if enterprise is not None:
        return enterprise, None
    region = (
        Region.objects.filter(regulators__user_id=admin.pk, regulators__role=Role.ADMIN.value)
        .filter(pk__in=seats.values("regulator_region_id"))
        .order_by("pk")
        .first()
    )
    return None, region


def api_token_authenticate(*, raw: str) -> AbstractBaseUser | None:
    """The active user a token belongs to, or ``None`` for an unknown or revoked token."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    # Record use at most once a minute: a write per request would serialize API reads
    # behind SQLite's single writer.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def _limits() -> tuple[int, dt.timedelta]:
    attempts = int(getattr(settings, "XUNHUAN_LOGIN_MAX_FAILURES", 5))
    minutes = int(getattr(settings, "XUNHUAN_LOGIN_LOCKOUT_MINUTES", 15))
    return attempts, dt.timedelta(minutes=minutes)


def login_is_locked(*, username: str) -> bool:
    """Whether ``username`` has used up its failed attempts in the current window."""
    attempts, window = _limits()
    since = timezone.now() - window
    return (
        LoginFailure.objects.filter(username=username.strip().lower(), at__gte=since).count()
        >= attempts
    )


def login_failure_record(*, username: str) -> None:
    """Count one failed login, forgetting the same user's failures older than the window
    so the table stays bounded by (users x attempts)."""
    _attempts, window = _limits()
    key = username.strip().lower()[:150]
    now = timezone.now()
    with transaction.atomic():
        LoginFailure.objects.filter(username=key, at__lt=now - window).delete()
        LoginFailure.objects.create(username=key, at=now)


def login_failures_clear(*, username: str) -> None:
    """A successful login starts the count afresh."""
    LoginFailure.objects.filter(username=username.strip().lower()).delete()

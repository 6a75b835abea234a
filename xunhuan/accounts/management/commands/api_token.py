from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from xunhuan.accounts.selectors import api_tokens_list
from xunhuan.accounts.services import api_token_create, api_token_revoke
from xunhuan.core.errors import DomainError


class Command(BaseCommand):
    help = "创建、列出或吊销API令牌 / create, list or revoke a user's API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--create", metavar="NAME")
        group.add_argument("--revoke", metavar="ID")
        group.add_argument("--list", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"用户不存在 / no such user: {options['username']}")
        try:
            if options["create"]:
                token, raw = api_token_create(user=user, name=options["create"])
                self.stdout.write(f"{token.public_id} {raw}")
                self.stdout.write("令牌只显示这一次 / the token is shown only this once")
            elif options["revoke"] is not None:
                api_token_revoke(user=user, public_id=options["revoke"])
                self.stdout.write(f"已吊销 / revoked {options['revoke']}")
            else:
                for token in api_tokens_list(user):
                    state = "revoked" if token.revoked_at else "active"
                    self.stdout.write(f"{token.public_id} {token.prefix}… {token.name} {state}")
        except DomainError as exc:
            raise CommandError(str(exc)) from exc

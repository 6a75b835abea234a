"""Personal API tokens over the API (ADR 0021, 0022): a user lists, creates (the
secret is in the creation response only) and revokes its own tokens; an
organization's admin lists and revokes its members' tokens. Nobody else learns a
token exists (404). Creation and revocation are audited by the services."""

# No ``from __future__ import annotations``: django-ninja resolves annotations at run
# time (see xunhuan/api/api.py).
import datetime as dt
import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from xunhuan.accounts.models import ApiToken, Role
from xunhuan.accounts.selectors import (
    api_tokens_list,
    api_tokens_of_enterprise,
    enterprises_visible_to,
    roles_at,
)
from xunhuan.accounts.services import api_token_create, api_token_revoke
from xunhuan.core.errors import NotFound, PermissionDenied

router = Router(tags=["令牌 API tokens"])


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=64, description="用途，如“ERP对接”")


class TokenOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    name: str
    prefix: str = Field(..., description="令牌前几位，用于区分")
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    active: bool

    @staticmethod
    def resolve_active(obj: ApiToken) -> bool:
        return obj.revoked_at is None


class TokenCreatedOut(Schema):
    token: TokenOut
    secret: str = Field(..., description="完整令牌，仅此一次显示 / shown only this once")


class MemberTokenOut(TokenOut):
    owner: str = Field(..., alias="user.username")


def _user(request: HttpRequest) -> Any:
    return request.user


@router.get("", response=list[TokenOut])
def tokens_list(request: HttpRequest) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first (never the secret)."""
    return api_tokens_list(_user(request))


@router.post("", response={201: TokenCreatedOut})
def tokens_create(request: HttpRequest, body: TokenIn) -> Status[dict[str, Any]]:
    """Create a token for the user. The response carries the token itself, which is
    stored only as a hash and cannot be shown again."""
    token, raw = api_token_create(user=_user(request), name=body.name)
    return Status(201, {"token": token, "secret": raw})


@router.post("/{token_id}/revoke", response=TokenOut)
def tokens_revoke(request: HttpRequest, token_id: str) -> ApiToken:
    """Revoke a token: the user's own, or a member's for the organization's admin."""
    return api_token_revoke(user=_user(request), public_id=token_id)


@router.get("/enterprises/{credit_code}", response=list[MemberTokenOut])
def tokens_of_enterprise(request: HttpRequest, credit_code: str) -> QuerySet[ApiToken]:
    """The tokens of an enterprise's members, for its admins."""
    user = _user(request)
    enterprise = enterprises_visible_to(user).filter(credit_code=credit_code).first()
    if enterprise is None:
        raise NotFound("单位不存在或无权查看 / enterprise not found", field="credit_code")
    if Role.ADMIN.value not in roles_at(user, enterprise):
        raise PermissionDenied("只有本单位管理员可管理成员令牌 / only the enterprise's admin")
    return api_tokens_of_enterprise(user, enterprise)

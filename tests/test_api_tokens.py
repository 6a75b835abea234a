"""API token management over the API (issue #3): the access matrix of every
``/api/tokens`` operation x every persona, and what each write leaves behind.

Policy: every user lists, creates and revokes its own tokens; an organization's
admin (the plant's ``owner``, the carrier's ``carrier``) also lists and revokes its
members' tokens; to anybody else a token does not exist (404). A regulator who can
see the plant is not its admin (403 on the plant's token list). Anonymous: 401.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from tests.access_support import PERSONAS, persist_passwords
from tests.conftest import World
from xunhuan.accounts.models import ApiToken
from xunhuan.accounts.services import api_token_create, token_digest
from xunhuan.api.api import api
from xunhuan.audit.models import AuditEvent

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

TOKEN_NOT_FOUND = {
    "code": "not_found",
    "message": "令牌不存在 / token not found",
    "field": "token",
    "row": None,
}
# Personas holding a token in the fixture, and its name.
HOLDERS = ("owner", "colleague", "reader", "driver", "carrier", "province_regulator")


@dataclass
class Tokens:
    world: World
    by_persona: dict[str, ApiToken]
    raw: dict[str, str]

    def client(self, persona: str) -> Client:
        client = Client()
        if persona != "anonymous":
            client.force_login(self.world.users[persona])
        return client


@pytest.fixture
def tokens(world: World) -> Tokens:
    persist_passwords(world)
    made, raw = {}, {}
    for persona in HOLDERS:
        made[persona], raw[persona] = api_token_create(
            user=world.users[persona], name=f"{persona}的令牌"
        )
    return Tokens(world, made, raw)


def snapshot() -> dict[str, Any]:
    return {
        "tokens": sorted(ApiToken.objects.values_list("public_id", "revoked_at")),
        "audit": AuditEvent.objects.count(),
    }


Call = Callable[[Client, Tokens], "TestResponse"]


@dataclass(frozen=True)
class Route:
    call: Call
    status: Callable[[str], int]
    check: Callable[[Any, Tokens, str], None]


def authenticated(ok: int) -> Callable[[str], int]:
    return lambda persona: 401 if persona == "anonymous" else ok


def colleague_token_revoker(persona: str) -> int:
    if persona == "anonymous":
        return 401
    return 200 if persona in ("colleague", "owner") else 404


def plant_token_lister(persona: str) -> int:
    if persona == "anonymous":
        return 401
    if persona == "owner":
        return 200
    # They see the plant but hold no admin seat there.
    if persona in ("colleague", "reader", "league_regulator", "province_regulator"):
        return 403
    return 404


def check_own(data: Any, t: Tokens, persona: str) -> None:
    expected = [f"{persona}的令牌"] if persona in HOLDERS else []
    assert [item["name"] for item in data] == expected
    assert all("token" not in item for item in data)
    if persona in HOLDERS:
        token = t.by_persona[persona]
        assert data[0] == {
            "id": str(token.public_id),
            "name": f"{persona}的令牌",
            "prefix": t.raw[persona][:10],
            "created_at": data[0]["created_at"],
            "last_used_at": None,
            "revoked_at": None,
            "active": True,
        }


def check_created(data: Any, t: Tokens, persona: str) -> None:
    secret, shown = data["secret"], data["token"]
    token = ApiToken.objects.get(public_id=shown["id"])
    assert (token.user, token.name, token.key_hash) == (
        t.world.users[persona],
        "ERP对接",
        token_digest(secret),
    )
    assert secret.startswith("xh_")
    assert (shown["prefix"], shown["active"]) == (secret[:10], True)
    assert secret not in str(list(ApiToken.objects.values_list()))
    event = AuditEvent.objects.get(action="api_token.create", object_id=shown["id"])
    assert (event.actor, event.after) == (
        t.world.users[persona],
        {"name": "ERP对接", "prefix": shown["prefix"]},
    )
    # The new token works at once, and the list never shows the secret again.
    listed = Client().get("/api/tokens", headers={"Authorization": f"Bearer {secret}"})
    assert listed.status_code == 200
    assert secret not in listed.content.decode()
    assert shown["id"] in listed.content.decode()


def check_revoked(data: Any, t: Tokens, persona: str) -> None:
    token = t.by_persona["colleague"]
    assert (data["id"], data["active"]) == (str(token.public_id), False)
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = AuditEvent.objects.get(action="api_token.revoke")
    by_admin = persona == "owner"
    assert (event.actor, event.enterprise, event.after) == (
        t.world.users[persona],
        t.world.plant if by_admin else None,
        {"revoked": True, "owner": "colleague", "by_admin": by_admin},
    )
    refused = Client().get("/api/tokens", headers={"Authorization": f"Bearer {t.raw['colleague']}"})
    assert refused.status_code == 401
    # Nothing else was revoked.
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 1


def check_plant_tokens(data: Any, t: Tokens, persona: str) -> None:
    assert sorted((item["owner"], item["name"]) for item in data) == [
        ("colleague", "colleague的令牌"),
        ("owner", "owner的令牌"),
        ("reader", "reader的令牌"),
    ]


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/tokens"): Route(lambda c, t: c.get("/api/tokens"), authenticated(200), check_own),
    ("POST", "/api/tokens"): Route(
        lambda c, t: c.post("/api/tokens", {"name": "ERP对接"}, content_type="application/json"),
        authenticated(201),
        check_created,
    ),
    ("POST", "/api/tokens/{token_id}/revoke"): Route(
        lambda c, t: c.post(f"/api/tokens/{t.by_persona['colleague'].public_id}/revoke"),
        colleague_token_revoker,
        check_revoked,
    ),
    ("GET", "/api/tokens/enterprises/{credit_code}"): Route(
        lambda c, t: c.get(f"/api/tokens/enterprises/{t.world.plant.credit_code}"),
        plant_token_lister,
        check_plant_tokens,
    ),
}


def test_matrix_has_a_row_for_every_token_operation() -> None:
    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if path.startswith("/api/tokens")
    }
    assert operations == set(ROUTES)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", list(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_access_matrix(tokens: Tokens, route: tuple[str, str], persona: str) -> None:
    spec = ROUTES[route]
    before = snapshot()
    response = spec.call(tokens.client(persona), tokens)
    expected = spec.status(persona)
    assert response.status_code == expected, response.content
    if expected in (200, 201):
        spec.check(response.json(), tokens, persona)
        return
    if expected == 404 and "{token_id}" in route[1]:
        assert response.json() == TOKEN_NOT_FOUND
    assert snapshot() == before


def test_an_admin_revokes_only_its_own_organizations_tokens(tokens: Tokens) -> None:
    driver_token = tokens.by_persona["driver"]
    before = snapshot()
    # The plant's admin cannot reach the carrier's driver.
    denied = tokens.client("owner").post(f"/api/tokens/{driver_token.public_id}/revoke")
    assert (denied.status_code, denied.json()) == (404, TOKEN_NOT_FOUND)
    # A malformed id is the same 404.
    junk = tokens.client("owner").post("/api/tokens/not-a-uuid/revoke")
    assert (junk.status_code, junk.json()) == (404, TOKEN_NOT_FOUND)
    assert snapshot() == before
    carrier = tokens.client("carrier")
    listed = carrier.get(f"/api/tokens/enterprises/{tokens.world.carrier.credit_code}").json()
    assert sorted(item["owner"] for item in listed) == ["carrier", "driver"]
    revoked = carrier.post(f"/api/tokens/{driver_token.public_id}/revoke")
    assert (revoked.status_code, revoked.json()["active"]) == (200, False)
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.enterprise == tokens.world.carrier
    # Revoking again changes nothing and records nothing.
    again = carrier.post(f"/api/tokens/{driver_token.public_id}/revoke")
    assert again.status_code == 200
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1
    # The carrier's regulator reads the revocation in its trail; the driver's own does not show.
    trail = tokens.client("league_regulator").get("/api/transfers/audit?object_type=api_token")
    assert [e["action"] for e in trail.json()["items"]] == ["api_token.revoke"]


def test_a_token_cannot_be_created_without_a_name(tokens: Tokens) -> None:
    before = snapshot()
    client = tokens.client("owner")
    blank = client.post("/api/tokens", {"name": "   "}, content_type="application/json")
    assert (blank.status_code, blank.json()["field"]) == (422, "name")
    assert snapshot() == before

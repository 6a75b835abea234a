"""Compliance API: who sees which findings, who may move them and change rule settings;
a denied write changes nothing; the queue's Excel export and query counts."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any

import pytest
from openpyxl import load_workbook
from pytest_django import DjangoAssertNumQueries

from tests.access_support import persist_passwords
from tests.conftest import World
from tests.factories import make_enterprise, make_user, make_yard, seat
from xunhuan.accounts.models import Membership, Role
from xunhuan.api.api import api
from xunhuan.audit.models import AuditEvent
from xunhuan.compliance.models import (
    FacilityProfile,
    Finding,
    FindingEvent,
    HazardousStream,
    OreZone,
    RuleSetting,
    RuleSettingChange,
)
from xunhuan.compliance.services import compliance_run
from xunhuan.core.compliance.library import RULES
from xunhuan.registry.models import Region

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2025, 6, 30)
PERSONAS = (
    "owner",
    "colleague",
    "reader",
    "driver",
    "outsider",
    "carrier",
    "receiver",
    "league_regulator",
    "other_league_regulator",
    "province_regulator",
    "league_reader",
)
# Whose permanent-yard finding each persona sees (plant: 准格尔; outsider: 包头).
SEES = {
    "owner": {"plant"},
    "colleague": {"plant"},
    "reader": {"plant"},
    "driver": set(),
    "outsider": {"outsider"},
    "carrier": set(),
    "receiver": set(),
    "league_regulator": {"plant"},
    "other_league_regulator": {"outsider"},
    "province_regulator": {"plant", "outsider"},
    "league_reader": {"plant"},
}
ACKNOWLEDGE = {"owner", "colleague", "league_regulator", "province_regulator"}
REGULATE_PLANT = {"league_regulator", "province_regulator"}


def permanent_yards_found(world: World) -> dict[str, Finding]:
    """The world with acting regulators, a read-only league seat, and one permanent-yard
    finding each for the plant (准格尔) and the outsider (包头). The shared personas'
    regulator seats are read-only; here they act (member seats), and a read-only seat
    of the same league sees the queue but moves nothing (ADR 0052)."""
    regulators = ("league_regulator", "other_league_regulator", "province_regulator")
    Membership.objects.filter(user__username__in=regulators).update(role=Role.MEMBER)
    world.users["league_reader"] = make_user(username="league_reader")
    seat(world.users["league_reader"], region="150600", role=Role.READER)
    persist_passwords(world)
    make_yard(enterprise=world.plant, code="ZC09", name="永久灰场", is_permanent=True)
    make_yard(enterprise=world.outsider, code="ZC09", name="赤泥库", is_permanent=True)
    compliance_run(rule_ids=["YARD-PERMANENT"], as_of=AS_OF)
    return {
        "plant": Finding.objects.get(enterprise=world.plant),
        "outsider": Finding.objects.get(enterprise=world.outsider),
    }


@pytest.fixture
def found(world: World) -> dict[str, Finding]:
    return permanent_yards_found(world)


def state() -> list[Any]:
    return [
        sorted(Finding.objects.values_list("pk", "status", "status_reason")),
        FindingEvent.objects.count(),
        sorted(RuleSetting.objects.values_list("rule_id", "region_id", "is_enabled")),
        RuleSettingChange.objects.count(),
        AuditEvent.objects.count(),
    ]


def owners(found: dict[str, Finding], items: list[dict[str, Any]]) -> set[str]:
    ids = {str(f.public_id): name for name, f in found.items()}
    return {ids[item["id"]] for item in items}


@pytest.mark.parametrize("persona", PERSONAS)
def test_findings_list_is_scoped(world: World, found: dict[str, Finding], persona: str) -> None:
    response: TestResponse = world.client(persona).get("/api/compliance/findings")
    assert response.status_code == 200
    assert owners(found, response.json()["items"]) == SEES[persona]


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_finding_detail_is_scoped(world: World, found: dict[str, Finding], persona: str) -> None:
    response: TestResponse = world.client(persona).get(
        f"/api/compliance/findings/{found['plant'].public_id}"
    )
    if persona == "anonymous":
        assert response.status_code == 401
    elif "plant" in SEES[persona]:
        assert response.status_code == 200
        body = response.json()
        assert body["explanation_zh"] == (
            "贮存场永久灰场（ZC09）登记为永久贮存场（现存0.000吨）；应改为临时贮存并逐步消纳历史堆存。"
        )
        assert body["events"][0]["to_status"] == "open"
    else:
        assert response.status_code == 404
        assert response.json()["message"] == "检查发现不存在或无权查看 / finding not found"


def test_anonymous_gets_nothing(world: World, found: dict[str, Finding]) -> None:
    client = world.client("anonymous")
    for path in (
        "/api/compliance/findings",
        "/api/compliance/rules",
        "/api/compliance/findings/export.xlsx",
    ):
        assert client.get(path).status_code == 401


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_acknowledge(world: World, found: dict[str, Finding], persona: str) -> None:
    before = state()
    response: TestResponse = world.client(persona).post(
        f"/api/compliance/findings/{found['plant'].public_id}/acknowledge",
        {"reason": "已安排整改 / on it"},
        content_type="application/json",
    )
    if persona in ACKNOWLEDGE:
        assert response.status_code == 200
        assert response.json()["status"] == "acknowledged"
        assert [e["to_status"] for e in response.json()["events"]] == ["open", "acknowledged"]
        event = AuditEvent.objects.get(action="compliance.finding_acknowledged")
        assert (event.actor, event.enterprise, event.after) == (
            world.users[persona],
            world.plant,
            {"status": "acknowledged", "reason": "已安排整改 / on it"},
        )
        return
    expected = 401 if persona == "anonymous" else 403 if "plant" in SEES[persona] else 404
    assert response.status_code == expected
    assert state() == before


@pytest.mark.parametrize("action", ["resolve", "waive"])
@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_resolve_and_waive_are_the_regulators(
    world: World, found: dict[str, Finding], persona: str, action: str
) -> None:
    before = state()
    response: TestResponse = world.client(persona).post(
        f"/api/compliance/findings/{found['plant'].public_id}/{action}",
        {"reason": "已核实 / checked on site"},
        content_type="application/json",
    )
    if persona in REGULATE_PLANT:
        assert response.status_code == 200
        assert response.json()["status"] == {"resolve": "resolved", "waive": "waived"}[action]
        assert response.json()["status_reason"] == "已核实 / checked on site"
        return
    expected = 401 if persona == "anonymous" else 403 if "plant" in SEES[persona] else 404
    assert response.status_code == expected
    assert state() == before


def test_waiver_needs_a_reason_and_a_closed_finding_stays_closed(
    world: World, found: dict[str, Finding]
) -> None:
    client = world.client("league_regulator")
    url = f"/api/compliance/findings/{found['plant'].public_id}"
    before = state()
    response: TestResponse = client.post(
        url + "/waive", {"reason": " "}, content_type="application/json"
    )
    assert (response.status_code, response.json()["field"]) == (422, "reason")
    assert state() == before
    assert (
        client.post(
            url + "/resolve", {"reason": "已清运"}, content_type="application/json"
        ).status_code
        == 200
    )
    again: TestResponse = client.post(
        url + "/waive", {"reason": "x"}, content_type="application/json"
    )
    assert again.status_code == 409


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_rule_settings_put(world: World, found: dict[str, Finding], persona: str) -> None:
    before = state()
    response: TestResponse = world.client(persona).put(
        "/api/compliance/rules/YARD-3Y/settings/150600",
        {"is_enabled": True, "params": {"years": "2.5"}, "reason": "从严 / stricter"},
        content_type="application/json",
    )
    if persona in REGULATE_PLANT:
        assert response.status_code == 200
        assert response.json()["params"] == {"years": "2.5"}
        assert RuleSettingChange.objects.get().reason == "从严 / stricter"
        return
    assert response.status_code == (401 if persona == "anonymous" else 403)
    assert state() == before


def test_rules_list_shows_what_is_in_force(world: World, found: dict[str, Finding]) -> None:
    league = world.client("league_regulator")
    league.put(
        "/api/compliance/rules/YARD-3Y/settings/150600",
        {"is_enabled": False, "params": {"years": "4"}, "reason": "试点 / pilot"},
        content_type="application/json",
    )
    rules = {
        r["rule_id"]: r
        for r in world.client("owner").get("/api/compliance/rules?region=150622").json()
    }
    assert list(rules) == [r.rule_id for r in RULES]
    assert (rules["YARD-3Y"]["is_enabled"], rules["YARD-3Y"]["set_in"]) == (False, "150600")
    assert rules["YARD-3Y"]["params"][0] == {
        "name": "years",
        "kind": "decimal",
        "value": "4",
        "default": "3",
        "label_zh": "年限（年）",
        "label_en": "years",
    }
    elsewhere = {r["rule_id"]: r for r in league.get("/api/compliance/rules?region=150203").json()}
    assert (elsewhere["YARD-3Y"]["is_enabled"], elsewhere["YARD-3Y"]["set_in"]) == (True, None)
    history: TestResponse = league.get("/api/compliance/rules/YARD-3Y/settings/150600/history")
    assert [(h["params"], h["reason"], h["changed_by"]) for h in history.json()] == [
        ({"years": "4"}, "试点 / pilot", "league_regulator")
    ]
    hidden: TestResponse = world.client("other_league_regulator").get(
        "/api/compliance/rules/YARD-3Y/settings/150600/history"
    )
    assert hidden.status_code == 404


@pytest.mark.parametrize("persona", ["province_regulator", "outsider", "carrier"])
def test_export_holds_exactly_the_visible_findings(
    world: World, found: dict[str, Finding], persona: str
) -> None:
    response: TestResponse = world.client(persona).get("/api/compliance/findings/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "规则编号 rule"
    names = {world.plant.credit_code: "plant", world.outsider.credit_code: "outsider"}
    assert {names[str(row[4])] for row in rows[1:]} == SEES[persona]
    if persona == "outsider":
        assert rows[1][:4] == ("YARD-PERMANENT", "设置永久贮存场", "高", "包头测试铝厂")


def test_queue_order_and_filters(world: World, found: dict[str, Finding]) -> None:
    compliance_run(rule_ids=["YARD-3Y", "LEDGER-GAP"], as_of=AS_OF)  # nothing more to find
    client = world.client("province_regulator")
    by_age = client.get("/api/compliance/findings?order=age").json()["items"]
    assert [i["id"] for i in by_age] == [
        str(found["plant"].public_id),
        str(found["outsider"].public_id),
    ]
    only: TestResponse = client.get(
        f"/api/compliance/findings?enterprise={world.outsider.credit_code}"
    )
    assert owners(found, only.json()["items"]) == {"outsider"}
    league: TestResponse = client.get("/api/compliance/findings?region=150200&status=open")
    assert owners(found, league.json()["items"]) == {"outsider"}


@pytest.mark.parametrize("n", [1, 12])
def test_findings_list_query_count(
    world: World,
    found: dict[str, Finding],
    n: int,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    region = Region.objects.get(code="150622")
    for i in range(n):
        enterprise = make_enterprise(name=f"查询计数{i}", region=region)
        make_yard(enterprise=enterprise, code="ZC09", is_permanent=True)
    compliance_run(rule_ids=["YARD-PERMANENT"], as_of=AS_OF)
    client = world.client("province_regulator")
    # session, user, memberships (own enterprises subquery inline), regulated regions, count, page
    with django_assert_max_num_queries(6):
        response: TestResponse = client.get("/api/compliance/findings?limit=100")
    assert response.json()["count"] == n + 2


def test_every_compliance_operation_is_in_this_matrix() -> None:
    # tests/test_api_access.py leaves /api/compliance to this file: each operation
    # below has its persona tests above.
    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if path.startswith("/api/compliance")
    }
    assert operations == {
        ("GET", "/api/compliance/rules"),
        ("PUT", "/api/compliance/rules/{rule_id}/settings/{region_code}"),
        ("GET", "/api/compliance/rules/{rule_id}/settings/{region_code}/history"),
        ("GET", "/api/compliance/findings"),
        ("GET", "/api/compliance/findings/export.xlsx"),
        ("GET", "/api/compliance/findings/{finding_id}"),
        ("POST", "/api/compliance/findings/{finding_id}/acknowledge"),
        ("POST", "/api/compliance/findings/{finding_id}/resolve"),
        ("POST", "/api/compliance/findings/{finding_id}/waive"),
        ("GET", "/api/compliance/enterprises/{credit_code}/profiles"),
        ("PUT", "/api/compliance/enterprises/{credit_code}/profiles"),
        ("GET", "/api/compliance/enterprises/{credit_code}/hazardous"),
        ("PUT", "/api/compliance/enterprises/{credit_code}/hazardous/{waste_code}"),
        ("GET", "/api/compliance/zones"),
        ("POST", "/api/compliance/zones"),
    }


PROFILE_WRITERS = {"owner", "colleague", "league_regulator", "province_regulator"}


def profiles() -> list[Any]:
    return sorted(
        FacilityProfile.objects.values_list(
            "enterprise_id",
            "site_id",
            "is_new_project",
            "has_fgd_gypsum_plan",
            "potline_current_ka",
        )
    )


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_profiles_put(world: World, found: dict[str, Finding], persona: str) -> None:
    before = (state(), profiles())
    url = f"/api/compliance/enterprises/{world.plant.credit_code}/profiles"
    response: TestResponse = world.client(persona).put(
        url, {"is_new_project": True, "has_fly_ash_plan": True}, content_type="application/json"
    )
    if persona in PROFILE_WRITERS:
        assert response.status_code == 200
        body = response.json()
        assert (body["site"], body["is_new_project"], body["has_fgd_gypsum_plan"]) == (
            None,
            True,
            False,
        )
        # The parameters are what the next run checks: a new plant without a gypsum plan.
        compliance_run(rule_ids=["COAL-POWER-PLANS"], as_of=AS_OF)
        assert Finding.objects.get(rule_id="COAL-POWER-PLANS").enterprise == world.plant
        return
    expected = 401 if persona == "anonymous" else 403 if "plant" in SEES[persona] else 404
    assert response.status_code == expected
    assert (state(), profiles()) == before


def test_profile_of_a_line_and_its_refusals(world: World, found: dict[str, Finding]) -> None:
    client = world.client("owner")
    url = f"/api/compliance/enterprises/{world.plant.credit_code}/profiles"
    line: TestResponse = client.put(
        url + "?site=BOILER1", {"potline_current_ka": "420.5"}, content_type="application/json"
    )
    assert (line.status_code, line.json()["site"], line.json()["potline_current_ka"]) == (
        200,
        "BOILER1",
        "420.5",
    )
    unknown: TestResponse = client.put(url + "?site=NOPE", {}, content_type="application/json")
    assert (unknown.status_code, unknown.json()["field"]) == (422, "site")
    bad: TestResponse = client.put(url, {"metal": "gold"}, content_type="application/json")
    assert (bad.status_code, bad.json()["field"]) == (422, "metal")
    listed = client.get(url).json()
    assert [(p["site"], p["potline_current_ka"]) for p in listed] == [("BOILER1", "420.5")]
    assert world.client("outsider").get(url).status_code == 404


def test_a_read_only_regulator_seat_is_told_so(world: World, found: dict[str, Finding]) -> None:
    before = state()
    client = world.client("league_reader")
    response: TestResponse = client.put(
        "/api/compliance/rules/YARD-3Y/settings/150600",
        {"is_enabled": False, "params": {}, "reason": "x"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["message"]) == (
        403,
        "只读席位不能设置规则 / a read-only regulator seat cannot change rule settings",
    )
    # It still reads the queue and the settings history of its league.
    assert client.get("/api/compliance/findings").json()["count"] == 1
    assert client.get("/api/compliance/rules/YARD-3Y/settings/150600/history").json() == []
    assert state() == before


def declarations() -> list[Any]:
    return sorted(HazardousStream.objects.values_list("enterprise_id", "waste_id", "hw_code"))


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_hazardous_put(world: World, found: dict[str, Finding], persona: str) -> None:
    before = (state(), declarations())
    url = f"/api/compliance/enterprises/{world.plant.credit_code}/hazardous/SW01"
    response: TestResponse = world.client(persona).put(
        url, {"hw_class": "HW48", "hw_code": "321-024-48"}, content_type="application/json"
    )
    if persona in PROFILE_WRITERS:
        assert response.status_code == 200
        assert (response.json()["waste_code"], response.json()["hw_code"]) == (
            "SW01",
            "321-024-48",
        )
        listed = world.client("owner").get(url.rsplit("/", 1)[0]).json()
        assert [(d["waste_code"], d["hw_class"]) for d in listed] == [("SW01", "HW48")]
        assert AuditEvent.objects.filter(action="compliance.hazardous_stream_declare").count() == 1
        return
    expected = 401 if persona == "anonymous" else 403 if "plant" in SEES[persona] else 404
    assert response.status_code == expected
    assert (state(), declarations()) == before


def test_hazardous_put_refuses_a_code_of_another_class(
    world: World, found: dict[str, Finding]
) -> None:
    url = f"/api/compliance/enterprises/{world.plant.credit_code}/hazardous/SW01"
    response: TestResponse = world.client("owner").put(
        url, {"hw_class": "HW48", "hw_code": "900-041-49"}, content_type="application/json"
    )
    assert (response.status_code, response.json()["field"]) == (422, "hw_code")
    assert declarations() == []


ZONE_WRITERS = {"league_regulator", "province_regulator"}


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_zones_post(world: World, found: dict[str, Finding], persona: str) -> None:
    before = (state(), OreZone.objects.count())
    client = world.client(persona)
    response: TestResponse = client.post(
        "/api/compliance/zones",
        {
            "region": "150600",
            "name": "测试重点矿区",
            "latitude": "39.9",
            "longitude": "111.2",
            "radius_km": "25",
        },
        content_type="application/json",
    )
    if persona in ZONE_WRITERS:
        assert response.status_code == 201
        assert (response.json()["region"], response.json()["radius_km"]) == ("150600", "25")
        assert [z["name"] for z in client.get("/api/compliance/zones").json()] == ["测试重点矿区"]
        assert world.client("other_league_regulator").get("/api/compliance/zones").json() == []
        return
    assert response.status_code == (401 if persona == "anonymous" else 403)
    assert (state(), OreZone.objects.count()) == before

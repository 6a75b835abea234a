"""Jurisdiction-level writes in the audit trail: a target, a rule setting, a park, an ore
zone, a park's finding or a regulator office's token revocation belongs to no enterprise,
so its event names the region it concerns. ``GET /api/transfers/audit`` lists it to the
regulators of that region and above, never to another league's regulator, to enterprise
seats (not even those in the region) or to anonymous callers; enterprise events are
listed as before."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.access_support import persist_passwords
from tests.conftest import World
from tests.factories import make_user, seat
from tests.test_compliance_rules import _park, run
from xunhuan.accounts.models import Membership, Role
from xunhuan.accounts.services import api_token_create, api_token_revoke
from xunhuan.audit.models import AuditEvent
from xunhuan.compliance.models import RuleSetting
from xunhuan.compliance.services import finding_waive, ore_zone_register
from xunhuan.registry.services import park_register, park_update, site_register
from xunhuan.statistics.services import target_create, target_retire, target_revise

TRAIL = "/api/transfers/audit"
REGULATORS = ("league_regulator", "other_league_regulator", "province_regulator")
# Enterprise seats: the plant (in 准格尔, 鄂尔多斯) with each role, Baotou's, the carrier's.
ENTERPRISE_SEATS = ("owner", "colleague", "reader", "driver", "outsider", "carrier", "receiver")


@pytest.fixture
def acting(world: World) -> World:
    """The world with acting (member) seats for the three regulators, who may then set
    targets and rules in their jurisdictions (readers may not, ADR 0016 / 0052)."""
    Membership.objects.filter(user__username__in=REGULATORS).update(role=Role.MEMBER)
    persist_passwords(world)
    return world


def trail(world: World, persona: str, query: str = "") -> list[tuple[str, str | None, str | None]]:
    """(action, enterprise, region) of each event the persona's trail lists, newest first."""
    response = world.client(persona).get(f"{TRAIL}{query}")
    assert response.status_code == 200, response.content
    return [(e["action"], e["enterprise"], e["region"]) for e in response.json()["items"]]


def ordos_target(world: World, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "user": world.users["league_regulator"],
        "region_code": "150622",
        "year": 2026,
        "plan": "准格尔旗测试方案",
        "indicator": "准格尔粉煤灰利用率测试",
        "scope": "groups",
        "metric": "rate",
        "waste_groups": ["fly_ash"],
        "threshold_percent": Decimal("85"),
    }
    return str(target_create(**(fields | overrides)).public_id)


def test_target_writes_name_their_region_and_reach_its_regulators_only(acting: World) -> None:
    world = acting
    regulator = world.users["league_regulator"]
    first = ordos_target(world)
    revised = target_revise(
        user=regulator,
        target_public_id=first,
        reason="提高目标 / raised",
        threshold_percent=Decimal("90"),
    )
    target_retire(
        user=regulator, target_public_id=str(revised.public_id), reason="撤回 / withdrawn"
    )
    events = list(AuditEvent.objects.filter(object_type="target").order_by("id"))
    assert [(e.action, e.actor, e.enterprise, e.region_id) for e in events] == [
        ("target.create", regulator, None, "150622"),
        ("target.revise", regulator, None, "150622"),
        ("target.retire", regulator, None, "150622"),
    ]
    expected = [
        ("target.retire", None, "150622"),
        ("target.revise", None, "150622"),
        ("target.create", None, "150622"),
    ]
    query = "?object_type=target"
    assert trail(world, "league_regulator", query) == expected
    assert trail(world, "province_regulator", query) == expected
    # Another league's regulator, and every enterprise seat, the 准格尔 plant's included.
    for persona in ("other_league_regulator", *ENTERPRISE_SEATS):
        assert trail(world, persona, query) == [], persona
    anonymous = world.client("anonymous").get(f"{TRAIL}{query}")
    assert anonymous.status_code == 401


def test_each_regulator_reads_its_own_subtree(acting: World) -> None:
    world = acting
    ordos_target(world)
    ordos_target(
        world,
        user=world.users["other_league_regulator"],
        region_code="150203",
        plan="包头测试方案",
        indicator="包头赤泥利用率",
        scope="bulk",
        waste_groups=[],
        threshold_percent=Decimal("40"),
    )
    assert trail(world, "league_regulator") == [("target.create", None, "150622")]
    assert trail(world, "other_league_regulator") == [("target.create", None, "150203")]
    assert trail(world, "province_regulator") == [
        ("target.create", None, "150203"),
        ("target.create", None, "150622"),
    ]


def test_a_rule_setting_change_is_read_by_its_jurisdiction(acting: World) -> None:
    world = acting
    url = "/api/compliance/rules/YARD-PERMANENT/settings/150600"
    body = {"is_enabled": False, "params": {}, "reason": "试点暂停 / paused"}
    # Baotou's regulator may not set Ordos' rules: refused, nothing written or recorded.
    denied = world.client("other_league_regulator").put(url, body, content_type="application/json")
    assert denied.status_code == 403
    assert (RuleSetting.objects.count(), AuditEvent.objects.count()) == (0, 0)
    done = world.client("league_regulator").put(url, body, content_type="application/json")
    assert done.status_code == 200, done.content
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id, event.enterprise, event.region_id) == (
        "compliance.rule_setting_set",
        "YARD-PERMANENT@150600",
        None,
        "150600",
    )
    expected = [("compliance.rule_setting_set", None, "150600")]
    assert trail(world, "league_regulator") == expected
    assert trail(world, "province_regulator") == expected
    for persona in ("other_league_regulator", *ENTERPRISE_SEATS):
        assert trail(world, persona) == [], persona
    assert world.client("anonymous").get(TRAIL).status_code == 401


def test_enterprise_events_are_listed_as_before(acting: World) -> None:
    world = acting
    site_register(
        enterprise=world.plant,
        code="BOILER2",
        name="2号锅炉",
        kind="production",
        actor=world.users["owner"],
    )
    ordos_target(world)
    plant_code = world.plant.credit_code
    site = ("registry.site_register", plant_code, None)
    target = ("target.create", None, "150622")
    assert trail(world, "league_regulator") == [target, site]
    assert trail(world, "province_regulator") == [target, site]
    for persona in ("owner", "colleague", "reader"):
        assert trail(world, persona) == [site], persona
    for persona in ("other_league_regulator", "outsider", "carrier", "driver", "receiver"):
        assert trail(world, persona) == [], persona


def test_parks_ore_zones_and_park_findings_name_their_region(acting: World) -> None:
    world = acting
    regulator = world.users["league_regulator"]
    park = park_register(name="审计测试园区", level="municipal", region_code="150622")
    # Moved to Baotou: the change is the new region's (and the province's).
    park_update(park=park, name="审计测试园区", level="municipal", region_code="150203")
    ore_zone_register(
        user=regulator,
        region_code="150600",
        name="测试重点矿区",
        latitude=Decimal("39.900000"),
        longitude=Decimal("111.200000"),
        radius_km=Decimal("30"),
    )
    _park("测试大园区", "1000000.000")
    (finding,) = run("PARK-UTILIZATION")
    finding_waive(user=regulator, finding=finding, reason="园区已规划利用项目 / planned")
    jurisdiction = AuditEvent.objects.filter(enterprise__isnull=True).order_by("id")
    assert [(e.action, e.region_id) for e in jurisdiction] == [
        ("registry.park_register", "150622"),
        ("registry.park_update", "150203"),
        ("compliance.ore_zone_register", "150600"),
        ("compliance.finding_waived", "150622"),
    ]
    # The parks' plants posted ledger entries: their events are the enterprises'.
    assert [e for e in trail(world, "league_regulator") if e[1] is None] == [
        ("compliance.finding_waived", None, "150622"),
        ("compliance.ore_zone_register", None, "150600"),
        ("registry.park_register", None, "150622"),
    ]
    assert trail(world, "other_league_regulator") == [("registry.park_update", None, "150203")]
    assert trail(world, "owner") == []


def test_a_regulator_office_revoking_a_members_token_is_its_regions(acting: World) -> None:
    world = acting
    head = make_user(username="province_admin")
    seat(head, region="150000", role=Role.ADMIN)
    token, _ = api_token_create(user=world.users["province_regulator"], name="脚本")
    api_token_revoke(user=head, public_id=token.public_id)
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert (event.actor, event.enterprise, event.region_id) == (head, None, "150000")
    query = "?object_type=api_token"
    assert trail(world, "province_regulator", query) == [("api_token.revoke", None, "150000")]
    # A user's own token belongs to no one; the league sits below the province's office.
    own, _ = api_token_create(user=world.users["owner"], name="自用")
    api_token_revoke(user=world.users["owner"], public_id=own.public_id)
    assert AuditEvent.objects.filter(action="api_token.create", region__isnull=False).count() == 0
    assert trail(world, "owner", query) == []
    assert trail(world, "league_regulator", query) == []


def test_the_trail_takes_the_same_queries_for_more_jurisdiction_events(acting: World) -> None:
    world = acting
    client = world.client("province_regulator")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(TRAIL)
        assert response.status_code == 200
        return len(captured)

    ordos_target(world)
    few = queries()
    for year in (2027, 2028, 2029):
        ordos_target(world, year=year)
    site_register(enterprise=world.plant, code="BOILER2", name="2号锅炉", kind="production")
    assert len(trail(world, "province_regulator")) == 5
    assert queries() == few

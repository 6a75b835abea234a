"""Audit rows for registry writes (issue #3, item 6): registering or changing an
enterprise, a site, a waste stream, a facility capacity or a park writes exactly one
audit event in the write's transaction, with the actor and the row before and after;
a refused write writes none. The registry sits below the audit app, so it announces
each write with a signal the audit app records (ADR 0023)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tests.access_support import new_credit_code, persist_passwords
from tests.conftest import REGIONS_DIR, World
from tests.factories import make_site
from xunhuan.audit.models import AuditEvent
from xunhuan.core.errors import ValidationFailed
from xunhuan.registry.models import Enterprise, Park, Site
from xunhuan.registry.services import (
    enterprise_update,
    facility_capacity_set,
    park_register,
    park_update,
    regions_load,
    registry_written,
    site_register,
    site_update,
)

NEW_ENTERPRISE = {"name": "新登记测试企业", "industry": "4411", "roles": ["generator"]}


def only_event() -> AuditEvent:
    """The one event a write left."""
    return AuditEvent.objects.get()


def test_a_regulator_registering_an_enterprise_is_recorded(world: World) -> None:
    persist_passwords(world)
    code = new_credit_code("150622")
    client = Client()
    client.force_login(world.users["league_regulator"])
    response = client.post(
        "/api/enterprises",
        {**NEW_ENTERPRISE, "credit_code": code, "region": "150622"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    created = Enterprise.objects.get(credit_code=code)
    event = only_event()
    assert (event.action, event.object_type, event.object_id) == (
        "registry.enterprise_register",
        "enterprise",
        code,
    )
    assert (event.actor, event.enterprise, event.before) == (
        world.users["league_regulator"],
        created,
        None,
    )
    after: dict[str, Any] = event.after or {}
    assert (after["credit_code"], after["name"], after["region"], after["is_generator"]) == (
        code,
        "新登记测试企业",
        "150622",
        True,
    )
    # The county's enterprise reads it in its trail, the league regulator too, Baotou not.
    for persona, sees in (("league_regulator", True), ("other_league_regulator", False)):
        reader = Client()
        reader.force_login(world.users[persona])
        trail = reader.get("/api/transfers/audit?object_type=enterprise").json()
        assert [e["object_id"] for e in trail["items"]] == ([code] if sees else [])


def test_refused_registrations_record_nothing(world: World) -> None:
    persist_passwords(world)
    before = AuditEvent.objects.count()
    client = Client()
    # Outside the regulator's subtree: refused before the service.
    client.force_login(world.users["other_league_regulator"])
    outside = client.post(
        "/api/enterprises",
        {**NEW_ENTERPRISE, "credit_code": new_credit_code("150622"), "region": "150622"},
        content_type="application/json",
    )
    assert outside.status_code == 403
    # Refused by the service (the plant's code is registered already).
    client.force_login(world.users["league_regulator"])
    taken = client.post(
        "/api/enterprises",
        {**NEW_ENTERPRISE, "credit_code": world.plant.credit_code, "region": "150622"},
        content_type="application/json",
    )
    assert (taken.status_code, taken.json()["field"]) == (422, "credit_code")
    with pytest.raises(ValidationFailed):
        site_register(
            enterprise=world.plant, code="YARD9", name="新灰场", kind="storage", actor=None
        )
    assert AuditEvent.objects.count() == before


def test_sites_and_streams_through_the_api_name_their_actor(world: World) -> None:
    persist_passwords(world)
    client = Client()
    client.force_login(world.users["colleague"])
    base = f"/api/enterprises/{world.plant.credit_code}"
    site = client.post(
        base + "/sites",
        {"code": "NEW1", "name": "新车间", "kind": "production"},
        content_type="application/json",
    )
    stream = client.post(
        base + "/streams",
        {"code": "FA9", "name": "新粉煤灰线", "waste_code": "SW02", "source_site": "NEW1"},
        content_type="application/json",
    )
    assert (site.status_code, stream.status_code) == (201, 201)
    events = AuditEvent.objects.order_by("id")
    assert [(e.action, e.object_id, e.actor, e.enterprise) for e in events] == [
        (
            "registry.site_register",
            f"{world.plant.credit_code}/NEW1",
            world.users["colleague"],
            world.plant,
        ),
        (
            "registry.waste_stream_register",
            f"{world.plant.credit_code}/FA9",
            world.users["colleague"],
            world.plant,
        ),
    ]
    new_site = Site.objects.get(enterprise=world.plant, code="NEW1")
    assert (events[1].after or {})["source_site"] == new_site.pk


def test_changes_record_the_row_before_and_after(world: World) -> None:
    regulator = world.users["league_regulator"]
    yard = world.plant_yard
    yard_capacity = Site.objects.get(pk=yard.pk).design_capacity
    site_update(
        site=yard,
        name="二号灰场",
        kind="storage",
        storage_class=yard.storage_class,
        design_capacity=Decimal("80000.000"),
        actor=regulator,
    )
    event = only_event()
    assert (event.action, event.actor, event.enterprise) == (
        "registry.site_update",
        regulator,
        world.plant,
    )
    before, after = event.before or {}, event.after or {}
    assert (before["name"], after["name"]) == ("灰场", "二号灰场")
    # Quantities are kept as the Decimal text of the stored tonnes.
    assert (before["design_capacity"], after["design_capacity"]) == (
        str(yard_capacity),
        "80000.000",
    )

    enterprise_update(
        enterprise=world.receiver,
        name="改名后的建材厂",
        industry_code=world.receiver.industry_id,
        region_code=world.receiver.region_id,
        roles=["utilizer"],
        actor=regulator,
    )
    changed = AuditEvent.objects.get(action="registry.enterprise_update")
    assert ((changed.before or {})["name"], (changed.after or {})["name"]) == (
        "准格尔测试建材厂",
        "改名后的建材厂",
    )
    assert changed.enterprise == world.receiver


def test_capacity_and_parks(world: World) -> None:
    kiln = make_site(enterprise=world.receiver, code="KILN9", name="窑", kind="utilization")
    start = AuditEvent.objects.count()
    facility_capacity_set(
        site=kiln, waste_code="SW02", route="cement", annual_capacity=Decimal("5000")
    )
    facility_capacity_set(
        site=kiln, waste_code="SW02", route="cement", annual_capacity=Decimal("6000")
    )
    first, second = AuditEvent.objects.order_by("id")[start:]
    assert (first.before, (first.after or {})["annual_capacity"]) == (None, "5000.000")
    assert ((second.before or {})["annual_capacity"], (second.after or {})["annual_capacity"]) == (
        "5000.000",
        "6000.000",
    )
    assert second.enterprise == world.receiver
    with pytest.raises(ValidationFailed):
        facility_capacity_set(
            site=kiln, waste_code="SW02", route="cement", annual_capacity=Decimal("0")
        )
    park = park_register(name="审计测试园区", level="municipal", region_code="150622")
    park_update(
        park=park, name="审计测试园区", level="municipal", region_code="150622", note="扩区"
    )
    park_events = AuditEvent.objects.filter(object_type="park").order_by("id")
    assert [(e.action, e.object_id) for e in park_events] == [
        ("registry.park_register", str(park.pk)),
        ("registry.park_update", str(park.pk)),
    ]
    assert ((park_events[1].before or {})["note"], (park_events[1].after or {})["note"]) == (
        "",
        "扩区",
    )
    assert Park.objects.get(pk=park.pk).note == "扩区"
    assert AuditEvent.objects.count() == start + 4


def test_loading_the_divisions_is_not_an_audited_act(world: World) -> None:
    before = AuditEvent.objects.count()
    regions_load(source_dir=REGIONS_DIR)
    assert AuditEvent.objects.count() == before


def test_a_registry_write_nobody_records_is_refused(world: World) -> None:
    from xunhuan.audit.services import audit_registry_write

    registry_written.disconnect(dispatch_uid="audit-registry-writes")
    try:
        with pytest.raises(RuntimeError, match="registry writes are audited"):
            park_register(name="无审计园区", level="municipal", region_code="150622")
    finally:
        registry_written.connect(audit_registry_write, dispatch_uid="audit-registry-writes")
    assert not Park.objects.filter(name="无审计园区").exists()

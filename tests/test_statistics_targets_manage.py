"""Regulators revise and retire targets, never edit or delete them (ADR 0016): services,
API and the web page 目标管理, each with the personas who must get nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.access_support import persist_passwords
from tests.conftest import World
from tests.factories import make_user, seat
from tests.test_statistics import post_story
from tests.test_web_i18n import CJK, _Chrome
from xunhuan.accounts.models import Membership, Role
from xunhuan.audit.models import AuditEvent
from xunhuan.core.errors import Conflict, PermissionDenied, ValidationFailed
from xunhuan.registry.models import Region
from xunhuan.statistics.models import Target
from xunhuan.statistics.selectors import (
    StatScope,
    targets_evaluate,
    targets_retired_for_region,
)
from xunhuan.statistics.services import target_create, target_retire, target_revise

API = "/api/statistics"
# Who must not touch the Ordos target: another league's acting regulator, enterprise
# seats (admin and reader), the league's read-only regulator seat, anonymous.
OUTSIDERS = ["other_league_regulator", "owner", "reader", "league_reader", "anonymous"]


@pytest.fixture
def managed(world: World) -> World:
    """The statistics story (准格尔 2024: 30 %, 2025: 66.67 % fly ash utilized), acting
    (member) seats for the three regulators, a read-only seat at 鄂尔多斯, and one
    target each for 准格尔 (85 % fly ash by 2026) and 包头 set by their regulators."""
    post_story(world)
    regulators = ("league_regulator", "other_league_regulator", "province_regulator")
    Membership.objects.filter(user__username__in=regulators).update(role=Role.MEMBER)
    world.users["league_reader"] = make_user(username="league_reader")
    seat(world.users["league_reader"], region="150600", role=Role.READER)
    persist_passwords(world)
    target_create(
        user=world.users["league_regulator"],
        region_code="150622",
        year=2026,
        plan="准格尔旗测试方案",
        issuer_doc_no="准政发〔2026〕1号",
        indicator="准格尔粉煤灰利用率测试",
        scope="groups",
        metric="rate",
        waste_groups=["fly_ash"],
        threshold_percent=Decimal("85"),
    )
    target_create(
        user=world.users["other_league_regulator"],
        region_code="150203",
        year=2026,
        plan="包头测试方案",
        indicator="包头赤泥利用率",
        scope="bulk",
        metric="rate",
        threshold_percent=Decimal("40"),
    )
    return world


def ordos_target() -> Target:
    return Target.objects.get(region_code="150622", supersedes__isnull=True)


def zhungeer_evaluations() -> list[Any]:
    """The 2025 evaluation of the targets set for 准格尔 itself."""
    county = Region.objects.get(code="150622")
    return [
        e
        for e in targets_evaluate(scope=StatScope.everything(), region=county, year=2025)
        if e.target.region_code == "150622"
    ]


def state() -> tuple[int, int, list[tuple[str, bool]]]:
    """What a refused write must leave as it was: targets, audit rows, who is retired."""
    return (
        Target.objects.count(),
        AuditEvent.objects.count(),
        sorted((str(t.public_id), t.retired_at is not None) for t in Target.objects.all()),
    )


def user_of(world: World, persona: str) -> Any:
    return AnonymousUser() if persona == "anonymous" else world.users[persona]


# --- services ----------------------------------------------------------------------------


def test_revision_supersedes_and_evaluation_uses_the_new_threshold(managed: World) -> None:
    old = ordos_target()
    (before,) = zhungeer_evaluations()
    assert (before.current, before.gap_points, before.status) == (
        Decimal("66.67"),
        Decimal("18.33"),
        "amber",
    )
    new = target_revise(
        user=managed.users["league_regulator"],
        target_public_id=str(old.public_id),
        reason="盟里下达的指标调整为60%",
        threshold_percent=Decimal("60"),
    )
    old.refresh_from_db()
    assert new.supersedes_id == old.pk
    assert (old.retired_by_id, old.retired_reason) == (
        managed.users["league_regulator"].pk,
        "盟里下达的指标调整为60%",
    )
    assert old.retired_at is not None
    assert new.retired_at is None
    # everything not revised is carried over
    assert (new.region_code, new.year, new.plan, new.issuer_doc_no, new.indicator) == (
        "150622",
        2026,
        "准格尔旗测试方案",
        "准政发〔2026〕1号",
        "准格尔粉煤灰利用率测试",
    )
    assert [g.code for g in new.waste_groups.all()] == ["fly_ash"]
    assert (old.threshold_percent, new.threshold_percent) == (Decimal("85.00"), Decimal("60.00"))
    (after,) = zhungeer_evaluations()
    assert after.target.pk == new.pk
    assert (after.current, after.gap_points, after.gap_tonnes, after.status) == (
        Decimal("66.67"),
        Decimal("0.00"),
        Decimal("0.000"),
        "green",
    )
    county = Region.objects.get(code="150622")
    assert [t.pk for t in targets_retired_for_region(region=county)] == [old.pk]


def test_retired_target_is_not_evaluated_but_kept(managed: World) -> None:
    old = ordos_target()
    retired = target_retire(
        user=managed.users["province_regulator"],
        target_public_id=str(old.public_id),
        reason="方案已废止",
    )
    assert retired.pk == old.pk
    assert retired.is_retired
    assert zhungeer_evaluations() == []
    county = Region.objects.get(code="150622")
    (kept,) = targets_retired_for_region(region=county)
    assert (kept.pk, kept.retired_reason, kept.threshold_percent) == (
        old.pk,
        "方案已废止",
        Decimal("85.00"),
    )
    assert not hasattr(kept, "superseded_by")


def test_a_retired_or_superseded_target_cannot_be_acted_on_again(managed: World) -> None:
    old = ordos_target()
    user = managed.users["league_regulator"]
    target_revise(user=user, target_public_id=str(old.public_id), reason="调整", note="第一次修订")
    before = state()
    with pytest.raises(Conflict):
        target_revise(user=user, target_public_id=str(old.public_id), reason="再改", note="第二次")
    with pytest.raises(Conflict):
        target_retire(user=user, target_public_id=str(old.public_id), reason="停用")
    assert state() == before


def test_seed_target_is_retired_by_the_province_not_by_a_league(managed: World) -> None:
    seed = Target.objects.get(region_code="150000", year=2025, metric="rate", is_seed=True)
    plan = seed.plan
    with pytest.raises(PermissionDenied):
        target_retire(
            user=managed.users["league_regulator"],
            target_public_id=str(seed.public_id),
            reason="越级",
        )
    assert Target.objects.get(pk=seed.pk).retired_at is None
    new = target_revise(
        user=managed.users["province_regulator"],
        target_public_id=str(seed.public_id),
        reason="自治区调整目标",
        threshold_percent=Decimal("70"),
    )
    seed.refresh_from_db()
    assert (seed.is_seed, seed.plan, seed.retired_reason) == (True, plan, "自治区调整目标")
    assert (new.is_seed, new.plan, new.threshold_percent, new.verification) == (
        False,
        plan,
        Decimal("70.00"),
        seed.verification,
    )
    league = Region.objects.get(code="150600")
    applying = [
        e.target.pk
        for e in targets_evaluate(scope=StatScope.everything(), region=league, year=2025)
    ]
    assert new.pk in applying
    assert seed.pk not in applying


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(managed: World, reason: str) -> None:
    old = ordos_target()
    user = managed.users["league_regulator"]
    before = state()
    with pytest.raises(ValidationFailed) as revised:
        target_revise(
            user=user,
            target_public_id=str(old.public_id),
            reason=reason,
            threshold_percent=Decimal("60"),
        )
    with pytest.raises(ValidationFailed) as retired:
        target_retire(user=user, target_public_id=str(old.public_id), reason=reason)
    assert (revised.value.field, retired.value.field) == ("reason", "reason")
    assert state() == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"threshold_percent": Decimal("120")}, "threshold_percent"),
        ({"threshold_percent": Decimal("0")}, "threshold_percent"),
        ({"metric": "tonnes"}, "threshold_tonnes"),
        ({"scope": "bulk"}, "waste_groups"),
        ({"waste_groups": ["no_such_group"]}, "waste_groups"),
        ({"year": 1999}, "year"),
        ({"plan": "  "}, "plan"),
        ({"region_code": "150203"}, "region_code"),
        ({"threshold_percent": Decimal("85.00")}, "reason"),  # nothing changed
    ],
)
def test_bad_revision_is_refused_and_nothing_is_saved(
    managed: World, changes: dict[str, Any], field: str
) -> None:
    old = ordos_target()
    before = state()
    with pytest.raises(ValidationFailed) as refused:
        target_revise(
            user=managed.users["league_regulator"],
            target_public_id=str(old.public_id),
            reason="测试",
            **changes,
        )
    assert refused.value.field == field
    assert state() == before


def test_every_write_is_audited_with_actor_reason_before_and_after(managed: World) -> None:
    old = ordos_target()
    user = managed.users["league_regulator"]
    created = AuditEvent.objects.get(action="target.create", object_id=str(old.public_id))
    assert created.actor_id == user.pk
    assert recorded(created, "after")["threshold_percent"] == "85.00"
    new = target_revise(
        user=user,
        target_public_id=str(old.public_id),
        reason="下调",
        threshold_percent=Decimal("60"),
    )
    target_retire(user=user, target_public_id=str(new.public_id), reason="撤回")
    revised = AuditEvent.objects.get(action="target.revise")
    assert (revised.actor_id, revised.object_type, revised.object_id) == (
        user.pk,
        "target",
        str(old.public_id),
    )
    before, after = recorded(revised, "before"), recorded(revised, "after")
    assert (before["threshold_percent"], before["retired_at"]) == ("85.00", None)
    assert after["reason"] == "下调"
    assert (after["target"]["id"], after["target"]["supersedes"]) == (
        str(new.public_id),
        str(old.public_id),
    )
    assert after["target"]["threshold_percent"] == "60.00"
    retired = AuditEvent.objects.get(action="target.retire")
    assert (retired.actor_id, retired.object_id) == (user.pk, str(new.public_id))
    assert recorded(retired, "after")["reason"] == "撤回"
    assert recorded(retired, "before")["threshold_percent"] == "60.00"


def recorded(event: AuditEvent, side: str) -> dict[str, Any]:
    value = getattr(event, side)
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_may_not_revise_or_retire(managed: World, persona: str) -> None:
    old = ordos_target()
    user = user_of(managed, persona)
    before = state()
    with pytest.raises(PermissionDenied):
        target_revise(
            user=user,
            target_public_id=str(old.public_id),
            reason="越权",
            threshold_percent=Decimal("10"),
        )
    with pytest.raises(PermissionDenied):
        target_retire(user=user, target_public_id=str(old.public_id), reason="越权")
    assert state() == before


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_and_readers_may_not_set_targets(managed: World, persona: str) -> None:
    before = state()
    with pytest.raises(PermissionDenied):
        target_create(
            user=user_of(managed, persona),
            region_code="150622",
            year=2027,
            plan="越权",
            indicator="x",
            scope="bulk",
            metric="rate",
            threshold_percent=Decimal("50"),
        )
    assert state() == before


# --- API ---------------------------------------------------------------------------------


def api_post(world: World, persona: str, path: str, body: dict[str, Any]) -> Any:
    return world.client(persona).post(
        API + path, data=json.dumps(body), content_type="application/json"
    )


def test_api_revise_and_history(managed: World) -> None:
    old = ordos_target()
    response = api_post(
        managed,
        "league_regulator",
        f"/targets/{old.public_id}/revise",
        {"reason": "下调", "threshold_percent": "60", "note": "盟里下达"},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["supersedes"], body["retired"], body["threshold_percent"]) == (
        str(old.public_id),
        False,
        "60.00",
    )
    new_id = body["id"]
    current = managed.client("league_regulator").get(f"{API}/targets?region=150622&year=2025")
    mine = [r for r in current.json() if r["target"]["region"] == "150622"]
    assert [(r["target"]["id"], r["status"], r["gap_points"]) for r in mine] == [
        (new_id, "green", "0.00")
    ]
    everything = managed.client("league_regulator").get(
        f"{API}/targets?region=150622&year=2025&include_retired=true"
    )
    retired = [r for r in everything.json() if r["status"] == "retired"]
    assert [
        (r["target"]["id"], r["target"]["retired"], r["target"]["superseded_by"]) for r in retired
    ] == [(str(old.public_id), True, new_id)]
    assert retired[0]["target"]["retired_reason"] == "下调"
    assert retired[0]["current"] is None


def test_api_retire(managed: World) -> None:
    old = ordos_target()
    response = api_post(
        managed, "league_regulator", f"/targets/{old.public_id}/retire", {"reason": "撤回"}
    )
    assert response.status_code == 200
    assert (response.json()["retired"], response.json()["retired_reason"]) == (True, "撤回")
    listed = managed.client("league_regulator").get(f"{API}/targets?region=150622").json()
    assert str(old.public_id) not in {r["target"]["id"] for r in listed}


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("other_league_regulator", 403),
        ("owner", 403),
        ("reader", 403),
        ("league_reader", 403),
        ("anonymous", 401),
    ],
)
def test_api_denied_revise_and_retire_change_nothing(
    managed: World, persona: str, status: int
) -> None:
    old = ordos_target()
    before = state()
    revise = api_post(
        managed,
        persona,
        f"/targets/{old.public_id}/revise",
        {"reason": "越权", "threshold_percent": "10"},
    )
    retire = api_post(managed, persona, f"/targets/{old.public_id}/retire", {"reason": "越权"})
    assert (revise.status_code, retire.status_code) == (status, status)
    assert state() == before


def test_api_refusals_name_the_field_and_save_nothing(managed: World) -> None:
    old = ordos_target()
    before = state()
    path = f"/targets/{old.public_id}"
    bad = api_post(
        managed,
        "league_regulator",
        f"{path}/revise",
        {"reason": "测试", "threshold_percent": "120"},
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "threshold_percent")
    blank = api_post(managed, "league_regulator", f"{path}/retire", {"reason": " "})
    assert (blank.status_code, blank.json()["field"]) == (422, "reason")
    missing = api_post(managed, "league_regulator", f"{path}/retire", {})
    assert missing.status_code == 422
    unknown = api_post(
        managed,
        "league_regulator",
        "/targets/00000000-0000-0000-0000-000000000000/retire",
        {"reason": "x"},
    )
    assert unknown.status_code == 404
    assert state() == before


def test_api_outsider_cannot_read_another_leagues_history(managed: World) -> None:
    target_retire(
        user=managed.users["league_regulator"],
        target_public_id=str(ordos_target().public_id),
        reason="撤回",
    )
    response = managed.client("other_league_regulator").get(
        f"{API}/targets?region=150622&include_retired=true"
    )
    assert response.status_code == 404
    assert "准格尔旗测试方案" not in response.content.decode()


# --- web: 目标管理 -------------------------------------------------------------------------


def page(world: World, persona: str, query: str = "") -> Any:
    return world.client(persona).get(f"/targets/{query}")


def revise_form(target: Target, **changes: str) -> dict[str, str | list[str]]:
    prefix = f"revise-{target.public_id}-"
    fields: dict[str, str | list[str]] = {
        "year": str(target.year),
        "plan": target.plan,
        "issuer_doc_no": target.issuer_doc_no,
        "indicator": target.indicator,
        "scope": target.scope,
        "waste_groups": [g.code for g in target.waste_groups.all()],
        "metric": target.metric,
        "threshold_percent": str(target.threshold_percent or ""),
        "threshold_tonnes": str(target.threshold_tonnes or ""),
        "threshold_text": target.threshold_text,
        "source_url": target.source_url,
        "note": target.note,
        "reason": "",
        **changes,
    }
    return {
        "action": "revise",
        "target": str(target.public_id),
        **{prefix + k: v for k, v in fields.items()},
    }


def test_page_lists_the_jurisdiction_only(managed: World) -> None:
    response = page(managed, "league_regulator", "?region=150600&year=2025")
    assert response.status_code == 200
    html = response.content.decode()
    assert "准格尔粉煤灰利用率测试" in html  # a county's target, listed below the league
    assert 'name="action" value="revise"' in html
    assert 'id="do-create"' in html
    assert "包头赤泥利用率" not in html
    assert "包头测试方案" not in html
    county = page(managed, "league_regulator", "?region=150622&year=2025").content.decode()
    assert 'class="status amber"' in county  # 66.67 % of 85 % by 2026, on trend
    other = page(managed, "other_league_regulator").content.decode()
    assert "包头赤泥利用率" in other
    assert "准格尔粉煤灰利用率测试" not in other
    assert "准格尔旗测试方案" not in other


@pytest.mark.parametrize(("persona", "status"), [("other_league_regulator", 404), ("owner", 403)])
def test_page_refuses_outsiders(managed: World, persona: str, status: int) -> None:
    response = page(managed, persona, "?region=150622")
    assert response.status_code == status
    assert "准格尔粉煤灰利用率测试" not in response.content.decode()


def test_page_sends_anonymous_to_login(managed: World) -> None:
    response = page(managed, "anonymous", "?region=150622")
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_reader_sees_targets_without_forms_and_its_posts_are_refused(managed: World) -> None:
    old = ordos_target()
    html = page(managed, "league_reader", "?region=150622").content.decode()
    assert "准格尔粉煤灰利用率测试" in html
    assert 'value="revise"' not in html
    assert 'id="do-create"' not in html
    before = state()
    response = managed.client("league_reader").post(
        "/targets/?region=150622",
        {"action": "retire", "target": str(old.public_id), f"retire-{old.public_id}-reason": "x"},
    )
    assert response.status_code == 422
    assert "只读席位不能停用目标" in response.content.decode()
    assert state() == before


@pytest.mark.parametrize("persona", ["other_league_regulator", "owner", "anonymous"])
def test_outsiders_posts_change_nothing(managed: World, persona: str) -> None:
    old = ordos_target()
    before = state()
    managed.client(persona).post(
        "/targets/",
        {"action": "retire", "target": str(old.public_id), f"retire-{old.public_id}-reason": "x"},
    )
    managed.client(persona).post("/targets/", revise_form(old, threshold_percent="10", reason="x"))
    assert state() == before


def test_web_revise_shows_a_bad_threshold_on_the_form(managed: World) -> None:
    old = ordos_target()
    before = state()
    response = managed.client("league_regulator").post(
        "/targets/?region=150622&year=2025",
        revise_form(old, threshold_percent="120", reason="调整"),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "利用率目标须为0到100之间的百分数" in html
    assert "<details open>" in html  # the refused form is shown open
    assert state() == before


def test_web_revise_and_retire(managed: World) -> None:
    old = ordos_target()
    client = managed.client("league_regulator")
    response = client.post(
        "/targets/?region=150622&year=2025",
        revise_form(old, threshold_percent="60", reason="盟里下达新指标"),
    )
    assert response.status_code == 302
    assert response["Location"] == "/targets/?region=150622&year=2025"
    new = Target.objects.get(supersedes=old)
    assert new.threshold_percent == Decimal("60.00")
    html = client.get(response["Location"]).content.decode()
    assert "盟里下达新指标" in html  # history
    assert 'class="status green"' in html
    no_reason = client.post(
        "/targets/?region=150622",
        {"action": "retire", "target": str(new.public_id), f"retire-{new.public_id}-reason": ""},
    )
    assert no_reason.status_code == 422
    assert Target.objects.get(pk=new.pk).retired_at is None
    done = client.post(
        "/targets/?region=150622",
        {
            "action": "retire",
            "target": str(new.public_id),
            f"retire-{new.public_id}-reason": "撤回",
        },
    )
    assert done.status_code == 302
    assert Target.objects.get(pk=new.pk).retired_reason == "撤回"
    assert zhungeer_evaluations() == []


def test_web_create_with_errors_on_the_form(managed: World) -> None:
    client = managed.client("league_regulator")
    form = {
        "action": "create",
        "new-region_code": "150622",
        "new-year": "2027",
        "new-plan": "新方案",
        "new-indicator": "煤矸石利用量",
        "new-scope": "bulk",
        "new-metric": "tonnes",
        "new-threshold_tonnes": "",
    }
    before = state()
    refused = client.post("/targets/?region=150600", form)
    assert refused.status_code == 422
    assert "利用量目标须为正的吨数" in refused.content.decode()
    assert state() == before
    done = client.post("/targets/?region=150600", {**form, "new-threshold_tonnes": "1000"})
    assert done.status_code == 302
    created = Target.objects.get(indicator="煤矸石利用量")
    assert (created.region_code, created.threshold_tonnes) == ("150622", Decimal("1000.000"))
    # a region outside the page's choices is refused by the form
    outside = client.post("/targets/?region=150600", {**form, "new-region_code": "150203"})
    assert outside.status_code == 422
    assert Target.objects.filter(region_code="150203", indicator="煤矸石利用量").count() == 0


def test_dashboard_links_to_target_management(managed: World) -> None:
    html = managed.client("league_regulator").get("/dashboard/?region=150600").content.decode()
    assert 'id="manage-targets" href="/targets/?region=150600' in html


def test_page_in_english_has_no_chinese_chrome(managed: World) -> None:
    client = managed.client("league_regulator")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    response = client.get("/targets/?region=150600&year=2025")
    assert response.status_code == 200
    parser = _Chrome()
    parser.feed(response.content.decode())
    assert "Targets that apply to this region" in parser.texts
    assert [t for t in parser.texts if CJK.search(t)] == []


def test_page_queries_do_not_grow_with_the_targets(managed: World) -> None:
    client = managed.client("league_regulator")
    url = "/targets/?region=150600&year=2025"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    user = managed.users["league_regulator"]
    for code, percent in (("150602", "50"), ("150621", "60"), ("150600", "70")):
        target_create(
            user=user,
            region_code=code,
            year=2027,
            plan="计数",
            indicator=f"计数{code}",
            scope="groups",
            metric="rate",
            waste_groups=["fly_ash", "coal_gangue"],
            threshold_percent=Decimal(percent),
        )
    target_retire(user=user, target_public_id=str(ordos_target().public_id), reason="计数")
    assert queries() == few

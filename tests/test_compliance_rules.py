"""Every rule: a case that fires with the right numbers, a near miss, a scope where it
does not apply. Plus re-runs (idempotent, resolve, reopen, waive) and jurisdiction
settings (nearest region wins, parameters change the outcome)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from tests.factories import draft, make_enterprise, make_site, make_user, make_yard, seat
from xunhuan.accounts.models import Role
from xunhuan.audit.models import AuditEvent
from xunhuan.compliance.models import (
    Finding,
    FindingEvent,
    HazardousStream,
    OreZone,
    RuleSetting,
    RuleSettingChange,
)
from xunhuan.compliance.services import (
    compliance_run,
    facility_profile_set,
    finding_waive,
    hazardous_stream_declare,
    ore_zone_register,
    rule_setting_set,
)
from xunhuan.core.compliance.library import Severity
from xunhuan.core.errors import PermissionDenied, ValidationFailed
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Enterprise, Park, Region, Site, WasteStream
from xunhuan.registry.services import facility_capacity_set

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2025, 6, 30)
IN_WINDOW = dt.date(2025, 3, 1)
OLD = dt.date(2020, 5, 1)


def run(rule_id: str, **kwargs: Any) -> list[Finding]:
    compliance_run(rule_ids=[rule_id], as_of=AS_OF, **kwargs)
    return list(Finding.objects.filter(rule_id=rule_id).order_by("pk"))


def post(enterprise: Enterprise, *drafts: Any) -> None:
    ledger_entries_post(enterprise=enterprise, drafts=list(drafts))


def plant(industry: str = "4411", region: str = "150622", **fields: Any) -> tuple[Enterprise, Site]:
    enterprise = make_enterprise(
        industry_id=industry, region=Region.objects.get(code=region), **fields
    )
    return enterprise, make_site(enterprise=enterprise, code="SC01", name="车间")


def receiver() -> Enterprise:
    return make_enterprise(
        name="利用单位", is_generator=False, is_utilizer=True, industry_id="3011"
    )


def disable_in(region: str, rule_id: str) -> None:
    regulator = make_user(username=f"reg{region}{rule_id}")
    seat(regulator, region=region, role=Role.MEMBER)
    rule_setting_set(
        user=regulator,
        rule_id=rule_id,
        region_code=region,
        is_enabled=False,
        params={},
        reason="试点暂停 / paused",
    )


def stored(
    site: Site, yard: Site, quantity: str, day: dt.date, waste_code: str = "SW02"
) -> list[Any]:
    return [
        draft(site, "generated", quantity, waste_code=waste_code, day=day),
        draft(site, "storage_in", quantity, waste_code=waste_code, day=day, to_site=yard),
    ]


# --- storage yards -------------------------------------------------------------------


def _ash_yard(old: str, waste_code: str = "SW02") -> tuple[Enterprise, Site]:
    enterprise, site = plant()
    yard = make_yard(enterprise=enterprise, code="ZC01", name="灰场")
    post(
        enterprise,
        *stored(site, yard, old, OLD, waste_code),
        *stored(site, yard, "100.000", IN_WINDOW, waste_code),
    )
    return enterprise, yard


def test_yard_three_years_fires_with_its_numbers() -> None:
    enterprise, yard = _ash_yard("250.000")
    (finding,) = run("YARD-3Y")
    assert (finding.enterprise, finding.site, finding.waste_id) == (enterprise, yard, "SW02")
    assert finding.explanation_zh == (
        "贮存场灰场（ZC01）的粉煤灰现存350.000吨，按近12个月产生量100.000吨计相当于3.50年的产生量，"
        "超过3年上限。"
    )
    assert finding.measured == {
        "stock": "350.000",
        "generated": "100.000",
        "months": "12",
        "years": "3.50",
        "limit_years": "3",
    }
    assert (finding.period_start, finding.period_end) == (dt.date(2024, 7, 1), AS_OF)


def test_yard_three_years_near_miss_and_other_waste() -> None:
    _ash_yard("200.000")  # exactly three years
    _ash_yard("900.000", waste_code="SW01")  # slag: not a fly-ash/gangue yard rule
    assert run("YARD-3Y") == []


def test_permanent_yard() -> None:
    enterprise, site = plant()
    permanent = make_yard(enterprise=enterprise, code="ZC09", name="永久灰场", is_permanent=True)
    make_yard(enterprise=enterprise, code="ZC01", name="临时灰场")  # near miss
    post(enterprise, *stored(site, permanent, "12.345", IN_WINDOW))
    (finding,) = run("YARD-PERMANENT")
    assert finding.site == permanent
    assert finding.explanation_zh == (
        "贮存场永久灰场（ZC09）登记为永久贮存场（现存12.345吨）；应改为临时贮存并逐步消纳历史堆存。"
    )


def test_permanent_yard_not_checked_where_disabled() -> None:
    enterprise, _ = plant(region="150203")
    make_yard(enterprise=enterprise, code="ZC09", is_permanent=True)
    disable_in("150200", "YARD-PERMANENT")
    assert run("YARD-PERMANENT") == []


def test_yard_over_capacity() -> None:
    enterprise, site = plant()
    small = make_yard(
        enterprise=enterprise, code="ZC01", name="小灰场", design_capacity=Decimal("1000")
    )
    fits = make_yard(
        enterprise=enterprise, code="ZC02", name="大灰场", design_capacity=Decimal("1000")
    )
    post(
        enterprise,
        *stored(site, small, "1200.500", IN_WINDOW),
        *stored(site, fits, "1000.000", IN_WINDOW),  # full to the brim: a near miss
    )
    (finding,) = run("YARD-OVER-CAPACITY")
    assert finding.site == small
    assert finding.explanation_zh == (
        "贮存场小灰场（ZC01）现存1,200.500吨，为设计库容1,000.000吨的120.05%，超过100%。"
    )
    assert finding.explanation_en == (
        "Yard 小灰场（ZC01） holds 1,200.500 t, 120.05% of its 1,000.000 t design capacity "
        "(limit 100%)."
    )


def test_yard_over_capacity_follows_the_jurisdictions_parameter() -> None:
    enterprise, site = plant(region="150203")
    yard = make_yard(enterprise=enterprise, code="ZC01", design_capacity=Decimal("1000"))
    post(enterprise, *stored(site, yard, "1200.000", IN_WINDOW))
    regulator = make_user(username="baotou")
    seat(regulator, region="150200", role=Role.MEMBER)
    rule_setting_set(
        user=regulator,
        rule_id="YARD-OVER-CAPACITY",
        region_code="150200",
        is_enabled=True,
        params={"limit_pct": "125"},
        reason="过渡期 / transition period",
    )
    assert run("YARD-OVER-CAPACITY") == []


def _aged_yard(used_from_yard: str | None) -> Site:
    enterprise, site = plant()
    yard = make_yard(enterprise=enterprise, code="ZC01", name="矸石场")
    drafts = [
        *stored(site, yard, "500.000", dt.date(2021, 1, 5), "SW04"),
        *stored(site, yard, "100.000", IN_WINDOW, "SW04"),
    ]
    if used_from_yard:
        drafts.append(
            draft(
                yard,
                "self_utilized",
                used_from_yard,
                waste_code="SW04",
                day=IN_WINDOW,
                route="backfill",
            )
        )
    post(enterprise, *drafts)
    return yard


def test_stock_older_than_allowed() -> None:
    yard = _aged_yard(None)
    (finding,) = run("STOCK-AGE")
    assert finding.site == yard
    assert finding.explanation_zh == (
        "矸石场（ZC01）的煤矸石库存600.000吨，而近3年入库合计仅100.000吨：至少500.000吨已贮存超过3年"
        "（先进先出推算）。"
    )
    assert finding.period_start == dt.date(2022, 7, 1)


def test_stock_age_near_miss_and_longer_allowed_period() -> None:
    _aged_yard("500.000")  # the old stock was used: what is left is recent
    assert run("STOCK-AGE") == []
    Finding.objects.all().delete()
    _aged_yard(None)
    regulator = make_user(username="province")
    seat(regulator, region="150000")
    rule_setting_set(
        user=regulator,
        rule_id="STOCK-AGE",
        region_code="150000",
        is_enabled=True,
        params={"years": "5"},
        reason="自治区规定5年 / five years in this province",
    )
    assert run("STOCK-AGE") == []


def _hazardous_yard(
    old_day: dt.date, *, declare: bool = True, used_from_yard: str | None = None
) -> tuple[Enterprise, Site]:
    enterprise, site = plant(industry="3216")
    yard = make_yard(enterprise=enterprise, code="ZC01", name="危废库")
    drafts = [
        *stored(site, yard, "300.000", old_day, "SW01"),
        *stored(site, yard, "100.000", IN_WINDOW, "SW01"),
    ]
    if used_from_yard:
        drafts.append(
            draft(
                yard,
                "self_utilized",
                used_from_yard,
                waste_code="SW01",
                day=IN_WINDOW,
                route="other",
            )
        )
    post(enterprise, *drafts)
    if declare:
        owner = make_user(username=f"hw-{enterprise.pk}")
        seat(owner, enterprise=enterprise, role=Role.MEMBER)
        hazardous_stream_declare(
            user=owner,
            enterprise=enterprise,
            waste_code="sw01",
            hw_class="hw48",
            hw_code="321-024-48",
            note="铝灰",
        )
    return enterprise, yard


def test_hazardous_waste_stored_over_a_year() -> None:
    _, yard = _hazardous_yard(dt.date(2024, 3, 1))
    (finding,) = run("HAZARDOUS-STORAGE")
    assert (finding.site, finding.waste_id, finding.severity) == (yard, "SW01", 3)
    assert finding.explanation_zh == (
        "危废库（ZC01）贮存的危险废物冶炼废渣（HW48 321-024-48）现存400.000吨，近365天入库合计"
        "100.000吨：按先进先出至少300.000吨已贮存超过365天，最早一批约于2024-03-01入库（已486天）。"
    )
    assert finding.measured == {
        "stock": "400.000",
        "inflow": "100.000",
        "old": "300.000",
        "days": "365",
        "oldest_arrival": "2024-03-01",
    }
    assert (finding.period_start, finding.period_end) == (dt.date(2024, 7, 1), AS_OF)


def test_hazardous_storage_near_misses_and_undeclared_waste() -> None:
    _hazardous_yard(dt.date(2024, 7, 1))  # 364 days before as_of: within the year
    _hazardous_yard(dt.date(2024, 3, 1), used_from_yard="300.000")  # old batch used first
    _hazardous_yard(dt.date(2020, 3, 1), declare=False)  # general waste: STOCK-AGE's business
    assert run("HAZARDOUS-STORAGE") == []


def test_hazardous_declarations_are_checked_and_audited() -> None:
    enterprise, _ = plant()
    reader = make_user(username="hw-reader")
    seat(reader, enterprise=enterprise, role=Role.READER)
    writer = make_user(username="hw-writer")
    seat(writer, enterprise=enterprise, role=Role.MEMBER)
    with pytest.raises(PermissionDenied):
        hazardous_stream_declare(
            user=reader, enterprise=enterprise, waste_code="SW01", hw_class="HW48"
        )
    for hw_class, hw_code, field in (
        ("HW51", "", "hw_class"),
        ("HW48", "321-024-49", "hw_code"),
        ("HW48", "321024-48", "hw_code"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            hazardous_stream_declare(
                user=writer,
                enterprise=enterprise,
                waste_code="SW01",
                hw_class=hw_class,
                hw_code=hw_code,
            )
        assert bad.value.field == field
    assert not HazardousStream.objects.exists()
    hazardous_stream_declare(user=writer, enterprise=enterprise, waste_code="SW01", hw_class="HW48")
    event = AuditEvent.objects.get(action="compliance.hazardous_stream_declare")
    assert (event.actor, event.enterprise, event.after) == (
        writer,
        enterprise,
        {"waste": "SW01", "hw_class": "HW48", "hw_code": ""},
    )


# --- plans, utilization, 三同时, parks -------------------------------------------------


def _mine(utilized: str, industry: str = "0610") -> Enterprise:
    enterprise, site = plant(industry=industry)
    post(
        enterprise,
        draft(site, "generated", "1000.000", waste_code="SW04", day=IN_WINDOW),
        draft(site, "self_utilized", utilized, waste_code="SW04", day=IN_WINDOW, route="backfill"),
    )
    return enterprise


def test_coal_mine_without_gangue_utilization() -> None:
    mine = _mine("5.000")
    (finding,) = run("COAL-MINE-GANGUE")
    assert finding.enterprise == mine
    assert finding.explanation_zh == (
        "近12个月产生煤矸石1,000.000吨，综合利用5.000吨（0.50%），低于1%，且未登记煤矸石综合利用方案或"
        "利用设施。"
    )


def test_coal_mine_near_miss_plan_and_other_industry() -> None:
    _mine("10.000")  # exactly 1 %
    with_plan = _mine("0.001")
    facility_profile_set(enterprise=with_plan, has_gangue_plan=True)
    _mine("0.001", industry="4411")  # a power plant's gangue is not this rule's
    assert run("COAL-MINE-GANGUE") == []


def test_new_coal_power_plant_without_plans() -> None:
    new_plant, _ = plant()
    facility_profile_set(enterprise=new_plant, is_new_project=True, has_fly_ash_plan=True)
    complete, _ = plant()
    facility_profile_set(
        enterprise=complete, is_new_project=True, has_fly_ash_plan=True, has_fgd_gypsum_plan=True
    )
    existing, _ = plant()
    facility_profile_set(enterprise=existing, is_new_project=False)
    smelter, _ = plant(industry="3216")
    facility_profile_set(enterprise=smelter, is_new_project=True)
    (finding,) = run("COAL-POWER-PLANS")
    assert finding.enterprise == new_plant
    assert finding.explanation_zh == "新建/扩建燃煤电厂缺少：脱硫石膏综合利用方案。"
    assert finding.explanation_en == (
        "New or expanded coal power plant lacks: an FGD-gypsum utilization plan."
    )


def _smelter(utilized: str, industry: str = "3216", waste_code: str = "SW01") -> Enterprise:
    enterprise, site = plant(industry=industry)
    post(
        enterprise,
        draft(site, "generated", "1000.000", waste_code=waste_code, day=IN_WINDOW),
        draft(
            site,
            "handed_over",
            utilized,
            waste_code=waste_code,
            day=IN_WINDOW,
            counterparty=receiver(),
            purpose="utilization",
            route="cement",
        ),
    )
    return enterprise


def test_smelter_not_utilizing_all_slag() -> None:
    smelter = _smelter("999.000")
    _smelter("1000.000")  # near miss: all of it
    _smelter("1.000", industry="3011")  # a cement plant is no smelter
    (finding,) = run("SMELTER-SLAG")
    assert finding.enterprise == smelter
    assert finding.severity == Severity.LOW  # within 10 points of the 100 % asked
    assert finding.explanation_zh == (
        "近12个月产生冶炼渣1,000.000吨，综合利用999.000吨（99.90%），低于100%。"
    )
    assert finding.measured["utilized"] == "999.000"


def test_slag_findings_are_graded_by_the_shortfall() -> None:
    """The queue puts the smelter that uses a tenth of its slag above the one that
    uses most of it (the rule's own severity is medium)."""
    most, half, little = _smelter("950.000"), _smelter("600.000"), _smelter("100.000")
    graded = {f.enterprise_id: f.severity for f in run("SMELTER-SLAG")}
    assert graded == {
        most.pk: Severity.LOW,
        half.pk: Severity.MEDIUM,
        little.pk: Severity.HIGH,
    }


def test_phosphogypsum_production_beyond_utilization() -> None:
    producer = _smelter("900.000", industry="2622", waste_code="SW10")
    _smelter("1000.000", industry="2622", waste_code="SW10")
    _smelter("0.001", industry="2622", waste_code="SW06")  # FGD gypsum: not this rule's
    (finding,) = run("PG-SLAG-PRODUCTION")
    assert finding.enterprise == producer
    assert finding.explanation_zh == (
        "近12个月产生磷石膏1,000.000吨，综合利用900.000吨（90.00%），产量超出利用能力（要求≥100%）。"
    )


def test_three_simultaneous() -> None:
    late, _ = plant(industry="3011")
    facility_profile_set(enterprise=late, is_new_project=True, utilization_in_operation=False)
    on_time, _ = plant(industry="3011")
    facility_profile_set(enterprise=on_time, is_new_project=True)
    old_works, _ = plant(industry="3011")
    facility_profile_set(enterprise=old_works, is_new_project=False, utilization_built=False)
    (finding,) = run("THREE-SIMULTANEOUS")
    assert finding.enterprise == late
    assert finding.explanation_zh == "新建/扩建项目的综合利用设施未同时投产使用（三同时）。"


def _park(name: str, generated: str, with_utilizer: bool = False) -> Park:
    park = Park.objects.create(name=name, level="provincial", region_id="150622")
    enterprise, site = plant(park=park)
    post(enterprise, draft(site, "generated", generated, day=IN_WINDOW))
    if with_utilizer:
        utilizer = make_enterprise(
            park=park, is_generator=False, is_utilizer=True, industry_id="3011"
        )
        kiln = make_site(enterprise=utilizer, code="LY01", kind="utilization")
        facility_capacity_set(
            site=kiln, waste_code="SW02", route="cement", annual_capacity=Decimal("5000")
        )
    return park


def test_park_with_large_generation_and_no_utilization() -> None:
    park = _park("测试大园区", "1000000.000")
    _park("测试小园区", "999999.999")
    _park("测试循环园区", "2000000.000", with_utilizer=True)
    (finding,) = run("PARK-UTILIZATION")
    assert (finding.park, finding.enterprise, finding.region_id) == (park, None, "150622")
    assert finding.explanation_zh == (
        "园区测试大园区近12个月产生固废1,000,000.000吨（门槛1,000,000.000吨），园区内无登记的综合利用"
        "设施能力。"
    )


# --- seed 004 facility norms -----------------------------------------------------------


def _line(industry: str, *, new: bool = False, **values: Any) -> Enterprise:
    enterprise, site = plant(industry=industry)
    facility_profile_set(enterprise=enterprise, site=site, is_new_project=new, **values)
    return enterprise


NEW_OK = {
    "potline_current_ka": Decimal("400"),
    "ac_kwh_per_t_liquid": Decimal("12750"),
    "ac_kwh_per_t_ingot": Decimal("13200"),
    "current_efficiency_pct": Decimal("93"),
}


def test_new_potline_below_seed_004() -> None:
    bad = _line(
        "3216",
        new=True,
        **{**NEW_OK, "potline_current_ka": Decimal("350"), "ac_kwh_per_t_liquid": Decimal("12800")},
    )
    _line("3216", new=True, **NEW_OK)  # exactly at every limit
    _line("3216", new=False, potline_current_ka=Decimal("350"))  # existing line: other norm
    (finding,) = run("AL-POTLINE-NEW")
    assert finding.enterprise == bad
    assert finding.explanation_zh == (
        "新建/改造电解铝生产线车间（SC01）：槽电流350.0kA，低于400kA；铝液交流电耗12800.0kWh/t，"
        "高于12750kWh/t。"
    )
    assert finding.measured["potline_current_ka"] == "350.0"


def test_existing_potline_below_seed_004() -> None:
    bad = _line("3216", potline_current_ka=Decimal("150"), current_efficiency_pct=Decimal("91.50"))
    _line("3216", potline_current_ka=Decimal("160"), current_efficiency_pct=Decimal("92"))
    _line("3216", new=True, potline_current_ka=Decimal("150"))  # new line: the other rule
    (finding,) = run("AL-POTLINE-EXISTING")
    assert finding.enterprise == bad
    assert finding.explanation_zh == (
        "现有电解铝生产线车间（SC01）：槽电流150.0kA，低于160kA；电流效率91.50%，低于92%。"
    )


def test_aluminium_energy_above_gb21346() -> None:
    bad = _line("3216", ac_kwh_per_t_liquid=Decimal("13350.1"))
    _line("3216", ac_kwh_per_t_liquid=Decimal("13350"), ac_kwh_per_t_ingot=Decimal("13750"))
    _line("3211", ac_kwh_per_t_liquid=Decimal("20000"))  # copper smelter: not aluminium
    (finding,) = run("AL-GB21346")
    assert finding.enterprise == bad
    assert finding.explanation_en == (
        "Line 车间（SC01）: AC use, liquid Al 13350.1 kWh/t above 13350 kWh/t "
        "(GB 21346-2022 limit values)."
    )


def test_smelting_line_scale() -> None:
    small = _line("3211", metal="cu", line_capacity_t=Decimal("99999"))
    _line("3211", metal="cu", line_capacity_t=Decimal("100000"))
    _line("3212", metal="pb", line_capacity_t=Decimal("80000"))  # lead's minimum is lower
    _line("3011", metal="cu", line_capacity_t=Decimal("5000"))  # a cement works
    (finding,) = run("SMELTING-LINE-SCALE")
    assert finding.enterprise == small
    assert finding.explanation_zh == "铜冶炼生产线车间（SC01）年产能99,999吨，低于100,000吨。"


def _plant_at(
    latitude: str, industry: str = "0912", *, new: bool = True, **values: Any
) -> Enterprise:
    enterprise = _line(industry, new=new, **values)
    Site.objects.filter(enterprise=enterprise).update(
        latitude=Decimal(latitude), longitude=Decimal("111.200000")
    )
    return enterprise


def test_beneficiation_scale_inside_a_designated_zone() -> None:
    league = make_user(username="eeds-zones")
    seat(league, region="150600", role=Role.MEMBER)
    zone = ore_zone_register(
        user=league,
        region_code="150600",
        name="测试重点矿区",
        latitude=Decimal("39.900000"),
        longitude=Decimal("111.200000"),
        radius_km=Decimal("30"),
    )
    small = _plant_at("40.100000", metal="pbzn", beneficiation_t_per_day=Decimal("999.9"))
    _plant_at("40.100000", metal="pbzn", beneficiation_t_per_day=Decimal("1000"))  # at the limit
    _plant_at("40.100000", new=False, metal="pbzn", beneficiation_t_per_day=Decimal("10"))  # old
    _plant_at("40.300000", metal="pbzn", beneficiation_t_per_day=Decimal("10"))  # 44.5 km out
    _plant_at("40.100000", "3211", metal="cu", beneficiation_t_per_day=Decimal("10"))  # smelter
    (finding,) = run("BENEFICIATION-SCALE")
    assert finding.enterprise == small
    assert finding.explanation_zh == (
        "新建铅锌选矿厂车间（SC01）位于划定区域测试重点矿区内（距中心22.2公里），处理能力999.9吨/日，"
        "低于1,000吨/日。"
    )
    assert finding.measured == {"capacity": "999.9", "minimum": "1000", "distance": "22.2"}
    event = AuditEvent.objects.get(action="compliance.ore_zone_register")
    assert (event.actor, event.object_id) == (league, str(zone.public_id))
    assert event.after == {
        "region": "150600",
        "name": "测试重点矿区",
        "latitude": "39.900000",
        "longitude": "111.200000",
        "radius_km": "30",
    }


def test_zones_are_the_acting_regulators_and_at_most_30_km() -> None:
    reader = make_user(username="eeds-zone-reader")
    seat(reader, region="150600", role=Role.READER)
    member = make_user(username="eeds-zone-member")
    seat(member, region="150600", role=Role.MEMBER)
    where = {"latitude": Decimal("39.9"), "longitude": Decimal("111.2")}
    with pytest.raises(PermissionDenied):
        ore_zone_register(
            user=reader, region_code="150600", name="甲", radius_km=Decimal("10"), **where
        )
    with pytest.raises(PermissionDenied):
        ore_zone_register(
            user=member, region_code="150200", name="乙", radius_km=Decimal("10"), **where
        )
    with pytest.raises(ValidationFailed) as wide:
        ore_zone_register(
            user=member, region_code="150600", name="丙", radius_km=Decimal("30.1"), **where
        )
    assert wide.value.field == "radius_km"
    assert not OreZone.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="compliance.").exists()
    # No zone registered: the rule has nothing to measure against and stays silent.
    _plant_at("40.100000", metal="pbzn", beneficiation_t_per_day=Decimal("10"))
    assert run("BENEFICIATION-SCALE") == []


def test_aluminium_capital_ratio() -> None:
    short = _line("3216", new=True, capital_ratio_pct=Decimal("39.99"))
    _line("3216", new=True, capital_ratio_pct=Decimal("40"))
    _line("3211", new=True, capital_ratio_pct=Decimal("20"))  # copper: no such seed norm
    (finding,) = run("AL-CAPITAL-RATIO")
    assert finding.enterprise == short
    assert finding.explanation_zh == "电解铝项目车间（SC01）资本金比例39.99%，低于40%。"


def test_existing_potline_after_the_twelfth_plan_deadline() -> None:
    late = _line("3216", ac_kwh_per_t_liquid=Decimal("12800"))
    _line("3216", ac_kwh_per_t_liquid=Decimal("12750"), ac_kwh_per_t_ingot=Decimal("13200"))
    _line("3216", new=True, ac_kwh_per_t_liquid=Decimal("12800"))  # new line: AL-POTLINE-NEW
    _line("3211", ac_kwh_per_t_liquid=Decimal("20000"))  # copper smelter
    (finding,) = run("AL-EXISTING-DEADLINE")
    assert finding.enterprise == late
    assert finding.explanation_zh == (
        "现有电解铝生产线车间（SC01）：铝液交流电耗12800.0kWh/t，高于12750kWh/t；"
        "“十二五”末（2015年底）起应达到新建生产线能耗水平。"
    )
    # Before the deadline had passed the same line was not yet late.
    compliance_run(rule_ids=["AL-EXISTING-DEADLINE"], as_of=dt.date(2015, 12, 31))
    assert Finding.objects.get(rule_id="AL-EXISTING-DEADLINE").status == "resolved"


def test_copper_lead_zinc_smelter_outside_a_park() -> None:
    park = Park.objects.create(name="测试有色金属园区", level="provincial", region_id="150622")
    outside, _ = plant(industry="3212", name="测试铅锌冶炼厂")
    plant(industry="3212", park=park)  # in a park
    plant(industry="3216")  # aluminium: not in the seed's list
    (finding,) = run("SMELTER-IN-PARK")
    assert finding.enterprise == outside
    assert finding.explanation_zh == (
        "铅锌冶炼企业测试铅锌冶炼厂未登记在任何工业园区内（要求建设在有色金属专业园区）。"
    )


def test_ore_self_supply() -> None:
    short = _line("3212", ore_self_supply_pct=Decimal("29.99"))
    _line("3212", ore_self_supply_pct=Decimal("30"))
    _line("3011", ore_self_supply_pct=Decimal("1"))  # cement works
    (finding,) = run("ORE-SELF-SUPPLY")
    assert finding.enterprise == short
    assert finding.explanation_zh == "自有矿山原料自给率29.99%，低于30%。"


# --- ledger gaps and balances ---------------------------------------------------------


def _reporter(skip: set[dt.date], *, declared: str | None = None) -> Enterprise:
    enterprise, site = plant()
    WasteStream.objects.create(
        enterprise=enterprise,
        code="GF01",
        name="粉煤灰",
        waste_id="SW02",
        estimated_annual=Decimal(declared) if declared else None,
    )
    months = [dt.date(2024, 5, 1)] + [
        dt.date(2024 + (6 + i) // 12, (6 + i) % 12 + 1, 15) for i in range(12)
    ]
    post(enterprise, *[draft(site, "generated", "10.000", day=m) for m in months if m not in skip])
    return enterprise


def test_ledger_gap() -> None:
    gappy = _reporter({dt.date(2025, 2, 15), dt.date(2024, 8, 15)})
    _reporter(set())  # every month
    no_stream, site = plant()  # keeps no declared inventory: not a generator to chase
    post(no_stream, draft(site, "generated", "1.000", day=IN_WINDOW))
    (finding,) = run("LEDGER-GAP")
    assert finding.enterprise == gappy
    assert finding.explanation_zh == "近12个月中有2个月无任何台账记录：2024-08、2025-02。"


def test_ledger_gap_listed_in_chunks_and_owed_from_a_new_ledgers_first_month(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Months are counted in the database and listed only for enterprises with a gap,
    a chunk of them at a time (here one): each gap is still named exactly."""
    monkeypatch.setattr("xunhuan.compliance.scanners.base.IN_CHUNK", 1)
    first = _reporter({dt.date(2025, 2, 15)})
    second = _reporter({dt.date(2024, 8, 15), dt.date(2024, 9, 15)})
    _reporter(set())
    newcomer, site = plant()
    WasteStream.objects.create(enterprise=newcomer, code="GF01", name="粉煤灰", waste_id="SW02")
    post(
        newcomer,
        *[draft(site, "generated", "1.000", day=dt.date(2025, m, 10)) for m in (1, 2, 4, 5, 6)],
    )
    found = {f.enterprise_id: f.explanation_zh for f in run("LEDGER-GAP")}
    assert found == {
        first.pk: "近12个月中有1个月无任何台账记录：2025-02。",
        second.pk: "近12个月中有2个月无任何台账记录：2024-08、2024-09。",
        newcomer.pk: "近6个月中有1个月无任何台账记录：2025-03。",
    }


def test_generation_inconsistent_with_declared() -> None:
    high = _reporter(set(), declared="79.900")  # 120 t generated over 12 months
    _reporter(set(), declared="80.000")  # 150.00 %: the edge
    _reporter(set())  # declares nothing
    (finding,) = run("GENERATION-VS-DECLARED")
    assert finding.enterprise == high
    assert finding.explanation_zh == (
        "粉煤灰近12个月产生120.000吨，为产生清单预计年产生量79.900吨的150.19%，超出50%–150%。"
    )


def _balance(stored_t: str, region: str = "150622") -> Enterprise:
    enterprise, site = plant(region=region)
    yard = make_yard(enterprise=enterprise, code="ZC01")
    post(
        enterprise,
        draft(site, "generated", "1000.000", day=IN_WINDOW),
        draft(site, "storage_in", stored_t, day=IN_WINDOW, to_site=yard),
    )
    return enterprise


def test_mass_balance_not_closing() -> None:
    open_end = _balance("940.000")
    _balance("950.000")  # 5 %: within tolerance
    _balance("900.000", region="150203")
    disable_in("150200", "MASS-BALANCE")
    (finding,) = run("MASS-BALANCE")
    assert finding.enterprise == open_end
    assert finding.explanation_zh == (
        "粉煤灰在产生设施滞留60.000吨未记录去向，为近12个月产生量1,000.000吨的6.00%，超过5%。"
    )


def _dumper(day: dt.date, region: str = "150622") -> Enterprise:
    enterprise, site = plant(region=region, industry="0610")
    post(
        enterprise,
        draft(site, "generated", "20.000", waste_code="SW04", day=day),
        draft(site, "discarded", "12.500", waste_code="SW04", day=day),
    )
    return enterprise


def test_discarded_waste() -> None:
    dumper = _dumper(IN_WINDOW)
    _dumper(dt.date(2024, 6, 30))  # before the window
    _dumper(IN_WINDOW, region="150203")
    disable_in("150200", "DISCARDED")
    (finding,) = run("DISCARDED")
    assert finding.enterprise == dumper
    assert finding.explanation_zh == "近12个月台账记录倾倒丢弃煤矸石12.500吨（1笔）。"


# --- re-runs and settings --------------------------------------------------------------


def test_reruns_update_resolve_and_reopen_without_duplicates() -> None:
    enterprise, site = plant()
    yard = make_yard(enterprise=enterprise, code="ZC01", design_capacity=Decimal("1000"))
    post(enterprise, *stored(site, yard, "1100.000", IN_WINDOW))
    (first,) = run("YARD-OVER-CAPACITY")
    (again,) = run("YARD-OVER-CAPACITY")
    assert again.pk == first.pk
    assert again.first_seen == first.first_seen
    assert again.last_seen > first.last_seen
    assert again.status == "open"
    post(enterprise, draft(yard, "self_utilized", "200.000", day=IN_WINDOW, route="cement"))
    (gone,) = run("YARD-OVER-CAPACITY")
    assert (gone.pk, gone.status) == (first.pk, "resolved")
    post(enterprise, *stored(site, yard, "150.000", IN_WINDOW))
    (back,) = run("YARD-OVER-CAPACITY")
    assert (back.pk, back.status) == (first.pk, "open")
    assert "1,050.000吨" in back.explanation_zh
    assert list(
        FindingEvent.objects.filter(finding=back).values_list("from_status", "to_status")
    ) == [
        ("", "open"),
        ("open", "resolved"),
        ("resolved", "open"),
    ]


def test_reruns_in_chunks_of_one_key_record_each_subject_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A province-wide rule fires more often than SQLite takes parameters in one
    statement, so the findings are read and touched a chunk of keys at a time: with a
    chunk of one key, three yards still give three findings, updated, resolved and
    reopened exactly once."""
    monkeypatch.setattr("xunhuan.compliance.scanners.base.IN_CHUNK", 1)
    yards = []
    for n in range(3):
        enterprise, _ = plant(name=f"分块测试{n}")
        yards.append(make_yard(enterprise=enterprise, code="ZC09", is_permanent=True))
    first = run("YARD-PERMANENT")
    assert [f.site_id for f in first] == [y.pk for y in yards]
    assert {f.status for f in first} == {"open"}
    again = run("YARD-PERMANENT")
    assert [f.pk for f in again] == [f.pk for f in first]
    assert all(a.last_seen > f.last_seen for a, f in zip(again, first, strict=True))
    Site.objects.filter(pk=yards[1].pk).update(is_permanent=False)
    after = run("YARD-PERMANENT")
    assert [f.status for f in after] == ["open", "resolved", "open"]
    Site.objects.filter(pk=yards[1].pk).update(is_permanent=True)
    back = run("YARD-PERMANENT")
    assert [f.status for f in back] == ["open", "open", "open"]
    assert list(
        FindingEvent.objects.filter(finding__site=yards[1])
        .order_by("pk")
        .values_list("from_status", "to_status")
    ) == [("", "open"), ("open", "resolved"), ("resolved", "open")]
    assert FindingEvent.objects.filter(finding__site=yards[0]).count() == 1


def test_waived_finding_stays_waived() -> None:
    enterprise, _ = plant()
    make_yard(enterprise=enterprise, code="ZC09", is_permanent=True)
    (finding,) = run("YARD-PERMANENT")
    regulator = make_user(username="zhungeer")
    seat(regulator, region="150622")
    finding_waive(
        user=regulator, finding=finding, reason="历史遗留，已列入关闭计划 / closure planned"
    )
    (again,) = run("YARD-PERMANENT")
    assert (again.status, again.status_reason) == (
        "waived",
        "历史遗留，已列入关闭计划 / closure planned",
    )


def test_nearest_setting_wins_and_changes_are_recorded() -> None:
    enterprise, _ = plant()  # 准格尔旗 150622 in 鄂尔多斯 150600
    make_yard(enterprise=enterprise, code="ZC09", is_permanent=True)
    province = make_user(username="nmg")
    seat(province, region="150000")
    league = make_user(username="eeds")
    seat(league, region="150600")
    rule_setting_set(
        user=province,
        rule_id="YARD-PERMANENT",
        region_code="150000",
        is_enabled=False,
        params={},
        reason="暂停 / paused",
    )
    assert run("YARD-PERMANENT") == []
    rule_setting_set(
        user=league,
        rule_id="yard-permanent",
        region_code="150600",
        is_enabled=True,
        params={},
        reason="本盟继续检查 / kept on here",
    )
    assert len(run("YARD-PERMANENT")) == 1
    assert list(
        AuditEvent.objects.filter(action="compliance.rule_setting_set")
        .order_by("pk")
        .values_list("object_id", "actor__username")
    ) == [("YARD-PERMANENT@150000", "nmg"), ("YARD-PERMANENT@150600", "eeds")]
    history = list(
        RuleSettingChange.objects.order_by("pk").values_list(
            "region_id", "is_enabled", "previous_enabled", "changed_by__username"
        )
    )
    assert history == [("150000", False, None, "nmg"), ("150600", True, None, "eeds")]


def test_settings_are_refused_outside_the_jurisdiction_and_with_bad_parameters() -> None:
    league = make_user(username="baotou-reg")
    seat(league, region="150200")
    with pytest.raises(PermissionDenied):
        rule_setting_set(
            user=league,
            rule_id="YARD-3Y",
            region_code="150600",
            is_enabled=False,
            params={},
            reason="x",
        )
    with pytest.raises(ValidationFailed) as bad_value:
        rule_setting_set(
            user=league,
            rule_id="YARD-3Y",
            region_code="150200",
            is_enabled=True,
            params={"years": "0.1"},
            reason="x",
        )
    assert bad_value.value.field == "params.years"
    with pytest.raises(ValidationFailed) as unknown:
        rule_setting_set(
            user=league,
            rule_id="YARD-3Y",
            region_code="150200",
            is_enabled=True,
            params={"yaers": "4"},
            reason="x",
        )
    assert unknown.value.field == "params"
    with pytest.raises(ValidationFailed):
        rule_setting_set(
            user=league,
            rule_id="YARD-3Y",
            region_code="150200",
            is_enabled=True,
            params={},
            reason="  ",
        )
    assert not RuleSetting.objects.exists()
    assert not RuleSettingChange.objects.exists()


def test_run_by_region_and_incremental_run_leave_the_rest_alone() -> None:
    here, _ = plant()
    make_yard(enterprise=here, code="ZC09", is_permanent=True)
    there, _ = plant(region="150203")
    make_yard(enterprise=there, code="ZC09", is_permanent=True)
    assert [f.enterprise for f in run("YARD-PERMANENT", region_code="150600")] == [here]
    assert [f.enterprise for f in run("YARD-PERMANENT", enterprise_ids=[there.pk])] == [here, there]
    Site.objects.filter(enterprise=here).update(is_permanent=False)
    # An incremental run for the other enterprise does not resolve this one.
    run("YARD-PERMANENT", enterprise_ids=[there.pk])
    assert Finding.objects.get(enterprise=here).status == "open"


def test_a_read_only_regulator_seat_changes_no_setting_and_moves_no_finding() -> None:
    enterprise, _ = plant()
    make_yard(enterprise=enterprise, code="ZC09", is_permanent=True)
    (finding,) = run("YARD-PERMANENT")
    reader = make_user(username="eeds-reader")
    seat(reader, region="150600", role=Role.READER)
    with pytest.raises(PermissionDenied) as refused:
        rule_setting_set(
            user=reader,
            rule_id="YARD-PERMANENT",
            region_code="150622",
            is_enabled=False,
            params={},
            reason="试图关闭 / trying to switch it off",
        )
    assert refused.value.message == (
        "只读席位不能设置规则 / a read-only regulator seat cannot change rule settings"
    )
    with pytest.raises(PermissionDenied):
        finding_waive(user=reader, finding=finding, reason="x")
    assert not RuleSetting.objects.exists()
    assert not RuleSettingChange.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="compliance.").exists()
    finding.refresh_from_db()
    assert (finding.status, FindingEvent.objects.filter(finding=finding).count()) == ("open", 1)
    # The same league's member seat may, and the change is audited with what it replaced.
    member = make_user(username="eeds-member")
    seat(member, region="150600", role=Role.MEMBER)
    for enabled, params in ((True, {"years": "2"}), (False, {})):
        rule_setting_set(
            user=member,
            rule_id="YARD-3Y",
            region_code="150622",
            is_enabled=enabled,
            params=params,
            reason="从严 / stricter",
        )
    assert list(
        AuditEvent.objects.filter(action="compliance.rule_setting_set")
        .order_by("pk")
        .values_list("actor__username", "before", "after")
    ) == [
        (
            "eeds-member",
            None,
            {"is_enabled": True, "params": {"years": "2"}, "reason": "从严 / stricter"},
        ),
        (
            "eeds-member",
            {"is_enabled": True, "params": {"years": "2"}},
            {"is_enabled": False, "params": {}, "reason": "从严 / stricter"},
        ),
    ]

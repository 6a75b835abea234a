"""The exchange app end to end on a small region: supply and demand read from the
ledger and registry, a run's proposed flows (hand-verified), listings expiring,
quality limits, scenarios and their comparison, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db.models import ProtectedError
from django.utils import translation
from openpyxl import load_workbook

from tests.conftest import World
from tests.factories import draft, make_enterprise, make_site, waste
from xunhuan.core.errors import ValidationFailed
from xunhuan.exchange import exports, selectors, services
from xunhuan.exchange.models import (
    ProposedFlow,
    QualityDeclaration,
    QualityLimit,
    RailLink,
    RailTerminal,
    Run,
)
from xunhuan.ledger.services import ledger_entries_post, today_in_shanghai
from xunhuan.registry.models import Enterprise, Region, Site
from xunhuan.registry.services import facility_capacity_set

ORDOS = "150600"


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def road_fen(lat1: float, lon1: float, lat2: float, lon2: float) -> Decimal:
    """Independent check of the tariff: haversine x 1.3 x 0.45 yuan/t-km, whole fen."""
    km = _haversine_km(lat1, lon1, lat2, lon2) * 1.3
    return Decimal(round(km * 45)) / 100


@dataclass
class Ordos:
    world: World
    period: dt.date
    far: Enterprise
    far_site: Site
    region: Region


def _place(site: Site, lat: str, lon: str) -> None:
    site.latitude, site.longitude = Decimal(lat), Decimal(lon)
    site.save(update_fields=["latitude", "longitude"])


@pytest.fixture
def region(world: World) -> Ordos:
    """The plant makes 1,000 t of fly ash this month, hands 100 t over from its yard
    and keeps 300 t there; KILN1 (400 t spare) is 33 km east, FAR (1,000 t) 72 km north.

    Supply: 900 t surplus at BOILER1 + 10 % of 300 t yard stock = 930 t.
    Boiler prefers the kiln by 39 km, the yard (west) by only 13 km, so the plan is
    BOILER1->KILN1 400, BOILER1->FAR 500, YARD1->FAR 30."""
    period = today_in_shanghai().replace(day=1)
    _place(world.plant_site, "39.900000", "111.200000")
    _place(world.plant_yard, "39.900000", "110.900000")
    _place(world.receiver_site, "39.900000", "111.500000")
    far = make_enterprise(
        name="东胜测试建材厂",
        region=Region.objects.get(code="150602"),
        is_generator=False,
        is_utilizer=True,
        industry_id="3011",
    )
    far_site = make_site(enterprise=far, code="MILL1", name="粉磨站", kind="utilization")
    _place(far_site, "40.400000", "111.200000")
    facility_capacity_set(
        site=world.receiver_site, waste_code="SW02", route="cement", annual_capacity=Decimal(6000)
    )
    facility_capacity_set(
        site=far_site, waste_code="SW02", route="concrete", annual_capacity=Decimal(12000)
    )
    ledger_entries_post(
        enterprise=world.plant,
        drafts=[
            draft(world.plant_site, "generated", "1000.000", day=period),
            draft(world.plant_site, "storage_in", "400.000", day=period, to_site=world.plant_yard),
            draft(
                world.plant_yard,
                "handed_over",
                "100.000",
                day=period,
                counterparty=world.receiver,
                purpose="utilization",
                route="cement",
            ),
        ],
    )
    ledger_entries_post(
        enterprise=world.receiver,
        drafts=[
            draft(world.receiver_site, "received", "100.000", day=period, counterparty=world.plant),
            draft(world.receiver_site, "self_utilized", "100.000", day=period, route="cement"),
        ],
    )
    return Ordos(world, period, far, far_site, Region.objects.get(code=ORDOS))


def _flows(run: Run) -> list[tuple[str, str, Decimal, str]]:
    return [
        (f.source_site.code, f.receiver_name, f.quantity, f.mode)
        for f in ProposedFlow.objects.filter(run=run).select_related("source_site").order_by("pk")
    ]


def test_supply_and_demand_come_from_the_ledger(region: Ordos) -> None:
    lots = selectors.exchange_supply_read(
        region=region.region, period=region.period, drawdown_share=Decimal("0.10")
    )
    assert [(lot.source, lot.site_id, lot.waste_code, lot.quantity_kg) for lot in lots] == [
        ("surplus", region.world.plant_site.pk, "SW02", 900_000),
        ("stock", region.world.plant_yard.pk, "SW02", 30_000),
    ]
    receivers = selectors.exchange_demand_read(region=region.region, period=region.period)
    assert [(r.site_id, r.capacity_kg) for r in receivers] == [
        (region.world.receiver_site.pk, 400_000),
        (region.far_site.pk, 1_000_000),
    ]


def test_run_proposes_the_hand_computed_plan_with_explanations(region: Ordos) -> None:
    run = services.exchange_run(
        region=region.region, period=region.period, created_by=region.world.users["owner"]
    )
    kiln = f"{region.world.receiver.name} {region.world.receiver_site.name}"
    far = f"{region.far.name} {region.far_site.name}"
    assert _flows(run) == [
        ("BOILER1", kiln, Decimal("400.000"), "road"),
        ("BOILER1", far, Decimal("500.000"), "road"),
        ("YARD1", far, Decimal("30.000"), "road"),
    ]
    assert run.supplied == Decimal("930.000")
    assert run.utilized == Decimal("930.000")
    assert run.solver == "ortools-mcf"
    boiler_kiln = road_fen(39.9, 111.2, 39.9, 111.5)
    boiler_far = road_fen(39.9, 111.2, 40.4, 111.2)
    yard_far = road_fen(39.9, 110.9, 40.4, 111.2)
    assert run.cost_yuan == 400 * boiler_kiln + 500 * boiler_far + 30 * yard_far
    flows = list(ProposedFlow.objects.filter(run=run).order_by("pk"))
    assert [f.cost_per_t for f in flows] == [boiler_kiln, boiler_far, yard_far]
    # Each lot has two eligible routes (kiln and far mill); the boiler's and the
    # yard's second routes carry flow because the kiln is full.
    assert [(f.cost_rank, f.eligible_routes) for f in flows] == [(1, 2), (2, 2), (2, 2)]
    with translation.override("zh-hans"):
        assert flows[0].explanation == (
            f"公路33.3公里，{boiler_kiln}元/吨；在2条可达且质量合格的线路中运费排第1"
        )
        assert flows[1].explanation.endswith("运费排第2（更便宜的接收方能力已被占用）")
    with translation.override("en"):
        assert flows[0].explanation == (
            f"Road 33.3 km, {boiler_kiln} yuan/t; cost rank 1 of 2 eligible routes"
        )
        assert flows[1].explanation.endswith(
            "cost rank 2 of 2 eligible routes (cheaper receivers' capacity is taken)"
        )
    # transport CO2 = road t-km x 0.080 kg
    assert run.rail_tkm == Decimal("0.0")
    assert run.co2_t == (run.road_tkm * Decimal("0.080") / 1000).quantize(Decimal("0.001"))


def test_a_site_a_flow_names_cannot_be_deleted(region: Ordos) -> None:
    """The flows' registry references are not database constraints (ADR 0033); the
    application still refuses to delete what a plan names. The far mill has no
    ledger entries; once its capacity is gone, only the run's flows hold it."""
    services.exchange_run(region=region.region, period=region.period, created_by=None)
    region.far_site.capacities.all().delete()
    with pytest.raises(ProtectedError) as refused:
        region.far_site.delete()
    assert {type(o) for o in refused.value.protected_objects} == {ProposedFlow}
    assert ProposedFlow.objects.filter(receiver_site=region.far_site).count() == 2


def test_expired_and_withdrawn_listings_are_not_supply(region: Ordos) -> None:
    world = region.world
    common = {
        "enterprise": world.plant,
        "site_code": "BOILER1",
        "waste_code": "SW02",
        "published_by": world.users["owner"],
    }
    services.listing_publish(
        **common,
        quantity="70.000",
        expires_on=region.period - dt.timedelta(days=1),
        today=region.period - dt.timedelta(days=10),
    )
    withdrawn = services.listing_publish(
        **common, quantity="80.000", expires_on=region.period, today=region.period
    )
    services.listing_withdraw(listing=withdrawn)
    live = services.listing_publish(
        **common, quantity="12.500", expires_on=region.period, today=region.period
    )
    lots = selectors.exchange_supply_read(
        region=region.region, period=region.period, drawdown_share=Decimal("0.10")
    )
    assert [(lot.source, lot.quantity_kg, lot.listing_id) for lot in lots][-1] == (
        "listing",
        12_500,
        live.pk,
    )
    assert len(lots) == 3
    with pytest.raises(ValidationFailed, match="有效期已过"):
        services.listing_publish(
            **common,
            quantity="1.000",
            expires_on=region.period,
            today=region.period.replace(year=region.period.year + 1),
        )


@pytest.mark.parametrize(
    ("scope", "maximum", "solver", "kiln_tonnes"),
    [
        ("lot", "15", "ortools-mcf", None),  # 20 % > 15 %: no lot may go to the kiln
        ("blend", "15", "highs-lp", None),  # nothing drier to blend with: same answer
        ("blend", "25", "highs-lp", Decimal("400.000")),  # within the limit: as before
    ],
)
def test_quality_limits(
    region: Ordos, scope: str, maximum: str, solver: str, kiln_tonnes: Decimal | None
) -> None:
    world = region.world
    # The plant declares 20 % moisture for its fly ash; the kiln limits moisture.
    QualityDeclaration.objects.create(
        site=world.plant_site, waste_id="SW02", moisture_pct=Decimal("20")
    )
    QualityLimit.objects.create(
        site=world.receiver_site,
        waste_id="SW02",
        attribute="moisture_pct",
        scope=scope,
        maximum=Decimal(maximum),
    )
    run = services.exchange_run(
        region=region.region, period=region.period, created_by=world.users["owner"]
    )
    kiln = f"{world.receiver.name} {world.receiver_site.name}"
    far = f"{region.far.name} {region.far_site.name}"
    assert run.solver == solver
    assert run.utilized == Decimal("930.000")
    if kiln_tonnes is None:
        assert _flows(run) == [
            ("BOILER1", far, Decimal("900.000"), "road"),
            ("YARD1", far, Decimal("30.000"), "road"),
        ]
    else:
        assert _flows(run) == [
            ("BOILER1", kiln, kiln_tonnes, "road"),
            ("BOILER1", far, Decimal("500.000"), "road"),
            ("YARD1", far, Decimal("30.000"), "road"),
        ]


def test_nothing_to_place_is_a_clear_empty_run(world: World) -> None:
    run = services.exchange_run(
        region=Region.objects.get(code=ORDOS),
        period=today_in_shanghai().replace(day=1),
        created_by=world.users["owner"],
    )
    assert run.utilized == Decimal("0.000")
    assert run.lots == 0
    assert "无可供应的固废 / no supply to place" in run.notes
    assert "无接收能力 / no receiving capacity" in run.notes
    assert ProposedFlow.objects.filter(run=run).count() == 0


def test_period_must_be_a_month(region: Ordos) -> None:
    with pytest.raises(ValidationFailed, match="period"):
        services.exchange_run(
            region=region.region, period=region.period.replace(day=2), created_by=None
        )


def test_scenarios_close_a_plant_add_a_plant_and_open_rail(region: Ordos) -> None:
    world = region.world
    user = world.users["league_regulator"]
    baseline = services.exchange_run(region=region.region, period=region.period, created_by=user)
    base_scenario = services.scenario_create(region=region.region, name="基线", created_by=user)
    closed = services.scenario_copy(scenario=base_scenario, name="关停水泥窑", created_by=user)
    services.scenario_change_add(scenario=closed, kind="close_site", site=world.receiver_site)
    run_closed = services.exchange_run(
        region=region.region, period=region.period, created_by=user, scenario=closed
    )
    far = f"{region.far.name} {region.far_site.name}"
    assert _flows(run_closed) == [
        ("BOILER1", far, Decimal("900.000"), "road"),
        ("YARD1", far, Decimal("30.000"), "road"),
    ]
    comparison = selectors.runs_compare(
        regions=Region.objects.filter(path__startswith=region.region.path),
        enterprises=Enterprise.objects.none(),
        baseline_id=str(baseline.public_id),
        scenario_id=str(run_closed.public_id),
    )
    assert comparison.utilized_change == Decimal("0.000")
    assert comparison.cost_change_yuan == run_closed.cost_yuan - baseline.cost_yuan
    # Closing the near kiln sends 400 t further: road_fen(boiler->far) - road_fen(boiler->kiln)
    assert comparison.cost_change_yuan == 400 * (
        road_fen(39.9, 111.2, 40.4, 111.2) - road_fen(39.9, 111.2, 39.9, 111.5)
    )

    # A copy keeps the closure; adding a plant next to the boiler takes the lot.
    added = services.scenario_copy(scenario=closed, name="新建利用项目", created_by=user)
    assert added.based_on == closed
    services.scenario_change_add(
        scenario=added,
        kind="add_plant",
        name="新建粉煤灰综合利用项目",
        region=Region.objects.get(code="150622"),
        waste=waste("SW02"),
        annual_capacity=Decimal("12000"),
        latitude=Decimal("39.950000"),
        longitude=Decimal("111.200000"),
    )
    run_added = services.exchange_run(
        region=region.region, period=region.period, created_by=user, scenario=added
    )
    new_plant = "新建粉煤灰综合利用项目"
    assert _flows(run_added) == [
        ("BOILER1", new_plant, Decimal("900.000"), "road"),
        ("YARD1", new_plant, Decimal("30.000"), "road"),
    ]
    assert not ProposedFlow.objects.filter(run=run_added, receiver_site__isnull=False).exists()

    # Rail: a far-away mill (beyond the road's 300 km) reached by opening two links.
    remote = make_enterprise(
        name="乌海测试建材厂",
        region=Region.objects.get(code="150602"),
        is_generator=False,
        is_utilizer=True,
        industry_id="3011",
    )
    remote_site = make_site(enterprise=remote, code="MILL9", name="远端粉磨站", kind="utilization")
    _place(remote_site, "39.900000", "106.800000")
    facility_capacity_set(
        site=remote_site, waste_code="SW02", route="cement", annual_capacity=Decimal(1200)
    )
    north = RailTerminal.objects.create(
        name="准格尔站", region_id="150622", latitude=Decimal("39.91"), longitude=Decimal("111.21")
    )
    west = RailTerminal.objects.create(
        name="乌海西站", region_id="150602", latitude=Decimal("39.90"), longitude=Decimal("106.82")
    )
    RailLink.objects.create(site=remote_site, terminal=west, drayage_km=Decimal("3.0"))
    rail = services.scenario_copy(scenario=closed, name="开通铁路专用线", created_by=user)
    services.scenario_change_add(scenario=rail, kind="close_site", site=region.far_site)
    services.scenario_change_add(
        scenario=rail,
        kind="open_rail_link",
        site=world.plant_site,
        terminal=north,
        drayage_km=Decimal("2.0"),
    )
    run_rail = services.exchange_run(
        region=region.region, period=region.period, created_by=user, scenario=rail
    )
    # 1,200 t/a = 100 t a month at the remote mill, only by rail; the rest stays.
    assert _flows(run_rail) == [
        ("BOILER1", f"{remote.name} {remote_site.name}", Decimal("100.000"), "rail")
    ]
    assert run_rail.utilized == Decimal("100.000")
    assert run_rail.road_tkm == Decimal("500.0")  # 5 km of drayage x 100 t
    line_km = 1.25 * _haversine_km(39.91, 111.21, 39.90, 106.82)
    assert run_rail.rail_tkm == Decimal(repr(100 * line_km)).quantize(Decimal("0.1"))


def test_exports_carry_the_flows(region: Ordos) -> None:
    run = services.exchange_run(
        region=region.region, period=region.period, created_by=region.world.users["owner"]
    )
    flows = ProposedFlow.objects.filter(run=run).select_related("source_enterprise", "source_site")
    rows = list(csv.reader(io.StringIO(exports.flows_csv(flows).decode("utf-8-sig"))))
    assert rows[0][0] == "供应单位 / source"
    assert [(r[2], r[4], r[6]) for r in rows[1:]] == [
        ("BOILER1", "400.000", "road"),
        ("BOILER1", "500.000", "road"),
        ("YARD1", "30.000", "road"),
    ]
    sheet = load_workbook(io.BytesIO(exports.flows_xlsx(flows))).active
    assert sheet is not None
    assert [row[4] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        "400.000",
        "500.000",
        "30.000",
    ]


def test_league_rates_with_the_baseline_and_the_scenario_against_targets(region: Ordos) -> None:
    """Hand-computed: in the month the plant generated 1,000 t and handed 100 t over for
    utilization (the receiver's 100 t self-utilized is received waste, counted at the
    generator), so the ledger's rate is 100 / 1,000 = 10.00 %. The baseline closes the
    far mill: the kiln takes 400 t of the boiler's 900 t surplus (50.00 %); the
    scenario (nothing closed) places all 900 t (100.00 %). Against an 80 % target for
    the league: 30.00 points short before, 0.00 after."""
    from xunhuan.statistics.models import Target
    from xunhuan.statistics.selectors import StatScope

    world = region.world
    user = world.users["league_regulator"]
    closed = services.scenario_create(region=region.region, name="关停粉磨站", created_by=user)
    services.scenario_change_add(scenario=closed, kind="close_site", site=region.far_site)
    common = {"region": region.region, "period": region.period, "created_by": user}
    # no yard drawdown: the month's surplus only
    baseline = services.exchange_run(scenario=closed, drawdown_share=Decimal(0), **common)
    scenario = services.exchange_run(drawdown_share=Decimal(0), **common)
    assert (baseline.utilized, scenario.utilized) == (Decimal("400.000"), Decimal("900.000"))
    Target.objects.create(
        region_code=ORDOS,
        year=region.period.year,
        plan="测试规划",
        indicator="一般工业固体废物综合利用率",
        scope="industrial",
        metric="rate",
        threshold_percent=Decimal("80.00"),
    )
    effects = selectors.runs_league_effect(
        regions=Region.objects.filter(path__startswith=region.region.path),
        enterprises=Enterprise.objects.none(),
        scope=StatScope.everything(),
        baseline_id=str(baseline.public_id),
        scenario_id=str(scenario.public_id),
    )
    assert [(e.code, e.baseline_t, e.scenario_t, e.extra_t) for e in effects] == [
        (ORDOS, Decimal("400.000"), Decimal("900.000"), Decimal("500.000"))
    ]
    league = effects[0]
    assert league.month == f"{region.period:%Y-%m}"
    assert (league.rate_recorded, league.rate_before, league.rate_after) == (
        Decimal("10.00"),
        Decimal("50.00"),
        Decimal("100.00"),
    )
    ours = [t for t in league.targets if t.plan == "测试规划"]
    assert [
        (t.threshold_percent, t.rate_before, t.rate_after, t.gap_before_points, t.gap_after_points)
        for t in ours
    ] == [
        (Decimal("80.00"), Decimal("50.00"), Decimal("100.00"), Decimal("30.00"), Decimal("0.00"))
    ]


def test_twelve_month_plan_carries_surplus_over_in_the_yard(region: Ordos) -> None:
    """Hand-computed: with the far mill closed only the kiln takes fly ash: 400 t spare
    this month (500 t a month less the 100 t it utilized), 500 t in later months. The
    930 t on offer (900 t surplus, 30 t of yard stock) go 400 t now, 500 t next month
    and 30 t the month after, held in the plant's yard in between: 530 + 30 = 560
    t-months at 0.50 yuan = 280.00 yuan."""
    from xunhuan.jobs.services import jobs_work

    user = region.world.users["league_regulator"]
    closed = services.scenario_create(region=region.region, name="关停粉磨站", created_by=user)
    services.scenario_change_add(scenario=closed, kind="close_site", site=region.far_site)
    request = services.horizon_request(
        region=region.region, period=region.period, scenario=closed, created_by=user
    )
    assert jobs_work(limit=5) >= 1
    request.refresh_from_db()
    run = request.run
    assert run is not None
    assert (run.months, run.solver, run.utilized) == (12, "ortools-12m", Decimal("930.000"))
    assert run.storage_cost_yuan == Decimal("280.00")
    kiln = f"{region.world.receiver.name} {region.world.receiver_site.name}"
    assert _flows(run) == [
        ("BOILER1", kiln, Decimal("900.000"), "road"),
        ("YARD1", kiln, Decimal("30.000"), "road"),
    ]
    # the job is idempotent: solving the request again returns the same run
    assert services.exchange_horizon_run(request=request) == run

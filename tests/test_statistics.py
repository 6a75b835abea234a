"""Official indicators from the ledger, hand-computed; incremental cells, rebuild and check.

The plant (准格尔旗 150622) makes fly ash (SW02) at BOILER1 and stores it in YARD1:

* 2024-06: generates 100 t, uses 30 t itself (cement), stores 70 t.
  -> 2024: generated 100, utilized 30, of which prior stock 0, stored 70; rate 30.00%.
* 2025-03: generates 50 t, hands 20 t to the receiver for utilization (concrete),
  stores 30 t. The receiver records the 20 t it received and utilizes them.
* 2025-04: takes 40 t out of the yard for backfill and hands 10 t from the yard to
  the disposer. The yard held 70 t on 1 January 2025 (previous years' stock), so
  both come from it: 40 t utilized and 10 t disposed of previous years' stock.
  -> 2025: generated 50, utilized 20 + 40 = 60, of which prior 40, disposed 10 (prior
  10), stored 50 − (60 − 40) − (10 − 10) = 30; rate 60 ÷ (50 + 40) = 66.67%.
  The receiver's 20 t are not counted again (they are the plant's hand-over).
* 2026-02: 10 t from the yard for backfill, nothing generated: rate 10 ÷ (0 + 10) = 100%.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from tests.conftest import World
from tests.factories import draft
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.models import LedgerEntry
from xunhuan.ledger.services import ledger_entries_post, ledger_entry_correct
from xunhuan.registry.models import Region
from xunhuan.statistics.check import stat_cells_check
from xunhuan.statistics.models import StatCell, StatRouteCell
from xunhuan.statistics.selectors import StatScope, stat_scope, stats_table
from xunhuan.statistics.services import stat_cells_rebuild

TODAY = dt.date(2026, 3, 1)
# The whole ledger, for tests of the definitions (access is tested separately).
EVERYTHING = StatScope.everything()


def post_story(world: World) -> None:
    plant, boiler, yard = world.plant, world.plant_site, world.plant_yard
    ledger_entries_post(
        enterprise=plant,
        today=TODAY,
        drafts=[
            draft(boiler, "generated", "100", day=dt.date(2024, 6, 10)),
            draft(boiler, "self_utilized", "30", day=dt.date(2024, 6, 11), route="cement"),
            draft(boiler, "storage_in", "70", day=dt.date(2024, 6, 12), to_site=yard),
        ],
    )
    ledger_entries_post(
        enterprise=plant,
        today=TODAY,
        drafts=[
            draft(boiler, "generated", "50", day=dt.date(2025, 3, 5)),
            draft(
                boiler,
                "handed_over",
                "20",
                day=dt.date(2025, 3, 6),
                counterparty=world.receiver,
                purpose="utilization",
                route="concrete",
            ),
            draft(boiler, "storage_in", "30", day=dt.date(2025, 3, 7), to_site=yard),
            draft(yard, "self_utilized", "40", day=dt.date(2025, 4, 2), route="backfill"),
            draft(
                yard,
                "handed_over",
                "10",
                day=dt.date(2025, 4, 3),
                counterparty=world.disposer,
                purpose="disposal",
            ),
        ],
    )
    ledger_entries_post(
        enterprise=world.receiver,
        today=TODAY,
        drafts=[
            draft(
                world.receiver_site,
                "received",
                "20",
                day=dt.date(2025, 3, 6),
                counterparty=plant,
            ),
            draft(
                world.receiver_site,
                "self_utilized",
                "20",
                day=dt.date(2025, 3, 8),
                route="concrete",
            ),
        ],
    )
    ledger_entries_post(
        enterprise=plant,
        today=TODAY,
        drafts=[draft(yard, "self_utilized", "10", day=dt.date(2026, 2, 1), route="backfill")],
    )


def by(rows: list, key: str) -> dict:  # type: ignore[type-arg]
    return {row.keys[key]: row for row in rows}


@pytest.fixture
def story(world: World) -> World:
    post_story(world)
    return world


def test_indicators_by_year_hand_computed(story: World) -> None:
    county = Region.objects.get(code="150622")
    rows = by(stats_table(scope=EVERYTHING, by=["year"], region=county), "year")
    assert sorted(rows) == [2024, 2025, 2026]
    y24, y25, y26 = rows[2024], rows[2025], rows[2026]
    assert y24.values["generated"] == Decimal("100.000")
    assert y24.values["utilized"] == Decimal("30.000")
    assert y24.values["utilized_prior"] == Decimal("0.000")
    assert y24.values["storage_added"] == Decimal("70.000")
    assert y24.utilization_rate == Decimal("30.00")
    assert y25.values["generated"] == Decimal("50.000")
    assert y25.values["utilized"] == Decimal("60.000")
    assert y25.values["utilized_prior"] == Decimal("40.000")
    assert y25.values["disposed"] == Decimal("10.000")
    assert y25.values["disposed_prior"] == Decimal("10.000")
    assert y25.values["storage_added"] == Decimal("30.000")
    assert y25.values["dumped"] == Decimal("0.000")
    # the receiver's 20 t: recorded as received and handled, not counted again
    assert y25.values["received"] == Decimal("20.000")
    assert y25.values["received_handled"] == Decimal("20.000")
    assert y25.utilization_rate == Decimal("66.67")
    # old stock only, no generation: the rate is still defined
    assert y26.values["generated"] == Decimal("0.000")
    assert y26.values["utilized_prior"] == Decimal("10.000")
    assert y26.utilization_rate == Decimal("100.00")


def test_zero_generation_has_no_rate(story: World) -> None:
    rows = by(stats_table(scope=EVERYTHING, by=["enterprise"], year=2025), "enterprise")
    receiver = rows[story.receiver.pk]
    assert receiver.values["generated"] == Decimal("0.000")
    assert receiver.values["utilized"] == Decimal("0.000")
    assert receiver.utilization_rate is None
    # a league with no enterprise at all: no rows, not a zero rate
    assert (
        stats_table(scope=EVERYTHING, by=["year"], region=Region.objects.get(code="150200")) == []
    )


def test_stock_on_hand_at_year_end(story: World) -> None:
    rows = by(stats_table(scope=EVERYTHING, by=["enterprise"], year=2025), "enterprise")
    # 100 − 30 in 2024, then + 50 − 20 − 40 − 10 in 2025
    assert rows[story.plant.pk].stock_on_hand == Decimal("50.000")
    assert rows[story.receiver.pk].stock_on_hand == Decimal("0.000")


def test_by_route_counts_own_utilization_once(story: World) -> None:
    rows = by(stats_table(scope=EVERYTHING, by=["route"], year=2025), "route")
    assert {k: r.values["utilized"] for k, r in rows.items()} == {
        "backfill": Decimal("40.000"),
        "concrete": Decimal("20.000"),
    }
    assert rows["concrete"].labels["route"] == "混凝土掺合料"


def test_groupings_by_city_group_quarter_month(story: World) -> None:
    rows = stats_table(scope=EVERYTHING, by=["city", "group", "quarter"], year=2025)
    assert [(r.keys["city"], r.keys["group"], r.keys["quarter"]) for r in rows] == [
        ("150600", "fly_ash", "2025Q1"),
        ("150600", "fly_ash", "2025Q2"),
    ]
    assert rows[0].labels["city"] == "鄂尔多斯市"
    assert rows[0].values["utilized"] == Decimal("20.000")
    assert rows[1].values["utilized"] == Decimal("40.000")
    months = stats_table(scope=EVERYTHING, by=["month"], year=2024)
    assert [(r.keys["month"], r.values["generated"]) for r in months] == [
        ("2024-06", Decimal("100.000"))
    ]


def test_correction_updates_cells_in_the_same_transaction(story: World) -> None:
    original = LedgerEntry.objects.get(enterprise=story.plant, kind="self_utilized", quantity="30")
    ledger_entry_correct(
        entry=original,
        reason="称重有误 / weighing error",
        replacement=draft(
            story.plant_site, "self_utilized", "25", day=dt.date(2024, 6, 11), route="cement"
        ),
        today=TODAY,
    )
    y24 = by(stats_table(scope=EVERYTHING, by=["year"], year=2024), "year")[2024]
    assert y24.values["utilized"] == Decimal("25.000")
    assert y24.values["storage_added"] == Decimal("75.000")
    assert y24.utilization_rate == Decimal("25.00")
    assert stat_cells_check().ok


def test_bulk_ingest_updates_cells(world: World) -> None:
    ledger_entries_ingest(
        enterprise=world.plant,
        today=TODAY,
        drafts=[
            draft(world.plant_site, "generated", "12.345", day=dt.date(2025, 1, 3)),
            draft(world.plant_site, "discarded", "2.345", day=dt.date(2025, 1, 4)),
        ],
    )
    row = stats_table(scope=EVERYTHING, by=["year"])[0]
    assert row.values["generated"] == Decimal("12.345")
    assert row.values["dumped"] == Decimal("2.345")
    assert row.values["storage_added"] == Decimal("10.000")
    assert row.utilization_rate == Decimal("0.00")


def _dump() -> list[tuple[object, ...]]:
    cells = StatCell.objects.order_by("enterprise_id", "waste_id", "month").values_list(
        "enterprise_id",
        "waste_id",
        "month",
        "generated",
        "utilized",
        "utilized_prior",
        "storage_added",
        "stock_change",
        "entries",
    )
    routes = StatRouteCell.objects.order_by("enterprise_id", "month", "route").values_list(
        "enterprise_id", "month", "route", "utilized"
    )
    return [*cells, *routes]


def test_rebuild_equals_incremental_and_is_idempotent(story: World) -> None:
    incremental = _dump()
    first = stat_cells_rebuild()
    assert _dump() == incremental
    second = stat_cells_rebuild()
    assert _dump() == incremental
    assert (first.cells, first.entries) == (second.cells, second.entries) == (5, 11)


def test_check_passes_then_catches_tampering(story: World) -> None:
    call_command("stats_check")
    StatCell.objects.filter(enterprise=story.plant, year=2025).update(generated=Decimal("49.000"))
    report = stat_cells_check()
    assert not report.ok
    assert any("ledger sums differ" in p for p in report.problems)
    with pytest.raises(CommandError):
        call_command("stats_check")
    call_command("stats_rebuild")
    call_command("stats_check")


def test_check_catches_a_stale_dimension(story: World) -> None:
    story.plant.park = None
    story.plant.region = Region.objects.get(code="150602")
    story.plant.save()
    report = stat_cells_check()
    assert any("stale" in p for p in report.problems)
    stat_cells_rebuild()
    assert stat_cells_check().ok


def test_scope_limits_what_is_summed(story: World) -> None:
    users = story.users
    own = by(stats_table(scope=stat_scope(users["owner"]), by=["enterprise"]), "enterprise")
    assert list(own) == [story.plant.pk]
    assert stats_table(scope=stat_scope(users["other_league_regulator"]), by=["year"]) == []
    league = stats_table(scope=stat_scope(users["league_regulator"]), by=["year"], year=2025)
    assert league[0].values["utilized"] == Decimal("60.000")
    assert stats_table(scope=stat_scope(AnonymousUser()), by=["year"]) == []


def test_year_cells_follow_the_cells_and_serve_reports_without_months(story: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from xunhuan.statistics.models import StatYearCell

    years = StatYearCell.objects.filter(enterprise=story.plant).order_by("year", "waste_id")
    assert [(r.year, r.waste_id, r.generated, r.utilized) for r in years] == [
        (y, w, Decimal(g), Decimal(u))
        for y, w, g, u in StatCell.objects.filter(enterprise=story.plant)
        .values_list("year", "waste_id")
        .annotate(g=Sum("generated"), u=Sum("utilized"))
        .order_by("year", "waste_id")
    ]
    # an enterprise list of a year (and its stock at the year's end) reads the year
    # cells; a monthly one the cells
    with CaptureQueriesContext(connection) as queries:
        listed = stats_table(scope=EVERYTHING, by=["enterprise", "group"], year=2025)
    assert all("statistics_statcell" not in q["sql"] for q in queries.captured_queries)
    assert any("statistics_statyearcell" in q["sql"] for q in queries.captured_queries)
    monthly = stats_table(scope=EVERYTHING, by=["enterprise", "month"], year=2025)
    assert sum(r.values["utilized"] for r in listed) == sum(r.values["utilized"] for r in monthly)
    # a new entry moves them in the same transaction

    def plant_generated() -> Decimal:
        rows = stats_table(scope=EVERYTHING, by=["enterprise", "group"], year=2025)
        return sum(
            (r.values["generated"] for r in rows if r.keys["enterprise"] == story.plant.pk),
            Decimal(0),
        )

    before = plant_generated()
    ledger_entries_post(
        enterprise=story.plant,
        drafts=[draft(story.plant_site, quantity="5", day=dt.date(2025, 3, 9))],
    )
    assert plant_generated() == before + 5
    assert stat_cells_check().ok
    StatYearCell.objects.filter(enterprise=story.plant, year=2025).update(
        stock_change=Decimal("1.000")
    )
    assert any("年度汇总" in p for p in stat_cells_check().problems)
    stat_cells_rebuild()
    assert stat_cells_check().ok


def test_region_rollup_follows_the_cells_and_the_check_watches_it(story: World) -> None:
    from xunhuan.statistics.models import StatRegionCell

    county = StatRegionCell.objects.filter(region_id="150622", year=2025)
    assert sorted((r.month, r.utilized, r.generated) for r in county) == [
        (dt.date(2025, 3, 1), Decimal("20.000"), Decimal("50.000")),
        (dt.date(2025, 4, 1), Decimal("40.000"), Decimal("0.000")),
    ]
    # a dashboard by region answers from the rollup, an enterprise seat from the cells
    league = stats_table(scope=EVERYTHING, by=["county"], year=2025)
    own = stats_table(scope=stat_scope(story.users["owner"]), by=["county"], year=2025)
    assert league[0].values["utilized"] == own[0].values["utilized"] == Decimal("60.000")
    StatRegionCell.objects.filter(region_id="150622", month=dt.date(2025, 4, 1)).update(
        utilized=Decimal("41.000")
    )
    assert any("区域汇总" in p for p in stat_cells_check().problems)
    stat_cells_rebuild()
    assert stat_cells_check().ok

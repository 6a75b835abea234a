"""Bulk ingest leaves the statistics cells to the pending job (ADR 0013).

A write of more than ``SYNC_REFRESH_MAX_ENTRIES`` entries marks the touched
(enterprise, waste) series in the ledger's transaction; the job recomputes them to
exactly what a rebuild gives. Small writes keep refreshing their cells at once.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from tests.conftest import REGIONS_DIR, World
from tests.factories import draft, make_enterprise, make_site, make_yard
from tests.ledger_tamper import truncate_guard
from xunhuan.core.errors import InsufficientStock
from xunhuan.jobs.models import Job, JobStatus
from xunhuan.jobs.services import jobs_work
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.rules import EntryDraft
from xunhuan.ledger.services import ledger_entry_post
from xunhuan.registry.models import Enterprise, Region, Site
from xunhuan.registry.services import regions_load
from xunhuan.statistics.cells import CELL_DIMS, CELL_MEASURES, ROLLUP_DIMS, YEAR_DIMS
from xunhuan.statistics.check import stat_cells_check
from xunhuan.statistics.models import (
    CELL_MODELS,
    StatCell,
    StatPending,
    StatRegionCell,
    StatRouteCell,
    StatYearCell,
)
from xunhuan.statistics.pending import JOB_PENDING, SYNC_REFRESH_MAX_ENTRIES, stats_pending_count
from xunhuan.statistics.selectors import StatScope, stat_scope
from xunhuan.statistics.services import DrainResult, stat_cells_rebuild, stat_pending_drain

TODAY = dt.date(2025, 12, 31)
EVERYTHING = StatScope.everything()
BULK = SYNC_REFRESH_MAX_ENTRIES + 10


def month_drafts(site: Site, yard: Site, count: int) -> list[EntryDraft]:
    """``count`` entries over 2024-2025 in two wastes: generation, storage and use."""
    out = []
    for i in range(count):
        day = dt.date(2024 + i % 2, 1 + i % 12, 1 + i % 28)
        waste_code = "SW02" if i % 3 else "SW01"
        out.append(draft(site, "generated", "10.000", waste_code=waste_code, day=day))
    out.sort(key=lambda d: d.occurred_on)
    out.append(draft(site, "storage_in", "40.000", to_site=yard, day=dt.date(2025, 12, 1)))
    out.append(draft(yard, "self_utilized", "15.500", route="cement", day=dt.date(2025, 12, 2)))
    return out


# The measures' field names (their columns end in _kg).
MEASURES = [m.removesuffix("_kg") for m in CELL_MEASURES]


def ingest_bulk(world: World) -> None:
    """A batch too large for the synchronous refresh, into the plant's ledger."""
    ledger_entries_ingest(
        enterprise=world.plant,
        drafts=month_drafts(world.plant_site, world.plant_yard, BULK),
        today=TODAY,
    )


def snapshot() -> list[tuple[Any, ...]]:
    """Every cell, route cell, rollup row and year cell with all its columns, in a stable
    order."""
    cells = list(
        StatCell.objects.order_by("enterprise_id", "waste_id", "month").values_list(
            *CELL_DIMS, *MEASURES
        )
    )
    routes = list(
        StatRouteCell.objects.order_by("enterprise_id", "waste_id", "month", "route").values_list(
            *CELL_DIMS, "route", "utilized"
        )
    )
    rollup = list(
        StatRegionCell.objects.order_by("region_id", "waste_id", "month").values_list(
            *ROLLUP_DIMS, *MEASURES
        )
    )
    years = list(
        StatYearCell.objects.order_by("enterprise_id", "waste_id", "year").values_list(
            *YEAR_DIMS, *MEASURES
        )
    )
    return [*cells, ("routes",), *routes, ("rollup",), *rollup, ("years",), *years]


def marks() -> set[tuple[int, str]]:
    return set(StatPending.objects.values_list("enterprise_id", "waste_id"))


@pytest.mark.django_db
def test_bulk_ingest_marks_in_its_transaction_and_queues_one_job(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        ingest_bulk(world)
    assert marks() == {(world.plant.pk, "SW01"), (world.plant.pk, "SW02")}
    assert not StatCell.objects.filter(enterprise=world.plant).exists()
    assert not StatRegionCell.objects.exists()
    # the job is queued after commit, once, whatever else was marked
    assert len(hooks) == 2  # ours and the compliance re-check's
    assert list(Job.objects.filter(kind=JOB_PENDING).values_list("status", flat=True)) == [
        JobStatus.QUEUED
    ]
    ledger_entries_ingest(
        enterprise=world.plant,
        drafts=[draft(world.plant_site, day=dt.date(2025, 6, 1 + i % 28)) for i in range(BULK)],
        today=TODAY,
    )
    assert Job.objects.filter(kind=JOB_PENDING).count() == 1
    # readers can tell the figures are catching up, within what they may see
    assert stats_pending_count(EVERYTHING) == 2
    assert stats_pending_count(stat_scope(world.users["league_regulator"])) == 2
    assert stats_pending_count(stat_scope(world.users["owner"])) == 2
    assert stats_pending_count(stat_scope(world.users["other_league_regulator"])) == 0
    assert stats_pending_count(stat_scope(world.users["outsider"])) == 0


@pytest.mark.django_db
def test_rolled_back_ingest_leaves_no_mark_and_no_cells(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    drafts = month_drafts(world.plant_site, world.plant_yard, BULK)
    seen_inside: list[int] = []

    def ingest_then_fail() -> None:
        with transaction.atomic():
            ledger_entries_ingest(enterprise=world.plant, drafts=drafts, today=TODAY)
            seen_inside.append(len(marks()))  # written inside the ledger's transaction
            raise RuntimeError("the caller fails after the ingest")

    with django_capture_on_commit_callbacks(execute=True) as hooks:
        with pytest.raises(RuntimeError):
            ingest_then_fail()
        assert seen_inside == [2]
        # a batch refused by the stock check writes nothing either
        overdraw = [
            *drafts[:-1],
            draft(world.plant_yard, "self_utilized", "40.001", route="cement", day=TODAY),
        ]
        with pytest.raises(InsufficientStock):
            ledger_entries_ingest(enterprise=world.plant, drafts=overdraw, today=TODAY)
    assert hooks == []
    assert marks() == set()
    assert not StatCell.objects.exists()
    assert not Job.objects.filter(kind=JOB_PENDING).exists()


@pytest.mark.django_db
def test_drain_gives_exactly_the_rebuild_and_is_idempotent(world: World) -> None:
    ledger_entry_post(enterprise=world.outsider, draft=draft(world.outsider_site, "generated"))
    ingest_bulk(world)
    assert stat_pending_drain() == DrainResult(enterprises=1, cells=12)
    assert marks() == set()
    drained = snapshot()
    # 13 cells (12 of the plant, 1 of the outsider), 1 route cell, 13 rollup rows,
    # 5 year cells (the plant's two wastes in 2024 and 2025, the outsider's one)
    assert len(drained) == 13 + 1 + 1 + 1 + 13 + 1 + 5
    assert stat_pending_drain() == DrainResult(enterprises=0, cells=0)
    assert snapshot() == drained
    stat_cells_rebuild()
    assert snapshot() == drained
    assert stat_cells_check().ok


@pytest.mark.django_db
def test_drain_in_batches_of_enterprises_recomputes_only_the_marked_series(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five marked enterprises drained two at a time (one set of statements per batch)
    give exactly the rebuild; an unmarked waste of a drained enterprise keeps its cells."""
    monkeypatch.setattr("xunhuan.statistics.services.DRAIN_BATCH", 2)
    plants = []
    for n, county in enumerate(["150622", "150602", "150622", "150202", "150303"]):
        plant = make_enterprise(name=f"批量电厂{n}", region=Region.objects.get(code=county))
        site = make_site(enterprise=plant, code=f"B{n}")
        yard = make_yard(enterprise=plant, code=f"Y{n}")
        # a small post refreshes SW03 at once: not marked, must survive the drain
        ledger_entry_post(
            enterprise=plant,
            draft=draft(site, "generated", f"{n + 1}.000", waste_code="SW03"),
            today=TODAY,
        )
        ledger_entries_ingest(enterprise=plant, drafts=month_drafts(site, yard, BULK), today=TODAY)
        plants.append(plant)
    assert {e for e, _ in marks()} == {p.pk for p in plants}
    assert {w for _, w in marks()} == {"SW01", "SW02"}
    sw03 = list(StatCell.objects.filter(waste_id="SW03").order_by("enterprise_id").values())
    progress: list[int] = []
    result = stat_pending_drain(progress=lambda done, cells: progress.append(done))
    assert result.enterprises == 5
    assert progress == [2, 4, 5]
    assert marks() == set()
    assert list(StatCell.objects.filter(waste_id="SW03").order_by("enterprise_id").values()) == (
        sw03
    )
    drained = snapshot()
    stat_cells_rebuild()
    assert snapshot() == drained
    assert stat_cells_check().ok


@pytest.mark.django_db
def test_the_job_drains_the_marks(world: World, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest_bulk(world)
    assert jobs_work() >= 1
    job = Job.objects.get(kind=JOB_PENDING)
    assert (job.status, job.progress_done) == (JobStatus.DONE, 1)
    assert marks() == set()
    assert stats_pending_count(EVERYTHING) == 0
    assert stat_cells_check().ok


@pytest.mark.django_db
def test_small_writes_refresh_at_once(world: World) -> None:
    drafts = month_drafts(world.plant_site, world.plant_yard, SYNC_REFRESH_MAX_ENTRIES - 2)
    assert len(drafts) == SYNC_REFRESH_MAX_ENTRIES
    ledger_entries_ingest(enterprise=world.plant, drafts=drafts, today=TODAY)
    assert marks() == set()
    assert stat_cells_check().ok
    ledger_entries_ingest(
        enterprise=world.plant,
        drafts=[draft(world.plant_site, day=TODAY)] * (SYNC_REFRESH_MAX_ENTRIES + 1),
        today=TODAY,
    )
    assert marks() == {(world.plant.pk, "SW02")}


@pytest.mark.django_db
def test_post_while_pending_refreshes_its_waste_and_the_drain_completes(world: World) -> None:
    ingest_bulk(world)
    ledger_entry_post(
        enterprise=world.plant,
        draft=draft(world.plant_site, "generated", "1.000", waste_code="SW02", day=TODAY),
        today=TODAY,
    )
    # the post recomputed the whole SW02 series; SW01 is still pending
    assert set(
        StatCell.objects.filter(enterprise=world.plant).values_list("waste_id", flat=True)
    ) == {"SW02"}
    assert stats_pending_count(EVERYTHING) == 2
    stat_pending_drain()
    drained = snapshot()
    stat_cells_rebuild()
    assert snapshot() == drained


@pytest.mark.django_db
def test_stats_check_drains_first_or_reports_pending_apart(world: World) -> None:
    ingest_bulk(world)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("stats_check", "--no-drain", stdout=out, stderr=err)
    assert "待更新 / pending, 2:" in out.getvalue()
    assert marks() == {(world.plant.pk, "SW01"), (world.plant.pk, "SW02")}
    out = io.StringIO()
    call_command("stats_check", stdout=out)
    assert "drained pending: 1 enterprises, 12 cells" in out.getvalue()
    assert "一致 / consistent: 12 cells" in out.getvalue()
    assert "pending," not in out.getvalue()
    assert marks() == set()


@pytest.mark.django_db
def test_rebuild_clears_the_marks(world: World) -> None:
    ingest_bulk(world)
    result = stat_cells_rebuild()
    assert (result.cells, marks()) == (12, set())
    assert stat_cells_check().ok


@pytest.mark.django_db
def test_demo_load_starts_with_exact_statistics() -> None:
    out = io.StringIO()
    call_command(
        "demo_load", "--enterprises", "25", "--years", "1", "--end", "2025-03-31", stdout=out
    )
    assert "  statistics: " in out.getvalue()
    assert marks() == set()
    assert StatCell.objects.exists()
    assert stat_cells_check().ok


# --- PostgreSQL: a drain and writers of the same enterprise at the same time ----------


@pytest.fixture(scope="module")
def _truncate_allowed(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The PostgreSQL test's writers commit, so Django empties the tables with TRUNCATE
    after it; the append-only TRUNCATE trigger is lifted until the module ends (after
    that flush) and reinstalled then."""
    with django_db_blocker.unblock():
        truncate_guard(installed=False)
    yield
    with django_db_blocker.unblock():
        truncate_guard(installed=True)


class Worker(threading.Thread):
    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.crash: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # surfaced by the test
            self.crash = exc
        finally:
            connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("_truncate_allowed")
def test_writers_and_drains_at_once_end_exact() -> None:
    if not Region.objects.filter(code="150000").exists():
        regions_load(source_dir=REGIONS_DIR)
    plant: Enterprise = make_enterprise(
        name="并发统计电厂", region=Region.objects.get(code="150622")
    )
    site = make_site(enterprise=plant, code="BOILER1")
    yard = make_yard(enterprise=plant, code="YARD1")
    start = threading.Barrier(3)

    def ingests() -> None:
        start.wait(60)
        for round_ in range(4):
            batch = [
                draft(site, "generated", "3.000", day=dt.date(2024, 1 + round_, 1 + i % 28))
                for i in range(BULK)
            ]
            ledger_entries_ingest(enterprise=plant, drafts=batch, today=TODAY)

    def posts() -> None:
        start.wait(60)
        for i in range(6):
            ledger_entry_post(
                enterprise=plant,
                draft=draft(site, "storage_in", "1.000", to_site=yard, day=dt.date(2025, 1, 1 + i)),
                today=TODAY,
            )

    def drains() -> None:
        start.wait(60)
        for _ in range(8):
            stat_pending_drain()

    ledger_entry_post(enterprise=plant, draft=draft(site, "generated", "100.000"), today=TODAY)
    workers = [Worker(ingests), Worker(posts), Worker(drains)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert not any(w.is_alive() for w in workers)
    for worker in workers:
        if worker.crash is not None:
            raise worker.crash
    stat_pending_drain()
    assert marks() == set()
    drained = snapshot()
    assert stat_cells_check().ok
    stat_cells_rebuild()
    assert snapshot() == drained


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("_truncate_allowed")
def test_rebuild_command_vacuums_and_analyzes_the_cell_tables_on_postgresql() -> None:
    tables = [m._meta.db_table for m in CELL_MODELS]

    def counts() -> dict[str, tuple[int, int]]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT relname, vacuum_count, analyze_count FROM pg_stat_user_tables "
                "WHERE relname = ANY(%s)",
                [tables],
            )
            return {name: (vacuums, analyzes) for name, vacuums, analyzes in cursor.fetchall()}

    before = counts()
    out = io.StringIO()
    call_command("stats_rebuild", stdout=out)
    after = counts()
    assert sorted(after) == sorted(tables)
    assert {
        t: (after[t][0] - before[t][0], after[t][1] - before[t][1]) for t in tables
    } == dict.fromkeys(tables, (1, 1))
    assert "VACUUM ANALYZE" in out.getvalue()
    # inside a caller's transaction there is nothing to vacuum with: the rebuild alone
    with transaction.atomic():
        call_command("stats_rebuild", stdout=io.StringIO())
    assert counts() == after

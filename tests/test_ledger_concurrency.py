"""Two writers on one enterprise at the same time, on PostgreSQL (real row locks).

Each thread has its own database connection. They post to the same enterprise,
including withdrawals from one stock that together would overdraw it. Afterwards
the chain verifies, seqs are gap-free, stock equals the raw sum and never went
negative along the chain, and exactly the write that came second was refused with
the domain's stock error. Skipped on SQLite (see ``tests/conftest.py``), whose
IMMEDIATE transactions serialize all writers anyway.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections, transaction

from tests.conftest import REGIONS_DIR
from tests.factories import draft, make_enterprise, make_site, make_yard
from tests.ledger_tamper import truncate_guard
from xunhuan.core.errors import DomainError, InsufficientStock
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.imports import ImportResult, ledger_import_csv
from xunhuan.ledger.models import ChainHead, ImportBatch, LedgerEntry, StockBalance
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.ledger.verify import ledger_verify_all
from xunhuan.registry.models import Enterprise, Region, Site
from xunhuan.registry.services import regions_load

# The writers commit, so these are transactional tests: Django empties every table
# after each one. serialized_rollback brings back what the migrations loaded (the
# waste catalogue, industries) before each test; ``regions`` reloads the divisions.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Threads wait for each other, never for the clock: this only bounds a hung test.
WAIT = 60
REFUSED = (
    "库存不足：设施库存40.000吨，本次需减少60.000吨 / stock on hand 40.000 t is less than 60.000 t"
)


@pytest.fixture(autouse=True)
def regions(django_db_setup: None) -> None:
    if not Region.objects.filter(code="150000").exists():
        regions_load(source_dir=REGIONS_DIR)


@pytest.fixture(scope="module", autouse=True)
def _flush_allowed(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """These tests commit, so Django empties the tables with TRUNCATE after each one;
    the append-only TRUNCATE trigger is lifted for this module and reinstalled after."""
    with django_db_blocker.unblock():
        truncate_guard(installed=False)
    yield
    with django_db_blocker.unblock():
        truncate_guard(installed=True)


class Writer(threading.Thread):
    """Runs ``work`` on its own connection; keeps the domain error it raised, if any."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.error: DomainError | None = None
        self.crash: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except DomainError as exc:
            self.error = exc
        except BaseException as exc:  # surfaced by the test, not lost in the thread
            self.crash = exc
        finally:
            connections.close_all()


def finish(*writers: Writer) -> None:
    """Join every writer before reporting any failure, so no connection is left in a
    transaction when Django empties the tables."""
    for writer in writers:
        writer.join(WAIT)
    assert not any(w.is_alive() for w in writers), "a writer did not finish"
    for writer in writers:
        if writer.crash is not None:
            raise writer.crash


def setup_plant() -> tuple[Enterprise, Site, Site]:
    plant = make_enterprise(name="并发测试电厂")
    boiler = make_site(enterprise=plant, code="BOILER1")
    yard = make_yard(enterprise=plant, code="YARD1")
    ledger_entries_post(enterprise=plant, drafts=[draft(boiler, "generated", "100.000")])
    return plant, boiler, yard


def running_balances_never_negative(plant: Enterprise) -> bool:
    """Replay the chain in seq order (the order the lock let writers in)."""
    balance: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for kind, site_id, to_site_id, waste_id, quantity in (
        LedgerEntry.objects.filter(enterprise=plant)
        .order_by("seq")
        .values_list("kind", "site_id", "to_site_id", "waste_id", "quantity")
    ):
        if kind in ("generated", "received"):
            balance[(site_id, waste_id)] += quantity
        else:
            balance[(site_id, waste_id)] -= quantity
            if to_site_id is not None:
                balance[(to_site_id, waste_id)] += quantity
        if min(balance.values()) < 0:
            return False
    return True


def assert_ledger_consistent(plant: Enterprise, entries: int) -> None:
    seqs = list(
        LedgerEntry.objects.filter(enterprise=plant).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, entries + 1))
    assert ChainHead.objects.get(enterprise=plant).last_seq == entries
    assert chain_verify(enterprise_id=plant.pk) is None
    # ledger_verify_all also compares every StockBalance with the raw entries' sum.
    assert ledger_verify_all(credit_code=plant.credit_code).problems == []
    assert running_balances_never_negative(plant)


def withdraw(plant: Enterprise, boiler: Site, *, bulk: bool) -> Callable[[], object]:
    def work() -> object:
        if bulk:
            return ledger_entries_ingest(
                enterprise=plant,
                drafts=[draft(boiler, "self_utilized", "60.000", route="bricks")],
            )
        return ledger_entries_post(
            enterprise=plant,
            drafts=[draft(boiler, "self_disposed", "60.000", disposal_method="landfill")],
        )

    return work


def lock_waiters() -> int:
    """Backends of this test database waiting for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        (count,) = cursor.fetchone()
    return int(count)


@pytest.mark.parametrize("second_bulk", [False, True], ids=["post after post", "ingest after post"])
def test_second_writer_waits_for_the_first_and_is_refused(second_bulk: bool) -> None:
    """The first writer holds the chain lock mid-transaction until the second is seen
    blocked on it; the second then sees the first's withdrawal and is refused."""
    plant, boiler, _yard = setup_plant()
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with transaction.atomic():
            withdraw(plant, boiler, bulk=False)()
            holding.set()
            assert release.wait(WAIT)

    a = Writer(first)
    b = Writer(withdraw(plant, boiler, bulk=second_bulk))
    a.start()
    try:
        assert holding.wait(WAIT)
        b.start()
        while lock_waiters() == 0 and b.is_alive():
            time.sleep(0.01)
        blocked = b.is_alive()
    finally:
        release.set()
        finish(*(w for w in (a, b) if w.ident is not None))

    assert blocked, "the second writer should have waited on the first's chain lock"
    assert a.error is None
    assert isinstance(b.error, InsufficientStock)
    assert (b.error.message, b.error.field, b.error.row) == (REFUSED, "quantity", None)
    assert StockBalance.objects.get(site=boiler, waste="SW02").quantity == Decimal("40.000")
    assert_ledger_consistent(plant, entries=2)


def test_two_free_running_writers_keep_chain_and_stock_right() -> None:
    """Both threads post ten generation entries (SW03) as fast as they can, one through
    single posts and one through bulk ingest, each withdrawing 60 t of the 100 t SW02
    midway: exactly one withdrawal is refused, whichever came second."""
    plant, boiler, yard = setup_plant()
    start = threading.Barrier(2, timeout=WAIT)

    def writer(bulk: bool) -> Callable[[], None]:
        def work() -> None:
            start.wait()
            for i in range(10):
                generated = [draft(boiler, "generated", "1.000", waste_code="SW03", note=f"{i}")]
                if bulk:
                    ledger_entries_ingest(enterprise=plant, drafts=generated)
                else:
                    ledger_entries_post(enterprise=plant, drafts=generated)
                if i == 4:
                    try:
                        withdraw(plant, boiler, bulk=bulk)()
                    except InsufficientStock as exc:
                        refusals.append(exc)

        return work

    refusals: list[InsufficientStock] = []
    threads = [Writer(writer(bulk=False)), Writer(writer(bulk=True))]
    for thread in threads:
        thread.start()
    finish(*threads)

    assert [t.error for t in threads] == [None, None]
    assert [(e.message, e.field, e.row) for e in refusals] == [(REFUSED, "quantity", None)]
    stock = dict(
        StockBalance.objects.filter(site__enterprise=plant).values_list("waste_id", "quantity")
    )
    assert stock == {"SW02": Decimal("40.000"), "SW03": Decimal("20.000")}
    assert not StockBalance.objects.filter(site=yard).exists()
    # 1 initial generation + 2 x 10 generations + the one withdrawal that went through.
    assert_ledger_consistent(plant, entries=22)


def test_the_same_file_imported_twice_at_once_is_imported_once() -> None:
    """The second import passes the "already imported?" check while the first is still
    uncommitted, then waits on the unique (enterprise, sha256) index; when the first
    commits it reports the file as already imported instead of crashing."""
    plant, _boiler, _yard = setup_plant()
    content = (
        "日期,类型,设施编码,废物代码,数量（吨）\n"
        "2025-03-01,generated,BOILER1,SW02,1.500\n"
        "2025-03-02,generated,BOILER1,SW03,2\n"
    ).encode()
    holding, release = threading.Event(), threading.Event()
    results: dict[str, ImportResult] = {}

    def first() -> None:
        with transaction.atomic():
            results["first"] = ledger_import_csv(
                enterprise=plant, content=content, filename="a.csv"
            )
            holding.set()
            assert release.wait(WAIT)

    def second() -> None:
        results["second"] = ledger_import_csv(enterprise=plant, content=content, filename="b.csv")

    a, b = Writer(first), Writer(second)
    a.start()
    try:
        assert holding.wait(WAIT)
        b.start()
        while lock_waiters() == 0 and b.is_alive():
            time.sleep(0.01)
        blocked = b.is_alive()
    finally:
        release.set()
        finish(*(w for w in (a, b) if w.ident is not None))

    assert blocked, "the second import should have waited on the first's uncommitted file"
    assert (results["first"].created, results["first"].already_imported) == (2, False)
    assert (results["second"].created, results["second"].already_imported) == (0, True)
    assert results["second"].errors == []
    assert ImportBatch.objects.get().filename == "a.csv"
    assert_ledger_consistent(plant, entries=3)

"""Document numbers under concurrent writers, on PostgreSQL (real row locks).

Several threads, each on its own connection, draft documents for generators of the
same county at the same time. Every number is given once and the sequence has no
gaps: numbers come from a locked sequence row, never from ``count()``. Skipped on
SQLite, whose IMMEDIATE transactions serialize all writers anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from tests.conftest import REGIONS_DIR
from tests.factories import make_enterprise, make_site, make_user, seat
from tests.ledger_tamper import truncate_guard
from xunhuan.accounts.models import Role
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.registry.models import Region, WasteCategory
from xunhuan.registry.services import regions_load
from xunhuan.transfers.models import Transfer, TransferNumberSequence
from xunhuan.transfers.services import LegDraft, LineDraft, transfer_create

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
THREADS = 4
EACH = 5
WAIT = 60  # bounds a hung test only; nothing here is timed


@pytest.fixture(autouse=True)
def regions(django_db_setup: None) -> None:
    if not Region.objects.filter(code="150000").exists():
        regions_load(source_dir=REGIONS_DIR)


@pytest.fixture(scope="module", autouse=True)
def _flush_allowed(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Django empties the tables with TRUNCATE after a transactional test; the ledger's
    append-only TRUNCATE trigger is lifted for this module and reinstalled after."""
    with django_db_blocker.unblock():
        truncate_guard(installed=False)
    yield
    with django_db_blocker.unblock():
        truncate_guard(installed=True)


def test_concurrent_drafts_get_unique_gap_free_numbers() -> None:
    carrier = make_enterprise(name="并发测试运输", is_generator=False, is_carrier=True)
    receiver = make_enterprise(name="并发测试建材", is_generator=False, is_utilizer=True)
    fly_ash = WasteCategory.objects.get(code="SW02")
    writers = []
    for index in range(THREADS):
        plant = make_enterprise(name=f"并发测试电厂{index}")
        site = make_site(enterprise=plant, code="B1")
        user = make_user(username=f"writer{index}")
        seat(user, enterprise=plant, role=Role.ADMIN)
        writers.append((plant, site, user))
    start = threading.Barrier(THREADS, timeout=WAIT)
    crashes: list[BaseException] = []

    def work(plant: Any, site: Any, user: Any) -> None:
        try:
            start.wait()
            for _ in range(EACH):
                transfer_create(
                    user=user,
                    generator=plant,
                    receiver=receiver,
                    purpose="utilization",
                    planned_route="cement",
                    legs=[LegDraft(carrier=carrier, mode="road")],
                    lines=[LineDraft(waste=fly_ash, source_site=site, declared=Decimal("1"))],
                )
        except BaseException as exc:  # reported by the main thread
            crashes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=w, daemon=True) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert crashes == []
    year = today_in_shanghai().year
    numbers = sorted(Transfer.objects.values_list("number", flat=True))
    assert numbers == [f"LD150622-{year}-{n:06d}" for n in range(1, THREADS * EACH + 1)]
    (sequence,) = TransferNumberSequence.objects.all()
    assert (sequence.region_id, sequence.year, sequence.last) == ("150622", year, THREADS * EACH)

"""Start-up of long-running processes: the start-up heap is frozen out of the cyclic
garbage collector's walks (ADR 0035), and only there."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from django.core.management import call_command

from xunhuan.core.runtime import startup_heap_freeze


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_startup_freeze_takes_live_objects_out_of_collections(thawed: None) -> None:
    before = gc.get_freeze_count()
    startup_heap_freeze()
    frozen = gc.get_freeze_count()
    assert frozen > before
    # what is created afterwards is collected as usual
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
    assert gc.get_freeze_count() == frozen


@pytest.mark.django_db
def test_job_worker_run_until_empty_does_not_freeze_the_callers_heap(thawed: None) -> None:
    # tests and cron call it in their own process, which keeps collecting its garbage
    call_command("jobs_work", until_empty=True)
    assert gc.get_freeze_count() == 0

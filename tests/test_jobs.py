"""Background jobs: enqueue once per target, claim in order, record progress and
errors, take over jobs whose worker died, purge old rows; the worker command."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.utils import timezone

from xunhuan.core.errors import ValidationFailed
from xunhuan.jobs import handlers
from xunhuan.jobs.handlers import Progress, job_handler_register
from xunhuan.jobs.models import Job, JobStatus
from xunhuan.jobs.selectors import job_latest
from xunhuan.jobs.services import (
    KEEP_FINISHED,
    MAX_ATTEMPTS,
    STALE_AFTER,
    job_claim_next,
    job_enqueue,
    job_run,
    jobs_purge,
    jobs_work,
)

pytestmark = pytest.mark.django_db
RAN: list[str] = []


def counting(job: Job, progress: Progress) -> None:
    progress(done=1, total=4, message="一")
    progress(done=3)
    RAN.append(job.target_id)


def refusing(job: Job, progress: Progress) -> None:
    progress(done=2, total=10)
    raise ValidationFailed("第2行数量无效 / bad quantity", field="quantity")


def crashing(job: Job, progress: Progress) -> None:
    raise RuntimeError("boom")


@pytest.fixture(autouse=True)
def _handlers() -> Iterator[None]:
    saved = dict(handlers._HANDLERS)
    job_handler_register("test.count", counting)
    job_handler_register("test.refuse", refusing)
    job_handler_register("test.crash", crashing)
    RAN.clear()
    yield
    handlers._HANDLERS.clear()
    handlers._HANDLERS.update(saved)


def test_enqueue_returns_the_pending_job_for_the_same_target() -> None:
    first = job_enqueue(kind="test.count", target_id=7)
    assert job_enqueue(kind="test.count", target_id="7") == first
    other = job_enqueue(kind="test.count", target_id=8)
    assert other != first
    assert Job.objects.count() == 2
    jobs_work()
    # Once finished, the same target may be queued again.
    assert job_enqueue(kind="test.count", target_id=7) != first


def test_jobs_run_oldest_first_and_record_progress() -> None:
    for target in ("a", "b", "c"):
        job_enqueue(kind="test.count", target_id=target)
    assert jobs_work(limit=2) == 2
    assert RAN == ["a", "b"]
    assert jobs_work() == 1
    assert RAN == ["a", "b", "c"]
    job = Job.objects.get(target_id="a")
    assert (job.status, job.progress_done, job.progress_total, job.message, job.attempts) == (
        JobStatus.DONE,
        4,
        4,
        "一",
        1,
    )
    assert job.percent == 100
    assert job.is_finished
    assert job_claim_next() is None


def test_a_refusal_is_stored_for_the_user() -> None:
    job = job_enqueue(kind="test.refuse", target_id=1)
    jobs_work()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.errors == [{"message": "第2行数量无效 / bad quantity"}]
    assert (job.progress_done, job.progress_total, job.percent) == (2, 10, 20)


def test_a_crash_is_stored_without_its_internals() -> None:
    job = job_enqueue(kind="test.crash", target_id=1)
    jobs_work()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.errors == [{"message": "任务出错，请联系管理员 / the job failed unexpectedly"}]


def test_unknown_kind_fails() -> None:
    job = job_enqueue(kind="test.nobody", target_id=1)
    claimed = job_claim_next()
    assert claimed == job
    job_run(job=claimed)
    job.refresh_from_db()
    assert job.errors == [{"message": "未知任务类型 test.nobody / unknown job kind"}]


def test_a_job_whose_worker_died_is_taken_over_then_given_up() -> None:
    job = job_enqueue(kind="test.count", target_id="z")
    now = timezone.now()
    claimed = job_claim_next(now=now)
    assert claimed is not None
    assert claimed.status == JobStatus.RUNNING
    # Another worker right after: the job is running and fresh, nothing to take.
    assert job_claim_next(now=now + STALE_AFTER / 2) is None
    later = now + STALE_AFTER * 2
    again = job_claim_next(now=later)
    assert again == job
    assert again is not None
    assert again.attempts == 2
    Job.objects.filter(pk=job.pk).update(attempts=MAX_ATTEMPTS, heartbeat_at=now)
    assert job_claim_next(now=later) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.errors == [{"message": "任务多次中断，已停止 / the job was abandoned too often"}]


def test_register_refuses_a_second_handler_for_a_kind() -> None:
    job_handler_register("test.count", counting)  # the same one again is fine
    with pytest.raises(ValueError, match="already has a handler"):
        job_handler_register("test.count", crashing)


def test_purge_keeps_recent_and_unfinished_jobs() -> None:
    old = job_enqueue(kind="test.count", target_id="old")
    recent = job_enqueue(kind="test.count", target_id="recent")
    queued = job_enqueue(kind="test.count", target_id="queued")
    jobs_work(limit=2)
    long_ago = timezone.now() - KEEP_FINISHED - dt.timedelta(days=1)
    Job.objects.filter(pk__in=[old.pk, queued.pk]).update(finished_at=long_ago)
    assert jobs_purge() == 1
    assert set(Job.objects.values_list("target_id", flat=True)) == {"recent", "queued"}
    assert job_latest(kind="test.count", target_id="recent") == recent


def test_worker_command_runs_until_empty() -> None:
    job_enqueue(kind="test.count", target_id="cmd")
    call_command("jobs_work", "--until-empty")
    assert RAN == ["cmd"]
    assert Job.objects.get().status == JobStatus.DONE

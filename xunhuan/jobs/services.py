"""Writes to the job table: enqueue, claim, run, purge. The worker command only loops over these."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from xunhuan.core.errors import DomainError
from xunhuan.jobs.handlers import job_handler_get
from xunhuan.jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)

# A running job whose worker has not reported for this long is taken to be abandoned.
STALE_AFTER = dt.timedelta(minutes=5)
# A job abandoned this many times is failed instead of claimed again: it probably kills its worker.
MAX_ATTEMPTS = 3
# Finished jobs are kept this long for the UI, then purged so the table stays bounded.
KEEP_FINISHED = dt.timedelta(days=30)


def job_enqueue(
    *, kind: str, target_id: str | int, created_by: AbstractBaseUser | None = None
) -> Job:
    """Queue a job of ``kind`` on ``target_id``, or return the one already queued or running.

    The row is the queue (the worker polls it), so enqueuing inside the caller's
    transaction is safe: the job becomes visible exactly when the caller's
    writes do.
    """
    target = str(target_id)
    with transaction.atomic():
        pending = (
            Job.objects.filter(
                kind=kind, target_id=target, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
            )
            .order_by("created_at")
            .first()
        )
        if pending is not None:
            return pending
        return Job.objects.create(
            kind=kind,
            target_id=target,
            created_by_id=created_by.pk if created_by is not None else None,
        )


def job_claim_next(*, now: dt.datetime | None = None) -> Job | None:
    """Mark the oldest runnable job as running and return it (None when there is nothing to do).

    Runnable: queued, or running with a stale heartbeat (its worker died). On
    PostgreSQL two workers skip each other's locked rows; SQLite's IMMEDIATE
    transactions let only one writer in at a time.
    """
    moment = now or timezone.now()
    stale = Q(status=JobStatus.RUNNING, heartbeat_at__lt=moment - STALE_AFTER)
    while True:
        with transaction.atomic():
            job = (
                Job.objects.select_for_update(skip_locked=True)
                .filter(Q(status=JobStatus.QUEUED) | stale)
                .order_by("created_at", "id")
                .first()
            )
            if job is None:
                return None
            if job.attempts >= MAX_ATTEMPTS:
                job.status = JobStatus.FAILED
                job.finished_at = moment
                job.errors = [
                    *job.errors,
                    {"message": "任务多次中断，已停止 / the job was abandoned too often"},
                ]
                job.save(update_fields=["status", "finished_at", "errors"])
                continue
            job.status = JobStatus.RUNNING
            job.attempts += 1
            job.started_at = job.heartbeat_at = moment
            job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at"])
            return job


class _Reporter:
    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, *, done: int, total: int | None = None, message: str = "") -> None:
        fields: dict[str, object] = {"progress_done": done, "heartbeat_at": timezone.now()}
        if total is not None:
            fields["progress_total"] = total
        if message:
            fields["message"] = message[:255]
        Job.objects.filter(pk=self.job.pk).update(**fields)
        self.job.progress_done = done
        if total is not None:
            self.job.progress_total = total


def job_run(*, job: Job) -> Job:
    """Run a claimed job's handler and record how it ended.

    A ``DomainError`` is the user's problem (a bad file, a refused write) and is
    stored as the job's error; anything else is logged and stored as a failure.
    Handlers write their own results (for example row errors) to their target.
    """
    handler = job_handler_get(job.kind)
    errors = list(job.errors)
    if handler is None:
        status = JobStatus.FAILED
        errors.append({"message": f"未知任务类型 {job.kind} / unknown job kind"})
    else:
        try:
            handler(job, _Reporter(job))
            status = JobStatus.DONE
        except DomainError as exc:
            status = JobStatus.FAILED
            errors.append({"message": exc.message})
        except Exception:
            logger.exception("job %s failed", job.public_id)
            status = JobStatus.FAILED
            errors.append({"message": "任务出错，请联系管理员 / the job failed unexpectedly"})
    job.refresh_from_db()
    job.status = status
    job.errors = errors
    job.finished_at = job.heartbeat_at = timezone.now()
    if status == JobStatus.DONE and job.progress_total:
        job.progress_done = job.progress_total
    job.save(update_fields=["status", "errors", "finished_at", "heartbeat_at", "progress_done"])
    return job


def jobs_work(*, limit: int | None = None) -> int:
    """Claim and run jobs until none is left (or ``limit`` ran); return how many ran."""
    ran = 0
    while limit is None or ran < limit:
        job = job_claim_next()
        if job is None:
            break
        job_run(job=job)
        ran += 1
    return ran


def jobs_purge(*, now: dt.datetime | None = None) -> int:
    """Delete jobs that finished more than ``KEEP_FINISHED`` ago; return how many."""
    cutoff = (now or timezone.now()) - KEEP_FINISHED
    deleted, _ = Job.objects.filter(
        status__in=[JobStatus.DONE, JobStatus.FAILED], finished_at__lt=cutoff
    ).delete()
    return deleted

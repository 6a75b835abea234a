"""Background runs: the incremental check after entries land, and the nightly full run.

``entries_posted`` arrives inside the ledger's writing transaction; the enterprise
is marked and the job queued only once that transaction commits, so a rolled-back
post triggers nothing and the write itself pays no extra query. One job
(``compliance.pending``) drains every marked enterprise, however many posts
marked them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from xunhuan.compliance.models import PendingCheck
from xunhuan.compliance.services import compliance_run
from xunhuan.jobs.handlers import Progress, job_handler_register
from xunhuan.jobs.models import Job
from xunhuan.jobs.services import job_enqueue

JOB_PENDING = "compliance.pending"
JOB_FULL = "compliance.full"
ALL_REGIONS = "all"


def _mark(enterprise_id: int) -> None:
    PendingCheck.objects.bulk_create(
        [PendingCheck(enterprise_id=enterprise_id)], ignore_conflicts=True
    )
    job_enqueue(kind=JOB_PENDING, target_id="pending")


def on_entries_posted(sender: Any, *, enterprise_id: int, **kwargs: Any) -> None:
    """Receiver of ``xunhuan.ledger.signals.entries_posted`` (connected in apps.ready)."""
    transaction.on_commit(lambda: _mark(enterprise_id))


def pending_job(job: Job, progress: Progress) -> None:
    """Check every marked enterprise; marks made while this runs are taken in the next
    round of the loop, so none is left behind when the job ends."""
    done = 0
    while True:
        with transaction.atomic():
            ids = list(
                PendingCheck.objects.select_for_update().values_list("enterprise_id", flat=True)
            )
            if not ids:
                return
            PendingCheck.objects.filter(enterprise_id__in=ids).delete()
            compliance_run(enterprise_ids=ids)
        done += len(ids)
        progress(done=done, total=done, message=f"已复查 {done} 家单位 / {done} enterprises")


def full_job(job: Job, progress: Progress) -> None:
    """The nightly run of every rule over a region (``target_id``: code or ``all``)."""
    region = None if job.target_id == ALL_REGIONS else job.target_id
    compliance_run(
        region_code=region,
        progress=lambda done, total, rule_id: progress(
            done=done, total=total, message=f"{rule_id} ({done}/{total})"
        ),
    )


def compliance_full_enqueue(*, region_code: str | None = None) -> Job:
    """Queue the full run (the nightly scheduler and ``compliance_run --queue`` call this)."""
    return job_enqueue(kind=JOB_FULL, target_id=region_code or ALL_REGIONS)


def register() -> None:
    job_handler_register(JOB_PENDING, pending_job)
    job_handler_register(JOB_FULL, full_job)

"""Reads of the job table for the pages that show progress."""

from __future__ import annotations

from xunhuan.jobs.models import Job


def job_latest(*, kind: str, target_id: str | int) -> Job | None:
    """The most recent job of ``kind`` on ``target_id`` (callers check access to the target)."""
    return (
        Job.objects.filter(kind=kind, target_id=str(target_id))
        .order_by("-created_at", "-id")
        .first()
    )

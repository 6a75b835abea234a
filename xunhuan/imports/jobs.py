"""The background jobs of workbook imports: thin handlers that take a session id."""

from __future__ import annotations

from xunhuan.imports.models import ImportSession, SessionStatus
from xunhuan.imports.services import (
    JOB_CHECK,
    JOB_COMMIT,
    import_session_check,
    import_session_commit,
)
from xunhuan.jobs.handlers import Progress, job_handler_register
from xunhuan.jobs.models import Job


def _session(job: Job) -> ImportSession:
    return ImportSession.objects.select_related("enterprise").get(pk=int(job.target_id))


def check_job(job: Job, progress: Progress) -> None:
    session = _session(job)
    if session.status == SessionStatus.CHECKING:
        import_session_check(session=session, progress=progress)


def commit_job(job: Job, progress: Progress) -> None:
    session = _session(job)
    import_session_commit(session=session, recorded_by=job.created_by, progress=progress)


def register() -> None:
    job_handler_register(JOB_CHECK, check_job)
    job_handler_register(JOB_COMMIT, commit_job)

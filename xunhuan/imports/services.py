"""Workbook imports: check (a full dry run) and commit, all or nothing, through the
CSV import's row checks (``xunhuan.ledger.imports``) and the ledger's bulk ingest.

Small workbooks are handled inside the request; large ones by a background job
(``xunhuan.jobs``) that takes the session's id, so the page can be left and the
progress found again later. Every step can run twice without changing more
than the first run did: a committed workbook's rows are recognized by their
content hash (``ImportBatch.sha256``) and never booked again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from xunhuan.core.errors import Conflict, DomainError, ValidationFailed
from xunhuan.imports.models import ImportSession, SessionStatus
from xunhuan.imports.sheets import SHEETS
from xunhuan.imports.workbook import CellError, SheetRow, workbook_rows
from xunhuan.jobs.handlers import Progress
from xunhuan.jobs.models import Job
from xunhuan.jobs.services import job_enqueue
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.imports import COLUMNS, RowLookups, row_draft_parse
from xunhuan.ledger.models import ImportBatch
from xunhuan.ledger.rules import EntryDraft, validate_draft
from xunhuan.ledger.services import chain_lock, ledger_import_audit, today_in_shanghai
from xunhuan.registry.models import Enterprise

JOB_CHECK = "imports.check"
JOB_COMMIT = "imports.commit"
# Up to this size a workbook is checked and committed within the request (about
# 1,700 rows: ~30 bytes a row zipped, ~1,200 rows/s measured by bench/web.py);
# larger ones go to a background job.
INLINE_MAX_BYTES = 50_000
MAX_UPLOAD_BYTES = 50_000_000
# Errors kept on the session for the page; the count says how many there were.
MAX_ERRORS = 500
# Uploads older than this are deleted when the enterprise uploads again, so the session
# table stays bounded (what was booked lives on in the ledger and its ImportBatch).
KEEP_SESSIONS = dt.timedelta(days=90)
SHEET_ORDER = {sheet.name: index for index, sheet in enumerate(SHEETS)}
# The CSV import names a column by its Chinese header, or "中文/english": back to the field.
FIELD_BY_LABEL = {
    **{zh: name for name, (zh, _en) in COLUMNS.items()},
    **{en: name for name, (_zh, en) in COLUMNS.items()},
    **{f"{zh}/{en}": name for name, (zh, en) in COLUMNS.items()},
}

ReportProgress = Callable[[int, int], None]


@dataclass
class WorkbookCheck:
    drafts: list[EntryDraft] = field(default_factory=list)
    places: list[SheetRow] = field(default_factory=list)  # where each draft came from
    errors: list[CellError] = field(default_factory=list)
    digest: str = ""
    row_count: int = 0


def _error_at(place: SheetRow, field_name: str | None, message: str) -> CellError:
    column = next((c for c in place.sheet.columns if c.field == field_name), None)
    if column is None:
        # A field this sheet has no column for (e.g. "kind" on a one-kind sheet).
        return CellError(place.sheet.name, place.row, field_name or "-", message)
    return CellError(
        place.sheet.name,
        place.row,
        column.header,
        message,
        place.letters.get(field_name or "", ""),
    )


def _digest(rows: list[SheetRow]) -> str:
    canonical = [[row.sheet.name, sorted(row.cells.items())] for row in rows]
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def workbook_check(
    *,
    enterprise: Enterprise,
    content: bytes,
    today: dt.date,
    progress: ReportProgress | None = None,
) -> WorkbookCheck:
    """Read a workbook and check every row with the CSV import's checks and the
    ledger rules; return the drafts in booking order (by date, then table), or errors."""
    read = workbook_rows(content, progress=progress)
    check = WorkbookCheck(errors=list(read.errors), row_count=len(read.rows))
    if not read.rows:
        if not check.errors:
            check.errors.append(CellError("-", 0, "-", "没有数据行 / no data rows"))
        return check
    check.digest = _digest(read.rows)
    lookups = RowLookups(enterprise)
    good: list[tuple[EntryDraft, SheetRow]] = []
    for place in read.rows:
        draft, row_errors = row_draft_parse(place.cells, lookups, place.row)
        for error in row_errors:
            check.errors.append(
                _error_at(place, FIELD_BY_LABEL.get(error.column, error.column), error.message)
            )
        if draft is None or row_errors:
            continue
        try:
            good.append((validate_draft(enterprise, draft, today=today), place))
        except DomainError as exc:
            check.errors.append(_error_at(place, exc.field, exc.message))
    # Booking order: a day's generation and receipts before that day's storage and use,
    # so stock is there when a later table takes from it.
    good.sort(key=lambda pair: (pair[0].occurred_on, SHEET_ORDER[pair[1].sheet.name], pair[1].row))
    check.drafts = [draft for draft, _place in good]
    check.places = [place for _draft, place in good]
    return check


@dataclass
class IngestOutcome:
    created: int = 0
    errors: list[CellError] = field(default_factory=list)
    batch: ImportBatch | None = None
    duplicate: bool = False


def workbook_ingest(
    *,
    enterprise: Enterprise,
    check: WorkbookCheck,
    filename: str,
    recorded_by: AbstractBaseUser | None,
    today: dt.date,
    dry_run: bool,
) -> IngestOutcome:
    """Book a checked workbook through ``ledger_entries_ingest``, all or nothing.

    The stock checks happen there, under the enterprise's chain lock, so a dry run
    goes all the way and rolls back. Rows already booked from a workbook with the
    same content are recognized and nothing is booked again.
    """
    outcome = IngestOutcome()
    with transaction.atomic():
        # Taken first so two commits of the same workbook cannot both miss the batch.
        chain_lock(enterprise)
        existing = ImportBatch.objects.filter(enterprise=enterprise, sha256=check.digest).first()
        if existing is not None:
            outcome.batch, outcome.duplicate = existing, True
            return outcome
        batch = ImportBatch.objects.create(
            enterprise=enterprise,
            sha256=check.digest,
            filename=filename[:255],
            row_count=len(check.drafts),
            created_by_id=recorded_by.pk if recorded_by is not None else None,
        )
        try:
            outcome.created = ledger_entries_ingest(
                enterprise=enterprise,
                drafts=check.drafts,
                recorded_by=recorded_by,
                import_batch=batch,
                today=today,
            )
        except DomainError as exc:
            transaction.set_rollback(True)
            outcome.created = 0
            place = check.places[(exc.row or 1) - 1]
            outcome.errors.append(_error_at(place, exc.field, exc.message))
            return outcome
        # One audit event for the workbook, in its transaction (a dry run rolls it back).
        ledger_import_audit(
            enterprise=enterprise, batch=batch, created=outcome.created, recorded_by=recorded_by
        )
        if dry_run:
            transaction.set_rollback(True)
            return outcome
        outcome.batch = batch
    return outcome


def import_session_create(
    *,
    enterprise: Enterprise,
    filename: str,
    content: bytes,
    created_by: AbstractBaseUser | None = None,
) -> ImportSession:
    """Keep an uploaded workbook for checking. Nothing is read or booked yet.

    The enterprise's sessions older than ``KEEP_SESSIONS`` are deleted first."""
    import_sessions_purge(enterprise=enterprise)
    if not content:
        raise ValidationFailed("文件为空 / the file is empty", field="file")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            f"文件超过{MAX_UPLOAD_BYTES // 1_000_000}MB / the file is too large", field="file"
        )
    return ImportSession.objects.create(
        enterprise=enterprise,
        filename=filename[:255],
        content=content,
        size=len(content),
        created_by_id=created_by.pk if created_by is not None else None,
    )


def import_sessions_purge(*, enterprise: Enterprise, now: dt.datetime | None = None) -> int:
    """Delete the enterprise's upload sessions older than ``KEEP_SESSIONS``; return how many."""
    cutoff = (now or timezone.now()) - KEEP_SESSIONS
    deleted, _ = ImportSession.objects.filter(enterprise=enterprise, created_at__lt=cutoff).delete()
    return deleted


def _store_errors(session: ImportSession, errors: list[CellError]) -> None:
    session.errors = [e.as_dict() for e in errors[:MAX_ERRORS]]
    session.error_count = len(errors)


def _reporter(progress: Progress | None, message: str) -> ReportProgress | None:
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        progress(done=done, total=total, message=message)

    return report


def import_session_check(
    *, session: ImportSession, progress: Progress | None = None, today: dt.date | None = None
) -> ImportSession:
    """Dry-run a session's workbook: every check a commit makes, nothing booked.

    Ends CHECKED (ready to commit), INVALID (errors stored by sheet, row and
    column) or DUPLICATE (the same rows were imported before).
    """
    if session.status in (SessionStatus.COMMITTED, SessionStatus.DUPLICATE):
        return session
    day = today or today_in_shanghai()
    enterprise = session.enterprise
    check = workbook_check(
        enterprise=enterprise,
        content=bytes(session.content),
        today=day,
        progress=_reporter(progress, "检查中 / checking"),
    )
    session.row_count = check.row_count
    session.content_sha256 = check.digest
    errors = check.errors
    status = SessionStatus.INVALID
    if not errors:
        if progress is not None:
            progress(done=check.row_count, message="核对库存 / checking stock")
        outcome = workbook_ingest(
            enterprise=enterprise,
            check=check,
            filename=session.filename,
            recorded_by=None,
            today=day,
            dry_run=True,
        )
        errors = outcome.errors
        if outcome.duplicate:
            status = SessionStatus.DUPLICATE
            session.batch = outcome.batch
            session.content = b""
        elif not errors:
            status = SessionStatus.CHECKED
    session.status = status
    _store_errors(session, errors)
    session.save()
    return session


def import_session_commit(
    *,
    session: ImportSession,
    recorded_by: AbstractBaseUser | None,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> ImportSession:
    """Book a checked session's rows, all or nothing; a second commit changes nothing.

    The workbook is checked again first: stock or the registry may have changed
    since the dry run, and the file, not the earlier result, is what is booked.
    """
    if session.status in (SessionStatus.COMMITTED, SessionStatus.DUPLICATE):
        return session
    if session.status not in (SessionStatus.CHECKED, SessionStatus.COMMITTING):
        raise Conflict(
            "须先试导入并通过检查 / run the check first and fix every error", field="session"
        )
    day = today or today_in_shanghai()
    check = workbook_check(
        enterprise=session.enterprise,
        content=bytes(session.content),
        today=day,
        progress=_reporter(progress, "检查中 / checking"),
    )
    errors = check.errors
    outcome = IngestOutcome()
    if not errors:
        if progress is not None:
            progress(done=check.row_count, message="写入台账 / booking")
        outcome = workbook_ingest(
            enterprise=session.enterprise,
            check=check,
            filename=session.filename,
            recorded_by=recorded_by,
            today=day,
            dry_run=False,
        )
        errors = outcome.errors
    if errors:
        session.status = SessionStatus.INVALID
    else:
        session.status = SessionStatus.DUPLICATE if outcome.duplicate else SessionStatus.COMMITTED
        session.batch = outcome.batch
        session.created_entries = outcome.created
        # Booked: the entries and their batch are the record now, not the upload.
        session.content = b""
    _store_errors(session, errors)
    session.save()
    return session


def import_session_check_start(
    *, session: ImportSession, user: AbstractBaseUser | None
) -> Job | None:
    """Check now if the workbook is small, else queue a job; return the job if queued."""
    if session.size <= INLINE_MAX_BYTES:
        import_session_check(session=session)
        return None
    with transaction.atomic():
        session.status = SessionStatus.CHECKING
        session.save(update_fields=["status", "updated_at"])
        return job_enqueue(kind=JOB_CHECK, target_id=session.pk, created_by=user)


def import_session_commit_start(
    *, session: ImportSession, user: AbstractBaseUser | None
) -> Job | None:
    """Commit now if the workbook is small, else queue a job; return the job if queued."""
    if session.status in (SessionStatus.COMMITTED, SessionStatus.DUPLICATE):
        return None
    if session.status != SessionStatus.CHECKED:
        raise Conflict(
            "须先试导入并通过检查 / run the check first and fix every error", field="session"
        )
    if session.size <= INLINE_MAX_BYTES:
        import_session_commit(session=session, recorded_by=user)
        return None
    with transaction.atomic():
        session.status = SessionStatus.COMMITTING
        session.save(update_fields=["status", "updated_at"])
        return job_enqueue(kind=JOB_COMMIT, target_id=session.pk, created_by=user)

"""Statistics cells that are behind the ledger: the marks a bulk ingest leaves (ADR 0013).

A small write (a form post, a correction, a transfer signature: at most
``SYNC_REFRESH_MAX_ENTRIES`` entries) still recomputes its cells inside the
ledger's transaction, so the common case shows fresh figures at once. A larger
one (CSV and workbook imports, the demo, the benchmark) only marks each
(enterprise, waste) it touched, with one set-based ``INSERT … SELECT … ON
CONFLICT DO NOTHING`` in the same transaction, and queues the job
``statistics.pending`` once it commits. The job
(``services.stat_pending_drain``) recomputes each marked enterprise under its
chain lock and deletes its marks in the same transaction.

This module does not import ``services``: the receiver there calls it.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from xunhuan.jobs.services import job_enqueue
from xunhuan.ledger.models import LedgerEntry
from xunhuan.statistics.models import StatPending
from xunhuan.statistics.selectors import StatScope

JOB_PENDING = "statistics.pending"
# Writes of at most this many entries refresh their cells synchronously. A refresh
# costs about the same whatever the write's size (it recomputes the touched wastes'
# whole series), so it is the large writes that gain from deferring; every write
# the web forms, the API's single posts and the transfer steps make stays below.
SYNC_REFRESH_MAX_ENTRIES = 50


def stat_pending_mark(*, enterprise_id: int, seq_from: int, seq_to: int) -> None:
    """Mark every (enterprise, waste) that entries ``seq_from``..``seq_to`` touched, inside
    the caller's (the ledger's) transaction: one statement for the whole batch."""
    marks = StatPending._meta.db_table
    entries = LedgerEntry._meta.db_table
    moment = timezone.now()
    marked_at = connection.ops.adapt_datetimefield_value(moment)
    with connection.cursor() as cursor:
        # The WHERE clause also keeps SQLite's parser from reading ON CONFLICT as a join.
        cursor.execute(
            f"INSERT INTO {marks} (enterprise_id, waste_id, marked_at) "  # noqa: S608 - fixed names
            f"SELECT DISTINCT enterprise_id, waste_id, %s FROM {entries} "
            "WHERE enterprise_id = %s AND seq >= %s AND seq <= %s "
            "ON CONFLICT (enterprise_id, waste_id) DO NOTHING",
            [marked_at, enterprise_id, seq_from, seq_to],
        )


def stat_pending_enqueue() -> None:
    """Queue the job that works the marks off (the job table keeps one queued or running)."""
    job_enqueue(kind=JOB_PENDING, target_id="pending")


def stats_pending_count(scope: StatScope) -> int:
    """How many (enterprise, waste) series in ``scope`` are still catching up with their
    ledger (0 when the figures are exact). One indexed count; readers show a notice."""
    marks = StatPending.objects.all()
    if scope.paths is not None:
        visible = Q(pk__in=[])
        for path in scope.paths:
            visible |= Q(enterprise__region__path__startswith=path)
        if scope.enterprise_ids:
            visible |= Q(enterprise_id__in=scope.enterprise_ids)
        marks = marks.filter(visible)
    return marks.count()

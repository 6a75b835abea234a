"""Signals the ledger sends so that layers above it (statistics) can follow its writes
without the ledger importing them.

``entries_posted`` is sent inside the writing transaction, after the entries and
the stock are written and before commit, so a receiver's own writes (the
statistics' pre-aggregates) commit or roll back together with the entries.
Receivers must not queue side effects here; use ``transaction.on_commit``.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with ``enterprise_id`` (int), ``seq_from`` and ``seq_to`` (the inclusive range
# of the chain sequence numbers just appended to that enterprise's ledger).
entries_posted = Signal()


def entries_posted_send(*, enterprise_id: int, seq_from: int, seq_to: int) -> None:
    """Tell receivers that entries ``seq_from``..``seq_to`` of the enterprise were appended."""
    if seq_to < seq_from:
        return
    entries_posted.send(
        sender=entries_posted_send, enterprise_id=enterprise_id, seq_from=seq_from, seq_to=seq_to
    )

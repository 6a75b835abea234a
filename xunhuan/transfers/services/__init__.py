"""Writes of transfer documents (联单): create, issue, collect, receive, complete, cancel.
Settling discrepancies and revisions are in ``xunhuan.transfers.revisions``.

Every step is one transaction that (1) locks the document row, (2) checks that the
step is the next one and that the user signs for the right party with the right
role, (3) writes the matching ledger entries through ``xunhuan.ledger.services``,
(4) appends the hash-chained signature and (5) the audit event. Either all of it
commits or none of it does, so ledger and transfers cannot disagree.

Lock order: the document first, then the ledger chain heads of the enterprises
whose ledgers the step writes, in primary-key order, so two documents between the
same enterprises in opposite directions cannot deadlock on PostgreSQL.

The package is split by concern (``base``: seats, configuration, inputs, locks and
audit snapshot; ``signing``: the signature chain; ``documents``: numbers and
drafting; ``lifecycle``: the signed steps). Callers import from here.
"""

from xunhuan.transfers.services.base import (
    OPEN_BEFORE_RECEIPT,
    TRANSPORT_SIGNERS,
    WRITERS,
    ZERO,
    CompletionLine,
    LegDraft,
    LineDraft,
    LinkRole,
    ReceiptLine,
    audit_transfer,
    check_plan,
    completion_days,
    correct_handed,
    lock_document,
    lock_ledgers,
    parse_tonnes,
    receipt_days,
    require_role,
    snapshot,
    status_error,
    tolerance_percent,
)
from xunhuan.transfers.services.documents import transfer_create
from xunhuan.transfers.services.lifecycle import (
    transfer_cancel,
    transfer_collect,
    transfer_complete,
    transfer_issue,
    transfer_receive,
)
from xunhuan.transfers.services.signing import sign, signature_fields

__all__ = [
    "OPEN_BEFORE_RECEIPT",
    "TRANSPORT_SIGNERS",
    "WRITERS",
    "ZERO",
    "CompletionLine",
    "LegDraft",
    "LineDraft",
    "LinkRole",
    "ReceiptLine",
    "audit_transfer",
    "check_plan",
    "completion_days",
    "correct_handed",
    "lock_document",
    "lock_ledgers",
    "parse_tonnes",
    "receipt_days",
    "require_role",
    "sign",
    "signature_fields",
    "snapshot",
    "status_error",
    "tolerance_percent",
    "transfer_cancel",
    "transfer_collect",
    "transfer_complete",
    "transfer_create",
    "transfer_issue",
    "transfer_receive",
]

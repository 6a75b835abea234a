"""What every transfer write shares: the seats that may sign, configuration, the
inputs of the services, the document lock and ledger lock order, the audit snapshot and
the check of a planned route or disposal method."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from xunhuan.accounts.models import Role
from xunhuan.accounts.selectors import roles_at
from xunhuan.audit.services import audit_record
from xunhuan.core.errors import Conflict, PermissionDenied, ValidationFailed
from xunhuan.core.units import QuantityError, format_tonnes, to_tonnes
from xunhuan.ledger.models import DisposalMethod, EntryKind, LedgerEntry, Purpose, UtilizationRoute
from xunhuan.ledger.rules import EntryDraft
from xunhuan.ledger.services import (
    chain_lock,
    ledger_entry_correct,
    today_in_shanghai,
)
from xunhuan.registry.models import Enterprise, Site, WasteCategory
from xunhuan.transfers.models import (
    Step,
    Transfer,
    TransferLedgerLink,
    TransferLine,
    TransferStatus,
)

WRITERS = frozenset({Role.ADMIN.value, Role.MEMBER.value})
# A driver's seat signs transport (collection) and nothing else.
TRANSPORT_SIGNERS = WRITERS | {Role.DRIVER.value}
OPEN_BEFORE_RECEIPT = (TransferStatus.ISSUED, TransferStatus.IN_TRANSIT)
ZERO = Decimal("0.000")
LinkRole = TransferLedgerLink.Role


# --- configuration ------------------------------------------------------------------


def tolerance_percent() -> Decimal:
    """Allowed difference between weighed and declared tonnes before a discrepancy opens."""
    return Decimal(str(getattr(settings, "XUNHUAN_TRANSFER_TOLERANCE_PERCENT", "2")))


def receipt_days() -> int:
    """Days from issue by which the receiver must sign receipt."""
    return int(getattr(settings, "XUNHUAN_TRANSFER_RECEIPT_DAYS", 7))


def completion_days() -> int:
    """Days from receipt by which the receiver must record utilization or disposal."""
    return int(getattr(settings, "XUNHUAN_TRANSFER_COMPLETION_DAYS", 30))


# --- inputs -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegDraft:
    carrier: Enterprise
    mode: str
    vehicle: str = ""


@dataclass(frozen=True, slots=True)
class LineDraft:
    waste: WasteCategory
    source_site: Site
    declared: Decimal


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    seq: int
    weighed: Decimal
    accepted: Decimal


@dataclass(frozen=True, slots=True)
class CompletionLine:
    seq: int
    route: str = ""
    disposal_method: str = ""


# --- helpers ------------------------------------------------------------------------


def parse_tonnes(value: Decimal | str | int, field: str) -> Decimal:
    try:
        return to_tonnes(value)
    except QuantityError as exc:
        raise ValidationFailed(f"数量无效：{exc} / invalid quantity", field=field) from exc


def require_role(
    user: AbstractBaseUser, enterprise: Enterprise, allowed: frozenset[str], what: str
) -> None:
    if not roles_at(user, enterprise) & allowed:
        raise PermissionDenied(f"无权以{enterprise.name}的名义{what} / no right to sign this step")


def lock_document(transfer: Transfer) -> Transfer:
    return (
        Transfer.objects.select_for_update()
        .select_related("generator", "receiver")
        .get(pk=transfer.pk)
    )


def lock_ledgers(*enterprises: Enterprise) -> None:
    """Take the ledger chain locks up front in primary-key order (see module docstring)."""
    for enterprise in sorted({e.pk: e for e in enterprises}.values(), key=lambda e: e.pk):
        chain_lock(enterprise)


def status_error(transfer: Transfer, step: Step) -> Conflict:
    """Signing a step that is not the document's next one (again, or out of order)."""
    status = TransferStatus(transfer.status)
    return Conflict(
        f"联单{transfer.number}当前状态为“{status.label}”，不能{step.label} / "
        f"document is {status.value}: cannot {step.value}",
        field="status",
    )


def snapshot(transfer: Transfer) -> dict[str, Any]:
    """The document's current state for the audit trail (text values only)."""
    return {
        "number": transfer.number,
        "status": transfer.status,
        "decision": transfer.decision,
        "planned_route": transfer.planned_route,
        "planned_disposal_method": transfer.planned_disposal_method,
        "note": transfer.note,
        "legs": [
            {"seq": leg.seq, "carrier": leg.carrier.credit_code, "collected_on": leg.collected_on}
            for leg in transfer.legs.select_related("carrier").order_by("seq")
        ],
        "lines": [
            {
                "seq": line.seq,
                "waste": line.waste_id,
                "declared": format_tonnes(line.declared),
                "weighed": opt_tonnes(line.weighed),
                "accepted": opt_tonnes(line.accepted),
                "refused": opt_tonnes(line.refused),
            }
            for line in transfer.lines.order_by("seq")
        ],
    }


def opt_tonnes(value: Decimal | None) -> str | None:
    return None if value is None else format_tonnes(value)


def link_entry(transfer: Transfer, line: TransferLine, entry: LedgerEntry, role: str) -> None:
    TransferLedgerLink.objects.create(transfer=transfer, line=line, entry=entry, role=role)


def audit_transfer(
    user: AbstractBaseUser,
    action: str,
    transfer: Transfer,
    enterprise: Enterprise,
    before: dict[str, Any] | None,
) -> None:
    audit_record(
        actor=user,
        action=action,
        object_type="transfer",
        object_id=transfer.number,
        enterprise=enterprise,
        before=before,
        after=snapshot(transfer),
    )


def handed_over_draft(transfer: Transfer, line: TransferLine, quantity: Decimal) -> EntryDraft:
    return EntryDraft(
        kind=EntryKind.HANDED_OVER.value,
        site=line.source_site,
        waste=line.waste,
        quantity=quantity,
        occurred_on=transfer.issued_on or today_in_shanghai(),
        counterparty=transfer.receiver,
        purpose=transfer.purpose,
        route=transfer.planned_route if transfer.purpose == Purpose.UTILIZATION else "",
        disposal_method=(
            transfer.planned_disposal_method if transfer.purpose == Purpose.DISPOSAL else ""
        ),
        batch_code=transfer.number,
        note=f"转移联单{transfer.number}",
    )


def correct_handed(
    transfer: Transfer,
    line: TransferLine,
    *,
    quantity: Decimal | None,
    reason: str,
    role: str,
    user: AbstractBaseUser,
    today: dt.date,
) -> None:
    """Replace (or with ``quantity=None`` reverse) the line's handed-over entry."""
    assert line.handed_entry is not None  # noqa: S101 - every issued line has one
    replacement = handed_over_draft(transfer, line, quantity) if quantity is not None else None
    reversal, new_entry = ledger_entry_correct(
        entry=line.handed_entry,
        reason=reason[:500],
        replacement=replacement,
        recorded_by=user,
        today=today,
    )
    link_entry(transfer, line, reversal, role)
    if new_entry is not None:
        link_entry(transfer, line, new_entry, role)
    line.handed_entry = new_entry
    line.save(update_fields=["handed_entry"])


def check_plan(purpose: str, route: str, method: str) -> None:
    if purpose == Purpose.UTILIZATION:
        if route not in UtilizationRoute.values:
            raise ValidationFailed(
                "利用须注明拟利用方式 / utilization needs a route", field="route"
            )
        if method:
            raise ValidationFailed(
                "利用联单不填写处置方式 / no disposal method on a utilization document",
                field="disposal_method",
            )
    elif purpose == Purpose.DISPOSAL:
        if method not in DisposalMethod.values:
            raise ValidationFailed(
                "处置须注明拟处置方式 / disposal needs a method", field="disposal_method"
            )
        if route:
            raise ValidationFailed(
                "处置联单不填写利用方式 / no route on a disposal document", field="route"
            )
    else:
        raise ValidationFailed(
            "去向用途须为利用或处置 / purpose must be utilization or disposal", field="purpose"
        )

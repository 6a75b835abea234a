"""Writes of transfer documents (联单): create, issue, collect, receive, complete, cancel,
settle a discrepancy, request and approve revisions.

Every step is one transaction that (1) locks the document row, (2) checks that the
step is the next one and that the user signs for the right party with the right
role, (3) writes the matching ledger entries through ``xunhuan.ledger.services``,
(4) appends the hash-chained signature and (5) the audit event. Either all of it
commits or none of it does, so ledger and transfers cannot disagree.

Lock order: the document first, then the ledger chain heads of the enterprises
whose ledgers the step writes, in primary-key order, so two documents between the
same enterprises in opposite directions cannot deadlock on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from xunhuan.accounts.models import Role
from xunhuan.accounts.selectors import roles_at
from xunhuan.audit.services import audit_record
from xunhuan.core.chain import GENESIS_HASH, canonical_bytes, entry_hash
from xunhuan.core.errors import Conflict, PermissionDenied, ValidationFailed
from xunhuan.core.units import QuantityError, format_tonnes, to_tonnes
from xunhuan.ledger.chain import timestamp_text
from xunhuan.ledger.models import DisposalMethod, EntryKind, LedgerEntry, Purpose, UtilizationRoute
from xunhuan.ledger.rules import EntryDraft
from xunhuan.ledger.services import (
    chain_lock,
    ledger_entries_post,
    ledger_entry_correct,
    today_in_shanghai,
)
from xunhuan.registry.models import Enterprise, Site, WasteCategory
from xunhuan.transfers.models import (
    Discrepancy,
    ReceiptDecision,
    Step,
    Transfer,
    TransferLedgerLink,
    TransferLeg,
    TransferLine,
    TransferNumberSequence,
    TransferSignature,
    TransferStatus,
    TransportMode,
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


def _require_role(
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
                "weighed": _opt(line.weighed),
                "accepted": _opt(line.accepted),
                "refused": _opt(line.refused),
            }
            for line in transfer.lines.order_by("seq")
        ],
    }


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else format_tonnes(value)


def sign(
    transfer: Transfer,
    *,
    step: Step,
    step_key: str,
    enterprise: Enterprise,
    user: AbstractBaseUser,
    payload: dict[str, str | None],
) -> TransferSignature:
    """Append a signature to the document's chain. The caller holds the document lock."""
    if TransferSignature.objects.filter(transfer=transfer, step_key=step_key).exists():
        raise Conflict(
            f"联单{transfer.number}的此环节已签署，不能重复签署 / "
            f"step {step_key} is already signed",
            field="step",
        )
    last = TransferSignature.objects.filter(transfer=transfer).order_by("-seq").first()
    signature = TransferSignature(
        transfer=transfer,
        seq=(last.seq + 1) if last else 1,
        step=step.value,
        step_key=step_key,
        enterprise=enterprise,
        signed_by_id=user.pk,
        signer_name=user.get_username(),
        signed_at=timezone.now(),
        payload=canonical_bytes(payload).decode(),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    signature.hash = entry_hash(signature.prev_hash, signature_fields(signature))
    try:
        # A savepoint: the unique constraint is the backstop if a racing writer got here
        # without the document lock (it cannot, but the error must stay a domain error).
        with transaction.atomic():
            signature.save()
    except IntegrityError as exc:
        raise Conflict(
            f"联单{transfer.number}的此环节已签署 / step {step_key} is already signed",
            field="step",
        ) from exc
    return signature


def signature_fields(signature: TransferSignature) -> dict[str, str | None]:
    """The canonical text fields a signature's hash covers."""
    return {
        "transfer": str(signature.transfer.public_id),
        "number": signature.transfer.number,
        "seq": str(signature.seq),
        "step": signature.step,
        "step_key": signature.step_key,
        "enterprise": str(signature.enterprise_id),
        "signed_by": str(signature.signed_by_id),
        "signer_name": signature.signer_name,
        "signed_at": timestamp_text(signature.signed_at),
        "payload": signature.payload,
    }


def _link(transfer: Transfer, line: TransferLine, entry: LedgerEntry, role: str) -> None:
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


def _handed_over_draft(transfer: Transfer, line: TransferLine, quantity: Decimal) -> EntryDraft:
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
    replacement = _handed_over_draft(transfer, line, quantity) if quantity is not None else None
    reversal, new_entry = ledger_entry_correct(
        entry=line.handed_entry,
        reason=reason[:500],
        replacement=replacement,
        recorded_by=user,
        today=today,
    )
    _link(transfer, line, reversal, role)
    if new_entry is not None:
        _link(transfer, line, new_entry, role)
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


def _sequence_locked(enterprise: Enterprise, year: int) -> TransferNumberSequence:
    """The number sequence row of the generator's region and year, locked ``FOR UPDATE``
    (created in a savepoint on first use). Holding it serializes the region's creates."""
    region_id = enterprise.region_id
    row = (
        TransferNumberSequence.objects.select_for_update()
        .filter(region_id=region_id, year=year)
        .first()
    )
    if row is None:
        try:
            with transaction.atomic():
                TransferNumberSequence.objects.create(region_id=region_id, year=year, last=0)
        except IntegrityError:
            pass  # a concurrent writer created it; take its lock below
        row = TransferNumberSequence.objects.select_for_update().get(region_id=region_id, year=year)
    return row


def _next_number(row: TransferNumberSequence) -> str:
    """The next document number from a locked sequence row; never from ``count()``."""
    row.last += 1
    row.save(update_fields=["last"])
    return f"LD{row.region_id}-{row.year}-{row.last:06d}"


def _create_fingerprint(
    generator: Enterprise,
    receiver: Enterprise,
    plan: tuple[str, str, str, str],
    legs: Sequence[LegDraft],
    lines: Sequence[tuple[LineDraft, Decimal]],
) -> str:
    payload = {
        "generator": generator.pk,
        "receiver": receiver.pk,
        "plan": list(plan),
        "legs": [[leg.carrier.pk, leg.mode, leg.vehicle] for leg in legs],
        "lines": [[ln.waste.pk, ln.source_site.pk, format_tonnes(q)] for ln, q in lines],
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- services -----------------------------------------------------------------------


def transfer_create(
    *,
    user: AbstractBaseUser,
    generator: Enterprise,
    receiver: Enterprise,
    purpose: str,
    legs: Sequence[LegDraft],
    lines: Sequence[LineDraft],
    planned_route: str = "",
    planned_disposal_method: str = "",
    note: str = "",
    idempotency_key: str | None = None,
    today: dt.date | None = None,
) -> Transfer:
    """Draft a transfer document for the generator: receiver (a utilizer for
    utilization, a disposer for disposal), ordered carrier legs (road or rail), waste
    lines with declared tonnes leaving from the generator's sites, and the planned route
    or disposal method. The document gets its number now; nothing is signed or written
    to a ledger until it is issued. A retry with the same ``idempotency_key`` returns
    the document the first call drafted; the same key with other content is refused."""
    _require_role(user, generator, WRITERS, "开具联单")
    check_plan(purpose, planned_route, planned_disposal_method)
    if receiver.pk == generator.pk:
        raise ValidationFailed("接收单位不能是本单位 / receiver is the generator", field="receiver")
    if purpose == Purpose.UTILIZATION and not receiver.is_utilizer:
        raise ValidationFailed(
            f"接收单位{receiver.name}不是利用单位 / receiver is not a registered utilizer",
            field="receiver",
        )
    if purpose == Purpose.DISPOSAL and not receiver.is_disposer:
        raise ValidationFailed(
            f"接收单位{receiver.name}不是处置单位 / receiver is not a registered disposer",
            field="receiver",
        )
    if not legs:
        raise ValidationFailed("至少须有一个运输单位 / at least one carrier", field="legs")
    for leg in legs:
        if not leg.carrier.is_carrier:
            raise ValidationFailed(
                f"{leg.carrier.name}不是运输单位 / not a registered carrier", field="legs"
            )
        if leg.mode not in TransportMode.values:
            raise ValidationFailed(
                f"未知运输方式{leg.mode!r} / unknown transport mode", field="legs"
            )
    if not lines:
        raise ValidationFailed("至少须有一种废物 / at least one waste line", field="lines")
    checked = []
    for line in lines:
        declared = parse_tonnes(line.declared, "declared")
        if declared <= 0:
            raise ValidationFailed(
                "申报量须大于0 / declared tonnes must be positive", field="declared"
            )
        if line.source_site.enterprise_id != generator.pk:
            raise ValidationFailed(
                "来源设施不属于产生单位 / source site belongs to another enterprise",
                field="source_site",
            )
        if not line.waste.is_active:
            raise ValidationFailed(
                f"废物代码{line.waste.code}已停用 / waste code is retired", field="waste_code"
            )
        checked.append((line, declared))
    day = today or today_in_shanghai()
    key = (idempotency_key or "").strip()[:128]
    fingerprint = _create_fingerprint(
        generator, receiver, (purpose, planned_route, planned_disposal_method, note), legs, checked
    )
    with transaction.atomic():
        sequence = _sequence_locked(generator, day.year)
        if key:
            earlier = Transfer.objects.filter(generator=generator, idempotency_key=key).first()
            if earlier is not None:
                if earlier.request_fingerprint != fingerprint:
                    raise Conflict(
                        "同一幂等键已用于不同的请求 / "
                        "Idempotency-Key was used for a different request",
                        field="Idempotency-Key",
                    )
                return earlier
        transfer = Transfer.objects.create(
            number=_next_number(sequence),
            idempotency_key=key,
            request_fingerprint=fingerprint if key else "",
            generator=generator,
            receiver=receiver,
            purpose=purpose,
            planned_route=planned_route,
            planned_disposal_method=planned_disposal_method,
            note=note[:500],
            created_by_id=user.pk,
        )
        for seq, leg in enumerate(legs, start=1):
            TransferLeg.objects.create(
                transfer=transfer, seq=seq, carrier=leg.carrier, mode=leg.mode, vehicle=leg.vehicle
            )
        for seq, (line, declared) in enumerate(checked, start=1):
            TransferLine.objects.create(
                transfer=transfer,
                seq=seq,
                waste=line.waste,
                source_site=line.source_site,
                declared=declared,
            )
        audit_transfer(user, "transfer.create", transfer, generator, None)
    return transfer


def transfer_issue(
    *, transfer: Transfer, user: AbstractBaseUser, today: dt.date | None = None
) -> Transfer:
    """The generator signs and dispatches the document: each line is written to its
    ledger as handed over to the receiver (stock at the source site goes down), and
    the receipt deadline starts."""
    day = today or today_in_shanghai()
    with transaction.atomic():
        transfer = lock_document(transfer)
        if transfer.status != TransferStatus.DRAFT:
            raise status_error(transfer, Step.ISSUE)
        _require_role(user, transfer.generator, WRITERS, "开具联单")
        before = snapshot(transfer)
        lock_ledgers(transfer.generator)
        transfer.issued_on = day
        lines = list(transfer.lines.select_related("waste", "source_site").order_by("seq"))
        entries = ledger_entries_post(
            enterprise=transfer.generator,
            drafts=[_handed_over_draft(transfer, line, line.declared) for line in lines],
            recorded_by=user,
            today=day,
        )
        for line, entry in zip(lines, entries, strict=True):
            _link(transfer, line, entry, LinkRole.HANDED_OVER)
            line.handed_entry = entry
            line.save(update_fields=["handed_entry"])
        transfer.status = TransferStatus.ISSUED
        transfer.receipt_due = day + dt.timedelta(days=receipt_days())
        transfer.save(update_fields=["status", "issued_on", "receipt_due"])
        sign(
            transfer,
            step=Step.ISSUE,
            step_key="issue",
            enterprise=transfer.generator,
            user=user,
            payload={
                "issued_on": day.isoformat(),
                "lines": ";".join(
                    f"{line.seq}:{line.waste_id}:{format_tonnes(line.declared)}" for line in lines
                ),
            },
        )
        audit_transfer(user, "transfer.issue", transfer, transfer.generator, before)
    return transfer


def transfer_collect(
    *,
    transfer: Transfer,
    user: AbstractBaseUser,
    vehicle: str = "",
    today: dt.date | None = None,
) -> Transfer:
    """The next carrier in order signs that it has taken the load over (from the
    generator, or from the previous leg's carrier). A driver's seat may sign this."""
    day = today or today_in_shanghai()
    with transaction.atomic():
        transfer = lock_document(transfer)
        if transfer.status not in OPEN_BEFORE_RECEIPT:
            raise status_error(transfer, Step.COLLECT)
        legs = list(transfer.legs.select_related("carrier").order_by("seq"))
        pending = [leg for leg in legs if leg.collected_on is None]
        if not pending:
            raise Conflict(
                f"联单{transfer.number}的各运输环节均已签署 / every leg is already collected",
                field="step",
            )
        leg = pending[0]
        if not roles_at(user, leg.carrier) & TRANSPORT_SIGNERS:
            for later in pending[1:]:
                if roles_at(user, later.carrier) & TRANSPORT_SIGNERS:
                    raise Conflict(
                        f"须由第{leg.seq}段运输单位{leg.carrier.name}先接运 / "
                        f"leg {leg.seq} must be collected first",
                        field="step",
                    )
            for done in legs:
                if done.collected_on is not None and roles_at(user, done.carrier) & (
                    TRANSPORT_SIGNERS
                ):
                    raise Conflict(
                        f"第{done.seq}段已由本单位签署，不能重复签署 / "
                        f"leg {done.seq} is already signed",
                        field="step",
                    )
            raise PermissionDenied("无权签署此运输环节 / no right to sign this leg")
        before = snapshot(transfer)
        leg.collected_on = day
        if vehicle:
            leg.vehicle = vehicle[:32]
        leg.save(update_fields=["collected_on", "vehicle"])
        transfer.status = TransferStatus.IN_TRANSIT
        transfer.save(update_fields=["status"])
        sign(
            transfer,
            step=Step.COLLECT,
            step_key=f"collect:{leg.seq}",
            enterprise=leg.carrier,
            user=user,
            payload={
                "leg": str(leg.seq),
                "mode": leg.mode,
                "vehicle": leg.vehicle,
                "collected_on": day.isoformat(),
            },
        )
        audit_transfer(user, "transfer.collect", transfer, leg.carrier, before)
    return transfer


def _receipt_checks(
    transfer: Transfer, lines: list[TransferLine], receipts: Sequence[ReceiptLine]
) -> dict[int, tuple[Decimal, Decimal]]:
    by_seq: dict[int, tuple[Decimal, Decimal]] = {}
    for receipt in receipts:
        if receipt.seq in by_seq:
            raise ValidationFailed(f"第{receipt.seq}行重复 / line listed twice", field="lines")
        weighed = parse_tonnes(receipt.weighed, "weighed")
        accepted = parse_tonnes(receipt.accepted, "accepted")
        if weighed <= 0:
            raise ValidationFailed(
                "过磅量须大于0 / weighed tonnes must be positive", field="weighed"
            )
        if accepted < 0 or accepted > weighed:
            raise ValidationFailed(
                "接收量须在0与过磅量之间 / accepted must be between 0 and the weighed tonnes",
                field="accepted",
            )
        by_seq[receipt.seq] = (weighed, accepted)
    if set(by_seq) != {line.seq for line in lines}:
        raise ValidationFailed(
            "须逐行填写过磅量与接收量 / give weighed and accepted tonnes for every line",
            field="lines",
        )
    return by_seq


def transfer_receive(
    *,
    transfer: Transfer,
    user: AbstractBaseUser,
    receiver_site: Site,
    lines: Sequence[ReceiptLine],
    refusal_reason: str = "",
    today: dt.date | None = None,
) -> Transfer:
    """The receiver signs receipt: weighed and accepted tonnes per line.

    In the same transaction: the generator's handed-over entry is corrected to the
    weighed tonnes when they differ (the receiver's weighbridge measures what actually
    left); refused tonnes are written back to the generator's source site as received
    from the receiver (the load returns); accepted tonnes are written as received at
    the receiver's site. A weighed quantity outside the tolerance opens a discrepancy
    that both parties must settle before completion."""
    day = today or today_in_shanghai()
    reason = refusal_reason.strip()
    with transaction.atomic():
        transfer = lock_document(transfer)
        if transfer.status != TransferStatus.IN_TRANSIT:
            raise status_error(transfer, Step.RECEIVE)
        if transfer.legs.filter(collected_on__isnull=True).exists():
            raise Conflict(
                "尚有运输环节未签署接运 / a carrier has not collected its leg yet", field="step"
            )
        _require_role(user, transfer.receiver, WRITERS, "签收联单")
        if receiver_site.enterprise_id != transfer.receiver_id:
            raise ValidationFailed(
                "接收设施不属于接收单位 / site belongs to another enterprise", field="site"
            )
        lines_all = list(
            transfer.lines.select_related("waste", "source_site", "handed_entry").order_by("seq")
        )
        figures = _receipt_checks(transfer, lines_all, lines)
        refused_total = sum((w - a for w, a in figures.values()), ZERO)
        accepted_total = sum((a for _w, a in figures.values()), ZERO)
        if refused_total > 0 and not reason:
            raise ValidationFailed("拒收须说明原因 / refusal needs a reason", field="reason")
        before = snapshot(transfer)
        lock_ledgers(transfer.generator, transfer.receiver)
        tolerance = tolerance_percent()
        for line in lines_all:
            weighed, accepted = figures[line.seq]
            if weighed != line.declared:
                correct_handed(
                    transfer,
                    line,
                    quantity=weighed,
                    reason=(
                        f"联单{transfer.number}按接收单位过磅量{format_tonnes(weighed)}吨调整"
                        f" / adjusted to the receiver's weighbridge"
                    ),
                    role=LinkRole.WEIGHED,
                    user=user,
                    today=day,
                )
                if abs(weighed - line.declared) * 100 > tolerance * line.declared:
                    Discrepancy.objects.create(
                        line=line,
                        declared=line.declared,
                        weighed=weighed,
                        tolerance_percent=tolerance,
                    )
            line.weighed, line.accepted, line.refused = weighed, accepted, weighed - accepted
            line.save(update_fields=["weighed", "accepted", "refused"])
        returned = [line for line in lines_all if line.refused and line.refused > 0]
        if returned:
            entries = ledger_entries_post(
                enterprise=transfer.generator,
                drafts=[
                    EntryDraft(
                        kind=EntryKind.RECEIVED.value,
                        site=line.source_site,
                        waste=line.waste,
                        quantity=line.refused or ZERO,
                        occurred_on=day,
                        counterparty=transfer.receiver,
                        batch_code=transfer.number,
                        note=f"联单{transfer.number}拒收退回 / refused and returned",
                    )
                    for line in returned
                ],
                recorded_by=user,
                today=day,
            )
            for line, entry in zip(returned, entries, strict=True):
                _link(transfer, line, entry, LinkRole.RETURNED)
        kept = [line for line in lines_all if line.accepted and line.accepted > 0]
        if kept:
            entries = ledger_entries_post(
                enterprise=transfer.receiver,
                drafts=[
                    EntryDraft(
                        kind=EntryKind.RECEIVED.value,
                        site=receiver_site,
                        waste=line.waste,
                        quantity=line.accepted or ZERO,
                        occurred_on=day,
                        counterparty=transfer.generator,
                        batch_code=transfer.number,
                        note=f"转移联单{transfer.number}",
                    )
                    for line in kept
                ],
                recorded_by=user,
                today=day,
            )
            for line, entry in zip(kept, entries, strict=True):
                _link(transfer, line, entry, LinkRole.RECEIVED)
        if accepted_total == 0:
            decision = ReceiptDecision.REFUSED
        elif refused_total == 0:
            decision = ReceiptDecision.ACCEPTED
        else:
            decision = ReceiptDecision.PARTLY_ACCEPTED
        transfer.decision = decision
        transfer.refusal_reason = reason[:500]
        transfer.receiver_site = receiver_site
        transfer.status = TransferStatus.RECEIVED
        transfer.received_on = day
        # Nothing accepted, nothing left to utilize or dispose of: no completion deadline.
        transfer.completion_due = (
            day + dt.timedelta(days=completion_days()) if accepted_total > 0 else None
        )
        transfer.save(
            update_fields=[
                "decision",
                "refusal_reason",
                "receiver_site",
                "status",
                "received_on",
                "completion_due",
            ]
        )
        sign(
            transfer,
            step=Step.RECEIVE,
            step_key="receive",
            enterprise=transfer.receiver,
            user=user,
            payload={
                "received_on": day.isoformat(),
                "site": receiver_site.code,
                "decision": decision.value,
                "reason": reason,
                "lines": ";".join(
                    f"{line.seq}:{_opt(line.weighed)}:{_opt(line.accepted)}:{_opt(line.refused)}"
                    for line in lines_all
                ),
            },
        )
        audit_transfer(user, "transfer.receive", transfer, transfer.receiver, before)
    return transfer


def transfer_complete(
    *,
    transfer: Transfer,
    user: AbstractBaseUser,
    lines: Sequence[CompletionLine] = (),
    today: dt.date | None = None,
) -> Transfer:
    """The receiver records the final utilization (route) or disposal (method) of the
    accepted tonnes, written to its ledger as self-utilized or self-disposed at the
    receiving site. Lines not listed follow the document's plan."""
    day = today or today_in_shanghai()
    with transaction.atomic():
        transfer = lock_document(transfer)
        if transfer.status != TransferStatus.RECEIVED:
            raise status_error(transfer, Step.COMPLETE)
        _require_role(user, transfer.receiver, WRITERS, "确认利用/处置")
        if transfer.decision == ReceiptDecision.REFUSED:
            raise Conflict(
                "全部拒收的联单无需利用/处置 / everything was refused: nothing to complete",
                field="status",
            )
        lines_all = list(transfer.lines.select_related("waste").order_by("seq"))
        if Discrepancy.objects.filter(line__in=lines_all, settled_at__isnull=True).exists():
            raise Conflict(
                "磅差尚未经产生单位和接收单位双方确认 / the weight discrepancy is not settled",
                field="discrepancy",
            )
        chosen = {c.seq: c for c in lines}
        unknown = set(chosen) - {line.seq for line in lines_all}
        if unknown:
            raise ValidationFailed(f"联单无第{min(unknown)}行 / no such line", field="lines")
        before = snapshot(transfer)
        drafts, kept = [], []
        for line in lines_all:
            if not line.accepted:
                continue
            choice = chosen.get(line.seq, CompletionLine(line.seq))
            if transfer.purpose == Purpose.UTILIZATION:
                route = choice.route or transfer.planned_route
                check_plan(transfer.purpose, route, choice.disposal_method)
                line.final_route = route
                kind, method = EntryKind.SELF_UTILIZED.value, ""
            else:
                method = choice.disposal_method or transfer.planned_disposal_method
                check_plan(transfer.purpose, choice.route, method)
                line.final_disposal_method = method
                kind, route = EntryKind.SELF_DISPOSED.value, ""
            line.save(update_fields=["final_route", "final_disposal_method"])
            assert transfer.receiver_site is not None  # noqa: S101 - set at receipt
            drafts.append(
                EntryDraft(
                    kind=kind,
                    site=transfer.receiver_site,
                    waste=line.waste,
                    quantity=line.accepted,
                    occurred_on=day,
                    route=route,
                    disposal_method=method,
                    batch_code=transfer.number,
                    note=f"转移联单{transfer.number}",
                )
            )
            kept.append(line)
        lock_ledgers(transfer.receiver)
        entries = ledger_entries_post(
            enterprise=transfer.receiver, drafts=drafts, recorded_by=user, today=day
        )
        for line, entry in zip(kept, entries, strict=True):
            _link(transfer, line, entry, LinkRole.FINISHED)
        transfer.status = TransferStatus.COMPLETED
        transfer.completed_on = day
        transfer.save(update_fields=["status", "completed_on"])
        sign(
            transfer,
            step=Step.COMPLETE,
            step_key="complete",
            enterprise=transfer.receiver,
            user=user,
            payload={
                "completed_on": day.isoformat(),
                "lines": ";".join(
                    f"{line.seq}:{line.final_route or line.final_disposal_method}:"
                    f"{_opt(line.accepted)}"
                    for line in kept
                ),
            },
        )
        audit_transfer(user, "transfer.complete", transfer, transfer.receiver, before)
    return transfer


def transfer_cancel(
    *, transfer: Transfer, user: AbstractBaseUser, reason: str, today: dt.date | None = None
) -> Transfer:
    """The generator cancels a document that has not been received. If it was issued,
    each handed-over entry is reversed (stock returns to the source site)."""
    day = today or today_in_shanghai()
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("作废须说明原因 / cancellation needs a reason", field="reason")
    with transaction.atomic():
        transfer = lock_document(transfer)
        if transfer.status not in (TransferStatus.DRAFT, *OPEN_BEFORE_RECEIPT):
            raise Conflict(
                f"联单{transfer.number}已签收或已作废，不能作废 / "
                f"only a document not yet received can be cancelled ({transfer.status})",
                field="status",
            )
        _require_role(user, transfer.generator, WRITERS, "作废联单")
        before = snapshot(transfer)
        if transfer.status != TransferStatus.DRAFT:
            lock_ledgers(transfer.generator)
            for line in transfer.lines.select_related("handed_entry").order_by("seq"):
                correct_handed(
                    transfer,
                    line,
                    quantity=None,
                    reason=f"联单{transfer.number}作废：{reason} / document cancelled",
                    role=LinkRole.CANCELLED,
                    user=user,
                    today=day,
                )
        transfer.status = TransferStatus.CANCELLED
        transfer.cancel_reason = reason[:500]
        transfer.save(update_fields=["status", "cancel_reason"])
        sign(
            transfer,
            step=Step.CANCEL,
            step_key="cancel",
            enterprise=transfer.generator,
            user=user,
            payload={"reason": reason, "cancelled_on": day.isoformat()},
        )
        audit_transfer(user, "transfer.cancel", transfer, transfer.generator, before)
    return transfer

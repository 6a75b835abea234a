"""The signed steps after drafting: issue, collect (each leg in order), receive,
complete and cancel, each writing the matching ledger entries in its transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from xunhuan.accounts.selectors import roles_at
from xunhuan.core.errors import Conflict, PermissionDenied, ValidationFailed
from xunhuan.core.units import format_tonnes
from xunhuan.ledger.models import EntryKind, Purpose
from xunhuan.ledger.rules import EntryDraft
from xunhuan.ledger.services import (
    ledger_entries_post,
    today_in_shanghai,
)
from xunhuan.registry.models import Site
from xunhuan.transfers.models import (
    Discrepancy,
    ReceiptDecision,
    Step,
    Transfer,
    TransferLine,
    TransferStatus,
)
from xunhuan.transfers.services.base import (
    OPEN_BEFORE_RECEIPT,
    TRANSPORT_SIGNERS,
    WRITERS,
    ZERO,
    CompletionLine,
    LinkRole,
    ReceiptLine,
    audit_transfer,
    check_plan,
    completion_days,
    correct_handed,
    handed_over_draft,
    link_entry,
    lock_document,
    lock_ledgers,
    opt_tonnes,
    parse_tonnes,
    receipt_days,
    require_role,
    snapshot,
    status_error,
    tolerance_percent,
)
from xunhuan.transfers.services.signing import sign


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
        require_role(user, transfer.generator, WRITERS, "开具联单")
        before = snapshot(transfer)
        lock_ledgers(transfer.generator)
        transfer.issued_on = day
        lines = list(transfer.lines.select_related("waste", "source_site").order_by("seq"))
        entries = ledger_entries_post(
            enterprise=transfer.generator,
            drafts=[handed_over_draft(transfer, line, line.declared) for line in lines],
            recorded_by=user,
            today=day,
        )
        for line, entry in zip(lines, entries, strict=True):
            link_entry(transfer, line, entry, LinkRole.HANDED_OVER)
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
        require_role(user, transfer.receiver, WRITERS, "签收联单")
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
                link_entry(transfer, line, entry, LinkRole.RETURNED)
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
                link_entry(transfer, line, entry, LinkRole.RECEIVED)
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
                    f"{line.seq}:{opt_tonnes(line.weighed)}:{opt_tonnes(line.accepted)}:{opt_tonnes(line.refused)}"
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
        require_role(user, transfer.receiver, WRITERS, "确认利用/处置")
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
            link_entry(transfer, line, entry, LinkRole.FINISHED)
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
                    f"{opt_tonnes(line.accepted)}"
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
        require_role(user, transfer.generator, WRITERS, "作废联单")
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

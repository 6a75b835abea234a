"""Settling weight discrepancies and revising signed documents.

Both need every affected party: a discrepancy is settled when generator and receiver
have each signed; a revision takes effect when every party whose signed record it
touches has approved, and keeps the document's before and after for good. Same
transaction discipline as ``services``: document lock, ledger locks in key order,
signature and audit row with the change.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from xunhuan.accounts.selectors import roles_at
from xunhuan.audit.services import audit_record
from xunhuan.core.errors import Conflict, PermissionDenied, ValidationFailed
from xunhuan.core.units import format_tonnes
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.registry.models import Enterprise
from xunhuan.transfers.models import (
    Discrepancy,
    RevisionStatus,
    Step,
    Transfer,
    TransferRevision,
    TransferSignature,
    TransferStatus,
)
from xunhuan.transfers.services import (
    OPEN_BEFORE_RECEIPT,
    WRITERS,
    LinkRole,
    audit_transfer,
    check_plan,
    correct_handed,
    lock_document,
    lock_ledgers,
    parse_tonnes,
    sign,
    snapshot,
    status_error,
)


@dataclass(frozen=True, slots=True)
class RevisionChanges:
    """What a revision may change. ``None`` leaves a field as it is; ``declared`` maps
    line numbers to new declared tonnes (only before receipt)."""

    note: str | None = None
    planned_route: str | None = None
    planned_disposal_method: str | None = None
    declared: dict[int, Decimal] | None = None


def _party_for(
    user: AbstractBaseUser, parties: Iterable[Enterprise], signed_keys: set[str], prefix: str
) -> Enterprise | None:
    """The first party the user writes for that has not yet signed ``prefix:<code>``."""
    for party in parties:
        if roles_at(user, party) & WRITERS and f"{prefix}:{party.credit_code}" not in signed_keys:
            return party
    return None


def transfer_discrepancy_settle(
    *, transfer: Transfer, user: AbstractBaseUser, note: str, today: dt.date | None = None
) -> Transfer:
    """Generator or receiver signs its agreement to the weighed tonnes of the open
    discrepancies, with an explanation. When both have signed they are settled."""
    note = note.strip()
    if not note:
        raise ValidationFailed("须说明磅差原因 / explain the discrepancy", field="note")
    day = today or today_in_shanghai()
    with transaction.atomic():
        transfer = lock_document(transfer)
        open_rows = list(
            Discrepancy.objects.filter(line__transfer=transfer, settled_at__isnull=True)
        )
        if not open_rows:
            raise Conflict("没有待确认的磅差 / no open discrepancy", field="discrepancy")
        parties = [transfer.generator, transfer.receiver]
        if not any(roles_at(user, p) & WRITERS for p in parties):
            raise PermissionDenied("只有产生单位和接收单位可确认磅差 / only the two parties settle")
        signed = set(
            TransferSignature.objects.filter(transfer=transfer, step=Step.SETTLE).values_list(
                "step_key", flat=True
            )
        )
        party = _party_for(user, parties, signed, "settle")
        if party is None:
            raise Conflict("本单位已确认磅差 / already settled by this party", field="step")
        before = snapshot(transfer)
        sign(
            transfer,
            step=Step.SETTLE,
            step_key=f"settle:{party.credit_code}",
            enterprise=party,
            user=user,
            payload={"note": note, "settled_on": day.isoformat()},
        )
        signed.add(f"settle:{party.credit_code}")
        if all(f"settle:{p.credit_code}" in signed for p in parties):
            Discrepancy.objects.filter(pk__in=[d.pk for d in open_rows]).update(
                settled_at=timezone.now()
            )
        audit_transfer(user, "transfer.settle", transfer, party, before)
    return transfer


def _affected_parties(transfer: Transfer) -> list[Enterprise]:
    """Generator, carriers that have signed, and the receiver: everyone whose signed
    record (or whose coming receipt) a change touches."""
    parties = [transfer.generator]
    for leg in transfer.legs.select_related("carrier").order_by("seq"):
        if leg.collected_on is not None and leg.carrier not in parties:
            parties.append(leg.carrier)
    if transfer.receiver not in parties:
        parties.append(transfer.receiver)
    return parties


def _revision_values(transfer: Transfer, changes: RevisionChanges) -> tuple[dict[str, Any], ...]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if changes.note is not None and changes.note != transfer.note:
        before["note"], after["note"] = transfer.note, changes.note[:500]
    route = transfer.planned_route if changes.planned_route is None else changes.planned_route
    method = (
        transfer.planned_disposal_method
        if changes.planned_disposal_method is None
        else changes.planned_disposal_method
    )
    if (route, method) != (transfer.planned_route, transfer.planned_disposal_method):
        check_plan(transfer.purpose, route, method)
        before["planned_route"], after["planned_route"] = transfer.planned_route, route
        before["planned_disposal_method"] = transfer.planned_disposal_method
        after["planned_disposal_method"] = method
    if changes.declared:
        if transfer.status not in OPEN_BEFORE_RECEIPT:
            raise Conflict(
                "签收后不能更正申报量（过磅量为准）/ declared tonnes change only before receipt",
                field="declared",
            )
        lines = {line.seq: line for line in transfer.lines.all()}
        old, new = {}, {}
        for seq, value in sorted(changes.declared.items()):
            if seq not in lines:
                raise ValidationFailed(f"联单无第{seq}行 / no such line", field="declared")
            tonnes = parse_tonnes(value, "declared")
            if tonnes <= 0:
                raise ValidationFailed(
                    "申报量须大于0 / declared must be positive", field="declared"
                )
            if tonnes != lines[seq].declared:
                old[str(seq)] = format_tonnes(lines[seq].declared)
                new[str(seq)] = format_tonnes(tonnes)
        if new:
            before["declared"], after["declared"] = old, new
    if not after:
        raise ValidationFailed("更正内容与现状相同 / the revision changes nothing", field="changes")
    return before, after


def transfer_revision_request(
    *,
    transfer: Transfer,
    user: AbstractBaseUser,
    reason: str,
    changes: RevisionChanges,
    today: dt.date | None = None,
) -> TransferRevision:
    """A party asks to change a signed document. The request records both versions;
    it takes effect once every affected party has approved (the requester's own party
    approves by asking)."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("更正须说明原因 / a revision needs a reason", field="reason")
    day = today or today_in_shanghai()
    with transaction.atomic():
        transfer = lock_document(transfer)
        if transfer.status not in (*OPEN_BEFORE_RECEIPT, TransferStatus.RECEIVED):
            raise status_error(transfer, Step.REVISION_REQUEST)
        parties = _affected_parties(transfer)
        requester = next((p for p in parties if roles_at(user, p) & WRITERS), None)
        if requester is None:
            raise PermissionDenied("只有联单各方可申请更正 / only a party may request a revision")
        if transfer.revisions.filter(status=RevisionStatus.PENDING).exists():
            raise Conflict("已有待同意的更正申请 / a revision is already pending", field="step")
        before, after = _revision_values(transfer, changes)
        last = transfer.revisions.order_by("-seq").first()
        revision = TransferRevision.objects.create(
            transfer=transfer,
            seq=(last.seq + 1) if last else 1,
            requested_by_id=user.pk,
            requesting_enterprise=requester,
            reason=reason[:500],
            before=before,
            after=after,
            approvers=[p.credit_code for p in parties],
            status=RevisionStatus.PENDING,
        )
        sign(
            transfer,
            step=Step.REVISION_REQUEST,
            step_key=f"revision:{revision.seq}:{requester.credit_code}",
            enterprise=requester,
            user=user,
            payload={"reason": reason, "after": canonical_text(after), "on": day.isoformat()},
        )
        audit_record(
            actor=user,
            action="transfer.revision_request",
            object_type="transfer",
            object_id=transfer.number,
            enterprise=requester,
            before=before,
            after=after,
        )
        _apply_if_approved(transfer, revision, user, day)
    return revision


def canonical_text(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def transfer_revision_approve(
    *,
    transfer: Transfer,
    user: AbstractBaseUser,
    revision_seq: int,
    today: dt.date | None = None,
) -> TransferRevision:
    """An affected party approves a pending revision; the last approval applies it."""
    day = today or today_in_shanghai()
    with transaction.atomic():
        transfer = lock_document(transfer)
        revision = _pending_revision(transfer, revision_seq, Step.REVISION_APPROVE)
        approvers = list(Enterprise.objects.filter(credit_code__in=revision.approvers))
        if not any(roles_at(user, p) & WRITERS for p in approvers):
            raise PermissionDenied("只有受影响的各方可同意更正 / only an affected party approves")
        signed = set(
            TransferSignature.objects.filter(
                transfer=transfer, step_key__startswith=f"revision:{revision.seq}:"
            ).values_list("step_key", flat=True)
        )
        party = _party_for(user, approvers, signed, f"revision:{revision.seq}")
        if party is None:
            raise Conflict("本单位已同意该更正 / already approved by this party", field="step")
        sign(
            transfer,
            step=Step.REVISION_APPROVE,
            step_key=f"revision:{revision.seq}:{party.credit_code}",
            enterprise=party,
            user=user,
            payload={"revision": str(revision.seq), "on": day.isoformat()},
        )
        audit_record(
            actor=user,
            action="transfer.revision_approve",
            object_type="transfer",
            object_id=transfer.number,
            enterprise=party,
            before={"revision": revision.seq, "status": revision.status},
            after={"revision": revision.seq, "approved_by": party.credit_code},
        )
        _apply_if_approved(transfer, revision, user, day)
    return revision


def _pending_revision(transfer: Transfer, seq: int, step: Step) -> TransferRevision:
    """The document's revision ``seq``, which must still be pending (caller holds the lock).
    A closed one is refused with what happened to it, so a late or repeated click says
    why rather than failing silently."""
    revision = transfer.revisions.filter(seq=seq).first()
    if revision is None:
        raise ValidationFailed("更正申请不存在 / no such revision", field="revision")
    if revision.status != RevisionStatus.PENDING:
        status = RevisionStatus(revision.status)
        raise Conflict(
            f"第{revision.seq}号更正申请{status.label}，不能{step.label} / "
            f"revision {revision.seq} is {status.value}: cannot {step.value}",
            field="revision",
        )
    return revision


def transfer_revision_withdraw(
    *,
    transfer: Transfer,
    user: AbstractBaseUser,
    revision_seq: int,
    today: dt.date | None = None,
) -> TransferRevision:
    """The requesting party withdraws its pending revision. The request stays in the
    history, closed; the document keeps the values it had (a pending revision never
    changed them), and a new revision may be requested."""
    day = today or today_in_shanghai()
    with transaction.atomic():
        transfer = lock_document(transfer)
        revision = _pending_revision(transfer, revision_seq, Step.REVISION_WITHDRAW)
        requester = revision.requesting_enterprise
        if not roles_at(user, requester) & WRITERS:
            raise PermissionDenied(
                "只有申请更正的单位可撤回 / only the requesting party may withdraw"
            )
        _close(transfer, revision, user, requester, RevisionStatus.WITHDRAWN, "", day)
    return revision


def transfer_revision_reject(
    *,
    transfer: Transfer,
    user: AbstractBaseUser,
    revision_seq: int,
    reason: str,
    today: dt.date | None = None,
) -> TransferRevision:
    """An affected party other than the requester rejects a pending revision, with a
    reason. The request stays in the history, closed; nothing on the document or in a
    ledger changes."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("驳回须说明原因 / a rejection needs a reason", field="reason")
    day = today or today_in_shanghai()
    with transaction.atomic():
        transfer = lock_document(transfer)
        revision = _pending_revision(transfer, revision_seq, Step.REVISION_REJECT)
        others = Enterprise.objects.filter(credit_code__in=revision.approvers).exclude(
            pk=revision.requesting_enterprise_id
        )
        party = next((p for p in others.order_by("pk") if roles_at(user, p) & WRITERS), None)
        if party is None:
            if roles_at(user, revision.requesting_enterprise) & WRITERS:
                raise Conflict(
                    "申请单位不能驳回本单位的申请，请撤回 / the requester withdraws, not rejects",
                    field="step",
                )
            raise PermissionDenied("只有受影响的各方可驳回更正 / only an affected party rejects")
        _close(transfer, revision, user, party, RevisionStatus.REJECTED, reason, day)
    return revision


def _close(
    transfer: Transfer,
    revision: TransferRevision,
    user: AbstractBaseUser,
    party: Enterprise,
    status: RevisionStatus,
    reason: str,
    day: dt.date,
) -> None:
    """Close a pending revision as withdrawn or rejected: signature, row, audit event."""
    step = Step.REVISION_WITHDRAW if status == RevisionStatus.WITHDRAWN else Step.REVISION_REJECT
    kind = "withdraw" if status == RevisionStatus.WITHDRAWN else "reject"
    sign(
        transfer,
        step=step,
        step_key=f"revision:{revision.seq}:{kind}",
        enterprise=party,
        user=user,
        payload={"revision": str(revision.seq), "reason": reason, "on": day.isoformat()},
    )
    revision.status = status
    revision.closed_at = timezone.now()
    revision.closed_by_id = user.pk
    revision.closed_by_enterprise = party
    revision.close_reason = reason[:500]
    revision.save(
        update_fields=["status", "closed_at", "closed_by", "closed_by_enterprise", "close_reason"]
    )
    audit_record(
        actor=user,
        action=f"transfer.revision_{kind}",
        object_type="transfer",
        object_id=transfer.number,
        enterprise=party,
        before={"revision": revision.seq, "status": RevisionStatus.PENDING.value},
        after={"revision": revision.seq, "status": status.value, "reason": reason},
    )


def _apply_if_approved(
    transfer: Transfer, revision: TransferRevision, user: AbstractBaseUser, day: dt.date
) -> None:
    signed = set(
        TransferSignature.objects.filter(
            transfer=transfer, step_key__startswith=f"revision:{revision.seq}:"
        ).values_list("step_key", flat=True)
    )
    if not all(f"revision:{revision.seq}:{code}" in signed for code in revision.approvers):
        return
    before = snapshot(transfer)
    after: dict[str, Any] = revision.after
    if "note" in after:
        transfer.note = after["note"]
    if "planned_route" in after:
        transfer.planned_route = after["planned_route"]
        transfer.planned_disposal_method = after["planned_disposal_method"]
    transfer.save(update_fields=["note", "planned_route", "planned_disposal_method"])
    declared: dict[str, str] = after.get("declared", {})
    if declared:
        if transfer.status not in OPEN_BEFORE_RECEIPT:
            raise Conflict(
                "签收后不能更正申报量 / declared tonnes change only before receipt",
                field="declared",
            )
        lock_ledgers(transfer.generator)
        lines = transfer.lines.select_related("waste", "source_site", "handed_entry")
        for line in lines.filter(seq__in=[int(s) for s in declared]).order_by("seq"):
            line.declared = Decimal(declared[str(line.seq)])
            line.save(update_fields=["declared"])
            correct_handed(
                transfer,
                line,
                quantity=line.declared,
                reason=f"联单{transfer.number}更正申报量：{revision.reason} / revision",
                role=LinkRole.REVISED,
                user=user,
                today=day,
            )
    revision.status = RevisionStatus.APPLIED
    revision.applied_at = timezone.now()
    revision.save(update_fields=["status", "applied_at"])
    requester = revision.requesting_enterprise
    audit_transfer(user, "transfer.revision_apply", transfer, requester, before)

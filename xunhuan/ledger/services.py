"""Writes to the ledger. Every path (API, import, demo, transfers) goes through here.

Concurrency: a write first locks the enterprise's ``ChainHead`` row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions
serialize all writers). Under that lock it checks idempotency, moves stock with
``quantity = quantity + delta`` guarded by ``quantity + delta >= 0``, and appends
the entries with their chain hashes, all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import ExpressionWrapper, F, Value
from django.utils import timezone

from xunhuan.audit.services import audit_record
from xunhuan.core.chain import GENESIS_HASH, entry_hash
from xunhuan.core.errors import Conflict, InsufficientStock, ValidationFailed
from xunhuan.core.units import format_tonnes
from xunhuan.ledger.chain import chain_fields
from xunhuan.ledger.models import ChainHead, IdempotencyKey, ImportBatch, LedgerEntry, StockBalance
from xunhuan.ledger.rules import EntryDraft, row_named, stock_effects, validate_drafts
from xunhuan.ledger.signals import entries_posted_send
from xunhuan.registry.fields import TonnesField
from xunhuan.registry.models import Enterprise

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def today_in_shanghai() -> dt.date:
    """Ledger dates are calendar days in Asia/Shanghai (China has no DST)."""
    return timezone.now().astimezone(SHANGHAI).date()


def chain_lock(enterprise: Enterprise) -> ChainHead:
    try:
        return ChainHead.objects.select_for_update().get(enterprise=enterprise)
    except ChainHead.DoesNotExist:
        pass
    try:
        # A savepoint, so losing the creation race leaves the outer transaction usable.
        with transaction.atomic():
            ChainHead.objects.create(enterprise=enterprise, last_seq=0, last_hash=GENESIS_HASH)
    except IntegrityError:
        pass
    return ChainHead.objects.select_for_update().get(enterprise=enterprise)


def stock_apply_delta(site_id: int, waste_id: str, delta: Decimal) -> None:
    if delta == 0:
        return
    guarded = StockBalance.objects.filter(site_id=site_id, waste_id=waste_id)
    if delta < 0:
        guarded = guarded.filter(quantity__gte=-delta)
    updated = guarded.update(
        quantity=ExpressionWrapper(
            F("quantity") + Value(delta, output_field=TonnesField()), output_field=TonnesField()
        ),
        updated_at=timezone.now(),
    )
    if updated:
        return
    if delta > 0:
        StockBalance.objects.create(site_id=site_id, waste_id=waste_id, quantity=delta)
        return
    on_hand = (
        StockBalance.objects.filter(site_id=site_id, waste_id=waste_id)
        .values_list("quantity", flat=True)
        .first()
    ) or Decimal("0.000")
    raise InsufficientStock(
        f"库存不足：设施库存{format_tonnes(on_hand)}吨，本次需减少{format_tonnes(-delta)}吨 / "
        f"stock on hand {format_tonnes(on_hand)} t is less than {format_tonnes(-delta)} t",
        field="quantity",
    )


def _fingerprint(drafts: Sequence[EntryDraft], extra: str = "") -> str:
    payload = [
        {
            "kind": d.kind,
            "site": d.site.pk,
            "to_site": d.to_site.pk if d.to_site else None,
            "waste": d.waste.pk,
            "stream": d.stream.pk if d.stream else None,
            "quantity": format_tonnes(d.quantity),
            "occurred_on": d.occurred_on.isoformat(),
            "counterparty": d.counterparty.pk if d.counterparty else None,
            "purpose": d.purpose,
            "route": d.route,
            "disposal_method": d.disposal_method,
            "batch_code": d.batch_code,
            "note": d.note,
        }
        for d in drafts
    ]
    text = json.dumps([payload, extra], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(
    enterprise: Enterprise, key: str | None, fingerprint: str
) -> tuple[IdempotencyKey | None, list[LedgerEntry] | None]:
    """Return (key row to attach, None) for a new request or (None, entries) for a retry."""
    if key is None:
        return None, None
    existing = IdempotencyKey.objects.filter(enterprise=enterprise, key=key).first()
    if existing is None:
        return IdempotencyKey.objects.create(
            enterprise=enterprise, key=key, fingerprint=fingerprint
        ), None
    if existing.fingerprint != fingerprint:
        raise Conflict(
            "同一幂等键已用于不同的请求 / Idempotency-Key was used for a different request",
            field="Idempotency-Key",
        )
    return None, list(existing.entries.order_by("seq"))


class _Appender:
    """Appends entries to one locked chain, in order, tracking seq and the last hash."""

    def __init__(self, head: ChainHead, recorded_by: AbstractBaseUser | None) -> None:
        self.head = head
        self.recorded_by_id = recorded_by.pk if recorded_by is not None else None
        self.recorded_at = timezone.now()

    def build(
        self,
        draft: EntryDraft,
        *,
        quantity: Decimal,
        reverses: LedgerEntry | None = None,
        corrects: LedgerEntry | None = None,
        reason: str = "",
        idempotency: IdempotencyKey | None = None,
        import_batch: ImportBatch | None = None,
    ) -> LedgerEntry:
        entry = LedgerEntry(
            enterprise_id=self.head.enterprise_id,
            seq=self.head.last_seq + 1,
            kind=draft.kind,
            site=draft.site,
            to_site=draft.to_site,
            waste=draft.waste,
            stream=draft.stream,
            quantity=quantity,
            occurred_on=draft.occurred_on,
            recorded_at=self.recorded_at,
            recorded_by_id=self.recorded_by_id,
            counterparty=draft.counterparty,
            purpose=draft.purpose,
            route=draft.route,
            disposal_method=draft.disposal_method,
            batch_code=draft.batch_code,
            note=draft.note,
            reverses=reverses,
            corrects=corrects,
            reason=reason,
            idempotency=idempotency,
            import_batch=import_batch,
            prev_hash=self.head.last_hash,
        )
        entry.hash = entry_hash(entry.prev_hash, fields_of(entry))
        self.head.last_seq = entry.seq
        self.head.last_hash = entry.hash
        for site_id, waste_id, delta in stock_effects(
            kind=entry.kind,
            site_id=entry.site_id,
            to_site_id=entry.to_site_id,
            waste_id=entry.waste_id,
            quantity=quantity,
        ):
            stock_apply_delta(site_id, waste_id, delta)
        return entry

    def close(self) -> None:
        self.head.save(update_fields=["last_seq", "last_hash"])


def fields_of(entry: LedgerEntry) -> dict[str, str | None]:
    return chain_fields(
        enterprise_id=entry.enterprise_id,
        seq=entry.seq,
        public_id=entry.public_id,
        kind=entry.kind,
        site_id=entry.site_id,
        to_site_id=entry.to_site_id,
        waste_id=entry.waste_id,
        stream_id=entry.stream_id,
        quantity=entry.quantity,
        occurred_on=entry.occurred_on,
        recorded_at=entry.recorded_at,
        recorded_by_id=entry.recorded_by_id,
        counterparty_id=entry.counterparty_id,
        purpose=entry.purpose,
        route=entry.route,
        disposal_method=entry.disposal_method,
        batch_code=entry.batch_code,
        note=entry.note,
        reverses_id=entry.reverses_id,
        corrects_id=entry.corrects_id,
        reason=entry.reason,
    )


def ledger_entries_post(
    *,
    enterprise: Enterprise,
    drafts: Sequence[EntryDraft],
    recorded_by: AbstractBaseUser | None = None,
    idempotency_key: str | None = None,
    import_batch: ImportBatch | None = None,
    today: dt.date | None = None,
) -> list[LedgerEntry]:
    """Validate and append ``drafts`` to the enterprise's ledger, all or nothing.

    Entries are applied in the given order, so a generation followed by its
    storage in one call is fine, while any step that would take stock on hand
    below zero refuses the whole call (``InsufficientStock``). With an
    ``idempotency_key``, a retry of the same request returns the entries the first
    call created, and the same key with a different request is a ``Conflict``.
    """
    if not drafts:
        raise ValidationFailed("没有要记录的内容 / nothing to record", field="entries")
    day = today or today_in_shanghai()
    checked = validate_drafts(enterprise, drafts, today=day)
    with transaction.atomic():
        head = chain_lock(enterprise)
        key_row, replayed = _replay(enterprise, idempotency_key, _fingerprint(checked))
        if replayed is not None:
            return replayed
        appender = _Appender(head, recorded_by)
        entries = []
        for index, draft in enumerate(checked):
            try:
                entry = appender.build(
                    draft, quantity=draft.quantity, idempotency=key_row, import_batch=import_batch
                )
            except InsufficientStock as exc:
                row_named(exc, row=index + 1, of=len(checked))
                raise
            entry.save()
            entries.append(entry)
        appender.close()
        audit_record(
            actor=recorded_by,
            action="ledger.post",
            object_type="ledger_entries",
            object_id=f"{enterprise.credit_code}:{entries[0].seq}-{entries[-1].seq}",
            enterprise=enterprise,
            after={"entries": [entry_summary(entry) for entry in entries]},
        )
        entries_posted_send(
            enterprise_id=enterprise.pk, seq_from=entries[0].seq, seq_to=entries[-1].seq
        )
    return entries


def entry_summary(entry: LedgerEntry) -> dict[str, str | int | None]:
    """What the audit trail keeps of an entry: enough to recognize it without the chain."""
    return {
        "id": str(entry.public_id),
        "seq": entry.seq,
        "kind": entry.kind,
        "site": entry.site.code,
        "waste": entry.waste_id,
        "quantity": format_tonnes(entry.quantity),
        "occurred_on": entry.occurred_on.isoformat(),
        "batch_code": entry.batch_code or None,
    }


def ledger_import_audit(
    *,
    enterprise: Enterprise,
    batch: ImportBatch,
    created: int,
    recorded_by: AbstractBaseUser | None = None,
) -> None:
    """Record ONE audit event for a bulk ingest of a file (not one per row): the
    enterprise, the chain's sequence range the rows took, their count and the file's
    SHA-256. Call it in the ingest's transaction, right after ``ledger_entries_ingest``
    (which still holds the chain lock, so the head's last seq is this batch's end); a
    dry run's rollback takes the event with it."""
    seq_to = ChainHead.objects.filter(enterprise=enterprise).values_list("last_seq", flat=True)[0]
    audit_record(
        actor=recorded_by,
        action="ledger.import",
        object_type="import_batch",
        object_id=str(batch.public_id),
        enterprise=enterprise,
        after={
            "filename": batch.filename,
            "sha256": batch.sha256,
            "rows": created,
            "seq_from": seq_to - created + 1,
            "seq_to": seq_to,
        },
    )


def ledger_entry_post(
    *,
    enterprise: Enterprise,
    draft: EntryDraft,
    recorded_by: AbstractBaseUser | None = None,
    idempotency_key: str | None = None,
    today: dt.date | None = None,
) -> LedgerEntry:
    """Post one entry; see :func:`ledger_entries_post`."""
    (entry,) = ledger_entries_post(
        enterprise=enterprise,
        drafts=[draft],
        recorded_by=recorded_by,
        idempotency_key=idempotency_key,
        today=today,
    )
    return entry


def ledger_entry_correct(
    *,
    entry: LedgerEntry,
    reason: str,
    replacement: EntryDraft | None = None,
    recorded_by: AbstractBaseUser | None = None,
    idempotency_key: str | None = None,
    today: dt.date | None = None,
) -> tuple[LedgerEntry, LedgerEntry | None]:
    """Correct a posted entry: append its reversal and, if given, a replacement.

    Nothing is changed in place. The reversal repeats the original with the
    quantity negated (so every sum by period, site or waste nets to zero) and
    points to it; the replacement points to the original too; both carry the
    reason. An entry is reversed at most once, and a reversal is never reversed.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("更正须说明原因 / a correction needs a reason", field="reason")
    enterprise = entry.enterprise
    day = today or today_in_shanghai()
    # The replacement is the one draft the caller submits: validated like any batch.
    checked = validate_drafts(enterprise, [replacement], today=day)[0] if replacement else None
    original = EntryDraft(
        kind=entry.kind,
        site=entry.site,
        waste=entry.waste,
        quantity=entry.quantity,
        occurred_on=entry.occurred_on,
        stream=entry.stream,
        to_site=entry.to_site,
        counterparty=entry.counterparty,
        purpose=entry.purpose,
        route=entry.route,
        disposal_method=entry.disposal_method,
        batch_code=entry.batch_code,
        note=entry.note,
    )
    with transaction.atomic():
        head = chain_lock(enterprise)
        fingerprint = _fingerprint(
            [original, *([checked] if checked else [])], f"correct:{entry.pk}:{reason}"
        )
        key_row, replayed = _replay(enterprise, idempotency_key, fingerprint)
        if replayed is not None:
            return replayed[0], (replayed[1] if len(replayed) > 1 else None)
        if entry.reverses_id is not None:
            raise Conflict("冲销记录不能再更正 / a reversal cannot be corrected", field="entry")
        if LedgerEntry.objects.filter(reverses=entry).exists():
            raise Conflict(
                f"记录{entry.public_id}已被冲销 / entry was already reversed", field="entry"
            )
        appender = _Appender(head, recorded_by)
        reversal = appender.build(
            original, quantity=-entry.quantity, reverses=entry, reason=reason, idempotency=key_row
        )
        reversal.save()
        new_entry = None
        if checked is not None:
            new_entry = appender.build(
                checked,
                quantity=checked.quantity,
                corrects=entry,
                reason=reason,
                idempotency=key_row,
            )
            new_entry.save()
        appender.close()
        audit_record(
            actor=recorded_by,
            action="ledger.correct",
            object_type="ledger_entry",
            object_id=str(entry.public_id),
            enterprise=enterprise,
            before={"entry": entry_summary(entry), "reversed": False},
            after={
                "reversed": True,
                "reason": reason,
                "reversal": entry_summary(reversal),
                "replacement": entry_summary(new_entry) if new_entry is not None else None,
            },
        )
        entries_posted_send(
            enterprise_id=enterprise.pk, seq_from=reversal.seq, seq_to=head.last_seq
        )
    return reversal, new_entry

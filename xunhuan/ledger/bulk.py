"""Bulk append: the same rules as ``services.ledger_entries_post`` for many rows at once.

Used by file imports, the demo generator and the ingest benchmark. The rows are
validated first, stock is simulated in memory under the enterprise's chain lock
(so a row that would take stock below zero refuses the whole batch before
anything is written), then entries go in with ``bulk_create`` and each touched
stock balance moves once by its net delta.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from xunhuan.core.chain import entry_hash
from xunhuan.core.errors import InsufficientStock, ValidationFailed
from xunhuan.core.units import format_tonnes
from xunhuan.ledger.chain import chain_fields
from xunhuan.ledger.models import ImportBatch, LedgerEntry, StockBalance
from xunhuan.ledger.rules import EntryDraft, stock_effects, validate_draft
from xunhuan.ledger.services import chain_lock, stock_apply_delta, today_in_shanghai
from xunhuan.registry.models import Enterprise

BATCH_SIZE = 2000


def ledger_entries_ingest(
    *,
    enterprise: Enterprise,
    drafts: Sequence[EntryDraft],
    recorded_by: AbstractBaseUser | None = None,
    import_batch: ImportBatch | None = None,
    today: dt.date | None = None,
    recorded_at: dt.datetime | None = None,
) -> int:
    """Append many entries to one enterprise's ledger in one transaction; return the count.

    Raises ``ValidationFailed`` or ``InsufficientStock`` whose ``row`` is the 1-based
    position of the first offending draft; nothing is written then.
    """
    day = today or today_in_shanghai()
    checked: list[EntryDraft] = []
    for index, draft in enumerate(drafts, start=1):
        try:
            checked.append(validate_draft(enterprise, draft, today=day))
        except ValidationFailed as exc:
            exc.row = index
            raise
    moment = recorded_at or timezone.now()
    recorded_by_id = recorded_by.pk if recorded_by is not None else None
    with transaction.atomic():
        head = chain_lock(enterprise)
        deltas = _simulate_stock(checked)
        seq, prev = head.last_seq, head.last_hash
        pending: list[LedgerEntry] = []
        for draft in checked:
            seq += 1
            public_id = uuid.uuid4()
            fields = chain_fields(
                enterprise_id=enterprise.pk,
                seq=seq,
                public_id=public_id,
                kind=draft.kind,
                site_id=draft.site.pk,
                to_site_id=draft.to_site.pk if draft.to_site else None,
                waste_id=draft.waste.pk,
                stream_id=draft.stream.pk if draft.stream else None,
                quantity=draft.quantity,
                occurred_on=draft.occurred_on,
                recorded_at=moment,
                recorded_by_id=recorded_by_id,
                counterparty_id=draft.counterparty.pk if draft.counterparty else None,
                purpose=draft.purpose,
                route=draft.route,
                disposal_method=draft.disposal_method,
                batch_code=draft.batch_code,
                note=draft.note,
                reverses_id=None,
                corrects_id=None,
                reason="",
            )
            digest = entry_hash(prev, fields)
            pending.append(
                LedgerEntry(
                    public_id=public_id,
                    enterprise_id=enterprise.pk,
                    seq=seq,
                    kind=draft.kind,
                    site=draft.site,
                    to_site=draft.to_site,
                    waste=draft.waste,
                    stream=draft.stream,
                    quantity=draft.quantity,
                    occurred_on=draft.occurred_on,
                    recorded_at=moment,
                    recorded_by_id=recorded_by_id,
                    counterparty=draft.counterparty,
                    purpose=draft.purpose,
                    route=draft.route,
                    disposal_method=draft.disposal_method,
                    batch_code=draft.batch_code,
                    note=draft.note,
                    import_batch=import_batch,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
            if len(pending) >= BATCH_SIZE:
                LedgerEntry.objects.bulk_create(pending)
                pending = []
        if pending:
            LedgerEntry.objects.bulk_create(pending)
        for (site_id, waste_id), delta in sorted(deltas.items()):
            stock_apply_delta(site_id, waste_id, delta)
        head.last_seq, head.last_hash = seq, prev
        head.save(update_fields=["last_seq", "last_hash"])
    return len(checked)


def _simulate_stock(drafts: Sequence[EntryDraft]) -> dict[tuple[int, str], Decimal]:
    """Net stock change per (site, waste); refuse the first row that would go below zero."""
    effects = [
        stock_effects(
            kind=d.kind,
            site_id=d.site.pk,
            to_site_id=d.to_site.pk if d.to_site else None,
            waste_id=d.waste.pk,
            quantity=d.quantity,
        )
        for d in drafts
    ]
    pairs = {(site_id, waste_id) for rows in effects for site_id, waste_id, _ in rows}
    on_hand: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    site_ids = {site_id for site_id, _ in pairs}
    for site_id, waste_id, quantity in StockBalance.objects.filter(
        site_id__in=site_ids
    ).values_list("site_id", "waste_id", "quantity"):
        on_hand[(site_id, waste_id)] = quantity
    start = dict(on_hand)
    for index, rows in enumerate(effects, start=1):
        for site_id, waste_id, delta in rows:
            balance = on_hand[(site_id, waste_id)] + delta
            if balance < 0:
                raise InsufficientStock(
                    f"库存不足，设施库存{format_tonnes(on_hand[(site_id, waste_id)])}吨，"
                    f"需减少{format_tonnes(-delta)}吨 / stock on hand is less than the quantity",
                    field="quantity",
                    row=index,
                )
            on_hand[(site_id, waste_id)] = balance
    return {pair: on_hand[pair] - start.get(pair, Decimal(0)) for pair in pairs}

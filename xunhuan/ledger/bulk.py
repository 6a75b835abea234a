"""Bulk append: the same rules as ``services.ledger_entries_post`` for many rows at once.

Used by file imports, the demo generator and the ingest benchmark. The rows are
validated first, stock is simulated in memory under the enterprise's chain lock
(so a row that would take stock below zero refuses the whole batch before
anything is written), then the chained rows go in with COPY (PostgreSQL) or
``executemany`` (SQLite) and each touched stock balance moves once by its net
delta. ``bench/ingest.py`` measures this path against a raw COPY.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from xunhuan.core.chain import entry_hash_text, entry_text, json_text
from xunhuan.core.errors import InsufficientStock
from xunhuan.core.units import KG_PER_TONNE, format_tonnes, tonnes_to_kg
from xunhuan.ledger.chain import timestamp_text
from xunhuan.ledger.models import ImportBatch, LedgerEntry, StockBalance
from xunhuan.ledger.rules import EntryDraft, row_named, stock_effects, validate_drafts
from xunhuan.ledger.services import chain_lock, stock_apply_delta, today_in_shanghai
from xunhuan.ledger.signals import entries_posted_send
from xunhuan.registry.models import Enterprise


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

    Raises ``ValidationFailed`` or ``InsufficientStock`` for the first offending
    draft, naming its 1-based ``row`` when there are several (``rules.row_named``);
    nothing is written then.
    """
    day = today or today_in_shanghai()
    checked = validate_drafts(enterprise, drafts, today=day)
    moment = recorded_at or timezone.now()
    recorded_by_id = recorded_by.pk if recorded_by is not None else None
    with transaction.atomic():
        head = chain_lock(enterprise)
        deltas = _simulate_stock(checked)
        tail = ChainTail(seq=head.last_seq, hash=head.last_hash)
        first_seq = tail.seq + 1
        # Rows are encoded and hashed as they stream into COPY, so on PostgreSQL the
        # server stores one chunk while Python hashes the next.
        rows_insert(
            table=LedgerEntry._meta.db_table,
            columns=INSERT_COLUMNS,
            rows=_chain_rows(
                enterprise_id=enterprise.pk,
                tail=tail,
                drafts=checked,
                moment=moment,
                recorded_by_id=recorded_by_id,
                import_batch_id=import_batch.pk if import_batch is not None else None,
            ),
        )
        head.last_seq, head.last_hash = tail.seq, tail.hash
        for (site_id, waste_id), delta in sorted(deltas.items()):
            stock_apply_delta(site_id, waste_id, delta)
        head.save(update_fields=["last_seq", "last_hash"])
        entries_posted_send(enterprise_id=enterprise.pk, seq_from=first_seq, seq_to=tail.seq)
    return len(checked)


# Column order of the rows ``_chain_rows`` makes (every column but the serial id).
INSERT_COLUMNS = (
    "public_id",
    "enterprise_id",
    "seq",
    "kind",
    "site_id",
    "to_site_id",
    "waste_id",
    "stream_id",
    "quantity_kg",
    "occurred_on",
    "recorded_at",
    "recorded_by_id",
    "counterparty_id",
    "purpose",
    "route",
    "disposal_method",
    "batch_code",
    "note",
    "reverses_id",
    "corrects_id",
    "reason",
    "idempotency_id",
    "import_batch_id",
    "prev_hash",
    "hash",
)


def _kg_text(kg: int) -> str:
    """``format_tonnes(kg_to_tonnes(kg))`` without Decimal arithmetic."""
    sign = "-" if kg < 0 else ""
    whole, frac = divmod(abs(kg), KG_PER_TONNE)
    return f'"{sign}{whole}.{frac:03d}"'


def _id_text(value: int | None) -> str:
    return "null" if value is None else f'"{value}"'


def _uuid4_texts(count: int) -> list[str]:
    """``str(uuid.uuid4())`` for ``count`` ids from one read of the OS random source."""
    pool = os.urandom(16 * count)
    texts = []
    for offset in range(0, 16 * count, 16):
        value = int.from_bytes(pool[offset : offset + 16], "big")
        # RFC 4122 version 4, variant 10 -- the same bits uuid.uuid4() sets.
        value = (value & ~(0xF000 << 64) | (4 << 76)) & ~(0xC000 << 48) | (0x8000 << 48)
        h = f"{value:032x}"
        texts.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return texts


@dataclass
class ChainTail:
    """The chain's last seq and hash; ``_chain_rows`` moves it as it yields rows."""

    seq: int
    hash: str


def _chain_rows(
    *,
    enterprise_id: int,
    tail: ChainTail,
    drafts: Sequence[EntryDraft],
    moment: dt.datetime,
    recorded_by_id: int | None,
    import_batch_id: int | None,
) -> Iterator[tuple[object, ...]]:
    """Number, encode and hash the drafts as rows ready for the database, one by one;
    ``tail`` holds the new chain head once the last row has been taken.

    Builds the same canonical text as ``xunhuan.ledger.chain.chain_fields`` (the
    reference encoding that ``ledger_verify`` uses) but straight from the values,
    which is what makes bulk ingest fast; the verify tests prove they agree.
    """
    sqlite = connection.vendor == "sqlite"
    moment_db = connection.ops.adapt_datetimefield_value(moment) if sqlite else moment
    enterprise_text = _id_text(enterprise_id)
    moment_text = json_text(timestamp_text(moment))
    recorded_by_text = _id_text(recorded_by_id)
    # Most values repeat across a batch: encode each distinct one once.
    free_text: dict[str, str] = {"": '""'}
    day_text: dict[dt.date, str] = {}
    plain: dict[object, str] = {None: "null"}
    seq, prev = tail.seq, tail.hash
    for draft, public_id in zip(drafts, _uuid4_texts(len(drafts)), strict=True):
        seq += 1
        kg = tonnes_to_kg(draft.quantity)
        site_id = draft.site.id
        to_site_id = draft.to_site.id if draft.to_site is not None else None
        stream_id = draft.stream.id if draft.stream is not None else None
        counterparty_id = draft.counterparty.id if draft.counterparty is not None else None
        waste_id = draft.waste.code
        for text in (draft.batch_code, draft.note):
            if text not in free_text:
                free_text[text] = json_text(text)
        for value in (
            site_id,
            to_site_id,
            stream_id,
            counterparty_id,
            waste_id,
            draft.kind,
            draft.purpose,
            draft.route,
            draft.disposal_method,
        ):
            if value not in plain:
                plain[value] = f'"{value}"'
        day = draft.occurred_on
        if day not in day_text:
            day_text[day] = day.isoformat()
        encoded = (
            free_text[draft.batch_code],  # batch_code
            "null",  # corrects
            plain[counterparty_id],
            plain[draft.disposal_method],
            enterprise_text,
            f'"{public_id}"',
            plain[draft.kind],
            free_text[draft.note],
            f'"{day_text[day]}"',
            plain[draft.purpose],
            _kg_text(kg),
            '""',  # reason
            moment_text,
            recorded_by_text,
            "null",  # reverses
            plain[draft.route],
            f'"{seq}"',
            plain[site_id],
            plain[stream_id],
            plain[to_site_id],
            plain[waste_id],
        )
        digest = entry_hash_text(prev, entry_text(encoded))
        yield (
            public_id.replace("-", "") if sqlite else public_id,
            enterprise_id,
            seq,
            draft.kind,
            site_id,
            to_site_id,
            waste_id,
            stream_id,
            kg,
            day_text[day] if sqlite else day,
            moment_db,
            recorded_by_id,
            counterparty_id,
            draft.purpose,
            draft.route,
            draft.disposal_method,
            draft.batch_code,
            draft.note,
            None,
            None,
            "",
            None,
            import_batch_id,
            prev,
            digest,
        )
        prev = digest
        tail.seq, tail.hash = seq, prev


def rows_insert(*, table: str, columns: Sequence[str], rows: Iterable[tuple[object, ...]]) -> None:
    """Insert prepared rows into ``table`` with the engine's fastest path: COPY on
    PostgreSQL, ``executemany`` on SQLite, inside the caller's transaction. Also used
    by the statistics cells, which bulk ingest writes at about one per entry."""
    names = ", ".join(columns)
    raw = connection.connection
    if connection.vendor == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(columns))
    raw.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 - fixed names
        rows,
    )


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
                raise row_named(
                    InsufficientStock(
                        f"库存不足：设施库存{format_tonnes(on_hand[(site_id, waste_id)])}吨，"
                        f"本次需减少{format_tonnes(-delta)}吨 / stock on hand "
                        f"{format_tonnes(on_hand[(site_id, waste_id)])} t is less than "
                        f"{format_tonnes(-delta)} t",
                        field="quantity",
                    ),
                    row=index,
                    of=len(effects),
                )
            on_hand[(site_id, waste_id)] = balance
    return {pair: on_hand[pair] - start.get(pair, Decimal(0)) for pair in pairs}

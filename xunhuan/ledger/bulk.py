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
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from xunhuan.core.chain import GENESIS_HASH, entry_hash_text, entry_text, json_text
from xunhuan.core.errors import InsufficientStock
from xunhuan.core.units import KG_PER_TONNE, format_tonnes, kg_to_tonnes, tonnes_to_kg
from xunhuan.ledger.chain import timestamp_text
from xunhuan.ledger.models import ChainHead, ImportBatch, LedgerEntry, StockBalance
from xunhuan.ledger.rules import EntryDraft, row_named, stock_effects, validate_drafts
from xunhuan.ledger.services import today_in_shanghai
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
        tail = _chain_lock(enterprise.pk)
        # Each quantity in integer kg once, for the stock check and the stored rows.
        kgs = [tonnes_to_kg(d.quantity) for d in checked]
        deltas = _simulate_stock(checked, kgs)
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
                kgs=kgs,
                moment=moment,
                recorded_by_id=recorded_by_id,
                import_batch_id=import_batch.pk if import_batch is not None else None,
            ),
        )
        _stock_apply(deltas, moment)
        _chain_advance(enterprise.pk, tail)
        entries_posted_send(enterprise_id=enterprise.pk, seq_from=first_seq, seq_to=tail.seq)
    return len(checked)


# Bulk ingest pays per statement (a round trip, and on a busy server a wait), not per
# row, so each step below is one statement whatever the batch size: lock-or-create the
# chain head, read the stock, COPY the rows, move every touched stock, advance the head.


def _chain_lock(enterprise_id: int) -> ChainTail:
    """Lock the enterprise's chain head, creating it at the genesis hash if it is new,
    in one statement: ``ON CONFLICT … DO UPDATE`` row-locks an existing head on
    PostgreSQL as ``SELECT … FOR UPDATE`` does (the lock ``services.chain_lock`` takes,
    so bulk and single writers of one enterprise still serialize); SQLite's IMMEDIATE
    transaction already holds the database's write lock."""
    table = ChainHead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (enterprise_id, last_seq, last_hash) "  # noqa: S608 - fixed names
            f"VALUES (%s, 0, %s) ON CONFLICT (enterprise_id) "
            f"DO UPDATE SET last_seq = {table}.last_seq RETURNING last_seq, last_hash",
            [enterprise_id, GENESIS_HASH],
        )
        seq, last_hash = cursor.fetchone()
    return ChainTail(seq=int(seq), hash=last_hash)


def _chain_advance(enterprise_id: int, tail: ChainTail) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ChainHead._meta.db_table} SET last_seq = %s, last_hash = %s "  # noqa: S608
            "WHERE enterprise_id = %s",
            [tail.seq, tail.hash, enterprise_id],
        )


def _stock_apply(deltas: dict[tuple[int, str], int], moment: dt.datetime) -> None:
    """Move every touched (site, waste) stock by its net delta in kg: the increases with
    one multi-row upsert (they may create the row), the decreases with one
    ``WITH v AS (VALUES …) UPDATE … FROM v`` (their rows exist: the simulation refused a
    decrease of a stock it did not read), keys in
    order. The deltas were checked against the balances read under the chain lock,
    which every writer of these sites holds; the ``stock_never_negative`` constraint is
    the backstop. (Two statements because a CHECK is evaluated on an upsert's
    candidate row before the conflict is seen, so a negative delta cannot go there.)"""
    table = StockBalance._meta.db_table
    at = connection.ops.adapt_datetimefield_value(moment)
    ordered = sorted(deltas.items())
    ups = [(site, waste, kg) for (site, waste), kg in ordered if kg > 0]
    downs = [(site, waste, kg) for (site, waste), kg in ordered if kg < 0]
    with connection.cursor() as cursor:
        for start in range(0, len(ups), STOCK_CHUNK):
            chunk = ups[start : start + STOCK_CHUNK]
            cursor.execute(
                f"INSERT INTO {table} (site_id, waste_id, quantity_kg, updated_at) "  # noqa: S608
                f"VALUES {', '.join(['(%s, %s, %s, %s)'] * len(chunk))} "
                "ON CONFLICT (site_id, waste_id) DO UPDATE SET "
                f"quantity_kg = {table}.quantity_kg + excluded.quantity_kg, "
                "updated_at = excluded.updated_at",
                [v for site, waste, kg in chunk for v in (site, waste, kg, at)],
            )
        for start in range(0, len(downs), STOCK_CHUNK):
            chunk = downs[start : start + STOCK_CHUNK]
            cursor.execute(
                "WITH v (site_id, waste_id, kg) AS "  # noqa: S608 - fixed names
                f"(VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))}) "
                f"UPDATE {table} SET quantity_kg = {table}.quantity_kg + v.kg, updated_at = %s "
                f"FROM v WHERE {table}.site_id = v.site_id AND {table}.waste_id = v.waste_id",
                [*(v for row in chunk for v in row), at],
            )


# Stock rows per statement: 4 parameters each at most, far under SQLite's 32,766.
STOCK_CHUNK = 1000


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
    kgs: Sequence[int],
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
    for draft, kg, public_id in zip(drafts, kgs, _uuid4_texts(len(drafts)), strict=True):
        seq += 1
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


def rows_select(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values()``/``values_list()`` query as the driver returns them, in
    its select order, without Django's per-value converters (~10 µs a row): for readers
    of tens of thousands of rows (the exchange, the statistics reports) that convert
    what they need themselves. A query that can match nothing (``pk__in=[]``) runs no
    SQL and gives no rows, as iterating it would."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def _simulate_stock(drafts: Sequence[EntryDraft], kgs: Sequence[int]) -> dict[tuple[int, str], int]:
    """Net stock change in kg per (site, waste) of ``drafts`` (quantities ``kgs``); refuse
    the first row that would go below zero. Integer kilograms throughout (ADR 0003):
    exact, and cheaper than Decimal."""
    effects = [
        stock_effects(
            kind=d.kind,
            site_id=d.site.pk,
            to_site_id=d.to_site.pk if d.to_site else None,
            waste_id=d.waste.pk,
            quantity=kg,  # type: ignore[arg-type]
        )
        for d, kg in zip(drafts, kgs, strict=True)
    ]
    pairs = {(site_id, waste_id) for rows in effects for site_id, waste_id, _ in rows}
    on_hand: dict[tuple[int, str], int] = defaultdict(int)
    site_ids = sorted({site_id for site_id, _ in pairs})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT site_id, waste_id, quantity_kg FROM {StockBalance._meta.db_table} "  # noqa: S608
            f"WHERE site_id IN ({', '.join(['%s'] * len(site_ids))})",
            site_ids,
        )
        for site_id, waste_id, kg in cursor.fetchall():
            on_hand[(site_id, waste_id)] = int(kg)
    start = dict(on_hand)
    for index, rows in enumerate(effects, start=1):
        for site_id, waste_id, delta in rows:
            balance = on_hand[(site_id, waste_id)] + int(delta)
            if balance < 0:
                held = format_tonnes(kg_to_tonnes(on_hand[(site_id, waste_id)]))
                wanted = format_tonnes(kg_to_tonnes(-int(delta)))
                raise row_named(
                    InsufficientStock(
                        f"库存不足：设施库存{held}吨，本次需减少{wanted}吨 / stock on hand "
                        f"{held} t is less than {wanted} t",
                        field="quantity",
                    ),
                    row=index,
                    of=len(effects),
                )
            on_hand[(site_id, waste_id)] = balance
    return {pair: on_hand[pair] - start.get(pair, 0) for pair in pairs}

"""Tampering with the ledger behind the application's back, for the chain tests.

Entries refuse UPDATE and DELETE through the model and through the database
triggers that migration ``ledger.0002`` installs. A tamper test lifts those
triggers with the migration's own statements for the engine in use, changes rows
with raw SQL, and reinstalls the triggers, all inside the test's transaction.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from xunhuan.core.chain import entry_hash
from xunhuan.ledger.chain import CHAIN_COLUMNS, chain_fields
from xunhuan.ledger.models import LedgerEntry

TABLE = LedgerEntry._meta.db_table
_TRIGGERS = importlib.import_module("xunhuan.ledger.migrations.0002_append_only_triggers")
# A seq no test chain reaches, to park a row on while seqs are swapped or shifted.
PARKED = 1_000_000


def _statements(kind: str) -> list[str]:
    vendor = connection.vendor
    prefix = {"sqlite": "SQLITE", "postgresql": "POSTGRES"}[vendor]
    statements: list[str] = getattr(_TRIGGERS, f"{prefix}_{kind}")
    return statements


@contextmanager
def append_only_lifted() -> Iterator[None]:
    """Drop the append-only triggers for the block; reinstall them afterwards."""
    with connection.cursor() as cursor:
        for statement in _statements("DROP"):
            cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for statement in _statements("CREATE"):
                cursor.execute(statement)


def truncate_guard(*, installed: bool) -> None:
    """Remove or reinstall PostgreSQL's TRUNCATE trigger alone (the row triggers stay).

    Django empties the database after a ``transaction=True`` test with TRUNCATE,
    which the guard refuses; tests that commit ledger rows lift it for their module.
    """
    if connection.vendor != "postgresql":
        return
    wanted = _TRIGGERS.POSTGRES_CREATE if installed else _TRIGGERS.POSTGRES_DROP
    with connection.cursor() as cursor:
        for statement in wanted:
            if "no_truncate" in statement:
                cursor.execute(statement)


def _execute(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def change_quantity(enterprise_id: int, seq: int, delta_kg: int) -> None:
    changed = _execute(
        f"UPDATE {TABLE} SET quantity_kg = quantity_kg + %s "  # noqa: S608 - fixed table
        "WHERE enterprise_id = %s AND seq = %s",
        [delta_kg, enterprise_id, seq],
    )
    assert changed == 1


def delete_entry(enterprise_id: int, seq: int) -> None:
    deleted = _execute(
        f"DELETE FROM {TABLE} WHERE enterprise_id = %s AND seq = %s",  # noqa: S608
        [enterprise_id, seq],
    )
    assert deleted == 1


def swap_seqs(enterprise_id: int, first: int, second: int) -> None:
    # Three steps: (enterprise, seq) is unique and checked row by row on PostgreSQL.
    for old, new in ((first, PARKED), (second, first), (PARKED, second)):
        moved = _execute(
            f"UPDATE {TABLE} SET seq = %s WHERE enterprise_id = %s AND seq = %s",  # noqa: S608
            [new, enterprise_id, old],
        )
        assert moved == 1


def insert_forged(enterprise_id: int, at_seq: int, *, clever: bool) -> None:
    """Insert a copy of an existing entry (10 t more) as entry ``at_seq``, renumbering
    the entries from there on. A clever forger links it to the entry before it and
    gives it its correct hash; a naive one writes a made-up hash."""
    template = at_seq - 1 if at_seq > 1 else 1
    _execute(
        f"UPDATE {TABLE} SET seq = seq + %s WHERE enterprise_id = %s AND seq >= %s",  # noqa: S608
        [PARKED, enterprise_id, at_seq],
    )
    _execute(
        f"UPDATE {TABLE} SET seq = seq - %s WHERE enterprise_id = %s AND seq >= %s",  # noqa: S608
        [PARKED - 1, enterprise_id, PARKED],
    )
    if template >= at_seq:
        template += 1  # the template row moved up with the others
    previous = (
        LedgerEntry.objects.filter(enterprise_id=enterprise_id, seq=at_seq - 1)
        .values_list("hash", flat=True)
        .first()
    ) or "0" * 64
    public_id = LedgerEntry._meta.get_field("public_id").get_db_prep_value(uuid.uuid4(), connection)
    columns = [
        f.column for f in LedgerEntry._meta.concrete_fields if f.column not in ("id", "public_id")
    ]
    copied = ", ".join(
        {"seq": "%s", "quantity_kg": "quantity_kg + 10000", "prev_hash": "%s", "hash": "%s"}.get(
            column, column
        )
        for column in columns
    )
    params: list[Any] = [public_id]
    for column in columns:
        if column == "seq":
            params.append(at_seq)
        elif column in ("prev_hash", "hash"):
            params.append(previous if column == "prev_hash" else "f" * 64)
    params += [enterprise_id, template]
    inserted = _execute(
        f"INSERT INTO {TABLE} (public_id, {', '.join(columns)}) "  # noqa: S608
        f"SELECT %s, {copied} FROM {TABLE} WHERE enterprise_id = %s AND seq = %s",
        params,
    )
    assert inserted == 1
    if clever:
        values = (
            LedgerEntry.objects.filter(enterprise_id=enterprise_id, seq=at_seq)
            .values_list(*CHAIN_COLUMNS)
            .get()
        )
        digest = entry_hash(previous, chain_fields(**dict(zip(CHAIN_COLUMNS, values, strict=True))))
        _execute(
            f"UPDATE {TABLE} SET hash = %s WHERE enterprise_id = %s AND seq = %s",  # noqa: S608
            [digest, enterprise_id, at_seq],
        )

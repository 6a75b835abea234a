"""Building ``StatCell`` rows from the raw ledger: one SQL ``GROUP BY``, then the official
definitions of ``xunhuan.core.indicators`` over each enterprise's monthly series.

Used by the incremental update (one enterprise, the wastes an append touched), by
``stats_rebuild`` (everything) and by ``stats_check`` (recompute and compare).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from xunhuan.core.indicators import MonthFlows, MonthIndicators, derive_series
from xunhuan.ledger.bulk import rows_insert
from xunhuan.ledger.models import EntryKind, LedgerEntry, Purpose
from xunhuan.registry.models import Enterprise, SiteKind, WasteCategory
from xunhuan.statistics.models import StatCell, StatRegionCell, StatRouteCell

_YARD = SiteKind.STORAGE.value
_UTIL, _DISP = Purpose.UTILIZATION.value, Purpose.DISPOSAL.value


@dataclass(frozen=True)
class Dims:
    """The enterprise-side dimensions copied into every cell."""

    region_id: str
    region_path: str
    city_code: str
    park_id: int | None
    industry_id: str


def city_of(path: str) -> str:
    """The city (盟/市) level of a region path ``100000/150000/150600/150622/``; for a
    region directly under its province (no city), the region itself."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3:
        return parts[2]
    return parts[-1]


def enterprise_dims(enterprise_ids: Iterable[int] | None = None) -> dict[int, Dims]:
    rows = Enterprise.objects.all()
    if enterprise_ids is not None:
        rows = rows.filter(pk__in=list(enterprise_ids))
    return {
        pk: Dims(region_id, path, city_of(path), park_id, industry_id)
        for pk, region_id, path, park_id, industry_id in rows.values_list(
            "pk", "region_id", "region__path", "park_id", "industry_id"
        )
    }


def waste_groups() -> dict[str, str | None]:
    return dict(WasteCategory.objects.values_list("code", "group_id"))


def flow_rows(entries: QuerySet[LedgerEntry]) -> QuerySet[Any]:
    """The ledger summed by enterprise, waste, month and everything the definitions need:
    kind, purpose, route, and whether the entry's site / destination is a yard."""
    return (
        entries.annotate(month=TruncMonth("occurred_on"))
        .values(
            "enterprise_id",
            "waste_id",
            "month",
            "kind",
            "purpose",
            "route",
            "site__kind",
            "to_site__kind",
        )
        .annotate(kg=Sum("quantity", output_field=BigIntegerField()), n=Count("id"))
        .order_by("enterprise_id", "waste_id", "month")
    )


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value  # type: ignore[no-any-return]


def _fold(flows: MonthFlows, row: dict[str, Any]) -> None:
    """Add one grouped ledger row to the month's flows (see MonthFlows for the fields)."""
    kind, kg = row["kind"], int(row["kg"] or 0)
    at_yard = row["site__kind"] == _YARD
    to_yard = row["to_site__kind"] == _YARD
    route = row["route"]
    if kind == EntryKind.GENERATED:
        flows.generated += kg
    elif kind == EntryKind.RECEIVED:
        flows.received += kg
    elif kind == EntryKind.SELF_UTILIZED:
        flows.self_utilized += kg
        flows.self_utilized_by_route[route] = flows.self_utilized_by_route.get(route, 0) + kg
        flows.yard_utilized += kg if at_yard else 0
    elif kind == EntryKind.HANDED_OVER and row["purpose"] == _UTIL:
        flows.handed_utilization += kg
        flows.handed_by_route[route] = flows.handed_by_route.get(route, 0) + kg
        flows.yard_utilized += kg if at_yard else 0
    elif kind == EntryKind.HANDED_OVER:
        flows.handed_disposal += kg
        flows.yard_disposed += kg if at_yard else 0
    elif kind == EntryKind.SELF_DISPOSED:
        flows.self_disposed += kg
        flows.yard_disposed += kg if at_yard else 0
    elif kind == EntryKind.DISCARDED:
        flows.discarded += kg
        flows.yard_discarded += kg if at_yard else 0
    # storage_in / storage_out move stock between the enterprise's own sites: they
    # change only what is held in yards.
    if kind in (EntryKind.STORAGE_IN, EntryKind.STORAGE_OUT):
        flows.yard_delta += (kg if to_yard else 0) - (kg if at_yard else 0)
        if at_yard and not to_yard:
            flows.yard_withdrawn += kg
    elif kind in (EntryKind.GENERATED, EntryKind.RECEIVED):
        flows.yard_delta += kg if at_yard else 0
    else:
        flows.yard_delta -= kg if at_yard else 0


@dataclass
class Series:
    """One enterprise's months of one waste: the flows and the entry counts."""

    enterprise_id: int
    waste_id: str
    months: list[MonthFlows]
    counts: list[int]


def series_of(rows: Iterable[dict[str, Any]]) -> Iterator[Series]:
    """Group ``flow_rows`` (ordered by enterprise, waste, month) into series."""
    current: Series | None = None
    for row in rows:
        key = (row["enterprise_id"], row["waste_id"])
        month = _as_date(row["month"])
        if current is None or (current.enterprise_id, current.waste_id) != key:
            if current is not None:
                yield current
            current = Series(key[0], key[1], [], [])
        if not current.months or current.months[-1].month != month:
            current.months.append(MonthFlows(month=month))
            current.counts.append(0)
        _fold(current.months[-1], row)
        current.counts[-1] += int(row["n"])
    if current is not None:
        yield current


def cell_values(
    series: Series, dims: Dims, group_id: str | None
) -> Iterator[tuple[MonthFlows, MonthIndicators, int, dict[str, Any]]]:
    """Each month of ``series`` with its indicators and the cell's dimension columns."""
    for flows, ind, count in zip(
        series.months, derive_series(series.months), series.counts, strict=True
    ):
        base = {
            "enterprise_id": series.enterprise_id,
            "region_id": dims.region_id,
            "region_path": dims.region_path,
            "city_code": dims.city_code,
            "park_id": dims.park_id,
            "industry_id": dims.industry_id,
            "waste_id": series.waste_id,
            "waste_group_id": group_id,
            "month": flows.month,
            "year": flows.month.year,
            "quarter": (flows.month.month - 1) // 3 + 1,
        }
        yield flows, ind, count, base


# Cell columns in insert order, then the route cell's.
CELL_DIMS = (
    "enterprise_id",
    "region_id",
    "region_path",
    "city_code",
    "park_id",
    "industry_id",
    "waste_id",
    "waste_group_id",
    "month",
    "year",
    "quarter",
)
CELL_MEASURES = (
    "entries",
    "generated_kg",
    "received_kg",
    "self_utilized_kg",
    "handed_utilization_kg",
    "self_disposed_kg",
    "handed_disposal_kg",
    "discarded_kg",
    "utilized_kg",
    "utilized_prior_kg",
    "disposed_kg",
    "disposed_prior_kg",
    "storage_added_kg",
    "dumped_kg",
    "received_handled_kg",
    "stock_change_kg",
)


def cell_row(
    flows: MonthFlows, ind: MonthIndicators, count: int, base: dict[str, Any]
) -> tuple[Any, ...]:
    """The cell as a row of plain values (kg integers) in CELL_DIMS + CELL_MEASURES order."""
    month = base["month"].isoformat() if connection.vendor == "sqlite" else base["month"]
    dims = tuple(month if name == "month" else base[name] for name in CELL_DIMS)
    return (
        *dims,
        count,
        flows.generated,
        flows.received,
        flows.self_utilized,
        flows.handed_utilization,
        flows.self_disposed,
        flows.handed_disposal,
        flows.discarded,
        ind.utilized,
        ind.utilized_prior,
        ind.disposed,
        ind.disposed_prior,
        ind.storage_added,
        ind.dumped,
        ind.received_handled,
        ind.stock_change,
    )


def route_rows(ind: MonthIndicators, base: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    month = base["month"].isoformat() if connection.vendor == "sqlite" else base["month"]
    dims = tuple(month if name == "month" else base[name] for name in CELL_DIMS)
    for route, kg in sorted(ind.utilized_by_route.items()):
        yield (*dims, route, kg)


def build_rows(
    entries: QuerySet[LedgerEntry], dims: dict[int, Dims], groups: dict[str, str | None]
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(cell row, its route rows) for every month of every series in ``entries``."""
    for series in series_of(flow_rows(entries).iterator(chunk_size=10_000)):
        d = dims[series.enterprise_id]
        for flows, ind, count, base in cell_values(series, d, groups.get(series.waste_id)):
            yield cell_row(flows, ind, count, base), list(route_rows(ind, base))


def insert_rows(rows: Iterable[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]) -> int:
    """Insert cells and route cells with the ledger's ``rows_insert`` (COPY on
    PostgreSQL, ``executemany`` on SQLite), inside the caller's transaction; return the
    cell count. Bulk ingest writes about one cell per entry of a monthly ledger, so
    row-by-row INSERTs here cost more than the entries themselves."""
    cell_cols = (*CELL_DIMS, *CELL_MEASURES)
    route_cols = (*CELL_DIMS, "route", "utilized_kg")
    cells: list[tuple[Any, ...]] = []
    routes: list[tuple[Any, ...]] = []
    for cell, route_list in rows:
        cells.append(cell)
        routes.extend(route_list)
    rows_insert(table=StatCell._meta.db_table, columns=cell_cols, rows=cells)
    rows_insert(table=StatRouteCell._meta.db_table, columns=route_cols, rows=routes)
    return len(cells)


def enterprise_entries(enterprise_id: int, waste_ids: Iterable[str]) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(Q(enterprise_id=enterprise_id) & Q(waste_id__in=waste_ids))


# --- the region rollup ---------------------------------------------------------------

ROLLUP_DIMS = (
    "region_id",
    "region_path",
    "city_code",
    "waste_id",
    "waste_group_id",
    "month",
    "year",
    "quarter",
)
ROLLUP_KEY = ("region_id", "waste_id", "month")
# Rows per upsert statement: 500 x 24 columns stays under SQLite's 32,766 parameters.
ROLLUP_CHUNK = 500


def rollup_select(where: str) -> str:
    dims = ", ".join(ROLLUP_DIMS)
    sums = ", ".join(f"SUM({m})" for m in CELL_MEASURES)
    return (
        f"SELECT {dims}, {sums} FROM {StatCell._meta.db_table} "  # noqa: S608 - fixed names
        f"{where} GROUP BY {dims}"
    )


def rollup_rebuild() -> None:
    """Fill the (empty) rollup from the cells with one ``INSERT … SELECT … GROUP BY``."""
    table = StatRegionCell._meta.db_table
    columns = ", ".join((*ROLLUP_DIMS, *CELL_MEASURES))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {rollup_select('')}")


def rollup_sums(enterprise_id: int, waste_ids: Sequence[str]) -> dict[tuple[Any, ...], list[int]]:
    """The enterprise's cells of ``waste_ids`` summed by rollup row (kg and counts)."""
    marks = ", ".join(["%s"] * len(waste_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            rollup_select(f"WHERE enterprise_id = %s AND waste_id IN ({marks})"),
            [enterprise_id, *waste_ids],
        )
        return {
            _normal_key(row[: len(ROLLUP_DIMS)]): [int(v) for v in row[len(ROLLUP_DIMS) :]]
            for row in cursor.fetchall()
        }


def _normal_key(dims: Sequence[Any]) -> tuple[Any, ...]:
    out = list(dims)
    month = out[ROLLUP_DIMS.index("month")]
    if isinstance(month, str):
        out[ROLLUP_DIMS.index("month")] = dt.date.fromisoformat(month[:10])
    return tuple(out)


def rollup_apply(
    before: dict[tuple[Any, ...], list[int]], after: dict[tuple[Any, ...], list[int]]
) -> None:
    """Move the rollup by ``after − before`` per row: an upsert that adds the delta
    (``ON CONFLICT … DO UPDATE``, SQLite and PostgreSQL alike), in key order so two
    writers lock shared rows in the same order; rows left without entries go."""
    table = StatRegionCell._meta.db_table
    columns = (*ROLLUP_DIMS, *CELL_MEASURES)
    key = ", ".join(ROLLUP_KEY)
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in CELL_MEASURES)
    row_marks = f"({', '.join(['%s'] * len(columns))})"
    sqlite = connection.vendor == "sqlite"
    rows = []
    emptied = []
    for dims in sorted(set(before) | set(after), key=lambda d: (d[0], d[3], d[5])):
        old = before.get(dims, [0] * len(CELL_MEASURES))
        new = after.get(dims, [0] * len(CELL_MEASURES))
        delta = [n - o for n, o in zip(new, old, strict=True)]
        if not any(delta):
            continue
        values = [v.isoformat() if sqlite and isinstance(v, dt.date) else v for v in dims]
        rows.append((*values, *delta))
        if dims not in after:
            emptied.append((dims[0], dims[3], values[5]))
    with connection.cursor() as cursor:
        # One multi-row upsert per chunk, not one statement per row: an ingest moves
        # a few hundred rollup rows and each round trip costs more than the row.
        for start in range(0, len(rows), ROLLUP_CHUNK):
            chunk = rows[start : start + ROLLUP_CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - fixed names
                f"VALUES {', '.join([row_marks] * len(chunk))} "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}",
                [value for row in chunk for value in row],
            )
        for region_id, waste_id, month in emptied:
            cursor.execute(
                f"DELETE FROM {table} WHERE region_id = %s AND waste_id = %s "  # noqa: S608
                "AND month = %s AND entries = 0",
                [region_id, waste_id, month],
            )

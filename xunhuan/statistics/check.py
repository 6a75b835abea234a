"""``stats_check``: prove the pre-aggregated cells equal the raw ledger.

Independent comparisons, each a ``GROUP BY`` in the database:

1. the ledger summed by enterprise, waste, month and kind against the cells' sums
   by kind and entry counts (catches a missed or doubled append);
2. the cells recomputed from the ledger (the official derivation and the
   enterprise's current region, park and industry) against the stored cells and
   route cells (catches stale derived values or dimensions);
3. stock on hand: the cells' stock changes summed per enterprise and waste against
   the ledger's stock balances;
4. the region rollup against the cells summed by region, waste and month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, Case, Count, Q, Sum, When
from django.db.models.functions import TruncMonth

from xunhuan.ledger.models import EntryKind, LedgerEntry, Purpose, StockBalance
from xunhuan.statistics.cells import (
    CELL_DIMS,
    CELL_MEASURES,
    GROSS_MEASURES,
    ROLLUP_DIMS,
    YEAR_DIMS,
    build_rows,
    enterprise_dims,
    rollup_select,
    waste_groups,
    year_select,
)
from xunhuan.statistics.models import StatCell, StatRegionCell, StatRouteCell, StatYearCell

MAX_PROBLEMS = 50


@dataclass
class CheckReport:
    cells: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def _month_text(value: Any) -> str:
    if isinstance(value, str):
        return value[:7]
    if isinstance(value, dt.datetime):
        value = value.date()
    return f"{value:%Y-%m}"


def _raw_by_kind() -> Iterator[tuple[tuple[int, str, str], tuple[int, ...]]]:
    def kind_sum(condition: Any) -> Sum:
        return Sum(
            Case(When(condition, then="quantity"), default=0), output_field=BigIntegerField()
        )

    rows = (
        LedgerEntry.objects.annotate(m=TruncMonth("occurred_on"))
        .values("enterprise_id", "waste_id", "m")
        .annotate(
            n=Count("id"),
            generated=kind_sum(Q(kind=EntryKind.GENERATED)),
            received=kind_sum(Q(kind=EntryKind.RECEIVED)),
            self_utilized=kind_sum(Q(kind=EntryKind.SELF_UTILIZED)),
            handed_utilization=kind_sum(Q(kind=EntryKind.HANDED_OVER, purpose=Purpose.UTILIZATION)),
            self_disposed=kind_sum(Q(kind=EntryKind.SELF_DISPOSED)),
            handed_disposal=kind_sum(Q(kind=EntryKind.HANDED_OVER, purpose=Purpose.DISPOSAL)),
            discarded=kind_sum(Q(kind=EntryKind.DISCARDED)),
        )
        .order_by()
    )
    for r in rows.iterator(chunk_size=10_000):
        yield (
            (r["enterprise_id"], r["waste_id"], _month_text(r["m"])),
            (
                r["n"],
                *(
                    int(r[k] or 0)
                    for k in (
                        "generated",
                        "received",
                        "self_utilized",
                        "handed_utilization",
                        "self_disposed",
                        "handed_disposal",
                        "discarded",
                    )
                ),
            ),
        )


def _stored(table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608 - fixed names
        return [tuple(row) for row in cursor.fetchall()]


def _normal(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Comparable form of a cell row from either engine (dates as text, ints as int)."""
    out: list[Any] = []
    for value in row:
        if isinstance(value, dt.date):
            out.append(value.isoformat())
        elif isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
            out.append(value[:10])
        else:
            out.append(value)
    return tuple(out)


def stat_cells_check() -> CheckReport:
    """Compare the cells with the raw ledger three ways (see the module docstring)."""
    report = CheckReport()
    cell_table = StatCell._meta.db_table
    route_table = StatRouteCell._meta.db_table
    # 1. sums by kind
    stored_gross = {
        (r[0], r[1], _month_text(r[2])): tuple(int(v) for v in r[3:])
        for r in _stored(cell_table, ("enterprise_id", "waste_id", "month", *GROSS_MEASURES))
    }
    report.cells = len(stored_gross)
    seen = set()
    for key, values in _raw_by_kind():
        seen.add(key)
        report.entries += values[0]
        if stored_gross.get(key) != values:
            report.add(
                f"台账与统计单元不符 / ledger sums differ: {key} {values} "
                f"!= {stored_gross.get(key)}"
            )
    for key in sorted(set(stored_gross) - seen):
        report.add(f"统计单元无对应台账 / cell without entries: {key}")
    # 2. derived values and dimensions, recomputed
    expected_cells: set[tuple[Any, ...]] = set()
    expected_routes: set[tuple[Any, ...]] = set()
    for cell, routes in build_rows(LedgerEntry.objects.all(), enterprise_dims(), waste_groups()):
        expected_cells.add(_normal(cell))
        expected_routes.update(_normal(r) for r in routes)
    stored_cells = {_normal(r) for r in _stored(cell_table, (*CELL_DIMS, *CELL_MEASURES))}
    for row in sorted(expected_cells ^ stored_cells, key=str)[:10]:
        side = "缺少 / missing" if row in expected_cells else "多余或过期 / stale"
        report.add(f"统计单元{side}: {row}")
    stored_routes = {_normal(r) for r in _stored(route_table, (*CELL_DIMS, "route", "utilized_kg"))}
    for row in sorted(expected_routes ^ stored_routes, key=str)[:10]:
        side = "缺少 / missing" if row in expected_routes else "多余或过期 / stale"
        report.add(f"利用方式单元{side}: {row}")
    # 4. the region rollup and the year cells are the cells summed
    for label, select, table, dims in (
        ("区域汇总", rollup_select(""), StatRegionCell._meta.db_table, ROLLUP_DIMS),
        ("年度汇总", year_select(""), StatYearCell._meta.db_table, YEAR_DIMS),
    ):
        with connection.cursor() as cursor:
            cursor.execute(select)
            summed = {_normal(tuple(r)) for r in cursor.fetchall()}
        stored = {_normal(r) for r in _stored(table, (*dims, *CELL_MEASURES))}
        for row in sorted(summed ^ stored, key=str)[:10]:
            side = "缺少 / missing" if row in summed else "多余或过期 / stale"
            report.add(f"{label}{side}: {row}")
    # 3. stock on hand
    cells_stock = {
        (r["enterprise_id"], r["waste_id"]): int(r["s"] or 0)
        for r in StatCell.objects.values("enterprise_id", "waste_id")
        .annotate(s=Sum("stock_change", output_field=BigIntegerField()))
        .order_by()
    }
    balances = {
        (r["site__enterprise_id"], r["waste_id"]): int(r["s"] or 0)
        for r in StockBalance.objects.values("site__enterprise_id", "waste_id")
        .annotate(s=Sum("quantity", output_field=BigIntegerField()))
        .order_by()
    }
    for pair in sorted(set(cells_stock) | set(balances)):
        if cells_stock.get(pair, 0) != balances.get(pair, 0):
            report.add(
                f"库存不符 / stock differs: {pair} cells {cells_stock.get(pair, 0)} kg, "
                f"balances {balances.get(pair, 0)} kg"
            )
    return report

"""Building ``StatCell`` rows from the raw ledger.

``cells_write`` derives and writes the cells in the database (the ledger pivoted per
enterprise, waste and month, the official definitions as window functions); the
incremental update (one enterprise, the wastes an append touched) and
``stats_rebuild`` (everything) both use it. ``build_rows`` derives the same rows in
Python with ``xunhuan.core.indicators.derive_series``, and ``stats_check`` compares the
two (ADR 0014).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, Count, QuerySet, Sum
from django.db.models.functions import TruncMonth

from xunhuan.core.indicators import MonthFlows, MonthIndicators, derive_series
from xunhuan.ledger.models import EntryKind, LedgerEntry, Purpose
from xunhuan.registry.models import Enterprise, Region, Site, SiteKind, WasteCategory
from xunhuan.statistics.models import StatCell, StatRegionCell, StatRouteCell, StatYearCell

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
# The ledger's sums by kind (what stats_check compares with a GROUP BY over the raw
# ledger), then the indicators derived from them.
GROSS_MEASURES = (
    "entries",
    "generated_kg",
    "received_kg",
    "self_utilized_kg",
    "handed_utilization_kg",
    "self_disposed_kg",
    "handed_disposal_kg",
    "discarded_kg",
)
CELL_MEASURES = (
    *GROSS_MEASURES,
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


def _sums_select(dims: Sequence[str], where: str) -> str:
    """The cells ``where`` picks, summed by ``dims``."""
    columns = ", ".join(dims)
    sums = ", ".join(f"SUM({m})" for m in CELL_MEASURES)
    return (
        f"SELECT {columns}, {sums} FROM {StatCell._meta.db_table} "  # noqa: S608 - fixed names
        f"{where} GROUP BY {columns}"
    )


def rollup_select(where: str) -> str:
    return _sums_select(ROLLUP_DIMS, where)


# The year cells: the cells of a series summed by year (models.StatYearCell).
YEAR_DIMS = tuple(d for d in CELL_DIMS if d not in ("month", "quarter"))


def year_select(where: str) -> str:
    return _sums_select(YEAR_DIMS, where)


def _sums_insert(
    table: str, dims: Sequence[str], where: str = "", params: Sequence[Any] = ()
) -> None:
    """Insert into ``table`` the cells ``where`` picks, summed by ``dims``: one
    ``INSERT … SELECT … GROUP BY``."""
    columns = ", ".join((*dims, *CELL_MEASURES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) {_sums_select(dims, where)}",
            list(params),
        )


def year_cells_write(where: str = "", params: Sequence[Any] = ()) -> None:
    """Rewrite the year cells of the series ``where`` picks (a clause over
    ``enterprise_id`` and ``waste_id``; empty: all) from their cells."""
    table = StatYearCell._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} {where}", list(params))  # noqa: S608
    _sums_insert(table, YEAR_DIMS, where, params)


def rollup_rebuild() -> None:
    """Fill the (empty) rollup from the cells."""
    _sums_insert(StatRegionCell._meta.db_table, ROLLUP_DIMS)


def rollup_sums(where: str, params: Sequence[Any]) -> dict[tuple[Any, ...], list[int]]:
    """The cells ``where`` picks (a clause over the cell table's columns) summed by rollup
    row (kg and counts)."""
    with connection.cursor() as cursor:
        cursor.execute(rollup_select(where), list(params))
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


# --- the derivation in SQL -------------------------------------------------------------
#
# ``stat_cells_refresh`` and ``stat_cells_rebuild`` write the cells with the statements
# below: the ledger pivoted to one row per enterprise, waste and month, then the
# state ``core.indicators.derive_series`` carries from month to month, as window
# functions. Both paths run the same SQL (the refresh only adds a WHERE), so
# incremental and rebuilt cells cannot differ (ADR 0011); ``stats_check`` recomputes
# the cells with ``derive_series`` in Python and compares, so the two implementations
# check each other (ADR 0014).
#
# The closed forms hold because every monthly sum of one kind (and purpose, route,
# site kind) is >= 0: quantities are positive and a reversal is dated as the entry it
# reverses. Then the received pool is Lindley's recursion
# ``pool_t = max(0, pool_{t-1} + received_t - outflows_t)``, i.e. the running sum S
# less ``min(0, min S)``, and taking from flows in a fixed order ("what is left of A
# covers flow k") is ``min(A, F_k) - min(A, F_{k-1})`` over the flows' prefix sums F;
# the yards' previous-years' stock is used up the same way within each year. The
# month's available A is last month's pool plus this month's receipts, and last
# month's pool is ``S_{t-1} - min(0, min of S before t)`` with ``S_{t-1} = S_t - (r_t -
# outflows_t)``: one window pass over S, not a second one for LAG (0 in a first month).
# Every sum is cast back to bigint: PostgreSQL's SUM of a bigint is a numeric, and
# numeric arithmetic through the window passes was a fifth of a full rebuild's
# derivation (ADR 0014).

WORK_TABLE = "stat_work"
WORK_COLUMNS = (
    ("ent", "bigint"),
    ("waste", "varchar(16)"),
    ("month", "date"),
    ("year", "integer"),
    ("quarter", "integer"),
    ("n", "bigint"),
    ("g", "bigint"),
    ("r", "bigint"),
    ("su", "bigint"),
    ("hu", "bigint"),
    ("sd", "bigint"),
    ("hd", "bigint"),
    ("dc", "bigint"),
    ("t1", "bigint"),  # received waste handled by self-utilization
    ("t2", "bigint"),  # … by handing over for utilization
    ("handled", "bigint"),
    ("utilized", "bigint"),
    ("utilized_prior", "bigint"),
    ("disposed", "bigint"),
    ("disposed_prior", "bigint"),
    ("dumped", "bigint"),
)


def _sql_dialect() -> tuple[str, str, str, str, str]:
    """(least, greatest, month, year, month number of ``e.occurred_on``) for the engine."""
    if connection.vendor == "postgresql":
        return (
            "LEAST",
            "GREATEST",
            "CAST(date_trunc('month', e.occurred_on) AS date)",
            "CAST(EXTRACT(YEAR FROM e.occurred_on) AS integer)",
            "CAST(EXTRACT(MONTH FROM e.occurred_on) AS integer)",
        )
    # SQLite keeps dates as ISO text; MIN/MAX with two arguments are scalar functions.
    return (
        "MIN",
        "MAX",
        "substr(e.occurred_on, 1, 7) || '-01'",
        "CAST(substr(e.occurred_on, 1, 4) AS integer)",
        "CAST(substr(e.occurred_on, 6, 2) AS integer)",
    )


def _bigint_sum(values: str, over: str = "") -> str:
    """``SUM(values)``, ``OVER`` the window ``over`` if given (a name, or a definition in
    parentheses), cast back to bigint (see the note above: PostgreSQL's SUM of a bigint
    is a numeric)."""
    window = f" OVER {over}" if over else ""
    return f"CAST(SUM({values}){window} AS bigint)"


def _kg_sum_when(condition: str) -> str:
    """The entries' kilograms where ``condition`` holds (0 elsewhere), summed as bigint."""
    return _bigint_sum(f"CASE WHEN {condition} THEN e.quantity_kg ELSE 0 END")


def _pivot_sql(where: str) -> str:
    """The ledger summed per enterprise, waste and month into the flows of ``MonthFlows``."""
    _, _, month, year, mon = _sql_dialect()
    q = "e.quantity_kg"
    at_yard = f"s.kind = '{_YARD}'"
    to_yard = f"t.kind = '{_YARD}'"
    handed = f"e.kind = '{EntryKind.HANDED_OVER}'"
    util = f"(e.kind = '{EntryKind.SELF_UTILIZED}' OR ({handed} AND e.purpose = '{_UTIL}'))"
    disp = f"(e.kind = '{EntryKind.SELF_DISPOSED}' OR ({handed} AND e.purpose <> '{_UTIL}'))"
    moves = f"e.kind IN ('{EntryKind.STORAGE_IN}', '{EntryKind.STORAGE_OUT}')"
    inflow = f"e.kind IN ('{EntryKind.GENERATED}', '{EntryKind.RECEIVED}')"
    # the kilograms a row moves into (+) or out of (-) the enterprise's yards
    ydelta = f"""CASE WHEN {moves} THEN (CASE WHEN {to_yard} THEN {q} ELSE 0 END)
                             - (CASE WHEN {at_yard} THEN {q} ELSE 0 END)
           WHEN {inflow} THEN (CASE WHEN {at_yard} THEN {q} ELSE 0 END)
           ELSE -(CASE WHEN {at_yard} THEN {q} ELSE 0 END) END"""

    def kind_sum(kind: str, extra: str = "") -> str:
        return _kg_sum_when(f"e.kind = '{kind}'{extra}")

    return f"""
SELECT e.enterprise_id AS ent, e.waste_id AS waste, {month} AS month,
  MIN({year}) AS year, MIN({mon}) AS mon, COUNT(*) AS n,
  {kind_sum(EntryKind.GENERATED)} AS g,
  {kind_sum(EntryKind.RECEIVED)} AS r,
  {kind_sum(EntryKind.SELF_UTILIZED)} AS su,
  {kind_sum(EntryKind.HANDED_OVER, f" AND e.purpose = '{_UTIL}'")} AS hu,
  {kind_sum(EntryKind.SELF_DISPOSED)} AS sd,
  {kind_sum(EntryKind.HANDED_OVER, f" AND e.purpose <> '{_UTIL}'")} AS hd,
  {kind_sum(EntryKind.DISCARDED)} AS dc,
  {_kg_sum_when(f"{at_yard} AND {util}")} AS yu,
  {_kg_sum_when(f"{at_yard} AND {disp}")} AS yd,
  {_kg_sum_when(f"{at_yard} AND e.kind = '{EntryKind.DISCARDED}'")} AS yx,
  {_kg_sum_when(f"{moves} AND {at_yard} AND NOT COALESCE({to_yard}, FALSE)")} AS yw,
  {_bigint_sum(ydelta)} AS ydelta
FROM {LedgerEntry._meta.db_table} e
JOIN {Site._meta.db_table} s ON s.id = e.site_id
LEFT JOIN {Site._meta.db_table} t ON t.id = e.to_site_id
{where}
GROUP BY e.enterprise_id, e.waste_id, {month}"""  # noqa: S608 - fixed names and literals


def _derive_sql(where: str) -> str:
    """``SELECT`` of the work table's columns (WORK_COLUMNS) for the entries ``where`` picks:
    ``derive_series`` as window functions over the pivoted months of each series."""
    least, greatest, *_ = _sql_dialect()
    series = "(PARTITION BY ent, waste ORDER BY month ROWS UNBOUNDED PRECEDING)"
    before = (
        "PARTITION BY ent, waste ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    )
    in_year = "(PARTITION BY ent, waste, year ORDER BY month ROWS UNBOUNDED PRECEDING)"
    flows = ("su", "hu", "hd", "sd", "dc")  # the order received waste is handled in
    prefix = [" + ".join(flows[: k + 1]) for k in range(len(flows))]
    takes = [
        f"{least}(a, {prefix[0]})",
        *(f"{least}(a, {prefix[k]}) - {least}(a, {prefix[k - 1]})" for k in range(1, 5)),
    ]
    used = "(yu + yw)"
    yard_out = "yu + yw + yd + yx"
    prior_u = f"{least}(p_open, c_prev + {used}) - {least}(p_open, c_prev)"
    prior_d = f"{least}(p_open, c_prev + {used} + yd) - {least}(p_open, c_prev + {used})"
    return f"""
SELECT ent, waste, month, year, quarter, n, g, r, su, hu, sd, hd, dc, t1, t2, handled,
  utilized, {greatest}(0, {least}(pu, utilized)) AS utilized_prior,
  disposed, {greatest}(0, {least}(pd, disposed)) AS disposed_prior, dumped
FROM (
  SELECT *, (su - t1) + (hu - t2) AS utilized, (sd - t4) + (hd - t3) AS disposed,
    dc - t5 AS dumped
  FROM (
    SELECT *, {takes[0]} AS t1, {takes[1]} AS t2, {takes[2]} AS t3, {takes[3]} AS t4,
      {takes[4]} AS t5, {least}(a, {prefix[4]}) AS handled, {prior_u} AS pu, {prior_d} AS pd
    FROM (
      SELECT *, COALESCE(s_run - (r - ({prefix[4]})) - {least}(0, MIN(s_run) OVER ({before})), 0)
          + r AS a,
        {greatest}(y_open, 0) AS p_open
      FROM (
        SELECT *, (mon - 1) / 3 + 1 AS quarter,
          {_bigint_sum(f"r - ({prefix[4]})", series)} AS s_run,
          {_bigint_sum("ydelta", series)} - {_bigint_sum("ydelta", in_year)} AS y_open,
          {_bigint_sum(yard_out, in_year)} - ({yard_out}) AS c_prev
        FROM ({_pivot_sql(where)}) pivot
      ) l1
    ) l2
  ) l3
) l4"""  # noqa: S608 - fixed names


def _work_table() -> None:
    """An empty per-connection temporary table for the derived months (created once)."""
    month_type = "date" if connection.vendor == "postgresql" else "text"
    columns = ", ".join(
        f"{name} {month_type if name == 'month' else kind}" for name, kind in WORK_COLUMNS
    )
    with connection.cursor() as cursor:
        # The key serves the route cells' join back to their month.
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {WORK_TABLE} "
            f"({columns}, PRIMARY KEY (ent, waste, month))"
        )
        cursor.execute(f"DELETE FROM {WORK_TABLE}")  # noqa: S608 - fixed name


def _city_sql(path: str) -> str:
    """``city_of`` in SQL: the third code of the path, or the last one of a shorter path
    (region codes are six digits, each followed by a slash)."""
    return (
        f"CASE WHEN length({path}) >= 21 THEN substr({path}, 15, 6) "
        f"ELSE substr({path}, length({path}) - 6, 6) END"
    )


def cells_write(*, where: str = "", params: Sequence[Any] = ()) -> int:
    """Derive and insert the cells and route cells of the ledger entries ``where`` picks
    (a clause over the entries ``e``; empty for the whole ledger), inside the caller's
    transaction. The old cells of those series must already be gone. Returns the
    number of cells written."""
    _work_table()
    work_columns = ", ".join(name for name, _ in WORK_COLUMNS)
    dims_select = (
        f"w.ent, en.region_id, rg.path, {_city_sql('rg.path')}, en.park_id, en.industry_id, "
        "w.waste, wc.group_id, w.month, w.year, w.quarter"
    )
    dims_join = (
        f"JOIN {Enterprise._meta.db_table} en ON en.id = w.ent "
        f"JOIN {Region._meta.db_table} rg ON rg.code = en.region_id "
        f"JOIN {WasteCategory._meta.db_table} wc ON wc.code = w.waste"
    )
    measures = (
        "w.n, w.g, w.r, w.su, w.hu, w.sd, w.hd, w.dc, w.utilized, w.utilized_prior, "
        "w.disposed, w.disposed_prior, "
        "w.g - (w.utilized - w.utilized_prior) - (w.disposed - w.disposed_prior) - w.dumped, "
        "w.dumped, w.handled, w.g + w.r - w.su - w.hu - w.sd - w.hd - w.dc"
    )
    route_order = 'route COLLATE "C"' if connection.vendor == "postgresql" else "route"
    least, greatest, month, *_ = _sql_dialect()
    utilization = (
        f"(e.kind = '{EntryKind.SELF_UTILIZED}' "
        f"OR (e.kind = '{EntryKind.HANDED_OVER}' AND e.purpose = '{_UTIL}'))"
    )
    route_where = f"{where} AND {utilization}" if where else f"WHERE {utilization}"
    # Own utilization by route: the received waste a month handled (t1 from
    # self-utilization, t2 from hand-overs) is taken from the routes in code order.
    own_by_route = (
        f"(rr.su_r - ({least}(w.t1, rr.su_cum) - {least}(w.t1, rr.su_cum - rr.su_r))) "
        f"+ (rr.hu_r - ({least}(w.t2, rr.hu_cum) - {least}(w.t2, rr.hu_cum - rr.hu_r)))"
    )
    route_rows = f"""
SELECT *, {_bigint_sum("su_r", "wr")} AS su_cum, {_bigint_sum("hu_r", "wr")} AS hu_cum
FROM (
  SELECT e.enterprise_id AS ent, e.waste_id AS waste, {month} AS month, e.route AS route,
    {_kg_sum_when(f"e.kind = '{EntryKind.SELF_UTILIZED}'")} AS su_r,
    {_kg_sum_when(f"e.kind = '{EntryKind.HANDED_OVER}'")} AS hu_r
  FROM {LedgerEntry._meta.db_table} e {route_where}
  GROUP BY e.enterprise_id, e.waste_id, {month}, e.route
) x
WINDOW wr AS (PARTITION BY ent, waste, month ORDER BY {route_order} ROWS UNBOUNDED PRECEDING)"""  # noqa: S608 - fixed names
    del greatest
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {WORK_TABLE} ({work_columns}) {_derive_sql(where)}", list(params)
        )
        cursor.execute(
            f"INSERT INTO {StatCell._meta.db_table} ({', '.join((*CELL_DIMS, *CELL_MEASURES))}) "  # noqa: S608
            f"SELECT {dims_select}, {measures} FROM {WORK_TABLE} w {dims_join}"
        )
        written = int(cursor.rowcount)
        cursor.execute(
            f"INSERT INTO {StatRouteCell._meta.db_table} "  # noqa: S608 - fixed names
            f"({', '.join((*CELL_DIMS, 'route', 'utilized_kg'))}) "
            f"SELECT {dims_select}, rr.route, {own_by_route} "
            f"FROM ({route_rows}) rr "
            f"JOIN {WORK_TABLE} w ON w.ent = rr.ent AND w.waste = rr.waste AND w.month = rr.month "
            f"{dims_join} WHERE {own_by_route} <> 0",
            list(params),
        )
        cursor.execute(f"DELETE FROM {WORK_TABLE}")  # noqa: S608 - fixed name
    return written

"""Indicator tables: the official indicators of the cells in a scope, grouped by any
of the dimensions, summed in the database (one ``GROUP BY`` over the pre-aggregated
cells); rates are computed from the summed tonnes. Also the scope a user reads in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import BigIntegerField, Q, QuerySet, Sum
from django.db.models.functions import Cast

from xunhuan.accounts.models import Membership
from xunhuan.accounts.selectors import regions_regulated_by
from xunhuan.core.errors import NotFound, ValidationFailed
from xunhuan.core.indicators import utilization_rate
from xunhuan.core.units import kg_to_tonnes
from xunhuan.ledger.bulk import rows_select
from xunhuan.registry.models import Enterprise, Industry, Park, Region, WasteCategory, WasteGroup
from xunhuan.statistics.models import (
    REPORT_MEASURES,
    StatCell,
    StatRegionCell,
    StatRouteCell,
    StatYearCell,
)

User = AbstractBaseUser | AnonymousUser
RATE_DEFINITION = "综合利用率 = 综合利用量 ÷ (产生量 + 综合利用往年贮存量) × 100%（环境统计口径）"

# Grouping keys -> the cell columns they group by.
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "city": ("city_code",),
    "county": ("region_id",),
    "park": ("park_id",),
    "industry": ("industry_id",),
    "enterprise": ("enterprise_id",),
    "waste": ("waste_id",),
    "group": ("waste_group_id",),
    "route": ("route",),
    "year": ("year",),
    "quarter": ("year", "quarter"),
    "month": ("month",),
}
TIME_DIMENSIONS = frozenset({"year", "quarter", "month"})
# Measures (cell columns, kg in the database) in report order.
MEASURES = REPORT_MEASURES
LABELS_ZH = {
    "city": "盟市",
    "county": "旗县区",
    "park": "园区",
    "industry": "行业",
    "enterprise": "单位",
    "waste": "废物类别",
    "group": "类别组",
    "route": "利用方式",
    "year": "年",
    "quarter": "季度",
    "month": "月份",
    "generated": "产生量（吨）",
    "utilized": "综合利用量（吨）",
    "utilized_prior": "其中：综合利用往年贮存量（吨）",
    "disposed": "处置量（吨）",
    "disposed_prior": "其中：处置往年贮存量（吨）",
    "storage_added": "贮存量（吨）",
    "dumped": "倾倒丢弃量（吨）",
    "received": "接收外单位量（吨）",
    "received_handled": "接收后利用处置量（吨）",
    "stock_on_hand": "期末库存（吨）",
    "utilization_rate": "综合利用率（%）",
}


def table_columns(by: Sequence[str]) -> list[str]:
    """The columns of ``stats_table(by=...)`` rows flattened, in order (also when empty)."""
    by = list(dict.fromkeys(by))
    if "route" in by:
        return [*by, "utilized", "utilization_rate"]
    stock = [] if TIME_DIMENSIONS & set(by) else ["stock_on_hand"]
    return [*by, *MEASURES, *stock, "utilization_rate"]


def subtree_q(path: str) -> Q:
    """Cells of the region subtree with materialized path ``path`` (``…/150622/``).

    PostgreSQL serves ``LIKE 'path%'`` from the ``varchar_pattern_ops`` indexes. SQLite's
    ``LIKE`` is case-insensitive and never uses a plain index, so there the prefix is the
    range ``path <= region_path < path-with-its-final-slash-bumped`` ('/' + 1 = '0'),
    which the ``(year, region_path)`` indexes and the drill-down's covering
    ``(region_path, year, …)`` index serve (codes are digits and '/', so the binary
    collation orders the paths as the prefix needs)."""
    if connection.vendor == "sqlite" and path.endswith("/"):
        return Q(region_path__gte=path, region_path__lt=path[:-1] + "0")
    return Q(region_path__startswith=path)


@dataclass(frozen=True)
class StatScope:
    """What a user may aggregate: region subtrees (materialized paths) and enterprises.

    ``paths=None`` means everything (operators' CLI, tests of the definitions).
    """

    paths: tuple[str, ...] | None
    enterprise_ids: tuple[int, ...] = ()

    @classmethod
    def everything(cls) -> StatScope:
        return cls(paths=None)

    def q(self) -> Q:
        if self.paths is None:
            return Q()
        condition = Q(pk__in=[])
        for path in self.paths:
            condition |= subtree_q(path)
        if self.enterprise_ids:
            condition |= Q(enterprise_id__in=self.enterprise_ids)
        return condition

    @property
    def by_region_only(self) -> bool:
        """True when the region rollup (which has no enterprise column) can serve it."""
        return not self.enterprise_ids


def stat_scope(user: User) -> StatScope:
    """The cells ``user`` may aggregate: its jurisdictions' subtrees and its own enterprises.

    Anonymous users and users without a seat get a scope that matches nothing.
    """
    if not user.is_authenticated:
        return StatScope(paths=())
    paths = tuple(regions_regulated_by(user).values_list("path", flat=True))
    own = tuple(
        Membership.objects.filter(user_id=user.pk, enterprise__isnull=False).values_list(
            "enterprise_id", flat=True
        )
    )
    return StatScope(paths=paths, enterprise_ids=own)


def region_get(*, code: str) -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise NotFound(f"行政区划{code}不存在 / unknown region", field="region")
    return region


@dataclass
class StatRow:
    """One row of an indicator table: the grouping values, their names, the tonnes."""

    keys: dict[str, Any]
    labels: dict[str, str]
    values: dict[str, Decimal]
    utilization_rate: Decimal | None
    stock_on_hand: Decimal | None = None

    def flat(self) -> dict[str, Any]:
        """Grouping names, then measures, then the rate: for exports and the CLI."""
        out: dict[str, Any] = {}
        for key, value in self.keys.items():
            out[key] = self.labels.get(key, value)
        out.update(self.values)
        if self.stock_on_hand is not None:
            out["stock_on_hand"] = self.stock_on_hand
        out["utilization_rate"] = self.utilization_rate
        return out


def _check_by(by: Sequence[str]) -> list[str]:
    unknown = [b for b in by if b not in DIMENSIONS]
    if unknown:
        raise ValidationFailed(
            f"不支持的分组：{', '.join(unknown)}；可选 {', '.join(DIMENSIONS)} / unknown grouping",
            field="by",
        )
    return list(dict.fromkeys(by))


def _cells(
    model: type[StatCell] | type[StatRouteCell] | type[StatRegionCell] | type[StatYearCell],
    *,
    scope: StatScope,
    region: Region | None,
    year: int | None,
    waste_group: str | None,
    park_id: int | None = None,
) -> QuerySet[Any]:
    rows = model.objects.filter(scope.q())
    if region is not None:
        rows = rows.filter(subtree_q(region.path))
    if year is not None:
        rows = rows.filter(year=year)
    if waste_group:
        rows = rows.filter(waste_group_id=waste_group)
    if park_id is not None:
        rows = rows.filter(park_id=park_id)  # type: ignore[misc]  # the region rollup has no park_id (see cells_source)
    return rows


# Groupings the region rollup can answer (it has no enterprise, park or industry).
ROLLUP_DIMENSIONS = frozenset({"city", "county", "waste", "group", "year", "quarter", "month"})


# Groupings finer than a year that only the monthly cells hold.
WITHIN_YEAR = frozenset({"quarter", "month"})


def cells_source(
    scope: StatScope, *, by: Sequence[str] = (), park_id: int | None = None
) -> type[StatCell] | type[StatRegionCell] | type[StatYearCell]:
    """The region rollup when it can answer (fewest rows), else the year cells when no
    grouping is finer than a year (a twelfth of the rows), else the monthly cells."""
    if scope.by_region_only and park_id is None and set(by) <= ROLLUP_DIMENSIONS:
        return StatRegionCell
    if not WITHIN_YEAR & set(by):
        return StatYearCell
    return StatCell


def kg_sum(column: str) -> Cast:
    """The kilograms of ``column`` summed, as an integer: PostgreSQL's ``SUM`` of a
    bigint is a numeric, which the driver would turn into a ``Decimal`` per value."""
    return Cast(Sum(column), output_field=BigIntegerField())


def _coded(rows: QuerySet[Any], name: str) -> dict[Any, str]:
    """``code name`` labels (industries, waste categories) keyed by code."""
    return {code: f"{code} {text}" for code, text in rows.values_list("code", name)}


def _labels(
    by: Iterable[str], rows: Sequence[Sequence[Any]], columns: Sequence[str]
) -> dict[str, dict[Any, str]]:
    """Names for the grouping values present in ``rows`` (tuples, ``columns`` first):
    one query per named dimension."""
    names: dict[str, dict[Any, str]] = {}
    for dim in by:
        at = columns.index(DIMENSIONS[dim][0])
        values = {row[at] for row in rows} - {None}
        if dim in ("city", "county"):
            names[dim] = dict(Region.objects.filter(code__in=values).values_list("code", "name"))
        elif dim == "park":
            names[dim] = dict(Park.objects.filter(pk__in=values).values_list("pk", "name"))
        elif dim == "industry":
            names[dim] = _coded(Industry.objects.filter(code__in=values), "name")
        elif dim == "enterprise":
            names[dim] = dict(Enterprise.objects.filter(pk__in=values).values_list("pk", "name"))
        elif dim == "waste":
            names[dim] = _coded(WasteCategory.objects.filter(code__in=values), "name_zh")
        elif dim == "group":
            names[dim] = dict(
                WasteGroup.objects.filter(code__in=values).values_list("code", "name_zh")
            )
            names[dim][None] = "非大宗类别"
        elif dim == "route":
            from xunhuan.ledger.models import UtilizationRoute

            names[dim] = {k: str(v) for k, v in UtilizationRoute.choices}
    return names


_NO_TONNES = Decimal(0).scaleb(-3)


def _tonnes(kg: int) -> Decimal:
    """``kg_to_tonnes`` without the quantize: an integer scaled by 10^-3 already has
    exactly three places, and dashboards convert thousands of values per request
    (many of them zero: one shared ``0.000``, as Decimals are immutable)."""
    return Decimal(kg).scaleb(-3) if kg else _NO_TONNES


def _month_key(value: Any) -> str:
    """``YYYY-MM`` of a month column (a date; ISO text on SQLite)."""
    if isinstance(value, str):
        return value[:7]
    return f"{value.year:04d}-{value.month:02d}"


def _key_readers(by: Sequence[str], columns: list[str]) -> list[Callable[[Sequence[Any]], Any]]:
    """Per dimension of ``by``, a function from a grouped row (``columns`` first) to
    the dimension's key: the column's value, a quarter as ``2025Q3``, a month as
    ``2025-07``."""

    def quarter_of(year_at: int, quarter_at: int) -> Callable[[Sequence[Any]], str]:
        return lambda r: f"{r[year_at]}Q{r[quarter_at]}"

    def month_of(at: int) -> Callable[[Sequence[Any]], str]:
        # a report has a few distinct months and up to thousands of rows
        keys: dict[Any, str] = {}

        def read(r: Sequence[Any]) -> str:
            value = r[at]
            key = keys.get(value)
            if key is None:
                key = keys[value] = _month_key(value)
            return key

        return read

    readers: list[Callable[[Sequence[Any]], Any]] = []
    for dim in by:
        at = columns.index(DIMENSIONS[dim][0])
        if dim == "quarter":
            readers.append(quarter_of(at, columns.index("quarter")))
        elif dim == "month":
            readers.append(month_of(at))
        else:
            readers.append(itemgetter(at))
    return readers


def stats_table(
    *,
    scope: StatScope,
    by: Sequence[str],
    region: Region | None = None,
    year: int | None = None,
    waste_group: str | None = None,
    park_id: int | None = None,
) -> list[StatRow]:
    """The official indicators of the cells in ``scope`` (and ``region``'s subtree, ``year``,
    ``waste_group``), grouped by ``by`` (any of ``DIMENSIONS``), in the database.

    Grouping by ``route`` reads the route cells and gives utilization only. Without a
    time grouping, each row also carries its stock on hand at the end of ``year``.
    """
    by = _check_by(by)
    columns = list(dict.fromkeys(c for dim in by for c in DIMENSIONS[dim]))
    width = len(columns)
    readers = list(zip(by, _key_readers(by, columns), strict=True))
    if "route" in by:
        routed = rows_select(
            _cells(
                StatRouteCell,
                scope=scope,
                region=region,
                year=year,
                waste_group=waste_group,
                park_id=park_id,
            )
            .values(*columns)
            .annotate(utilized=kg_sum("utilized"))
            .order_by(*columns)
        )
        names = _labels(by, routed, columns)
        out = []
        for r in routed:
            keys = {dim: read(r) for dim, read in readers}
            out.append(
                StatRow(
                    keys=keys,
                    labels={dim: names[dim].get(keys[dim], "") for dim in names},
                    values={"utilized": kg_to_tonnes(int(r[width] or 0))},
                    utilization_rate=None,
                )
            )
        return out
    source = cells_source(scope, by=by, park_id=park_id)
    cells = _cells(
        source,
        scope=scope,
        region=region,
        year=year,
        waste_group=waste_group,
        park_id=park_id,
    )
    grouped = rows_select(
        cells.values(*columns).annotate(**{m: kg_sum(m) for m in MEASURES}).order_by(*columns)
    )
    with_stock = not TIME_DIMENSIONS & set(by)
    stock: dict[tuple[Any, ...], int] = {}
    if with_stock:
        stocked = _cells(
            source,
            scope=scope,
            region=region,
            year=None,
            waste_group=waste_group,
            park_id=park_id,
        )
        if year is not None:
            stocked = stocked.filter(year__lte=year)
        for r in rows_select(
            stocked.values(*columns).annotate(stock=kg_sum("stock_change")).order_by()
        ):
            stock[r[:width]] = int(r[width] or 0)
    names = _labels(by, grouped, columns)
    # A province dashboard builds ~900 rows per request: keys read by position (the
    # readers above), the named dimensions' lookups bound once, each measure scaled
    # straight from the row as ``_tonnes`` does (inlined: ~8,000 values a request).
    named = [(dim, names[dim]) for dim in by if dim in names]
    # the rate's measures by position in the grouped row (the sums are integers or NULL)
    utilized, generated, prior = (width + MEASURES.index(m) for m in _RATE_MEASURES)
    out = []
    for r in grouped:
        keys = {dim: read(r) for dim, read in readers}
        out.append(
            StatRow(
                keys=keys,
                labels={dim: lookup.get(keys[dim], "") or str(keys[dim]) for dim, lookup in named},
                values=dict(
                    zip(
                        MEASURES,
                        [Decimal(kg).scaleb(-3) if kg else _NO_TONNES for kg in r[width:]],
                        strict=True,
                    )
                ),
                utilization_rate=utilization_rate(
                    utilized=r[utilized] or 0,
                    generated=r[generated] or 0,
                    utilized_prior=r[prior] or 0,
                ),
                stock_on_hand=_tonnes(stock.get(r[:width], 0)) if with_stock else None,
            )
        )
    return out


# The measures the rate is computed from (``utilization_rate``'s arguments, in order).
_RATE_MEASURES = ("utilized", "generated", "utilized_prior")

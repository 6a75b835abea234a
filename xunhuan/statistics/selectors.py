"""Reads of the statistics: indicator tables by any grouping, target evaluation,
assessment (考核) and the comparison with published figures.

Every read takes a ``scope`` (``stat_scope(user)``): a regulator sees the cells of
its jurisdictions' subtrees, an enterprise seat only its own enterprise's cells,
anonymous nothing. Grouping and summing happen in the database (one ``GROUP BY``
over the pre-aggregated cells); rates are computed from the summed tonnes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import BigIntegerField, Case, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast

from xunhuan.accounts.models import WRITER_ROLES, Membership
from xunhuan.accounts.selectors import regions_regulated_by
from xunhuan.core.errors import NotFound, ValidationFailed
from xunhuan.core.indicators import (
    ScoringWeights,
    linear_trend,
    min_max_scores,
    target_status,
    utilization_gap_kg,
    utilization_rate,
    weighted_score,
    year_reached,
)
from xunhuan.core.units import kg_to_tonnes
from xunhuan.ledger.bulk import rows_select
from xunhuan.registry.models import Enterprise, Industry, Park, Region, WasteCategory, WasteGroup
from xunhuan.statistics.models import (
    REPORT_MEASURES,
    PublishedFigure,
    StatCell,
    StatRegionCell,
    StatRouteCell,
    StatYearCell,
    Target,
    TargetMetric,
    TargetScope,
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
        rows = rows.filter(park_id=park_id)  # type: ignore[misc]  # the region rollup has no park_id (see _source)
    return rows


# Groupings the region rollup can answer (it has no enterprise, park or industry).
ROLLUP_DIMENSIONS = frozenset({"city", "county", "waste", "group", "year", "quarter", "month"})


# Groupings finer than a year that only the monthly cells hold.
WITHIN_YEAR = frozenset({"quarter", "month"})


def _source(
    scope: StatScope, *, by: Sequence[str] = (), park_id: int | None = None
) -> type[StatCell] | type[StatRegionCell] | type[StatYearCell]:
    """The region rollup when it can answer (fewest rows), else the year cells when no
    grouping is finer than a year (a twelfth of the rows), else the monthly cells."""
    if scope.by_region_only and park_id is None and set(by) <= ROLLUP_DIMENSIONS:
        return StatRegionCell
    if not WITHIN_YEAR & set(by):
        return StatYearCell
    return StatCell


def _kg_sum(column: str) -> Cast:
    """The kilograms of ``column`` summed, as an integer: PostgreSQL's ``SUM`` of a
    bigint is a numeric, which the driver would turn into a ``Decimal`` per value."""
    return Cast(Sum(column), output_field=BigIntegerField())


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
            names[dim] = {
                code: f"{code} {name}"
                for code, name in Industry.objects.filter(code__in=values).values_list(
                    "code", "name"
                )
            }
        elif dim == "enterprise":
            names[dim] = dict(Enterprise.objects.filter(pk__in=values).values_list("pk", "name"))
        elif dim == "waste":
            names[dim] = {
                code: f"{code} {name}"
                for code, name in WasteCategory.objects.filter(code__in=values).values_list(
                    "code", "name_zh"
                )
            }
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
    (most of them zero: one shared ``0.000``, as Decimals are immutable)."""
    return Decimal(kg).scaleb(-3) if kg else _NO_TONNES


def _month_key(value: Any) -> str:
    """``YYYY-MM`` of a month column (a date; ISO text on SQLite)."""
    if isinstance(value, str):
        return value[:7]
    return f"{value.year:04d}-{value.month:02d}"


def _key_of(dim: str, row: Mapping[str, Any]) -> Any:
    if dim == "quarter":
        return f"{row['year']}Q{row['quarter']}"
    value = row[DIMENSIONS[dim][0]]
    return _month_key(value) if dim == "month" else value


def _key_readers(by: Sequence[str], columns: list[str]) -> list[Callable[[Sequence[Any]], Any]]:
    """Per dimension of ``by``, a function from a grouped row (``columns`` first) to
    the dimension's key, as ``_key_of`` gives it from the row as a dict."""

    def quarter_of(year_at: int, quarter_at: int) -> Callable[[Sequence[Any]], str]:
        return lambda r: f"{r[year_at]}Q{r[quarter_at]}"

    def month_of(at: int) -> Callable[[Sequence[Any]], str]:
        return lambda r: _month_key(r[at])

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
    if "route" in by:
        rows = list(
            _cells(
                StatRouteCell,
                scope=scope,
                region=region,
                year=year,
                waste_group=waste_group,
                park_id=park_id,
            )
            .values(*columns)
            .annotate(utilized=_kg_sum("utilized"))
            .order_by(*columns)
        )
        names = _labels(by, [[r[c] for c in columns] for r in rows], columns)
        return [
            StatRow(
                keys={dim: _key_of(dim, r) for dim in by},
                labels={dim: names[dim].get(_key_of(dim, r), "") for dim in names},
                values={"utilized": kg_to_tonnes(int(r["utilized"] or 0))},
                utilization_rate=None,
            )
            for r in rows
        ]
    source = _source(scope, by=by, park_id=park_id)
    cells = _cells(
        source,
        scope=scope,
        region=region,
        year=year,
        waste_group=waste_group,
        park_id=park_id,
    )
    width = len(columns)
    grouped = rows_select(
        cells.values(*columns).annotate(**{m: _kg_sum(m) for m in MEASURES}).order_by(*columns)
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
            stocked.values(*columns).annotate(stock=_kg_sum("stock_change")).order_by()
        ):
            stock[r[:width]] = int(r[width] or 0)
    names = _labels(by, grouped, columns)
    # A province dashboard builds ~900 rows per request: keys read by position, the
    # named dimensions' lookups bound once, measures converted from a plain list.
    readers = list(zip(by, _key_readers(by, columns), strict=True))
    named = [(dim, names[dim]) for dim in by if dim in names]
    utilized, generated, prior = (MEASURES.index(m) for m in _RATE_MEASURES)
    out = []
    for r in grouped:
        kg = [int(v) if v else 0 for v in r[width:]]
        keys = {dim: read(r) for dim, read in readers}
        out.append(
            StatRow(
                keys=keys,
                labels={dim: lookup.get(keys[dim], "") or str(keys[dim]) for dim, lookup in named},
                values=dict(zip(MEASURES, map(_tonnes, kg), strict=True)),
                utilization_rate=utilization_rate(
                    utilized=kg[utilized], generated=kg[generated], utilized_prior=kg[prior]
                ),
                stock_on_hand=_tonnes(stock.get(r[:width], 0)) if with_stock else None,
            )
        )
    return out


# The measures the rate is computed from (``utilization_rate``'s arguments, in order).
_RATE_MEASURES = ("utilized", "generated", "utilized_prior")


# --- targets -----------------------------------------------------------------


@dataclass
class TargetEvaluation:
    """A target measured on a region: where it stands in ``data_year`` and where it heads."""

    target: Target
    region: Region
    data_year: int
    current: Decimal | None  # percent for a rate, tonnes for a tonnage
    gap_points: Decimal | None
    gap_tonnes: Decimal | None
    reached_in: int | None
    status: str
    history: list[tuple[int, Decimal | None]] = field(default_factory=list)


def targets_for_region(*, region: Region, include_retired: bool = False) -> QuerySet[Target]:
    """Targets set for the region or any region above it (a province target applies
    to each of its leagues as the benchmark). Retired and superseded targets (ADR
    0016) are history: left out unless ``include_retired``."""
    codes = [c for c in region.path.split("/") if c]
    targets = Target.objects.filter(region_code__in=codes)
    if not include_retired:
        targets = targets.filter(retired_at__isnull=True)
    return targets.select_related("supersedes", "superseded_by").prefetch_related("waste_groups")


def target_paths_acted_for(user: User) -> list[str]:
    """The region paths under which the user may set, revise and retire targets: those
    of its acting (admin or member) regulator seats. A reader seat at a regulator sees
    the targets but acts on none (ADR 0016, as compliance does in ADR 0052)."""
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(
            user_id=user.pk, regulator_region__isnull=False, role__in=WRITER_ROLES
        ).values_list("regulator_region__path", flat=True)
    )


def targets_retired_for_region(*, region: Region) -> QuerySet[Target]:
    """The history of ``targets_for_region``: its retired and superseded targets, last
    retired first, each with its successor (if revised) and who retired it."""
    codes = [c for c in region.path.split("/") if c]
    return (
        Target.objects.filter(region_code__in=codes, retired_at__isnull=False)
        .select_related("superseded_by", "supersedes", "retired_by")
        .prefetch_related("waste_groups")
        .order_by("-retired_at", "-id")
    )


def targets_below_region(*, region: Region) -> QuerySet[Target]:
    """Current targets set for regions under ``region`` (a league's counties), which
    apply there and not to ``region`` itself."""
    below = Region.objects.filter(path__startswith=region.path).exclude(pk=region.pk)
    return (
        Target.objects.filter(region_code__in=below.values("code"), retired_at__isnull=True)
        .prefetch_related("waste_groups")
        .order_by("region_code", "year", "id")
    )


def _year_group_kg(
    scope: StatScope, region: Region
) -> dict[tuple[int, str | None], dict[str, int]]:
    rows = (
        _source(scope)
        .objects.filter(scope.q(), subtree_q(region.path))
        .values("year", "waste_group_id")
        .annotate(
            generated=_kg_sum("generated"),
            utilized=_kg_sum("utilized"),
            utilized_prior=_kg_sum("utilized_prior"),
        )
        .order_by()
    )
    return {
        (r["year"], r["waste_group_id"]): {
            k: int(r[k] or 0) for k in ("generated", "utilized", "utilized_prior")
        }
        for r in rows
    }


def _scope_groups(target: Target, bulk: set[str], all_groups: set[str | None]) -> set[str | None]:
    if target.scope == TargetScope.INDUSTRIAL:
        return all_groups
    if target.scope == TargetScope.BULK:
        return set(bulk)
    return {g.code for g in target.waste_groups.all()}


def targets_evaluate(
    *, scope: StatScope, region: Region, year: int | None = None, trend_years: int = 5
) -> list[TargetEvaluation]:
    """Every target that applies to ``region`` measured on its subtree (within ``scope``).

    The data year is ``year`` (default: the latest year with data), capped at the
    target's year. Rate gaps are in percentage points and in tonnes more to be
    utilized; the projection is a least-squares line over up to ``trend_years``
    years; status is green (reached), amber (trend reaches it by the target year),
    red, or unknown (no data, or a target the ledger cannot measure).
    """
    by_year_group = _year_group_kg(scope, region)
    years = sorted({y for y, _ in by_year_group})
    latest = year if year is not None else (years[-1] if years else None)
    bulk = set(WasteGroup.objects.filter(is_bulk=True).values_list("code", flat=True))
    all_groups = {g for _, g in by_year_group} | bulk | {None}
    out = []
    for target in targets_for_region(region=region):
        measurable = target.scope != TargetScope.OTHER and target.metric != TargetMetric.TEXT
        if latest is None or not measurable:
            out.append(
                TargetEvaluation(
                    target, region, latest or target.year, None, None, None, None, "unknown"
                )
            )
            continue
        data_year = min(latest, target.year)
        groups = _scope_groups(target, bulk, all_groups)

        def totals(y: int, groups: set[str | None] = groups) -> dict[str, int]:
            acc = {"generated": 0, "utilized": 0, "utilized_prior": 0}
            for g in groups:
                for k, v in by_year_group.get((y, g), {}).items():
                    acc[k] += v
            return acc

        def value(y: int, metric: str = target.metric) -> Decimal | None:
            t = totals(y)
            if metric == TargetMetric.RATE:
                return utilization_rate(**t)
            if not any(t.values()):
                return None
            return kg_to_tonnes(t["utilized"])

        history = [(y, value(y)) for y in years if data_year - trend_years < y <= data_year]
        current = value(data_year)
        t = totals(data_year)
        if target.metric == TargetMetric.RATE:
            threshold = target.threshold_percent or Decimal(0)
            gap_points = (
                max(threshold - current, Decimal(0)).quantize(Decimal("0.01"))
                if current is not None
                else None
            )
            gap_kg = utilization_gap_kg(target_percent=threshold, **t)
            gap_tonnes = kg_to_tonnes(gap_kg) if gap_kg is not None else None
        else:
            threshold = target.threshold_tonnes or Decimal(0)
            gap_points = None
            gap_tonnes = max(threshold - current, Decimal(0)) if current is not None else None
        trend = linear_trend([(y, v) for y, v in history if v is not None])
        reached = (
            year_reached(trend=trend, current_year=data_year, current=current, target=threshold)
            if current is not None
            else None
        )
        out.append(
            TargetEvaluation(
                target=target,
                region=region,
                data_year=data_year,
                current=current,
                gap_points=gap_points,
                gap_tonnes=gap_tonnes,
                reached_in=reached,
                status=target_status(
                    current=current, target=threshold, target_year=target.year, reached_in=reached
                ),
                history=history,
            )
        )
    return out


# --- assessment (考核) ----------------------------------------------------------


@dataclass
class AssessmentRow:
    region: Region
    rate: Decimal | None
    rate_before: Decimal | None
    improvement: Decimal | None  # percentage points over the previous year
    stock_start: Decimal
    stock_end: Decimal
    stock_reduction: Decimal | None  # percent of the stock at the start of the year
    scores: dict[str, Decimal | None]
    score: Decimal | None
    rank: int | None = None


def assessment_table(
    *,
    scope: StatScope,
    region: Region,
    year: int,
    weights: ScoringWeights | None = None,
    waste_group: str | None = None,
) -> list[AssessmentRow]:
    """The year's assessment of the regions one level below ``region`` (leagues/cities of
    a province, counties of a league): utilization rate, its improvement on the
    previous year and the reduction of stock on hand, each scored 0–100 between the
    field's worst and best and combined with ``weights`` (docs/adr/0012).

    Regions without generation have no rate and no improvement score; they are
    ranked by what they have, after all regions with a score.
    """
    weights = weights or ScoringWeights()
    if region.level not in ("province", "city"):
        raise ValidationFailed(
            "考核对象为省级下辖盟市或盟市下辖旗县 / assess a province or a league", field="region"
        )
    children = list(Region.objects.filter(parent=region).order_by("code"))
    # Leagues by the cells' city column; counties by the enterprise's own region
    # (enterprises are registered at county level).
    column = "city_code" if region.level == "province" else "region_id"
    cells = _source(scope).objects.filter(scope.q(), subtree_q(region.path))
    if waste_group:
        cells = cells.filter(waste_group_id=waste_group)
    rows = (
        cells.filter(year__lte=year)
        .values(column)
        .annotate(
            **{
                f"{m}_{tag}": Sum(
                    Case(When(year=y, then=m), default=Value(0)), output_field=BigIntegerField()
                )
                for m in ("generated", "utilized", "utilized_prior")
                for tag, y in (("now", year), ("before", year - 1))
            },
            stock_end=_kg_sum("stock_change"),
            stock_start=Sum(
                Case(When(year__lt=year, then="stock_change"), default=Value(0)),
                output_field=BigIntegerField(),
            ),
            last=Max("year"),
        )
        .order_by()
    )
    data = {r[column]: r for r in rows}
    result = []
    for child in children:
        r = data.get(child.code, {})

        def kg(name: str, r: Mapping[str, Any] = r) -> int:
            return int(r.get(name) or 0)

        rate = utilization_rate(
            utilized=kg("utilized_now"),
            generated=kg("generated_now"),
            utilized_prior=kg("utilized_prior_now"),
        )
        before = utilization_rate(
            utilized=kg("utilized_before"),
            generated=kg("generated_before"),
            utilized_prior=kg("utilized_prior_before"),
        )
        start, end = kg("stock_start"), kg("stock_end")
        reduction = (
            (Decimal(start - end) * 100 / Decimal(start)).quantize(Decimal("0.01"))
            if start > 0
            else None
        )
        result.append(
            AssessmentRow(
                region=child,
                rate=rate,
                rate_before=before,
                improvement=rate - before if rate is not None and before is not None else None,
                stock_start=kg_to_tonnes(start),
                stock_end=kg_to_tonnes(end),
                stock_reduction=reduction,
                scores={},
                score=None,
            )
        )
    parts = {
        "rate": min_max_scores({r.region.code: r.rate for r in result}),
        "improvement": min_max_scores({r.region.code: r.improvement for r in result}),
        "stock_reduction": min_max_scores({r.region.code: r.stock_reduction for r in result}),
    }
    weight_map = {
        "rate": weights.rate,
        "improvement": weights.improvement,
        "stock_reduction": weights.stock_reduction,
    }
    for row in result:
        row.scores = {name: parts[name][row.region.code] for name in parts}
        row.score = weighted_score(row.scores, weight_map)
    ranked = sorted(
        result, key=lambda r: (r.score is None, -(r.score or Decimal(0)), r.region.code)
    )
    for position, row in enumerate(ranked, start=1):
        row.rank = position if row.score is not None else None
    return ranked


# --- published figures ------------------------------------------------------------


@dataclass
class FigureComparison:
    figure: PublishedFigure
    ledger: dict[str, Decimal]
    ledger_rate: Decimal | None
    differences: dict[str, Decimal | None]


PUBLISHED_FIELDS = (
    "generated",
    "utilized",
    "utilized_prior",
    "disposed",
    "storage_added",
    "dumped",
)


def published_figures_compare(
    *, scope: StatScope, region: Region, year: int
) -> list[FigureComparison]:
    """The region's current published figures for ``year`` (superseded ones left out)
    beside the ledger-derived indicators of the same region, year and waste group;
    each difference is published minus ledger."""
    figures = list(
        PublishedFigure.objects.filter(region=region, year=year, superseded_by__isnull=True)
        .select_related("waste_group")
        .order_by("id")
    )
    rows = (
        _source(scope)
        .objects.filter(scope.q(), subtree_q(region.path), year=year)
        .values("waste_group_id")
        .annotate(**{m: _kg_sum(m) for m in PUBLISHED_FIELDS})
        .order_by()
    )
    by_group = {r["waste_group_id"]: r for r in rows}
    out = []
    for figure in figures:
        picked = [
            r
            for g, r in by_group.items()
            if figure.waste_group_id is None or g == figure.waste_group_id
        ]
        kg = {m: sum(int(r[m] or 0) for r in picked) for m in PUBLISHED_FIELDS}
        ledger = {m: kg_to_tonnes(v) for m, v in kg.items()}
        diffs: dict[str, Decimal | None] = {}
        for m in PUBLISHED_FIELDS:
            published = getattr(figure, m)
            diffs[m] = published - ledger[m] if published is not None else None
        out.append(
            FigureComparison(
                figure=figure,
                ledger=ledger,
                ledger_rate=utilization_rate(
                    utilized=kg["utilized"],
                    generated=kg["generated"],
                    utilized_prior=kg["utilized_prior"],
                ),
                differences=diffs,
            )
        )
    return out

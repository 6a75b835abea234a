"""Targets (as data) and their evaluation on a region: current value, gaps in points
and tonnes, projection and status (ADR 0012, 0016).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet

from xunhuan.accounts.models import WRITER_ROLES, Membership
from xunhuan.core.indicators import (
    linear_trend,
    target_status,
    utilization_gap_kg,
    utilization_rate,
    year_reached,
)
from xunhuan.core.units import kg_to_tonnes
from xunhuan.registry.models import Region, WasteGroup
from xunhuan.statistics.models import Target, TargetMetric, TargetScope
from xunhuan.statistics.selectors.tables import StatScope, User, cells_source, kg_sum, subtree_q


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
        cells_source(scope)
        .objects.filter(scope.q(), subtree_q(region.path))
        .values("year", "waste_group_id")
        .annotate(
            generated=kg_sum("generated"),
            utilized=kg_sum("utilized"),
            utilized_prior=kg_sum("utilized_prior"),
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

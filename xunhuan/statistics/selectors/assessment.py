"""The year's assessment (考核) of the regions below a province or league: rate,
improvement and stock reduction, scored and ranked (ADR 0012).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import BigIntegerField, Case, Max, Sum, Value, When

from xunhuan.core.errors import ValidationFailed
from xunhuan.core.indicators import ScoringWeights, min_max_scores, utilization_rate, weighted_score
from xunhuan.core.units import kg_to_tonnes
from xunhuan.registry.models import Region
from xunhuan.statistics.selectors.tables import StatScope, cells_source, kg_sum, subtree_q


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
    cells = cells_source(scope).objects.filter(scope.q(), subtree_q(region.path))
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
            stock_end=kg_sum("stock_change"),
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

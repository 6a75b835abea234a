"""Summary figures published by a region held beside the ledger-derived indicators."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from xunhuan.core.indicators import utilization_rate
from xunhuan.core.units import kg_to_tonnes
from xunhuan.registry.models import Region
from xunhuan.statistics.models import PublishedFigure
from xunhuan.statistics.selectors.tables import StatScope, cells_source, kg_sum, subtree_q


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
        cells_source(scope)
        .objects.filter(scope.q(), subtree_q(region.path), year=year)
        .values("waste_group_id")
        .annotate(**{m: kg_sum(m) for m in PUBLISHED_FIELDS})
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

"""Storage yards: three years of generation, permanent yards, over capacity, stock age."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from xunhuan.compliance.scanners.base import (
    ZERO,
    Hit,
    Scope,
    generated_by_waste,
    scanner,
    site_label,
)
from xunhuan.core.compliance.checks import (
    ratio_pct,
    stock_older_than_window,
    years_of,
)
from xunhuan.core.compliance.explain import tonnes
from xunhuan.ledger.models import EntryKind, LedgerEntry, StockBalance
from xunhuan.registry.models import Site, SiteKind


def _yard_stock(scope: Scope) -> list[Mapping[str, Any]]:
    rows = StockBalance.objects.filter(
        site__kind=SiteKind.STORAGE, site__enterprise__in=scope.enterprises, quantity__gt=0
    )
    if scope.rule.waste_codes:
        rows = rows.filter(waste_id__in=scope.rule.waste_codes)
    return list(
        rows.values(
            "site_id",
            "site__code",
            "site__name",
            "site__enterprise_id",
            "site__enterprise__region_id",
            "waste_id",
            "waste__name_zh",
            "quantity",
        ).order_by("site_id", "waste_id")
    )


@scanner("YARD-3Y")
def yard_three_years(scope: Scope) -> list[Hit]:
    start, end = scope.window()
    generated = generated_by_waste(scope)
    limit = scope.dec("years")
    hits = []
    for row in _yard_stock(scope):
        stock = row["quantity"]
        annual = generated.get((row["site__enterprise_id"], row["waste_id"]), ZERO)
        months = int(scope.params["months"])
        # Scale the window's generation to a year so a 6-month window still compares years.
        yearly = annual * 12 / months
        if stock <= limit * yearly:
            continue
        years = years_of(stock, yearly)
        values = {
            "site": site_label(row),
            "waste": row["waste__name_zh"],
            "stock": tonnes(stock),
            "generated": tonnes(annual),
            "months": months,
            "years": years if years is not None else "∞",
            "limit_years": limit,
        }
        hits.append(
            Hit(
                subject_key=f"s{row['site_id']}:{row['waste_id']}",
                region_id=row["site__enterprise__region_id"],
                period_start=start,
                period_end=end,
                values=values,
                enterprise_id=row["site__enterprise_id"],
                site_id=row["site_id"],
                waste_id=row["waste_id"],
            )
        )
    return hits


def _yards(scope: Scope) -> QuerySet[Site]:
    return Site.objects.filter(kind=SiteKind.STORAGE, enterprise__in=scope.enterprises).annotate(
        stock_total=Sum("stock__quantity")
    )


@scanner("YARD-PERMANENT")
def yard_permanent(scope: Scope) -> list[Hit]:
    hits = []
    for site in _yards(scope).filter(is_permanent=True).select_related("enterprise").order_by("pk"):
        stock = site.stock_total or ZERO  # type: ignore[attr-defined]
        hits.append(
            Hit(
                subject_key=f"s{site.pk}",
                region_id=site.enterprise.region_id,
                period_start=scope.as_of,
                period_end=scope.as_of,
                values={"site": f"{site.name}（{site.code}）", "stock": tonnes(stock)},
                enterprise_id=site.enterprise_id,
                site_id=site.pk,
            )
        )
    return hits


@scanner("YARD-OVER-CAPACITY")
def yard_over_capacity(scope: Scope) -> list[Hit]:
    limit = scope.dec("limit_pct")
    hits = []
    yards = (
        _yards(scope)
        .filter(design_capacity__isnull=False)
        .select_related("enterprise")
        .order_by("pk")
    )
    for site in yards:
        stock = site.stock_total or ZERO  # type: ignore[attr-defined]
        capacity = site.design_capacity
        if capacity is None or stock * 100 <= capacity * limit:
            continue
        hits.append(
            Hit(
                subject_key=f"s{site.pk}",
                region_id=site.enterprise.region_id,
                period_start=scope.as_of,
                period_end=scope.as_of,
                values={
                    "site": f"{site.name}（{site.code}）",
                    "stock": tonnes(stock),
                    "capacity": tonnes(capacity),
                    "fill": ratio_pct(stock, capacity),
                    "limit": limit,
                },
                enterprise_id=site.enterprise_id,
                site_id=site.pk,
            )
        )
    return hits


@scanner("STOCK-AGE")
def stock_age(scope: Scope) -> list[Hit]:
    years = int(scope.params["years"])
    start, end = scope.window(months=12 * years)
    stock_rows = _yard_stock(scope)
    yards = {row["site_id"] for row in stock_rows}
    window = LedgerEntry.objects.filter(occurred_on__range=(start, end))
    inflow: dict[tuple[int, str], Decimal] = {}
    # What moved into the yard from production, and what was booked at the yard directly.
    for row in (
        window.filter(kind=EntryKind.STORAGE_IN, to_site__in=yards)
        .values("to_site_id", "waste_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    ):
        inflow[(row["to_site_id"], row["waste_id"])] = row["total"] or ZERO
    for row in (
        window.filter(kind__in=[EntryKind.GENERATED, EntryKind.RECEIVED], site__in=yards)
        .values("site_id", "waste_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    ):
        key = (row["site_id"], row["waste_id"])
        inflow[key] = inflow.get(key, ZERO) + (row["total"] or ZERO)
    hits = []
    for yard in stock_rows:
        came_in = inflow.get((yard["site_id"], yard["waste_id"]), ZERO)
        old = stock_older_than_window(yard["quantity"], came_in)
        if old <= 0:
            continue
        hits.append(
            Hit(
                subject_key=f"s{yard['site_id']}:{yard['waste_id']}",
                region_id=yard["site__enterprise__region_id"],
                period_start=start,
                period_end=end,
                values={
                    "site": site_label(yard),
                    "waste": yard["waste__name_zh"],
                    "stock": tonnes(yard["quantity"]),
                    "inflow": tonnes(came_in),
                    "old": tonnes(old),
                    "years": years,
                },
                enterprise_id=yard["site__enterprise_id"],
                site_id=yard["site_id"],
                waste_id=yard["waste_id"],
            )
        )
    return hits

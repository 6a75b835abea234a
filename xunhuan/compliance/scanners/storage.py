"""Storage yards: three years of generation, permanent yards, over capacity, stock age;
hazardous waste stored over a year."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from xunhuan.compliance.models import HazardousStream
from xunhuan.compliance.scanners.base import (
    ZERO,
    Hit,
    Scope,
    generated_by_waste,
    scanner,
    site_label,
)
from xunhuan.core.compliance.checks import (
    fifo_oldest_arrival,
    ratio_pct,
    stock_older_than_window,
    years_of,
)
from xunhuan.core.compliance.explain import tonnes
from xunhuan.ledger.models import EntryKind, LedgerEntry, StockBalance
from xunhuan.registry.models import Site, SiteKind

# A stock row with what a finding about it says: the site, its enterprise, the waste.
STOCK_FIELDS = (
    "site_id",
    "site__code",
    "site__name",
    "site__enterprise_id",
    "site__enterprise__region_id",
    "waste_id",
    "waste__name_zh",
    "quantity",
)


def _yard_stock(scope: Scope) -> list[Mapping[str, Any]]:
    rows = StockBalance.objects.filter(
        site__kind=SiteKind.STORAGE, site__enterprise__in=scope.enterprises, quantity__gt=0
    )
    if scope.rule.waste_codes:
        rows = rows.filter(waste_id__in=scope.rule.waste_codes)
    return list(rows.values(*STOCK_FIELDS).order_by("site_id", "waste_id"))


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


# A yard as its findings need it: read as values, not model instances (a province has
# tens of thousands of yards; building two models per row was most of the rule's time).
YARD_FIELDS = ("pk", "code", "name", "enterprise_id", "enterprise__region_id", "design_capacity")


def _yards(scope: Scope) -> QuerySet[Site, dict[str, Any]]:
    return (
        Site.objects.filter(kind=SiteKind.STORAGE, enterprise__in=scope.enterprises)
        .annotate(stock_total=Sum("stock__quantity"))
        .values(*YARD_FIELDS, "stock_total")
        .order_by("pk")
    )


def _yard_hit(scope: Scope, yard: Mapping[str, Any], values: dict[str, Any]) -> Hit:
    return Hit(
        subject_key=f"s{yard['pk']}",
        region_id=yard["enterprise__region_id"],
        period_start=scope.as_of,
        period_end=scope.as_of,
        values={"site": f"{yard['name']}（{yard['code']}）", **values},
        enterprise_id=yard["enterprise_id"],
        site_id=yard["pk"],
    )


@scanner("YARD-PERMANENT")
def yard_permanent(scope: Scope) -> list[Hit]:
    return [
        _yard_hit(scope, yard, {"stock": tonnes(yard["stock_total"] or ZERO)})
        for yard in _yards(scope).filter(is_permanent=True)
    ]


@scanner("YARD-OVER-CAPACITY")
def yard_over_capacity(scope: Scope) -> list[Hit]:
    limit = scope.dec("limit_pct")
    hits = []
    for yard in _yards(scope).filter(design_capacity__isnull=False):
        stock = yard["stock_total"] or ZERO
        capacity = yard["design_capacity"]
        if stock * 100 <= capacity * limit:
            continue
        values = {
            "stock": tonnes(stock),
            "capacity": tonnes(capacity),
            "fill": ratio_pct(stock, capacity),
            "limit": limit,
        }
        hits.append(_yard_hit(scope, yard, values))
    return hits


@scanner("STOCK-AGE")
def stock_age(scope: Scope) -> list[Hit]:
    years = int(scope.params["years"])
    start, end = scope.window(months=12 * years)
    stock_rows = _yard_stock(scope)
    # The scope's yards as a subquery, not a list of ids: a province has tens of
    # thousands of them (SQLite caps the parameters of one statement).
    yards = Site.objects.filter(kind=SiteKind.STORAGE, enterprise__in=scope.enterprises).values(
        "pk"
    )
    # What moved into a yard from production, and what was booked at a yard directly,
    # in one scan of the window (a movement's yard is its to_site, a booking's its site).
    inflow: dict[tuple[int, str], Decimal] = {
        (row["yard"], row["waste_id"]): row["total"] or ZERO
        for row in LedgerEntry.objects.filter(
            Q(kind=EntryKind.STORAGE_IN, to_site__in=yards)
            | Q(kind__in=[EntryKind.GENERATED, EntryKind.RECEIVED], site__in=yards),
            occurred_on__range=(start, end),
        )
        .annotate(yard=Coalesce("to_site_id", "site_id"))
        .values("yard", "waste_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }
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


@scanner("HAZARDOUS-STORAGE")
def hazardous_storage(scope: Scope) -> list[Hit]:
    """Declared hazardous wastes on hand at any site (a producer's or a licensed
    receiver's) that are older than ``days`` by first-in-first-out age.

    Stock is the current balance, so the window runs from ``days`` before ``as_of``
    to the last entry, and the oldest batch is found by walking the site's daily
    inflows back from the newest (both aggregated in SQL).
    """
    days = int(scope.params["days"])
    declared = {
        (h.enterprise_id, h.waste_id): h
        for h in HazardousStream.objects.filter(enterprise__in=scope.enterprises)
    }
    if not declared:
        return []
    stock_rows = [
        row
        for row in StockBalance.objects.filter(
            site__enterprise_id__in={e for e, _ in declared},
            waste_id__in={w for _, w in declared},
            quantity__gt=0,
        )
        .values(*STOCK_FIELDS)
        .order_by("site_id", "waste_id")
        if (row["site__enterprise_id"], row["waste_id"]) in declared
    ]
    if not stock_rows:
        return []
    sites = {row["site_id"] for row in stock_rows}
    wastes = {row["waste_id"] for row in stock_rows}
    daily: dict[tuple[int, str], dict[dt.date, Decimal]] = {}

    def add(site_id: int, waste_id: str, day: dt.date, total: Decimal | None) -> None:
        per_day = daily.setdefault((site_id, waste_id), {})
        per_day[day] = per_day.get(day, ZERO) + (total or ZERO)

    # A site's entries are in its enterprise's ledger: reading only the declaring
    # enterprises' ledgers keeps this to their rows (the ledger has no to_site index).
    entries = LedgerEntry.objects.filter(
        enterprise_id__in={e for e, _ in declared}, waste_id__in=wastes
    )
    for made in (
        entries.filter(kind__in=[EntryKind.GENERATED, EntryKind.RECEIVED], site_id__in=sites)
        .values("site_id", "waste_id", "occurred_on")
        .annotate(total=Sum("quantity"))
        .order_by()
    ):
        add(made["site_id"], made["waste_id"], made["occurred_on"], made["total"])
    for moved in (
        entries.filter(kind__in=[EntryKind.STORAGE_IN, EntryKind.STORAGE_OUT], to_site_id__in=sites)
        .values("to_site_id", "waste_id", "occurred_on")
        .annotate(total=Sum("quantity"))
        .order_by()
    ):
        add(moved["to_site_id"], moved["waste_id"], moved["occurred_on"], moved["total"])
    since = scope.as_of - dt.timedelta(days=days)
    hits = []
    for row in stock_rows:
        stock = row["quantity"]
        per_day = daily.get((row["site_id"], row["waste_id"]), {})
        came_in = sum((q for day, q in per_day.items() if day > since), ZERO)
        old = stock_older_than_window(stock, came_in)
        if old <= 0:
            continue
        oldest = fifo_oldest_arrival(stock, sorted(per_day.items(), reverse=True))
        if oldest is None:
            oldest_zh = "早于台账记录"
            oldest_en = "before the ledger's first record"
        else:
            age = (scope.as_of - oldest).days
            oldest_zh = f"约于{oldest:%Y-%m-%d}入库（已{age}天）"
            oldest_en = f"arrived about {oldest:%Y-%m-%d} ({age} days)"
        declaration = declared[(row["site__enterprise_id"], row["waste_id"])]
        hw = " ".join(p for p in (declaration.hw_class, declaration.hw_code) if p)
        hits.append(
            Hit(
                subject_key=f"s{row['site_id']}:{row['waste_id']}",
                region_id=row["site__enterprise__region_id"],
                period_start=since + dt.timedelta(days=1),
                period_end=scope.as_of,
                values={
                    "site": site_label(row),
                    "waste": row["waste__name_zh"],
                    "hw": hw,
                    "stock": tonnes(stock),
                    "inflow": tonnes(came_in),
                    "old": tonnes(old),
                    "days": days,
                    "oldest": oldest_zh,
                    "oldest_en": oldest_en,
                },
                enterprise_id=row["site__enterprise_id"],
                site_id=row["site_id"],
                waste_id=row["waste_id"],
                measured={"oldest_arrival": oldest.isoformat() if oldest else ""},
            )
        )
    return hits

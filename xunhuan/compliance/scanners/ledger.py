"""Ledger completeness: month gaps, generation against the declared amount, mass
balance, dumping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Exists, Min, OuterRef, Sum
from django.db.models.functions import TruncMonth

from xunhuan.compliance.scanners.base import (
    ZERO,
    Hit,
    Scope,
    chunks,
    generated_by_waste,
    scanner,
)
from xunhuan.core.compliance.checks import (
    month_starts,
    months_missing,
    outside_band,
    ratio_pct,
)
from xunhuan.core.compliance.explain import tonnes
from xunhuan.ledger.models import EntryKind, LedgerEntry, StockBalance
from xunhuan.registry.models import SiteKind


@scanner("LEDGER-GAP")
def ledger_gap(scope: Scope) -> list[Hit]:
    start, end = scope.window()
    months = int(scope.params["months"])
    generators = (
        scope.enterprises.filter(is_generator=True, waste_streams__isnull=False)
        .distinct()
        .annotate(
            # Enterprises already keeping a ledger before the window owe every month of it.
            reported_before=Exists(
                LedgerEntry.objects.filter(enterprise=OuterRef("pk"), occurred_on__lt=start)
            )
        )
    )
    info = {
        row["pk"]: row
        for row in generators.values("pk", "region_id", "created_at", "reported_before")
    }
    in_window = LedgerEntry.objects.filter(
        enterprise__in=generators.values("pk"), occurred_on__range=(start, end)
    )
    # Months with entries, counted in the database: only an enterprise with fewer than
    # it owes has its months listed (a province keeps tens of thousands of ledgers).
    counted = {
        row["enterprise_id"]: (row["months"], row["first"])
        for row in in_window.values("enterprise_id")
        .annotate(months=Count(TruncMonth("occurred_on"), distinct=True), first=Min("occurred_on"))
        .order_by()
    }
    owed: dict[int, dt.date] = {}
    for pk, row in info.items():
        seen_count, seen_first = counted.get(pk, (0, None))
        if row["reported_before"]:
            first = start
        elif seen_first is not None:
            first = seen_first.replace(day=1)
        else:
            # Never reported: owed from registration (or the window's start).
            first = max(start, row["created_at"].date().replace(day=1))
        if first <= end and seen_count < len(month_starts(first, end)):
            owed[pk] = first
    present: dict[int, list[dt.date]] = {pk: [] for pk in owed}
    for chunk in chunks(sorted(owed)):
        for row in (
            in_window.filter(enterprise__in=chunk)
            .annotate(month=TruncMonth("occurred_on"))
            .values("enterprise_id", "month")
            .distinct()
            .order_by()
        ):
            month = row["month"]
            present[row["enterprise_id"]].append(
                month.date() if isinstance(month, dt.datetime) else month
            )
    hits = []
    for pk, first in sorted(owed.items()):
        missing = months_missing(first, end, present[pk])
        hits.append(
            Hit(
                subject_key=f"e{pk}",
                region_id=info[pk]["region_id"],
                period_start=first,
                period_end=end,
                values={
                    "months": len(month_starts(first, end)) if first != start else months,
                    "count": len(missing),
                    "missing": "、".join(f"{m:%Y-%m}" for m in missing),
                },
                enterprise_id=pk,
            )
        )
    return hits


@scanner("GENERATION-VS-DECLARED")
def generation_vs_declared(scope: Scope) -> list[Hit]:
    start, end = scope.window()
    months = int(scope.params["months"])
    low, high = scope.dec("low_pct"), scope.dec("high_pct")
    generated = generated_by_waste(scope)
    declared = (
        scope.enterprises.filter(waste_streams__estimated_annual__gt=0)
        .values("pk", "region_id", "waste_streams__waste_id", "waste_streams__waste__name_zh")
        .annotate(total=Sum("waste_streams__estimated_annual"))
        .order_by("pk", "waste_streams__waste_id")
    )
    hits = []
    for row in declared:
        waste_id = row["waste_streams__waste_id"]
        if scope.rule.waste_codes and waste_id not in scope.rule.waste_codes:
            continue
        expected = (row["total"] * months / 12).quantize(Decimal("0.001"))
        actual = generated.get((row["pk"], waste_id), ZERO)
        ratio = ratio_pct(actual, expected)
        if not outside_band(ratio, low, high):
            continue
        hits.append(
            Hit(
                subject_key=f"e{row['pk']}:{waste_id}",
                region_id=row["region_id"],
                period_start=start,
                period_end=end,
                values={
                    "waste": row["waste_streams__waste__name_zh"],
                    "generated": tonnes(actual),
                    "declared": tonnes(row["total"]),
                    "ratio": ratio,
                    "low": low,
                    "high": high,
                    "months": months,
                },
                enterprise_id=row["pk"],
                waste_id=waste_id,
            )
        )
    return hits


@scanner("MASS-BALANCE")
def mass_balance(scope: Scope) -> list[Hit]:
    start, end = scope.window()
    tolerance = scope.dec("tolerance_pct")
    generated = generated_by_waste(scope)
    # Whatever is still booked at a production site was generated and never stored,
    # utilized, disposed of, handed over or dumped: the balance's open remainder.
    rows = (
        StockBalance.objects.filter(
            site__kind=SiteKind.PRODUCTION, site__enterprise__in=scope.enterprises, quantity__gt=0
        )
        .values("site__enterprise_id", "site__enterprise__region_id", "waste_id", "waste__name_zh")
        .annotate(total=Sum("quantity"))
        .order_by("site__enterprise_id", "waste_id")
    )
    hits = []
    for row in rows:
        if scope.rule.waste_codes and row["waste_id"] not in scope.rule.waste_codes:
            continue
        made = generated.get((row["site__enterprise_id"], row["waste_id"]), ZERO)
        open_t = row["total"] or ZERO
        share = ratio_pct(open_t, made)
        if share is not None and share <= tolerance:
            continue
        hits.append(
            Hit(
                subject_key=f"e{row['site__enterprise_id']}:{row['waste_id']}",
                region_id=row["site__enterprise__region_id"],
                period_start=start,
                period_end=end,
                values={
                    "waste": row["waste__name_zh"],
                    "unaccounted": tonnes(open_t),
                    "generated": tonnes(made),
                    "share": share if share is not None else "∞",
                    "tolerance": tolerance,
                    "months": int(scope.params["months"]),
                },
                enterprise_id=row["site__enterprise_id"],
                waste_id=row["waste_id"],
            )
        )
    return hits


@scanner("DISCARDED")
def discarded(scope: Scope) -> list[Hit]:
    start, end = scope.window()
    rows = (
        scope.entries()
        .filter(kind=EntryKind.DISCARDED, occurred_on__range=(start, end))
        .values("enterprise_id", "enterprise__region_id", "waste_id", "waste__name_zh")
        .annotate(total=Sum("quantity"), count=Count("pk"))
        .order_by("enterprise_id", "waste_id")
    )
    hits = []
    for row in rows:
        total = row["total"] or ZERO
        if total <= 0:  # fully reversed
            continue
        hits.append(
            Hit(
                subject_key=f"e{row['enterprise_id']}:{row['waste_id']}",
                region_id=row["enterprise__region_id"],
                period_start=start,
                period_end=end,
                values={
                    "waste": row["waste__name_zh"],
                    "discarded": tonnes(total),
                    "count": row["count"],
                    "months": int(scope.params["months"]),
                },
                enterprise_id=row["enterprise_id"],
                waste_id=row["waste_id"],
            )
        )
    return hits

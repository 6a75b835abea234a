"""Reads of the ledger. Callers pass the enterprises the user may see
(``xunhuan.accounts.selectors.enterprises_visible_to``); nothing here widens that."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet, Sum

from xunhuan.core.errors import NotFound
from xunhuan.core.ids import is_uuid
from xunhuan.ledger.models import LedgerEntry, StockBalance
from xunhuan.registry.models import Enterprise


def ledger_entries_list(
    *,
    enterprises: QuerySet[Enterprise],
    enterprise: Enterprise | None = None,
    site_code: str | None = None,
    waste_code: str | None = None,
    kind: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[LedgerEntry]:
    """Entries of the visible enterprises, newest first, with what a listing shows joined in."""
    rows = LedgerEntry.objects.filter(enterprise__in=enterprises)
    if enterprise is not None:
        rows = rows.filter(enterprise=enterprise)
    if site_code:
        rows = rows.filter(site__code=site_code)
    if waste_code:
        rows = rows.filter(waste_id=waste_code)
    if kind:
        rows = rows.filter(kind=kind)
    if date_from:
        rows = rows.filter(occurred_on__gte=date_from)
    if date_to:
        rows = rows.filter(occurred_on__lte=date_to)
    return rows.select_related(
        "enterprise", "site", "to_site", "waste", "stream", "counterparty", "reverses", "corrects"
    ).order_by("-occurred_on", "-seq")


def ledger_entry_get(*, enterprises: QuerySet[Enterprise], public_id: str) -> LedgerEntry:
    entry = (
        ledger_entries_list(enterprises=enterprises).filter(public_id=public_id).first()
        if is_uuid(public_id)
        else None
    )
    if entry is None:
        raise NotFound("台账记录不存在 / ledger entry not found", field="entry")
    return entry


def stock_list(*, enterprises: QuerySet[Enterprise]) -> QuerySet[StockBalance]:
    """Stock on hand per (site, waste) of the visible enterprises, non-zero only."""
    return (
        StockBalance.objects.filter(site__enterprise__in=enterprises, quantity__gt=0)
        .select_related("site", "site__enterprise", "waste")
        .order_by("site__enterprise_id", "site__code", "waste_id")
    )


def stock_recomputed(*, enterprise: Enterprise) -> dict[tuple[int, str], Decimal]:
    """Stock per (site, waste) summed from the raw entries, for the verify command."""
    totals: dict[tuple[int, str], Decimal] = {}
    base = LedgerEntry.objects.filter(enterprise=enterprise)
    signed = {
        "plus": base.filter(kind__in=["generated", "received"]),
        "minus": base.exclude(kind__in=["generated", "received"]),
        "into": base.filter(kind__in=["storage_in", "storage_out"]),
    }
    for name, rows in signed.items():
        site_field = "to_site_id" if name == "into" else "site_id"
        for site_id, waste_id, total in (
            rows.values_list(site_field, "waste_id").annotate(total=Sum("quantity")).order_by()
        ):
            delta = -total if name == "minus" else total
            key = (site_id, waste_id)
            totals[key] = totals.get(key, Decimal("0.000")) + delta
    return totals


def ledger_entries_reload(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """The given entries again, with their related rows joined for output, in the same order."""
    by_id = {
        e.pk: e
        for e in LedgerEntry.objects.filter(pk__in=[e.pk for e in entries]).select_related(
            "enterprise", "site", "to_site", "stream", "counterparty", "reverses", "corrects"
        )
    }
    return [by_id[e.pk] for e in entries]


def ledger_totals_by_waste_and_kind(
    *, enterprise: Enterprise, date_from: dt.date, date_to: dt.date
) -> list[tuple[str, str, Decimal]]:
    """Net tonnes per (waste code, entry kind) of one enterprise's entries dated in the
    period, summed in SQL. A correction's reversal is a negative entry of the same kind,
    so these are the totals of the ledger as corrected."""
    rows = (
        LedgerEntry.objects.filter(
            enterprise=enterprise, occurred_on__gte=date_from, occurred_on__lte=date_to
        )
        .values_list("waste_id", "kind")
        .annotate(total=Sum("quantity"))
        .order_by("waste_id", "kind")
    )
    return [(waste, kind, total) for waste, kind, total in rows]


def ledger_years(*, enterprise: Enterprise) -> list[int]:
    """The calendar years in which the enterprise has entries, oldest first."""
    dates = LedgerEntry.objects.filter(enterprise=enterprise).dates("occurred_on", "year")
    return [d.year for d in dates]

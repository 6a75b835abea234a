"""Pure checks on numbers that the compliance rules apply to aggregated ledger figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

HUNDRED = Decimal(100)


def ratio_pct(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (two places), or None when ``whole`` is zero."""
    if whole == 0:
        return None
    return (part * HUNDRED / whole).quantize(Decimal("0.01"))


def years_of(stock: Decimal, annual: Decimal) -> Decimal | None:
    """How many years of ``annual`` the ``stock`` amounts to (two places); None if no flow."""
    if annual <= 0:
        return None
    return (stock / annual).quantize(Decimal("0.01"))


def stock_older_than_window(stock: Decimal, inflow_in_window: Decimal) -> Decimal:
    """Tonnes of ``stock`` that must have arrived before the window, first in first out.

    Whatever is on hand beyond all that came in during the window is older than the
    window, however the yard was emptied in between.
    """
    return max(stock - inflow_in_window, Decimal(0))


@dataclass(frozen=True)
class Limit:
    """A norm on one measured value: ``value >= bound`` (``at_least``) or ``<=`` (``at_most``)."""

    measure: str
    direction: Literal["at_least", "at_most"]
    bound: Decimal
    label_zh: str
    label_en: str
    unit: str


@dataclass(frozen=True)
class Breach:
    limit: Limit
    value: Decimal


def limits_breached(
    measures: Mapping[str, Decimal | None], limits: Iterable[Limit]
) -> list[Breach]:
    """The limits that the measured values fail; an unmeasured value breaches nothing
    (a missing parameter is a registration gap, not a norm violation)."""
    breaches = []
    for limit in limits:
        value = measures.get(limit.measure)
        if value is None:
            continue
        failed = value < limit.bound if limit.direction == "at_least" else value > limit.bound
        if failed:
            breaches.append(Breach(limit, value))
    return breaches


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of every month from ``first``'s month to ``last``'s month inclusive."""
    months = []
    current = first.replace(day=1)
    while current <= last:
        months.append(current)
        current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return months


def months_missing(first: dt.date, last: dt.date, present: Iterable[dt.date]) -> list[dt.date]:
    """Months between ``first`` and ``last`` (inclusive) in which nothing was recorded."""
    seen = {day.replace(day=1) for day in present}
    return [month for month in month_starts(first, last) if month not in seen]


def outside_band(ratio: Decimal | None, low: Decimal, high: Decimal) -> bool:
    """Whether a percentage lies outside ``[low, high]``; None (no reference) never does."""
    return ratio is not None and (ratio < low or ratio > high)

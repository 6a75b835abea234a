"""Pure checks on numbers that the compliance rules apply to aggregated ledger figures."""

from __future__ import annotations

import datetime as dt
import math
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


def fifo_oldest_arrival(
    stock: Decimal, inflows_newest_first: Iterable[tuple[dt.date, Decimal]]
) -> dt.date | None:
    """The day the oldest tonne of ``stock`` arrived, first in first out.

    What leaves a site leaves oldest first, so the stock on hand is the most recent
    inflows adding up to it: walk back from the newest day until they cover the stock.
    None when everything on record does not cover it (the oldest tonnes arrived before
    the ledger begins) or when there is no stock.
    """
    if stock <= 0:
        return None
    covered = Decimal(0)
    for day, quantity in inflows_newest_first:
        covered += quantity
        if covered >= stock:
            return day
    return None


HW_CLASSES = range(1, 51)  # 国家危险废物名录（2021年版）: HW01 to HW50


def hazardous_code_parse(hw_class: str, hw_code: str = "") -> tuple[str, str]:
    """``hw_class`` (``HW48``) and the optional 8-digit waste code (``321-024-48``) in
    their canonical form, or ValueError. The code's last two digits are its class
    (名录2021: 行业来源代码-顺序号-类别号)."""
    klass = hw_class.strip().upper()
    if len(klass) != 4 or not klass.startswith("HW") or not klass[2:].isdigit():
        raise ValueError(f"危险废物类别应为HW01–HW50：{hw_class}")
    if int(klass[2:]) not in HW_CLASSES:
        raise ValueError(f"危险废物类别应为HW01–HW50：{hw_class}")
    code = hw_code.strip()
    if code:
        parts = code.split("-")
        shape = [len(p) for p in parts]
        if shape != [3, 3, 2] or not all(p.isdigit() for p in parts):
            raise ValueError(f"危险废物代码应为“三位-三位-两位”数字：{hw_code}")
        if parts[2] != klass[2:]:
            raise ValueError(f"危险废物代码{code}不属于类别{klass}")
    return klass, code


EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> Decimal:
    """Great-circle (haversine) distance in km, to one decimal: a 30 km zone radius
    needs no more precision than registered coordinates carry."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return Decimal(f"{2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h)):.1f}")

"""Official solid-waste indicators, Django-free: how ledger flows become the statistics.

The definitions are those of environmental statistics (see
``docs/adr/0010-official-indicators-from-the-ledger.md``):

* 综合利用率 (utilization rate) = 综合利用量 ÷ (产生量 + 综合利用往年贮存量) × 100%;
* identity: 产生量 = (综合利用量 − 其中往年贮存量) + (处置量 − 其中往年贮存量)
  + 本年贮存量 + 倾倒丢弃量.

Everything here works on whole kilograms (``int``) so that sums are exact, and
on one enterprise's series of monthly flows of one waste (``MonthFlows``), in
month order. ``derive_series`` turns those flows into the official indicators
per month; the indicators of any larger group are then plain sums, and a rate
is computed from the summed quantities only (never averaged).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

RATE_QUANTUM = Decimal("0.01")
HUNDRED = Decimal(100)


@dataclass
class MonthFlows:
    """One enterprise's ledger flows of one waste in one month, as sums of entries (kg).

    ``yard_*`` are the parts that left a storage yard (a site of kind ``storage``):
    utilization, disposal or dumping at/from a yard, and withdrawals (``storage_out``
    from a yard to a site that is not a yard). ``yard_delta`` is the month's net
    change of the stock held in yards. Reversals carry negative quantities and so
    are already netted into these sums.
    """

    month: dt.date
    generated: int = 0
    received: int = 0
    self_utilized: int = 0
    handed_utilization: int = 0
    self_disposed: int = 0
    handed_disposal: int = 0
    discarded: int = 0
    yard_utilized: int = 0
    yard_disposed: int = 0
    yard_discarded: int = 0
    yard_withdrawn: int = 0
    yard_delta: int = 0
    self_utilized_by_route: dict[str, int] = field(default_factory=dict)
    handed_by_route: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MonthIndicators:
    """The official indicators of one enterprise, waste and month (kg).

    ``utilized``, ``disposed`` and ``dumped`` count only waste of the enterprise's own
    generation: what it received from another enterprise was already counted by its
    generator (委托利用/处置) and is deducted here (``received_handled``).
    ``stock_change`` is the change of stock on hand of every origin (it equals the
    ledger's stock balances), so stock at a date is the sum of all earlier months.
    """

    month: dt.date
    generated: int
    utilized: int
    utilized_prior: int
    disposed: int
    disposed_prior: int
    storage_added: int
    dumped: int
    received: int
    received_handled: int
    stock_change: int
    utilized_by_route: Mapping[str, int]


def _take(available: int, wanted: int) -> int:
    """How much of ``wanted`` (may be negative after a reversal) ``available`` covers."""
    return max(0, min(available, wanted))


def _deduct_by_route(by_route: Mapping[str, int], amount: int) -> dict[str, int]:
    """``by_route`` less ``amount``, taken from routes in code order (deterministic)."""
    out = {}
    for route in sorted(by_route):
        taken = _take(amount, by_route[route])
        amount -= taken
        out[route] = by_route[route] - taken
    return out


def derive_series(months: Sequence[MonthFlows], *, yard_opening: int = 0) -> list[MonthIndicators]:
    """The official indicators of each month of one enterprise's series for one waste.

    ``months`` must be in month order and start at the first month the enterprise
    recorded this waste (``yard_opening`` is then 0); the state carried from month to
    month is:

    1. **Received waste first.** Waste received from another enterprise is handled
       before the enterprise's own: each month's self-utilization, handing over
       (utilization, then disposal), self-disposal and dumping first use up what was
       received and not yet handled; only the rest counts as the enterprise's own
       utilization, disposal or dumping. This keeps region totals from counting a
       tonne twice (once at the generator that handed it over, once at the receiver).
    2. **Previous years' stock (往年贮存) comes out of yards first-in first-out.** The
       stock held in the enterprise's yards on 1 January is the previous years'
       stock; in that year, everything leaving a yard (utilization, withdrawals for
       utilization, then disposal, then dumping) uses it up before it uses waste
       stored during the year. The part used for utilization (at most the month's
       own utilization) is 综合利用往年贮存量; the part disposed of is 处置往年贮存量.
    3. **本年贮存量** follows from the official identity:
       产生 − (利用 − 利用往年) − (处置 − 处置往年) − 倾倒丢弃.
    """
    out: list[MonthIndicators] = []
    received_pool = 0
    yard_stock = yard_opening
    year: int | None = None
    prior_left = 0
    for m in months:
        if m.month.year != year:
            year = m.month.year
            prior_left = max(yard_stock, 0)
        received_pool += m.received
        own = {}
        handled = 0
        for name in (
            "self_utilized",
            "handed_utilization",
            "handed_disposal",
            "self_disposed",
            "discarded",
        ):
            flow = getattr(m, name)
            taken = _take(received_pool, flow)
            received_pool -= taken
            handled += taken
            own[name] = flow - taken
        utilized = own["self_utilized"] + own["handed_utilization"]
        disposed = own["self_disposed"] + own["handed_disposal"]
        dumped = own["discarded"]
        prior_u = _take(prior_left, m.yard_utilized + m.yard_withdrawn)
        prior_left -= prior_u
        prior_d = _take(prior_left, m.yard_disposed)
        prior_left -= prior_d
        prior_x = _take(prior_left, m.yard_discarded)
        prior_left -= prior_x
        utilized_prior = max(0, min(prior_u, utilized))
        disposed_prior = max(0, min(prior_d, disposed))
        self_routes = _deduct_by_route(
            m.self_utilized_by_route, m.self_utilized - own["self_utilized"]
        )
        handed_routes = _deduct_by_route(
            m.handed_by_route, m.handed_utilization - own["handed_utilization"]
        )
        routes = {
            r: self_routes.get(r, 0) + handed_routes.get(r, 0)
            for r in sorted({*self_routes, *handed_routes})
        }
        out.append(
            MonthIndicators(
                month=m.month,
                generated=m.generated,
                utilized=utilized,
                utilized_prior=utilized_prior,
                disposed=disposed,
                disposed_prior=disposed_prior,
                storage_added=m.generated
                - (utilized - utilized_prior)
                - (disposed - disposed_prior)
                - dumped,
                dumped=dumped,
                received=m.received,
                received_handled=handled,
                stock_change=m.generated
                + m.received
                - m.self_utilized
                - m.handed_utilization
                - m.self_disposed
                - m.handed_disposal
                - m.discarded,
                utilized_by_route={r: kg for r, kg in routes.items() if kg},
            )
        )
        yard_stock += m.yard_delta
    return out


def utilization_rate(*, utilized: int, generated: int, utilized_prior: int) -> Decimal | None:
    """综合利用率 in percent (two places), or ``None`` where it is undefined.

    Undefined when nothing was generated and no previous years' stock was utilized
    (the denominator is zero): a region without generation has no rate, not 0%.
    """
    denominator = generated + utilized_prior
    if denominator <= 0:
        return None
    return (Decimal(utilized) * HUNDRED / Decimal(denominator)).quantize(
        RATE_QUANTUM, rounding=ROUND_HALF_EVEN
    )


def utilization_gap_kg(
    *, utilized: int, generated: int, utilized_prior: int, target_percent: Decimal
) -> int | None:
    """Kilograms more that must be utilized to reach ``target_percent`` (0 if reached).

    Extra utilization is assumed to be of the year's own generation, so the
    denominator stays the same: ``target × (产生 + 利用往年) − 利用``, rounded up
    to the kilogram. ``None`` where the rate is undefined.
    """
    denominator = generated + utilized_prior
    if denominator <= 0:
        return None
    needed = target_percent * Decimal(denominator) / HUNDRED - Decimal(utilized)
    if needed <= 0:
        return 0
    return int(needed.to_integral_value(rounding="ROUND_CEILING"))


@dataclass(frozen=True)
class Trend:
    """A least-squares line through (year, value) points."""

    slope: Decimal
    intercept: Decimal

    def at(self, year: int) -> Decimal:
        return self.slope * year + self.intercept


def linear_trend(points: Iterable[tuple[int, Decimal]]) -> Trend | None:
    """Ordinary least squares over ``(year, value)``; ``None`` with fewer than two years."""
    pts = [(Decimal(x), y) for x, y in points]
    if len({x for x, _ in pts}) < 2:
        return None
    n = Decimal(len(pts))
    mean_x = sum((x for x, _ in pts), Decimal(0)) / n
    mean_y = sum((y for _, y in pts), Decimal(0)) / n
    sxx = sum(((x - mean_x) ** 2 for x, _ in pts), Decimal(0))
    sxy = sum(((x - mean_x) * (y - mean_y) for x, y in pts), Decimal(0))
    slope = sxy / sxx
    return Trend(slope=slope, intercept=mean_y - slope * mean_x)


def year_reached(
    *, trend: Trend | None, current_year: int, current: Decimal, target: Decimal
) -> int | None:
    """First year the trend reaches ``target`` (``current_year`` if already reached);
    ``None`` if the trend is flat or falling, or unknown."""
    if current >= target:
        return current_year
    if trend is None or trend.slope <= 0:
        return None
    exact = (target - trend.intercept) / trend.slope
    year = int(exact.to_integral_value(rounding="ROUND_CEILING"))
    return max(year, current_year + 1)


class Status:
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    UNKNOWN = "unknown"


def target_status(
    *, current: Decimal | None, target: Decimal, target_year: int, reached_in: int | None
) -> str:
    """Red/amber/green: green if reached, amber if the trend reaches it by the
    target year, red otherwise; unknown when there is no current value."""
    if current is None:
        return Status.UNKNOWN
    if current >= target:
        return Status.GREEN
    if reached_in is not None and reached_in <= target_year:
        return Status.AMBER
    return Status.RED


@dataclass(frozen=True)
class ScoringWeights:
    """Assessment (考核) weights; each criterion scores 0–100 within the field and the
    total is their weighted mean. Configurable per assessment."""

    rate: Decimal = Decimal("0.5")
    improvement: Decimal = Decimal("0.3")
    stock_reduction: Decimal = Decimal("0.2")


def min_max_scores(values: Mapping[str, Decimal | None]) -> dict[str, Decimal | None]:
    """Scale each value to 0–100 between the field's worst and best (all equal: 100).

    ``None`` (undefined, e.g. no generation) stays ``None`` and does not take part.
    """
    known = [v for v in values.values() if v is not None]
    if not known:
        return dict.fromkeys(values)
    low, high = min(known), max(known)
    out: dict[str, Decimal | None] = {}
    for key, value in values.items():
        if value is None:
            out[key] = None
        elif high == low:
            out[key] = HUNDRED
        else:
            out[key] = ((value - low) * HUNDRED / (high - low)).quantize(RATE_QUANTUM)
    return out


def weighted_score(
    parts: Mapping[str, Decimal | None], weights: Mapping[str, Decimal]
) -> Decimal | None:
    """Weighted mean of the defined parts (weights of undefined parts drop out)."""
    total = Decimal(0)
    weight = Decimal(0)
    for name, value in parts.items():
        if value is None:
            continue
        total += value * weights[name]
        weight += weights[name]
    if weight == 0:
        return None
    return (total / weight).quantize(RATE_QUANTUM)

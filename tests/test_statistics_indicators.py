"""``xunhuan.core.indicators`` without the database: the rate, the derivation rules,
gaps, trends, status and scoring, on hand-computed numbers (kilograms)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from xunhuan.core.indicators import (
    MonthFlows,
    Trend,
    derive_series,
    linear_trend,
    min_max_scores,
    target_status,
    utilization_gap_kg,
    utilization_rate,
    weighted_score,
    year_reached,
)


def test_rate_formula_and_published_check() -> None:
    # 2018 coal gangue (万t): 19000 ÷ (35000 + 380.8) = 53.70%, as published
    assert utilization_rate(utilized=190_000, generated=350_000, utilized_prior=3_808) == Decimal(
        "53.70"
    )
    assert utilization_rate(utilized=0, generated=0, utilized_prior=0) is None
    assert utilization_rate(utilized=5, generated=0, utilized_prior=5) == Decimal("100.00")


def test_received_waste_is_deducted_across_months() -> None:
    months = [
        MonthFlows(
            month=dt.date(2025, 1, 1),
            received=1000,
            self_utilized=600,
            self_utilized_by_route={"cement": 600},
        ),
        MonthFlows(
            month=dt.date(2025, 2, 1),
            generated=500,
            self_utilized=900,
            self_utilized_by_route={"bricks": 300, "cement": 600},
        ),
    ]
    jan, feb = derive_series(months)
    assert (jan.utilized, jan.received_handled, jan.utilized_by_route) == (0, 600, {})
    # 400 t received in January are still to be handled first in February
    assert (feb.utilized, feb.received_handled) == (500, 400)
    # the deduction is taken from routes in code order: bricks 300, then cement 100
    assert feb.utilized_by_route == {"cement": 500}
    assert feb.storage_added == 0
    assert [m.stock_change for m in (jan, feb)] == [400, -400]


def test_prior_stock_resets_each_january_and_is_first_out() -> None:
    months = [
        MonthFlows(month=dt.date(2024, 3, 1), generated=1000, yard_delta=800),
        # 2025: the yard holds 800 of previous years' stock
        MonthFlows(
            month=dt.date(2025, 2, 1),
            generated=100,
            self_utilized=500,
            yard_utilized=500,
            yard_delta=-500 + 100,
            self_utilized_by_route={"x": 500},
        ),
        MonthFlows(
            month=dt.date(2025, 6, 1), self_disposed=400, yard_disposed=400, yard_delta=-400
        ),
        # 2026: what is left in the yard (0 + the 100 stored in 2025 − …) is the new prior
        MonthFlows(
            month=dt.date(2026, 1, 1),
            self_utilized=50,
            yard_utilized=50,
            yard_delta=-50,
            self_utilized_by_route={"x": 50},
        ),
    ]
    y24, feb25, jun25, jan26 = derive_series(months)
    assert (y24.utilized_prior, y24.storage_added) == (0, 1000)
    assert (feb25.utilized, feb25.utilized_prior) == (500, 500)
    # 300 prior left for disposal in June; 100 of the disposal is this year's waste
    assert (jun25.disposed, jun25.disposed_prior) == (400, 300)
    # identity for 2025: 100 = (500 − 500) + (400 − 300) + stored + 0 -> stored 0
    assert feb25.storage_added + jun25.storage_added == 0
    assert jan26.utilized_prior == 0  # the yard was empty on 1 January 2026
    assert jan26.storage_added == -50  # shown, not hidden: used waste not in a yard


def test_prior_is_capped_by_own_utilization() -> None:
    # a withdrawal from the yard is utilization only as far as the month utilized
    (m,) = derive_series(
        [
            MonthFlows(
                month=dt.date(2025, 5, 1),
                yard_withdrawn=300,
                self_utilized=100,
                self_utilized_by_route={"x": 100},
                yard_delta=-300,
            )
        ],
        yard_opening=1000,
    )
    assert (m.utilized, m.utilized_prior) == (100, 100)


def test_gap_in_tonnes_rounds_up_to_the_kilogram() -> None:
    # 73% of (1000 + 1) = 730.73 -> 731 − 700 = 31 kg more
    assert (
        utilization_gap_kg(
            utilized=700, generated=1000, utilized_prior=1, target_percent=Decimal("73")
        )
        == 31
    )
    assert (
        utilization_gap_kg(
            utilized=800, generated=1000, utilized_prior=0, target_percent=Decimal("73")
        )
        == 0
    )
    assert (
        utilization_gap_kg(utilized=0, generated=0, utilized_prior=0, target_percent=Decimal("73"))
        is None
    )


def test_trend_projection_and_status() -> None:
    trend = linear_trend([(2023, Decimal("40")), (2024, Decimal("45")), (2025, Decimal("50"))])
    assert trend == Trend(slope=Decimal(5), intercept=Decimal(-10075))
    assert (
        year_reached(trend=trend, current_year=2025, current=Decimal("50"), target=Decimal("57"))
        == 2027
    )
    assert (
        year_reached(
            trend=Trend(Decimal(0), Decimal(50)),
            current_year=2025,
            current=Decimal("50"),
            target=Decimal("57"),
        )
        is None
    )
    assert linear_trend([(2025, Decimal("50"))]) is None
    assert (
        target_status(
            current=Decimal("57"), target=Decimal("57"), target_year=2025, reached_in=2025
        )
        == "green"
    )
    assert (
        target_status(
            current=Decimal("50"), target=Decimal("57"), target_year=2027, reached_in=2027
        )
        == "amber"
    )
    assert (
        target_status(
            current=Decimal("50"), target=Decimal("57"), target_year=2026, reached_in=2027
        )
        == "red"
    )
    assert (
        target_status(current=None, target=Decimal("57"), target_year=2026, reached_in=None)
        == "unknown"
    )


def test_scoring() -> None:
    scores = min_max_scores({"a": Decimal("10"), "b": Decimal("20"), "c": None, "d": Decimal("15")})
    assert scores == {
        "a": Decimal("0.00"),
        "b": Decimal("100.00"),
        "c": None,
        "d": Decimal("50.00"),
    }
    assert min_max_scores({"a": Decimal("3"), "b": Decimal("3")}) == {
        "a": Decimal(100),
        "b": Decimal(100),
    }
    weights = {"rate": Decimal("0.5"), "improvement": Decimal("0.3"), "stock": Decimal("0.2")}
    # undefined parts drop out with their weight: (80 × 0.5 + 50 × 0.2) ÷ 0.7
    assert weighted_score(
        {"rate": Decimal("80"), "improvement": None, "stock": Decimal("50")}, weights
    ) == Decimal("71.43")
    assert weighted_score({"rate": None, "improvement": None, "stock": None}, weights) is None

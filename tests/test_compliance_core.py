"""The Django-free parts: typed parameters, explanations and the checks on numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from xunhuan.core.compliance.checks import (
    Limit,
    distance_km,
    fifo_oldest_arrival,
    hazardous_code_parse,
    limits_breached,
    months_missing,
    outside_band,
    ratio_pct,
    stock_older_than_window,
    years_of,
)
from xunhuan.core.compliance.explain import explanation_render, template_fields
from xunhuan.core.compliance.library import (
    RULES,
    Severity,
    industry_in_scope,
    rule_get,
    shortfall_severity,
)
from xunhuan.core.compliance.params import ParamSpec, params_as_text, params_resolve
from xunhuan.core.errors import ValidationFailed

YEARS = ParamSpec("years", "decimal", Decimal("3"), "年限", "years", Decimal("0.5"), Decimal("20"))
MONTHS = ParamSpec("months", "int", 12, "月数", "months", Decimal(1), Decimal(60))
STRICT = ParamSpec("strict", "bool", False, "从严", "strict")


def test_params_parse_to_their_types() -> None:
    values = params_resolve(
        (YEARS, MONTHS, STRICT), {"years": "2.5", "months": "6", "strict": "yes"}
    )
    assert values == {"years": Decimal("2.5"), "months": 6, "strict": True}
    assert params_as_text(values) == {"months": "6", "strict": "true", "years": "2.5"}
    assert params_resolve((YEARS,), {}) == {"years": Decimal("3")}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"years": "0.4"}, "params.years"),
        ({"years": "21"}, "params.years"),
        ({"years": 2.5}, "params.years"),
        ({"years": "abc"}, "params.years"),
        ({"years": "NaN"}, "params.years"),
        ({"months": "6.5"}, "params.months"),
        ({"strict": "maybe"}, "params.strict"),
        ({"yeers": "3"}, "params"),
    ],
)
def test_params_refuse_what_they_cannot_hold(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        params_resolve((YEARS, MONTHS, STRICT), overrides)
    assert refused.value.field == field


def test_explanations_fill_every_field_or_refuse() -> None:
    text = explanation_render(
        "现存{stock}吨，{rate}%，{n}笔",
        {"stock": Decimal("1234.5"), "rate": Decimal("99.90"), "n": 12000},
    )
    assert text == "现存1,234.5吨，99.90%，12,000笔"
    with pytest.raises(KeyError):
        explanation_render("{missing}", {})


def test_every_rule_is_well_formed() -> None:
    assert len({rule.rule_id for rule in RULES}) == len(RULES) == 27
    for rule in RULES:
        # Both languages say the same things: English fields are the Chinese ones,
        # with an ``_en`` twin where the value itself is words.
        english = {name.removesuffix("_en") for name in template_fields(rule.template_en)}
        assert english == template_fields(rule.template_zh), rule.rule_id
        assert rule.source, rule.rule_id
        assert rule.verification, rule.rule_id
        for spec in rule.params:
            assert spec.parse(str(spec.default)) == spec.default, (rule.rule_id, spec.name)
    assert rule_get(" yard-3y ") is not None
    assert rule_get("NOPE") is None
    aluminium = rule_get("AL-GB21346")
    assert aluminium is not None
    assert industry_in_scope(aluminium, "3216")
    assert not industry_in_scope(aluminium, "3211")


def test_checks_on_numbers() -> None:
    assert ratio_pct(Decimal("1"), Decimal("3")) == Decimal("33.33")
    assert ratio_pct(Decimal("1"), Decimal("0")) is None
    assert years_of(Decimal("350"), Decimal("100")) == Decimal("3.50")
    assert years_of(Decimal("350"), Decimal("0")) is None
    assert stock_older_than_window(Decimal("600"), Decimal("100")) == Decimal("500")
    assert stock_older_than_window(Decimal("90"), Decimal("100")) == Decimal("0")
    assert months_missing(
        dt.date(2024, 11, 5), dt.date(2025, 2, 28), [dt.date(2024, 11, 30), dt.date(2025, 1, 2)]
    ) == [
        dt.date(2024, 12, 1),
        dt.date(2025, 2, 1),
    ]
    assert outside_band(Decimal("150.01"), Decimal("50"), Decimal("150"))
    assert not outside_band(Decimal("150.00"), Decimal("50"), Decimal("150"))
    assert not outside_band(None, Decimal("50"), Decimal("150"))
    limits = [
        Limit("current", "at_least", Decimal("400"), "槽电流", "current", "kA"),
        Limit("ac", "at_most", Decimal("12750"), "电耗", "AC", "kWh/t"),
    ]
    breaches = limits_breached({"current": Decimal("399.9"), "ac": None}, limits)
    assert [(b.limit.measure, b.value) for b in breaches] == [("current", Decimal("399.9"))]


@pytest.mark.parametrize(
    ("default", "rate", "minimum", "graded"),
    [
        (Severity.MEDIUM, "49.99", "100", Severity.HIGH),  # under half the minimum
        (Severity.MEDIUM, "50.00", "100", Severity.MEDIUM),
        (Severity.MEDIUM, "89.99", "100", Severity.MEDIUM),
        (Severity.MEDIUM, "90.00", "100", Severity.LOW),  # within 10 points
        (Severity.HIGH, "10", "100", Severity.HIGH),  # never graver than high
        (Severity.HIGH, "95", "100", Severity.MEDIUM),
        (Severity.LOW, "95", "100", Severity.LOW),  # never lighter than low
        (Severity.MEDIUM, "30", "70", Severity.HIGH),  # half of a 70 % minimum is 35
        (Severity.MEDIUM, "60", "70", Severity.LOW),
    ],
)
def test_rate_findings_are_graded_by_their_shortfall(
    default: Severity, rate: str, minimum: str, graded: Severity
) -> None:
    assert shortfall_severity(default, rate=Decimal(rate), minimum=Decimal(minimum)) == graded


def test_fifo_oldest_arrival() -> None:
    inflows = [
        (dt.date(2025, 3, 1), Decimal("100")),
        (dt.date(2024, 3, 1), Decimal("300")),
        (dt.date(2023, 1, 1), Decimal("50")),
    ]
    assert fifo_oldest_arrival(Decimal("100"), inflows) == dt.date(2025, 3, 1)
    assert fifo_oldest_arrival(Decimal("100.001"), inflows) == dt.date(2024, 3, 1)
    assert fifo_oldest_arrival(Decimal("450"), inflows) == dt.date(2023, 1, 1)
    assert fifo_oldest_arrival(Decimal("450.001"), inflows) is None  # before the records
    assert fifo_oldest_arrival(Decimal("0"), inflows) is None


def test_hazardous_codes_and_distances() -> None:
    assert hazardous_code_parse(" hw48 ", " 321-024-48 ") == ("HW48", "321-024-48")
    assert hazardous_code_parse("HW01") == ("HW01", "")
    for klass, code, message in (
        ("HW51", "", "HW01–HW50"),
        ("HW00", "", "HW01–HW50"),
        ("W48", "", "HW01–HW50"),
        ("HW48", "321-024-49", "不属于类别HW48"),
    ):
        with pytest.raises(ValueError, match=message):
            hazardous_code_parse(klass, code)
    centre = (Decimal("39.9"), Decimal("111.2"))
    assert distance_km(*centre, Decimal("40.1"), Decimal("111.2")) == Decimal("22.2")
    assert distance_km(*centre, *centre) == Decimal("0.0")
    # One degree of longitude at 40° N is about 85 km.
    assert distance_km(Decimal("40"), Decimal("111"), Decimal("40"), Decimal("112")) == Decimal(
        "85.2"
    )

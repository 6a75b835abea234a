"""Explanations with the numbers filled in, in Chinese and English."""

from __future__ import annotations

import string
from collections.abc import Mapping
from decimal import Decimal

from xunhuan.core.units import TONNE_QUANTUM

PERCENT_QUANTUM = Decimal("0.01")


def format_value(value: object) -> str:
    """Decimals as plain positional text with thousands separators (``1,234.500``)."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return f"{value:,f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def tonnes(value: Decimal) -> Decimal:
    return value.quantize(TONNE_QUANTUM)


def percent(value: Decimal) -> Decimal:
    return value.quantize(PERCENT_QUANTUM)


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def explanation_render(template: str, values: Mapping[str, object]) -> str:
    """``template`` with ``{name}`` fields replaced by formatted ``values``.

    A field without a value is a programming error in a rule, so it raises
    ``KeyError`` instead of leaving a hole in what an enterprise reads.
    """
    missing = template_fields(template) - set(values)
    if missing:
        raise KeyError(f"explanation fields without values: {sorted(missing)}")
    return template.format_map({name: format_value(value) for name, value in values.items()})

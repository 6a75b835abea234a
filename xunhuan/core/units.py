"""Quantities in tonnes.

Every quantity is a :class:`~decimal.Decimal` number of tonnes with exactly
three decimal places (one kilogram). In the database it is stored as a whole
number of kilograms so that sums are exact on every engine (SQLite has no exact
decimal type); see ``docs/adr/0003-quantities-in-kilograms.md``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

TONNE_PLACES = 3
TONNE_QUANTUM = Decimal("0.001")
KG_PER_TONNE = 1000
# 10^15 kg = 10^12 t: far above any plausible single quantity or national total,
# and below 2^63 so kilograms fit a signed 64-bit integer with room for sums.
MAX_ABS_KG = 10**15
_MAX_ABS_TONNES = Decimal(MAX_ABS_KG).scaleb(-TONNE_PLACES)


class QuantityError(ValueError):
    """A quantity is not a number of tonnes we can record."""


def to_tonnes(value: Decimal | int | str) -> Decimal:
    """Parse ``value`` into tonnes with three places, refusing anything inexact.

    Strings may use a thousands separator ("1,234.5"); floats are refused because
    they are how precision gets lost.
    """
    if isinstance(value, float):
        raise QuantityError("quantities must not be floats; pass a string or Decimal")
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("，", "")
        if not text:
            raise QuantityError("quantity is empty")
        try:
            parsed = Decimal(text)
        except InvalidOperation as exc:
            raise QuantityError(f"{value!r} is not a number") from exc
    else:
        parsed = Decimal(value)
    if not parsed.is_finite():
        raise QuantityError(f"{value!r} is not a finite number")
    quantized = parsed.quantize(TONNE_QUANTUM, rounding=ROUND_HALF_EVEN)
    if quantized != parsed:
        raise QuantityError(f"{value!r} has more than {TONNE_PLACES} decimal places (1 kg)")
    if abs(quantized) > _MAX_ABS_TONNES:
        raise QuantityError(f"{value!r} t is beyond any plausible quantity")
    return quantized


def tonnes_to_kg(tonnes: Decimal) -> int:
    return int(tonnes.scaleb(TONNE_PLACES).to_integral_value(rounding=ROUND_HALF_EVEN))


def kg_to_tonnes(kg: int) -> Decimal:
    return Decimal(kg).scaleb(-TONNE_PLACES).quantize(TONNE_QUANTUM)


def format_tonnes(tonnes: Decimal) -> str:
    """Canonical text form, always three places: ``Decimal("12.5")`` -> ``"12.500"``."""
    return f"{tonnes.quantize(TONNE_QUANTUM):f}"

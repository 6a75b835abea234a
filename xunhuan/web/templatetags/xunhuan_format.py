"""Template filters for the domain's figures.

``{{ value|tonnes }}`` prints a quantity of tonnes with thousands separators and its
unit, ``12,345.678 吨`` (``t`` in English); ``{{ value|tonnes:"bare" }}`` leaves the
unit out, for table columns whose heading already says （吨）. The figure stays
exact: a Decimal is printed with its three places (one kilogram), never through a
float, and a value that is not a number of tonnes is shown as it is."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.translation import gettext

from xunhuan.core.units import TONNE_QUANTUM

register = template.Library()


@register.filter
def tonnes(value: object, arg: str = "") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):  # never round-trip a float into a figure
        return str(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    # A ledger figure has three places: quantizing only pads it (12.5 -> 12.500); a
    # figure with more places is printed whole rather than rounded.
    exponent = number.as_tuple().exponent
    exact = isinstance(exponent, int) and exponent >= -3
    text = f"{number.quantize(TONNE_QUANTUM):,f}" if exact else f"{number:,f}"
    if arg == "bare":
        return text
    unit = gettext("吨")  # outside the f-string, where xgettext can find it
    return f"{text} {unit}"

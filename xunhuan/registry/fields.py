"""``TonnesField``: Decimal tonnes in Python, whole kilograms in the database.

SQLite has no exact decimal type (it stores NUMERIC as floating point), so sums
of DecimalField columns there drift. Storing integer kilograms makes every
``SUM`` exact on SQLite and PostgreSQL alike, and Python code still only ever
sees ``Decimal`` tonnes with three places. See docs/adr/0003.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Combinable, Expression

from xunhuan.core.units import QuantityError, kg_to_tonnes, to_tonnes, tonnes_to_kg


class TonnesField(models.BigIntegerField):  # type: ignore[type-arg]
    description = "Quantity in tonnes (stored as integer kilograms)"
    # Tell django-stubs what the attribute holds on a model instance.
    _pyi_private_set_type: Decimal | int | str | Combinable  # type: ignore[assignment]
    _pyi_private_get_type: Decimal  # type: ignore[assignment]

    def from_db_value(
        self, value: int | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Decimal | None:
        if value is None:
            return None
        return kg_to_tonnes(int(value))

    def to_python(self, value: Any) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, int):
            return Decimal(value)
        try:
            return to_tonnes(str(value))
        except QuantityError as exc:
            from django.core.exceptions import ValidationError

            raise ValidationError(str(exc)) from exc

    def get_prep_value(self, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, Expression) or hasattr(value, "resolve_expression"):
            return value  # type: ignore[no-any-return]
        return tonnes_to_kg(to_tonnes(value if not isinstance(value, float) else str(value)))

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]
        from django import forms

        defaults: dict[str, Any] = {
            "form_class": forms.DecimalField,
            "decimal_places": 3,
            "max_digits": 16,
        }
        defaults.update(kwargs)
        return models.Field.formfield(self, **defaults)

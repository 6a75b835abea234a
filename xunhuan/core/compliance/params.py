"""Typed rule parameters: declared once per rule, overridden per jurisdiction as text.

Overrides are stored as strings (``{"years": "3"}``) so that a Decimal never passes
through a float or a JSON number on its way to the database and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from xunhuan.core.errors import ValidationFailed

ParamValue = Decimal | int | bool
ParamKind = Literal["decimal", "int", "bool"]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a rule: its type, default and the range a regulator may set."""

    name: str
    kind: ParamKind
    default: ParamValue
    label_zh: str
    label_en: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def parse(self, raw: object) -> ParamValue:
        """``raw`` (text, number or bool) as this parameter's type, or a ValidationFailed."""
        where = f"params.{self.name}"
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValidationFailed(
                f"{self.label_zh}应为是/否 / {self.label_en}: not a boolean", field=where
            )
        if isinstance(raw, (bool, float)):
            raise ValidationFailed(
                f"{self.label_zh}须以文本或整数给出 / {self.label_en}: pass text, not a float",
                field=where,
            )
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation as exc:
            raise ValidationFailed(
                f"{self.label_zh}不是数字：{raw} / {self.label_en}: not a number", field=where
            ) from exc
        if not number.is_finite():
            raise ValidationFailed(
                f"{self.label_zh}不是有限数 / {self.label_en}: not finite", field=where
            )
        if self.minimum is not None and number < self.minimum:
            raise ValidationFailed(
                f"{self.label_zh}不得小于{self.minimum} / "
                f"{self.label_en} must be >= {self.minimum}",
                field=where,
            )
        if self.maximum is not None and number > self.maximum:
            raise ValidationFailed(
                f"{self.label_zh}不得大于{self.maximum} / "
                f"{self.label_en} must be <= {self.maximum}",
                field=where,
            )
        if self.kind == "int":
            if number != number.to_integral_value():
                raise ValidationFailed(
                    f"{self.label_zh}应为整数 / {self.label_en} must be a whole number", field=where
                )
            return int(number)
        return number


def params_resolve(
    specs: tuple[ParamSpec, ...], overrides: Mapping[str, object]
) -> dict[str, ParamValue]:
    """The defaults with ``overrides`` applied, each parsed to its type.

    An unknown name is refused rather than ignored: a misspelt parameter silently
    leaving the default in force is how a regulator's change gets lost.
    """
    known = {spec.name: spec for spec in specs}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValidationFailed(
            f"规则没有参数：{', '.join(unknown)} / unknown parameter(s)", field="params"
        )
    values: dict[str, ParamValue] = {spec.name: spec.default for spec in specs}
    for name, raw in overrides.items():
        values[name] = known[name].parse(raw)
    return values


def params_as_text(values: Mapping[str, ParamValue]) -> dict[str, str]:
    """Parameter values in their stored text form (``True`` -> ``"true"``)."""
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in sorted(values.items())
    }

"""Typed domain errors. One handler maps them to HTTP responses and import row errors."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. ``field`` names the input at fault, if any.

    ``message`` is Chinese first with English after a slash, because it is shown
    as is to enterprise officers and in import error lists.
    """

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # 1-based position in a batch or file, when the error belongs to one row of many.
        self.row = row

    def __str__(self) -> str:
        prefix = f"第{self.row}行 / row {self.row}: " if self.row is not None else ""
        return prefix + self.message


class ValidationFailed(DomainError):
    code = "validation"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InsufficientStock(Conflict):
    code = "insufficient_stock"


REASON_MAX_CHARS = 500


def reason_checked(reason: str, *, required: bool = True) -> str:
    """The stripped reason a write records (a correction, a waiver, a retired target),
    refused when missing (if ``required``) or longer than ``REASON_MAX_CHARS``."""
    text = reason.strip()
    if required and not text:
        raise ValidationFailed("请填写原因 / a reason is required", field="reason")
    if len(text) > REASON_MAX_CHARS:
        raise ValidationFailed("原因不超过500字 / reason too long", field="reason")
    return text

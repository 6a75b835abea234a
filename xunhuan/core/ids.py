"""Public identifiers: records are addressed by UUID in URLs and the API (STYLE.md)."""

from __future__ import annotations

import uuid


def is_uuid(text: str) -> bool:
    """Whether ``text`` reads as a UUID, so a lookup by a malformed public id can answer
    "not found" without sending the database a value its UUID column would refuse."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True

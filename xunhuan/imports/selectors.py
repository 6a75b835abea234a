"""Reads of import sessions. Callers pass the enterprises the user may write to."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from xunhuan.core.errors import NotFound
from xunhuan.imports.models import ImportSession
from xunhuan.registry.models import Enterprise

RECENT = 20


def import_sessions_list(*, enterprise: Enterprise) -> QuerySet[ImportSession]:
    """The enterprise's recent uploads, newest first, without the file bytes."""
    return (
        ImportSession.objects.filter(enterprise=enterprise)
        .defer("content", "errors")
        .select_related("created_by")
        .order_by("-created_at", "-id")[:RECENT]
    )


def import_session_get(*, enterprise: Enterprise, public_id: uuid.UUID) -> ImportSession:
    session = (
        ImportSession.objects.filter(enterprise=enterprise, public_id=public_id)
        .select_related("enterprise")
        .first()
    )
    if session is None:
        raise NotFound("导入记录不存在 / import not found", field="session")
    return session

"""Reading the audit trail. Callers pass the enterprises and regions the reader may see
(``xunhuan.accounts.selectors.enterprises_visible_to`` and ``regions_visible_to``);
nothing here widens that."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from xunhuan.audit.models import AuditEvent
from xunhuan.registry.models import Enterprise, Region


def audit_events_list(
    *,
    enterprises: QuerySet[Enterprise],
    regions: QuerySet[Region],
    object_type: str | None = None,
    object_id: str | None = None,
) -> QuerySet[AuditEvent]:
    """Events of the visible enterprises and the jurisdiction-level events (no enterprise)
    of the visible regions, newest first, with actor and enterprise joined."""
    rows = AuditEvent.objects.filter(Q(enterprise__in=enterprises) | Q(region__in=regions))
    if object_type:
        rows = rows.filter(object_type=object_type)
    if object_id:
        rows = rows.filter(object_id=object_id)
    return rows.select_related("actor", "enterprise").order_by("-at", "-id")

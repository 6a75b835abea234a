"""Writing the audit trail. Callers run inside their own ``transaction.atomic`` so the
event commits (or rolls back) with the change it describes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from xunhuan.audit.models import AuditEvent
from xunhuan.registry.models import Enterprise, Region


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    object_type: str,
    object_id: str,
    enterprise: Enterprise | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    region: Region | None = None,
) -> AuditEvent:
    """Record one write. Must be called inside the write's transaction: an audit row
    outside it could survive a rolled-back change (or be lost with a committed one).
    A write of no enterprise names the ``region`` it concerns (a target's, a rule
    setting's, a park's), or nobody but the actor's own trail would ever show it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the audited write's transaction")
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor_id=actor_id,
        enterprise=enterprise,
        region=region,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )


def audit_registry_write(
    sender: object,
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    object_type: str,
    object_id: str,
    enterprise: Enterprise | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    region: Region | None = None,
    **kwargs: Any,
) -> AuditEvent:
    """Receiver of ``xunhuan.registry.services.registry_written``: the registry sits
    below the audit app, so it announces each write and this records it, in the write's
    transaction (connected in ``AuditConfig.ready``)."""
    return audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        enterprise=enterprise,
        before=before,
        after=after,
        region=region,
    )

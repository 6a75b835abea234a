"""Audit events: one append-only row per write, in the write's own transaction."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from xunhuan.registry.models import Enterprise, Region


class AuditEvent(models.Model):
    """Who (``actor``, acting for ``enterprise``) did ``action`` to which object, with the
    object's state before and after. Regulators read the events of the enterprises in
    their region subtree, so ``enterprise`` is the acting party (or the object's owner
    when the actor is a regulator or the system). A write that belongs to a jurisdiction
    rather than an enterprise (a target, a rule setting, a park) names its ``region``
    instead, which its regulators and those above read."""

    at = models.DateTimeField(_("时间"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    enterprise = models.ForeignKey(
        Enterprise,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # The jurisdiction a write without an enterprise belongs to (None when it has an
    # enterprise, or belongs to no one: a user's own token).
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    action = models.CharField(_("操作"), max_length=64)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象标识"), max_length=64)
    before = models.JSONField(_("变更前"), null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("变更后"), null=True, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-at", "-id"]
        indexes = [
            # a regulator's or party's trail: events of some enterprises, newest first
            models.Index(fields=["enterprise", "at"], name="audit_enterprise_at_idx"),
            # a regulator's trail of jurisdiction-level writes: events of some regions
            models.Index(fields=["region", "at"], name="audit_region_at_idx"),
            # the history of one object (a transfer document's trail)
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are append-only")

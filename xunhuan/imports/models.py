"""An import session: one uploaded workbook, checked (dry run) and then committed all or nothing."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xunhuan.ledger.models import ImportBatch
from xunhuan.registry.models import Enterprise


class SessionStatus(models.TextChoices):
    UPLOADED = "uploaded", _("已上传")
    CHECKING = "checking", _("检查中")
    CHECKED = "checked", _("检查通过，待确认导入")
    INVALID = "invalid", _("有错误，未导入")
    COMMITTING = "committing", _("导入中")
    COMMITTED = "committed", _("已导入")
    DUPLICATE = "duplicate", _("此前已导入，未重复记账")


class ImportSession(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("文件名"), max_length=255)
    # The uploaded bytes, kept so a background job (which takes only this row's id)
    # can read them; cleared once the session is committed or found a duplicate.
    content = models.BinaryField(default=b"")
    size = models.PositiveIntegerField(_("文件大小（字节）"))
    status = models.CharField(
        _("状态"), max_length=16, choices=SessionStatus.choices, default=SessionStatus.UPLOADED
    )
    row_count = models.PositiveIntegerField(_("数据行数"), default=0)
    # [{"sheet", "row", "column", "letter", "message"}], the first MAX_ERRORS of them.
    errors = models.JSONField(_("错误"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("错误数"), default=0)
    # SHA-256 of the rows' content (not the file bytes): the same ledger lines saved
    # again by Excel are still the same import. Also the ImportBatch's sha256.
    content_sha256 = models.CharField(max_length=64, blank=True)
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_entries = models.PositiveIntegerField(_("新增记录数"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("Excel导入")
        verbose_name_plural = _("Excel导入")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="import_session_status_valid", condition=Q(status__in=SessionStatus.values)
            ),
        ]
        indexes = [
            # the enterprise's import list, newest first
            models.Index(fields=["enterprise", "-created_at"], name="import_session_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def is_busy(self) -> bool:
        return self.status in (SessionStatus.CHECKING, SessionStatus.COMMITTING)

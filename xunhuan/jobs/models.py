"""A background job: what to run (a kind and the id it works on), how far it got, what failed.

Jobs are thin: the handler for a kind looks the target up by id and calls a
service, so running a job twice (after a crash, or by two workers racing) must
change nothing the first run did not. The row is what the UI polls.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class Job(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # A handler name registered with ``xunhuan.jobs.handlers.job_handler_register``.
    kind = models.CharField(_("任务类型"), max_length=64)
    # The id of the row the job works on (an import session, an export, ...): jobs take ids,
    # never pickled objects, so a re-run reads the current state.
    target_id = models.CharField(_("对象"), max_length=64)
    status = models.CharField(
        _("状态"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    progress_done = models.PositiveIntegerField(_("已处理"), default=0)
    progress_total = models.PositiveIntegerField(_("总数"), default=0)
    message = models.CharField(_("进度说明"), max_length=255, blank=True)
    # Problems for the user: [{"message": "..."}], or the handler's own row errors.
    errors = models.JSONField(_("错误"), default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written with every progress report; a running job whose heartbeat is stale was
    # left by a worker that died, and is claimed again (handlers are idempotent).
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                name="job_status_valid", condition=Q(status__in=JobStatus.values)
            ),
            models.CheckConstraint(
                name="job_progress_within_total",
                condition=Q(progress_total=0) | Q(progress_done__lte=models.F("progress_total")),
            ),
        ]
        indexes = [
            # the worker's claim: the oldest queued (or stale running) job
            models.Index(fields=["status", "created_at"], name="job_claim_idx"),
            # the UI: the latest job working on one object
            models.Index(fields=["kind", "target_id"], name="job_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}({self.target_id}) {self.status}"

    @property
    def percent(self) -> int:
        """Progress in whole percent, for the progress bar."""
        if self.status == JobStatus.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(100, self.progress_done * 100 // self.progress_total)

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

"""Who a user acts for: an enterprise (admin, member, driver, reader) or a regulator's region."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xunhuan.registry.models import Enterprise, Region


class Role(models.TextChoices):
    ADMIN = "admin", _("管理员")
    MEMBER = "member", _("填报员")
    DRIVER = "driver", _("驾驶员（仅签运输）")
    READER = "reader", _("只读")


WRITER_ROLES = (Role.ADMIN, Role.MEMBER)


class Membership(models.Model):
    """A user's seat: either in an enterprise or at a regulator bound to a region subtree."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, null=True, blank=True, related_name="members"
    )
    regulator_region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="regulators"
    )
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("成员")
        verbose_name_plural = _("成员")
        constraints = [
            models.CheckConstraint(
                name="membership_enterprise_xor_region",
                condition=Q(enterprise__isnull=False, regulator_region__isnull=True)
                | Q(enterprise__isnull=True, regulator_region__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["user", "enterprise"],
                condition=Q(enterprise__isnull=False),
                name="membership_one_seat_per_enterprise",
            ),
            models.UniqueConstraint(
                fields=["user", "regulator_region"],
                condition=Q(regulator_region__isnull=False),
                name="membership_one_seat_per_region",
            ),
        ]

    def __str__(self) -> str:
        target = self.enterprise or self.regulator_region
        return f"{self.user} @ {target} ({self.role})"


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored: the token is shown once at
    creation. A token is revoked by setting ``revoked_at``, never deleted, so the audit
    trail can still name it."""

    # The id the API and the management command name a token by (not the integer key).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("名称"), max_length=64)
    # The first characters of the token, shown in lists so a user can tell tokens apart.
    prefix = models.CharField(_("前缀"), max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API令牌")
        verbose_name_plural = _("API令牌")
        ordering = ["user_id", "-created_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.name} ({self.prefix}…)"


class LoginFailure(models.Model):
    """One failed password login, kept for the rate-limit window only (older rows of
    the same username are deleted when a new failure is recorded)."""

    username = models.CharField(max_length=150)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            # the limiter: failures of one username since the window started
            models.Index(fields=["username", "at"], name="login_failure_user_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.username} @ {self.at:%Y-%m-%d %H:%M:%S}"

"""Who a user acts for: an enterprise (admin, member, driver, reader) or a regulator's region."""

from __future__ import annotations

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

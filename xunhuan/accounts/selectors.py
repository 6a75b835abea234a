"""Access-checked selection of what a user may see or write. Every read path starts here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from xunhuan.accounts.models import WRITER_ROLES, ApiToken, Membership, Role
from xunhuan.registry.models import Enterprise, Region

User = AbstractBaseUser | AnonymousUser


def _memberships(user: User) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user_id=user.pk)


def regions_regulated_by(user: User) -> QuerySet[Region]:
    """The roots of the jurisdictions the user regulates (empty for enterprise users)."""
    return Region.objects.filter(
        code__in=_memberships(user)
        .filter(regulator_region__isnull=False)
        .values("regulator_region_id")
    )


def enterprises_visible_to(user: User) -> QuerySet[Enterprise]:
    """Enterprises whose records the user may read: its own, and those in its jurisdictions."""
    seats = _memberships(user)
    own = Q(pk__in=seats.filter(enterprise__isnull=False).values("enterprise_id"))
    condition = own
    for path in regions_regulated_by(user).values_list("path", flat=True):
        condition |= Q(region__path__startswith=path)
    return Enterprise.objects.filter(condition)


def enterprises_writable_by(user: User) -> QuerySet[Enterprise]:
    """Enterprises for which the user may post ledger entries (admin or member seats)."""
    return Enterprise.objects.filter(
        pk__in=_memberships(user)
        .filter(enterprise__isnull=False, role__in=WRITER_ROLES)
        .values("enterprise_id")
    )


def regions_visible_to(user: User) -> QuerySet[Region]:
    """Regions in the user's jurisdictions (a regulator's subtree)."""
    condition = Q(pk__in=[])
    for path in regions_regulated_by(user).values_list("path", flat=True):
        condition |= Q(path__startswith=path)
    return Region.objects.filter(condition)


def roles_at(user: User, enterprise: Enterprise) -> set[str]:
    """The roles the user holds in ``enterprise`` (empty when it has no seat there)."""
    return set(_memberships(user).filter(enterprise=enterprise).values_list("role", flat=True))


def api_tokens_list(user: User) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first (hashes only; the plain text is never kept)."""
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at")


def api_tokens_revocable_by(user: User) -> QuerySet[ApiToken]:
    """Tokens the user may revoke: its own, and those of every member of an organization
    (enterprise or regulator's office) where it holds an admin seat."""
    if not user.is_authenticated:
        return ApiToken.objects.none()
    admin = _memberships(user).filter(role=Role.ADMIN.value)
    members = Membership.objects.filter(
        Q(enterprise__in=admin.filter(enterprise__isnull=False).values("enterprise_id"))
        | Q(
            regulator_region__in=admin.filter(regulator_region__isnull=False).values(
                "regulator_region_id"
            )
        )
    )
    return ApiToken.objects.filter(Q(user_id=user.pk) | Q(user_id__in=members.values("user_id")))


def api_tokens_of_enterprise(user: User, enterprise: Enterprise) -> QuerySet[ApiToken]:
    """The tokens of the enterprise's members, for the enterprise's admins (empty for
    anybody else), newest first with their owners joined."""
    if Role.ADMIN.value not in roles_at(user, enterprise):
        return ApiToken.objects.none()
    members = Membership.objects.filter(enterprise=enterprise).values("user_id")
    return (
        ApiToken.objects.filter(user_id__in=members)
        .select_related("user")
        .order_by("-created_at", "-id")
    )

"""Which enterprise a page is about, checked against what the user may see or write.

An enterprise the user may not see is a 404 (its existence is not revealed); one
it may see but not write to is a 403 for writing pages.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from xunhuan.accounts.selectors import enterprises_visible_to, enterprises_writable_by
from xunhuan.registry.models import Enterprise


def visible_enterprise(request: HttpRequest, credit_code: str) -> Enterprise:
    found = (
        enterprises_visible_to(request.user)
        .select_related("region", "industry", "park")
        .filter(credit_code=credit_code)
        .first()
    )
    if found is None:
        raise Http404("单位不存在或无权查看 / no such enterprise")
    return found


def writable_enterprise(request: HttpRequest, credit_code: str) -> Enterprise:
    found = visible_enterprise(request, credit_code)
    if not enterprises_writable_by(request.user).filter(pk=found.pk).exists():
        raise PermissionDenied("无填报权限 / you may not write to this ledger")
    return found


def only(enterprise: Enterprise) -> QuerySet[Enterprise]:
    """The one enterprise as the visible set the ledger selectors take."""
    return Enterprise.objects.filter(pk=enterprise.pk)


def can_write(request: HttpRequest, enterprise: Enterprise) -> bool:
    return enterprises_writable_by(request.user).filter(pk=enterprise.pk).exists()

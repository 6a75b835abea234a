"""Server-rendered pages. They only call selectors; the full workspace comes with issue #5."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from xunhuan.accounts.selectors import (
    enterprises_visible_to,
    enterprises_writable_by,
    regions_regulated_by,
)
from xunhuan.ledger import selectors as ledger_selectors
from xunhuan.ledger.chain import chain_verify
from xunhuan.registry.models import Enterprise

PAGE_SIZE = 50


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "web/landing.html")
    visible = enterprises_visible_to(request.user)
    context = {
        "regions": list(regions_regulated_by(request.user)),
        "own": list(enterprises_writable_by(request.user).select_related("region")),
        "enterprises": list(
            visible.select_related("region", "industry", "park").order_by("region_id", "name")[
                :PAGE_SIZE
            ]
        ),
        "enterprise_count": visible.count(),
        "by_region": list(
            visible.values("region__parent__name", "region__parent__code")
            .annotate(n=Count("id"))
            .order_by("region__parent__code")
        ),
    }
    return render(request, "web/home.html", context)


@login_required
def enterprise_detail(request: HttpRequest, credit_code: str) -> HttpResponse:
    visible = enterprises_visible_to(request.user)
    enterprise: Enterprise | None = (
        visible.select_related("region", "industry", "park").filter(credit_code=credit_code).first()
    )
    if enterprise is None:
        raise Http404("单位不存在或无权查看")
    one = Enterprise.objects.filter(pk=enterprise.pk)
    context = {
        "enterprise": enterprise,
        "stock": list(ledger_selectors.stock_list(enterprises=one)),
        "entries": list(ledger_selectors.ledger_entries_list(enterprises=one)[:PAGE_SIZE]),
        "chain_break": chain_verify(enterprise_id=enterprise.pk),
    }
    return render(request, "web/enterprise.html", context)

"""Server-rendered pages: home and the enterprise workspace. They only call selectors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from xunhuan.accounts.selectors import (
    enterprises_visible_to,
    enterprises_writable_by,
    regions_regulated_by,
)
from xunhuan.ledger import selectors as ledger_selectors
from xunhuan.registry import selectors as registry_selectors
from xunhuan.web.access import can_write, only, visible_enterprise

PAGE_SIZE = 50
RECENT = 10


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
    """The enterprise workspace: sites, waste streams, stock on hand, latest entries.
    The chain badge loads separately (``chain_badge``): it reads the whole chain."""
    enterprise = visible_enterprise(request, credit_code)
    one = only(enterprise)
    context = {
        "enterprise": enterprise,
        "sites": list(registry_selectors.sites_list(enterprise=enterprise).order_by("code")),
        "streams": list(
            registry_selectors.streams_list(enterprise=enterprise)
            .select_related("waste", "source_site")
            .order_by("code")
        ),
        "stock": list(ledger_selectors.stock_list(enterprises=one)),
        "entries": list(
            ledger_selectors.ledger_entries_list(enterprises=one, enterprise=enterprise)[:RECENT]
        ),
        "writable": can_write(request, enterprise),
    }
    return render(request, "web/enterprise.html", context)

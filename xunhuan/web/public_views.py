"""The public page (no login): aggregates only, from ``xunhuan.statistics.public``
(cells of fewer than three enterprises suppressed, ADR 0024)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from xunhuan.statistics.public import MIN_ENTERPRISES, public_aggregates


@require_GET
def public_aggregates_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/public/aggregates.html",
        {"cells": public_aggregates(), "min_enterprises": MIN_ENTERPRISES},
    )

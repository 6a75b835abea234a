"""Reads of the registry. Enterprise lists take the caller's visible set; nothing widens it."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from xunhuan.registry.models import (
    Enterprise,
    Park,
    Region,
    Site,
    WasteCategory,
    WasteStream,
)


def regions_children(*, parent_code: str | None) -> QuerySet[Region]:
    if parent_code:
        return Region.objects.filter(parent_id=parent_code).order_by("code")
    return Region.objects.filter(Q(level="national") | Q(level="province")).order_by("code")


def waste_categories_list() -> QuerySet[WasteCategory]:
    return WasteCategory.objects.filter(is_active=True).order_by("code")


def waste_category_get(*, code: str) -> WasteCategory | None:
    return WasteCategory.objects.filter(code=code.strip().upper(), is_active=True).first()


def enterprises_list(
    *, enterprises: QuerySet[Enterprise], region_code: str | None = None, search: str | None = None
) -> QuerySet[Enterprise]:
    rows = enterprises.select_related("park")
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        rows = rows.filter(region__path__startswith=region.path) if region else rows.none()
    if search:
        rows = rows.filter(Q(name__contains=search) | Q(credit_code=search.upper()))
    return rows.order_by("credit_code")


def enterprise_by_credit_code(code: str) -> Enterprise | None:
    return Enterprise.objects.filter(credit_code=code.strip().upper()).first()


def park_by_name(name: str) -> Park | None:
    return Park.objects.filter(name=name).first()


def sites_list(*, enterprise: Enterprise) -> QuerySet[Site]:
    return Site.objects.filter(enterprise=enterprise).order_by("code")


def site_by_code(*, enterprise: Enterprise, code: str) -> Site | None:
    return Site.objects.filter(enterprise=enterprise, code=code).first()


def streams_list(*, enterprise: Enterprise) -> QuerySet[WasteStream]:
    return WasteStream.objects.filter(enterprise=enterprise).order_by("code")


def stream_by_code(*, enterprise: Enterprise, code: str) -> WasteStream | None:
    return WasteStream.objects.filter(enterprise=enterprise, code=code).first()

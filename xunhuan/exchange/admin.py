"""Admin for the reference data the exchange reads (terminals, rail links, quality
limits); runs and flows are read-only there because a plan is never edited."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from xunhuan.exchange.models import QualityLimit, RailLink, RailTerminal, Run


@admin.register(RailTerminal)
class RailTerminalAdmin(admin.ModelAdmin[RailTerminal]):
    list_display = ("name", "region", "latitude", "longitude")
    search_fields = ("name",)
    raw_id_fields = ("region",)


@admin.register(RailLink)
class RailLinkAdmin(admin.ModelAdmin[RailLink]):
    list_display = ("site", "terminal", "drayage_km", "is_active")
    list_select_related = ("site", "terminal")
    raw_id_fields = ("site", "terminal")


@admin.register(QualityLimit)
class QualityLimitAdmin(admin.ModelAdmin[QualityLimit]):
    list_display = ("site", "waste", "attribute", "scope", "minimum", "maximum")
    list_select_related = ("site", "waste")
    raw_id_fields = ("site",)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin[Run]):
    list_display = ("region", "period", "solver", "utilized", "cost_yuan", "created_at")
    list_select_related = ("region",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

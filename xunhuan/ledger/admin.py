from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from xunhuan.ledger.models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin[LedgerEntry]):
    """Read-only: entries change only through the ledger services (corrections)."""

    list_display = ("enterprise", "seq", "occurred_on", "kind", "site", "waste", "quantity")
    list_select_related = ("enterprise", "site", "waste")
    list_filter = ("kind",)
    search_fields = ("enterprise__credit_code", "batch_code")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

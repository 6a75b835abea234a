from django.contrib import admin

from xunhuan.registry.models import (
    Enterprise,
    FacilityCapacity,
    Industry,
    Park,
    Region,
    Site,
    WasteCategory,
    WasteGroup,
    WasteStream,
)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin[Region]):
    list_display = ("code", "name", "level", "parent")
    search_fields = ("code", "name")
    list_filter = ("level",)


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin[Enterprise]):
    list_display = ("name", "credit_code", "industry", "region", "park")
    search_fields = ("name", "credit_code")
    list_select_related = ("industry", "region", "park")
    raw_id_fields = ("region", "park", "industry")


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    list_display = ("code", "name", "enterprise", "kind", "storage_class", "design_capacity")
    search_fields = ("code", "name", "enterprise__name")
    list_select_related = ("enterprise",)
    raw_id_fields = ("enterprise",)


admin.site.register(Park)
admin.site.register(Industry)
admin.site.register(WasteGroup)
admin.site.register(WasteCategory)
admin.site.register(WasteStream)
admin.site.register(FacilityCapacity)

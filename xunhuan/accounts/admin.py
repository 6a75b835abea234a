from django.contrib import admin

from xunhuan.accounts.models import Membership


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "enterprise", "regulator_region", "role")
    raw_id_fields = ("user", "enterprise", "regulator_region")

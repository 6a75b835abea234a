from django.contrib import admin

from xunhuan.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = ("kind", "target_id", "status", "progress_done", "progress_total", "created_at")
    list_filter = ("status", "kind")
    readonly_fields = tuple(f.name for f in Job._meta.fields)

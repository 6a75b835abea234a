from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatisticsConfig(AppConfig):
    name = "xunhuan.statistics"
    verbose_name = _("统计与考核 Statistics")

    def ready(self) -> None:
        # The ledger cannot import statistics (layers); it sends a signal inside the
        # writing transaction and the pre-aggregates follow it here (refreshed, or
        # marked for the pending job after a bulk ingest: ADR 0013).
        from xunhuan.jobs.handlers import job_handler_register
        from xunhuan.ledger.signals import entries_posted
        from xunhuan.statistics.pending import JOB_PENDING
        from xunhuan.statistics.services import on_entries_posted, stat_pending_job

        entries_posted.connect(on_entries_posted, dispatch_uid="statistics.cells")
        job_handler_register(JOB_PENDING, stat_pending_job)

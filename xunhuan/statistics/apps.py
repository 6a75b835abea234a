from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatisticsConfig(AppConfig):
    name = "xunhuan.statistics"
    verbose_name = _("统计与考核 Statistics")

    def ready(self) -> None:
        # The ledger cannot import statistics (layers); it sends a signal inside the
        # writing transaction and the pre-aggregates follow it here.
        from xunhuan.ledger.signals import entries_posted
        from xunhuan.statistics.services import on_entries_posted

        entries_posted.connect(on_entries_posted, dispatch_uid="statistics.cells")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatisticsConfig(AppConfig):
    name = "xunhuan.statistics"
    verbose_name = _("统计与考核 Statistics")

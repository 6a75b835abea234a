from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransfersConfig(AppConfig):
    name = "xunhuan.transfers"
    verbose_name = _("转移联单 Transfers")

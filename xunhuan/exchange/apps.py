from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "xunhuan.exchange"
    verbose_name = _("资源交换 Exchange")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "xunhuan.compliance"
    verbose_name = _("合规检查 Compliance")

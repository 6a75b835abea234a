from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "xunhuan.audit"
    verbose_name = _("审计记录 Audit")

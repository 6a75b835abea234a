from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "xunhuan.audit"
    verbose_name = _("审计记录 Audit")

    def ready(self) -> None:
        # The registry is below this app in the layer order: it announces its writes
        # and refuses them if nobody records them (ADR 0023).
        from xunhuan.audit.services import audit_registry_write
        from xunhuan.registry.services import registry_written

        registry_written.connect(audit_registry_write, dispatch_uid="audit-registry-writes")

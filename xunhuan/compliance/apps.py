from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "xunhuan.compliance"
    verbose_name = _("合规检查 Compliance")

    def ready(self) -> None:
        # The ledger cannot import compliance (layers): it signals, and we re-check the
        # enterprise in the background once its post has committed.
        from xunhuan.compliance.jobs import on_entries_posted, register
        from xunhuan.ledger.signals import entries_posted

        entries_posted.connect(on_entries_posted, dispatch_uid="compliance.pending")
        register()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "xunhuan.imports"
    verbose_name = _("Excel导入导出 Imports")

    def ready(self) -> None:
        # The jobs app sits below this one, so the handlers are registered from here.
        from xunhuan.imports import jobs

        jobs.register()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "xunhuan.exchange"
    verbose_name = _("资源交换 Exchange")

    def ready(self) -> None:
        # 12-month plans are solved by the job worker (manage.py jobs_work).
        from xunhuan.exchange.services import JOB_HORIZON, horizon_job
        from xunhuan.jobs.handlers import job_handler_register

        job_handler_register(JOB_HORIZON, horizon_job)

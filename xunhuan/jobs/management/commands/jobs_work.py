"""Run queued background jobs: ``manage.py jobs_work`` (forever) or ``--until-empty``."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from xunhuan.core.runtime import startup_heap_freeze
from xunhuan.jobs.services import jobs_purge, jobs_work


class Command(BaseCommand):
    help = "运行排队的后台任务 / run queued background jobs"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--until-empty", action="store_true", help="stop when no job is left (tests, cron)"
        )
        parser.add_argument("--sleep", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["until_empty"]:
            startup_heap_freeze()  # a long-running worker, like the web server
        jobs_purge()
        while True:
            ran = jobs_work()
            if ran:
                self.stdout.write(f"ran {ran} job(s)")
            if options["until_empty"]:
                return
            time.sleep(options["sleep"])

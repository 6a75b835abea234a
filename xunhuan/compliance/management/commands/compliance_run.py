from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xunhuan.compliance.jobs import compliance_full_enqueue
from xunhuan.compliance.services import compliance_run
from xunhuan.core.errors import DomainError


class Command(BaseCommand):
    help = "运行合规检查 / run compliance rules over a region (default: all rules, everywhere)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rule", action="append", dest="rules", help="rule id (repeatable)")
        parser.add_argument("--region", help="GB/T 2260 code of the region to check")
        parser.add_argument(
            "--as-of",
            type=dt.date.fromisoformat,
            default=None,
            help="last day checked (YYYY-MM-DD)",
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help="queue the full run as a background job (nightly) instead of running it now",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["queue"]:
            if options["rules"] or options["as_of"]:
                raise CommandError("--queue runs every rule up to last month; drop --rule/--as-of")
            job = compliance_full_enqueue(region_code=options["region"])
            self.stdout.write(f"已排队 / queued: job {job.public_id} ({job.status})")
            return
        started = time.perf_counter()
        try:
            run = compliance_run(
                rule_ids=options["rules"], region_code=options["region"], as_of=options["as_of"]
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"截至 {run.as_of}: 发现 {run.found} 项（新增 {run.created}，更新 {run.updated}，"
            f"已消除 {run.resolved}）/ found {run.found} (new {run.created}, updated "
            f"{run.updated}, resolved {run.resolved}) in {seconds:.1f} s"
        )

"""``manage.py stats_check``: prove the statistics cells equal the raw ledger (exit 1 if not).

Series a bulk ingest left pending (ADR 0013) are brought up to date first, so
they are not reported as differences; ``--no-drain`` leaves them and reports
them apart, as "pending, N".
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xunhuan.statistics.check import stat_cells_check
from xunhuan.statistics.pending import stats_pending_count
from xunhuan.statistics.selectors import StatScope
from xunhuan.statistics.services import stat_pending_drain


class Command(BaseCommand):
    help = "核对统计单元与原始台账 / check the statistics cells against the raw ledger"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-drain",
            dest="drain",
            action="store_false",
            help="do not update pending series first; report them apart (pending, N)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["drain"]:
            drained = stat_pending_drain()
            if drained.enterprises:
                self.stdout.write(
                    f"先更新待更新统计 / drained pending: {drained.enterprises} enterprises, "
                    f"{drained.cells} cells"
                )
        pending = stats_pending_count(StatScope.everything())
        if pending:
            self.stdout.write(
                f"待更新 / pending, {pending}: series not yet caught up with the ledger "
                "(differences below may be theirs)"
            )
        report = stat_cells_check()
        for problem in report.problems:
            self.stderr.write(problem)
        if not report.ok:
            raise CommandError(
                f"统计单元与台账不符（{len(report.problems)}处）/ cells differ from the ledger"
            )
        self.stdout.write(
            f"一致 / consistent: {report.cells} cells, {report.entries} entries, stock balances"
        )

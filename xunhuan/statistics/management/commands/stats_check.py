"""``manage.py stats_check``: prove the statistics cells equal the raw ledger (exit 1 if not)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from xunhuan.statistics.check import stat_cells_check


class Command(BaseCommand):
    help = "核对统计单元与原始台账 / check the statistics cells against the raw ledger"

    def handle(self, *args: Any, **options: Any) -> None:
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

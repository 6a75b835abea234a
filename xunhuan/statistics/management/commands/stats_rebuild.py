"""``manage.py stats_rebuild``: rebuild every statistics cell from the raw ledger."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection

from xunhuan.statistics.services import stat_cells_rebuild, stat_cells_vacuum


class Command(BaseCommand):
    help = "从台账重建全部统计单元（结果可重复） / rebuild the statistics cells from the ledger"

    def handle(self, *args: Any, **options: Any) -> None:
        result = stat_cells_rebuild()
        self.stdout.write(
            f"重建完成 / rebuilt: {result.cells} cells from {result.entries} entries "
            f"in {result.seconds:.1f} s"
        )
        # PostgreSQL: the rewritten tables vacuumed and analyzed at once, not when
        # autovacuum gets to them (not possible inside a caller's transaction).
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            seconds = stat_cells_vacuum()
            self.stdout.write(f"VACUUM ANALYZE 统计单元表 / cell tables: {seconds:.1f} s")

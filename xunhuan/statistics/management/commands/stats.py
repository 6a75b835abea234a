"""``manage.py stats --region 150000 --year 2025 --by group``: an indicator table on the
terminal, or as Excel/CSV/Parquet with ``--format`` and ``--output``.

An operator's tool on the server: it sums every enterprise's cells (no user scope).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xunhuan.core.errors import DomainError
from xunhuan.statistics.exports import FORMATS, table_export
from xunhuan.statistics.selectors import (
    LABELS_ZH,
    RATE_DEFINITION,
    StatScope,
    region_get,
    stats_table,
    table_columns,
)


class Command(BaseCommand):
    help = "官方口径统计表 / official indicators by any grouping"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--region", help="行政区划代码，如 150000 / region code")
        parser.add_argument("--year", type=int)
        parser.add_argument(
            "--by",
            default="year",
            help="分组，逗号分隔：city,county,park,industry,"
            "enterprise,waste,group,route,year,quarter,month",
        )
        parser.add_argument("--waste-group", dest="waste_group")
        parser.add_argument("--format", choices=["table", *FORMATS], default="table")
        parser.add_argument("--output", type=Path, help="输出文件 / file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            region = region_get(code=options["region"]) if options["region"] else None
            by = [b.strip() for b in options["by"].split(",") if b.strip()]
            rows = stats_table(
                scope=StatScope.everything(),
                by=by,
                region=region,
                year=options["year"],
                waste_group=options["waste_group"],
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        flat = [row.flat() for row in rows]
        if options["format"] != "table":
            if options["output"] is None:
                raise CommandError("导出文件须指定 --output / --output is required")
            body = table_export(
                rows=flat,
                headers=LABELS_ZH,
                fmt=options["format"],
                title="综合利用统计",
                columns=table_columns(by),
            )
            options["output"].write_bytes(body)
            self.stdout.write(f"已写出 / written: {options['output']} ({len(flat)} rows)")
            return
        self.stdout.write(RATE_DEFINITION)
        if not flat:
            self.stdout.write("无数据 / no data")
            return
        columns = list(flat[0])
        self.stdout.write("\t".join(LABELS_ZH.get(c, c) for c in columns))
        for row in flat:
            self.stdout.write("\t".join("—" if row[c] is None else str(row[c]) for c in columns))

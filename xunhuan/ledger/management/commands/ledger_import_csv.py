from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xunhuan.ledger.imports import COLUMNS, ledger_import_csv
from xunhuan.registry.models import Enterprise


class Command(BaseCommand):
    help = (
        "从CSV导入台账记录（整文件成功或全部不保存）/ Import ledger entries from a CSV file, "
        "all or nothing. Columns (Chinese or English headers): "
        + ", ".join(f"{zh}/{en}" for zh, en in COLUMNS.values())
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enterprise", required=True, help="统一社会信用代码 credit code")
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check only, save nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        enterprise = Enterprise.objects.filter(credit_code=options["enterprise"].upper()).first()
        if enterprise is None:
            raise CommandError(f"no enterprise with credit code {options['enterprise']}")
        path: Path = options["file"]
        result = ledger_import_csv(
            enterprise=enterprise,
            content=path.read_bytes(),
            filename=path.name,
            dry_run=options["dry_run"],
        )
        if result.errors:
            for error in result.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(result.errors)} error(s); nothing was saved")
        if result.already_imported:
            self.stdout.write("此文件已导入过，未作改动 / file already imported; nothing changed")
        elif options["dry_run"]:
            self.stdout.write("检查通过 / dry run OK")
        else:
            self.stdout.write(f"imported {result.created} entries")

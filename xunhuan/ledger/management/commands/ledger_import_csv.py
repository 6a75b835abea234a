from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xunhuan.core.uscc import CreditCodeError, validate_credit_code
from xunhuan.ledger.imports import COLUMNS, ledger_import_csv
from xunhuan.registry import selectors as registry_selectors


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
        try:
            credit_code = validate_credit_code(options["enterprise"])
        except CreditCodeError as exc:
            raise CommandError(f"--enterprise {options['enterprise']}: {exc}") from exc
        enterprise = registry_selectors.enterprise_by_credit_code(credit_code)
        if enterprise is None:
            raise CommandError(f"未登记的单位：{credit_code} / no enterprise with this credit code")
        path: Path = options["file"]
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"无法读取文件 / cannot read {path}: {exc.strerror}") from exc
        result = ledger_import_csv(
            enterprise=enterprise,
            content=content,
            filename=path.name,
            dry_run=options["dry_run"],
        )
        if result.errors:
            for error in result.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{len(result.errors)}处错误，未保存任何记录 / "
                f"{len(result.errors)} error(s); nothing was saved"
            )
        if result.already_imported:
            self.stdout.write("此文件已导入过，未作改动 / file already imported; nothing changed")
        elif options["dry_run"]:
            self.stdout.write(
                f"检查通过，共{result.checked}行，未保存 / dry run OK: "
                f"{result.checked} rows checked, nothing saved"
            )
        else:
            self.stdout.write(f"已导入{result.created}条记录 / imported {result.created} entries")

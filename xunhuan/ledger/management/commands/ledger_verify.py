from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xunhuan.core.errors import DomainError
from xunhuan.ledger.verify import VerifyReport, ledger_verify_all


class Command(BaseCommand):
    help = (
        "校验每个企业台账的哈希链和库存 / Verify every enterprise's hash chain and stock "
        "balances; exits 1 naming the first broken entry of each chain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enterprise", help="only this credit code")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report: VerifyReport = ledger_verify_all(credit_code=options.get("enterprise"))
        except DomainError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        for problem in report.problems:
            self.stderr.write(problem)
        self.stdout.write(
            f"校验{report.chains}条链、{report.entries}条记录、{report.balances}项库存 / "
            f"checked {report.chains} chains, {report.entries} entries, "
            f"{report.balances} stock balances: "
            + ("OK" if not report.problems else f"{len(report.problems)} problem(s)")
        )
        if report.problems:
            raise CommandError("台账校验未通过 / ledger verification failed", returncode=1)

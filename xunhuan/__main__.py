"""``python -m xunhuan <command>``: the management commands, e.g. ``python -m xunhuan verify``."""

from __future__ import annotations

import os
import sys

ALIASES = {
    "verify": "ledger_verify",
    "import": "ledger_import_csv",
    "demo": "demo_load",
    "stats": "stats",
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xunhuan.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    if len(argv) > 1:
        argv[1] = ALIASES.get(argv[1], argv[1])
    execute_from_command_line(["xunhuan", *argv[1:]])


if __name__ == "__main__":
    main()

"""Compliance benchmark: a full run of every rule over a demo region, time and findings.

    XUNHUAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python bench/compliance.py --enterprises 500 --years 5

Uses the database in ``XUNHUAN_DATABASE_URL`` (PostgreSQL is the engine that
matters; unset, the local SQLite file). If it holds no enterprises it is migrated
and filled with the demo region of the given size first (not timed). Then it times
a first full run (findings created), a second (the same findings updated: the
idempotent re-run) and each rule on its own, and prints entries, findings and
seconds. Goal (issue #7): under 60 s for the 10M-entry data set, SQL doing the
scanning.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31))
    parser.add_argument(
        "--load-only", action="store_true", help="fill the database if empty, then stop"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xunhuan.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from xunhuan.compliance.models import Finding
    from xunhuan.compliance.services import compliance_run
    from xunhuan.core.compliance.library import RULES
    from xunhuan.demo.compliance import demo_compliance_plant
    from xunhuan.demo.generator import DemoSpec, demo_load
    from xunhuan.ledger.models import LedgerEntry
    from xunhuan.registry.models import Enterprise

    call_command("migrate", verbosity=0)
    if not Enterprise.objects.exists():
        call_command("registry_load", verbosity=0)
        spec = DemoSpec(enterprises=args.enterprises, years=args.years, end=args.end)
        started = time.perf_counter()
        summary = demo_load(spec, atomic=False)
        demo_compliance_plant(spec, summary)
        print(f"loaded demo: {summary.entries:,} entries in {time.perf_counter() - started:.0f} s")
    if connection.vendor == "postgresql":
        # Fresh planner statistics, as autovacuum would keep them (it is off on some
        # servers, this one included; not timed).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    if args.load_only:
        return
    as_of = LedgerEntry.objects.order_by("-occurred_on").values_list("occurred_on", flat=True)[0]
    entries = LedgerEntry.objects.count()
    enterprises = Enterprise.objects.count()
    print(f"{connection.vendor}: {enterprises:,} enterprises, {entries:,} entries, as of {as_of}")
    for label in ("first full run", "re-run"):
        started = time.perf_counter()
        run = compliance_run(as_of=as_of)
        seconds = time.perf_counter() - started
        print(
            f"{label:<15} {seconds:8.2f} s  found {run.found:,} (new {run.created:,}, "
            f"updated {run.updated:,}, resolved {run.resolved:,})"
        )
    print(f"{'rule':<24} {'seconds':>8} {'findings':>9}")
    for rule in RULES:
        started = time.perf_counter()
        run = compliance_run(rule_ids=[rule.rule_id], as_of=as_of)
        print(f"{rule.rule_id:<24} {time.perf_counter() - started:8.2f} {run.found:>9,}")
    print(f"findings in the table: {Finding.objects.count():,}")


if __name__ == "__main__":
    main()

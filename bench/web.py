"""Web benchmarks: a large ledger workbook through the background import, and the
province dashboard on a demo region. Prints figures; asserts nothing.

    .venv/bin/python bench/web.py              # 100,000 rows; a 200-enterprise demo
    .venv/bin/python bench/web.py --rows 20000 --enterprises 2000 --years 5

Runs on a fresh SQLite file under a temporary XUNHUAN_VAR_DIR (set
XUNHUAN_DATABASE_URL to an empty PostgreSQL database to measure that instead).
Goals (issue #5): a 100,000-row workbook imports as a job; the province dashboard
renders in under 300 ms server time on the full demo region.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    os.environ.setdefault("XUNHUAN_VAR_DIR", tempfile.mkdtemp(prefix="xh-bench-web-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xunhuan.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("registry_load", verbosity=0)


def bench_workbook(rows: int) -> None:
    from openpyxl import load_workbook

    from xunhuan.imports import services
    from xunhuan.imports.exports import ledger_template_workbook
    from xunhuan.imports.models import ImportSession
    from xunhuan.jobs.services import jobs_work
    from xunhuan.registry.models import Enterprise, Industry, Region, Site

    enterprise, _ = Enterprise.objects.get_or_create(
        credit_code="91150622MA0XUNHB01",
        defaults={
            "name": "基准测试电厂",
            "industry": Industry.objects.get(code="4411"),
            "region": Region.objects.get(code="150622"),
            "is_generator": True,
        },
    )
    for n in range(10):
        Site.objects.get_or_create(
            enterprise=enterprise, code=f"B{n}", defaults={"name": f"锅炉{n}", "kind": "production"}
        )
    started = time.perf_counter()
    book = load_workbook(io.BytesIO(ledger_template_workbook(enterprise=enterprise)))
    sheet = book["产生环节"]
    for n in range(rows):
        day = f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
        sheet.append([f"G{n}", day, f"B{n % 10}", "", "SW02", f"{n % 997 + 1}.125", ""])
    out = io.BytesIO()
    book.save(out)
    content = out.getvalue()
    build_s = time.perf_counter() - started
    session = services.import_session_create(
        enterprise=enterprise, filename="bench.xlsx", content=content
    )
    started = time.perf_counter()
    job = services.import_session_check_start(session=session, user=None)
    assert job is not None, "a workbook this size goes to a job"  # noqa: S101
    jobs_work()
    check_s = time.perf_counter() - started
    session = ImportSession.objects.get(pk=session.pk)
    print(f"check: {session.status}, {session.row_count:,} rows, {session.error_count} errors")
    started = time.perf_counter()
    services.import_session_commit_start(session=session, user=None)
    jobs_work()
    commit_s = time.perf_counter() - started
    session = ImportSession.objects.get(pk=session.pk)
    print(f"commit: {session.status}, {session.created_entries:,} entries")
    print(
        f"workbook {rows:,} rows, {len(content) / 1e6:.1f} MB: build {build_s:.1f} s, "
        f"check job {check_s:.1f} s ({rows / check_s:,.0f} rows/s), "
        f"commit job {commit_s:.1f} s ({rows / commit_s:,.0f} rows/s)"
    )


def bench_dashboard(enterprises: int, years: int, repeat: int) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from xunhuan.accounts.models import Membership

    started = time.perf_counter()
    call_command("demo_load", enterprises=enterprises, years=years, verbosity=0)
    print(
        f"demo region: {enterprises} enterprises, {years} years "
        f"in {time.perf_counter() - started:.0f} s"
    )
    seat = Membership.objects.filter(regulator_region_id="150000").select_related("user").first()
    assert seat is not None, "the demo has a province regulator"  # noqa: S101
    client = Client()
    client.force_login(seat.user)
    for url in ("/dashboard/", "/dashboard/?region=150600", "/transfers/"):
        client.get(url)  # warm caches and the session
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200  # noqa: S101
        print(
            f"{url:<28} median {statistics.median(times):7.1f} ms  "
            f"min {min(times):7.1f} ms  {len(queries)} queries"
        )
    print("goal: province dashboard < 300 ms server time on the full demo region")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--enterprises", type=int, default=200)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-workbook", action="store_true")
    parser.add_argument("--skip-dashboard", action="store_true")
    args = parser.parse_args()
    _setup()
    # The demo loads only into a database without enterprises: dashboard first.
    if not args.skip_dashboard:
        bench_dashboard(args.enterprises, args.years, args.repeat)
    if not args.skip_workbook:
        bench_workbook(args.rows)


if __name__ == "__main__":
    main()

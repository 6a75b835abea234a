"""Exchange matching benchmark: our build + solve against a plain OR-Tools
min-cost-flow solve of the same arcs, on generated suppliers x utilizers.

    .venv/bin/python bench/match.py       # 2,000x300, 10,000x1,000, 50,000x3,000 + 12-month LP
    .venv/bin/python bench/match.py --sizes 2000x300 --no-horizon

Instances are random but seeded: sites spread over central/western Inner Mongolia
and northern Shanxi, three waste categories, 60 rail terminals with ~60 % of
sites rail-served, moisture limits at a third of the utilizers. Each measurement
runs in its own process so that its peak resident memory is its own:

* ``ours``: from the generated lots/receivers arrays, ``network_build`` (k-nearest
  road and rail arcs, pricing, quality eligibility) + ``network_solve`` (OR-Tools
  max-flow-min-cost, flows and objective read back).
* ``plain``: the same arcs (built by the parent, saved to .npz, not timed) fed
  straight into ``SimpleMinCostFlow.solve_max_flow_with_min_cost``.
* ``horizon``: 12 months of 2,000x300 with yard carry-over through HiGHS.

The database part of a run (reading the ledger, writing flows) is not in here; see
the issue report for what that path measured. Goal (issue #6): ours <= 2x plain;
12-month LP under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from xunhuan.core.exchange.network import (  # noqa: E402
    QUALITY_ATTRIBUTES,
    Lots,
    Places,
    Receivers,
    Terminals,
    network_build,
)
from xunhuan.core.exchange.transport import Tariff  # noqa: E402

K_ROAD = 55
K_RAIL = 20
# The 12-month LP keeps each lot's 15 nearest receivers by road and 5 by rail:
# with 55/20 it has 850k columns and HiGHS's interior point needs ~55 s of CPU
# for the cost stage alone (measured); monthly planning does not need more reach.
HORIZON_K_ROAD = 15
HORIZON_K_RAIL = 5
WASTES = 3
TERMINALS = 60
MOISTURE = QUALITY_ATTRIBUTES.index("moisture_pct")


def instance(n_lots: int, n_receivers: int, seed: int = 6) -> tuple[Lots, Receivers, Terminals]:
    rng = np.random.default_rng(seed)
    t_lat = rng.uniform(37.5, 42.5, TERMINALS)
    t_lon = rng.uniform(106.0, 116.0, TERMINALS)

    def places(n: int) -> Places:
        lat = rng.uniform(37.5, 42.5, n)
        lon = rng.uniform(106.0, 116.0, n)
        rail = rng.random(n) < 0.6
        terminal = np.where(rail, rng.integers(0, TERMINALS, n), -1).astype(np.int32)
        return Places(
            lat=lat,
            lon=lon,
            waste=rng.integers(0, WASTES, n).astype(np.int32),
            province=np.where(lat < 39.5, 140000, 150000).astype(np.int32),
            league=(np.floor(lon) * 100).astype(np.int32),
            terminal=terminal,
            drayage_km=np.where(rail, rng.uniform(1, 30, n), 0.0),
        )

    quality = np.full((n_lots, len(QUALITY_ATTRIBUTES)), np.nan)
    quality[:, MOISTURE] = rng.uniform(5, 25, n_lots)
    lot_max = np.full((n_receivers, len(QUALITY_ATTRIBUTES)), np.nan)
    lot_max[::3, MOISTURE] = 18.0
    # Monthly tonnages: lots 100-20,000 t, receivers sized so total capacity is
    # ~70 % of supply (some surplus stays unplaced, as in the region's data).
    lots = Lots(places(n_lots), rng.integers(100_000, 20_000_000, n_lots).astype(np.int64), quality)
    capacity = rng.integers(100_000, 2 * 20_000_000 * n_lots // n_receivers * 7 // 10, n_receivers)
    receivers = Receivers(
        places(n_receivers),
        capacity.astype(np.int64),
        np.full((n_receivers, len(QUALITY_ATTRIBUTES)), np.nan),
        lot_max,
    )
    return lots, receivers, Terminals(t_lat, t_lon)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ours(n_lots: int, n_receivers: int) -> dict[str, Any]:
    from xunhuan.core.exchange.solvers import network_solve

    lots, receivers, terminals = instance(n_lots, n_receivers)
    before = _peak_mb()
    t0 = time.perf_counter()
    network = network_build(
        lots=lots,
        receivers=receivers,
        terminals=terminals,
        tariff=Tariff(),
        k_road=K_ROAD,
        k_rail=K_RAIL,
    )
    t1 = time.perf_counter()
    solution = network_solve(network)
    t2 = time.perf_counter()
    return {
        "arcs": len(network.arcs),
        "build_s": t1 - t0,
        "solve_s": t2 - t1,
        "total_s": t2 - t0,
        "utilized_t": solution.utilized_kg / 1000,
        "cost_yuan": float(solution.cost_yuan),
        "peak_mb": _peak_mb(),
        "input_mb": before,
    }


def child_plain(path: str) -> dict[str, Any]:
    # the solvers module loads OR-Tools in the order HiGHS needs (see ADR 0030)
    from xunhuan.core.exchange.solvers import min_cost_flow  # type: ignore[attr-defined]

    data = np.load(path)
    tails, heads, caps, costs, supplies = (
        data["tails"],
        data["heads"],
        data["caps"],
        data["costs"],
        data["supplies"],
    )
    before = _peak_mb()
    t0 = time.perf_counter()
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    smcf.set_nodes_supplies(np.arange(supplies.size, dtype=np.int32), supplies)
    status = smcf.solve_max_flow_with_min_cost()
    flows = smcf.flows(arcs)
    t1 = time.perf_counter()
    if status != smcf.OPTIMAL:
        raise SystemExit(f"plain solve failed: {status}")
    return {
        "total_s": t1 - t0,
        "utilized_t": int(flows.sum()) / 1000,
        "cost_yuan": smcf.optimal_cost() / 100_000,
        "peak_mb": _peak_mb(),
        "input_mb": before,
    }


def child_horizon(n_lots: int, n_receivers: int) -> dict[str, Any]:
    from xunhuan.core.exchange.solvers import Horizon, horizon_solve

    lots, receivers, terminals = instance(n_lots, n_receivers)
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    network = network_build(
        lots=lots,
        receivers=receivers,
        terminals=terminals,
        tariff=Tariff(),
        k_road=HORIZON_K_ROAD,
        k_rail=HORIZON_K_RAIL,
    )
    # Seasonal generation (+-30 %) and capacity (kilns idle in the winter months).
    season = 1 + 0.3 * np.sin(np.arange(12) / 12 * 2 * np.pi)
    winter = np.array([0.5, 0.6, 0.9, 1, 1, 1, 1, 1, 1, 1, 0.8, 0.5])
    horizon = Horizon(
        generation_kg=(lots.quantity_kg[:, None] * season[None, :]).astype(np.int64),
        opening_stock_kg=rng.integers(0, 50_000_000, n_lots).astype(np.int64),
        yard_capacity_kg=rng.uniform(0, 60_000_000, n_lots),
        capacity_kg=(receivers.capacity_kg[:, None] * winter[None, :]).astype(np.int64),
    )
    t1 = time.perf_counter()
    solution = horizon_solve(network, horizon, storage_yuan_per_t=0.5)
    t2 = time.perf_counter()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": cpu.ru_utime + cpu.ru_stime,
        "arcs": len(network.arcs),
        "columns": len(network.arcs) * 12 + 2 * n_lots * 12,
        "build_s": t1 - t0,
        "solve_s": t2 - t1,
        "total_s": t2 - t0,
        "utilized_t": solution.utilized_kg / 1000,
        "cost_yuan": float(solution.transport_cost_yuan + solution.storage_cost_yuan),
        "peak_mb": _peak_mb(),
    }


def _run_child(*args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stdout, done.stderr, file=sys.stderr)
        raise SystemExit(f"child {args} failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _save_plain_input(n_lots: int, n_receivers: int, path: str) -> int:
    """The arcs ours builds, in the form a plain OR-Tools caller would pass them."""
    lots, receivers, terminals = instance(n_lots, n_receivers)
    network = network_build(
        lots=lots,
        receivers=receivers,
        terminals=terminals,
        tariff=Tariff(),
        k_road=K_ROAD,
        k_rail=K_RAIL,
    )
    arcs = network.arcs
    np.savez(
        path,
        tails=arcs.lot.astype(np.int32),
        heads=(arcs.receiver + n_lots).astype(np.int32),
        caps=network.lot_kg[arcs.lot],
        costs=arcs.cost_fen_per_t,
        supplies=np.concatenate([network.lot_kg, -network.capacity_kg]),
    )
    return len(arcs)


def parent(args: argparse.Namespace) -> None:
    rows = []
    for size in args.sizes:
        n_lots, n_receivers = (int(x) for x in size.split("x"))
        print(f"… {n_lots:,} x {n_receivers:,}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "arcs.npz")
            _save_plain_input(n_lots, n_receivers, path)
            plain = _run_child("plain", path)
        ours = _run_child("ours", str(n_lots), str(n_receivers))
        rows.append((size, ours, plain))
    print()
    print(
        f"{'size':<12} {'arcs':>10} {'build s':>8} {'solve s':>8} {'ours s':>8} {'plain s':>8}"
        f" {'ratio':>6} {'ours MB':>8} {'plain MB':>9} {'same objective':>15}"
    )
    for size, ours, plain in rows:
        same = (
            abs(ours["utilized_t"] - plain["utilized_t"]) < 1e-6
            and abs(ours["cost_yuan"] - plain["cost_yuan"]) < 0.01
        )
        print(
            f"{size:<12} {ours['arcs']:>10,} {ours['build_s']:>8.2f} {ours['solve_s']:>8.2f}"
            f" {ours['total_s']:>8.2f} {plain['total_s']:>8.2f}"
            f" {ours['total_s'] / plain['total_s']:>6.2f} {ours['peak_mb']:>8.0f}"
            f" {plain['peak_mb']:>9.0f} {'yes' if same else 'NO':>15}"
        )
    print("goal: ratio <= 2.0 (ours = build arcs + solve + read flows; plain = OR-Tools on")
    print("      the prebuilt arcs); MB = peak resident memory of each process")
    if args.horizon:
        print("… 12-month LP 2,000 x 300", flush=True)
        h = _run_child("horizon", "2000", "300")
        print(
            f"12-month 2,000x300: {h['arcs']:,} arcs, {h['columns']:,} LP columns, build"
            f" {h['build_s']:.2f} s, HiGHS {h['solve_s']:.1f} s, total {h['total_s']:.1f} s,"
            f" (process CPU {h['cpu_s']:.1f} s), peak {h['peak_mb']:.0f} MB,"
            f" utilized {h['utilized_t']:,.0f} t (goal < 60 s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["2000x300", "10000x1000", "50000x3000"])
    parser.add_argument("--no-horizon", dest="horizon", action="store_false")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "ours":
            result = child_ours(int(rest[0]), int(rest[1]))
        elif kind == "plain":
            result = child_plain(rest[0])
        else:
            result = child_horizon(int(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return
    parent(args)


if __name__ == "__main__":
    main()

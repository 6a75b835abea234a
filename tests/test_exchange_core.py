"""The Django-free exchange model: hand-verified optima, degenerate inputs, and
agreement between the two independent solvers on seeded random instances."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from tests.factories import hand_arcs
from xunhuan.core.exchange.network import (
    QUALITY_ATTRIBUTES,
    Arcs,
    BlendLimit,
    Lots,
    Network,
    Places,
    Receivers,
    Terminals,
    arcs_build,
    network_build,
)
from xunhuan.core.exchange.solvers import (
    NO_ARCS,
    NO_DEMAND,
    NO_SUPPLY,
    UNREACHABLE,
    Horizon,
    horizon_network_solve,
    horizon_solve,
    lp_solve,
    network_solve,
)
from xunhuan.core.exchange.transport import MODE_RAIL, MODE_ROAD, Tariff

NQ = len(QUALITY_ATTRIBUTES)
AL2O3 = QUALITY_ATTRIBUTES.index("al2o3_pct")
MOISTURE = QUALITY_ATTRIBUTES.index("moisture_pct")


def hand_network(
    lot_t: list[int],
    capacity_t: list[int],
    arcs: list[tuple[int, int, int]],
    **extra: object,
) -> Network:
    """A network from (lot, receiver, fen per tonne) triples; quantities in tonnes."""
    return Network(
        lot_kg=np.array(lot_t, dtype=np.int64) * 1000,
        capacity_kg=np.array(capacity_t, dtype=np.int64) * 1000,
        arcs=hand_arcs(arcs),
        **extra,  # type: ignore[arg-type]
    )


# A: 100 t, B: 50 t; X takes 80 t, Y 100 t. Nearest-first would fill X with A;
# the optimum gives X to B, whose detour to Y is dearer (3,500 vs 2,000 fen/t):
# B->X 50, A->X 30, A->Y 70 = 75,000 + 30,000 + 210,000 fen = 3,150 yuan.
SMALL = hand_network([100, 50], [80, 100], [(0, 0, 1000), (0, 1, 3000), (1, 0, 1500), (1, 1, 5000)])


@pytest.mark.parametrize("solve", [network_solve, lp_solve])
def test_small_instance_has_the_hand_computed_optimum(solve: object) -> None:
    solution = solve(SMALL)  # type: ignore[operator]
    assert solution.utilized_kg == 150_000
    assert solution.cost_yuan == Decimal("3150.00")
    assert solution.flow_kg.tolist() == [30_000, 70_000, 50_000, 0]
    assert solution.notes == ()


@pytest.mark.parametrize("solve", [network_solve, lp_solve])
def test_more_tonnes_utilized_beats_a_cheaper_plan(solve: object) -> None:
    # B->X is cheap, but then A has nowhere to go: the plan must send B to Y.
    network = hand_network([100, 100], [100, 100], [(0, 0, 1000), (1, 0, 100), (1, 1, 9000)])
    solution = solve(network)  # type: ignore[operator]
    assert solution.utilized_kg == 200_000
    assert solution.cost_yuan == Decimal("10000.00")
    assert solution.flow_kg.tolist() == [100_000, 0, 100_000]


@pytest.mark.parametrize("solve", [network_solve, lp_solve])
def test_no_demand_is_a_clear_empty_result(solve: object) -> None:
    solution = solve(hand_network([100], [0], [(0, 0, 1000)]))  # type: ignore[operator]
    assert solution.utilized_kg == 0
    assert solution.flow_kg.tolist() == [0]
    assert solution.notes == (NO_DEMAND,)


@pytest.mark.parametrize("solve", [network_solve, lp_solve])
def test_no_supply_and_no_receivers_at_all(solve: object) -> None:
    solution = solve(hand_network([], [], []))  # type: ignore[operator]
    assert solution.utilized_kg == 0
    assert solution.notes == (NO_SUPPLY, NO_DEMAND, NO_ARCS)


@pytest.mark.parametrize("solve", [network_solve, lp_solve])
def test_unreachable_supply_is_named(solve: object) -> None:
    # Lot 1 has no arc: lot 0 is placed, lot 1 reported as unreachable.
    solution = solve(hand_network([10, 20], [100], [(0, 0, 500)]))  # type: ignore[operator]
    assert solution.utilized_kg == 10_000
    assert solution.unreachable_lots.tolist() == [1]
    assert solution.notes == (UNREACHABLE,)


@pytest.mark.parametrize("solve", [network_solve, lp_solve])
def test_nothing_reachable(solve: object) -> None:
    solution = solve(hand_network([10, 20], [100], []))  # type: ignore[operator]
    assert solution.utilized_kg == 0
    assert solution.unreachable_lots.tolist() == [0, 1]
    assert solution.notes == (NO_ARCS,)


def test_blending_limit_is_an_lp() -> None:
    # X needs an average Al2O3 >= 40 %: A (50 %, dearer) must at least match B (30 %).
    # Max 100 t with x_A >= x_B, cheapest at 50/50: 50*2000 + 50*1000 fen = 1,500 yuan.
    quality = np.full((2, NQ), np.nan)
    quality[:, AL2O3] = [50.0, 30.0]
    network = hand_network(
        [100, 100],
        [100],
        [(0, 0, 2000), (1, 0, 1000)],
        lot_quality=quality,
        blend_limits=(BlendLimit(receiver=0, attribute=AL2O3, minimum=40.0),),
    )
    solution = lp_solve(network)
    assert solution.utilized_kg == 100_000
    assert solution.flow_kg.tolist() == [50_000, 50_000]
    assert solution.cost_yuan == Decimal("1500.00")
    with pytest.raises(ValueError, match="general LP"):
        network_solve(network)


def test_horizon_carries_stock_over_within_the_yard() -> None:
    # One lot making 100 t a month, a receiver taking 50/200/50, a 60 t yard:
    # month 1 ships 50 and stores 50, month 2 ships 150, month 3 ships 50; the last
    # 50 t are not stored (holding costs and nothing can use them): 250 t utilized.
    network = hand_network([0], [0], [(0, 0, 1000)])
    horizon = Horizon(
        generation_kg=np.array([[100_000, 100_000, 100_000]], dtype=np.int64),
        opening_stock_kg=np.array([0], dtype=np.int64),
        yard_capacity_kg=np.array([60_000.0]),
        capacity_kg=np.array([[50_000, 200_000, 50_000]], dtype=np.int64),
    )
    solution = horizon_solve(network, horizon, storage_yuan_per_t=0.5)
    assert solution.utilized_kg == 250_000
    assert solution.flow_kg[:, 0].tolist() == [50_000, 150_000, 50_000]
    assert solution.stock_kg.tolist() == [[50_000, 0, 0]]
    assert solution.unutilized_kg.tolist() == [[0, 0, 50_000]]
    assert solution.transport_cost_yuan == Decimal("2500.00")
    assert solution.storage_cost_yuan == Decimal("25.00")


def test_horizon_draws_down_opening_stock_but_not_beyond_the_yard() -> None:
    # 500 t of old stock, a 100 t yard, nothing new: 100 t/month can be shipped,
    # only 100 t may be held over, so 300 t go to disposal at once; 200 t utilized.
    network = hand_network([0], [0], [(0, 0, 700)])
    horizon = Horizon(
        generation_kg=np.zeros((1, 2), dtype=np.int64),
        opening_stock_kg=np.array([500_000], dtype=np.int64),
        yard_capacity_kg=np.array([100_000.0]),
        capacity_kg=np.array([[100_000, 100_000]], dtype=np.int64),
    )
    solution = horizon_solve(network, horizon, storage_yuan_per_t=0.5)
    assert solution.utilized_kg == 200_000
    assert solution.unutilized_kg.tolist() == [[300_000, 0]]
    assert solution.stock_kg.tolist() == [[100_000, 0]]


def _places(lat: list[float], lon: list[float], terminal: list[int], **kw: list[int]) -> Places:
    n = len(lat)
    return Places(
        lat=np.array(lat),
        lon=np.array(lon),
        waste=np.array(kw.get("waste", [0] * n), dtype=np.int32),
        province=np.array(kw.get("province", [150000] * n), dtype=np.int32),
        league=np.array(kw.get("league", [150600] * n), dtype=np.int32),
        terminal=np.array(terminal, dtype=np.int32),
        drayage_km=np.array([5.0 if t >= 0 else 0.0 for t in terminal]),
    )


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_arcs_price_road_and_rail_and_respect_haul_and_quality() -> None:
    # Lot at 40N 111E on terminal 0. Receivers: R0 near (road), R1 far (beyond the
    # road's 300 km but on terminal 1: rail), R2 near but limits moisture to 15 %,
    # R3 near but another waste.
    lot_quality = np.full((1, NQ), np.nan)
    lot_quality[0, MOISTURE] = 20.0
    lots = Lots(
        places=_places([40.0], [111.0], [0]),
        quantity_kg=np.array([1_000_000], dtype=np.int64),
        quality=lot_quality,
    )
    lot_max = np.full((4, NQ), np.nan)
    lot_max[2, MOISTURE] = 15.0
    receivers = Receivers(
        places=_places(
            [40.0, 44.0, 40.1, 40.0],
            [111.5, 111.0, 111.0, 111.2],
            [-1, 1, -1, -1],
            waste=[0, 0, 0, 1],
            league=[150600, 150200, 150600, 150600],
        ),
        capacity_kg=np.array([1, 1, 1, 1], dtype=np.int64),
        lot_min=np.full((4, NQ), np.nan),
        lot_max=lot_max,
    )
    terminals = Terminals(lat=np.array([40.05, 44.0]), lon=np.array([111.0, 111.05]))
    tariff = Tariff(cross_league_yuan_per_t=Decimal("3.00"))
    arcs = arcs_build(lots=lots, receivers=receivers, terminals=terminals, tariff=tariff)
    assert arcs.receiver.tolist() == [0, 1]
    assert arcs.mode.tolist() == [MODE_ROAD, MODE_RAIL]
    road_km = 1.3 * _haversine(40.0, 111.0, 40.0, 111.5)
    assert arcs.km[0] == pytest.approx(road_km, rel=1e-12)
    assert arcs.cost_fen_per_t[0] == round(road_km * 45)
    line_km = 1.25 * _haversine(40.05, 111.0, 44.0, 111.05)
    assert arcs.rail_km[1] == pytest.approx(line_km, rel=1e-12)
    # handling 20 yuan + rail 0.16/t-km + 10 km of drayage by road + 3 yuan cross-league
    assert arcs.cost_fen_per_t[1] == round(2000 + line_km * 16 + 10 * 45 + 300)


@pytest.mark.parametrize("seed", range(12))
def test_both_solvers_agree_on_random_instances(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_lots, n_receivers, n_terminals = 60, 15, 6
    lat = rng.uniform(38.0, 42.0, n_lots + n_receivers)
    lon = rng.uniform(106.0, 112.0, n_lots + n_receivers)
    terminal = np.where(
        rng.random(n_lots + n_receivers) < 0.4, rng.integers(0, n_terminals, lat.size), -1
    )
    waste = rng.integers(0, 2, lat.size)
    moisture = rng.uniform(5.0, 25.0, (n_lots, 1))
    places = [
        Places(
            lat=lat[s],
            lon=lon[s],
            waste=waste[s].astype(np.int32),
            province=np.full(len(lat[s]), 150000, dtype=np.int32),
            league=rng.choice([150200, 150600], len(lat[s])).astype(np.int32),
            terminal=terminal[s].astype(np.int32),
            drayage_km=rng.uniform(0, 15, len(lat[s])),
        )
        for s in (slice(0, n_lots), slice(n_lots, None))
    ]
    quality = np.full((n_lots, NQ), np.nan)
    quality[:, MOISTURE] = moisture[:, 0]
    lot_max = np.full((n_receivers, NQ), np.nan)
    lot_max[::3, MOISTURE] = 15.0
    lots = Lots(places[0], rng.integers(0, 50_000_000, n_lots).astype(np.int64), quality)
    receivers = Receivers(
        places[1],
        rng.integers(0, 300_000_000, n_receivers).astype(np.int64),
        np.full((n_receivers, NQ), np.nan),
        lot_max,
    )
    terminals = Terminals(rng.uniform(38.0, 42.0, n_terminals), rng.uniform(106, 112, n_terminals))
    network = network_build(
        lots=lots,
        receivers=receivers,
        terminals=terminals,
        tariff=Tariff(cross_league_yuan_per_t=Decimal("5.00")),
        k_road=5,
        k_rail=3,
    )
    flow = network_solve(network)
    lp = lp_solve(network)
    assert lp.lp_utilized_t is not None
    assert lp.lp_cost_yuan is not None
    assert lp.lp_utilized_t * 1000 == pytest.approx(flow.utilized_kg, rel=1e-8, abs=1e-3)
    assert lp.lp_cost_yuan == pytest.approx(flow.cost_units / 100_000, rel=1e-7, abs=1e-2)
    # and the network answer is itself feasible
    np.testing.assert_array_less(
        np.bincount(network.arcs.lot, flow.flow_kg, n_lots), network.lot_kg + 1
    )
    np.testing.assert_array_less(
        np.bincount(network.arcs.receiver, flow.flow_kg, n_receivers), network.capacity_kg + 1
    )


@pytest.mark.parametrize("seed", range(4))
def test_horizon_lp_agrees_with_the_time_expanded_network(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_lots, n_receivers, periods = 25, 6, 12
    lot, receiver = np.meshgrid(np.arange(n_lots), np.arange(n_receivers), indexing="ij")
    keep = rng.random(lot.size) < 0.4
    n = int(keep.sum())
    network = Network(
        lot_kg=np.zeros(n_lots, dtype=np.int64),
        capacity_kg=np.zeros(n_receivers, dtype=np.int64),
        arcs=Arcs(
            lot=lot.ravel()[keep].astype(np.int32),
            receiver=receiver.ravel()[keep].astype(np.int32),
            mode=np.zeros(n, dtype=np.int8),
            km=np.zeros(n),
            rail_km=np.zeros(n),
            cost_fen_per_t=rng.integers(500, 20_000, n).astype(np.int64),
        ),
    )
    horizon = Horizon(
        generation_kg=rng.integers(0, 5_000_000, (n_lots, periods)).astype(np.int64),
        opening_stock_kg=rng.integers(0, 10_000_000, n_lots).astype(np.int64),
        yard_capacity_kg=rng.uniform(0, 8_000_000, n_lots),
        capacity_kg=rng.integers(0, 20_000_000, (n_receivers, periods)).astype(np.int64),
    )
    lp = horizon_solve(network, horizon, storage_yuan_per_t=0.5)
    flow = horizon_network_solve(network, horizon, storage_fen_per_t=50)
    assert flow.utilized_kg > 0
    assert lp.lp_utilized_t == pytest.approx(flow.utilized_kg / 1000, rel=1e-9)
    assert lp.lp_cost_yuan == pytest.approx(flow.lp_cost_yuan, rel=1e-6)

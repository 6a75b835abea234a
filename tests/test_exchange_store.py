"""How a run's flows are ranked and priced before they are written (no database)."""

from __future__ import annotations

import importlib

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import hand_arcs
from xunhuan.core.exchange.network import Arcs
from xunhuan.exchange.selectors import DemandTable, Receiver
from xunhuan.exchange.services.runs import _cost_ranks, _money


def _arcs(lot: list[int], cost: list[int]) -> Arcs:
    """Arcs of the given lots and costs, all to receiver 0."""
    return hand_arcs([(i, 0, c) for i, c in zip(lot, cost, strict=True)])


def test_ranks_count_cheaper_routes_of_the_same_lot_and_ties_share_a_rank() -> None:
    # lot 0: costs 500, 300, 300, 900; lot 1: 100; lot 2: no arcs; arcs out of lot order
    arcs = _arcs([0, 1, 0, 0, 0], [500, 100, 300, 300, 900])
    rank, eligible = _cost_ranks(arcs, np.array([0, 1, 2, 4]), 3)
    assert rank.tolist() == [3, 1, 1, 4]
    assert eligible.tolist() == [4, 1, 0]


def test_no_moving_arcs_give_no_ranks() -> None:
    rank, eligible = _cost_ranks(_arcs([0, 0], [1, 2]), np.zeros(0, dtype=np.int64), 2)
    assert rank.size == 0
    assert eligible.tolist() == [2, 0]


@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10**9)), min_size=1, max_size=60),
    st.data(),
)
def test_ranks_equal_counting_by_hand(arcs_in: list[tuple[int, int]], data: st.DataObject) -> None:
    lot = [a for a, _ in arcs_in]
    cost = [c for _, c in arcs_in]
    moving = sorted(data.draw(st.sets(st.integers(0, len(lot) - 1))))
    rank, _ = _cost_ranks(_arcs(lot, cost), np.array(moving, dtype=np.int64), 6)
    expected = [
        1 + sum(1 for j in range(len(lot)) if lot[j] == lot[i] and cost[j] < cost[i])
        for i in moving
    ]
    assert rank.tolist() == expected


def test_money_is_exact_yuan_with_two_places() -> None:
    fen = np.array([0, 5, 99, 100, 123456, -250], dtype=np.int64)
    assert _money(fen) == ["0.00", "0.05", "0.99", "1.00", "1234.56", "-2.50"]


def test_the_migration_reads_ranks_back_from_the_stored_sentences() -> None:
    # The sentences runs stored before migration exchange 0005, as written then.
    migration = importlib.import_module("xunhuan.exchange.migrations.0005_flow_rank_columns")
    first = (
        "公路67.6公里，30.40元/吨；在71条可达且质量合格的线路中运费排第1 / "
        "road 67.6 km, 30.40 yuan/t; cost rank 1 of 71 eligible routes"
    )
    later = (
        "铁路56.7公里，40.15元/吨；在17条可达且质量合格的线路中运费排第15（更便宜的接收方能力已"
        "被占用） / rail 56.7 km, 40.15 yuan/t; cost rank 15 of 17 eligible routes (cheaper "
        "receivers' capacity is taken)"
    )
    assert migration.SENTENCE.search(first).groups() == ("71", "1")
    assert migration.SENTENCE.search(later).groups() == ("17", "15")


def _demand(names: list[str]) -> DemandTable:
    n = len(names)
    return DemandTable(
        enterprise_id=np.arange(n, dtype=np.int64),
        site_id=np.arange(n, dtype=np.int64) + 100,
        name=names,
        waste_code=[f"W{i}" for i in range(n)],
        capacity_kg=np.arange(n, dtype=np.int64) * 1000,
        lat=np.linspace(39, 40, n),
        lon=np.linspace(110, 111, n),
        province=np.full(n, 150000, dtype=np.int32),
        league=np.full(n, 150600, dtype=np.int32),
    )


def test_tables_take_and_stack_every_column() -> None:
    table = _demand(["a", "b", "c"])
    taken = table.take(np.array([2, 0]))
    assert taken.name == ["c", "a"]
    assert taken.site_id.tolist() == [102, 100]
    assert taken.waste_code == ["W2", "W0"]
    stacked = DemandTable.stacked([taken, table.take(np.array([1]))])
    assert len(stacked) == 3
    assert stacked.name == ["c", "a", "b"]
    assert stacked.capacity_kg.tolist() == [2000, 0, 1000]
    assert stacked.lat.tolist() == [table.lat[2], table.lat[0], table.lat[1]]
    assert stacked.league.dtype == np.int32


def test_a_scenarios_plant_is_added_without_a_site() -> None:
    plant = Receiver(
        enterprise_id=None,
        site_id=None,
        name="新厂",
        waste_code="W9",
        capacity_kg=5000,
        lat=40.5,
        lon=109.5,
        province=150000,
        league=150600,
    )
    extended = _demand(["a"]).extended([plant])
    assert extended.name == ["a", "新厂"]
    assert extended.site_id.tolist() == [100, -1]
    assert extended.capacity_kg.tolist() == [0, 5000]

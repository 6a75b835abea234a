"""Solvers for the exchange network: OR-Tools min-cost flow and HiGHS LPs.

Objective, in order (lexicographic): first the most tonnes utilized, then the
least transport cost among all plans that utilize that much. Both solvers solve
it exactly rather than through a big-M weight:

* ``network_solve`` uses OR-Tools ``SimpleMinCostFlow.solve_max_flow_with_min_cost``,
  which computes a maximum flow and, among maximum flows, one of minimum cost.
* ``lp_solve`` and ``horizon_solve`` run HiGHS twice: maximize utilized tonnes,
  then fix that total (with a 1e-9 relative tolerance) and minimize cost, warm
  started from the first basis.

Loading both solvers in one process needs care: OR-Tools 9.15 links its own
HiGHS build as ``libhighs.so.1``, and highspy ships a different build with the
same soname, so whichever loads first is bound for both (see ADR 0030). We load
highspy first, then OR-Tools with lazy binding: the min-cost-flow code never
calls into HiGHS, so the HiGHS functions OR-Tools references are never resolved.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from decimal import Decimal

# highspy is imported before OR-Tools on purpose (module docstring).
import highspy
import numpy as np
from numpy.typing import NDArray

from xunhuan.core.exchange.network import F64, I64, Network

_flags = sys.getdlopenflags()
sys.setdlopenflags(os.RTLD_LAZY | os.RTLD_LOCAL)
try:
    from ortools.graph.python import min_cost_flow
finally:
    sys.setdlopenflags(_flags)

# Costs are integer fen per tonne and flows integer kilograms, so the network
# objective is exact in int64 as long as total flow x largest cost stays below
# this bound; larger instances are solved in coarser quanta (see _quantum).
_INT64_HEADROOM = 2**61
_LOG = bool(os.environ.get("XUNHUAN_HIGHS_LOG"))
# Fen per tonne x kg = 1e-5 yuan.
_COST_UNITS_PER_YUAN = Decimal(100 * 1000)

NO_SUPPLY = "无可供应的固废 / no supply to place"
NO_DEMAND = "无接收能力 / no receiving capacity"
NO_ARCS = "没有可行的运输线路 / no eligible route between any supply and receiver"
UNREACHABLE = "部分供应无可达接收方 / some supply has no eligible receiver within reach"


@dataclass(frozen=True)
class Solution:
    """Flows per arc and the two objective values."""

    solver: str
    flow_kg: I64
    utilized_kg: int
    # Sum of flow_kg x cost_fen_per_t: exact integer; yuan = this / 100,000.
    cost_units: int
    # Lots with quantity but no eligible arc at all.
    unreachable_lots: I64
    notes: tuple[str, ...] = ()
    quantum_kg: int = 1
    # The LP's own objective values before flows are rounded to kilograms.
    lp_utilized_t: float | None = None
    lp_cost_yuan: float | None = None

    @property
    def cost_yuan(self) -> Decimal:
        return (Decimal(self.cost_units) / _COST_UNITS_PER_YUAN).quantize(Decimal("0.01"))


def _quantum(total_kg: int, max_cost: int) -> int:
    quantum = 1
    while (total_kg // quantum + 1) * max(max_cost, 1) >= _INT64_HEADROOM:
        quantum *= 10
    return quantum


def _trivial(network: Network, solver: str) -> Solution | None:
    """The answer without a solve when there is nothing to optimize, with the reason."""
    arcs = network.arcs
    has_arc = np.zeros(network.lot_kg.shape[0], dtype=bool)
    has_arc[arcs.lot] = True
    unreachable = np.flatnonzero((network.lot_kg > 0) & ~has_arc).astype(np.int64)
    notes: list[str] = []
    if int(network.lot_kg.sum()) == 0:
        notes.append(NO_SUPPLY)
    if int(network.capacity_kg.sum()) == 0:
        notes.append(NO_DEMAND)
    if len(arcs) == 0:
        notes.append(NO_ARCS)
    if not notes:
        return None
    if unreachable.size and NO_ARCS not in notes:
        notes.append(UNREACHABLE)
    return Solution(
        solver=solver,
        flow_kg=np.zeros(len(arcs), dtype=np.int64),
        utilized_kg=0,
        cost_units=0,
        unreachable_lots=unreachable,
        notes=tuple(notes),
    )


def _unreachable(network: Network) -> I64:
    has_arc = np.zeros(network.lot_kg.shape[0], dtype=bool)
    has_arc[network.arcs.lot] = True
    return np.flatnonzero((network.lot_kg > 0) & ~has_arc).astype(np.int64)


def network_solve(network: Network) -> Solution:
    """Most tonnes utilized, then least cost, by min-cost flow (no blending limits).

    Arcs join only lots and receivers of one waste category, so each category is
    solved as its own network: the same optimum (the objectives add up), and
    OR-Tools' cost scaling runs faster on three networks of a third the size than
    on one (10,000 x 1,000: ~30 % less solve time, bench/match.py)."""
    if network.blend_limits:
        raise ValueError("blending limits make this a general LP: use lp_solve")
    trivial = _trivial(network, "ortools-mcf")
    if trivial is not None:
        return trivial
    arcs = network.arcs
    flow = np.zeros(len(arcs), dtype=np.int64)
    quanta: list[int] = []
    if network.lot_waste.size == network.lot_kg.size:
        arc_group = network.lot_waste[arcs.lot]
        order = np.argsort(arc_group, kind="stable")
        bounds = np.flatnonzero(np.diff(arc_group[order])) + 1
        parts = np.split(order, bounds)
    else:
        parts = [np.arange(len(arcs))]
    for part in parts:
        flow[part], quantum = _component_solve(network, part)
        quanta.append(quantum)
    unreachable = _unreachable(network)
    notes = [UNREACHABLE] if unreachable.size else []
    quantum = max(quanta, default=1)
    if quantum > 1:
        notes.append(f"数量按{quantum}千克取整 / quantities solved in {quantum} kg units")
    return Solution(
        solver="ortools-mcf",
        flow_kg=flow,
        utilized_kg=int(flow.sum()),
        cost_units=int(np.dot(flow, arcs.cost_fen_per_t)),
        unreachable_lots=unreachable,
        notes=tuple(notes),
        quantum_kg=quantum,
    )


def _component_solve(network: Network, part: I64) -> tuple[I64, int]:
    """Max flow at min cost over the arcs ``part`` and the nodes they touch, in the
    coarsest unit the int64 objective needs (1 kg unless the total is huge)."""
    arcs = network.arcs
    lot = arcs.lot[part]
    receiver = arcs.receiver[part]
    lots, lot_node = np.unique(lot, return_inverse=True)
    receivers, receiver_node = np.unique(receiver, return_inverse=True)
    supply_kg = network.lot_kg[lots]
    capacity_kg = network.capacity_kg[receivers]
    cost = arcs.cost_fen_per_t[part]
    total = max(int(supply_kg.sum()), int(capacity_kg.sum()))
    quantum = _quantum(total, int(cost.max(initial=0)))
    supply = supply_kg // quantum
    capacity = capacity_kg // quantum
    smcf = min_cost_flow.SimpleMinCostFlow()
    arc_ids = smcf.add_arcs_with_capacity_and_unit_cost(
        lot_node.astype(np.int32),
        (receiver_node + lots.size).astype(np.int32),
        supply[lot_node],
        cost,
    )
    smcf.set_nodes_supplies(
        np.arange(lots.size + receivers.size, dtype=np.int32),
        np.concatenate([supply, -capacity]),
    )
    status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed: {status}")
    return smcf.flows(arc_ids).astype(np.int64) * quantum, quantum


@dataclass(frozen=True)
class _Sparse:
    """A constraint matrix in coordinate form, converted to HiGHS's column format."""

    rows: list[I64] = field(default_factory=list)
    cols: list[I64] = field(default_factory=list)
    values: list[F64] = field(default_factory=list)

    def add(self, rows: I64, cols: I64, values: F64 | float) -> None:
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.values.append(np.broadcast_to(np.asarray(values, dtype=np.float64), rows.shape))

    def columnwise(self, n_cols: int) -> tuple[NDArray[np.int32], NDArray[np.int32], F64]:
        rows = np.concatenate(self.rows)
        cols = np.concatenate(self.cols)
        values = np.concatenate(self.values)
        order = np.argsort(cols, kind="stable")
        start = np.zeros(n_cols + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=n_cols), out=start[1:])
        return start.astype(np.int32), rows[order].astype(np.int32), values[order]


def _highs_lexicographic(
    *,
    n_cols: int,
    col_upper: F64,
    row_lower: F64,
    row_upper: F64,
    matrix: _Sparse,
    utilized_cols: I64,
    cost: F64,
    interior: bool = False,
    known_utilized: float | None = None,
) -> tuple[F64, float, float]:
    """Maximize the sum over ``utilized_cols``, then minimize ``cost`` at that level.

    ``interior`` selects HiGHS's interior-point solver without crossover: on the
    12-month model (hundreds of thousands of columns, highly degenerate) dual
    simplex needs minutes where IPX needs seconds; flows are then rounded to kg.
    ``known_utilized`` (tonnes) skips the first stage when the maximum is already
    known exactly (from the network solver).
    Returns the column values and the two objective values."""
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", _LOG)
    if interior:
        highs.setOptionValue("solver", "ipm")
        highs.setOptionValue("run_crossover", "off")
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = int(row_lower.shape[0])
    stage1 = np.zeros(n_cols)
    stage1[utilized_cols] = -1.0
    lp.col_cost_ = stage1
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = col_upper
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    start, index, value = matrix.columnwise(n_cols)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    if known_utilized is not None:
        lp.col_cost_ = np.zeros(n_cols)
    highs.passModel(lp)
    if known_utilized is None:
        _run(highs)
        utilized = -float(highs.getInfo().objective_function_value)
    else:
        utilized = known_utilized
    if utilized <= 0:
        return np.zeros(n_cols), 0.0, 0.0
    # Keep the utilized total (a hair of tolerance for the simplex's own), then price.
    floor = utilized * (1 - 1e-9)
    highs.addRow(
        floor,
        highspy.kHighsInf,
        int(utilized_cols.size),
        utilized_cols.astype(np.int32),
        np.ones(utilized_cols.size),
    )
    highs.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), cost)
    _run(highs)
    values = np.asarray(highs.getSolution().col_value, dtype=np.float64)
    return values, utilized, float(highs.getInfo().objective_function_value)


def _run(highs: highspy.Highs) -> None:
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS did not reach an optimum: {highs.modelStatusToString(status)}")


def _blend_coefficients(network: Network, arc_rows: I64) -> list[tuple[int, I64, F64, str]]:
    """Per blend limit: (receiver, arcs into it, coefficient q - limit, "min"/"max")."""
    arcs = network.arcs
    out: list[tuple[int, I64, F64, str]] = []
    for limit in network.blend_limits:
        into = arc_rows[arcs.receiver[arc_rows] == limit.receiver]
        quality = network.lot_quality[arcs.lot[into], limit.attribute]
        for bound, side in ((limit.minimum, "min"), (limit.maximum, "max")):
            if bound is not None:
                out.append((limit.receiver, into, quality - bound, side))
    return out


def lp_solve(network: Network) -> Solution:
    """The single-period problem as a general LP in HiGHS, blending limits included.

    Used where the min-cost-flow model cannot express a constraint, and by the
    tests as an independent check of ``network_solve``."""
    trivial = _trivial(network, "highs-lp")
    if trivial is not None:
        return trivial
    arcs = network.arcs
    n_arcs, n_lots = len(arcs), int(network.lot_kg.shape[0])
    n_receivers = int(network.capacity_kg.shape[0])
    cols = np.arange(n_arcs, dtype=np.int64)
    matrix = _Sparse()
    matrix.add(arcs.lot.astype(np.int64), cols, 1.0)
    matrix.add(arcs.receiver.astype(np.int64) + n_lots, cols, 1.0)
    row_lower = [np.full(n_lots + n_receivers, -highspy.kHighsInf)]
    # Tonnes in the LP: kilogram magnitudes (1e12) hurt the simplex's tolerances.
    row_upper = [np.concatenate([network.lot_kg, network.capacity_kg]) / 1000.0]
    next_row = n_lots + n_receivers
    # An undeclared attribute has no place in a blend: such arcs are dropped (upper 0).
    col_upper = np.full(n_arcs, highspy.kHighsInf)
    for _receiver, into, coefficient, side in _blend_coefficients(network, cols):
        unknown = np.isnan(coefficient)
        col_upper[into[unknown]] = 0.0
        matrix.add(np.full(into.size, next_row), into, np.nan_to_num(coefficient))
        row_lower.append(np.array([0.0 if side == "min" else -highspy.kHighsInf]))
        row_upper.append(np.array([highspy.kHighsInf if side == "min" else 0.0]))
        next_row += 1
    values, utilized_t, cost_yuan = _highs_lexicographic(
        n_cols=n_arcs,
        col_upper=col_upper,
        row_lower=np.concatenate(row_lower),
        row_upper=np.concatenate(row_upper),
        matrix=matrix,
        utilized_cols=cols,
        cost=arcs.cost_fen_per_t / 100.0,
    )
    flow = np.rint(values * 1000).astype(np.int64)
    unreachable = _unreachable(network)
    return Solution(
        solver="highs-lp",
        flow_kg=flow,
        utilized_kg=int(flow.sum()),
        cost_units=int(np.dot(flow, arcs.cost_fen_per_t)),
        unreachable_lots=unreachable,
        notes=(UNREACHABLE,) if unreachable.size else (),
        lp_utilized_t=utilized_t,
        lp_cost_yuan=cost_yuan,
    )


@dataclass(frozen=True)
class Horizon:
    """Monthly data for the multi-period model (``T`` periods, usually 12)."""

    # Surplus arising at each lot's site per period [lots, T].
    generation_kg: I64
    # Drawable stock at each lot's site at the start [lots].
    opening_stock_kg: I64
    # What the site's yard may hold at the end of a period [lots]; inf = no limit.
    yard_capacity_kg: F64
    # Receiving capacity per period [receivers, T].
    capacity_kg: I64

    @property
    def periods(self) -> int:
        return int(self.generation_kg.shape[1])


@dataclass(frozen=True)
class HorizonSolution:
    flow_kg: I64  # [T, arcs]
    stock_kg: I64  # [lots, T] held in the yard at the end of each period
    unutilized_kg: I64  # [lots, T] neither shipped nor storable (to disposal)
    utilized_kg: int
    transport_cost_yuan: Decimal
    storage_cost_yuan: Decimal
    lp_utilized_t: float
    lp_cost_yuan: float


def horizon_solve(
    network: Network, horizon: Horizon, *, storage_yuan_per_t: float
) -> HorizonSolution:
    """12-month plan with yard carry-over: per lot and month,
    ``stock[t-1] + generation[t] = shipped[t] + stock[t] + unutilized[t]``,
    ``stock[t] <= yard capacity``, receivers' monthly capacity, blending per month.
    Most tonnes utilized over the horizon first, then least transport + holding cost."""
    arcs = network.arcs
    n_arcs, n_lots = len(arcs), int(horizon.generation_kg.shape[0])
    n_receivers, periods = int(horizon.capacity_kg.shape[0]), horizon.periods
    n_x, n_s = n_arcs * periods, n_lots * periods
    n_cols = n_x + 2 * n_s
    t_of_x = np.repeat(np.arange(periods, dtype=np.int64), n_arcs)
    a_of_x = np.tile(np.arange(n_arcs, dtype=np.int64), periods)
    x_cols = np.arange(n_x, dtype=np.int64)
    lot_row = t_of_x * n_lots + arcs.lot[a_of_x]
    receiver_base = n_lots * periods
    matrix = _Sparse()
    matrix.add(lot_row, x_cols, 1.0)
    matrix.add(receiver_base + t_of_x * n_receivers + arcs.receiver[a_of_x], x_cols, 1.0)
    # received[j,t] (last columns): each receiver row is sum(x into j) - received = 0
    # with received <= capacity. The utilized total is then a row over R*T columns
    # instead of over every arc-month, which keeps the interior-point normal
    # equations sparse in the second stage.
    n_u = n_receivers * periods
    u_cols = n_cols + np.arange(n_u, dtype=np.int64)
    matrix.add(receiver_base + np.arange(n_u, dtype=np.int64), u_cols, -1.0)
    # stock s[i,t] (columns n_x + t*n_lots + i) leaves row (i,t) and re-enters (i,t+1).
    s_t = np.repeat(np.arange(periods, dtype=np.int64), n_lots)
    s_i = np.tile(np.arange(n_lots, dtype=np.int64), periods)
    s_cols = n_x + np.arange(n_s, dtype=np.int64)
    matrix.add(s_t * n_lots + s_i, s_cols, 1.0)
    carry = s_t < periods - 1
    matrix.add((s_t[carry] + 1) * n_lots + s_i[carry], s_cols[carry], -1.0)
    matrix.add(s_t * n_lots + s_i, s_cols + n_s, 1.0)  # unutilized w[i,t]
    balance = (horizon.generation_kg.T.astype(np.float64) / 1000.0).ravel()
    balance[:n_lots] += horizon.opening_stock_kg / 1000.0
    row_lower = [balance]
    row_upper = [balance]
    row_lower.append(np.zeros(n_u))
    row_upper.append(np.zeros(n_u))
    next_row = n_lots * periods + n_receivers * periods
    col_upper = np.full(n_cols + n_u, highspy.kHighsInf)
    col_upper[n_x : n_x + n_s] = np.tile(horizon.yard_capacity_kg / 1000.0, periods)
    col_upper[n_cols:] = (horizon.capacity_kg.T.astype(np.float64) / 1000.0).ravel()
    for _receiver, into, coefficient, side in _blend_coefficients(
        network, np.arange(n_arcs, dtype=np.int64)
    ):
        unknown = np.isnan(coefficient)
        for t in range(periods):
            col_upper[t * n_arcs + into[unknown]] = 0.0
            matrix.add(np.full(into.size, next_row), t * n_arcs + into, np.nan_to_num(coefficient))
            row_lower.append(np.array([0.0 if side == "min" else -highspy.kHighsInf]))
            row_upper.append(np.array([highspy.kHighsInf if side == "min" else 0.0]))
            next_row += 1
    # Without blending the first stage is a pure max flow: take it exactly from the
    # time-expanded network instead of a second interior-point solve.
    known = (
        None
        if network.blend_limits
        else horizon_network_solve(network, horizon, storage_fen_per_t=0).utilized_kg / 1000
    )
    cost = np.zeros(n_cols + n_u)
    cost[:n_x] = np.tile(arcs.cost_fen_per_t / 100.0, periods)
    cost[n_x : n_x + n_s] = storage_yuan_per_t
    values, utilized_t, cost_yuan = _highs_lexicographic(
        n_cols=n_cols + n_u,
        col_upper=col_upper,
        row_lower=np.concatenate(row_lower),
        row_upper=np.concatenate(row_upper),
        matrix=matrix,
        utilized_cols=u_cols,
        cost=cost,
        interior=True,
        known_utilized=known,
    )
    kg = np.rint(values * 1000).astype(np.int64)
    flow = kg[:n_x].reshape(periods, n_arcs)
    stock = kg[n_x : n_x + n_s].reshape(periods, n_lots).T
    unutilized = kg[n_x + n_s : n_cols].reshape(periods, n_lots).T
    transport_units = int(np.dot(flow.sum(axis=0), arcs.cost_fen_per_t))
    storage_yuan = Decimal(repr(storage_yuan_per_t)) * Decimal(int(stock.sum())) / 1000
    return HorizonSolution(
        flow_kg=flow,
        stock_kg=stock,
        unutilized_kg=unutilized,
        utilized_kg=int(flow.sum()),
        transport_cost_yuan=(Decimal(transport_units) / _COST_UNITS_PER_YUAN).quantize(
            Decimal("0.01")
        ),
        storage_cost_yuan=storage_yuan.quantize(Decimal("0.01")),
        lp_utilized_t=utilized_t,
        lp_cost_yuan=cost_yuan,
    )


def horizon_network_solve(
    network: Network, horizon: Horizon, *, storage_fen_per_t: int
) -> HorizonSolution:
    """The multi-period model without blending as a time-expanded min-cost flow.

    Nodes are (lot, month) and (receiver, month); storage arcs join (lot, t) to
    (lot, t+1) with the yard's capacity. Exact and fast; used to fix the first
    stage of ``horizon_solve`` and by the tests as its independent check."""
    if network.blend_limits:
        raise ValueError("blending limits make this a general LP: use horizon_solve")
    arcs = network.arcs
    n_arcs, n_lots = len(arcs), int(horizon.generation_kg.shape[0])
    n_receivers, periods = int(horizon.capacity_kg.shape[0]), horizon.periods
    supply = horizon.generation_kg.T.copy()  # [T, lots]
    supply[0] += horizon.opening_stock_kg
    capacity = horizon.capacity_kg.T  # [T, receivers]
    total = max(int(supply.sum()), int(capacity.sum()))
    max_cost = max(int(arcs.cost_fen_per_t.max(initial=0)), storage_fen_per_t)
    quantum = _quantum(total, max_cost * periods)
    t_of_x = np.repeat(np.arange(periods, dtype=np.int64), n_arcs)
    a_of_x = np.tile(np.arange(n_arcs, dtype=np.int64), periods)
    lot_node = t_of_x * n_lots + arcs.lot[a_of_x]
    receiver_node = n_lots * periods + t_of_x * n_receivers + arcs.receiver[a_of_x]
    s_t = np.repeat(np.arange(periods - 1, dtype=np.int64), n_lots)
    s_i = np.tile(np.arange(n_lots, dtype=np.int64), periods - 1)
    yard = np.minimum(horizon.yard_capacity_kg, float(total)).astype(np.int64) // quantum
    big = total // quantum + 1
    tails = np.concatenate([lot_node, s_t * n_lots + s_i])
    heads = np.concatenate([receiver_node, (s_t + 1) * n_lots + s_i])
    caps = np.concatenate([np.full(lot_node.size, big), np.tile(yard, periods - 1)])
    costs = np.concatenate(
        [np.tile(arcs.cost_fen_per_t, periods), np.full(s_t.size, storage_fen_per_t)]
    )
    smcf = min_cost_flow.SimpleMinCostFlow()
    ids = smcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    n_nodes = (n_lots + n_receivers) * periods
    smcf.set_nodes_supplies(
        np.arange(n_nodes, dtype=np.int32),
        np.concatenate([(supply // quantum).ravel(), -(capacity // quantum).ravel()]),
    )
    if n_nodes and tails.size:
        status = smcf.solve_max_flow_with_min_cost()
        if status != smcf.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed: {status}")
        flows = smcf.flows(ids).astype(np.int64) * quantum
    else:
        flows = np.zeros(tails.size, dtype=np.int64)
    flow = flows[: n_arcs * periods].reshape(periods, n_arcs)
    stock = np.zeros((n_lots, periods), dtype=np.int64)
    stock[:, : periods - 1] = flows[n_arcs * periods :].reshape(periods - 1, n_lots).T
    shipped = np.zeros((periods, n_lots), dtype=np.int64)
    for t in range(periods):
        shipped[t] = np.bincount(arcs.lot, flow[t], n_lots)
    carried_in = np.concatenate([np.zeros((1, n_lots), np.int64), stock[:, :-1].T])
    unutilized = (supply + carried_in - shipped - stock.T).T
    transport = int(np.dot(flow.sum(axis=0), arcs.cost_fen_per_t))
    storage = int(stock.sum()) * storage_fen_per_t
    return HorizonSolution(
        flow_kg=flow,
        stock_kg=stock,
        unutilized_kg=unutilized,
        utilized_kg=int(flow.sum()),
        transport_cost_yuan=(Decimal(transport) / _COST_UNITS_PER_YUAN).quantize(Decimal("0.01")),
        storage_cost_yuan=(Decimal(storage) / _COST_UNITS_PER_YUAN).quantize(Decimal("0.01")),
        lp_utilized_t=float(flow.sum()) / 1000,
        lp_cost_yuan=float(transport + storage) / 100_000,
    )

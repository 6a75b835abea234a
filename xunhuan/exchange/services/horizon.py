"""The 12-month plan: monthly supply and demand with yard carry-over, solved as one
LP (HiGHS) or per-month networks, queued as a job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction

from xunhuan.core.exchange.solvers import Horizon, Solution, horizon_network_solve, horizon_solve
from xunhuan.core.units import kg_to_tonnes
from xunhuan.exchange import selectors
from xunhuan.exchange.models import HorizonRequest, Run, Scenario
from xunhuan.exchange.services.runs import (
    DEFAULT_DRAWDOWN_SHARE,
    exchange_problem_read,
    request_check,
    run_store,
)
from xunhuan.jobs.handlers import Progress
from xunhuan.jobs.models import Job
from xunhuan.jobs.services import job_enqueue
from xunhuan.registry.models import Region

HORIZON_MONTHS = 12
JOB_HORIZON = "exchange.horizon"


def _add_months(period: dt.date, months: int) -> dt.date:
    index = period.year * 12 + period.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def horizon_request(
    *,
    region: Region,
    period: dt.date,
    created_by: Any,
    scenario: Scenario | None = None,
    drawdown_share: Decimal = DEFAULT_DRAWDOWN_SHARE,
) -> HorizonRequest:
    """Ask for a 12-month plan from ``period`` (solved by the job worker: a region's
    year takes from seconds to a minute). The job row is the queue, so it becomes
    visible to the worker when this transaction commits."""
    request_check(region=region, period=period, scenario=scenario, drawdown_share=drawdown_share)
    with transaction.atomic():
        request = HorizonRequest.objects.create(
            region=region,
            period=period,
            scenario=scenario,
            drawdown_share=drawdown_share,
            created_by=created_by,
        )
        job_enqueue(kind=JOB_HORIZON, target_id=request.pk, created_by=created_by)
    return request


def _horizon_tables(
    *, region: Region, period: dt.date, drawdown_share: Decimal
) -> tuple[selectors.SupplyTable, selectors.DemandTable, dict[tuple[int, ...], Any], Any]:
    """The year's lots and receivers as one table each, with each lot's monthly
    surplus (``generation``: key -> [12] kg) and each receiver's monthly spare
    capacity (``capacity``: (site, waste) -> [12] kg). Yard stock and listings are
    on offer from the first month only (they are stock, not a monthly flow)."""
    generation: dict[tuple[int, ...], Any] = {}
    capacity: dict[tuple[int, str], Any] = {}
    lot_rows: dict[tuple[int, ...], tuple[selectors.SupplyTable, int]] = {}
    receiver_rows: dict[tuple[int, str], tuple[selectors.DemandTable, int]] = {}
    for month in range(HORIZON_MONTHS):
        day = _add_months(period, month)
        supply = selectors.exchange_supply_table(
            region=region, period=day, drawdown_share=drawdown_share if month == 0 else Decimal(0)
        )
        for i in range(len(supply)):
            key = _lot_key(supply, i)
            if month > 0 and key[0] != 0:
                continue  # listings again: offered once
            lot_rows.setdefault(key, (supply, i))
            generation.setdefault(key, np.zeros(HORIZON_MONTHS, dtype=np.int64))
            generation[key][month] += int(supply.quantity_kg[i])
        demand = selectors.exchange_demand_table(region=region, period=day)
        for j in range(len(demand)):
            rkey = (int(demand.site_id[j]), demand.waste_code[j])
            receiver_rows.setdefault(rkey, (demand, j))
            capacity.setdefault(rkey, np.zeros(HORIZON_MONTHS, dtype=np.int64))
            capacity[rkey][month] = int(demand.capacity_kg[j])
    lots = (
        selectors.SupplyTable.stacked([table.take(np.array([i])) for table, i in lot_rows.values()])
        if lot_rows
        else selectors.exchange_supply_empty()
    )
    lots = replace(
        lots, quantity_kg=np.array([int(generation[k].sum()) for k in lot_rows], dtype=np.int64)
    )
    receivers = (
        selectors.DemandTable.stacked(
            [table.take(np.array([j])) for table, j in receiver_rows.values()]
        )
        if receiver_rows
        else selectors.exchange_demand_empty()
    )
    return lots, receivers, generation, capacity


def _lot_key(table: selectors.SupplyTable, i: int) -> tuple[int, ...]:
    source = int(table.source[i])
    if source == 0:  # the enterprise's surplus of a waste, wherever it arose that month
        return (0, int(table.enterprise_id[i]), *table.waste_code[i].encode())
    if source == 1:
        return (1, int(table.site_id[i]), *table.waste_code[i].encode())
    return (2, int(table.listing_id[i]))


@transaction.atomic
def exchange_horizon_run(*, request: HorizonRequest, k_road: int = 15, k_rail: int = 5) -> Run:
    """Solve a requested 12-month plan and store it as a run (``months`` = 12).

    Per lot and month ``stock[t-1] + surplus[t] = shipped[t] + stock[t] + unplaced[t]``
    with the enterprise's free yard capacity as the stock bound, receivers' monthly
    spare capacity, most tonnes over the year first, then least transport plus
    holding cost (ADR 0030). Without blending limits the time-expanded network is
    solved exactly by min-cost flow; with them, HiGHS. The stored flows are each
    route's tonnes over the year. Idempotent: a request already solved returns its run."""
    locked = HorizonRequest.objects.select_for_update().get(pk=request.pk)
    if locked.run_id is not None:
        return Run.objects.get(pk=locked.run_id)
    region, period, scenario = locked.region, locked.period, locked.scenario
    lots, receivers, generation, capacity = _horizon_tables(
        region=region, period=period, drawdown_share=locked.drawdown_share
    )
    problem = exchange_problem_read(
        region=region,
        period=period,
        scenario=scenario,
        k_road=k_road,
        k_rail=k_rail,
        tables=(lots, receivers),
    )
    lots, receivers, network = problem.lots, problem.receivers, problem.network
    monthly = np.array(
        [generation[_lot_key(lots, i)] for i in range(len(lots))], dtype=np.int64
    ).reshape(-1, HORIZON_MONTHS)
    is_stock = lots.source != 0
    opening = np.where(is_stock, monthly[:, 0], 0)
    monthly[is_stock, 0] = 0
    receiver_capacity = np.array(
        [
            capacity.get(
                (int(receivers.site_id[j]), receivers.waste_code[j]),
                np.full(HORIZON_MONTHS, receivers.capacity_kg[j]),  # a planned plant
            )
            for j in range(len(receivers))
        ],
        dtype=np.int64,
    ).reshape(-1, HORIZON_MONTHS)
    horizon = Horizon(
        generation_kg=monthly,
        opening_stock_kg=opening.astype(np.int64),
        yard_capacity_kg=selectors.free_yard_kg(
            enterprise_ids=lots.enterprise_id, region=region
        ).astype(np.float64),
        capacity_kg=receiver_capacity,
    )
    storage = problem.tariff.storage_yuan_per_t_month
    if network.blend_limits:
        plan = horizon_solve(network, horizon, storage_yuan_per_t=float(storage))
        solver = "highs-12m"
    else:
        plan = horizon_network_solve(network, horizon, storage_fen_per_t=int(storage * 100))
        solver = "ortools-12m"
    flow = plan.flow_kg.sum(axis=0) if len(network.arcs) else np.zeros(0, dtype=np.int64)
    solution = Solution(
        solver=solver,
        flow_kg=flow,
        utilized_kg=int(flow.sum()),
        cost_units=int(np.dot(flow, network.arcs.cost_fen_per_t)),
        unreachable_lots=np.zeros(0, dtype=np.int64),
    )
    held = int(plan.stock_kg.sum())
    notes = [
        *problem.notes,
        f"12个月计划：贮存{kg_to_tonnes(held)}吨·月，贮存费{plan.storage_cost_yuan}元，"
        f"未能利用{kg_to_tonnes(int(plan.unutilized_kg.sum()))}吨 / 12-month plan: "
        f"{kg_to_tonnes(held)} t-months held, storage {plan.storage_cost_yuan} yuan",
    ]
    run = run_store(
        region=region,
        period=period,
        scenario=scenario,
        created_by=locked.created_by,
        tariff=problem.tariff,
        lots=lots,
        receivers=receivers,
        network_arcs=network.arcs,
        solution=solution,
        notes=notes,
        months=HORIZON_MONTHS,
        storage_cost_yuan=plan.storage_cost_yuan,
    )
    locked.run = run
    locked.save(update_fields=["run"])
    return run


def horizon_job(job: Job, progress: Progress) -> None:
    """Job handler: solve the request the job names (idempotent, see above)."""
    request = HorizonRequest.objects.get(pk=int(job.target_id))
    progress(done=0, total=1, message="求解12个月计划 / solving the 12-month plan")
    exchange_horizon_run(request=request)
    progress(done=1, total=1, message="完成 / done")

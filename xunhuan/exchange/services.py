"""Writes for the exchange: listings, scenarios, optimization runs and accepted flows.

``exchange_run`` reads one month of supply and demand of a region, applies the
scenario's edits, builds the network (``xunhuan.core.exchange``), solves it and
stores the proposed flows with their explanation, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from numpy.typing import NDArray

from xunhuan.accounts.models import Role
from xunhuan.accounts.selectors import roles_at
from xunhuan.core.errors import PermissionDenied, ValidationFailed
from xunhuan.core.exchange.network import (
    QUALITY_ATTRIBUTES,
    Arcs,
    BlendLimit,
    Lots,
    Network,
    Places,
    Receivers,
    Terminals,
    network_build,
)
from xunhuan.core.exchange.solvers import (
    Horizon,
    Solution,
    horizon_network_solve,
    horizon_solve,
    lp_solve,
    network_solve,
)
from xunhuan.core.exchange.transport import MODE_RAIL, Tariff
from xunhuan.core.units import kg_to_tonnes, to_tonnes, tonnes_to_kg
from xunhuan.exchange import selectors
from xunhuan.exchange.models import (
    ChangeKind,
    FlowAcceptance,
    HorizonRequest,
    LimitScope,
    Listing,
    Mode,
    ProposedFlow,
    Run,
    Scenario,
    ScenarioChange,
)
from xunhuan.jobs.handlers import Progress
from xunhuan.jobs.models import Job
from xunhuan.jobs.services import job_enqueue
from xunhuan.ledger.bulk import rows_insert
from xunhuan.ledger.models import Purpose, UtilizationRoute
from xunhuan.registry.models import Enterprise, FacilityCapacity, Region, Site, WasteCategory
from xunhuan.transfers.models import Transfer
from xunhuan.transfers.services import LegDraft, LineDraft, transfer_create

DEFAULT_DRAWDOWN_SHARE = Decimal("0.10")
_TARIFF_FIELDS = (
    "road_yuan_per_tkm",
    "rail_yuan_per_tkm",
    "rail_handling_yuan_per_t",
    "road_max_km",
    "rail_max_km",
    "cross_league_yuan_per_t",
    "cross_province_yuan_per_t",
)


def listing_publish(
    *,
    enterprise: Enterprise,
    site_code: str,
    waste_code: str,
    quantity: Decimal | str,
    expires_on: dt.date,
    today: dt.date,
    published_by: Any,
    quality: dict[str, Decimal | int | None] | None = None,
    note: str = "",
) -> Listing:
    """Publish surplus of a waste at one of the enterprise's sites until ``expires_on``."""
    site = Site.objects.filter(enterprise=enterprise, code=site_code).first()
    if site is None:
        raise ValidationFailed(f"本单位无此设施编码：{site_code} / unknown site", field="site")
    waste = WasteCategory.objects.filter(code=waste_code, is_active=True).first()
    if waste is None:
        raise ValidationFailed(f"未知固废类别：{waste_code} / unknown waste", field="waste_code")
    try:
        tonnes = to_tonnes(quantity)
    except ValueError as exc:
        raise ValidationFailed(f"数量无效 / invalid quantity: {exc}", field="quantity") from exc
    if tonnes <= 0:
        raise ValidationFailed("数量须大于零 / quantity must be positive", field="quantity")
    if expires_on < today:
        raise ValidationFailed("有效期已过 / expiry date is in the past", field="expires_on")
    listing = Listing.objects.create(
        enterprise=enterprise,
        site=site,
        waste=waste,
        quantity=tonnes,
        expires_on=expires_on,
        published_by=published_by,
        note=note,
        **(quality or {}),
    )
    # Read back so quality values carry the column's scale (12.5 -> 12.50).
    return Listing.objects.select_related("enterprise", "site", "waste").get(pk=listing.pk)


def scenario_create(
    *, region: Region, name: str, created_by: Any, tariff: dict[str, Decimal] | None = None
) -> Scenario:
    """A scenario over a region, with the default tariff or the given rates."""
    return Scenario.objects.create(
        region=region, name=name, created_by=created_by, **(tariff or {})
    )


@transaction.atomic
def scenario_copy(*, scenario: Scenario, name: str, created_by: Any) -> Scenario:
    """A new scenario with the same tariff and changes, recording what it was copied from."""
    copy = Scenario.objects.create(
        region=scenario.region,
        name=name,
        based_on=scenario,
        created_by=created_by,
        **{field: getattr(scenario, field) for field in _TARIFF_FIELDS},
    )
    ScenarioChange.objects.bulk_create(
        ScenarioChange(
            scenario=copy,
            kind=c.kind,
            site=c.site,
            name=c.name,
            region=c.region,
            waste=c.waste,
            annual_capacity=c.annual_capacity,
            latitude=c.latitude,
            longitude=c.longitude,
            terminal=c.terminal,
            drayage_km=c.drayage_km,
        )
        for c in scenario.changes.all()
    )
    return copy


def scenario_change_add(*, scenario: Scenario, kind: str, **fields: Any) -> ScenarioChange:
    """Add one edit (add a plant, close a site, open a rail link) to a scenario."""
    site = fields.get("site")
    if site is not None and not site.enterprise.region.path.startswith(scenario.region.path):
        raise ValidationFailed(
            "设施不在情景区域内 / site is outside the scenario's region", field="site"
        )
    required: dict[str, tuple[str, ...]] = {
        ChangeKind.CLOSE_SITE: ("site",),
        ChangeKind.OPEN_RAIL_LINK: ("site", "terminal"),
        ChangeKind.ADD_PLANT: (
            "name",
            "region",
            "waste",
            "annual_capacity",
            "latitude",
            "longitude",
        ),
    }
    if kind not in required:
        raise ValidationFailed(f"未知变更类型：{kind} / unknown change", field="kind")
    change = ScenarioChange(scenario=scenario, kind=kind, **fields)
    missing = [name for name in required[kind] if fields.get(name) is None]
    if missing:
        raise ValidationFailed(f"缺少字段：{', '.join(missing)} / missing fields", field=missing[0])
    change.save()
    return change


def tariff_of(scenario: Scenario | None) -> Tariff:
    if scenario is None:
        return Tariff()
    return Tariff().changed(**{f: Decimal(getattr(scenario, f)) for f in _TARIFF_FIELDS})


def _places(
    table: selectors.SupplyTable | selectors.DemandTable,
    waste_index: dict[str, int],
    rail: dict[int, tuple[int, float]],
) -> Places:
    terminal = np.full(len(table), -1, dtype=np.int32)
    drayage = np.zeros(len(table))
    if rail:
        linked = np.array(sorted(rail), dtype=np.int64)
        at = np.searchsorted(linked, table.site_id)
        at_clipped = np.minimum(at, linked.size - 1)
        has = (table.site_id >= 0) & (linked[at_clipped] == table.site_id)
        link_terminal = np.array([rail[int(s)][0] for s in linked], dtype=np.int32)
        link_drayage = np.array([rail[int(s)][1] for s in linked], dtype=np.float64)
        terminal[has] = link_terminal[at_clipped[has]]
        drayage[has] = link_drayage[at_clipped[has]]
    return Places(
        lat=table.lat,
        lon=table.lon,
        waste=np.array([waste_index[code] for code in table.waste_code], dtype=np.int32),
        province=table.province,
        league=table.league,
        terminal=terminal,
        drayage_km=drayage,
    )


def _explanation(mode: str, km: float, per_t: str, rank: int, eligible: int) -> str:
    mode_zh = "铁路" if mode == Mode.RAIL else "公路"
    text = (
        f"{mode_zh}{km:.1f}公里，{per_t}元/吨；在{eligible}条可达且质量合格的线路中运费排第{rank}"
    )
    english = f"{mode} {km:.1f} km, {per_t} yuan/t; cost rank {rank} of {eligible} eligible routes"
    if rank > 1:
        text += "（更便宜的接收方能力已被占用）"
        english += " (cheaper receivers' capacity is taken)"
    return f"{text} / {english}"


@dataclass(frozen=True)
class ExchangeProblem:
    """A month's network as read from the database, ready for a solver."""

    tariff: Tariff
    lots: selectors.SupplyTable
    receivers: selectors.DemandTable
    network: Network
    notes: list[str]


@transaction.atomic
def exchange_run(
    *,
    region: Region,
    period: dt.date,
    created_by: Any,
    scenario: Scenario | None = None,
    drawdown_share: Decimal = DEFAULT_DRAWDOWN_SHARE,
    k_road: int = 40,
    k_rail: int = 10,
) -> Run:
    """Optimize one month of by-product exchange in ``region`` and store the plan.

    Supply and demand come from the ledger and registry (``selectors``); a scenario
    adds or closes plants, opens rail links and sets the tariff. Flows maximize
    tonnes utilized, then minimize transport cost; the network solver is used
    unless a receiver sets a blend limit, which needs the HiGHS LP."""
    problem = exchange_problem_read(
        region=region,
        period=period,
        scenario=scenario,
        drawdown_share=drawdown_share,
        k_road=k_road,
        k_rail=k_rail,
    )
    network = problem.network
    solution: Solution = lp_solve(network) if network.blend_limits else network_solve(network)
    return _run_store(
        region=region,
        period=period,
        scenario=scenario,
        created_by=created_by,
        tariff=problem.tariff,
        lots=problem.lots,
        receivers=problem.receivers,
        network_arcs=network.arcs,
        solution=solution,
        notes=[*problem.notes, *solution.notes],
    )


def _request_check(
    *, region: Region, period: dt.date, scenario: Scenario | None, drawdown_share: Decimal
) -> None:
    if period.day != 1:
        raise ValidationFailed(
            "月份须为当月1日 / period must be a month's first day", field="period"
        )
    if not Decimal(0) <= drawdown_share <= 1:
        raise ValidationFailed("动用比例须在0到1之间 / share must be 0..1", field="drawdown_share")
    if scenario is not None and scenario.region_id != region.pk:
        raise PermissionDenied("情景不属于该区域 / scenario belongs to another region")


def exchange_problem_read(
    *,
    region: Region,
    period: dt.date,
    scenario: Scenario | None = None,
    drawdown_share: Decimal = DEFAULT_DRAWDOWN_SHARE,
    k_road: int = 40,
    k_rail: int = 10,
    tables: tuple[selectors.SupplyTable, selectors.DemandTable] | None = None,
) -> ExchangeProblem:
    """Read a month's supply, demand, quality and rail access, apply the scenario and
    build the priced network (no solve, nothing written). ``tables`` replaces the
    month's supply and demand (the 12-month model passes the year's)."""
    _request_check(region=region, period=period, scenario=scenario, drawdown_share=drawdown_share)
    tariff = tariff_of(scenario)
    notes: list[str] = []
    if tables is None:
        supply = selectors.exchange_supply_table(
            region=region, period=period, drawdown_share=drawdown_share
        )
        demand = selectors.exchange_demand_table(region=region, period=period)
    else:
        supply, demand = tables
    changes = list(scenario.changes.select_related("region", "terminal")) if scenario else []
    closed = np.array(
        [c.site_id for c in changes if c.kind == ChangeKind.CLOSE_SITE], dtype=np.int64
    )
    if closed.size:
        demand = demand.take(np.flatnonzero(~np.isin(demand.site_id, closed)))
    added: list[selectors.Receiver] = []
    for change in changes:
        if change.kind == ChangeKind.ADD_PLANT:
            if change.region is None or change.annual_capacity is None:
                continue  # the check constraint makes this impossible
            province, league = selectors.region_codes_of(change.region.path)
            added.append(
                selectors.Receiver(
                    enterprise_id=None,
                    site_id=None,
                    name=change.name,
                    waste_code=str(change.waste_id),
                    capacity_kg=tonnes_to_kg(change.annual_capacity) // 12,
                    lat=float(change.latitude or 0),
                    lon=float(change.longitude or 0),
                    province=province,
                    league=league,
                )
            )
    demand = demand.extended(added)
    lot_ok = np.flatnonzero(~(np.isnan(supply.lat) | np.isnan(supply.lon)))
    receiver_ok = np.flatnonzero(~(np.isnan(demand.lat) | np.isnan(demand.lon)))
    lots, receivers = supply, demand
    if lot_ok.size < len(supply) or receiver_ok.size < len(demand):
        lots, receivers = supply.take(lot_ok), demand.take(receiver_ok)
        notes.append(
            f"无坐标未参与：供应{len(supply) - len(lots)}，"
            f"接收{len(demand) - len(receivers)} / without coordinates, left out"
        )
    terminal_index: dict[int, int] = {}
    terminal_lat: list[float] = []
    terminal_lon: list[float] = []
    rail: dict[int, tuple[int, float]] = {}

    def terminal_of(terminal_id: int, lat: float, lon: float) -> int:
        if terminal_id not in terminal_index:
            terminal_index[terminal_id] = len(terminal_lat)
            terminal_lat.append(lat)
            terminal_lon.append(lon)
        return terminal_index[terminal_id]

    for site_id, terminal_id, lat, lon, drayage in selectors.rail_links_for(region=region):
        rail[site_id] = (terminal_of(terminal_id, lat, lon), drayage)
    for change in changes:
        if change.kind == ChangeKind.OPEN_RAIL_LINK and change.site_id and change.terminal:
            t = change.terminal
            index = terminal_of(t.pk, float(t.latitude), float(t.longitude))
            rail[change.site_id] = (index, float(change.drayage_km or 0))
    wastes = sorted(set(lots.waste_code) | set(receivers.waste_code))
    waste_index = {code: i for i, code in enumerate(wastes)}
    n_q = len(QUALITY_ATTRIBUTES)
    lot_min = np.full((len(receivers), n_q), np.nan)
    lot_max = np.full((len(receivers), n_q), np.nan)
    blends: list[BlendLimit] = []
    receiver_at = {
        (int(site), code): i
        for i, (site, code) in enumerate(zip(receivers.site_id, receivers.waste_code, strict=True))
        if site >= 0
    }
    # limits only matter at receivers (a few thousand sites at most)
    for site_id, waste_id, attribute, scope, low, high in selectors.quality_limits_for(
        region=region
    ):
        row = receiver_at.get((site_id, waste_id))
        if row is None:
            continue
        column = QUALITY_ATTRIBUTES.index(attribute)
        if scope == LimitScope.BLEND:
            blends.append(BlendLimit(receiver=row, attribute=column, minimum=low, maximum=high))
        else:
            lot_min[row, column] = np.nan if low is None else low
            lot_max[row, column] = np.nan if high is None else high
    network = network_build(
        lots=Lots(
            places=_places(lots, waste_index, rail),
            quantity_kg=lots.quantity_kg,
            quality=lots.quality,
        ),
        receivers=Receivers(
            places=_places(receivers, waste_index, rail),
            capacity_kg=receivers.capacity_kg,
            lot_min=lot_min,
            lot_max=lot_max,
        ),
        terminals=Terminals(
            lat=np.array(terminal_lat, dtype=np.float64),
            lon=np.array(terminal_lon, dtype=np.float64),
        ),
        tariff=tariff,
        k_road=k_road,
        k_rail=k_rail,
        blend_limits=tuple(blends),
    )
    return ExchangeProblem(
        tariff=tariff, lots=lots, receivers=receivers, network=network, notes=notes
    )


def _run_store(
    *,
    region: Region,
    period: dt.date,
    scenario: Scenario | None,
    created_by: Any,
    tariff: Tariff,
    lots: selectors.SupplyTable,
    receivers: selectors.DemandTable,
    network_arcs: Arcs,
    solution: Solution,
    notes: list[str],
    months: int = 1,
    storage_cost_yuan: Decimal = Decimal("0.00"),
) -> Run:
    arcs = network_arcs
    moving = np.flatnonzero(solution.flow_kg > 0)
    # Per lot: how many eligible routes, and each route's rank by cost (1 = cheapest,
    # equal costs share a rank).
    order = np.lexsort((arcs.cost_fen_per_t, arcs.lot))
    lot_sorted = arcs.lot[order].astype(np.int64)
    key = lot_sorted * (2**40) + arcs.cost_fen_per_t[order]
    rank = np.empty(len(arcs), dtype=np.int64)
    rank[order] = (
        np.searchsorted(key, key, side="left")
        - np.searchsorted(lot_sorted, lot_sorted, side="left")
        + 1
    )
    eligible = np.bincount(arcs.lot, minlength=len(lots))
    flow_t = solution.flow_kg.astype(np.float64) / 1000
    is_rail = arcs.mode == MODE_RAIL
    road_tkm = float(np.dot(flow_t, np.where(is_rail, arcs.km - arcs.rail_km, arcs.km)))
    rail_tkm = float(np.dot(flow_t, arcs.rail_km))
    co2_t = (
        Decimal(repr(road_tkm)) * tariff.road_co2_kg_per_tkm
        + Decimal(repr(rail_tkm)) * tariff.rail_co2_kg_per_tkm
    ) / 1000
    run = Run.objects.create(
        region=region,
        scenario=scenario,
        period=period,
        solver=solution.solver,
        lots=len(lots),
        receivers=len(receivers),
        arcs=len(arcs),
        supplied=kg_to_tonnes(int(lots.quantity_kg.sum())),
        utilized=kg_to_tonnes(solution.utilized_kg),
        cost_yuan=solution.cost_yuan,
        road_tkm=Decimal(repr(road_tkm)).quantize(Decimal("0.1")),
        rail_tkm=Decimal(repr(rail_tkm)).quantize(Decimal("0.1")),
        co2_t=co2_t.quantize(Decimal("0.001")),
        tariff={k: str(v) for k, v in asdict(tariff).items()},
        notes="\n".join(notes),
        created_by=created_by,
        months=months,
        storage_cost_yuan=storage_cost_yuan,
    )
    _flows_insert(run.pk, _flow_rows(lots, receivers, arcs, solution, moving, rank, eligible))
    return run


def _money(cents: int) -> str:
    """Whole fen as a yuan string with two places (exact; no Decimal per row)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _flow_rows(
    lots: selectors.SupplyTable,
    receivers: selectors.DemandTable,
    arcs: Arcs,
    solution: Solution,
    moving: NDArray[np.int64],
    rank: NDArray[np.int64],
    eligible: NDArray[np.int64],
) -> list[tuple[Any, ...]]:
    """Column values of the moving arcs' flows, computed as arrays first: the Python
    loop only formats strings (10,000 flows in a few ms)."""
    lot = arcs.lot[moving].astype(np.int64)
    receiver = arcs.receiver[moving].astype(np.int64)
    kg = solution.flow_kg[moving]
    fen = arcs.cost_fen_per_t[moving]
    # Flow cost in whole fen = kg x fen/t / 1000, rounded half to even as
    # Decimal.quantize would, exactly in integers.
    whole, rest = np.divmod(kg * fen, 1000)
    up = (rest > 500) | ((rest == 500) & (whole % 2 == 1))
    cost_fen = whole + up
    km = np.round(arcs.km[moving], 1).tolist()
    rail = (arcs.mode[moving] == MODE_RAIL).tolist()
    enterprise = lots.enterprise_id[lot].tolist()
    site = lots.site_id[lot].tolist()
    listing = [None if i < 0 else i for i in lots.listing_id[lot].tolist()]
    r_enterprise = [None if i < 0 else i for i in receivers.enterprise_id[receiver].tolist()]
    r_site = [None if i < 0 else i for i in receivers.site_id[receiver].tolist()]
    names = [receivers.name[i] for i in receiver.tolist()]
    wastes = [lots.waste_code[i] for i in lot.tolist()]
    ranks = rank[moving].tolist()
    choices = eligible[lot].tolist()
    kgs = kg.tolist()
    fens = fen.tolist()
    costs = cost_fen.tolist()
    road, rail_mode = Mode.ROAD.value, Mode.RAIL.value
    rows = []
    for i in range(len(kgs)):
        per_t = _money(fens[i])
        mode = rail_mode if rail[i] else road
        rows.append(
            (
                enterprise[i],
                site[i],
                listing[i],
                r_enterprise[i],
                r_site[i],
                names[i],
                wastes[i],
                kgs[i],  # quantity_kg: whole kilograms, as TonnesField stores them (ADR 0003)
                mode,
                f"{km[i]:.1f}",
                per_t,
                _money(costs[i]),
                _explanation(mode, km[i], per_t, ranks[i], choices[i]),
            )
        )
    return rows


_FLOW_FIELDS = (
    "run",
    "seq",
    "source_enterprise",
    "source_site",
    "listing",
    "receiver_enterprise",
    "receiver_site",
    "receiver_name",
    "waste",
    "quantity",
    "mode",
    "distance_km",
    "cost_per_t",
    "cost_yuan",
    "explanation",
)


def _flows_insert(run_id: int, rows: list[tuple[Any, ...]]) -> None:
    """All flows of a run through the ledger's bulk writer (COPY on PostgreSQL,
    ``executemany`` on SQLite): bulk_create spends ~0.3 ms per row preparing fields,
    which for 10,000 flows was half of a whole run (bench/match.py). The values are
    already in column form (kg integers, decimal strings); ``seq`` numbers the
    run's flows from 1 (the flow's public address within the run)."""
    if not rows:
        return
    by_name = {f.name: f.column for f in ProposedFlow._meta.concrete_fields}
    rows_insert(
        table=connection.ops.quote_name(ProposedFlow._meta.db_table),
        columns=[connection.ops.quote_name(by_name[name]) for name in _FLOW_FIELDS],
        rows=((run_id, seq, *row) for seq, row in enumerate(rows, start=1)),
    )


def listing_withdraw(*, listing: Listing) -> Listing:
    """Take a listing off the exchange (kept, marked withdrawn)."""
    if listing.withdrawn_at is None:
        listing.withdrawn_at = timezone.now()
        listing.save(update_fields=["withdrawn_at"])
    return listing


def _planned_route(flow: ProposedFlow) -> str:
    """The receiver's declared route for the waste (its largest capacity), else "other"."""
    capacity = (
        FacilityCapacity.objects.filter(site=flow.receiver_site, waste_id=flow.waste_id)
        .order_by("-annual_capacity", "pk")
        .values_list("route", flat=True)
        .first()
    )
    return capacity if capacity in UtilizationRoute.values else UtilizationRoute.OTHER.value


# The seats transfer_create lets draft a document for the generator.
_DRAFTERS = frozenset({Role.ADMIN.value, Role.MEMBER.value})


@transaction.atomic
def flow_accept(
    *,
    flow: ProposedFlow,
    user: AbstractBaseUser,
    carrier: Enterprise,
    vehicle: str = "",
    planned_route: str = "",
    today: dt.date | None = None,
) -> Transfer:
    """Turn a proposed flow into a draft transfer document (联单) in one action.

    The draft names the flow's generator (its source enterprise), the receiver, one
    waste line with the flow's tonnes leaving from its source site, the carrier leg
    by the flow's mode and the planned utilization route (the receiver's declared
    route for the waste unless one is given). It is drafted by
    ``transfers.services.transfer_create``, which checks that the user holds a
    writer seat at the generator; nothing is issued or written to a ledger. A flow
    is accepted once: accepting it again returns the same draft."""
    if not roles_at(user, flow.source_enterprise) & _DRAFTERS:
        raise PermissionDenied(
            "只有产生单位可据此开具联单 / only the generator drafts the document"
        )
    earlier = FlowAcceptance.objects.filter(flow=flow).select_related("transfer").first()
    if earlier is not None:
        return earlier.transfer
    if flow.receiver_enterprise is None or flow.receiver_site_id is None:
        raise ValidationFailed(
            "接收方是情景中的拟建项目，不能开具联单 / the receiver is a planned plant of a "
            "scenario: no transfer document",
            field="flow",
        )
    transfer = transfer_create(
        user=user,
        generator=flow.source_enterprise,
        receiver=flow.receiver_enterprise,
        purpose=Purpose.UTILIZATION,
        legs=[LegDraft(carrier=carrier, mode=flow.mode, vehicle=vehicle)],
        lines=[LineDraft(waste=flow.waste, source_site=flow.source_site, declared=flow.quantity)],
        planned_route=planned_route or _planned_route(flow),
        note=f"资源交换建议流向 {flow.run.public_id} #{flow.seq} / exchange match",
        # the same flow accepted twice at once drafts one document
        idempotency_key=f"exchange:{flow.run.public_id}:{flow.seq}",
        today=today,
    )
    FlowAcceptance.objects.get_or_create(
        flow=flow, defaults={"transfer": transfer, "accepted_by": user}
    )
    return transfer


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
    _request_check(region=region, period=period, scenario=scenario, drawdown_share=drawdown_share)
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
    lots = _stack_supply([table.take(np.array([i])) for table, i in lot_rows.values()])
    lots = replace(
        lots, quantity_kg=np.array([int(generation[k].sum()) for k in lot_rows], dtype=np.int64)
    )
    receivers = _stack_demand([table.take(np.array([j])) for table, j in receiver_rows.values()])
    return lots, receivers, generation, capacity


def _lot_key(table: selectors.SupplyTable, i: int) -> tuple[int, ...]:
    source = int(table.source[i])
    if source == 0:  # the enterprise's surplus of a waste, wherever it arose that month
        return (0, int(table.enterprise_id[i]), *table.waste_code[i].encode())
    if source == 1:
        return (1, int(table.site_id[i]), *table.waste_code[i].encode())
    return (2, int(table.listing_id[i]))


def _stack_supply(parts: list[selectors.SupplyTable]) -> selectors.SupplyTable:
    if not parts:
        return selectors.exchange_supply_empty()
    return selectors.SupplyTable(
        source=np.concatenate([p.source for p in parts]),
        enterprise_id=np.concatenate([p.enterprise_id for p in parts]),
        site_id=np.concatenate([p.site_id for p in parts]),
        listing_id=np.concatenate([p.listing_id for p in parts]),
        waste_code=[c for p in parts for c in p.waste_code],
        quantity_kg=np.concatenate([p.quantity_kg for p in parts]),
        lat=np.concatenate([p.lat for p in parts]),
        lon=np.concatenate([p.lon for p in parts]),
        province=np.concatenate([p.province for p in parts]),
        league=np.concatenate([p.league for p in parts]),
        quality=np.concatenate([p.quality for p in parts]),
    )


def _stack_demand(parts: list[selectors.DemandTable]) -> selectors.DemandTable:
    empty = selectors.DemandTable(
        enterprise_id=np.zeros(0, np.int64),
        site_id=np.zeros(0, np.int64),
        name=[],
        waste_code=[],
        capacity_kg=np.zeros(0, np.int64),
        lat=np.zeros(0),
        lon=np.zeros(0),
        province=np.zeros(0, np.int32),
        league=np.zeros(0, np.int32),
    )
    if not parts:
        return empty
    return selectors.DemandTable(
        enterprise_id=np.concatenate([p.enterprise_id for p in parts]),
        site_id=np.concatenate([p.site_id for p in parts]),
        name=[n for p in parts for n in p.name],
        waste_code=[c for p in parts for c in p.waste_code],
        capacity_kg=np.concatenate([p.capacity_kg for p in parts]),
        lat=np.concatenate([p.lat for p in parts]),
        lon=np.concatenate([p.lon for p in parts]),
        province=np.concatenate([p.province for p in parts]),
        league=np.concatenate([p.league for p in parts]),
    )


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
    run = _run_store(
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

"""Writes for the exchange: listings, scenarios and optimization runs.

``exchange_run`` reads one month of supply and demand of a region, applies the
scenario's edits, builds the network (``xunhuan.core.exchange``), solves it and
stores the proposed flows with their explanation, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from xunhuan.core.errors import PermissionDenied, ValidationFailed
from xunhuan.core.exchange.network import (
    QUALITY_ATTRIBUTES,
    BlendLimit,
    Lots,
    Network,
    Places,
    Receivers,
    Terminals,
    network_build,
)
from xunhuan.core.exchange.solvers import Solution, lp_solve, network_solve
from xunhuan.core.exchange.transport import MODE_RAIL, Tariff
from xunhuan.core.units import kg_to_tonnes, to_tonnes
from xunhuan.exchange import selectors
from xunhuan.exchange.models import (
    ChangeKind,
    LimitScope,
    Listing,
    Mode,
    ProposedFlow,
    Run,
    Scenario,
    ScenarioChange,
)
from xunhuan.registry.models import Enterprise, Region, Site, WasteCategory

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


def _codes(path: str) -> tuple[int, int]:
    """Province and league codes from a region path ``100000/150000/150600/150622/``."""
    parts = [p for p in path.split("/") if p]
    province = int(parts[1]) if len(parts) > 1 else 0
    league = int(parts[2]) if len(parts) > 2 else province
    return province, league


@dataclass(frozen=True)
class _Built:
    lots: list[selectors.SupplyLot]
    receivers: list[selectors.Receiver]
    skipped_lots: int
    skipped_receivers: int


def _places(
    rows: list[selectors.SupplyLot] | list[selectors.Receiver],
    waste_index: dict[str, int],
    rail: dict[int, tuple[int, float]],
) -> Places:
    paths = [_codes(r.region_path) for r in rows]
    links = [rail.get(r.site_id, (-1, 0.0)) if r.site_id else (-1, 0.0) for r in rows]
    return Places(
        lat=np.array([r.lat for r in rows], dtype=np.float64),
        lon=np.array([r.lon for r in rows], dtype=np.float64),
        waste=np.array([waste_index[r.waste_code] for r in rows], dtype=np.int32),
        province=np.array([p for p, _l in paths], dtype=np.int32),
        league=np.array([league for _p, league in paths], dtype=np.int32),
        terminal=np.array([t for t, _d in links], dtype=np.int32),
        drayage_km=np.array([d for _t, d in links], dtype=np.float64),
    )


def _explanation(mode: str, km: float, per_t: Decimal, rank: int, eligible: int) -> str:
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
    lots: list[selectors.SupplyLot]
    receivers: list[selectors.Receiver]
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


def exchange_problem_read(
    *,
    region: Region,
    period: dt.date,
    scenario: Scenario | None = None,
    drawdown_share: Decimal = DEFAULT_DRAWDOWN_SHARE,
    k_road: int = 40,
    k_rail: int = 10,
) -> ExchangeProblem:
    """Read a month's supply, demand, quality and rail access, apply the scenario and
    build the priced network (no solve, nothing written)."""
    if period.day != 1:
        raise ValidationFailed(
            "月份须为当月1日 / period must be a month's first day", field="period"
        )
    if not Decimal(0) <= drawdown_share <= 1:
        raise ValidationFailed("动用比例须在0到1之间 / share must be 0..1", field="drawdown_share")
    if scenario is not None and scenario.region_id != region.pk:
        raise PermissionDenied("情景不属于该区域 / scenario belongs to another region")
    tariff = tariff_of(scenario)
    notes: list[str] = []
    lots_all = selectors.exchange_supply_read(
        region=region, period=period, drawdown_share=drawdown_share
    )
    receivers_all = selectors.exchange_demand_read(region=region, period=period)
    changes = list(scenario.changes.select_related("region", "terminal")) if scenario else []
    closed = {c.site_id for c in changes if c.kind == ChangeKind.CLOSE_SITE}
    receivers_all = [r for r in receivers_all if r.site_id not in closed]
    for change in changes:
        if change.kind == ChangeKind.ADD_PLANT:
            if change.region is None or change.annual_capacity is None:
                continue  # the check constraint makes this impossible
            receivers_all.append(
                selectors.Receiver(
                    enterprise_id=None,
                    site_id=None,
                    name=change.name,
                    waste_code=str(change.waste_id),
                    capacity_kg=int(change.annual_capacity * 1000) // 12,
                    lat=float(change.latitude or 0),
                    lon=float(change.longitude or 0),
                    region_path=change.region.path,
                )
            )
    lots = [lot for lot in lots_all if not math.isnan(lot.lat) and not math.isnan(lot.lon)]
    receivers = [r for r in receivers_all if not math.isnan(r.lat) and not math.isnan(r.lon)]
    if len(lots) < len(lots_all) or len(receivers) < len(receivers_all):
        notes.append(
            f"无坐标未参与：供应{len(lots_all) - len(lots)}，"
            f"接收{len(receivers_all) - len(receivers)} / without coordinates, left out"
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
    wastes = sorted({lot.waste_code for lot in lots} | {r.waste_code for r in receivers})
    waste_index = {code: i for i, code in enumerate(wastes)}
    n_q = len(QUALITY_ATTRIBUTES)
    lot_min = np.full((len(receivers), n_q), np.nan)
    lot_max = np.full((len(receivers), n_q), np.nan)
    blends: list[BlendLimit] = []
    receiver_at = {(r.site_id, r.waste_code): i for i, r in enumerate(receivers) if r.site_id}
    # limits only matter at receivers (a few thousand sites at most)
    for limit in selectors.quality_limits_for(site_ids={r.site_id for r in receivers if r.site_id}):
        row = receiver_at.get((limit.site_id, limit.waste_id))
        if row is None:
            continue
        column = QUALITY_ATTRIBUTES.index(limit.attribute)
        low = None if limit.minimum is None else float(limit.minimum)
        high = None if limit.maximum is None else float(limit.maximum)
        if limit.scope == LimitScope.BLEND:
            blends.append(BlendLimit(receiver=row, attribute=column, minimum=low, maximum=high))
        else:
            lot_min[row, column] = np.nan if low is None else low
            lot_max[row, column] = np.nan if high is None else high
    network = network_build(
        lots=Lots(
            places=_places(lots, waste_index, rail),
            quantity_kg=np.array([lot.quantity_kg for lot in lots], dtype=np.int64),
            quality=np.array([lot.quality for lot in lots], dtype=np.float64).reshape(-1, n_q),
        ),
        receivers=Receivers(
            places=_places(receivers, waste_index, rail),
            capacity_kg=np.array([r.capacity_kg for r in receivers], dtype=np.int64),
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
    lots: list[selectors.SupplyLot],
    receivers: list[selectors.Receiver],
    network_arcs: Any,
    solution: Solution,
    notes: list[str],
) -> Run:
    arcs = network_arcs
    moving = np.flatnonzero(solution.flow_kg > 0)
    # Per lot: how many eligible routes, and each route's rank by cost (1 = cheapest).
    order = np.lexsort((arcs.cost_fen_per_t, arcs.lot))
    lot_sorted = arcs.lot[order]
    first = np.searchsorted(lot_sorted, lot_sorted, side="left")
    rank = np.empty(len(arcs), dtype=np.int64)
    cost_sorted = arcs.cost_fen_per_t[order]
    cheapest_equal = np.searchsorted(
        # rank ties equally: position of the first arc of the lot with the same cost
        lot_sorted.astype(np.int64) * (2**40) + cost_sorted,
        lot_sorted.astype(np.int64) * (2**40) + cost_sorted,
        side="left",
    )
    rank[order] = cheapest_equal - first + 1
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
        supplied=kg_to_tonnes(sum(lot.quantity_kg for lot in lots)),
        utilized=kg_to_tonnes(solution.utilized_kg),
        cost_yuan=solution.cost_yuan,
        road_tkm=Decimal(repr(road_tkm)).quantize(Decimal("0.1")),
        rail_tkm=Decimal(repr(rail_tkm)).quantize(Decimal("0.1")),
        co2_t=co2_t.quantize(Decimal("0.001")),
        tariff={k: str(v) for k, v in asdict(tariff).items()},
        notes="\n".join(notes),
        created_by=created_by,
    )
    rows = []
    for a in moving.tolist():
        lot = lots[int(arcs.lot[a])]
        receiver = receivers[int(arcs.receiver[a])]
        kg = int(solution.flow_kg[a])
        per_t = (Decimal(int(arcs.cost_fen_per_t[a])) / 100).quantize(Decimal("0.01"))
        mode = Mode.RAIL if arcs.mode[a] == MODE_RAIL else Mode.ROAD
        km = float(arcs.km[a])
        rows.append(
            (
                run.pk,
                lot.enterprise_id,
                lot.site_id,
                lot.listing_id,
                receiver.enterprise_id,
                receiver.site_id,
                receiver.name,
                lot.waste_code,
                kg,  # quantity_kg: whole kilograms, as TonnesField stores them (ADR 0003)
                str(mode),
                Decimal(f"{km:.1f}"),
                per_t,
                (per_t * kg_to_tonnes(kg)).quantize(Decimal("0.01")),
                _explanation(mode, km, per_t, int(rank[a]), int(eligible[int(arcs.lot[a])])),
            )
        )
    _flows_insert(rows)
    return run


_FLOW_FIELDS = (
    "run",
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


def _flows_insert(rows: list[tuple[Any, ...]]) -> None:
    """One parameterized INSERT over all flows: bulk_create spends ~0.3 ms per row
    preparing fields, which for 10,000 flows was half of a whole run (bench/match.py).
    The values are already in column form (kg integers, quantized Decimals)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    by_name = {f.name: f.column for f in ProposedFlow._meta.concrete_fields}
    columns = ", ".join(quote(by_name[name]) for name in _FLOW_FIELDS)
    placeholders = ", ".join(["%s"] * len(_FLOW_FIELDS))
    table = quote(ProposedFlow._meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 (model names)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])


def listing_withdraw(*, listing: Listing) -> Listing:
    """Take a listing off the exchange (kept, marked withdrawn)."""
    if listing.withdrawn_at is None:
        listing.withdrawn_at = timezone.now()
        listing.save(update_fields=["withdrawn_at"])
    return listing

"""By-product exchange over the JSON API: listings, scenarios, optimization runs,
their proposed flows and exports.

Endpoints hold no logic. Runs and scenarios are a regulator's tool over its
jurisdiction; an enterprise sees the runs with a flow from or to it, and only
those flows. Anybody else gets the same 404 as for an id never issued.
"""

# No ``from __future__ import annotations``: django-ninja resolves the annotations
# of paginated views at run time (see xunhuan/api/api.py).
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from xunhuan.accounts.selectors import (
    enterprises_visible_to,
    enterprises_writable_by,
    regions_visible_to,
)
from xunhuan.core.errors import NotFound, PermissionDenied, ValidationFailed
from xunhuan.core.ids import is_uuid
from xunhuan.exchange import exports, selectors, services
from xunhuan.exchange.models import (
    HorizonRequest,
    Listing,
    ProposedFlow,
    RailTerminal,
    Run,
    Scenario,
)
from xunhuan.jobs.selectors import job_latest
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.registry.models import Enterprise, Region, Site, WasteCategory
from xunhuan.statistics.selectors import stat_scope

router = Router(tags=["资源交换 exchange"])


# --- shapes --------------------------------------------------------------------------


class ListingIn(Schema):
    site: str = Field(..., description="本单位设施编码")
    waste_code: str
    quantity: Decimal = Field(..., description="数量（吨）")
    expires_on: dt.date
    fly_ash_grade: int | None = Field(None, ge=1, le=3)
    al2o3_pct: Decimal | None = Field(None, ge=0, le=100)
    purity_pct: Decimal | None = Field(None, ge=0, le=100)
    moisture_pct: Decimal | None = Field(None, ge=0, le=100)
    note: str = Field("", max_length=500)


class ListingOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    enterprise: str = Field(..., alias="enterprise.credit_code")
    site: str = Field(..., alias="site.code")
    waste_code: str = Field(..., alias="waste_id")
    quantity: Decimal
    expires_on: dt.date
    fly_ash_grade: int | None
    al2o3_pct: Decimal | None
    purity_pct: Decimal | None
    moisture_pct: Decimal | None
    withdrawn: bool

    @staticmethod
    def resolve_withdrawn(obj: Listing) -> bool:
        return obj.withdrawn_at is not None


class RunIn(Schema):
    region: str = Field(..., description="区域代码（须在本人辖区内）")
    period: dt.date = Field(..., description="月份首日，如 2025-03-01")
    scenario: uuid.UUID | None = None
    drawdown_share: Decimal = Field(Decimal("0.10"), ge=0, le=1)


class RunOut(Schema):
    id: uuid.UUID
    region: str
    period: dt.date
    months: int = Field(1, description="1：月度计划；12：自该月起12个月（含贮存结转）")
    scenario: uuid.UUID | None = None
    solver: str
    # Region-wide totals: only for the region's regulators (None for enterprises).
    lots: int | None = None
    receivers: int | None = None
    arcs: int | None = None
    supplied: Decimal | None = None
    utilized: Decimal | None = None
    cost_yuan: Decimal | None = None
    road_tkm: Decimal | None = None
    rail_tkm: Decimal | None = None
    co2_t: Decimal | None = None
    notes: str | None = None


class FlowOut(Schema):
    seq: int = Field(..., description="本次计算内的流向序号（接受时使用）")
    source: str = Field(..., alias="source_enterprise.credit_code")
    source_name: str = Field(..., alias="source_enterprise.name")
    source_site: str = Field(..., alias="source_site.code")
    listing: uuid.UUID | None = None
    receiver: str | None = None
    receiver_name: str
    waste_code: str = Field(..., alias="waste_id")
    quantity: Decimal
    mode: str
    distance_km: Decimal
    cost_per_t: Decimal
    cost_yuan: Decimal
    cost_rank: int = Field(..., description="在该批次可达线路中的运费排名（1为最便宜）")
    eligible_routes: int = Field(..., description="该批次可达且质量合格的线路数")
    explanation: str = Field(..., description="说明（按请求语言）")
    transfer: str | None = Field(None, description="已据此开具的联单编号")

    @staticmethod
    def resolve_transfer(obj: ProposedFlow) -> str | None:
        acceptance = getattr(obj, "acceptance", None)
        return acceptance.transfer.number if acceptance is not None else None

    @staticmethod
    def resolve_listing(obj: ProposedFlow) -> uuid.UUID | None:
        return obj.listing.public_id if obj.listing else None

    @staticmethod
    def resolve_receiver(obj: ProposedFlow) -> str | None:
        return obj.receiver_enterprise.credit_code if obj.receiver_enterprise else None


class ScenarioIn(Schema):
    region: str
    name: str = Field(..., min_length=1, max_length=128)
    road_yuan_per_tkm: Decimal | None = Field(None, ge=0)
    rail_yuan_per_tkm: Decimal | None = Field(None, ge=0)
    rail_handling_yuan_per_t: Decimal | None = Field(None, ge=0)
    road_max_km: Decimal | None = Field(None, ge=0)
    rail_max_km: Decimal | None = Field(None, ge=0)
    cross_league_yuan_per_t: Decimal | None = Field(None, ge=0)
    cross_province_yuan_per_t: Decimal | None = Field(None, ge=0)


class ScenarioCopyIn(Schema):
    name: str = Field(..., min_length=1, max_length=128)


class ScenarioOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    name: str
    region: str = Field(..., alias="region_id")
    based_on: uuid.UUID | None = None
    road_yuan_per_tkm: Decimal
    rail_yuan_per_tkm: Decimal
    rail_handling_yuan_per_t: Decimal
    road_max_km: Decimal
    rail_max_km: Decimal
    cross_league_yuan_per_t: Decimal
    cross_province_yuan_per_t: Decimal
    changes: int


class ChangeIn(Schema):
    kind: str = Field(..., description="add_plant | close_site | open_rail_link")
    site: str | None = Field(None, description="设施公开ID（close_site, open_rail_link）")
    terminal: str | None = Field(None, description="铁路货运站名称（open_rail_link）")
    drayage_km: Decimal | None = Field(None, ge=0)
    name: str = Field("", max_length=128)
    region: str | None = None
    waste_code: str | None = None
    annual_capacity: Decimal | None = Field(None, gt=0)
    latitude: Decimal | None = Field(None, ge=-90, le=90)
    longitude: Decimal | None = Field(None, ge=-180, le=180)


class AcceptIn(Schema):
    carrier: str = Field(..., description="承运单位统一社会信用代码")
    vehicle: str = Field("", max_length=32, description="车牌号/车皮号")
    route: str = Field("", description="拟利用方式（默认：接收设施申报的方式）")


class AcceptOut(Schema):
    transfer: str = Field(..., description="联单编号")
    status: str
    generator: str
    receiver: str
    declared: Decimal
    planned_route: str


class CompareOut(Schema):
    baseline: RunOut
    scenario: RunOut
    utilized_change: Decimal
    cost_change_yuan: Decimal
    road_tkm_change: Decimal
    rail_tkm_change: Decimal
    co2_change_t: Decimal


# --- helpers (lookups only) ------------------------------------------------------------


def _user(request: HttpRequest) -> Any:
    return request.user


def _run(request: HttpRequest, run_id: str) -> Run:
    user = _user(request)
    return selectors.run_get(
        enterprises=enterprises_visible_to(user),
        regions=regions_visible_to(user),
        public_id=run_id,
    )


def _regulated(request: HttpRequest) -> frozenset[str]:
    return selectors.regulated_codes(regions=regions_visible_to(_user(request)))


def _run_out(request: HttpRequest, run: Run, regulated: frozenset[str] | None = None) -> RunOut:
    if regulated is None:
        regulated = _regulated(request)
    totals = selectors.run_totals_visible(run=run, regulated=regulated)
    out = RunOut(
        id=run.public_id,
        region=run.region_id,
        period=run.period,
        months=run.months,
        scenario=run.scenario.public_id if run.scenario else None,
        solver=run.solver,
    )
    if totals:
        out = out.model_copy(
            update={
                "lots": run.lots,
                "receivers": run.receivers,
                "arcs": run.arcs,
                "supplied": run.supplied,
                "utilized": run.utilized,
                "cost_yuan": run.cost_yuan,
                "road_tkm": run.road_tkm,
                "rail_tkm": run.rail_tkm,
                "co2_t": run.co2_t,
                "notes": run.notes,
            }
        )
    return out


def _regulated_region(request: HttpRequest, code: str) -> Region:
    region = regions_visible_to(_user(request)).filter(code=code).first()
    if region is None:
        raise PermissionDenied("只有辖区监管部门可运行 / only the region's regulator may do this")
    return region


def _scenario(request: HttpRequest, scenario_id: str) -> Scenario:
    return selectors.scenario_get(regions=regions_visible_to(_user(request)), public_id=scenario_id)


def _scenario_out(scenario: Scenario) -> ScenarioOut:
    return ScenarioOut(
        public_id=scenario.public_id,
        name=scenario.name,
        region_id=scenario.region_id,
        based_on=scenario.based_on.public_id if scenario.based_on else None,
        road_yuan_per_tkm=scenario.road_yuan_per_tkm,
        rail_yuan_per_tkm=scenario.rail_yuan_per_tkm,
        rail_handling_yuan_per_t=scenario.rail_handling_yuan_per_t,
        road_max_km=scenario.road_max_km,
        rail_max_km=scenario.rail_max_km,
        cross_league_yuan_per_t=scenario.cross_league_yuan_per_t,
        cross_province_yuan_per_t=scenario.cross_province_yuan_per_t,
        changes=scenario.changes.count(),
    )


# --- listings ------------------------------------------------------------------------


@router.post("/enterprises/{credit_code}/listings", response={201: ListingOut})
def listings_create(request: HttpRequest, credit_code: str, body: ListingIn) -> Status[Listing]:
    """Publish surplus for the exchange (enterprise admins and members)."""
    enterprise = enterprises_visible_to(_user(request)).filter(credit_code=credit_code).first()
    if enterprise is None:
        raise NotFound("单位不存在或无权查看 / enterprise not found", field="credit_code")
    if not enterprises_writable_by(_user(request)).filter(pk=enterprise.pk).exists():
        raise PermissionDenied("无权为该单位发布 / no write access to this enterprise")
    listing = services.listing_publish(
        enterprise=enterprise,
        site_code=body.site,
        waste_code=body.waste_code,
        quantity=body.quantity,
        expires_on=body.expires_on,
        today=today_in_shanghai(),
        published_by=_user(request),
        quality={
            "fly_ash_grade": body.fly_ash_grade,
            "al2o3_pct": body.al2o3_pct,
            "purity_pct": body.purity_pct,
            "moisture_pct": body.moisture_pct,
        },
        note=body.note,
    )
    return Status(201, listing)


@router.get("/listings", response=list[ListingOut])
@paginate(LimitOffsetPagination)
def listings_list(request: HttpRequest) -> QuerySet[Listing]:
    """Live listings of the enterprises the user may see."""
    return selectors.listings_list(
        enterprises=enterprises_visible_to(_user(request)), today=today_in_shanghai()
    )


# --- scenarios -----------------------------------------------------------------------


@router.post("/scenarios", response={201: ScenarioOut})
def scenarios_create(request: HttpRequest, body: ScenarioIn) -> Status[ScenarioOut]:
    region = _regulated_region(request, body.region)
    tariff = {k: v for k, v in body.model_dump(exclude={"region", "name"}).items() if v is not None}
    scenario = services.scenario_create(
        region=region, name=body.name, created_by=_user(request), tariff=tariff
    )
    return Status(201, _scenario_out(scenario))


@router.post("/scenarios/{scenario_id}/copy", response={201: ScenarioOut})
def scenarios_copy(
    request: HttpRequest, scenario_id: str, body: ScenarioCopyIn
) -> Status[ScenarioOut]:
    copy = services.scenario_copy(
        scenario=_scenario(request, scenario_id), name=body.name, created_by=_user(request)
    )
    return Status(201, _scenario_out(copy))


@router.post("/scenarios/{scenario_id}/changes", response={201: ScenarioOut})
def scenarios_change(request: HttpRequest, scenario_id: str, body: ChangeIn) -> Status[ScenarioOut]:
    """Add a plant, close a site or open a rail link in a scenario."""
    scenario = _scenario(request, scenario_id)
    fields: dict[str, Any] = {}
    if body.site:
        site = Site.objects.filter(public_id=body.site).first() if is_uuid(body.site) else None
        if site is None:
            raise ValidationFailed("设施不存在 / unknown site", field="site")
        fields["site"] = site
    if body.terminal:
        terminal = RailTerminal.objects.filter(name=body.terminal).first()
        if terminal is None:
            raise ValidationFailed("铁路货运站不存在 / unknown terminal", field="terminal")
        fields["terminal"] = terminal
        fields["drayage_km"] = body.drayage_km or Decimal(0)
    if body.region:
        fields["region"] = Region.objects.filter(code=body.region).first()
    if body.waste_code:
        fields["waste"] = WasteCategory.objects.filter(code=body.waste_code).first()
    for name in ("annual_capacity", "latitude", "longitude"):
        if getattr(body, name) is not None:
            fields[name] = getattr(body, name)
    if body.name:
        fields["name"] = body.name
    services.scenario_change_add(scenario=scenario, kind=body.kind, **fields)
    return Status(201, _scenario_out(scenario))


# --- runs ----------------------------------------------------------------------------


@router.post("/runs", response={201: RunOut})
def runs_create(request: HttpRequest, body: RunIn) -> Status[RunOut]:
    """Optimize one month of the region's exchange (the region's regulators)."""
    region = _regulated_region(request, body.region)
    scenario = _scenario(request, str(body.scenario)) if body.scenario else None
    run = services.exchange_run(
        region=region,
        period=body.period,
        scenario=scenario,
        drawdown_share=body.drawdown_share,
        created_by=_user(request),
    )
    return Status(201, _run_out(request, run))


@router.get("/runs", response=list[RunOut])
@paginate(LimitOffsetPagination)
def runs_list(request: HttpRequest) -> list[RunOut]:
    user = _user(request)
    runs = selectors.runs_visible(
        enterprises=enterprises_visible_to(user), regions=regions_visible_to(user)
    )
    regulated = _regulated(request)
    return [_run_out(request, run, regulated) for run in runs]


@router.get("/runs/compare", response=CompareOut)
def runs_compare(request: HttpRequest, baseline: str, scenario: str) -> CompareOut:
    """Tonnes utilized, cost, tonne-km by mode and CO2 of a scenario run against a baseline."""
    user = _user(request)
    comparison = selectors.runs_compare(
        regions=regions_visible_to(user),
        enterprises=enterprises_visible_to(user),
        baseline_id=baseline,
        scenario_id=scenario,
    )
    return CompareOut(
        baseline=_run_out(request, comparison.baseline),
        scenario=_run_out(request, comparison.scenario),
        utilized_change=comparison.utilized_change,
        cost_change_yuan=comparison.cost_change_yuan,
        road_tkm_change=comparison.road_tkm_change,
        rail_tkm_change=comparison.rail_tkm_change,
        co2_change_t=comparison.co2_change_t,
    )


class TargetEffectOut(Schema):
    plan: str
    indicator: str
    year: int
    threshold_percent: Decimal
    rate_before: Decimal | None
    rate_after: Decimal | None
    gap_before_points: Decimal | None
    gap_after_points: Decimal | None


class LeagueEffectOut(Schema):
    code: str
    name: str
    month: str
    baseline_t: Decimal = Field(..., description="基线方案拟利用量（吨，按产生地盟市）")
    scenario_t: Decimal = Field(..., description="情景方案拟利用量（吨）")
    extra_t: Decimal
    rate_recorded: Decimal | None = Field(None, description="台账综合利用率（%），当月")
    rate_before: Decimal | None = Field(None, description="加上基线方案后的利用率（%）")
    rate_after: Decimal | None = Field(None, description="加上情景方案后的利用率（%）")
    targets: list[TargetEffectOut]


@router.get("/runs/league-effect", response=list[LeagueEffectOut])
def runs_league_effect(request: HttpRequest, baseline: str, scenario: str) -> list[Any]:
    """Each league's utilization rate in the runs' month with the baseline's and the
    scenario's planned flows added to the ledger's figures, against its targets."""
    user = _user(request)
    return selectors.runs_league_effect(
        regions=regions_visible_to(user),
        enterprises=enterprises_visible_to(user),
        scope=stat_scope(user),
        baseline_id=baseline,
        scenario_id=scenario,
    )


@router.get("/runs/{run_id}", response=RunOut)
def runs_get(request: HttpRequest, run_id: str) -> RunOut:
    return _run_out(request, _run(request, run_id))


def _flows(request: HttpRequest, run_id: str) -> QuerySet[ProposedFlow]:
    return selectors.run_flows_list(
        run=_run(request, run_id), enterprises=enterprises_visible_to(_user(request))
    )


@router.get("/runs/{run_id}/flows", response=list[FlowOut])
@paginate(LimitOffsetPagination)
def flows_list(request: HttpRequest, run_id: str) -> QuerySet[ProposedFlow]:
    """The run's proposed flows from or to an enterprise the user may see, explained."""
    return _flows(request, run_id)


@router.get("/runs/{run_id}/flows.csv")
def flows_csv(request: HttpRequest, run_id: str) -> HttpResponse:
    response = HttpResponse(
        exports.flows_csv(_flows(request, run_id)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="flows-{run_id}.csv"'
    return response


@router.get("/runs/{run_id}/flows.xlsx")
def flows_xlsx(request: HttpRequest, run_id: str) -> HttpResponse:
    response = HttpResponse(
        exports.flows_xlsx(_flows(request, run_id)),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="flows-{run_id}.xlsx"'
    return response


@router.post("/runs/{run_id}/flows/{seq}/accept", response={201: AcceptOut})
def flows_accept(request: HttpRequest, run_id: str, seq: int, body: AcceptIn) -> Status[AcceptOut]:
    """Make a proposed flow a draft transfer document (联单) of its generator, in one
    action: generator, receiver, waste line, carrier leg by the flow's mode, planned
    route. Drafting is for the generator's admin and member seats; accepting an
    accepted flow again returns the same draft."""
    user = _user(request)
    flow = selectors.flow_get(
        run=_run(request, run_id), enterprises=enterprises_visible_to(user), seq=seq
    )
    carrier = Enterprise.objects.filter(credit_code=body.carrier, is_carrier=True).first()
    if carrier is None:
        raise ValidationFailed("承运单位不存在 / unknown carrier", field="carrier")
    transfer = services.flow_accept(
        flow=flow, user=user, carrier=carrier, vehicle=body.vehicle, planned_route=body.route
    )
    line = transfer.lines.order_by("seq").first()
    return Status(
        201,
        AcceptOut(
            transfer=transfer.number,
            status=transfer.status,
            generator=transfer.generator.credit_code,
            receiver=transfer.receiver.credit_code,
            declared=line.declared if line is not None else Decimal(0),
            planned_route=transfer.planned_route,
        ),
    )


class HorizonOut(Schema):
    id: uuid.UUID
    status: str = Field(..., description="queued | running | done | failed")
    message: str = ""
    run: uuid.UUID | None = Field(None, description="求解完成后的计算（months = 12）")


def _horizon_out(request: HorizonRequest) -> HorizonOut:
    job = job_latest(kind=services.JOB_HORIZON, target_id=request.pk)
    return HorizonOut(
        id=request.public_id,
        status=job.status if job is not None else "done",
        message=job.message if job is not None else "",
        run=request.run.public_id if request.run is not None else None,
    )


@router.post("/horizon-runs", response={202: HorizonOut})
def horizon_create(request: HttpRequest, body: RunIn) -> Status[HorizonOut]:
    """Ask for a 12-month plan from ``period`` with yard carry-over (the region's
    regulators); the job worker solves it, poll ``GET /horizon-runs/{id}``."""
    region = _regulated_region(request, body.region)
    scenario = _scenario(request, str(body.scenario)) if body.scenario else None
    created = services.horizon_request(
        region=region,
        period=body.period,
        scenario=scenario,
        drawdown_share=body.drawdown_share,
        created_by=_user(request),
    )
    return Status(202, _horizon_out(created))


@router.get("/horizon-runs/{request_id}", response=HorizonOut)
def horizon_get(request: HttpRequest, request_id: str) -> HorizonOut:
    return _horizon_out(
        selectors.horizon_request_get(
            regions=regions_visible_to(_user(request)), public_id=request_id
        )
    )

"""Runs, their flows, listings, scenarios and 12-month requests as a user may see them
(enterprise seats their own flows, regulators their regions), and run comparisons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet

from xunhuan.core.errors import NotFound
from xunhuan.core.ids import is_uuid
from xunhuan.exchange.models import HorizonRequest, Listing, ProposedFlow, Run, Scenario
from xunhuan.registry.models import Enterprise, Region


def runs_visible(*, enterprises: QuerySet[Enterprise], regions: QuerySet[Region]) -> QuerySet[Run]:
    """Runs over a region the user regulates, or with a flow involving one of its
    enterprises."""
    involved = ProposedFlow.objects.filter(run=OuterRef("pk")).filter(
        Q(source_enterprise__in=enterprises) | Q(receiver_enterprise__in=enterprises)
    )
    return (
        Run.objects.filter(Q(region__in=regions) | Exists(involved))
        .select_related("region", "scenario")
        .order_by("-created_at", "-pk")
    )


def run_get(*, enterprises: QuerySet[Enterprise], regions: QuerySet[Region], public_id: str) -> Run:
    run = (
        runs_visible(enterprises=enterprises, regions=regions).filter(public_id=public_id).first()
        if is_uuid(public_id)
        else None
    )
    if run is None:
        raise NotFound("计算不存在或无权查看 / run not found", field="run")
    return run


def run_flows_list(*, run: Run, enterprises: QuerySet[Enterprise]) -> QuerySet[ProposedFlow]:
    """The run's flows the user may see: those sending from or to a visible enterprise."""
    return (
        run.flows.filter(
            Q(source_enterprise__in=enterprises) | Q(receiver_enterprise__in=enterprises)
        )
        .select_related(
            "source_enterprise",
            "source_site",
            "receiver_enterprise",
            "listing",
            "acceptance__transfer",
        )
        .order_by("seq")
    )


def flow_get(*, run: Run, enterprises: QuerySet[Enterprise], seq: int) -> ProposedFlow:
    """Flow number ``seq`` of the run, if it sends from or to a visible enterprise."""
    flow = (
        run_flows_list(run=run, enterprises=enterprises)
        .select_related("run", "waste", "receiver_site")
        .filter(seq=seq)
        .first()
    )
    if flow is None:
        raise NotFound("流向不存在或无权查看 / flow not found", field="flow")
    return flow


def regulated_codes(*, regions: QuerySet[Region]) -> frozenset[str]:
    """Codes of every region the user regulates (one query for a whole list of runs)."""
    return frozenset(regions.values_list("code", flat=True))


def run_totals_visible(*, run: Run, regulated: frozenset[str]) -> bool:
    """Region-wide totals are the regulators' (of the run's region or above): an
    enterprise in a run sees its own flows, not the region's aggregate."""
    return run.region_id in regulated


@dataclass(frozen=True)
class Comparison:
    baseline: Run
    scenario: Run
    utilized_change: Decimal
    cost_change_yuan: Decimal
    road_tkm_change: Decimal
    rail_tkm_change: Decimal
    co2_change_t: Decimal


def runs_compare(
    *,
    regions: QuerySet[Region],
    enterprises: QuerySet[Enterprise],
    baseline_id: str,
    scenario_id: str,
) -> Comparison:
    """A scenario run against a baseline run: the change of each total (scenario −
    baseline). Only the runs' regulators may compare (totals are theirs)."""
    baseline = run_get(enterprises=enterprises, regions=regions, public_id=baseline_id)
    scenario = run_get(enterprises=enterprises, regions=regions, public_id=scenario_id)
    regulated = regulated_codes(regions=regions)
    for run in (baseline, scenario):
        if not run_totals_visible(run=run, regulated=regulated):
            raise NotFound("计算不存在或无权查看 / run not found", field="run")
    return Comparison(
        baseline=baseline,
        scenario=scenario,
        utilized_change=scenario.utilized - baseline.utilized,
        cost_change_yuan=scenario.cost_yuan - baseline.cost_yuan,
        road_tkm_change=scenario.road_tkm - baseline.road_tkm,
        rail_tkm_change=scenario.rail_tkm - baseline.rail_tkm,
        co2_change_t=scenario.co2_t - baseline.co2_t,
    )


def listings_list(*, enterprises: QuerySet[Enterprise], today: dt.date) -> QuerySet[Listing]:
    """Live listings (not withdrawn, not expired) of the visible enterprises."""
    return (
        Listing.objects.filter(
            enterprise__in=enterprises, withdrawn_at__isnull=True, expires_on__gte=today
        )
        .select_related("enterprise", "site", "waste")
        .order_by("-published_at", "-pk")
    )


def horizon_request_get(*, regions: QuerySet[Region], public_id: str) -> HorizonRequest:
    """A 12-month plan request over a region the user regulates."""
    found = (
        HorizonRequest.objects.filter(region__in=regions, public_id=public_id)
        .select_related("run")
        .first()
        if is_uuid(public_id)
        else None
    )
    if found is None:
        raise NotFound("计划请求不存在或无权查看 / plan request not found", field="request")
    return found


def scenario_get(*, regions: QuerySet[Region], public_id: str) -> Scenario:
    scenario = (
        Scenario.objects.filter(region__in=regions, public_id=public_id).first()
        if is_uuid(public_id)
        else None
    )
    if scenario is None:
        raise NotFound("情景不存在或无权查看 / scenario not found", field="scenario")
    return scenario

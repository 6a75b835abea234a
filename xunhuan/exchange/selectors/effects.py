"""What a run changes: each league's utilization rate with the proposed flows, beside
its targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from xunhuan.core.indicators import utilization_rate
from xunhuan.core.units import kg_to_tonnes, tonnes_to_kg
from xunhuan.exchange.models import Run
from xunhuan.exchange.selectors.runs import runs_compare
from xunhuan.exchange.selectors.supply import kg_sum, region_codes_of
from xunhuan.ledger.bulk import rows_select
from xunhuan.registry.models import Enterprise, Region, RegionLevel, WasteGroup
from xunhuan.statistics.models import TargetMetric, TargetScope
from xunhuan.statistics.selectors import StatScope, stats_table, targets_for_region


@dataclass(frozen=True)
class TargetEffect:
    """One utilization-rate target of a league, with the baseline plan and with the
    scenario's."""

    plan: str
    indicator: str
    year: int
    threshold_percent: Decimal
    rate_before: Decimal | None
    rate_after: Decimal | None
    gap_before_points: Decimal | None
    gap_after_points: Decimal | None


@dataclass(frozen=True)
class LeagueEffect:
    """A league's utilization rate in the runs' month: as recorded in the ledger, with
    the baseline's planned flows added, and with the scenario's."""

    code: str
    name: str
    month: str
    baseline_t: Decimal  # planned utilization from the league's sources
    scenario_t: Decimal
    extra_t: Decimal  # scenario − baseline
    rate_recorded: Decimal | None
    rate_before: Decimal | None
    rate_after: Decimal | None
    targets: list[TargetEffect]


def _league_group_kg(run: Run) -> dict[tuple[str, str | None], int]:
    """Tonnes (kg) the run utilizes per (source league, waste group)."""
    out: dict[tuple[str, str | None], int] = {}
    rows = rows_select(
        run.flows.values("source_enterprise__region__path", "waste__group_id")
        .annotate(kg=kg_sum("quantity"))
        .order_by()
        .values_list("source_enterprise__region__path", "waste__group_id", "kg")
    )
    for path, group, kg in rows:
        province, league = region_codes_of(path)
        code = str(league) if league else str(province)
        out[(code, group)] = out.get((code, group), 0) + int(kg)
    return out


def _gap(threshold: Decimal, rate: Decimal | None) -> Decimal | None:
    return None if rate is None else max(threshold - rate, Decimal(0)).quantize(Decimal("0.01"))


def _leagues(region: Region) -> list[Region]:
    if region.level in (RegionLevel.NATIONAL, RegionLevel.PROVINCE):
        return list(Region.objects.filter(parent=region, level=RegionLevel.CITY).order_by("code"))
    if region.level == RegionLevel.COUNTY and region.parent is not None:
        return [region.parent]
    return [region]


def runs_league_effect(
    *,
    regions: QuerySet[Region],
    enterprises: QuerySet[Enterprise],
    scope: StatScope,
    baseline_id: str,
    scenario_id: str,
) -> list[LeagueEffect]:
    """Per league of the runs' region, in the runs' month: the 综合利用率 recorded in
    the ledger (``xunhuan.statistics``, ADR 0010), the same rate with the baseline
    run's planned utilization added, and with the scenario's, against each of the
    league's rate targets (gap in points before and after).

    Planned tonnes count at the source (the generator's league, as the statistics
    count utilization), per waste group, so a target over some groups gets only
    theirs; they are added to utilization with the denominator unchanged (the
    plan places the month's own surplus). Only the runs' regulators may ask."""
    comparison = runs_compare(
        regions=regions, enterprises=enterprises, baseline_id=baseline_id, scenario_id=scenario_id
    )
    baseline, scenario = comparison.baseline, comparison.scenario
    region, period = scenario.region, scenario.period
    month = f"{period.year:04d}-{period.month:02d}"
    planned = {"before": _league_group_kg(baseline), "after": _league_group_kg(scenario)}
    ledger: dict[tuple[str, str | None], dict[str, int]] = {}
    for row in stats_table(
        scope=scope, by=["city", "group", "month"], region=region, year=period.year
    ):
        if row.keys["month"] == month:
            ledger[(str(row.keys["city"]), row.keys["group"])] = {
                name: tonnes_to_kg(row.values[name])
                for name in ("generated", "utilized", "utilized_prior")
            }
    bulk = set(WasteGroup.objects.filter(is_bulk=True).values_list("code", flat=True))
    out = []
    for league in _leagues(region):
        code = league.code
        keys = ledger.keys() | planned["before"].keys() | planned["after"].keys()
        groups_here = {g for (c, g) in keys if c == code}

        def rate(groups: set[str | None], plan: str = "", code: str = code) -> Decimal | None:
            t = {"generated": 0, "utilized": 0, "utilized_prior": 0}
            for g in groups:
                for k, v in ledger.get((code, g), {}).items():
                    t[k] += v
                if plan:
                    t["utilized"] += planned[plan].get((code, g), 0)
            return utilization_rate(**t)

        targets = []
        for target in targets_for_region(region=league):
            if target.metric != TargetMetric.RATE or target.scope == TargetScope.OTHER:
                continue
            if target.scope == TargetScope.INDUSTRIAL:
                scoped = groups_here
            elif target.scope == TargetScope.BULK:
                scoped = groups_here & bulk
            else:
                scoped = {g.code for g in target.waste_groups.all()}
            low, high = rate(scoped, "before"), rate(scoped, "after")
            threshold = target.threshold_percent or Decimal(0)
            targets.append(
                TargetEffect(
                    plan=target.plan,
                    indicator=target.indicator,
                    year=target.year,
                    threshold_percent=threshold,
                    rate_before=low,
                    rate_after=high,
                    gap_before_points=_gap(threshold, low),
                    gap_after_points=_gap(threshold, high),
                )
            )
        base_kg = sum(v for (c, _g), v in planned["before"].items() if c == code)
        scenario_kg = sum(v for (c, _g), v in planned["after"].items() if c == code)
        out.append(
            LeagueEffect(
                code=code,
                name=league.name,
                month=month,
                baseline_t=kg_to_tonnes(base_kg),
                scenario_t=kg_to_tonnes(scenario_kg),
                extra_t=kg_to_tonnes(scenario_kg - base_kg),
                rate_recorded=rate(groups_here),
                rate_before=rate(groups_here, "before"),
                rate_after=rate(groups_here, "after"),
                targets=targets,
            )
        )
    return out

"""Scenarios: a region's copyable what-if (tariff, added or closed plants, rail links)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from xunhuan.core.errors import ValidationFailed
from xunhuan.core.exchange.transport import Tariff
from xunhuan.exchange.models import ChangeKind, Scenario, ScenarioChange
from xunhuan.registry.models import Region

_TARIFF_FIELDS = (
    "road_yuan_per_tkm",
    "rail_yuan_per_tkm",
    "rail_handling_yuan_per_t",
    "road_max_km",
    "rail_max_km",
    "cross_league_yuan_per_t",
    "cross_province_yuan_per_t",
)


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

"""Industry entry thresholds (seed 004 and the national aluminium energy limit) on
registered facility parameters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from xunhuan.compliance.models import FacilityProfile
from xunhuan.compliance.scanners.base import (
    Hit,
    Scope,
    scanner,
)
from xunhuan.core.compliance.checks import (
    Limit,
    limits_breached,
)


def _line_profiles(scope: Scope) -> QuerySet[FacilityProfile]:
    return FacilityProfile.objects.filter(enterprise__in=scope.enterprises).select_related(
        "enterprise", "site"
    )


def _profile_label(profile: FacilityProfile) -> str:
    return (
        f"{profile.site.name}（{profile.site.code}）" if profile.site else profile.enterprise.name
    )


def _breach_text(breaches: list[Any]) -> tuple[str, str]:
    zh = "；".join(
        f"{b.limit.label_zh}{b.value}{b.limit.unit}，"
        f"{'低于' if b.limit.direction == 'at_least' else '高于'}{b.limit.bound}{b.limit.unit}"
        for b in breaches
    )
    en = "; ".join(
        f"{b.limit.label_en} {b.value} {b.limit.unit} "
        f"{'below' if b.limit.direction == 'at_least' else 'above'} {b.limit.bound} {b.limit.unit}"
        for b in breaches
    )
    return zh, en


def _aluminium(scope: Scope, *, new: bool | None) -> list[Hit]:
    rows = _line_profiles(scope).filter(
        Q(potline_current_ka__isnull=False)
        | Q(ac_kwh_per_t_liquid__isnull=False)
        | Q(ac_kwh_per_t_ingot__isnull=False)
        | Q(current_efficiency_pct__isnull=False)
    )
    if new is not None:
        rows = rows.filter(is_new_project=new)
    names = {spec.name for spec in scope.rule.params}
    candidates = [
        ("min_current_ka", "potline_current_ka", "at_least", "槽电流", "current", "kA"),
        (
            "max_ac_liquid",
            "ac_kwh_per_t_liquid",
            "at_most",
            "铝液交流电耗",
            "AC use, liquid Al",
            "kWh/t",
        ),
        ("max_ac_ingot", "ac_kwh_per_t_ingot", "at_most", "铝锭交流电耗", "AC use, ingot", "kWh/t"),
        (
            "min_efficiency_pct",
            "current_efficiency_pct",
            "at_least",
            "电流效率",
            "current efficiency",
            "%",
        ),
    ]
    limits = [
        Limit(measure, direction, scope.dec(param), zh, en, unit)  # type: ignore[arg-type]
        for param, measure, direction, zh, en, unit in candidates
        if param in names
    ]
    hits = []
    for profile in rows.order_by("pk"):
        measures = {limit.measure: getattr(profile, limit.measure) for limit in limits}
        breaches = limits_breached(measures, limits)
        if not breaches:
            continue
        zh, en = _breach_text(breaches)
        hits.append(
            Hit(
                subject_key=f"f{profile.pk}",
                region_id=profile.enterprise.region_id,
                period_start=scope.as_of,
                period_end=scope.as_of,
                values={"site": _profile_label(profile), "breaches": zh, "breaches_en": en},
                enterprise_id=profile.enterprise_id,
                site_id=profile.site_id,
                measured={k: str(v) for k, v in measures.items() if v is not None},
            )
        )
    return hits


@scanner("AL-POTLINE-NEW")
def aluminium_new(scope: Scope) -> list[Hit]:
    return _aluminium(scope, new=True)


@scanner("AL-POTLINE-EXISTING")
def aluminium_existing(scope: Scope) -> list[Hit]:
    return _aluminium(scope, new=False)


@scanner("AL-GB21346")
def aluminium_national(scope: Scope) -> list[Hit]:
    return _aluminium(scope, new=None)


METALS = {
    "cu": ("铜", "Copper"),
    "pb": ("铅", "Lead"),
    "zn": ("锌", "Zinc"),
    "pbzn": ("铅锌", "Lead-zinc"),
    "precious": ("贵金属", "Precious-metal"),
}


def _scale_hits(scope: Scope, field_name: str, minimums: dict[str, str]) -> list[Hit]:
    rows = _line_profiles(scope).filter(
        metal__in=list(minimums), **{f"{field_name}__isnull": False}
    )
    hits = []
    for profile in rows.order_by("pk"):
        capacity: Decimal = getattr(profile, field_name)
        minimum = scope.dec(minimums[profile.metal])
        if capacity >= minimum:
            continue
        zh, en = METALS[profile.metal]
        hits.append(
            Hit(
                subject_key=f"f{profile.pk}",
                region_id=profile.enterprise.region_id,
                period_start=scope.as_of,
                period_end=scope.as_of,
                values={
                    "site": _profile_label(profile),
                    "metal": zh,
                    "metal_en": en,
                    "capacity": capacity,
                    "minimum": minimum,
                },
                enterprise_id=profile.enterprise_id,
                site_id=profile.site_id,
            )
        )
    return hits


@scanner("SMELTING-LINE-SCALE")
def smelting_line_scale(scope: Scope) -> list[Hit]:
    return _scale_hits(
        scope, "line_capacity_t", {"cu": "min_cu_t", "zn": "min_zn_t", "pb": "min_pb_t"}
    )


@scanner("BENEFICIATION-SCALE")
def beneficiation_scale(scope: Scope) -> list[Hit]:
    return _scale_hits(
        scope,
        "beneficiation_t_per_day",
        {"precious": "min_precious_tpd", "cu": "min_cu_tpd", "pbzn": "min_pbzn_tpd"},
    )


@scanner("ORE-SELF-SUPPLY")
def ore_self_supply(scope: Scope) -> list[Hit]:
    minimum = scope.dec("min_share_pct")
    hits = []
    rows = _line_profiles(scope).filter(ore_self_supply_pct__lt=minimum)
    for profile in rows.order_by("pk"):
        hits.append(
            Hit(
                subject_key=f"f{profile.pk}",
                region_id=profile.enterprise.region_id,
                period_start=scope.as_of,
                period_end=scope.as_of,
                values={"share": profile.ore_self_supply_pct, "minimum": minimum},
                enterprise_id=profile.enterprise_id,
                site_id=profile.site_id,
            )
        )
    return hits

"""Industry entry thresholds (seed 004 and the national aluminium energy limit) on
registered facility parameters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from xunhuan.compliance.models import FacilityProfile, OreZone
from xunhuan.compliance.scanners.base import (
    Hit,
    Scope,
    scanner,
)
from xunhuan.core.compliance.checks import (
    Limit,
    distance_km,
    limits_breached,
)


def _line_profiles(scope: Scope) -> QuerySet[FacilityProfile]:
    return FacilityProfile.objects.filter(enterprise__in=scope.enterprises).select_related(
        "enterprise", "site"
    )


def _profile_hit(
    scope: Scope,
    profile: FacilityProfile,
    values: dict[str, Any],
    measured: dict[str, str] | None = None,
) -> Hit:
    """A finding about one registered line or plant, as of the run's date."""
    return Hit(
        subject_key=f"f{profile.pk}",
        region_id=profile.enterprise.region_id,
        period_start=scope.as_of,
        period_end=scope.as_of,
        values=values,
        enterprise_id=profile.enterprise_id,
        site_id=profile.site_id,
        measured=measured or {},
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


def _aluminium(scope: Scope, *, new: bool | None, extra: dict[str, Any] | None = None) -> list[Hit]:
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
            _profile_hit(
                scope,
                profile,
                {
                    "site": _profile_label(profile),
                    "breaches": zh,
                    "breaches_en": en,
                    **(extra or {}),
                },
                {k: str(v) for k, v in measures.items() if v is not None},
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


@scanner("AL-EXISTING-DEADLINE")
def aluminium_existing_deadline(scope: Scope) -> list[Hit]:
    deadline = int(scope.params["deadline_year"])
    if scope.as_of.year <= deadline:
        return []
    return _aluminium(scope, new=False, extra={"deadline": str(deadline)})


@scanner("AL-CAPITAL-RATIO")
def aluminium_capital_ratio(scope: Scope) -> list[Hit]:
    minimum = scope.dec("min_share_pct")
    hits = []
    for profile in _line_profiles(scope).filter(capital_ratio_pct__lt=minimum).order_by("pk"):
        hits.append(
            _profile_hit(
                scope,
                profile,
                {
                    "site": _profile_label(profile),
                    "share": profile.capital_ratio_pct,
                    "minimum": minimum,
                },
            )
        )
    return hits


@scanner("SMELTER-IN-PARK")
def smelter_in_park(scope: Scope) -> list[Hit]:
    rows = (
        scope.enterprises.filter(park__isnull=True)
        .values("pk", "name", "region_id", "industry__name", "industry_id")
        .order_by("pk")
    )
    return [
        Hit(
            subject_key=f"e{row['pk']}",
            region_id=row["region_id"],
            period_start=scope.as_of,
            period_end=scope.as_of,
            values={
                "industry": row["industry__name"],
                "industry_en": f"GB/T 4754 {row['industry_id']}",
                "name": row["name"],
            },
            enterprise_id=row["pk"],
        )
        for row in rows
    ]


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
            _profile_hit(
                scope,
                profile,
                {
                    "site": _profile_label(profile),
                    "metal": zh,
                    "metal_en": en,
                    "capacity": capacity,
                    "minimum": minimum,
                },
            )
        )
    return hits


@scanner("SMELTING-LINE-SCALE")
def smelting_line_scale(scope: Scope) -> list[Hit]:
    return _scale_hits(
        scope, "line_capacity_t", {"cu": "min_cu_t", "zn": "min_zn_t", "pb": "min_pb_t"}
    )


BENEFICIATION_MINIMUMS = {
    "precious": "min_precious_tpd",
    "cu": "min_cu_tpd",
    "pbzn": "min_pbzn_tpd",
}


@scanner("BENEFICIATION-SCALE")
def beneficiation_scale(scope: Scope) -> list[Hit]:
    """New plants inside a designated zone below the seed's scale. Plants and zones are
    few (tens), so the distance is computed here rather than in SQL."""
    zones = list(OreZone.objects.order_by("pk"))
    if not zones:
        return []
    hits = []
    rows = _line_profiles(scope).filter(
        is_new_project=True,
        metal__in=list(BENEFICIATION_MINIMUMS),
        beneficiation_t_per_day__isnull=False,
    )
    for profile in rows.order_by("pk"):
        capacity: Decimal = profile.beneficiation_t_per_day  # type: ignore[assignment]
        minimum = scope.dec(BENEFICIATION_MINIMUMS[profile.metal])
        if capacity >= minimum:
            continue
        place = _coordinates(profile)
        if place is None:
            continue
        inside = sorted(
            (distance_km(place[0], place[1], z.latitude, z.longitude), z.pk, z) for z in zones
        )
        nearest = next(((d, z) for d, _, z in inside if d <= z.radius_km), None)
        if nearest is None:
            continue
        distance, zone = nearest
        zh, en = METALS[profile.metal]
        hits.append(
            _profile_hit(
                scope,
                profile,
                {
                    "site": _profile_label(profile),
                    "metal": zh,
                    "metal_en": en,
                    "capacity": capacity,
                    "minimum": minimum,
                    "zone": zone.name,
                    "distance": distance,
                },
            )
        )
    return hits


def _coordinates(profile: FacilityProfile) -> tuple[Decimal, Decimal] | None:
    """The plant's site coordinates, else its enterprise's registered ones."""
    for holder in (profile.site, profile.enterprise):
        if holder is not None and holder.latitude is not None and holder.longitude is not None:
            return holder.latitude, holder.longitude
    return None


@scanner("ORE-SELF-SUPPLY")
def ore_self_supply(scope: Scope) -> list[Hit]:
    minimum = scope.dec("min_share_pct")
    hits = []
    rows = _line_profiles(scope).filter(ore_self_supply_pct__lt=minimum)
    for profile in rows.order_by("pk"):
        hits.append(
            _profile_hit(scope, profile, {"share": profile.ore_self_supply_pct, "minimum": minimum})
        )
    return hits

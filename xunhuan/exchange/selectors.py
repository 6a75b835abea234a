"""Reads for the exchange: what a run takes from the ledger and registry (supply and
demand of one month in one region), and the access-checked views of runs and flows.

Callers pass the user's visible enterprises and regions
(``xunhuan.accounts.selectors``); nothing here widens them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum

from xunhuan.core.errors import NotFound
from xunhuan.core.exchange.network import QUALITY_ATTRIBUTES
from xunhuan.core.units import tonnes_to_kg
from xunhuan.exchange.models import (
    Listing,
    ProposedFlow,
    QualityDeclaration,
    QualityLimit,
    RailLink,
    Run,
    Scenario,
)
from xunhuan.ledger.models import EntryKind, LedgerEntry, StockBalance
from xunhuan.registry.models import Enterprise, FacilityCapacity, Region, Site, SiteKind

NAN = math.nan
Quality = tuple[float, ...]
NO_QUALITY: Quality = (NAN,) * len(QUALITY_ATTRIBUTES)


@dataclass(frozen=True)
class SupplyLot:
    """Surplus of one waste at one site: this month's, drawable stock, or a listing."""

    source: str  # "surplus" | "stock" | "listing"
    enterprise_id: int
    site_id: int
    waste_code: str
    quantity_kg: int
    lat: float
    lon: float
    region_path: str
    quality: Quality
    listing_id: int | None = None


@dataclass(frozen=True)
class Receiver:
    """Spare monthly capacity of one utilization site for one waste."""

    enterprise_id: int | None
    site_id: int | None
    name: str
    waste_code: str
    capacity_kg: int
    lat: float
    lon: float
    region_path: str


def month_end(period: dt.date) -> dt.date:
    following = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _coordinate(site_value: Decimal | None, enterprise_value: Decimal | None) -> float:
    value = site_value if site_value is not None else enterprise_value
    return float(value) if value is not None else NAN


@dataclass(frozen=True)
class _Place:
    enterprise_id: int
    lat: float
    lon: float
    region_path: str
    name: str


def _places(region: Region, kinds: tuple[str, ...]) -> dict[int, _Place]:
    """Where each site of the region is (its coordinates, else its enterprise's).

    Plain value rows: building 50,000 model instances with their enterprise and
    region costs more than the rest of a run's read."""
    rows = Site.objects.filter(
        enterprise__region__path__startswith=region.path, kind__in=kinds
    ).values_list(
        "pk",
        "enterprise_id",
        "latitude",
        "longitude",
        "enterprise__latitude",
        "enterprise__longitude",
        "enterprise__region__path",
        "enterprise__name",
        "name",
    )
    return {
        pk: _Place(e, _coordinate(lat, e_lat), _coordinate(lon, e_lon), path, f"{e_name} {name}")
        for pk, e, lat, lon, e_lat, e_lon, path, e_name, name in rows
    }


def _quality(row: QualityDeclaration | Listing) -> Quality:
    return tuple(
        NAN if getattr(row, name) is None else float(getattr(row, name))
        for name in QUALITY_ATTRIBUTES
    )


def _declared_quality(region: Region) -> dict[tuple[int, str], Quality]:
    """Latest declared quality per (enterprise, waste)."""
    latest: dict[tuple[int, str], Quality] = {}
    rows = (
        QualityDeclaration.objects.filter(site__enterprise__region__path__startswith=region.path)
        .order_by("declared_at", "pk")
        .values_list("site__enterprise_id", "waste_id", *QUALITY_ATTRIBUTES)
    )
    for enterprise_id, waste_id, *values in rows:
        latest[(enterprise_id, waste_id)] = tuple(
            NAN if value is None else float(value) for value in values
        )
    return latest


def exchange_supply_read(
    *, region: Region, period: dt.date, drawdown_share: Decimal
) -> list[SupplyLot]:
    """Supply of one month in a region.

    * surplus: per enterprise and waste, generated − self-utilized − self-disposed −
      handed over in the month (already placed), if positive, at the enterprise's
      generating site;
    * stock: ``drawdown_share`` of the stock on hand in its storage yards;
    * listings: published, not withdrawn, not expired by the month's first day.
    """
    end = month_end(period)
    declared = _declared_quality(region)
    in_region = Q(enterprise__region__path__startswith=region.path)
    month = LedgerEntry.objects.filter(in_region, occurred_on__gte=period, occurred_on__lte=end)
    used_kinds = [EntryKind.SELF_UTILIZED, EntryKind.SELF_DISPOSED, EntryKind.HANDED_OVER]
    generated: dict[tuple[int, str], tuple[int, Decimal]] = {}
    for enterprise_id, waste_id, site_id, total in (
        month.filter(kind=EntryKind.GENERATED)
        .values_list("enterprise_id", "waste_id", "site_id")
        .annotate(total=Sum("quantity"))
        .order_by("enterprise_id", "waste_id", "-total", "site_id")
    ):
        # the site generating most of it stands for the enterprise's surplus
        generated.setdefault((enterprise_id, waste_id), (site_id, Decimal(0)))
        site, so_far = generated[(enterprise_id, waste_id)]
        generated[(enterprise_id, waste_id)] = (site, so_far + total)
    used = {
        (e, w): total
        for e, w, total in month.filter(kind__in=used_kinds)
        .values_list("enterprise_id", "waste_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }
    stock = list(
        StockBalance.objects.filter(
            site__enterprise__region__path__startswith=region.path,
            site__kind=SiteKind.STORAGE,
            quantity__gt=0,
        ).values_list("site_id", "waste_id", "quantity")
    )
    place = _places(region, (SiteKind.PRODUCTION, SiteKind.STORAGE, SiteKind.UTILIZATION))
    lots: list[SupplyLot] = []
    for (enterprise_id, waste_id), (source_site, total) in sorted(generated.items()):
        surplus = total - used.get((enterprise_id, waste_id), Decimal(0))
        if surplus <= 0:
            continue
        located = place[source_site]
        lots.append(
            SupplyLot(
                source="surplus",
                enterprise_id=enterprise_id,
                site_id=source_site,
                waste_code=waste_id,
                quantity_kg=tonnes_to_kg(surplus),
                lat=located.lat,
                lon=located.lon,
                region_path=located.region_path,
                quality=declared.get((enterprise_id, waste_id), NO_QUALITY),
            )
        )
    for site_id, waste_id, quantity in sorted(stock):
        drawable = (quantity * drawdown_share).quantize(Decimal("0.001"), rounding=ROUND_FLOOR)
        if drawable <= 0:
            continue
        located = place[site_id]
        lots.append(
            SupplyLot(
                source="stock",
                enterprise_id=located.enterprise_id,
                site_id=site_id,
                waste_code=waste_id,
                quantity_kg=tonnes_to_kg(drawable),
                lat=located.lat,
                lon=located.lon,
                region_path=located.region_path,
                quality=declared.get((located.enterprise_id, waste_id), NO_QUALITY),
            )
        )
    listings = (
        Listing.objects.filter(
            in_region,
            withdrawn_at__isnull=True,
            expires_on__gte=period,
            published_at__date__lte=end,
        )
        .select_related("site", "enterprise__region")
        .order_by("pk")
    )
    for listing in listings:
        lots.append(
            SupplyLot(
                source="listing",
                enterprise_id=listing.enterprise_id,
                site_id=listing.site_id,
                waste_code=listing.waste_id,
                quantity_kg=tonnes_to_kg(listing.quantity),
                lat=_coordinate(listing.site.latitude, listing.enterprise.latitude),
                lon=_coordinate(listing.site.longitude, listing.enterprise.longitude),
                region_path=listing.enterprise.region.path,
                quality=_quality(listing),
                listing_id=listing.pk,
            )
        )
    return lots


def exchange_demand_read(*, region: Region, period: dt.date) -> list[Receiver]:
    """Spare capacity per utilization site and waste in the month: a twelfth of the
    annual capacity (all routes) minus what the site utilized in the month."""
    end = month_end(period)
    capacities = (
        FacilityCapacity.objects.filter(
            site__enterprise__region__path__startswith=region.path,
            site__kind=SiteKind.UTILIZATION,
        )
        .values_list("site_id", "waste_id")
        .annotate(total=Sum("annual_capacity"))
        .order_by("site_id", "waste_id")
    )
    used = {
        (site, waste): total
        for site, waste, total in LedgerEntry.objects.filter(
            kind=EntryKind.SELF_UTILIZED, occurred_on__gte=period, occurred_on__lte=end
        )
        .filter(site__enterprise__region__path__startswith=region.path)
        .values_list("site_id", "waste_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }
    rows = list(capacities)
    place = _places(region, (SiteKind.UTILIZATION,))
    receivers: list[Receiver] = []
    for site_id, waste_id, annual in rows:
        monthly_kg = tonnes_to_kg(annual) // 12
        spare = monthly_kg - tonnes_to_kg(used.get((site_id, waste_id), Decimal(0)))
        if spare <= 0:
            continue
        site = place[site_id]
        receivers.append(
            Receiver(
                enterprise_id=site.enterprise_id,
                site_id=site_id,
                name=site.name,
                waste_code=waste_id,
                capacity_kg=spare,
                lat=site.lat,
                lon=site.lon,
                region_path=site.region_path,
            )
        )
    return receivers


def quality_limits_for(*, site_ids: set[int]) -> list[QualityLimit]:
    return list(QualityLimit.objects.filter(site_id__in=site_ids).order_by("pk"))


def rail_links_for(*, region: Region) -> list[tuple[int, int, float, float, float]]:
    """Active rail links of the region's sites: (site, terminal, lat, lon, drayage km)."""
    rows = RailLink.objects.filter(
        site__enterprise__region__path__startswith=region.path, is_active=True
    ).values_list(
        "site_id", "terminal_id", "terminal__latitude", "terminal__longitude", "drayage_km"
    )
    return [(s, t, float(lat), float(lon), float(km)) for s, t, lat, lon, km in rows]


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
        if _is_uuid(public_id)
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
        .select_related("source_enterprise", "source_site", "receiver_enterprise", "listing")
        .order_by("pk")
    )


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


def scenario_get(*, regions: QuerySet[Region], public_id: str) -> Scenario:
    scenario = (
        Scenario.objects.filter(region__in=regions, public_id=public_id).first()
        if _is_uuid(public_id)
        else None
    )
    if scenario is None:
        raise NotFound("情景不存在或无权查看 / scenario not found", field="scenario")
    return scenario


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True

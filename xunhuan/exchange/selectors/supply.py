"""Supply and demand of a region's month, read from the ledger and registry as
column arrays for the network builder (and as rows for pages and the API).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import Field, dataclass, fields
from decimal import Decimal
from typing import Any, ClassVar, Self

import numpy as np
from django.db.models import (
    BigIntegerField,
    Case,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from numpy.typing import NDArray

from xunhuan.core.exchange.network import QUALITY_ATTRIBUTES
from xunhuan.exchange.models import Listing, QualityDeclaration, QualityLimit, RailLink
from xunhuan.ledger.bulk import rows_select
from xunhuan.ledger.models import EntryKind, LedgerEntry, StockBalance
from xunhuan.registry.models import FacilityCapacity, Region, Site, SiteKind

NAN = math.nan
Quality = tuple[float, ...]


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
    province: int
    league: int
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
    province: int
    league: int


def month_end(period: dt.date) -> dt.date:
    following = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


SOURCES = ("surplus", "stock", "listing")
_USED_KINDS = (EntryKind.SELF_UTILIZED, EntryKind.SELF_DISPOSED, EntryKind.HANDED_OVER)


def _float(expression: Any) -> Cast:
    return Cast(expression, FloatField())


def kg_sum(column: str, **condition: Any) -> Cast:
    """Sum of a kilogram column as an integer (TonnesField would make Decimals)."""
    value: Any = F(column)
    if condition:
        value = Case(
            When(Q(**condition), then=F(column)),
            default=Value(0),
            output_field=BigIntegerField(),
        )
    # Cast: PostgreSQL's SUM of a bigint is numeric (a Decimal in the driver).
    return Cast(Sum(value, output_field=BigIntegerField()), BigIntegerField())


def _region_codes(region: Region) -> dict[str, tuple[int, int]]:
    """Province and league code of every region in the subtree (a few hundred rows)."""
    return {
        code: region_codes_of(path)
        for code, path in Region.objects.filter(path__startswith=region.path).values_list(
            "code", "path"
        )
    }


def _within(codes: dict[str, tuple[int, int]], to_enterprise: str = "enterprise") -> Q:
    """Rows whose enterprise (reached by ``to_enterprise``) is registered in one of the
    subtree's regions ``codes`` (``_region_codes``), named as a list rather than a join
    to the region table on a path prefix: PostgreSQL estimates such a prefix at one
    region and so planned nested loops over every site, three times slower than the
    hash joins the list's real row counts lead to (10,000 sites, bench/match.py)."""
    return Q(**{f"{to_enterprise}__region_id__in": list(codes)})


def region_codes_of(path: str) -> tuple[int, int]:
    """Province and league codes from a region path ``100000/150000/150600/150622/``."""
    parts = [p for p in path.split("/") if p]
    province = int(parts[1]) if len(parts) > 1 else 0
    league = int(parts[2]) if len(parts) > 2 else province
    return province, league


class Columns:
    """A frozen dataclass whose fields are equal-length columns (numpy arrays, or lists
    of strings): rows taken and tables stacked field by field, so that no method
    names the columns again and a new column cannot be forgotten in one of them."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # set by @dataclass on the subclass

    def take(self, rows: NDArray[np.int64]) -> Self:
        """The given rows, in that order."""
        picked = rows.tolist()
        columns = {}
        for column in fields(self):
            value = getattr(self, column.name)
            columns[column.name] = (
                [value[i] for i in picked] if isinstance(value, list) else value[rows]
            )
        return type(self)(**columns)

    @classmethod
    def stacked(cls, parts: Sequence[Self]) -> Self:
        """The rows of ``parts`` (at least one) one after the other."""
        columns = {}
        for column in fields(cls):
            values = [getattr(part, column.name) for part in parts]
            columns[column.name] = (
                [v for value in values for v in value]
                if isinstance(values[0], list)
                else np.concatenate(values)
            )
        return cls(**columns)


@dataclass(frozen=True)
class SupplyTable(Columns):
    """The month's supply lots as columns (one row per lot), in the order
    surplus (by enterprise, waste), stock (by site, waste), listings (by id)."""

    source: NDArray[np.int8]  # index into SOURCES
    enterprise_id: NDArray[np.int64]
    site_id: NDArray[np.int64]
    listing_id: NDArray[np.int64]  # -1 when not a listing
    waste_code: list[str]
    quantity_kg: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    province: NDArray[np.int32]
    league: NDArray[np.int32]
    quality: NDArray[np.float64]  # [n, len(QUALITY_ATTRIBUTES)], NaN = not declared

    def __len__(self) -> int:
        return int(self.quantity_kg.shape[0])


@dataclass(frozen=True)
class DemandTable(Columns):
    """Receivers as columns: spare monthly capacity per (utilization site, waste)."""

    enterprise_id: NDArray[np.int64]  # -1 for a plant a scenario adds
    site_id: NDArray[np.int64]  # -1 likewise
    name: list[str]
    waste_code: list[str]
    capacity_kg: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    province: NDArray[np.int32]
    league: NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.capacity_kg.shape[0])

    def extended(self, rows: list[Receiver]) -> DemandTable:
        """With receivers added (a scenario's hypothetical plants)."""
        return DemandTable.stacked([self, demand_of(rows)]) if rows else self


def demand_of(rows: Sequence[Receiver]) -> DemandTable:
    """Receiver records as a table (no enterprise or site: -1)."""
    return DemandTable(
        enterprise_id=np.array(
            [-1 if r.enterprise_id is None else r.enterprise_id for r in rows], dtype=np.int64
        ),
        site_id=np.array([-1 if r.site_id is None else r.site_id for r in rows], dtype=np.int64),
        name=[r.name for r in rows],
        waste_code=[r.waste_code for r in rows],
        capacity_kg=np.array([r.capacity_kg for r in rows], dtype=np.int64),
        lat=np.array([r.lat for r in rows], dtype=np.float64),
        lon=np.array([r.lon for r in rows], dtype=np.float64),
        province=np.array([r.province for r in rows], dtype=np.int32),
        league=np.array([r.league for r in rows], dtype=np.int32),
    )


def exchange_demand_empty() -> DemandTable:
    return demand_of([])


def _declared_quality(
    codes: dict[str, tuple[int, int]],
) -> tuple[dict[tuple[int, str], int], NDArray[np.float64]]:
    """Latest declared quality per (enterprise, waste): the row of each in a matrix of
    floats (NaN = not declared) whose last row is all NaN (nothing declared)."""
    rows = rows_select(
        QualityDeclaration.objects.filter(_within(codes, "site__enterprise"))
        .order_by("declared_at", "pk")
        .values_list(
            "site__enterprise_id", "waste_id", *(_float(name) for name in QUALITY_ATTRIBUTES)
        )
    )
    # Later declarations overwrite earlier ones; NULL becomes NaN in the float array.
    latest = {(r[0], r[1]): i for i, r in enumerate(rows)}
    values = np.array([r[2:] for r in rows], dtype=np.float64).reshape(-1, len(QUALITY_ATTRIBUTES))
    return latest, np.vstack([values, np.full((1, len(QUALITY_ATTRIBUTES)), NAN)])


def _lat(prefix: str) -> Cast:
    """Latitude of a site (``prefix`` = the path to it), else of its enterprise."""
    return _float(Coalesce(f"{prefix}latitude", f"{prefix}enterprise__latitude"))


def _lon(prefix: str) -> Cast:
    return _float(Coalesce(f"{prefix}longitude", f"{prefix}enterprise__longitude"))


def _nan(values: list[Any]) -> NDArray[np.float64]:
    return np.array([NAN if v is None else v for v in values], dtype=np.float64)


def exchange_supply_empty() -> SupplyTable:
    return SupplyTable(
        source=np.zeros(0, np.int8),
        enterprise_id=np.zeros(0, np.int64),
        site_id=np.zeros(0, np.int64),
        listing_id=np.zeros(0, np.int64),
        waste_code=[],
        quantity_kg=np.zeros(0, np.int64),
        lat=np.zeros(0),
        lon=np.zeros(0),
        province=np.zeros(0, np.int32),
        league=np.zeros(0, np.int32),
        quality=np.zeros((0, len(QUALITY_ATTRIBUTES))),
    )


def free_yard_kg(*, enterprise_ids: NDArray[np.int64], region: Region) -> NDArray[np.int64]:
    """Per given enterprise: design capacity of its storage yards minus their stock
    (kg, at least 0); what its surplus may be held in between months."""
    codes = _region_codes(region)
    design = dict(
        rows_select(
            Site.objects.filter(
                _within(codes),
                kind=SiteKind.STORAGE,
                design_capacity__isnull=False,
            )
            .values("enterprise_id")
            .annotate(kg=kg_sum("design_capacity"))
            .order_by()
            .values_list("enterprise_id", "kg")
        )
    )
    held = dict(
        rows_select(
            StockBalance.objects.filter(
                _within(codes, "site__enterprise"), site__kind=SiteKind.STORAGE
            )
            .values("site__enterprise_id")
            .annotate(kg=kg_sum("quantity"))
            .order_by()
            .values_list("site__enterprise_id", "kg")
        )
    )
    return np.array(
        [max(int(design.get(e, 0)) - int(held.get(e, 0)), 0) for e in enterprise_ids.tolist()],
        dtype=np.int64,
    )


def exchange_supply_table(
    *, region: Region, period: dt.date, drawdown_share: Decimal
) -> SupplyTable:
    """Supply of one month in a region, read with a few grouped queries into columns.

    * surplus: per enterprise and waste, generated − self-utilized − self-disposed −
      handed over in the month (already placed), if positive, at the site that
      generated most of it;
    * stock: ``drawdown_share`` of the stock on hand in its storage yards (whole kg,
      rounded down);
    * listings: published, not withdrawn, not expired by the month's first day.
    """
    end = month_end(period)
    codes = _region_codes(region)
    declared, declared_values = _declared_quality(codes)
    # One grouped scan of the month: generated and placed kg per (enterprise, waste,
    # site), with the site's place; the (occurred_on, kind) index serves the range
    # (the ledger is filtered by path: given the list, SQLite without statistics
    # walked each enterprise's sites and read every day of them).
    month = (
        LedgerEntry.objects.filter(
            enterprise__region__path__startswith=region.path,
            occurred_on__gte=period,
            occurred_on__lte=end,
            kind__in=(EntryKind.GENERATED, *_USED_KINDS),
        )
        .values("enterprise_id", "waste_id", "site_id")
        .annotate(
            generated=kg_sum("quantity", kind=EntryKind.GENERATED),
            placed=kg_sum("quantity", kind__in=_USED_KINDS),
            lat=_lat("site__"),
            lon=_lon("site__"),
            region_id=F("enterprise__region_id"),
        )
        .order_by()
        .values_list(
            "enterprise_id", "waste_id", "site_id", "generated", "placed", "lat", "lon", "region_id"
        )
    )
    rows = rows_select(month)
    enterprise_ids = np.array([r[0] for r in rows], dtype=np.int64)
    wastes = [r[1] for r in rows]
    generated = np.array([r[3] for r in rows], dtype=np.int64)
    placed = np.array([r[4] for r in rows], dtype=np.int64)
    # Per (enterprise, waste): the totals over its sites, located at the site that
    # generated most (ties: the lowest site id).
    waste_of = {code: i for i, code in enumerate(sorted(set(wastes)))}
    waste_ix = np.array([waste_of[w] for w in wastes], dtype=np.int64)
    site_ids = np.array([r[2] for r in rows], dtype=np.int64)
    order = np.lexsort((site_ids, -generated, waste_ix, enterprise_ids))
    key_e, key_w = enterprise_ids[order], waste_ix[order]
    starts = (
        np.flatnonzero(np.r_[True, (key_e[1:] != key_e[:-1]) | (key_w[1:] != key_w[:-1])])
        if order.size
        else np.zeros(0, dtype=np.int64)
    )
    surplus = np.add.reduceat(generated[order] - placed[order], starts) if order.size else starts
    keep = surplus > 0
    first = order[starts[keep]]
    surplus = surplus[keep].astype(np.int64)

    stock_rows = rows_select(
        StockBalance.objects.filter(
            _within(codes, "site__enterprise"),
            site__kind=SiteKind.STORAGE,
            quantity__gt=0,
        )
        .annotate(
            lat=_lat("site__"),
            lon=_lon("site__"),
            region_id=F("site__enterprise__region_id"),
            kg=ExpressionWrapper(F("quantity"), output_field=BigIntegerField()),
        )
        .order_by("site_id", "waste_id")
        .values_list("site__enterprise_id", "waste_id", "site_id", "lat", "lon", "region_id", "kg")
    )
    numerator, denominator = drawdown_share.as_integer_ratio()
    drawable = (
        np.array([r[6] for r in stock_rows], dtype=np.int64) * numerator // denominator
        if stock_rows
        else np.zeros(0, dtype=np.int64)
    )
    stock_keep = np.flatnonzero(drawable > 0)
    stock_rows = [stock_rows[int(i)] for i in stock_keep]
    drawable = drawable[stock_keep]

    listings = rows_select(
        Listing.objects.filter(
            _within(codes),
            withdrawn_at__isnull=True,
            expires_on__gte=period,
            published_at__date__lte=end,
        )
        .annotate(lat=_lat("site__"), lon=_lon("site__"), region_id=F("enterprise__region_id"))
        .order_by("pk")
        .values_list(
            "enterprise_id",
            "waste_id",
            "site_id",
            "lat",
            "lon",
            "region_id",
            "pk",
            "quantity",
            *(_float(name) for name in QUALITY_ATTRIBUTES),
        )
    )
    surplus_rows = [rows[int(i)] for i in first]
    n_s, n_k, n_l = len(surplus_rows), len(stock_rows), len(listings)
    # (enterprise, waste, site, lat, lon, region) of every lot, in output order
    located = [
        *(r[:3] + r[5:8] for r in surplus_rows),
        *(r[:6] for r in stock_rows),
        *(r[:6] for r in listings),
    ]
    place_codes = [codes.get(r[5], (0, 0)) for r in located]
    nothing = len(declared_values) - 1
    quality = np.vstack(
        [
            declared_values[[declared.get((r[0], r[1]), nothing) for r in located[: n_s + n_k]]],
            np.array([r[8:] for r in listings], dtype=np.float64).reshape(
                -1, len(QUALITY_ATTRIBUTES)
            ),
        ]
    )
    return SupplyTable(
        source=np.repeat(np.arange(3, dtype=np.int8), [n_s, n_k, n_l]),
        enterprise_id=np.array([r[0] for r in located], dtype=np.int64),
        site_id=np.array([r[2] for r in located], dtype=np.int64),
        listing_id=np.concatenate(
            [np.full(n_s + n_k, -1, dtype=np.int64), np.array([r[6] for r in listings], np.int64)]
        ),
        waste_code=[r[1] for r in located],
        quantity_kg=np.concatenate(
            [
                surplus,
                drawable,
                np.array([r[7] for r in listings], dtype=np.int64),  # the kg column,
            ]
        ).astype(np.int64),
        lat=_nan([r[3] for r in located]),
        lon=_nan([r[4] for r in located]),
        province=np.array([p for p, _ in place_codes], dtype=np.int32),
        league=np.array([lg for _, lg in place_codes], dtype=np.int32),
        quality=quality,
    )


def exchange_demand_table(*, region: Region, period: dt.date) -> DemandTable:
    """Spare capacity per utilization site and waste in the month: a twelfth of the
    annual capacity (all routes, whole kg rounded down) minus what the site
    utilized in the month; receivers without spare capacity are left out."""
    end = month_end(period)
    codes = _region_codes(region)
    rows = rows_select(
        FacilityCapacity.objects.filter(
            _within(codes, "site__enterprise"),
            site__kind=SiteKind.UTILIZATION,
        )
        .values("site_id", "waste_id")
        .annotate(
            annual=kg_sum("annual_capacity"),
            lat=_lat("site__"),
            lon=_lon("site__"),
            enterprise_id=F("site__enterprise_id"),
            region_id=F("site__enterprise__region_id"),
            enterprise_name=F("site__enterprise__name"),
            site_name=F("site__name"),
        )
        .order_by("site_id", "waste_id")
        .values_list(
            "site_id",
            "waste_id",
            "annual",
            "lat",
            "lon",
            "enterprise_id",
            "region_id",
            "enterprise_name",
            "site_name",
        )
    )
    used = {
        (site, waste): kg
        for site, waste, kg in rows_select(
            LedgerEntry.objects.filter(
                kind=EntryKind.SELF_UTILIZED, occurred_on__gte=period, occurred_on__lte=end
            )
            .filter(site__enterprise__region__path__startswith=region.path)
            .values("site_id", "waste_id")
            .annotate(kg=kg_sum("quantity"))
            .order_by()
            .values_list("site_id", "waste_id", "kg")
        )
    }
    spare = np.array(
        [int(r[2]) // 12 - used.get((r[0], r[1]), 0) for r in rows], dtype=np.int64
    ).reshape(-1)
    rows = [rows[int(i)] for i in np.flatnonzero(spare > 0)]
    spare = spare[spare > 0]
    place_codes = [codes.get(r[6], (0, 0)) for r in rows]
    return DemandTable(
        enterprise_id=np.array([r[5] for r in rows], dtype=np.int64),
        site_id=np.array([r[0] for r in rows], dtype=np.int64),
        name=[f"{r[7]} {r[8]}" for r in rows],
        waste_code=[r[1] for r in rows],
        capacity_kg=spare.astype(np.int64),
        lat=_nan([r[3] for r in rows]),
        lon=_nan([r[4] for r in rows]),
        province=np.array([p for p, _ in place_codes], dtype=np.int32),
        league=np.array([lg for _, lg in place_codes], dtype=np.int32),
    )


def exchange_supply_read(
    *, region: Region, period: dt.date, drawdown_share: Decimal
) -> list[SupplyLot]:
    """``exchange_supply_table`` as one record per lot (for callers that list lots)."""
    table = exchange_supply_table(region=region, period=period, drawdown_share=drawdown_share)
    return [
        SupplyLot(
            source=SOURCES[int(table.source[i])],
            enterprise_id=int(table.enterprise_id[i]),
            site_id=int(table.site_id[i]),
            waste_code=table.waste_code[i],
            quantity_kg=int(table.quantity_kg[i]),
            lat=float(table.lat[i]),
            lon=float(table.lon[i]),
            province=int(table.province[i]),
            league=int(table.league[i]),
            quality=tuple(float(v) for v in table.quality[i]),
            listing_id=int(table.listing_id[i]) if table.listing_id[i] >= 0 else None,
        )
        for i in range(len(table))
    ]


def exchange_demand_read(*, region: Region, period: dt.date) -> list[Receiver]:
    """``exchange_demand_table`` as one record per receiver."""
    table = exchange_demand_table(region=region, period=period)
    return [
        Receiver(
            enterprise_id=int(table.enterprise_id[i]),
            site_id=int(table.site_id[i]),
            name=table.name[i],
            waste_code=table.waste_code[i],
            capacity_kg=int(table.capacity_kg[i]),
            lat=float(table.lat[i]),
            lon=float(table.lon[i]),
            province=int(table.province[i]),
            league=int(table.league[i]),
        )
        for i in range(len(table))
    ]


def quality_limits_for(
    *, region: Region
) -> list[tuple[int, str, str, str, float | None, float | None]]:
    """Utilizers' quality limits in the region: (site, waste, attribute, scope, min, max)."""
    return rows_select(
        QualityLimit.objects.filter(_within(_region_codes(region), "site__enterprise"))
        .order_by("pk")
        .values_list(
            "site_id", "waste_id", "attribute", "scope", _float("minimum"), _float("maximum")
        )
    )


def rail_links_for(*, region: Region) -> list[tuple[int, int, float, float, float]]:
    """Active rail links of the region's sites: (site, terminal, lat, lon, drayage km)."""
    return rows_select(
        RailLink.objects.filter(
            _within(_region_codes(region), "site__enterprise"), is_active=True
        ).values_list(
            "site_id",
            "terminal_id",
            _float("terminal__latitude"),
            _float("terminal__longitude"),
            _float("drayage_km"),
        )
    )

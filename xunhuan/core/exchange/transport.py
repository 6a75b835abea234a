"""Distances, tariffs and emission factors for moving by-products by road and rail.

Everything here is plain numpy so that a 3-million-arc network is priced in a few
vectorized passes. The defaults are planning assumptions, documented in
``docs/adr/0030-exchange-optimizer-model.md``; every run stores the tariff it used,
and scenarios change them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius

# Road distance ~ great-circle distance x circuity. Ballou, Rahardja & Sakai (2002),
# "Selected country circuity factors for road travel distance estimation",
# Transportation Research Part A 36(9), report national averages between about 1.1
# and 1.6; 1.3 is a conservative middle for the Inner Mongolia / Shanxi road grid.
ROAD_CIRCUITY = Decimal("1.30")
# Rail lines bend less than roads across the plateau but detour through junctions;
# 1.25 is an assumption to be replaced by network distances when a rail graph exists.
RAIL_CIRCUITY = Decimal("1.25")

MODE_ROAD = 0
MODE_RAIL = 1
MODE_NAMES = {MODE_ROAD: "road", MODE_RAIL: "rail"}


@dataclass(frozen=True)
class Tariff:
    """Costs, limits and emission factors one run prices its arcs with (all editable).

    Rates are yuan; emission factors are kg CO2 per tonne-km (tank-to-wheel order of
    magnitude for a diesel heavy truck and for mostly electrified Chinese freight rail;
    planning defaults, see ADR 0030).
    """

    road_yuan_per_tkm: Decimal = Decimal("0.45")
    rail_yuan_per_tkm: Decimal = Decimal("0.16")
    # Loading at the origin terminal plus unloading at the destination, per tonne.
    rail_handling_yuan_per_t: Decimal = Decimal("20.00")
    road_max_km: Decimal = Decimal("300")
    rail_max_km: Decimal = Decimal("1500")
    # Added per tonne when a flow leaves its league/city or its province; zero
    # means such flows are priced like any other.
    cross_league_yuan_per_t: Decimal = Decimal("0.00")
    cross_province_yuan_per_t: Decimal = Decimal("0.00")
    road_co2_kg_per_tkm: Decimal = Decimal("0.080")
    rail_co2_kg_per_tkm: Decimal = Decimal("0.025")
    # Holding surplus in a yard for a month (multi-period model only).
    storage_yuan_per_t_month: Decimal = Decimal("0.50")
    road_circuity: Decimal = ROAD_CIRCUITY
    rail_circuity: Decimal = RAIL_CIRCUITY

    def changed(self, **changes: Decimal) -> Tariff:
        return replace(self, **changes)


def unit_vectors(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on the unit sphere: nearest neighbours by dot product are nearest by arc."""
    phi = np.radians(lat)
    lam = np.radians(lon)
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=-1)


def great_circle_km(
    lat1: NDArray[np.float64],
    lon1: NDArray[np.float64],
    lat2: NDArray[np.float64],
    lon2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Haversine distance in km, element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlam = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return np.asarray(km, dtype=np.float64)


def chord_km(squared: NDArray[np.float64]) -> NDArray[np.float64]:
    """Great-circle km from the squared chords between unit vectors (``|a - b|²``):
    the same as the haversine, but two transcendental functions per pair instead of
    six (3 M arcs: 0.6 s vs 1.3 s)."""
    half = np.minimum(np.sqrt(squared) / 2, 1.0)
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(half), dtype=np.float64)


def fen(yuan: Decimal) -> float:
    """Yuan as float fen (0.01 yuan), the unit arc costs are rounded to."""
    return float(yuan * 100)

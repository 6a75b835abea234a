"""The exchange network: supply lots, receivers and the priced arcs between them.

A *supply lot* is surplus of one waste category at one place (a generator's monthly
surplus, its drawable yard stock, or a published listing) with its quality
attributes. A *receiver* is spare capacity of one utilization facility for one
waste category with its quality limits. Arcs join a lot to the receivers of the
same waste that it may reach: the ``k`` nearest by road within the road's maximum
haul, and the ``k`` nearest rail-served receivers when the lot's site is rail-served
too. Quantities are integer kilograms, costs integer fen per tonne.

Everything is built with numpy over whole arrays; no Python loop runs per arc.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from xunhuan.core.exchange.transport import (
    MODE_RAIL,
    MODE_ROAD,
    Tariff,
    chord_km,
    fen,
    unit_vectors,
)

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

# Quality attributes a lot may carry and a receiver may limit. Kept to the ones the
# utilization routes are specified by (fly-ash grade for concrete, Al2O3 for
# alumina extraction, gypsum purity for board/retarder, moisture for handling and
# kilns); the order is the column order of the quality arrays.
QUALITY_ATTRIBUTES = ("fly_ash_grade", "al2o3_pct", "purity_pct", "moisture_pct")

# Suppliers are compared with receivers in chunks so the distance matrix of one
# chunk stays around 50 MB however large the instance.
_CHUNK_CELLS = 6_000_000


@dataclass(frozen=True)
class Places:
    """Locations and labels shared by lots and receivers (one row each)."""

    lat: F64
    lon: F64
    waste: I32  # waste category index (arcs only join equal categories)
    province: I32  # province code as int; flows across it may carry a penalty
    league: I32  # league/city code as int
    terminal: I32  # rail terminal index, -1 when not rail-served
    drayage_km: F64  # road km between the site and its terminal

    def __len__(self) -> int:
        return int(self.lat.shape[0])


@dataclass(frozen=True)
class Terminals:
    lat: F64
    lon: F64


@dataclass(frozen=True)
class Lots:
    places: Places
    quantity_kg: I64
    # [n, len(QUALITY_ATTRIBUTES)], NaN = not declared
    quality: F64


@dataclass(frozen=True)
class Receivers:
    places: Places
    capacity_kg: I64
    # Per-lot limits [n, len(QUALITY_ATTRIBUTES)], NaN = no limit. A lot whose
    # attribute is undeclared cannot go to a receiver that limits it.
    lot_min: F64
    lot_max: F64


@dataclass(frozen=True)
class BlendLimit:
    """The weighted average of an attribute over everything a receiver takes in a
    period must stay within ``[minimum, maximum]`` (LP only)."""

    receiver: int
    attribute: int
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Arcs:
    lot: I32
    receiver: I32
    mode: NDArray[np.int8]
    km: F64  # total km (for rail: drayage + rail)
    rail_km: F64  # the rail part (0 on road arcs)
    cost_fen_per_t: I64

    def __len__(self) -> int:
        return int(self.lot.shape[0])


@dataclass(frozen=True)
class Network:
    """What a solver needs: lot quantities, receiver capacities and arcs."""

    lot_kg: I64
    capacity_kg: I64
    arcs: Arcs
    lot_quality: F64 = field(default_factory=lambda: np.zeros((0, len(QUALITY_ATTRIBUTES))))
    blend_limits: tuple[BlendLimit, ...] = ()
    # Waste category per lot: arcs never join two categories, so each category is an
    # independent sub-network the solver may solve on its own (empty: one network).
    lot_waste: I32 = field(default_factory=lambda: np.zeros(0, dtype=np.int32))


def empty_places(n: int = 0) -> Places:
    return Places(
        lat=np.zeros(n),
        lon=np.zeros(n),
        waste=np.zeros(n, dtype=np.int32),
        province=np.zeros(n, dtype=np.int32),
        league=np.zeros(n, dtype=np.int32),
        terminal=np.full(n, -1, dtype=np.int32),
        drayage_km=np.zeros(n),
    )


def _nearest(
    lot_xyz: F64, receiver_xyz: F64, lot_rows: I64, receiver_rows: I64, k: int
) -> tuple[I64, I64, F64]:
    """Pairs (lot, receiver) of each lot's ``k`` nearest receivers among the given rows,
    and the great-circle km of each pair."""
    if lot_rows.size == 0 or receiver_rows.size == 0 or k <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    k = min(k, int(receiver_rows.size))
    # float32 is plenty to rank neighbours (1e-7 on the unit sphere is under a metre)
    # and halves the memory traffic of the dot products and the partition.
    targets64 = receiver_xyz[receiver_rows]
    targets = targets64.astype(np.float32)
    lot_xyz32 = lot_xyz.astype(np.float32)
    step = max(1, _CHUNK_CELLS // int(receiver_rows.size))
    lots_out: list[I64] = []
    receivers_out: list[I64] = []
    km_out: list[F64] = []
    for start in range(0, int(lot_rows.size), step):
        rows = lot_rows[start : start + step]
        dots = lot_xyz32[rows] @ targets.T
        width = dots.shape[1]
        if k < width:
            # largest dot products = nearest; partition from the right, no negated copy
            best = np.argpartition(dots, width - k, axis=1)[:, width - k :]
        else:
            best = np.broadcast_to(np.arange(dots.shape[1]), dots.shape)
        lots_out.append(np.repeat(rows, k))
        receivers_out.append(receiver_rows[best.ravel()])
        # The chosen pairs' distance in float64, chunk by chunk while the lots' vectors
        # are at hand (one gather of the receivers' vectors, none of the lots'
        # repeated k times).
        chords = targets64[best] - lot_xyz[rows][:, None, :]
        km_out.append(chord_km(np.einsum("ikj,ikj->ik", chords, chords).ravel()))
    return np.concatenate(lots_out), np.concatenate(receivers_out), np.concatenate(km_out)


def _quality_ok(lots: Lots, receivers: Receivers, lot: I64, receiver: I64) -> NDArray[np.bool_]:
    ok = np.ones(lot.shape[0], dtype=bool)
    # Only arcs into receivers that set a limit need the comparison, and only on the
    # attributes some receiver limits.
    unset = np.isnan(receivers.lot_min) & np.isnan(receivers.lot_max)
    limited = ~np.all(unset, axis=1)
    check = np.flatnonzero(limited[receiver])
    if check.size == 0:
        return ok
    attributes = np.flatnonzero(~np.all(unset, axis=0))
    quality = lots.quality[:, attributes][lot[check]]
    low = receivers.lot_min[:, attributes][receiver[check]]
    high = receivers.lot_max[:, attributes][receiver[check]]
    # NaN comparisons are False, so an undeclared attribute fails a set limit.
    ok_low = np.isnan(low) | (quality >= low)
    ok_high = np.isnan(high) | (quality <= high)
    ok[check] = np.all(ok_low & ok_high, axis=1)
    return ok


def arcs_build(
    *,
    lots: Lots,
    receivers: Receivers,
    terminals: Terminals,
    tariff: Tariff,
    k_road: int = 40,
    k_rail: int = 10,
) -> Arcs:
    """Eligible, priced arcs: k-nearest by road and by rail, same waste, within the
    mode's maximum haul and the receiver's per-lot quality limits."""
    lp, rp = lots.places, receivers.places
    lot_xyz = unit_vectors(lp.lat, lp.lon)
    receiver_xyz = unit_vectors(rp.lat, rp.lon)
    road_lot: list[I64] = []
    road_receiver: list[I64] = []
    road_km_parts: list[F64] = []
    rail_lot: list[I64] = []
    rail_receiver: list[I64] = []
    rail_km_parts: list[F64] = []
    term_xyz = unit_vectors(terminals.lat, terminals.lon) if terminals.lat.size else None
    for waste in np.intersect1d(np.unique(lp.waste), np.unique(rp.waste)):
        lot_rows = np.flatnonzero(lp.waste == waste)
        receiver_rows = np.flatnonzero(rp.waste == waste)
        a, b, km = _nearest(lot_xyz, receiver_xyz, lot_rows, receiver_rows, k_road)
        road_lot.append(a)
        road_receiver.append(b)
        road_km_parts.append(km)
        if term_xyz is not None:
            lot_rail = lot_rows[lp.terminal[lot_rows] >= 0]
            receiver_rail = receiver_rows[rp.terminal[receiver_rows] >= 0]
            # Rail neighbours are found by terminal position: two sites on one
            # terminal are served by road, not rail (filtered below).
            lot_t = term_xyz[lp.terminal.clip(0)]
            receiver_t = term_xyz[rp.terminal.clip(0)]
            a, b, km = _nearest(lot_t, receiver_t, lot_rail, receiver_rail, k_rail)
            rail_lot.append(a)
            rail_receiver.append(b)
            rail_km_parts.append(km)  # between the two terminals

    def cat(parts: list[I64]) -> I64:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    r_lot, r_rec = cat(road_lot), cat(road_receiver)
    road_km = float(tariff.road_circuity) * (
        np.concatenate(road_km_parts) if road_km_parts else np.zeros(0)
    )
    keep = (road_km <= float(tariff.road_max_km)) & _quality_ok(lots, receivers, r_lot, r_rec)
    r_lot, r_rec, road_km = r_lot[keep], r_rec[keep], road_km[keep]
    road_cost = road_km * fen(tariff.road_yuan_per_tkm)

    t_lot, t_rec = cat(rail_lot), cat(rail_receiver)
    if t_lot.size and term_xyz is not None:  # rail candidates exist only with terminals
        ti, tj = lp.terminal[t_lot], rp.terminal[t_rec]
        line_km = float(tariff.rail_circuity) * np.concatenate(rail_km_parts)
        dray_km = lp.drayage_km[t_lot] + rp.drayage_km[t_rec]
        keep = (
            (ti != tj)
            & (line_km <= float(tariff.rail_max_km))
            & _quality_ok(lots, receivers, t_lot, t_rec)
        )
        t_lot, t_rec, line_km, dray_km = t_lot[keep], t_rec[keep], line_km[keep], dray_km[keep]
        rail_cost = (
            fen(tariff.rail_handling_yuan_per_t)
            + line_km * fen(tariff.rail_yuan_per_tkm)
            + dray_km * fen(tariff.road_yuan_per_tkm)
        )
    else:
        line_km = dray_km = rail_cost = np.zeros(0)

    lot = np.concatenate([r_lot, t_lot]).astype(np.int32)
    receiver = np.concatenate([r_rec, t_rec]).astype(np.int32)
    cost = np.concatenate([road_cost, rail_cost])
    cross_province = lp.province[lot] != rp.province[receiver]
    cross_league = lp.league[lot] != rp.league[receiver]
    cost = cost + np.where(
        cross_province,
        fen(tariff.cross_province_yuan_per_t),
        np.where(cross_league, fen(tariff.cross_league_yuan_per_t), 0.0),
    )
    return Arcs(
        lot=lot,
        receiver=receiver,
        mode=np.concatenate(
            [np.full(r_lot.size, MODE_ROAD, np.int8), np.full(t_lot.size, MODE_RAIL, np.int8)]
        ),
        km=np.concatenate([road_km, line_km + dray_km]),
        rail_km=np.concatenate([np.zeros(r_lot.size), line_km]),
        cost_fen_per_t=np.rint(cost).astype(np.int64),
    )


def network_build(
    *,
    lots: Lots,
    receivers: Receivers,
    terminals: Terminals,
    tariff: Tariff,
    k_road: int = 40,
    k_rail: int = 10,
    blend_limits: tuple[BlendLimit, ...] = (),
) -> Network:
    """Arcs plus quantities: the input of every solver."""
    arcs = arcs_build(
        lots=lots,
        receivers=receivers,
        terminals=terminals,
        tariff=tariff,
        k_road=k_road,
        k_rail=k_rail,
    )
    return Network(
        lot_kg=lots.quantity_kg,
        capacity_kg=receivers.capacity_kg,
        arcs=arcs,
        lot_quality=lots.quality,
        blend_limits=blend_limits,
        lot_waste=lots.places.waste,
    )

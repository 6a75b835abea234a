"""A deterministic demo region: Inner Mongolia's enterprises, sites, streams and ledgers.

``demo_load(DemoSpec(...))`` registers parks, ~2,000 enterprises of the kinds in
``archetypes.py`` (through the registry services), allocates each by-product to
utilizers and disposers with capacity, nearest league first, and writes years of
ledger entries through ``ledger_entries_ingest`` -- the same validation, stock
checks and hash chain as every other write. The same spec always gives the same
enterprises, codes and quantities (the entries' ids and record times differ).

Every handover at a generator has its matching receipt at the receiver, which
utilizes or disposes of what it received the same day. Each January a generator
takes what has lain in its yard for over two years to landfill. Some enterprises
carry planted problems for the compliance rules to find: yards too small for what
is stored in them, permanent yards, yards never cleared, mines that utilize no
gangue, dumped waste.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from xunhuan.accounts.models import Membership, Role
from xunhuan.core.uscc import make_credit_code
from xunhuan.demo.archetypes import ARCHETYPES, Archetype, StreamKind
from xunhuan.demo.places import LEAGUES, PARKS, League
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.models import EntryKind, Purpose
from xunhuan.ledger.rules import EntryDraft
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.registry.models import Enterprise, Park, Region, Site, WasteCategory, WasteStream
from xunhuan.registry.services import (
    enterprise_register,
    facility_capacity_set,
    park_register,
    site_register,
    waste_stream_register,
)

PERIODS = ("day", "week", "month")
DEMO_PASSWORD = "xunhuan-demo"  # noqa: S105 - printed on purpose: these are demo logins
# Characters GB 32100 allows in the organization-code part (no I, O, S, V, Z).
CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
BRAND_SYLLABLES = "恒泰鑫华盛元宏隆兴达丰润源通昌瑞祥金东北蒙汇德安聚利广永正中天宇峰"
KG_PER_TONNE = 1000


# Ledger rows per enterprise over six years of monthly batches (measured: the
# 2,000-enterprise demo writes ~535 rows per enterprise over 70 months).
ROWS_PER_ENTERPRISE = 550


@dataclass(frozen=True)
class DemoSpec:
    """What to generate. ``end`` defaults to the last day of the previous month; history
    starts on 1 January ``years`` years before ``end``'s year."""

    enterprises: int = 2000
    years: int = 5
    period: str = "month"
    seed: int = 2026
    end: dt.date | None = None
    headroom: float = 1.1  # utilizers' capacity over the province's demand

    def end_date(self) -> dt.date:
        if self.end is not None:
            return self.end
        return today_in_shanghai().replace(day=1) - dt.timedelta(days=1)

    def start_date(self) -> dt.date:
        return dt.date(self.end_date().year - self.years, 1, 1)

    @classmethod
    def for_rows(cls, rows: int) -> DemoSpec:
        """The benchmarks' region of about ``rows`` ledger entries: monthly batches from
        2020 to 2025, sized by its number of enterprises."""
        return cls(
            enterprises=max(len(ARCHETYPES), round(rows / ROWS_PER_ENTERPRISE)),
            years=5,
            period="month",
            end=dt.date(2025, 12, 31),
        )


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    acts_for: str


@dataclass
class DemoSummary:
    enterprises: int = 0
    sites: int = 0
    streams: int = 0
    entries: int = 0
    logins: list[DemoLogin] = field(default_factory=list)
    planted: list[str] = field(default_factory=list)


@dataclass
class _Receiver:
    member: _Member
    waste_code: str
    route: str  # a UtilizationRoute value, or "landfill"
    capacity_t: float
    remaining_t: float


@dataclass
class _Stream:
    kind: StreamKind
    stream: WasteStream
    waste: WasteCategory
    annual_t: float
    rate_offset: float
    self_route: str
    utilizes: bool = True
    # (receiver, share of the wanted external utilization or disposal it takes)
    utilizers: list[tuple[_Receiver, float]] = field(default_factory=list)
    disposers: list[tuple[_Receiver, float]] = field(default_factory=list)


@dataclass
class _Member:
    index: int
    archetype: Archetype
    league: League
    enterprise: Enterprise
    size_t: float = 0.0
    production: Site | None = None
    yard: Site | None = None
    facility: Site | None = None
    streams: list[_Stream] = field(default_factory=list)
    receives: list[_Receiver] = field(default_factory=list)
    dumps: bool = False
    hoards: bool = False  # never clears old yard stock (planted; see _generator_drafts)


# Writes one enterprise's drafts (in order) and returns how many entries it wrote.
Writer = Callable[[Enterprise, list[EntryDraft]], int]


def demo_load(
    spec: DemoSpec,
    *,
    log: Callable[[str], None] = lambda _: None,
    write: Writer | None = None,
    atomic: bool = True,
) -> DemoSummary:
    """Build the demo region described by ``spec`` in one transaction; return what was made.

    Ledger entries go through ``ledger_entries_ingest`` unless ``write`` is given (the
    ingest benchmark passes its own, to time our path against a raw COPY of the same rows).
    ``atomic=False`` (the benchmarks' 10M regions) commits the registry first and then
    each enterprise's ledger on its own, as real imports do: one transaction of ten
    million rows keeps SQLite from ever checkpointing its write-ahead log, which then
    grows to gigabytes and slows every later write several times over.
    """
    if spec.period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}")
    if spec.enterprises < len(ARCHETYPES):
        raise ValueError(f"at least {len(ARCHETYPES)} enterprises (one of each kind)")
    summary = DemoSummary()
    with transaction.atomic() if atomic else contextlib.nullcontext():
        with transaction.atomic():
            parks = _parks()
            members = _enterprises(spec, parks)
            summary.enterprises = len(members)
            log(f"registered {len(members)} enterprises in {len(parks)} parks")
            _facilities(spec, members, summary)
            summary.sites = Site.objects.count()
            summary.streams = WasteStream.objects.count()
            _allocate(spec, members)
        if write is None:
            today = max(spec.end_date(), today_in_shanghai())

            def write(enterprise: Enterprise, drafts: list[EntryDraft]) -> int:
                return ledger_entries_ingest(enterprise=enterprise, drafts=drafts, today=today)

        summary.entries = _ledgers(spec, members, log, write)
        with transaction.atomic():
            summary.logins = _logins(members)
    return summary


def _rng(spec: DemoSpec, *parts: object) -> random.Random:
    # String seeds are hashed with SHA-512 by random.Random: stable across runs.
    return random.Random(":".join(str(p) for p in (spec.seed, *parts)))


def _parks() -> dict[str, Park]:
    existing = {park.name: park for park in Park.objects.all()}
    for place in PARKS:
        if place.name not in existing:
            existing[place.name] = park_register(
                name=place.name,
                level=place.level,
                region_code=place.region,
                is_utilization_base=place.is_utilization_base,
                note=place.note,
            )
    return existing


def _counts(total: int) -> list[int]:
    """Members per archetype: at least one each, the rest by weight (largest remainder)."""
    weights = [a.weight for a in ARCHETYPES]
    scale = (total - len(ARCHETYPES)) / sum(weights)
    raw = [w * scale for w in weights]
    counts = [1 + math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (raw[i] - math.floor(raw[i]), -i), reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _enterprises(spec: DemoSpec, parks: dict[str, Park]) -> list[_Member]:
    regions = {r.code: r for r in Region.objects.filter(path__startswith="100000/150000/")}
    members: list[_Member] = []
    codes: set[str] = set()
    names: set[str] = set()
    for archetype, count in zip(ARCHETYPES, _counts(spec.enterprises), strict=True):
        rng = _rng(spec, "enterprises", archetype.key)
        sizes = [rng.lognormvariate(0, 0.9) for _ in range(count)]
        scale = archetype.annual_total_t * spec.enterprises / 2000 / sum(sizes)
        for n in range(count):
            league = LEAGUES[_pick(rng, archetype.leagues)]
            # Most plants sit in the league's main industrial counties.
            county = league.counties[min(int(rng.expovariate(1.2)), len(league.counties) - 1)]
            park = _park_for(rng, archetype, county, parks)
            if park is not None:
                county = park.region_id
            code = _credit_code(rng, county, codes)
            name = _name(rng, regions[county].name, archetype, names)
            enterprise = enterprise_register(
                credit_code=code,
                name=name,
                industry_code=rng.choice(archetype.industries),
                region_code=county,
                roles=archetype.roles,
                park=park,
                latitude=_coordinate(league.latitude, rng),
                longitude=_coordinate(league.longitude, rng),
                address=f"内蒙古自治区{league.short}{regions[county].name}",
            )
            member = _Member(len(members), archetype, league, enterprise, sizes[n] * scale)
            members.append(member)
    return members


def _park_for(
    rng: random.Random, archetype: Archetype, county: str, parks: dict[str, Park]
) -> Park | None:
    if archetype.parks and rng.random() < 0.45:
        return parks[rng.choice(archetype.parks)]
    local = sorted((p for p in parks.values() if p.region_id == county), key=lambda p: p.name)
    if local and rng.random() < 0.5:
        return rng.choice(local)
    return None


def _credit_code(rng: random.Random, county: str, taken: set[str]) -> str:
    while True:
        organization = "MA" + "".join(rng.choice(CODE_CHARS) for _ in range(7))
        code = make_credit_code(f"91{county}{organization}")
        if code not in taken:
            taken.add(code)
            return code


def _name(rng: random.Random, place: str, archetype: Archetype, taken: set[str]) -> str:
    for attempt in range(100):
        brand = "".join(rng.sample(BRAND_SYLLABLES, 2))
        extra = "" if attempt < 5 else str(attempt)
        name = f"{place}{brand}{extra}{rng.choice(archetype.name_suffixes)}"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("could not make a unique enterprise name")


def _coordinate(centre: float, rng: random.Random) -> Decimal:
    return Decimal(f"{centre + rng.uniform(-0.6, 0.6):.6f}")


def _tonnes(value: float) -> Decimal:
    return Decimal(f"{max(value, 1.0):.3f}")


def _facilities(spec: DemoSpec, members: list[_Member], summary: DemoSummary) -> None:
    wastes = {w.code: w for w in WasteCategory.objects.all()}
    for member in members:
        rng = _rng(spec, "sites", member.index)
        archetype = member.archetype
        enterprise = member.enterprise
        if archetype.streams:
            _generator_sites(spec, member, wastes, rng, summary)
        if archetype.accepts:
            kind = "disposal" if "disposer" in archetype.roles else "utilization"
            member.facility = site_register(
                enterprise=enterprise,
                code="CZ01" if kind == "disposal" else "LY01",
                name=archetype.facility,
                kind=kind,
                opened_on=dt.date(rng.randint(2008, 2019), rng.randint(1, 12), 1),
            )
            for accepted in archetype.accepts:
                member.receives.append(_Receiver(member, accepted.waste_code, accepted.route, 0, 0))


def _generator_sites(
    spec: DemoSpec,
    member: _Member,
    wastes: dict[str, WasteCategory],
    rng: random.Random,
    summary: DemoSummary,
) -> None:
    archetype = member.archetype
    enterprise = member.enterprise
    member.production = site_register(
        enterprise=enterprise, code="SC01", name=archetype.production_site, kind="production"
    )
    stored_t = sum(
        member.size_t * s.share * (1 - s.utilization[0]) * (1 - s.disposal)
        for s in archetype.streams
    )
    # Yards are sized for a few years of storage; a few are too small (planted).
    too_small = rng.random() < 0.03
    years_of_room = rng.uniform(0.8, 1.5) if too_small else rng.uniform(3.0, 8.0)
    permanent = archetype.key in {"coal_mine", "coal_power"} and rng.random() < 0.01
    member.yard = site_register(
        enterprise=enterprise,
        code="ZC01",
        name=archetype.yard,
        kind="storage",
        storage_class=archetype.streams[0].storage_class,
        design_capacity=_tonnes(stored_t * years_of_room * 1.1),
        opened_on=dt.date(rng.randint(2003, 2018), rng.randint(1, 12), 1),
        is_permanent=permanent,
    )
    label = f"{enterprise.name}（{enterprise.credit_code}）"
    if too_small:
        summary.planted.append(f"{label}: 贮存场库容不足 / yard smaller than what it stores")
    if permanent:
        summary.planted.append(f"{label}: 永久贮存场 / permanent yard")
    never_utilizes = archetype.key == "coal_mine" and rng.random() < 0.03
    if never_utilizes:
        summary.planted.append(f"{label}: 煤矸石未综合利用 / no gangue utilization")
    member.dumps = archetype.key in {"coal_mine", "metal_mine"} and rng.random() < 0.01
    if member.dumps:
        summary.planted.append(f"{label}: 倾倒丢弃 / dumped waste")
    # A few never clear their yard (drawn from a random sequence of their own, so the
    # rest of the region stays as it was). It shows only once the history is long
    # enough for stock to be older than the rule's three years.
    member.hoards = _rng(spec, "hoard", member.index).random() < 0.02
    if member.hoards and spec.end_date() >= spec.start_date() + HOARD_VISIBLE_AFTER:
        summary.planted.append(f"{label}: 贮存超期 / yard stock kept beyond three years")
    for number, kind in enumerate(archetype.streams, start=1):
        annual = member.size_t * kind.share
        stream = waste_stream_register(
            enterprise=enterprise,
            code=f"GF{number:02d}",
            name=kind.name,
            waste_code=kind.waste_code,
            process=kind.process,
            source_site=member.production,
            physical_form=kind.physical_form,
            estimated_annual=_tonnes(annual),
        )
        member.streams.append(
            _Stream(
                kind=kind,
                stream=stream,
                waste=wastes[kind.waste_code],
                annual_t=annual,
                rate_offset=rng.uniform(-0.12, 0.12),
                self_route=rng.choice(kind.self_routes),
                utilizes=not never_utilizes,
            )
        )


def _distance(a: League, b: League) -> float:
    return math.hypot(a.latitude - b.latitude, a.longitude - b.longitude)


def _allocate(spec: DemoSpec, members: list[_Member]) -> None:
    """Give utilizers and disposers capacity in proportion to the province's demand, then
    send each stream to the nearest ones with room (up to three each)."""
    want: dict[tuple[str, bool], float] = defaultdict(float)
    for member in members:
        for s in member.streams:
            want[(s.kind.waste_code, False)] += _external_t(s)
            want[(s.kind.waste_code, True)] += _disposal_t(s)
    receivers: dict[tuple[str, bool], list[_Receiver]] = defaultdict(list)
    for member in members:
        for receiver in member.receives:
            receivers[(receiver.waste_code, receiver.route == "landfill")].append(receiver)
    for key, group in receivers.items():
        rng = _rng(spec, "capacity", *key)
        demand_share = {
            (a.key, acc.waste_code): acc.demand_share for a in ARCHETYPES for acc in a.accepts
        }
        weights = [
            demand_share[(r.member.archetype.key, r.waste_code)] * rng.lognormvariate(0, 0.6)
            for r in group
        ]
        total = sum(weights)
        for receiver, weight in zip(group, weights, strict=True):
            receiver.capacity_t = want[key] * spec.headroom * weight / total
            receiver.remaining_t = receiver.capacity_t
    streams = [(m, s) for m in members for s in m.streams]
    streams.sort(key=lambda pair: (-_external_t(pair[1]) - _disposal_t(pair[1]), pair[0].index))
    for member, s in streams:
        for disposal, wanted, target in (
            (False, _external_t(s), s.utilizers),
            (True, _disposal_t(s), s.disposers),
        ):
            need = wanted
            candidates = sorted(
                (r for r in receivers.get((s.kind.waste_code, disposal), []) if r.remaining_t > 0),
                key=lambda r: (_distance(member.league, r.member.league), -r.remaining_t),
            )
            for receiver in candidates[:3]:
                if need <= 0:
                    break
                taken = min(need, receiver.remaining_t)
                receiver.remaining_t -= taken
                target.append((receiver, taken / wanted))
                need -= taken
    for member in members:
        if member.facility is None:
            continue
        for receiver in member.receives:
            if receiver.route != "landfill" and receiver.capacity_t > 0:
                facility_capacity_set(
                    site=member.facility,
                    waste_code=receiver.waste_code,
                    route=receiver.route,
                    annual_capacity=_tonnes(receiver.capacity_t),
                )


def _external_t(s: _Stream) -> float:
    """Tonnes a year the stream wants utilized elsewhere (at its last year's rate)."""
    return s.annual_t * s.kind.utilization[1] * (1 - s.kind.self_share) if s.utilizes else 0.0


def _disposal_t(s: _Stream) -> float:
    return s.annual_t * s.kind.disposal if s.kind.disposal_handed_over else 0.0


def _periods(spec: DemoSpec) -> Iterator[tuple[dt.date, float, float]]:
    """(day the period's entries are dated, its share of a year, progress 0..1)."""
    start, end = spec.start_date(), spec.end_date()
    span = max((end - start).days, 1)
    day = start
    while day <= end:
        if spec.period == "day":
            last = day
        elif spec.period == "week":
            last = day + dt.timedelta(days=6 - day.weekday())
        else:
            following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            last = following - dt.timedelta(days=1)
        last = min(last, end)
        yield last, ((last - day).days + 1) / 365.25, (last - start).days / span
        day = last + dt.timedelta(days=1)


BATCH_PREFIX: dict[str, str] = {
    EntryKind.GENERATED.value: "CS",
    EntryKind.STORAGE_IN.value: "RK",
    EntryKind.SELF_UTILIZED.value: "ZXLY",
    EntryKind.SELF_DISPOSED.value: "ZXCZ",
    EntryKind.HANDED_OVER.value: "WT",
    EntryKind.RECEIVED.value: "JS",
    EntryKind.DISCARDED.value: "QD",
}


class _Batches:
    """Batch codes in the guideline's style: kind prefix + date + serial per day."""

    def __init__(self) -> None:
        self.serial: dict[tuple[str, dt.date], int] = defaultdict(int)

    def next(self, kind: str, day: dt.date) -> str:
        prefix = BATCH_PREFIX[kind]
        self.serial[(prefix, day)] += 1
        return f"{prefix}{day:%Y%m%d}{self.serial[(prefix, day)]:03d}"


@dataclass
class _Incoming:
    day: dt.date
    source: Enterprise
    waste: WasteCategory
    kg: int
    batch: str


def _q(kg: int) -> Decimal:
    return Decimal(kg).scaleb(-3)


def _ledgers(
    spec: DemoSpec, members: list[_Member], log: Callable[[str], None], write: Writer
) -> int:
    periods = list(_periods(spec))
    incoming: dict[int, list[_Incoming]] = defaultdict(list)
    held: dict[int, list[EntryDraft]] = {}
    total = 0
    for member in members:
        if not member.streams:
            continue
        drafts = _generator_drafts(spec, member, periods, incoming)
        if member.receives:
            held[member.index] = drafts  # written with its receipts below
        else:
            total += write(member.enterprise, drafts)
    log(f"generators: {total} entries")
    for member in members:
        if not member.receives:
            continue
        drafts = held.pop(member.index, []) + _receiver_drafts(member, incoming[member.index])
        drafts.sort(key=lambda d: d.occurred_on)  # stable: each day keeps its order
        if drafts:
            total += write(member.enterprise, drafts)
    log(f"all: {total} entries")
    return total


# Clean enterprises take what has lain in the yard for more than two years to landfill
# at the start of each year (the seeds allow temporary storage for three years at
# most), so their oldest stock is under three years old at any time. Without it,
# five years of history left stock older than three years in nearly every yard.
CLEAR_OLDER_THAN = dt.timedelta(days=730)
# A hoarder's stock becomes older than three years (the STOCK-AGE default) only in a
# history this long (three years, plus a year so that the rule's window, which ends
# at the last entry, leaves the first year's inflow out in any month).
HOARD_VISIBLE_AFTER = dt.timedelta(days=4 * 365)


def _generator_drafts(
    spec: DemoSpec,
    member: _Member,
    periods: list[tuple[dt.date, float, float]],
    incoming: dict[int, list[_Incoming]],
) -> list[EntryDraft]:
    rng = _rng(spec, "ledger", member.index)
    batches = _Batches()
    site, yard = member.production, member.yard
    if site is None or yard is None:
        raise RuntimeError("a generator needs a production site and a yard")
    drafts: list[EntryDraft] = []

    def add(kind: str, kg: int, s: _Stream, day: dt.date, **fields: object) -> None:
        if kg <= 0:
            return
        drafts.append(
            EntryDraft(
                kind=kind,
                site=fields.pop("site", site),  # type: ignore[arg-type]
                waste=s.waste,
                quantity=_q(kg),
                occurred_on=day,
                stream=s.stream,
                batch_code=batches.next(kind, day),
                **fields,  # type: ignore[arg-type]
            )
        )

    yard_kg = {s.stream.pk: 0 for s in member.streams}
    # What is in the yard by the day it came in, oldest first (first in, first out).
    lots: dict[int, deque[tuple[dt.date, int]]] = {s.stream.pk: deque() for s in member.streams}
    year = None
    for day, share_of_year, progress in periods:
        years_in = (day - spec.start_date()).days / 365.25
        clear = year is not None and day.year != year and not member.hoards
        year = day.year
        for s in member.streams:
            if clear:
                cleared = _take_older(lots[s.stream.pk], day - CLEAR_OLDER_THAN)
                add(EntryKind.SELF_DISPOSED, cleared, s, day, site=yard, disposal_method="landfill")
                yard_kg[s.stream.pk] -= cleared
            kind = s.kind
            winter = math.cos(2 * math.pi * (day.month - 1) / 12)
            base = s.annual_t * share_of_year * (1 + 0.03 * years_in) * (1 + kind.seasonal * winter)
            generated = int(base * rng.lognormvariate(0, 0.12) * KG_PER_TONNE)
            if generated <= 0:
                continue
            first, last = kind.utilization
            rate = min(max(first + (last - first) * progress + s.rate_offset, 0.0), 0.97)
            utilized = int(generated * rate) if s.utilizes else 0
            self_kg = int(utilized * kind.self_share)
            external = utilized - self_kg
            add(EntryKind.GENERATED, generated, s, day)
            add(EntryKind.SELF_UTILIZED, self_kg, s, day, route=s.self_route)
            left = generated - self_kg
            for receiver, share in s.utilizers:
                kg = int(external * share)
                _hand_over(add, receiver, kg, s, day, incoming, drafts)
                left -= max(kg, 0)
            disposed = int(left * kind.disposal)
            if kind.disposal_handed_over:
                for receiver, share in s.disposers:
                    kg = int(disposed * share)
                    _hand_over(add, receiver, kg, s, day, incoming, drafts)
                    left -= max(kg, 0)
            else:
                add(EntryKind.SELF_DISPOSED, disposed, s, day, disposal_method="landfill")
                left -= disposed
            if member.dumps and day.month in (3, 9) and left > 0:
                dumped = left // 20
                add(EntryKind.DISCARDED, dumped, s, day)
                left -= dumped
            add(EntryKind.STORAGE_IN, left, s, day, to_site=yard)
            yard_kg[s.stream.pk] += left
            if left > 0:
                lots[s.stream.pk].append((day, left))
            # Utilization of previous years' stock, taken from the yard.
            old_first, old_last = kind.old_stock
            old_rate = old_first + (old_last - old_first) * progress
            old = int(yard_kg[s.stream.pk] * old_rate * share_of_year) if s.utilizes else 0
            if old >= KG_PER_TONNE:
                add(EntryKind.SELF_UTILIZED, old, s, day, site=yard, route=s.self_route)
                yard_kg[s.stream.pk] -= old
                _take_oldest(lots[s.stream.pk], old)
    return drafts


def _take_oldest(lots: deque[tuple[dt.date, int]], kg: int) -> None:
    """Take ``kg`` out of the yard's oldest lots (``(day, kg)``, oldest first)."""
    while kg > 0 and lots:
        day, held = lots.popleft()
        if held > kg:
            lots.appendleft((day, held - kg))
        kg -= held


def _take_older(lots: deque[tuple[dt.date, int]], cutoff: dt.date) -> int:
    """Remove the lots that came in before ``cutoff``; return their kilograms."""
    kg = 0
    while lots and lots[0][0] < cutoff:
        kg += lots.popleft()[1]
    return kg


def _hand_over(
    add: Callable[..., None],
    receiver: _Receiver,
    kg: int,
    s: _Stream,
    day: dt.date,
    incoming: dict[int, list[_Incoming]],
    drafts: list[EntryDraft],
) -> None:
    if kg <= 0:
        return
    landfill = receiver.route == "landfill"
    add(
        EntryKind.HANDED_OVER,
        kg,
        s,
        day,
        counterparty=receiver.member.enterprise,
        purpose=Purpose.DISPOSAL if landfill else Purpose.UTILIZATION,
        disposal_method="landfill" if landfill else "",
        route="" if landfill else receiver.route,
    )
    incoming[receiver.member.index].append(
        _Incoming(day, s.stream.enterprise, s.waste, kg, drafts[-1].batch_code)
    )


def _receiver_drafts(member: _Member, arrivals: list[_Incoming]) -> list[EntryDraft]:
    """Receipts at the receiver's facility, then what it made of them that day."""
    facility = member.facility
    if facility is None:
        raise RuntimeError("a receiver needs a facility")
    routes = {r.waste_code: r.route for r in member.receives}
    batches = _Batches()
    drafts: list[EntryDraft] = []
    by_day: dict[dt.date, dict[str, tuple[WasteCategory, int]]] = defaultdict(dict)
    for arrival in sorted(arrivals, key=lambda a: (a.day, a.source.pk, a.waste.code)):
        drafts.append(
            EntryDraft(
                kind=EntryKind.RECEIVED,
                site=facility,
                waste=arrival.waste,
                quantity=_q(arrival.kg),
                occurred_on=arrival.day,
                counterparty=arrival.source,
                batch_code=batches.next(EntryKind.RECEIVED, arrival.day),
                note=f"来源批次 {arrival.batch}",
            )
        )
        waste, kg = by_day[arrival.day].get(arrival.waste.code, (arrival.waste, 0))
        by_day[arrival.day][arrival.waste.code] = (waste, kg + arrival.kg)
    for day in sorted(by_day):
        for code in sorted(by_day[day]):
            waste, kg = by_day[day][code]
            route = routes[code]
            landfill = route == "landfill"
            kind = EntryKind.SELF_DISPOSED if landfill else EntryKind.SELF_UTILIZED
            drafts.append(
                EntryDraft(
                    kind=kind,
                    site=facility,
                    waste=waste,
                    quantity=_q(kg),
                    occurred_on=day,
                    route="" if landfill else route,
                    disposal_method="landfill" if landfill else "",
                    batch_code=batches.next(kind, day),
                )
            )
    # Receipts of a day come before that day's utilization.
    drafts.sort(key=lambda d: (d.occurred_on, d.kind != EntryKind.RECEIVED))
    return drafts


LEAGUE_LOGINS = {
    "150100": "huhehaote",
    "150200": "baotou",
    "150300": "wuhai",
    "150400": "chifeng",
    "150500": "tongliao",
    "150600": "eerduosi",
    "150700": "hulunbeier",
    "150800": "bayannaoer",
    "150900": "wulanchabu",
    "152200": "xinganmeng",
    "152500": "xilinguole",
    "152900": "alashan",
}


def _logins(members: list[_Member]) -> list[DemoLogin]:
    """Demo accounts: a superuser, the province (and a read-only seat there), every
    league, one county, and a seat in the largest enterprise of each kind (with a clerk
    and a reader at the power plant)."""
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)
    logins: list[DemoLogin] = []
    # Regulators act in their jurisdiction (findings, rules, targets): member seats;
    # one read-only seat at the province shows what a reader may not do.
    seats: list[tuple[str, str, Enterprise | None, str | None]] = [
        ("neimenggu", Role.MEMBER, None, "150000"),
        ("neimenggu-reader", Role.READER, None, "150000"),
    ]
    seats += [(name, Role.MEMBER, None, code) for code, name in LEAGUE_LOGINS.items()]
    seats.append(("zhungeer", Role.MEMBER, None, "150622"))
    for archetype in ARCHETYPES:
        group = [m for m in members if m.archetype is archetype]
        # Prefer 鄂尔多斯 members so one league's regulator sees most demo seats.
        best = max(group, key=lambda m: (m.league.code == "150600", m.size_t, -m.index))
        login = archetype.key.replace("_", "-")
        seats.append((login, Role.ADMIN, best.enterprise, None))
        if archetype.key == "coal_power":
            seats.append((f"{login}-clerk", Role.MEMBER, best.enterprise, None))
            seats.append((f"{login}-reader", Role.READER, best.enterprise, None))
        if archetype.key == "road_carrier":
            seats.append((f"{login}-driver", Role.DRIVER, best.enterprise, None))
    admin = User.objects.create(
        username="admin", password=password, is_staff=True, is_superuser=True
    )
    logins.append(DemoLogin(admin.get_username(), "superuser", "Django admin"))
    regions = {r.code: r for r in Region.objects.filter(code__in=[s[3] for s in seats if s[3]])}
    for username, role, enterprise, region_code in seats:
        user = User.objects.create(username=username, password=password)
        region = regions[region_code] if region_code else None
        Membership.objects.create(
            user=user, enterprise=enterprise, regulator_region=region, role=role
        )
        acts_for = str(enterprise) if enterprise else f"监管 {region}"
        logins.append(DemoLogin(username, str(role), acts_for))
    return logins

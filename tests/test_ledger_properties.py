"""Hypothesis properties of the ledger (STYLE.md: the ledger identities).

(a) Random posts, bulk ingests and corrections on a small enterprise: stock is
    never negative, each ``StockBalance`` equals the entries' effects recomputed
    from the raw rows (and a plain Python model), the chain verifies, and every
    refused write changes nothing.
(b) A chain verifies iff it is untouched: one random tamper behind the
    application's back and ``chain_verify`` names exactly the first broken entry.
(c) Totals by any grouping equal the raw sum.

Each example runs in a savepoint that is rolled back, so examples do not see each
other's rows. Example counts are small so the file runs in seconds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.factories import make_enterprise, make_site, make_yard, waste
from tests.ledger_tamper import (
    append_only_lifted,
    change_quantity,
    delete_entry,
    insert_forged,
    swap_seqs,
)
from xunhuan.core.errors import Conflict, InsufficientStock, ValidationFailed
from xunhuan.core.units import kg_to_tonnes
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import ChainHead, LedgerEntry, StockBalance
from xunhuan.ledger.rules import EntryDraft
from xunhuan.ledger.services import ledger_entries_post, ledger_entry_correct
from xunhuan.registry.models import Enterprise, Region, Site, WasteCategory

TODAY = dt.date(2025, 12, 31)
ZERO = Decimal("0.000")
INCREASING = {"generated", "received"}
MOVEMENTS = {"storage_in", "storage_out"}

pytestmark = pytest.mark.django_db

quantities = st.decimals(
    min_value=Decimal("0.001"), max_value=Decimal("40"), places=3, allow_nan=False
)
days = st.dates(min_value=dt.date(2024, 11, 1), max_value=TODAY)


@contextmanager
def rolled_back() -> Iterator[None]:
    """A savepoint undone at the end: one hypothesis example's rows never reach the next."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def effects(
    kind: str, site_id: int, to_site_id: int | None, waste_id: str, quantity: Decimal
) -> list[tuple[tuple[int, str], Decimal]]:
    """The stock rule written out again, independently of ``rules.stock_effects``."""
    if kind in INCREASING:
        return [((site_id, waste_id), quantity)]
    if kind in MOVEMENTS:
        assert to_site_id is not None
        return [((site_id, waste_id), -quantity), ((to_site_id, waste_id), quantity)]
    return [((site_id, waste_id), -quantity)]


def stock_from_raw_rows(enterprise_id: int) -> dict[tuple[int, str], Decimal]:
    """Stock per (site, waste) summed in Python from the raw table, not through the ORM."""
    totals: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kind, site_id, to_site_id, waste_id, quantity_kg "  # noqa: S608
            f"FROM {LedgerEntry._meta.db_table} WHERE enterprise_id = %s",
            [enterprise_id],
        )
        for kind, site_id, to_site_id, waste_id, kg in cursor.fetchall():
            for key, delta in effects(kind, site_id, to_site_id, waste_id, kg_to_tonnes(kg)):
                totals[key] += delta
    return dict(totals)


def stored_stock(enterprise: Enterprise) -> dict[tuple[int, str], Decimal]:
    return {
        (site_id, waste_id): quantity
        for site_id, waste_id, quantity in StockBalance.objects.filter(
            site__enterprise=enterprise
        ).values_list("site_id", "waste_id", "quantity")
    }


def nonzero(stock: dict[tuple[int, str], Decimal]) -> dict[tuple[int, str], Decimal]:
    return {key: value for key, value in stock.items() if value != 0}


def ledger_state(enterprise: Enterprise) -> tuple[object, ...]:
    """Everything a write could touch, to prove a refused write touched nothing."""
    head = ChainHead.objects.filter(enterprise=enterprise).values_list("last_seq", "last_hash")
    return (
        LedgerEntry.objects.count(),
        list(head),
        sorted(StockBalance.objects.values_list("site_id", "waste_id", "quantity").order_by()),
    )


# --- (a) a state machine over posts, ingests and corrections ----------------------------


@dataclass
class Posted:
    """The model's record of one entry."""

    pk: int
    kind: str
    site: Site
    to_site: Site | None
    waste: WasteCategory
    quantity: Decimal
    is_reversal: bool = False
    reversed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cast:
    plant: Enterprise
    boiler: Site
    yards: list[Site]
    source: Enterprise
    utilizer: Enterprise
    disposer: Enterprise
    outsider_site: Site
    wastes: list[WasteCategory]


@pytest.fixture
def cast(db: None) -> Cast:
    plant = make_enterprise(name="性质测试电厂")
    return Cast(
        plant=plant,
        boiler=make_site(enterprise=plant, code="B1"),
        yards=[make_yard(enterprise=plant, code="Y1"), make_yard(enterprise=plant, code="Y2")],
        source=make_enterprise(name="来源矿"),
        utilizer=make_enterprise(name="利用建材厂", is_generator=False, is_utilizer=True),
        disposer=make_enterprise(name="处置场", is_generator=False, is_disposer=True),
        outsider_site=make_site(enterprise=make_enterprise(name="外单位"), code="X1"),
        wastes=[waste("SW02"), waste("SW03")],
    )


class LedgerMachine(RuleBasedStateMachine):
    cast: Cast

    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.stock: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
        self.posted: list[Posted] = []
        self.refusals = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # Drawing drafts. ``projected`` is the stock as it will be once the drafts already
    # drawn for the same batch are applied, so withdrawals can aim at what will be there.
    def _quantity(self, data: st.DataObject, available: Decimal) -> Decimal:
        if available > 0 and data.draw(st.booleans(), label="within stock"):
            share = data.draw(st.sampled_from(["1", "0.5", "0.001"]), label="share")
            amount = (available * Decimal(share)).quantize(Decimal("0.001"))
            return max(amount, Decimal("0.001"))
        return data.draw(quantities, label="quantity")

    def _draft(self, data: st.DataObject, projected: dict[tuple[int, str], Decimal]) -> EntryDraft:
        c = self.cast
        kind = data.draw(
            st.sampled_from(
                [
                    "generated",
                    "received",
                    "storage_in",
                    "storage_out",
                    "self_utilized",
                    "self_disposed",
                    "handed_over",
                ]
            ),
            label="kind",
        )
        waste_category = data.draw(st.sampled_from(c.wastes), label="waste")
        sites = [c.boiler, *c.yards]
        extra: dict[str, Any] = {}
        if kind in INCREASING:
            site = c.boiler if kind == "generated" else data.draw(st.sampled_from(sites))
            if kind == "received":
                extra["counterparty"] = c.source
        elif kind == "storage_in":
            site = data.draw(st.sampled_from([c.boiler, c.yards[0]]), label="from")
            extra["to_site"] = c.yards[1] if site == c.yards[0] else c.yards[0]
        elif kind == "storage_out":
            site = data.draw(st.sampled_from(c.yards), label="yard")
            extra["to_site"] = c.boiler
        else:
            site = data.draw(st.sampled_from(sites), label="site")
            if kind == "self_utilized":
                extra["route"] = "bricks"
            elif kind == "self_disposed":
                extra["disposal_method"] = "landfill"
            elif data.draw(st.booleans(), label="for utilization"):
                extra.update(counterparty=c.utilizer, purpose="utilization", route="cement")
            else:
                extra.update(
                    counterparty=c.disposer, purpose="disposal", disposal_method="landfill"
                )
        available = projected[(site.pk, waste_category.code)]
        quantity = (
            data.draw(quantities, label="quantity")
            if kind in INCREASING
            else self._quantity(data, available)
        )
        return EntryDraft(
            kind=kind,
            site=site,
            waste=waste_category,
            quantity=quantity,
            occurred_on=data.draw(days, label="day"),
            **extra,
        )

    @staticmethod
    def _apply(
        stock: dict[tuple[int, str], Decimal], change: list[tuple[tuple[int, str], Decimal]]
    ) -> bool:
        """Apply one entry's effects in order; False if any would take stock below zero."""
        for key, delta in change:
            if stock[key] + delta < 0:
                return False
            stock[key] += delta
        return True

    def _draft_effects(self, d: EntryDraft) -> list[tuple[tuple[int, str], Decimal]]:
        to_site = d.to_site.pk if d.to_site else None
        return effects(d.kind, d.site.pk, to_site, d.waste.code, d.quantity)

    def _refused(self, call: Callable[[], object], error: type[Exception]) -> Exception:
        before = ledger_state(self.cast.plant)
        with pytest.raises(error) as caught:
            call()
        assert ledger_state(self.cast.plant) == before
        self.refusals += 1
        return caught.value

    @rule(data=st.data(), size=st.integers(1, 3), bulk=st.booleans())
    def post_batch(self, data: st.DataObject, size: int, bulk: bool) -> None:
        projected = defaultdict(Decimal, self.stock)
        drafts, first_refused = [], None
        for index in range(1, size + 1):
            draft = self._draft(data, projected)
            drafts.append(draft)
            if not self._apply(projected, self._draft_effects(draft)) and first_refused is None:
                first_refused = index
                projected = defaultdict(Decimal, projected)  # keep drawing; result is known
        plant = self.cast.plant

        def write() -> object:
            if bulk:
                return ledger_entries_ingest(enterprise=plant, drafts=drafts, today=TODAY)
            return ledger_entries_post(enterprise=plant, drafts=drafts, today=TODAY)

        if first_refused is not None:
            error = self._refused(write, InsufficientStock)
            assert isinstance(error, InsufficientStock)
            assert error.row == (first_refused if size > 1 else None)
            return
        last_seq = ChainHead.objects.filter(enterprise=plant).values_list("last_seq", flat=True)
        before_seq = last_seq.first() or 0
        write()
        self.stock = projected
        pks = list(
            LedgerEntry.objects.filter(enterprise=plant, seq__gt=before_seq)
            .order_by("seq")
            .values_list("pk", flat=True)
        )
        assert len(pks) == size
        for pk, d in zip(pks, drafts, strict=True):
            self.posted.append(Posted(pk, d.kind, d.site, d.to_site, d.waste, d.quantity))

    @precondition(lambda self: bool(self.posted))
    @rule(data=st.data(), replace=st.booleans())
    def correct(self, data: st.DataObject, replace: bool) -> None:
        target = data.draw(st.sampled_from(self.posted), label="entry to correct")
        entry = LedgerEntry.objects.get(pk=target.pk)
        reversal_effects = effects(
            target.kind,
            target.site.pk,
            target.to_site.pk if target.to_site else None,
            target.waste.code,
            -target.quantity,
        )
        replacement = None
        projected = defaultdict(Decimal, self.stock)
        fits = self._apply(projected, reversal_effects)
        if replace:
            quantity = self._quantity(data, projected[(target.site.pk, target.waste.code)])
            replacement = EntryDraft(
                kind=target.kind,
                site=entry.site,
                waste=entry.waste,
                quantity=quantity,
                occurred_on=entry.occurred_on,
                to_site=entry.to_site,
                counterparty=entry.counterparty,
                purpose=entry.purpose,
                route=entry.route,
                disposal_method=entry.disposal_method,
            )
            fits = fits and self._apply(projected, self._draft_effects(replacement))

        def write() -> tuple[LedgerEntry, LedgerEntry | None]:
            return ledger_entry_correct(
                entry=entry, reason="称重更正", replacement=replacement, today=TODAY
            )

        if target.is_reversal or target.reversed:
            self._refused(write, Conflict)
            return
        if not fits:
            error = self._refused(write, InsufficientStock)
            assert error.__class__ is InsufficientStock
            return
        reversal, new_entry = write()
        self.stock = projected
        target.reversed = True
        self.posted.append(
            Posted(
                reversal.pk,
                target.kind,
                target.site,
                target.to_site,
                target.waste,
                -target.quantity,
                is_reversal=True,
            )
        )
        if replacement is not None:
            assert new_entry is not None
            self.posted.append(
                Posted(
                    new_entry.pk,
                    target.kind,
                    target.site,
                    target.to_site,
                    target.waste,
                    replacement.quantity,
                )
            )

    @rule(
        problem=st.sampled_from(["zero", "negative", "future", "their site", "not a utilizer"]),
        bulk=st.booleans(),
    )
    def refused_by_the_rules(self, problem: str, bulk: bool) -> None:
        c = self.cast
        good = EntryDraft(
            kind="generated",
            site=c.boiler,
            waste=c.wastes[0],
            quantity=Decimal("1.000"),
            occurred_on=TODAY,
        )
        bad = {
            "zero": EntryDraft(**{**_fields(good), "quantity": Decimal("0")}),
            "negative": EntryDraft(**{**_fields(good), "quantity": Decimal("-1.000")}),
            "future": EntryDraft(**{**_fields(good), "occurred_on": TODAY + dt.timedelta(days=1)}),
            "their site": EntryDraft(**{**_fields(good), "site": c.outsider_site}),
            "not a utilizer": EntryDraft(
                **{
                    **_fields(good),
                    "kind": "handed_over",
                    "counterparty": c.disposer,
                    "purpose": "utilization",
                    "route": "cement",
                }
            ),
        }[problem]
        drafts = [good, bad]  # the good draft in front must not be saved either

        def write() -> object:
            if bulk:
                return ledger_entries_ingest(enterprise=c.plant, drafts=drafts, today=TODAY)
            return ledger_entries_post(enterprise=c.plant, drafts=drafts, today=TODAY)

        error = self._refused(write, ValidationFailed)
        assert isinstance(error, ValidationFailed)
        assert error.row == 2

    @invariant()
    def stock_is_never_negative_and_equals_the_raw_sum(self) -> None:
        plant = self.cast.plant
        stored = stored_stock(plant)
        assert all(
            quantity >= 0 for quantity in StockBalance.objects.values_list("quantity", flat=True)
        )
        assert nonzero(stored) == nonzero(stock_from_raw_rows(plant.pk)) == nonzero(self.stock)

    @invariant()
    def chain_verifies(self) -> None:
        assert chain_verify(enterprise_id=self.cast.plant.pk) is None


def _fields(draft: EntryDraft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in EntryDraft.__dataclass_fields__}


def test_random_writes_keep_stock_and_chain_right(cast: Cast) -> None:
    machine = type("Machine", (LedgerMachine,), {"cast": cast})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# --- (b) a chain verifies iff untouched -------------------------------------------------

TAMPERS = ["quantity", "delete", "swap", "insert naive", "insert clever"]


def build_chain(cast: Cast, kinds: list[bool], amounts: list[Decimal]) -> int:
    """Post ``len(kinds)`` entries through both writers; return how many."""
    yard = cast.yards[0]
    on_hand = ZERO
    for index, (move, amount) in enumerate(zip(kinds, amounts, strict=True)):
        if move and on_hand >= amount:
            draft = EntryDraft(
                kind="storage_in",
                site=cast.boiler,
                to_site=yard,
                waste=cast.wastes[0],
                quantity=amount,
                occurred_on=TODAY,
            )
            on_hand -= amount
        else:
            draft = EntryDraft(
                kind="generated",
                site=cast.boiler,
                waste=cast.wastes[0],
                quantity=amount,
                occurred_on=TODAY,
                note=f"第{index + 1}条",
            )
            on_hand += amount
        if index % 2:
            ledger_entries_ingest(enterprise=cast.plant, drafts=[draft], today=TODAY)
        else:
            ledger_entries_post(enterprise=cast.plant, drafts=[draft], today=TODAY)
    return len(kinds)


def expected_break(tamper: str, n: int, at: int, other: int) -> tuple[int, str]:
    """(seq of the first broken entry, the problem) that ``chain_verify`` must report."""
    if tamper == "quantity":
        return at, "contents changed since it was recorded"
    if tamper == "delete":
        if at < n:
            return at + 1, f"sequence jumps from {at - 1} to {at + 1}: entries removed"
        return n - 1, f"chain head records {n} entries but {n - 1} remain: entries removed"
    if tamper == "swap":
        return min(at, other), "previous-hash does not match the entry before it"
    if tamper == "insert naive":
        return at, "contents changed since it was recorded"
    # The clever forgery is linked to its predecessor and hashes correctly itself;
    # the chain breaks at the entry after it, or at the head if it was appended.
    if at <= n:
        return at + 1, "previous-hash does not match the entry before it"
    return n + 1, f"chain head records {n} entries but {n + 1} remain: entries removed"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.lists(st.tuples(st.booleans(), quantities), min_size=2, max_size=6),
    tamper=st.sampled_from(TAMPERS),
    data=st.data(),
)
def test_chain_verifies_iff_untouched(
    cast: Cast, plan: list[tuple[bool, Decimal]], tamper: str, data: st.DataObject
) -> None:
    with rolled_back():
        n = build_chain(cast, [move for move, _ in plan], [amount for _, amount in plan])
        plant_id = cast.plant.pk
        assert chain_verify(enterprise_id=plant_id) is None  # untouched: verifies

        top = n + 1 if tamper.startswith("insert") else n
        at = data.draw(st.integers(1, top), label="entry")
        other = (
            data.draw(st.integers(1, n).filter(lambda s: s != at), label="other")
            if (tamper == "swap")
            else at
        )
        with append_only_lifted():
            if tamper == "quantity":
                change_quantity(plant_id, at, data.draw(st.sampled_from([1, 7, 1000])))
            elif tamper == "delete":
                delete_entry(plant_id, at)
            elif tamper == "swap":
                swap_seqs(plant_id, at, other)
            else:
                insert_forged(plant_id, at, clever=tamper == "insert clever")

        broken = chain_verify(enterprise_id=plant_id)
        assert broken is not None
        assert (broken.seq, broken.problem) == expected_break(tamper, n, at, other)
        # The triggers are back: the application's guard holds again.
        remaining = LedgerEntry.objects.filter(enterprise_id=plant_id).order_by("seq")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            delete_entry(plant_id, remaining.values_list("seq", flat=True)[0])


# --- (c) totals by any grouping equal the raw sum ---------------------------------------

GROUPINGS: dict[str, tuple[str, ...]] = {
    "site": ("site_id",),
    "waste": ("waste_id",),
    "waste group": ("waste__group_id",),
    "kind": ("kind",),
    "month": ("month",),
    "enterprise": ("enterprise_id",),
    "county": ("enterprise__region_id",),
    "league": ("enterprise__region__parent_id",),
    "kind and month": ("kind", "month"),
    "league, waste group and kind": ("enterprise__region__parent_id", "waste__group_id", "kind"),
}


@dataclass
class Unit:
    """One enterprise of the grouping test and where it sits."""

    enterprise: Enterprise
    site: Site
    yard: Site
    county: str
    league: str


@pytest.fixture
def units(db: None) -> list[Unit]:
    made = []
    for county in ("150622", "150203", "150102"):
        region = Region.objects.get(code=county)
        enterprise = make_enterprise(region=region)
        made.append(
            Unit(
                enterprise,
                make_site(enterprise=enterprise),
                make_yard(enterprise=enterprise),
                county,
                str(region.parent_id),
            )
        )
    return made


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.sampled_from(["SW01", "SW02", "SW04", "SW03"]),
            days,
            quantities,
            st.sampled_from(["generated", "self_utilized", "storage_in", "corrected"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_totals_by_any_grouping_equal_the_raw_sum(
    units: list[Unit], rows: list[tuple[int, str, dt.date, Decimal, str]]
) -> None:
    with rolled_back():
        raw: list[dict[str, Any]] = []  # what was posted, as plain values

        def remember(
            unit: Unit, site: Site, code: str, day: dt.date, kind: str, q: Decimal
        ) -> None:
            category = waste(code)
            raw.append(
                {
                    "site_id": site.pk,
                    "waste_id": code,
                    "waste__group_id": category.group_id,
                    "kind": kind,
                    "month": day.replace(day=1),
                    "enterprise_id": unit.enterprise.pk,
                    "enterprise__region_id": unit.county,
                    "enterprise__region__parent_id": unit.league,
                    "quantity": q,
                }
            )

        for which, code, day, amount, follow_up in rows:
            unit = units[which]
            generated = EntryDraft(
                kind="generated",
                site=unit.site,
                waste=waste(code),
                quantity=amount,
                occurred_on=day,
            )
            (entry,) = ledger_entries_post(
                enterprise=unit.enterprise, drafts=[generated], today=TODAY
            )
            remember(unit, unit.site, code, day, "generated", amount)
            if follow_up == "corrected":
                ledger_entry_correct(entry=entry, reason="重复录入", today=TODAY)
                remember(unit, unit.site, code, day, "generated", -amount)
            elif follow_up == "self_utilized":
                ledger_entries_ingest(
                    enterprise=unit.enterprise,
                    drafts=[
                        EntryDraft(
                            kind="self_utilized",
                            site=unit.site,
                            waste=waste(code),
                            quantity=amount,
                            occurred_on=day,
                            route="road_base",
                        )
                    ],
                    today=TODAY,
                )
                remember(unit, unit.site, code, day, "self_utilized", amount)
            else:
                ledger_entries_post(
                    enterprise=unit.enterprise,
                    drafts=[
                        EntryDraft(
                            kind="storage_in",
                            site=unit.site,
                            to_site=unit.yard,
                            waste=waste(code),
                            quantity=amount,
                            occurred_on=day,
                        )
                    ],
                    today=TODAY,
                )
                remember(unit, unit.site, code, day, "storage_in", amount)

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT SUM(quantity_kg) FROM {LedgerEntry._meta.db_table}")  # noqa: S608
            (total_kg,) = cursor.fetchone()
        raw_total = sum((r["quantity"] for r in raw), ZERO)
        assert kg_to_tonnes(total_kg) == raw_total

        entries = LedgerEntry.objects.annotate(month=TruncMonth("occurred_on"))
        for name, keys in GROUPINGS.items():
            expected: dict[tuple[object, ...], Decimal] = defaultdict(Decimal)
            for r in raw:
                expected[tuple(r[k] for k in keys)] += r["quantity"]
            got = {
                tuple(_plain(row[k]) for k in keys): row["total"]
                for row in entries.values(*keys).annotate(total=Sum("quantity")).order_by()
            }
            assert got == dict(expected), name
            assert sum(got.values(), ZERO) == raw_total, name


def _plain(value: object) -> object:
    """TruncMonth gives a date on both engines; region codes come back as str."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value

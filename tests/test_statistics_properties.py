"""Hypothesis properties of the statistics cells.

Random valid ledgers for four enterprises in two leagues (through the real post
and bulk paths, so the cells are maintained incrementally by the signal), then:

* totals by any grouping equal the raw ledger summed by the same grouping in
  Python from the entries themselves: generation, receipts, and every outflow
  (own utilization + disposal + dumping + received waste handled = all outflows);
* stock on hand per enterprise equals the ledger's stock balances;
* ``stats_check`` passes, and a rebuild changes nothing and is idempotent.

Each example runs in a savepoint that is rolled back.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import draft, make_enterprise, make_site, make_yard
from xunhuan.core.units import kg_to_tonnes, tonnes_to_kg
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.models import LedgerEntry, StockBalance
from xunhuan.ledger.rules import EntryDraft
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Enterprise, Park, Region, Site
from xunhuan.statistics.cells import city_of
from xunhuan.statistics.check import stat_cells_check
from xunhuan.statistics.models import StatCell, StatRouteCell
from xunhuan.statistics.selectors import DIMENSIONS, StatScope, stats_table
from xunhuan.statistics.services import stat_cells_rebuild

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 12, 31)
WASTES = ("SW01", "SW02", "SW04", "SW07")
OUTFLOWS = ("self_utilized", "handed_over", "self_disposed", "discarded")
GROUPINGS = [d for d in DIMENSIONS if d != "route"]


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


class Place:
    def __init__(self, enterprise: Enterprise, site: Site, yard: Site) -> None:
        self.enterprise, self.site, self.yard = enterprise, site, yard


def places() -> tuple[list[Place], Place]:
    county = Region.objects.get(code="150622")
    park = Park.objects.create(name="性质测试园区", level="provincial", region=county)
    out = []
    for i, (code, industry) in enumerate(
        [("150622", "4411"), ("150622", "3011"), ("150203", "3216")]
    ):
        enterprise = make_enterprise(
            region=Region.objects.get(code=code),
            park=park if i == 0 else None,
            industry_id=industry,
            is_utilizer=True,
        )
        out.append(
            Place(enterprise, make_site(enterprise=enterprise), make_yard(enterprise=enterprise))
        )
    receiver = make_enterprise(
        region=Region.objects.get(code="150203"), is_generator=False, is_utilizer=True
    )
    rsite = make_site(enterprise=receiver, kind="utilization")
    return out, Place(receiver, rsite, make_yard(enterprise=receiver))


steps = st.lists(
    st.tuples(
        st.integers(0, 2),  # enterprise
        st.sampled_from(WASTES),
        st.integers(1, 50_000),  # kg generated
        st.sampled_from(OUTFLOWS),
        st.integers(0, 100),  # percent of it going out at once
        st.integers(0, 100),  # percent of the rest stored
        st.integers(0, 100),  # percent of the yard taken out for backfill
        st.dates(min_value=dt.date(2023, 1, 1), max_value=TODAY),
    ),
    min_size=1,
    max_size=12,
)


def _write(plan: list[tuple[Any, ...]], generators: list[Place], receiver: Place) -> None:
    yard_kg: dict[tuple[int, str], int] = defaultdict(int)
    received: list[EntryDraft] = []
    per_enterprise: dict[int, list[EntryDraft]] = defaultdict(list)
    for who, code, kg, outflow, out_pct, store_pct, old_pct, day in sorted(
        plan, key=lambda s: s[7]
    ):
        p = generators[who]
        drafts = per_enterprise[who]
        drafts.append(draft(p.site, "generated", str(kg_to_tonnes(kg)), waste_code=code, day=day))
        out = kg * out_pct // 100
        if out:
            extra: dict[str, Any] = {}
            if outflow == "self_utilized":
                extra = {"route": "cement"}
            elif outflow == "self_disposed":
                extra = {"disposal_method": "landfill"}
            elif outflow == "handed_over":
                extra = {
                    "counterparty": receiver.enterprise,
                    "purpose": "utilization",
                    "route": "bricks",
                }
                received.append(
                    draft(
                        receiver.site,
                        "received",
                        str(kg_to_tonnes(out)),
                        waste_code=code,
                        day=day,
                        counterparty=p.enterprise,
                    )
                )
                received.append(
                    draft(
                        receiver.site,
                        "self_utilized",
                        str(kg_to_tonnes(out)),
                        waste_code=code,
                        day=day,
                        route="bricks",
                    )
                )
            drafts.append(
                draft(p.site, outflow, str(kg_to_tonnes(out)), waste_code=code, day=day, **extra)
            )
        stored = (kg - out) * store_pct // 100
        if stored:
            drafts.append(
                draft(
                    p.site,
                    "storage_in",
                    str(kg_to_tonnes(stored)),
                    waste_code=code,
                    day=day,
                    to_site=p.yard,
                )
            )
            yard_kg[(who, code)] += stored
        old = yard_kg[(who, code)] * old_pct // 100
        if old:
            drafts.append(
                draft(
                    p.yard,
                    "self_utilized",
                    str(kg_to_tonnes(old)),
                    waste_code=code,
                    day=day,
                    route="backfill",
                )
            )
            yard_kg[(who, code)] -= old
    for who, drafts in per_enterprise.items():
        # one enterprise through the bulk path, the others through the post path
        if who == 0:
            ledger_entries_ingest(enterprise=generators[who].enterprise, drafts=drafts, today=TODAY)
        else:
            ledger_entries_post(enterprise=generators[who].enterprise, drafts=drafts, today=TODAY)
    if received:
        received.sort(key=lambda d: (d.occurred_on, d.kind != "received"))
        ledger_entries_post(enterprise=receiver.enterprise, drafts=received, today=TODAY)


def _raw_key(dim: str, entry: LedgerEntry) -> Any:
    e = entry.enterprise
    day = entry.occurred_on
    return {
        "city": city_of(e.region.path),
        "county": e.region_id,
        "park": e.park_id,
        "industry": e.industry_id,
        "enterprise": e.pk,
        "waste": entry.waste_id,
        "group": entry.waste.group_id,
        "year": day.year,
        "quarter": f"{day.year}Q{(day.month - 1) // 3 + 1}",
        "month": f"{day:%Y-%m}",
    }[dim]


def _raw_totals(by: list[str]) -> dict[tuple[Any, ...], dict[str, int]]:
    out: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for entry in LedgerEntry.objects.select_related("enterprise__region", "waste"):
        key = tuple(_raw_key(d, entry) for d in by)
        kg = tonnes_to_kg(entry.quantity)
        if entry.kind in ("generated", "received"):
            out[key][entry.kind] += kg
        elif entry.kind in OUTFLOWS:
            out[key]["outflows"] += kg
    return out


def _fields(model: type[StatCell] | type[StatRouteCell]) -> list[str]:
    """Every column but the serial id (a rebuild numbers rows anew)."""
    return [f.attname for f in model._meta.concrete_fields if f.attname != "id"]


def _snapshot() -> list[Any]:
    cells = StatCell.objects.order_by("enterprise_id", "waste_id", "month")
    routes = StatRouteCell.objects.order_by("enterprise_id", "waste_id", "month", "route")
    return [
        *cells.values_list(*_fields(StatCell)),
        *routes.values_list(*_fields(StatRouteCell)),
    ]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps, by=st.lists(st.sampled_from(GROUPINGS), min_size=1, max_size=2, unique=True))
def test_totals_by_any_grouping_equal_the_raw_ledger(
    db: None, plan: list[tuple[Any, ...]], by: list[str]
) -> None:
    with rolled_back():
        generators, receiver = places()
        _write(plan, generators, receiver)
        expected = _raw_totals(by)
        rows = stats_table(scope=StatScope.everything(), by=by)
        got = {
            tuple(r.keys[d] for d in by): {
                "generated": tonnes_to_kg(r.values["generated"]),
                "received": tonnes_to_kg(r.values["received"]),
                "outflows": tonnes_to_kg(
                    r.values["utilized"]
                    + r.values["disposed"]
                    + r.values["dumped"]
                    + r.values["received_handled"]
                ),
            }
            for r in rows
        }
        want = {
            key: {k: v.get(k, 0) for k in ("generated", "received", "outflows")}
            for key, v in expected.items()
        }
        assert got == want
        # stock on hand per enterprise equals the ledger's balances
        stock = {
            r.keys["enterprise"]: r.stock_on_hand
            for r in stats_table(scope=StatScope.everything(), by=["enterprise"])
        }
        for enterprise_id, on_hand in stock.items():
            balance = sum(
                StockBalance.objects.filter(site__enterprise_id=enterprise_id).values_list(
                    "quantity", flat=True
                ),
                Decimal("0.000"),
            )
            assert on_hand == balance
        assert stat_cells_check().ok
        before = _snapshot()
        stat_cells_rebuild()
        assert _snapshot() == before
        stat_cells_rebuild()
        assert _snapshot() == before

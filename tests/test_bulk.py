"""Bulk ingest writes the same chain the reference encoding verifies, on both engines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import World
from tests.factories import draft
from xunhuan.core.chain import ENTRY_KEYS, canonical_bytes, entry_text, json_text
from xunhuan.core.errors import InsufficientStock
from xunhuan.core.units import QuantityError, to_tonnes, tonnes_to_kg
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import ChainHead, LedgerEntry, StockBalance
from xunhuan.ledger.services import ledger_entry_post

text_or_none = st.one_of(st.none(), st.text(max_size=20))


@given(st.fixed_dictionaries(dict.fromkeys(ENTRY_KEYS, text_or_none)))
def test_fast_encoding_equals_reference(fields: dict[str, str | None]) -> None:
    fast = entry_text(tuple(json_text(fields[key]) for key in ENTRY_KEYS))
    assert fast.encode() == canonical_bytes(fields)


@pytest.mark.parametrize(
    ("text", "kg"), [("1000000000000", 10**15), ("-1000000000000.000", -(10**15))]
)
def test_quantities_up_to_the_plausible_bound_are_kept_in_whole_kg(text: str, kg: int) -> None:
    assert tonnes_to_kg(to_tonnes(text)) == kg
    beyond = Decimal(text) + (Decimal("0.001") if kg > 0 else Decimal("-0.001"))
    with pytest.raises(QuantityError, match="beyond any plausible"):
        to_tonnes(beyond)


def test_ingest_chains_after_single_posts_and_verifies(world: World) -> None:
    ledger_entry_post(enterprise=world.plant, draft=draft(world.plant_site, "generated", "5.000"))
    drafts = [
        draft(world.plant_site, "generated", "100.250", batch_code='B"1\\', note='含引号"与换行\n'),
        draft(world.plant_site, "storage_in", "60.000", to_site=world.plant_yard),
        draft(
            world.plant_yard,
            "handed_over",
            "20.125",
            counterparty=world.receiver,
            purpose="utilization",
            route="cement",
            day=dt.date(2025, 3, 2),
        ),
        draft(world.plant_site, "self_disposed", "0.001", disposal_method="landfill"),
    ]
    assert ledger_entries_ingest(enterprise=world.plant, drafts=drafts) == 4
    assert chain_verify(enterprise_id=world.plant.pk) is None
    assert ChainHead.objects.get(enterprise=world.plant).last_seq == 5
    stock = {
        s.site_id: s.quantity for s in StockBalance.objects.filter(site__enterprise=world.plant)
    }
    assert stock == {world.plant_site.pk: Decimal("45.249"), world.plant_yard.pk: Decimal("39.875")}
    stored = LedgerEntry.objects.get(enterprise=world.plant, seq=2)
    assert stored.note == '含引号"与换行\n'
    assert stored.quantity == Decimal("100.250")
    # Single posts continue the chain that bulk ingest extended.
    ledger_entry_post(enterprise=world.plant, draft=draft(world.plant_site, "generated", "1.000"))
    assert chain_verify(enterprise_id=world.plant.pk) is None


def test_ingest_refuses_whole_batch_when_a_row_overdraws(world: World) -> None:
    drafts = [
        draft(world.plant_site, "generated", "10.000"),
        draft(world.plant_site, "self_disposed", "10.001", disposal_method="landfill"),
    ]
    with pytest.raises(InsufficientStock) as caught:
        ledger_entries_ingest(enterprise=world.plant, drafts=drafts)
    assert caught.value.row == 2
    assert LedgerEntry.objects.filter(enterprise=world.plant).count() == 0
    assert not StockBalance.objects.filter(site__enterprise=world.plant).exists()

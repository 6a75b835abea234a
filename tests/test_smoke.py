from decimal import Decimal

from tests.conftest import World
from tests.factories import draft
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import StockBalance
from xunhuan.ledger.services import ledger_entries_post, ledger_entry_correct


def test_post_and_correct(world: World) -> None:
    _generated, store = ledger_entries_post(
        enterprise=world.plant,
        drafts=[
            draft(world.plant_site, "generated", "100.000"),
            draft(world.plant_site, "storage_in", "60.000", to_site=world.plant_yard),
        ],
    )
    assert StockBalance.objects.get(site=world.plant_yard).quantity == Decimal("60.000")
    assert StockBalance.objects.get(site=world.plant_site).quantity == Decimal("40.000")
    reversal, _replacement = ledger_entry_correct(
        entry=store,
        reason="称重有误",
        replacement=draft(world.plant_site, "storage_in", "55.500", to_site=world.plant_yard),
    )
    assert reversal.quantity == Decimal("-60.000")
    assert StockBalance.objects.get(site=world.plant_yard).quantity == Decimal("55.500")
    assert chain_verify(enterprise_id=world.plant.pk) is None

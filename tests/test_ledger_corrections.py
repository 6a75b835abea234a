"""Corrections of corrections through the ledger's services: each is a reversal plus
a replacement linked to the entry it corrects, the chain stays intact and every
sum nets out; a refused correction saves nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db.models import Sum

from tests.factories import draft, make_enterprise, make_site, make_yard
from xunhuan.core.errors import Conflict, ValidationFailed
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import ChainHead, LedgerEntry, StockBalance
from xunhuan.ledger.services import ledger_entries_post, ledger_entry_correct
from xunhuan.registry.models import Enterprise, Site

pytestmark = pytest.mark.django_db


@dataclass
class Plant:
    plant: Enterprise
    boiler: Site
    yard: Site
    utilizer: Enterprise
    carrier: Enterprise


@pytest.fixture
def p(db: None) -> Plant:
    plant = make_enterprise(name="更正测试电厂")
    return Plant(
        plant=plant,
        boiler=make_site(enterprise=plant, code="BOILER1"),
        yard=make_yard(enterprise=plant, code="YARD1"),
        utilizer=make_enterprise(name="更正测试建材厂", is_generator=False, is_utilizer=True),
        carrier=make_enterprise(name="更正测试运输公司", is_generator=False, is_carrier=True),
    )


def stock(site: Site) -> Decimal:
    quantity: Decimal = StockBalance.objects.get(site=site, waste="SW02").quantity
    return quantity


def state() -> tuple[object, ...]:
    return (
        list(LedgerEntry.objects.values_list("pk", flat=True).order_by("pk")),
        sorted(StockBalance.objects.values_list("site_id", "waste_id", "quantity")),
        list(ChainHead.objects.values_list("last_seq", "last_hash")),
    )


def test_a_correction_can_itself_be_corrected(p: Plant) -> None:
    _generated, handed = ledger_entries_post(
        enterprise=p.plant,
        drafts=[
            draft(p.boiler, "generated", "100.000"),
            draft(
                p.boiler,
                "handed_over",
                "30.000",
                counterparty=p.utilizer,
                purpose="utilization",
                route="cement",
            ),
        ],
    )
    # First correction: it was 25 t, not 30 t.
    reversal_1, replacement_1 = ledger_entry_correct(
        entry=handed,
        reason="磅单有误",
        replacement=draft(
            p.boiler,
            "handed_over",
            "25.000",
            counterparty=p.utilizer,
            purpose="utilization",
            route="cement",
        ),
    )
    assert replacement_1 is not None
    # Second correction, of the replacement: it went to bricks, 26 t, a day later.
    reversal_2, replacement_2 = ledger_entry_correct(
        entry=replacement_1,
        reason="利用方式填错",
        replacement=draft(
            p.boiler,
            "handed_over",
            "26.000",
            counterparty=p.utilizer,
            purpose="utilization",
            route="bricks",
            day=dt.date(2025, 3, 2),
        ),
    )
    assert replacement_2 is not None

    rows = list(
        LedgerEntry.objects.filter(enterprise=p.plant)
        .order_by("seq")
        .values_list("seq", "quantity", "reverses_id", "corrects_id", "reason", "route")
    )
    assert rows == [
        (1, Decimal("100.000"), None, None, "", ""),
        (2, Decimal("30.000"), None, None, "", "cement"),
        (3, Decimal("-30.000"), handed.pk, None, "磅单有误", "cement"),
        (4, Decimal("25.000"), None, handed.pk, "磅单有误", "cement"),
        (5, Decimal("-25.000"), replacement_1.pk, None, "利用方式填错", "cement"),
        (6, Decimal("26.000"), None, replacement_1.pk, "利用方式填错", "bricks"),
    ]
    assert (reversal_1.seq, reversal_2.seq, replacement_2.seq) == (3, 5, 6)
    assert stock(p.boiler) == Decimal("74.000")
    assert chain_verify(enterprise_id=p.plant.pk) is None
    # What was handed over nets to the last replacement, by route and by day.
    handed_over = LedgerEntry.objects.filter(kind="handed_over")
    assert handed_over.aggregate(total=Sum("quantity"))["total"] == Decimal("26.000")
    by_route = dict(
        handed_over.values_list("route").annotate(total=Sum("quantity")).order_by("route")
    )
    assert by_route == {"bricks": Decimal("26.000"), "cement": Decimal("0.000")}
    by_day = dict(handed_over.values_list("occurred_on").annotate(total=Sum("quantity")).order_by())
    assert by_day == {dt.date(2025, 3, 1): Decimal("0.000"), dt.date(2025, 3, 2): Decimal("26.000")}

    # The corrected entries and the reversals are closed to further corrections.
    before = state()
    for entry, error in (
        (handed, Conflict),
        (replacement_1, Conflict),
        (reversal_1, Conflict),
        (reversal_2, Conflict),
    ):
        with pytest.raises(error):
            ledger_entry_correct(entry=entry, reason="再改")
    assert state() == before


def test_a_correction_may_change_the_kind(p: Plant) -> None:
    ledger_entries_post(enterprise=p.plant, drafts=[draft(p.boiler, "generated", "50.000")])
    (disposed,) = ledger_entries_post(
        enterprise=p.plant,
        drafts=[draft(p.boiler, "self_disposed", "20.000", disposal_method="landfill")],
    )

    _reversal, moved = ledger_entry_correct(
        entry=disposed,
        reason="实为入库贮存",
        replacement=draft(p.boiler, "storage_in", "20.000", to_site=p.yard),
    )

    assert moved is not None
    assert (moved.kind, moved.corrects_id) == ("storage_in", disposed.pk)
    assert (stock(p.boiler), stock(p.yard)) == (Decimal("30.000"), Decimal("20.000"))
    assert chain_verify(enterprise_id=p.plant.pk) is None


def test_a_replacement_handed_to_a_non_utilizer_is_refused_and_saves_nothing(p: Plant) -> None:
    ledger_entries_post(enterprise=p.plant, drafts=[draft(p.boiler, "generated", "50.000")])
    (used,) = ledger_entries_post(
        enterprise=p.plant,
        drafts=[draft(p.boiler, "self_utilized", "20.000", route="road_base")],
    )
    before = state()

    with pytest.raises(ValidationFailed) as caught:
        ledger_entry_correct(
            entry=used,
            reason="实为委托利用",
            replacement=draft(
                p.boiler,
                "handed_over",
                "20.000",
                counterparty=p.carrier,
                purpose="utilization",
                route="cement",
            ),
        )

    assert (caught.value.message, caught.value.field, caught.value.row) == (
        "接收单位更正测试运输公司不是利用单位 / receiver is not a registered utilizer",
        "counterparty",
        None,
    )
    assert state() == before

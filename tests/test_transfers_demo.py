"""Demo transfer documents: every state, signed by the demo logins, ledgers intact."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from xunhuan.demo.generator import DemoSpec, demo_load
from xunhuan.demo.transfers import SCENARIOS, demo_transfers_load
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.ledger.verify import ledger_verify_all
from xunhuan.transfers.models import Discrepancy, Transfer
from xunhuan.transfers.selectors import (
    transfer_ledger_totals,
    transfers_check,
    transfers_overdue,
)

pytestmark = pytest.mark.django_db


def test_demo_transfers_cover_every_state_and_agree_with_the_ledgers() -> None:
    demo_load(DemoSpec(enterprises=60, years=1, end=dt.date(2025, 6, 30)))
    made = demo_transfers_load(log=lambda line: None)
    assert len(made) == len(SCENARIOS)
    assert Counter(Transfer.objects.values_list("status", flat=True)) == {
        "completed": 4,
        "received": 3,
        "in_transit": 2,
        "issued": 1,
        "draft": 1,
        "cancelled": 1,
    }
    assert Counter(Transfer.objects.values_list("decision", flat=True)) == {
        "accepted": 5,
        "partly_accepted": 1,
        "refused": 1,
        "": 5,
    }
    assert Discrepancy.objects.filter(settled_at__isnull=True).count() == 1
    assert Discrepancy.objects.filter(settled_at__isnull=False).count() == 1
    overdue = transfers_overdue(transfers=Transfer.objects.all(), today=today_in_shanghai())
    assert sorted(t.note for t in overdue) == ["超期未利用", "超期未接收"]
    for transfer in made:
        totals = transfer_ledger_totals(transfer=transfer)
        lines = list(transfer.lines.all())
        assert totals["received"] == sum((line.accepted or 0 for line in lines), 0)
    assert transfers_check(transfers=Transfer.objects.all()) == []
    assert ledger_verify_all().problems == []

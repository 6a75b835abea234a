"""Rules over transfer documents: overdue, disputed weighing, unqualified or over-capacity
receivers. Each fires with its numbers, has a near miss and a case out of its scope."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.conftest import World
from tests.factories import make_site
from tests.test_transfers_support import Party, new_transfer, party
from xunhuan.compliance.models import Finding
from xunhuan.compliance.services import compliance_run
from xunhuan.registry.services import facility_capacity_set
from xunhuan.transfers.models import Transfer
from xunhuan.transfers.services import (
    ReceiptLine,
    receipt_days,
    transfer_cancel,
    transfer_collect,
    transfer_issue,
    transfer_receive,
)

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2025, 6, 30)


def run(rule_id: str, as_of: dt.date = AS_OF) -> list[Finding]:
    compliance_run(rule_ids=[rule_id], as_of=as_of)
    return list(Finding.objects.filter(rule_id=rule_id).order_by("pk"))


def issued(p: Party, day: dt.date, declared: str = "100.000") -> Transfer:
    return transfer_issue(
        transfer=new_transfer(p, declared=(declared,)), user=p.users["owner"], today=day
    )


def received(
    p: Party, day: dt.date, weighed: str = "100.000", declared: str = "100.000"
) -> Transfer:
    transfer = issued(p, day, declared)
    transfer = transfer_collect(transfer=transfer, user=p.users["carrier"], today=day)
    return transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(seq=1, weighed=Decimal(weighed), accepted=Decimal(weighed))],
        today=day,
    )


def test_transfer_overdue(world: World) -> None:
    p = party(world)
    late = issued(p, dt.date(2025, 5, 2))
    issued(p, AS_OF - dt.timedelta(days=receipt_days()))  # due on the day: a near miss
    cancelled = issued(p, dt.date(2025, 5, 2))
    transfer_cancel(
        transfer=cancelled, user=p.users["owner"], reason="车辆故障", today=dt.date(2025, 5, 3)
    )
    (finding,) = run("TRANSFER-OVERDUE")
    due = dt.date(2025, 5, 2) + dt.timedelta(days=receipt_days())
    assert finding.enterprise == world.receiver
    assert finding.explanation_zh == (
        f"联单{late.number}（准格尔测试电厂→准格尔测试建材厂）接收确认期限{due.isoformat()}已过"
        f"{(AS_OF - due).days}天，当前状态：已开具（待运输）。"
    )


def test_transfer_receiver_without_capacity_then_within_and_beyond_it(world: World) -> None:
    p = party(world)
    received(p, dt.date(2025, 3, 3), weighed="100.000")
    received(p, dt.date(2024, 3, 3), weighed="500.000")  # before the window
    (finding,) = run("TRANSFER-RECEIVER")
    assert (finding.enterprise, finding.waste_id) == (world.receiver, "SW02")
    assert (
        finding.explanation_zh
        == "近12个月经联单接收粉煤灰100.000吨（利用）：未登记该废物的利用能力。"
    )
    facility_capacity_set(
        site=world.receiver_site, waste_code="SW02", route="cement", annual_capacity=Decimal("100")
    )
    (within,) = run("TRANSFER-RECEIVER")
    assert within.status == "resolved"  # exactly at capacity
    other_kiln = make_site(enterprise=world.receiver, code="KILN2", kind="utilization")
    facility_capacity_set(
        site=other_kiln, waste_code="SW03", route="cement", annual_capacity=Decimal("5000")
    )
    received(p, dt.date(2025, 4, 3), weighed="0.500")
    (beyond,) = run("TRANSFER-RECEIVER")
    assert beyond.status == "open"
    assert beyond.explanation_zh == (
        "近12个月经联单接收粉煤灰100.500吨（利用）：超过登记能力100.000吨的100%。"
    )


def test_transfer_disputed_weighing(world: World) -> None:
    p = party(world)
    disputed = received(p, dt.date(2025, 3, 3), weighed="80.000")
    received(p, dt.date(2025, 3, 3), weighed="100.000")  # within tolerance: no discrepancy
    today = timezone.localdate()
    assert run("TRANSFER-DISPUTED", as_of=today + dt.timedelta(days=10)) == []
    (finding,) = run("TRANSFER-DISPUTED", as_of=today + dt.timedelta(days=11))
    assert finding.enterprise == world.plant
    assert finding.explanation_zh == (
        f"联单{disputed.number}第1行申报100.000吨、过磅80.000吨，磅差自{today.isoformat()}起11天未经"
        "双方确认（超过10天）。"
    )

"""Withdrawing and rejecting a pending revision (issue #3): the requester withdraws,
another affected party rejects with a reason; the request stays in the history,
closed, and the document, its ledgers and its stock stay as they were."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import World
from tests.test_transfers_support import Party, new_transfer, party, stock
from xunhuan.audit.models import AuditEvent
from xunhuan.core.errors import Conflict, PermissionDenied, ValidationFailed
from xunhuan.ledger.models import LedgerEntry
from xunhuan.transfers.models import Transfer, TransferRevision, TransferSignature
from xunhuan.transfers.revisions import (
    RevisionChanges,
    transfer_revision_approve,
    transfer_revision_reject,
    transfer_revision_request,
    transfer_revision_withdraw,
)
from xunhuan.transfers.services import transfer_collect, transfer_issue

T = Decimal


@pytest.fixture
def p(world: World) -> Party:
    return party(world)


def _in_transit_with_request(p: Party) -> tuple[Transfer, TransferRevision]:
    transfer = new_transfer(p, declared=("100.000",))
    transfer_issue(transfer=transfer, user=p.users["owner"])
    transfer_collect(transfer=transfer, user=p.users["driver"])
    revision = transfer_revision_request(
        transfer=transfer,
        user=p.users["owner"],
        reason="申报量录入错误",
        changes=RevisionChanges(declared={1: T("90.000")}, planned_route="concrete"),
    )
    return transfer, revision


def _document_state(transfer: Transfer) -> dict[str, Any]:
    fresh = Transfer.objects.get(pk=transfer.pk)
    return {
        "status": fresh.status,
        "planned_route": fresh.planned_route,
        "note": fresh.note,
        "declared": [line.declared for line in fresh.lines.order_by("seq")],
        "entries": list(
            LedgerEntry.objects.filter(batch_code=fresh.number)
            .order_by("enterprise_id", "seq")
            .values_list("kind", "quantity")
        ),
    }


def test_the_requester_withdraws_and_the_document_stays_as_it_was(p: Party) -> None:
    transfer, revision = _in_transit_with_request(p)
    before = _document_state(transfer)
    # A colleague of the requesting plant may withdraw for it.
    transfer_revision_withdraw(transfer=transfer, user=p.users["colleague"], revision_seq=1)
    revision.refresh_from_db()
    assert (revision.status, revision.close_reason) == ("withdrawn", "")
    assert revision.closed_by == p.users["colleague"]
    assert revision.closed_by_enterprise == p.world.plant
    assert revision.closed_at is not None
    # History keeps both versions of the withdrawn request.
    assert revision.after == {
        "planned_route": "concrete",
        "planned_disposal_method": "",
        "declared": {"1": "90.000"},
    }
    assert _document_state(transfer) == before
    assert stock(p.world.plant_site) == T("900.000")
    assert list(
        TransferSignature.objects.filter(transfer=transfer).values_list("step_key", flat=True)
    ) == [
        "issue",
        "collect:1",
        f"revision:1:{p.world.plant.credit_code}",
        "revision:1:withdraw",
    ]
    event = AuditEvent.objects.filter(action="transfer.revision_withdraw").get()
    assert (event.object_id, event.enterprise, event.before, event.after) == (
        transfer.number,
        p.world.plant,
        {"revision": 1, "status": "pending"},
        {"revision": 1, "status": "withdrawn", "reason": ""},
    )
    # The document is open for a new request again.
    again = transfer_revision_request(
        transfer=transfer,
        user=p.users["receiver"],
        reason="备注补充",
        changes=RevisionChanges(note="经协商"),
    )
    assert (again.seq, again.status) == (2, "pending")


def test_an_affected_party_rejects_with_a_reason(p: Party) -> None:
    transfer, revision = _in_transit_with_request(p)
    before = _document_state(transfer)
    with pytest.raises(ValidationFailed, match="rejection needs a reason"):
        transfer_revision_reject(
            transfer=transfer, user=p.users["receiver"], revision_seq=1, reason="  "
        )
    transfer_revision_approve(transfer=transfer, user=p.users["carrier"], revision_seq=1)
    transfer_revision_reject(
        transfer=transfer, user=p.users["receiver"], revision_seq=1, reason="过磅前不同意改量"
    )
    revision.refresh_from_db()
    assert (revision.status, revision.close_reason, revision.closed_by_enterprise) == (
        "rejected",
        "过磅前不同意改量",
        p.world.receiver,
    )
    assert _document_state(transfer) == before
    assert stock(p.world.plant_site) == T("900.000")
    assert AuditEvent.objects.filter(action="transfer.revision_reject").get().after == {
        "revision": 1,
        "status": "rejected",
        "reason": "过磅前不同意改量",
    }


def test_who_may_withdraw_and_reject(p: Party) -> None:
    transfer, _revision = _in_transit_with_request(p)
    signatures = TransferSignature.objects.count()
    events = AuditEvent.objects.count()
    for persona in ("receiver", "carrier", "reader", "driver", "outsider", "league_regulator"):
        with pytest.raises(PermissionDenied, match="only the requesting party may withdraw"):
            transfer_revision_withdraw(transfer=transfer, user=p.users[persona], revision_seq=1)
    for persona in ("reader", "driver", "outsider", "league_regulator"):
        with pytest.raises(PermissionDenied, match="only an affected party rejects"):
            transfer_revision_reject(
                transfer=transfer, user=p.users[persona], revision_seq=1, reason="不同意"
            )
    with pytest.raises(Conflict, match="the requester withdraws, not rejects"):
        transfer_revision_reject(
            transfer=transfer, user=p.users["owner"], revision_seq=1, reason="不同意"
        )
    assert TransferRevision.objects.get().status == "pending"
    assert (TransferSignature.objects.count(), AuditEvent.objects.count()) == (signatures, events)


def test_closing_twice_or_out_of_order_is_refused_with_a_clear_error(p: Party) -> None:
    transfer, _revision = _in_transit_with_request(p)
    with pytest.raises(ValidationFailed, match="no such revision"):
        transfer_revision_withdraw(transfer=transfer, user=p.users["owner"], revision_seq=2)
    transfer_revision_withdraw(transfer=transfer, user=p.users["owner"], revision_seq=1)
    state = _document_state(transfer)
    signatures = TransferSignature.objects.count()
    with pytest.raises(Conflict, match="revision 1 is withdrawn: cannot revision_withdraw"):
        transfer_revision_withdraw(transfer=transfer, user=p.users["owner"], revision_seq=1)
    with pytest.raises(Conflict, match="revision 1 is withdrawn: cannot revision_reject"):
        transfer_revision_reject(
            transfer=transfer, user=p.users["receiver"], revision_seq=1, reason="不同意"
        )
    with pytest.raises(Conflict, match="revision 1 is withdrawn: cannot revision_approve"):
        transfer_revision_approve(transfer=transfer, user=p.users["receiver"], revision_seq=1)

    second = transfer_revision_request(
        transfer=transfer,
        user=p.users["owner"],
        reason="再次申请",
        changes=RevisionChanges(note="新备注"),
    )
    transfer_revision_reject(
        transfer=transfer, user=p.users["carrier"], revision_seq=second.seq, reason="不同意"
    )
    with pytest.raises(Conflict, match="revision 2 is rejected: cannot revision_reject"):
        transfer_revision_reject(
            transfer=transfer, user=p.users["receiver"], revision_seq=2, reason="也不同意"
        )
    with pytest.raises(Conflict, match="revision 2 is rejected: cannot revision_withdraw"):
        transfer_revision_withdraw(transfer=transfer, user=p.users["owner"], revision_seq=2)

    third = transfer_revision_request(
        transfer=transfer,
        user=p.users["owner"],
        reason="第三次",
        changes=RevisionChanges(note="最终备注"),
    )
    transfer_revision_approve(transfer=transfer, user=p.users["carrier"], revision_seq=third.seq)
    transfer_revision_approve(transfer=transfer, user=p.users["receiver"], revision_seq=third.seq)
    assert Transfer.objects.get(pk=transfer.pk).note == "最终备注"
    with pytest.raises(Conflict, match="revision 3 is applied: cannot revision_withdraw"):
        transfer_revision_withdraw(transfer=transfer, user=p.users["owner"], revision_seq=3)
    with pytest.raises(Conflict, match="revision 3 is applied: cannot revision_reject"):
        transfer_revision_reject(
            transfer=transfer, user=p.users["receiver"], revision_seq=3, reason="晚了"
        )
    assert state["declared"] == [T("100.000")]
    # History keeps every request with its outcome.
    assert list(
        TransferRevision.objects.filter(transfer=transfer)
        .order_by("seq")
        .values_list("seq", "status", "close_reason")
    ) == [(1, "withdrawn", ""), (2, "rejected", "不同意"), (3, "applied", "")]
    assert TransferSignature.objects.count() == signatures + 1 + 1 + 1 + 2

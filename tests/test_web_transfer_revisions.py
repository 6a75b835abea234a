"""Revisions on the transfer page (issue #3): a party requests one, another approves
or rejects it with a reason, the requester withdraws it — all through the same
services as the API; the page lists every request with its outcome, and a refused
click changes nothing and says why."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from tests.conftest import World
from tests.test_transfers_support import Party, new_transfer, party
from xunhuan.transfers.models import Transfer, TransferRevision
from xunhuan.transfers.services import transfer_collect, transfer_issue

T = Decimal


@pytest.fixture
def p(world: World) -> Party:
    return party(world)


@pytest.fixture
def transfer(p: Party) -> Transfer:
    transfer = new_transfer(p, declared=("100.000",))
    transfer_issue(transfer=transfer, user=p.users["owner"])
    transfer_collect(transfer=transfer, user=p.users["driver"])
    return transfer


def client(p: Party, persona: str) -> Client:
    c = Client()
    c.force_login(p.users[persona])
    return c


def page(p: Party, persona: str, transfer: Transfer) -> str:
    return client(p, persona).get(f"/transfers/{transfer.number}/").content.decode()


def post(p: Party, persona: str, transfer: Transfer, **data: str) -> str:
    c = client(p, persona)
    response = c.post(f"/transfers/{transfer.number}/", data, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_request_then_approve_through_the_page(p: Party, transfer: Transfer) -> None:
    html = page(p, "owner", transfer)
    assert 'id="do-revision-request"' in html
    assert 'name="declared_1"' in html  # before receipt the declared tonnes may change
    post(
        p,
        "owner",
        transfer,
        action="revision_request",
        reason="申报量录入错误",
        declared_1="90.000",
        planned_route="concrete",
    )
    revision = TransferRevision.objects.get()
    assert (revision.status, revision.after) == (
        "pending",
        {"planned_route": "concrete", "planned_disposal_method": "", "declared": {"1": "90.000"}},
    )
    # The requester may withdraw, not reject; the receiver may reject, not withdraw.
    owner_page, receiver_page = page(p, "owner", transfer), page(p, "receiver", transfer)
    assert 'id="do-revision-withdraw"' in owner_page
    assert 'id="do-revision-reject"' not in owner_page
    assert 'id="do-revision-reject"' in receiver_page
    assert 'id="do-revision-withdraw"' not in receiver_page
    assert 'id="do-revision-request"' not in owner_page  # one pending request at a time
    for persona in ("carrier", "receiver"):
        post(p, persona, transfer, action="approve", revision="1")
    revision.refresh_from_db()
    assert revision.status == "applied"
    assert transfer.lines.get().declared == T("90.000")
    assert Transfer.objects.get(pk=transfer.pk).planned_route == "concrete"


def test_reject_with_a_reason_and_withdraw(p: Party, transfer: Transfer) -> None:
    post(p, "receiver", transfer, action="revision_request", reason="备注补充", note="经协商")
    html = post(p, "carrier", transfer, action="revision_reject", revision="1", reason="")
    assert "a rejection needs a reason" in html
    assert TransferRevision.objects.get().status == "pending"
    post(p, "owner", transfer, action="revision_reject", revision="1", reason="不同意")
    html = page(p, "owner", transfer)
    assert TransferRevision.objects.get().status == "rejected"
    assert "不同意" in html
    assert Transfer.objects.get(pk=transfer.pk).note == ""

    post(p, "owner", transfer, action="revision_request", reason="改路线", planned_route="road")
    # An unknown route is refused by the service and nothing is requested.
    assert TransferRevision.objects.count() == 1
    post(p, "owner", transfer, action="revision_request", reason="改路线", planned_route="concrete")
    second = TransferRevision.objects.get(seq=2)
    html = post(p, "receiver", transfer, action="revision_withdraw", revision="2")
    assert "only the requesting party may withdraw" in html
    post(p, "colleague", transfer, action="revision_withdraw", revision="2")
    second.refresh_from_db()
    assert second.status == "withdrawn"
    # Withdrawing again: refused with what became of it.
    html = post(p, "owner", transfer, action="revision_withdraw", revision="2")
    assert "revision 2 is withdrawn: cannot revision_withdraw" in html
    assert Transfer.objects.get(pk=transfer.pk).planned_route == "cement"
    listed = page(p, "league_regulator", transfer)
    assert listed.count('id="revisions"') == 1
    assert 'id="do-revision-request"' not in listed  # regulators read, never sign


def test_outsiders_cannot_reach_the_forms(p: Party, transfer: Transfer) -> None:
    response = client(p, "outsider").post(
        f"/transfers/{transfer.number}/", {"action": "revision_request", "reason": "x"}
    )
    assert response.status_code == 404
    assert not TransferRevision.objects.exists()

"""Transfer documents through the services: lifecycle, ledger writes, signatures,
refusals, discrepancies, revisions, cancellation, deadlines, numbers and audit."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from pytest_django import DjangoAssertNumQueries, Settings

from tests.conftest import World
from tests.test_transfers_support import Party, kinds_for, new_transfer, party, stock
from xunhuan.accounts.models import ApiToken
from xunhuan.accounts.services import token_digest
from xunhuan.audit.models import AuditEvent
from xunhuan.core.errors import Conflict, InsufficientStock, PermissionDenied, ValidationFailed
from xunhuan.ledger.models import LedgerEntry
from xunhuan.ledger.services import ledger_entry_correct, today_in_shanghai
from xunhuan.registry.models import WasteCategory
from xunhuan.transfers import selectors
from xunhuan.transfers.models import Discrepancy, Transfer, TransferSignature
from xunhuan.transfers.revisions import (
    RevisionChanges,
    transfer_discrepancy_settle,
    transfer_revision_approve,
    transfer_revision_request,
)
from xunhuan.transfers.services import (
    CompletionLine,
    LegDraft,
    LineDraft,
    ReceiptLine,
    transfer_cancel,
    transfer_collect,
    transfer_complete,
    transfer_create,
    transfer_issue,
    transfer_receive,
)

T = Decimal


@pytest.fixture
def p(world: World) -> Party:
    return party(world)


def _reload(transfer: Transfer) -> Transfer:
    return Transfer.objects.get(pk=transfer.pk)


def _deliver(p: Party, transfer: Transfer, *, rail: bool = False) -> None:
    transfer_issue(transfer=transfer, user=p.users["owner"])
    transfer_collect(transfer=transfer, user=p.users["driver"])
    if rail:
        transfer_collect(transfer=transfer, user=p.users["rail"])


def test_full_lifecycle_two_wastes_road_then_rail(p: Party) -> None:
    w = p.world
    transfer = new_transfer(p, declared=("100.000", "40.500"), rail=True)
    year = today_in_shanghai().year
    assert transfer.number == f"LD150622-{year}-000001"
    assert transfer.status == "draft"
    assert LedgerEntry.objects.filter(batch_code=transfer.number).count() == 0

    transfer_issue(transfer=transfer, user=p.users["colleague"])
    assert stock(w.plant_site) == T("900.000")
    assert stock(w.plant_site, "SW03") == T("959.500")
    transfer_collect(transfer=transfer, user=p.users["driver"], vehicle="蒙K99999")
    assert _reload(transfer).status == "in_transit"
    transfer_collect(transfer=transfer, user=p.users["rail"])
    transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=w.receiver_site,
        lines=[
            ReceiptLine(1, T("100.000"), T("100.000")),
            ReceiptLine(2, T("40.500"), T("40.500")),
        ],
    )
    done = transfer_complete(
        transfer=transfer,
        user=p.users["receiver"],
        lines=[CompletionLine(2, route="road_base")],
    )

    assert done.status == "completed"
    assert done.decision == "accepted"
    assert [(line.final_route, line.accepted) for line in done.lines.order_by("seq")] == [
        ("cement", T("100.000")),
        ("road_base", T("40.500")),
    ]
    assert kinds_for(transfer.number) == [
        ("准格尔测试电厂", "handed_over", "100.000"),
        ("准格尔测试电厂", "handed_over", "40.500"),
        ("准格尔测试建材厂", "received", "100.000"),
        ("准格尔测试建材厂", "received", "40.500"),
        ("准格尔测试建材厂", "self_utilized", "100.000"),
        ("准格尔测试建材厂", "self_utilized", "40.500"),
    ]
    assert stock(w.receiver_site) == T("0.000")
    signatures = list(done.signatures.order_by("seq").values_list("step_key", "signer_name"))
    assert signatures == [
        ("issue", "colleague"),
        ("collect:1", "driver"),
        ("collect:2", "rail"),
        ("receive", "receiver"),
        ("complete", "receiver"),
    ]
    assert selectors.transfer_signatures_verify(transfer=done) is None
    assert selectors.transfer_ledger_totals(transfer=done) == {
        "handed_over": T("140.500"),
        "returned": T("0.000"),
        "received": T("140.500"),
        "finished": T("140.500"),
    }
    leg = done.legs.get(seq=1)
    assert (leg.vehicle, leg.collected_on) == ("蒙K99999", today_in_shanghai())


def test_disposal_document_writes_self_disposed(p: Party) -> None:
    transfer = new_transfer(p, declared=("12.345",), disposal=True)
    _deliver(p, transfer)
    transfer_receive(
        transfer=transfer,
        user=p.users["disposer"],
        receiver_site=p.landfill,
        lines=[ReceiptLine(1, T("12.345"), T("12.345"))],
    )
    transfer_complete(transfer=transfer, user=p.users["disposer"])
    assert kinds_for(transfer.number)[-1] == ("测试处置场", "self_disposed", "12.345")
    entry = LedgerEntry.objects.get(batch_code=transfer.number, kind="self_disposed")
    assert entry.disposal_method == "landfill"


def test_signing_the_same_step_twice_is_refused(p: Party) -> None:
    transfer = new_transfer(p)
    transfer_issue(transfer=transfer, user=p.users["owner"])
    with pytest.raises(Conflict) as issued_twice:
        transfer_issue(transfer=transfer, user=p.users["owner"])
    assert issued_twice.value.message == (
        f"联单{transfer.number}当前状态为“已开具（待运输）”，不能产生单位开具 / "
        "document is issued: cannot issue"
    )
    transfer_collect(transfer=transfer, user=p.users["carrier"])
    with pytest.raises(Conflict) as collected_twice:
        transfer_collect(transfer=transfer, user=p.users["driver"])
    assert collected_twice.value.message == (
        f"联单{transfer.number}的各运输环节均已签署 / every leg is already collected"
    )
    transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(1, T("100.000"), T("100.000"))],
    )
    with pytest.raises(Conflict, match="document is received: cannot receive"):
        transfer_receive(
            transfer=transfer,
            user=p.users["receiver"],
            receiver_site=p.world.receiver_site,
            lines=[ReceiptLine(1, T("100.000"), T("100.000"))],
        )
    assert kinds_for(transfer.number) == [
        ("准格尔测试电厂", "handed_over", "100.000"),
        ("准格尔测试建材厂", "received", "100.000"),
    ]
    assert transfer.signatures.count() == 3


def test_steps_out_of_order_are_refused(p: Party) -> None:
    transfer = new_transfer(p, rail=True)
    with pytest.raises(Conflict, match="document is draft: cannot collect"):
        transfer_collect(transfer=transfer, user=p.users["driver"])
    transfer_issue(transfer=transfer, user=p.users["owner"])
    with pytest.raises(Conflict) as rail_first:
        transfer_collect(transfer=transfer, user=p.users["rail"])
    assert rail_first.value.message == (
        "须由第1段运输单位鄂尔多斯测试运输公司先接运 / leg 1 must be collected first"
    )
    with pytest.raises(Conflict, match="document is issued: cannot receive"):
        transfer_receive(
            transfer=transfer,
            user=p.users["receiver"],
            receiver_site=p.world.receiver_site,
            lines=[ReceiptLine(1, T("100.000"), T("100.000"))],
        )
    transfer_collect(transfer=transfer, user=p.users["driver"])
    with pytest.raises(Conflict, match="a carrier has not collected its leg yet"):
        transfer_receive(
            transfer=transfer,
            user=p.users["receiver"],
            receiver_site=p.world.receiver_site,
            lines=[ReceiptLine(1, T("100.000"), T("100.000"))],
        )
    with pytest.raises(Conflict, match="document is in_transit: cannot complete"):
        transfer_complete(transfer=transfer, user=p.users["receiver"])
    assert list(transfer.signatures.values_list("step_key", flat=True)) == ["issue", "collect:1"]


@pytest.mark.parametrize(
    ("persona", "step"),
    [
        ("driver", "issue"),
        ("reader", "issue"),
        ("carrier", "issue"),
        ("receiver", "issue"),
        ("league_regulator", "issue"),
        ("outsider", "issue"),
        ("driver", "receive"),
        ("owner", "receive"),
        ("owner", "collect"),
        ("reader", "collect"),
    ],
)
def test_only_the_right_party_and_role_signs(p: Party, persona: str, step: str) -> None:
    transfer = new_transfer(p)
    if step != "issue":
        transfer_issue(transfer=transfer, user=p.users["owner"])
    if step == "receive":
        transfer_collect(transfer=transfer, user=p.users["driver"])
    before = (TransferSignature.objects.count(), LedgerEntry.objects.count())
    user = p.users[persona]
    sign: Callable[[], Transfer] = {
        "issue": lambda: transfer_issue(transfer=transfer, user=user),
        "collect": lambda: transfer_collect(transfer=transfer, user=user),
        "receive": lambda: transfer_receive(
            transfer=transfer,
            user=user,
            receiver_site=p.world.receiver_site,
            lines=[ReceiptLine(1, T("100.000"), T("100.000"))],
        ),
    }[step]
    with pytest.raises(PermissionDenied):
        sign()
    assert (TransferSignature.objects.count(), LedgerEntry.objects.count()) == before


def test_receiver_must_utilize_or_dispose_and_carriers_must_carry(p: Party) -> None:
    w = p.world
    line = LineDraft(
        waste=WasteCategory.objects.get(code="SW02"), source_site=w.plant_site, declared=T("1")
    )
    road = LegDraft(carrier=w.carrier, mode="road")
    with pytest.raises(ValidationFailed, match="receiver is not a registered utilizer"):
        transfer_create(
            user=p.users["owner"],
            generator=w.plant,
            receiver=w.disposer,
            purpose="utilization",
            planned_route="cement",
            legs=[road],
            lines=[line],
        )
    with pytest.raises(ValidationFailed, match="receiver is not a registered disposer"):
        transfer_create(
            user=p.users["owner"],
            generator=w.plant,
            receiver=w.receiver,
            purpose="disposal",
            planned_disposal_method="landfill",
            legs=[road],
            lines=[line],
        )
    with pytest.raises(ValidationFailed, match="not a registered carrier"):
        transfer_create(
            user=p.users["owner"],
            generator=w.plant,
            receiver=w.receiver,
            purpose="utilization",
            planned_route="cement",
            legs=[LegDraft(carrier=w.receiver, mode="road")],
            lines=[line],
        )
    with pytest.raises(ValidationFailed, match="source site belongs to another enterprise"):
        transfer_create(
            user=p.users["owner"],
            generator=w.plant,
            receiver=w.receiver,
            purpose="utilization",
            planned_route="cement",
            legs=[road],
            lines=[LineDraft(waste=line.waste, source_site=w.receiver_site, declared=T("1.000"))],
        )
    assert Transfer.objects.count() == 0


def test_issue_without_stock_changes_nothing(p: Party) -> None:
    transfer = new_transfer(p, declared=("1000.001",))
    with pytest.raises(InsufficientStock):
        transfer_issue(transfer=transfer, user=p.users["owner"])
    assert _reload(transfer).status == "draft"
    assert transfer.signatures.count() == 0
    assert AuditEvent.objects.filter(action="transfer.issue").count() == 0
    assert stock(p.world.plant_site) == T("1000.000")


def test_partly_accepted_load_returns_refused_tonnes_to_the_generator(p: Party) -> None:
    w = p.world
    transfer = new_transfer(p, declared=("100.000",))
    _deliver(p, transfer)
    with pytest.raises(ValidationFailed, match="refusal needs a reason"):
        transfer_receive(
            transfer=transfer,
            user=p.users["receiver"],
            receiver_site=w.receiver_site,
            lines=[ReceiptLine(1, T("100.000"), T("70.000"))],
        )
    done = transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=w.receiver_site,
        lines=[ReceiptLine(1, T("100.000"), T("70.000"))],
        refusal_reason="含水率超标",
    )
    assert (done.decision, done.refusal_reason) == ("partly_accepted", "含水率超标")
    assert stock(w.plant_site) == T("930.000")
    assert stock(w.receiver_site) == T("70.000")
    assert kinds_for(transfer.number) == [
        ("准格尔测试电厂", "handed_over", "100.000"),
        ("准格尔测试电厂", "received", "30.000"),
        ("准格尔测试建材厂", "received", "70.000"),
    ]
    returned = LedgerEntry.objects.get(batch_code=transfer.number, kind="received", quantity=30)
    assert (returned.site, returned.counterparty) == (w.plant_site, w.receiver)
    transfer_complete(transfer=transfer, user=p.users["receiver"])
    assert stock(w.receiver_site) == T("0.000")


def test_refused_load_needs_no_completion(p: Party) -> None:
    transfer = new_transfer(p)
    _deliver(p, transfer)
    done = transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(1, T("100.000"), T("0.000"))],
        refusal_reason="非约定废物",
    )
    assert (done.decision, done.completion_due) == ("refused", None)
    assert stock(p.world.plant_site) == T("1000.000")
    with pytest.raises(Conflict, match="nothing to complete"):
        transfer_complete(transfer=transfer, user=p.users["receiver"])


def test_weight_within_tolerance_adjusts_the_handover_without_a_discrepancy(p: Party) -> None:
    transfer = new_transfer(p, declared=("100.000",))
    _deliver(p, transfer)
    transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(1, T("98.000"), T("98.000"))],  # exactly 2 %
    )
    assert Discrepancy.objects.count() == 0
    assert kinds_for(transfer.number) == [
        ("准格尔测试电厂", "handed_over", "100.000"),
        ("准格尔测试电厂", "handed_over", "-100.000"),
        ("准格尔测试电厂", "handed_over", "98.000"),
        ("准格尔测试建材厂", "received", "98.000"),
    ]
    assert stock(p.world.plant_site) == T("902.000")
    transfer_complete(transfer=transfer, user=p.users["receiver"])


def test_discrepancy_blocks_completion_until_both_parties_settle(
    p: Party, settings: Settings
) -> None:
    settings.XUNHUAN_TRANSFER_TOLERANCE_PERCENT = "1"
    transfer = new_transfer(p, declared=("100.000",))
    _deliver(p, transfer)
    transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(1, T("101.500"), T("101.500"))],
    )
    (gap,) = Discrepancy.objects.all()
    assert (gap.declared, gap.weighed, gap.tolerance_percent) == (T("100"), T("101.5"), T("1"))
    with pytest.raises(Conflict, match="the weight discrepancy is not settled"):
        transfer_complete(transfer=transfer, user=p.users["receiver"])
    with pytest.raises(PermissionDenied):
        transfer_discrepancy_settle(transfer=transfer, user=p.users["carrier"], note="x")
    transfer_discrepancy_settle(transfer=transfer, user=p.users["owner"], note="装车时未扣皮重")
    with pytest.raises(Conflict, match="already settled by this party"):
        transfer_discrepancy_settle(transfer=transfer, user=p.users["colleague"], note="再次")
    with pytest.raises(Conflict, match="not settled"):
        transfer_complete(transfer=transfer, user=p.users["receiver"])
    transfer_discrepancy_settle(transfer=transfer, user=p.users["receiver"], note="同意按过磅量")
    gap.refresh_from_db()
    assert gap.settled_at is not None
    transfer_complete(transfer=transfer, user=p.users["receiver"])
    assert stock(p.world.plant_site) == T("898.500")
    with pytest.raises(Conflict, match="no open discrepancy"):
        transfer_discrepancy_settle(transfer=transfer, user=p.users["owner"], note="again")


def test_cancel_before_receipt_reverses_the_handover(p: Party) -> None:
    transfer = new_transfer(p)
    _deliver(p, transfer)
    assert stock(p.world.plant_site) == T("900.000")
    with pytest.raises(PermissionDenied):
        transfer_cancel(transfer=transfer, user=p.users["receiver"], reason="x")
    transfer_cancel(transfer=transfer, user=p.users["owner"], reason="车辆故障，改日转移")
    assert stock(p.world.plant_site) == T("1000.000")
    assert _reload(transfer).status == "cancelled"
    reversal = LedgerEntry.objects.get(batch_code=transfer.number, quantity__lt=0)
    assert reversal.reason == (
        f"联单{transfer.number}作废：车辆故障，改日转移 / document cancelled"
    )
    with pytest.raises(Conflict, match="only a document not yet received can be cancelled"):
        transfer_cancel(transfer=transfer, user=p.users["owner"], reason="again")


def test_cancel_after_receipt_is_refused(p: Party) -> None:
    transfer = new_transfer(p)
    _deliver(p, transfer)
    transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(1, T("100.000"), T("100.000"))],
    )
    with pytest.raises(Conflict, match=r"can be cancelled \(received\)"):
        transfer_cancel(transfer=transfer, user=p.users["owner"], reason="改主意")
    assert _reload(transfer).status == "received"


def test_revision_needs_every_affected_party_and_keeps_both_versions(p: Party) -> None:
    transfer = new_transfer(p, declared=("100.000",))
    _deliver(p, transfer)
    revision = transfer_revision_request(
        transfer=transfer,
        user=p.users["owner"],
        reason="申报量录入错误",
        changes=RevisionChanges(declared={1: T("90.000")}, planned_route="concrete"),
    )
    assert revision.approvers == [
        p.world.plant.credit_code,
        p.world.carrier.credit_code,
        p.world.receiver.credit_code,
    ]
    assert (revision.before, revision.after) == (
        {
            "planned_route": "cement",
            "planned_disposal_method": "",
            "declared": {"1": "100.000"},
        },
        {"planned_route": "concrete", "planned_disposal_method": "", "declared": {"1": "90.000"}},
    )
    with pytest.raises(Conflict, match="already approved by this party"):
        transfer_revision_approve(transfer=transfer, user=p.users["colleague"], revision_seq=1)
    with pytest.raises(PermissionDenied):
        transfer_revision_approve(transfer=transfer, user=p.users["outsider"], revision_seq=1)
    with pytest.raises(PermissionDenied):  # a driver signs transport only
        transfer_revision_approve(transfer=transfer, user=p.users["driver"], revision_seq=1)
    transfer_revision_approve(transfer=transfer, user=p.users["carrier"], revision_seq=1)
    assert _reload(transfer).planned_route == "cement"  # not yet: the receiver must agree
    assert stock(p.world.plant_site) == T("900.000")
    transfer_revision_approve(transfer=transfer, user=p.users["receiver"], revision_seq=1)
    revision.refresh_from_db()
    assert revision.status == "applied"
    assert _reload(transfer).planned_route == "concrete"
    assert transfer.lines.get().declared == T("90.000")
    assert stock(p.world.plant_site) == T("910.000")
    assert selectors.transfer_ledger_totals(transfer=transfer)["handed_over"] == T("90.000")
    with pytest.raises(Conflict, match="revision 1 is applied: cannot revision_approve"):
        transfer_revision_approve(transfer=transfer, user=p.users["receiver"], revision_seq=1)


def test_declared_tonnes_cannot_be_revised_after_receipt(p: Party) -> None:
    transfer = new_transfer(p)
    _deliver(p, transfer)
    transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(1, T("100.000"), T("100.000"))],
    )
    with pytest.raises(Conflict, match="declared tonnes change only before receipt"):
        transfer_revision_request(
            transfer=transfer,
            user=p.users["owner"],
            reason="改",
            changes=RevisionChanges(declared={1: T("1.000")}),
        )


def test_overdue_documents_for_parties_and_regulators(p: Party) -> None:
    today = today_in_shanghai()
    late = new_transfer(p)
    transfer_issue(transfer=late, user=p.users["owner"], today=today - dt.timedelta(days=8))
    in_time = new_transfer(p)
    transfer_issue(transfer=in_time, user=p.users["owner"], today=today - dt.timedelta(days=7))
    slow = new_transfer(p)
    _deliver(p, slow)
    transfer_receive(
        transfer=slow,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(1, T("100.000"), T("100.000"))],
        today=today,
    )
    for persona, expected in {
        "owner": [late.number],
        "receiver": [late.number],
        "driver": [late.number],
        "league_regulator": [late.number],
        "other_league_regulator": [],
    }.items():
        visible = selectors.transfers_visible_to(p.users[persona])
        found = selectors.transfers_overdue(transfers=visible, today=today)
        assert [t.number for t in found] == expected, persona
    later = today + dt.timedelta(days=31)
    visible = selectors.transfers_visible_to(p.users["province_regulator"])
    assert [t.number for t in selectors.transfers_overdue(transfers=visible, today=later)] == [
        late.number,
        in_time.number,
        slow.number,
    ]


def test_numbers_count_per_region_and_year_and_never_repeat(p: Party) -> None:
    first = new_transfer(p)
    transfer_cancel(transfer=first, user=p.users["owner"], reason="作废")
    second = new_transfer(p)
    year = today_in_shanghai().year
    assert (first.number, second.number) == (
        f"LD150622-{year}-000001",
        f"LD150622-{year}-000002",
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM transfers_transfersignature")
    third = new_transfer(p)
    assert third.number == f"LD150622-{year}-000003"


def test_every_write_is_audited_with_before_and_after(p: Party) -> None:
    transfer = new_transfer(p)
    _deliver(p, transfer)
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor__username"))
    assert events == [
        ("ledger.post", None),  # the plant's opening stock, posted by the fixture
        ("transfer.create", "owner"),
        ("ledger.post", "owner"),  # the hand-over the issue writes to the plant's ledger
        ("transfer.issue", "owner"),
        ("transfer.collect", "driver"),
    ]
    collect = AuditEvent.objects.get(action="transfer.collect")
    assert collect.before is not None
    assert collect.after is not None
    assert (collect.before["status"], collect.after["status"]) == ("issued", "in_transit")
    assert collect.enterprise == p.world.carrier
    assert collect.object_id == transfer.number


def test_a_changed_signature_breaks_the_chain(p: Party) -> None:
    transfer = new_transfer(p)
    _deliver(p, transfer)
    assert selectors.transfer_signatures_verify(transfer=transfer) is None
    TransferSignature.objects.filter(transfer=transfer, seq=1).update(
        payload='{"issued_on":"2020-01-01"}'
    )
    broken = selectors.transfer_signatures_verify(transfer=transfer)
    assert broken is not None
    assert (broken.seq, broken.label, broken.problem) == (
        1,
        "issue",
        "contents changed since it was recorded",
    )


def test_list_query_count_does_not_grow_with_documents(
    p: Party, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for _ in range(4):
        _deliver(p, new_transfer(p, rail=True))
    visible = selectors.transfers_visible_to(p.users["province_regulator"])
    with django_assert_num_queries(5):
        rows = list(selectors.transfers_list(transfers=visible))
        assert [len(t.legs.all()) + len(t.lines.all()) for t in rows] == [3, 3, 3, 3]


def test_check_finds_a_ledger_changed_outside_the_document(p: Party) -> None:
    transfer = new_transfer(p)
    _deliver(p, transfer)
    out = io.StringIO()
    call_command("transfers_verify", stdout=out)
    assert out.getvalue() == "核对1份联单 / checked 1 documents: OK\n"
    handed = LedgerEntry.objects.get(batch_code=transfer.number)
    ledger_entry_correct(entry=handed, reason="台账直接更正", recorded_by=p.users["owner"])
    number = transfer.number
    assert selectors.transfers_check(transfers=Transfer.objects.all()) == [
        f"{number}: 台账与联单不符 / ledger disagrees: 转出、退回、接收、利用处置 / handed over, "
        "returned, received, finished 0.000 / 0.000 / 0.000 / 0.000, "
        "应为 / expected 100.000 / 0.000 / 0.000 / 0.000",
        f"{number}: 2条台账记录中1条关联联单 / 1 ledger entries not linked to the document",
    ]
    with pytest.raises(CommandError, match="2 problem"):
        call_command("transfers_verify", stdout=io.StringIO())


def test_api_token_command_creates_lists_and_revokes(p: Party) -> None:
    out = io.StringIO()
    call_command("api_token", "carrier", "--create", "调度系统", stdout=out)
    token_id, raw = out.getvalue().split("\n")[0].split(" ")
    assert raw.startswith("xh_")
    assert ApiToken.objects.get(public_id=token_id).key_hash == token_digest(raw)
    call_command("api_token", "carrier", "--revoke", token_id, stdout=io.StringIO())
    listed = io.StringIO()
    call_command("api_token", "carrier", "--list", stdout=listed)
    assert listed.getvalue() == f"{token_id} {raw[:10]}… 调度系统 revoked\n"
    with pytest.raises(CommandError, match="token not found"):
        call_command("api_token", "owner", "--revoke", token_id, stdout=io.StringIO())

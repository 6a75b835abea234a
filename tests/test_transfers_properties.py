"""Ledger and transfers never disagree, whatever sequence of transfer operations runs
(hypothesis state machine).

Any operation may be refused (wrong step, wrong party, not enough stock); a refused
operation must change nothing. After every step, summed in SQL from the raw ledger
entries carrying each document's number:

* the generator's outgoing tonnes equal the receivers' accepted tonnes plus the
  refused tonnes returned to it, plus what is still on its way (declared tonnes of
  issued documents not yet received);
* per document, the ledger holds exactly what the document says for its state;
* every ledger entry of a document is linked to it, and every signature chain verifies;
* the plant's stock equals what it generated minus what left plus what came back.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.conftest import World
from tests.test_transfers_support import Party, new_transfer, party, stock
from xunhuan.core.errors import DomainError
from xunhuan.core.units import kg_to_tonnes
from xunhuan.ledger.models import LedgerEntry
from xunhuan.transfers.models import Transfer, TransferLedgerLink, TransferSignature
from xunhuan.transfers.revisions import (
    RevisionChanges,
    transfer_discrepancy_settle,
    transfer_revision_approve,
    transfer_revision_request,
)
from xunhuan.transfers.selectors import transfer_signatures_verify, transfers_check
from xunhuan.transfers.services import (
    ReceiptLine,
    transfer_cancel,
    transfer_collect,
    transfer_complete,
    transfer_issue,
    transfer_receive,
)

ZERO = Decimal("0.000")
GENERATED = Decimal("300.000")  # per waste, at the plant's boiler
amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("120"), places=3)
# Weighed = declared x factor: inside and outside the 2 % tolerance, both ways.
factors = st.sampled_from(["1", "0.99", "0.98", "0.9", "1.01", "1.05"])
shares = st.sampled_from(["1", "0.5", "0"])


def ledger_sums(
    number: str | list[str], enterprise_id: int, waste_code: str | None = None
) -> dict[str, Decimal]:
    """Net tonnes per kind of one enterprise's entries for documents, from the raw table."""
    numbers = [number] if isinstance(number, str) else number
    if not numbers:
        return {}
    marks = ", ".join(["%s"] * len(numbers))
    waste_sql = " AND waste_id = %s" if waste_code else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kind, SUM(quantity_kg) FROM {LedgerEntry._meta.db_table} "  # noqa: S608
            f"WHERE batch_code IN ({marks}) AND enterprise_id = %s{waste_sql} GROUP BY kind",
            [*numbers, enterprise_id, *([waste_code] if waste_code else [])],
        )
        return {kind: kg_to_tonnes(int(kg)) for kind, kg in cursor.fetchall()}


class TransferMachine(RuleBasedStateMachine):
    p: Party

    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.numbers: list[str] = []
        self.refused = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    def _pick(self, data: st.DataObject) -> Transfer | None:
        if not self.numbers:
            return None
        number = data.draw(st.sampled_from(self.numbers), label="document")
        return Transfer.objects.get(number=number)

    def _attempt(self, operation: Callable[[], Any]) -> None:
        """Run an operation; if the domain refuses it, nothing may have changed."""
        before = (LedgerEntry.objects.count(), TransferSignature.objects.count())
        try:
            with transaction.atomic():
                operation()
        except DomainError:
            self.refused += 1
            assert (LedgerEntry.objects.count(), TransferSignature.objects.count()) == before

    @rule(
        first=amounts,
        second=st.none() | amounts,
        rail=st.booleans(),
        disposal=st.booleans(),
    )
    def create(self, first: Decimal, second: Decimal | None, rail: bool, disposal: bool) -> None:
        declared = (str(first),) if second is None else (str(first), str(second))
        transfer = new_transfer(self.p, declared=declared, rail=rail, disposal=disposal)
        self.numbers.append(transfer.number)

    def _receiver(self, transfer: Transfer) -> str:
        return "disposer" if transfer.purpose == "disposal" else "receiver"

    def _receive(self, transfer: Transfer, user: Any, factor: str, share: str) -> None:
        site = self.p.landfill if transfer.purpose == "disposal" else self.p.world.receiver_site
        lines = []
        for line in transfer.lines.order_by("seq"):
            weighed = max((line.declared * Decimal(factor)).quantize(ZERO), Decimal("0.001"))
            lines.append(ReceiptLine(line.seq, weighed, (weighed * Decimal(share)).quantize(ZERO)))
        transfer_receive(
            transfer=transfer,
            user=user,
            receiver_site=site,
            lines=lines,
            refusal_reason="不符合接收标准" if share != "1" else "",
        )

    def _next_step(self, transfer: Transfer, factor: str, share: str) -> None:
        users = self.p.users
        receiver = users[self._receiver(transfer)]
        pending = transfer.legs.filter(collected_on__isnull=True).order_by("seq").first()
        if transfer.status == "draft":
            transfer_issue(transfer=transfer, user=users["owner"])
        elif transfer.status in ("issued", "in_transit") and pending is not None:
            signer = users["driver"] if pending.seq == 1 else users["rail"]
            transfer_collect(transfer=transfer, user=signer)
        elif transfer.status == "in_transit":
            self._receive(transfer, receiver, factor, share)
        elif transfer.status == "received":
            for user in (users["owner"], receiver):
                if transfer.lines.filter(
                    discrepancy__isnull=False, discrepancy__settled_at__isnull=True
                ).exists():
                    transfer_discrepancy_settle(transfer=transfer, user=user, note="确认")
            transfer_complete(transfer=transfer, user=receiver)

    @rule(data=st.data(), factor=factors, share=shares, steps=st.integers(1, 5))
    def advance(self, data: st.DataObject, factor: str, share: str, steps: int) -> None:
        """The next ``steps`` steps of an open document, each signed by the right party."""
        open_numbers = list(
            Transfer.objects.filter(number__in=self.numbers)
            .exclude(status__in=["completed", "cancelled"])
            .values_list("number", flat=True)
        )
        if not open_numbers:
            return
        number = data.draw(st.sampled_from(sorted(open_numbers)), label="open document")
        for _ in range(steps):
            self._attempt(
                lambda: self._next_step(Transfer.objects.get(number=number), factor, share)
            )

    @rule(
        data=st.data(),
        persona=st.sampled_from(
            ["owner", "reader", "driver", "rail", "carrier", "receiver", "disposer", "outsider"]
        ),
        operation=st.sampled_from(["issue", "collect", "receive", "complete", "settle", "cancel"]),
        factor=factors,
        share=shares,
    )
    def anyone_signs_anything(
        self, data: st.DataObject, persona: str, operation: str, factor: str, share: str
    ) -> None:
        """Any user tries any step: the wrong ones must be refused and change nothing."""
        transfer = self._pick(data)
        if transfer is None:
            return
        user = self.p.users[persona]
        operations: dict[str, Callable[[], Any]] = {
            "issue": lambda: transfer_issue(transfer=transfer, user=user),
            "collect": lambda: transfer_collect(transfer=transfer, user=user),
            "receive": lambda: self._receive(transfer, user, factor, share),
            "complete": lambda: transfer_complete(transfer=transfer, user=user),
            "settle": lambda: transfer_discrepancy_settle(
                transfer=transfer, user=user, note="确认"
            ),
            "cancel": lambda: transfer_cancel(transfer=transfer, user=user, reason="作废"),
        }
        self._attempt(operations[operation])

    @rule(data=st.data(), declared=amounts)
    def revise(self, data: st.DataObject, declared: Decimal) -> None:
        """The generator asks to change line 1's declared tonnes; every party approves."""
        transfer = self._pick(data)
        if transfer is None:
            return

        def revise_and_approve() -> None:
            revision = transfer_revision_request(
                transfer=transfer,
                user=self.p.users["owner"],
                reason="更正申报量",
                changes=RevisionChanges(declared={1: declared}),
            )
            receiver = "disposer" if transfer.purpose == "disposal" else "receiver"
            for persona in ("carrier", "rail", receiver):
                if persona == "rail" and self.p.rail.credit_code not in revision.approvers:
                    continue
                transfer_revision_approve(
                    transfer=transfer, user=self.p.users[persona], revision_seq=revision.seq
                )

        self._attempt(revise_and_approve)

    @invariant()
    def ledger_and_transfers_agree(self) -> None:
        plant = self.p.world.plant
        outgoing = returned = accepted_total = in_transit = ZERO
        for transfer in Transfer.objects.filter(number__in=self.numbers):
            lines = list(transfer.lines.all())
            at_plant = ledger_sums(transfer.number, plant.pk)
            at_receiver = ledger_sums(transfer.number, transfer.receiver_id)
            handed = at_plant.get("handed_over", ZERO)
            back = at_plant.get("received", ZERO)
            received = at_receiver.get("received", ZERO)
            finished = at_receiver.get("self_utilized", ZERO) + at_receiver.get(
                "self_disposed", ZERO
            )
            declared = sum((line.declared for line in lines), ZERO)
            accepted = sum((line.accepted or ZERO for line in lines), ZERO)
            refused = sum((line.refused or ZERO for line in lines), ZERO)
            weighed = sum((line.weighed or ZERO for line in lines), ZERO)
            status = transfer.status
            if status in ("draft", "cancelled"):
                assert (handed, back, received, finished) == (ZERO, ZERO, ZERO, ZERO)
            elif status in ("issued", "in_transit"):
                assert (handed, back, received, finished) == (declared, ZERO, ZERO, ZERO)
                in_transit += declared
            else:
                assert handed == weighed == accepted + refused
                assert (back, received) == (refused, accepted)
                assert finished == (accepted if status == "completed" else ZERO)
            outgoing += handed
            returned += back
            accepted_total += received
        # The identity of the issue: outgoing == accepted + refused-and-returned (+ on the way).
        assert outgoing == accepted_total + returned + in_transit
        links = TransferLedgerLink.objects.filter(transfer__number__in=self.numbers).count()
        assert links == LedgerEntry.objects.filter(batch_code__in=self.numbers).count()
        for waste_code in ("SW02", "SW03"):
            sums = ledger_sums(self.numbers, plant.pk, waste_code)
            left = sums.get("handed_over", ZERO) - sums.get("received", ZERO)
            assert stock(self.p.world.plant_site, waste_code) == GENERATED - left

    @invariant()
    def signatures_verify(self) -> None:
        for transfer in Transfer.objects.filter(number__in=self.numbers):
            assert transfer_signatures_verify(transfer=transfer) is None
        # The shipped check (manage.py transfers_verify) agrees with the sums above.
        assert transfers_check(transfers=Transfer.objects.filter(number__in=self.numbers)) == []


def test_ledger_and_transfers_never_disagree(world: World) -> None:
    machine = type("Machine", (TransferMachine,), {"p": party(world, stock=str(GENERATED))})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

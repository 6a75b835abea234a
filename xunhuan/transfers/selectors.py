"""Reads of transfer documents. Every read starts from ``transfers_visible_to``: a
document is visible to the members of any of its parties (generator, carriers,
receiver) and to the regulators whose region subtree holds one of them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet, Sum

from xunhuan.accounts.selectors import User, enterprises_visible_to
from xunhuan.core.chain import ChainBreak, ChainLink, verify_links
from xunhuan.core.errors import NotFound
from xunhuan.core.units import format_tonnes
from xunhuan.ledger.models import EntryKind, LedgerEntry
from xunhuan.transfers.models import (
    Discrepancy,
    RevisionStatus,
    Transfer,
    TransferLeg,
    TransferLine,
    TransferRevision,
    TransferSignature,
    TransferStatus,
)
from xunhuan.transfers.services import signature_fields

ZERO = Decimal("0.000")


def transfers_visible_to(user: User) -> QuerySet[Transfer]:
    """Documents the user may read (see module docstring)."""
    visible = enterprises_visible_to(user)
    carried = TransferLeg.objects.filter(carrier__in=visible).values("transfer_id")
    return Transfer.objects.filter(
        Q(generator__in=visible) | Q(receiver__in=visible) | Q(pk__in=carried)
    )


def _with_details(rows: QuerySet[Transfer]) -> QuerySet[Transfer]:
    return rows.select_related("generator", "receiver", "receiver_site").prefetch_related(
        Prefetch("legs", queryset=TransferLeg.objects.select_related("carrier").order_by("seq")),
        Prefetch(
            "lines",
            queryset=TransferLine.objects.select_related("source_site", "discrepancy").order_by(
                "seq"
            ),
        ),
        Prefetch(
            "signatures",
            queryset=TransferSignature.objects.select_related("enterprise").order_by("seq"),
        ),
        "revisions",
    )


def transfers_list(
    *, transfers: QuerySet[Transfer], status: str | None = None
) -> QuerySet[Transfer]:
    """Visible documents, newest first, with legs, lines and signatures prefetched
    (a fixed number of queries whatever the page size)."""
    rows = transfers
    if status:
        rows = rows.filter(status=status)
    return _with_details(rows).order_by("-created_at", "-id")


def transfer_get(*, transfers: QuerySet[Transfer], number: str) -> Transfer:
    found = _with_details(transfers.filter(number=number)).first()
    if found is None:
        # The same answer whether it does not exist or belongs to others: no probing.
        raise NotFound("联单不存在或无权查看 / transfer document not found", field="number")
    return found


def transfers_overdue(*, transfers: QuerySet[Transfer], today: dt.date) -> QuerySet[Transfer]:
    """Open documents past their receipt deadline, or received ones past their
    utilization/disposal deadline, most overdue first."""
    late = Q(status__in=[TransferStatus.ISSUED, TransferStatus.IN_TRANSIT], receipt_due__lt=today)
    late |= Q(status=TransferStatus.RECEIVED, completion_due__lt=today)
    return _with_details(transfers.filter(late)).order_by("receipt_due", "completion_due", "id")


def transfers_disputed(*, transfers: QuerySet[Transfer]) -> QuerySet[Transfer]:
    """Documents in dispute between their parties: a weighed quantity outside the
    tolerance not yet settled by both sides, or a revision waiting for the parties'
    approval; oldest first (the longest-running dispute heads the list)."""
    weight = Discrepancy.objects.filter(settled_at__isnull=True).values("line__transfer_id")
    revision = TransferRevision.objects.filter(status=RevisionStatus.PENDING).values("transfer_id")
    disputed = transfers.filter(Q(pk__in=weight) | Q(pk__in=revision))
    return _with_details(disputed).order_by("created_at", "id")


def transfer_signatures_verify(*, transfer: Transfer) -> ChainBreak | None:
    """Walk the document's signature chain; the first break, or ``None`` if intact."""
    rows = TransferSignature.objects.filter(transfer=transfer).select_related("transfer")
    links = (
        ChainLink(
            seq=s.seq,
            prev_hash=s.prev_hash,
            hash=s.hash,
            fields=signature_fields(s),
            label=s.step_key,
        )
        for s in rows.order_by("seq")
    )
    return verify_links(links, head_seq=None, head_hash=None)


def open_discrepancies(*, transfer: Transfer) -> QuerySet[Discrepancy]:
    return Discrepancy.objects.filter(line__transfer=transfer, settled_at__isnull=True)


def transfer_ledger_totals(*, transfer: Transfer) -> dict[str, Decimal]:
    """Net tonnes the ledgers hold for the document, summed in SQL from the entries
    carrying its number: what the generator handed over (net of corrections), what
    came back to it, what the receiver received and what it utilized or disposed of."""
    entries = LedgerEntry.objects.filter(batch_code=transfer.number)

    def total(rows: QuerySet[LedgerEntry]) -> Decimal:
        value = rows.aggregate(total=Sum("quantity"))["total"]
        return value if value is not None else ZERO

    at_generator = entries.filter(enterprise_id=transfer.generator_id)
    at_receiver = entries.filter(enterprise_id=transfer.receiver_id)
    return {
        "handed_over": total(at_generator.filter(kind=EntryKind.HANDED_OVER)),
        "returned": total(at_generator.filter(kind=EntryKind.RECEIVED)),
        "received": total(at_receiver.filter(kind=EntryKind.RECEIVED)),
        "finished": total(
            at_receiver.filter(kind__in=[EntryKind.SELF_UTILIZED, EntryKind.SELF_DISPOSED])
        ),
    }


def _tonnes_text(values: tuple[Decimal, ...]) -> str:
    return " / ".join(format_tonnes(v) for v in values)


def transfers_check(*, transfers: QuerySet[Transfer]) -> list[str]:
    """Problems found comparing each document with the ledgers and its signature chain
    (empty when everything agrees). Per document: net handed-over tonnes equal the
    declared tonnes while on the way and the weighed tonnes once received; the
    generator got back exactly the refused tonnes; the receiver received exactly the
    accepted tonnes and finished them only once completed; every entry carrying the
    number is linked to the document."""
    problems: list[str] = []
    for transfer in transfers.prefetch_related("lines").order_by("id"):
        lines = list(transfer.lines.all())
        totals = transfer_ledger_totals(transfer=transfer)
        declared = sum((line.declared for line in lines), ZERO)
        weighed = sum((line.weighed or ZERO for line in lines), ZERO)
        accepted = sum((line.accepted or ZERO for line in lines), ZERO)
        refused = sum((line.refused or ZERO for line in lines), ZERO)
        status = transfer.status
        if status in (TransferStatus.DRAFT, TransferStatus.CANCELLED):
            expected = (ZERO, ZERO, ZERO, ZERO)
        elif status in (TransferStatus.ISSUED, TransferStatus.IN_TRANSIT):
            expected = (declared, ZERO, ZERO, ZERO)
        else:
            finished = accepted if status == TransferStatus.COMPLETED else ZERO
            expected = (weighed, refused, accepted, finished)
        found = (totals["handed_over"], totals["returned"], totals["received"], totals["finished"])
        if found != expected:
            problems.append(
                f"{transfer.number}: 台账与联单不符 / ledger disagrees: "
                f"转出、退回、接收、利用处置 / handed over, returned, received, finished "
                f"{_tonnes_text(found)}, 应为 / expected {_tonnes_text(expected)}"
            )
        linked = transfer.ledger_links.count()
        entries = LedgerEntry.objects.filter(batch_code=transfer.number).count()
        if linked != entries:
            problems.append(
                f"{transfer.number}: {entries}条台账记录中{linked}条关联联单 / "
                f"{entries - linked} ledger entries not linked to the document"
            )
        broken = transfer_signatures_verify(transfer=transfer)
        if broken is not None:
            problems.append(
                f"{transfer.number}: 签署记录{broken.seq}（{broken.label}）{broken.problem}"
            )
    return problems

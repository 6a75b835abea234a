"""Transfers: overdue documents, unsettled weighing discrepancies, unqualified receivers."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from xunhuan.compliance.scanners.base import (
    ZERO,
    Hit,
    Scope,
    scanner,
)
from xunhuan.core.compliance.explain import tonnes
from xunhuan.ledger.models import Purpose
from xunhuan.registry.models import FacilityCapacity
from xunhuan.transfers.models import Discrepancy, Transfer, TransferLine, TransferStatus

OPEN_BEFORE_RECEIPT = (TransferStatus.ISSUED, TransferStatus.IN_TRANSIT)
STATUS_EN = {
    TransferStatus.ISSUED: "issued",
    TransferStatus.IN_TRANSIT: "in transit",
    TransferStatus.RECEIVED: "received",
}


@scanner("TRANSFER-OVERDUE")
def transfer_overdue(scope: Scope) -> list[Hit]:
    # The receiver owes both the confirmation of receipt and the completion.
    rows = (
        Transfer.objects.filter(receiver__in=scope.enterprises)
        .filter(
            Q(status__in=OPEN_BEFORE_RECEIPT, receipt_due__lt=scope.as_of)
            | Q(status=TransferStatus.RECEIVED, completion_due__lt=scope.as_of)
        )
        .select_related("generator", "receiver")
        .order_by("pk")
    )
    hits = []
    labels = dict(TransferStatus.choices)
    for transfer in rows:
        receipt = transfer.status in OPEN_BEFORE_RECEIPT
        due = transfer.receipt_due if receipt else transfer.completion_due
        if due is None:
            continue
        hits.append(
            Hit(
                subject_key=f"t{transfer.pk}",
                region_id=transfer.receiver.region_id,
                period_start=due,
                period_end=scope.as_of,
                values={
                    "number": transfer.number,
                    "generator": transfer.generator.name,
                    "receiver": transfer.receiver.name,
                    "step": "接收确认" if receipt else "利用/处置完成",
                    "step_en": "confirming receipt"
                    if receipt
                    else "completing utilization/disposal",
                    "due": due.isoformat(),
                    "days": (scope.as_of - due).days,
                    "status": str(labels[transfer.status]),
                    "status_en": STATUS_EN[TransferStatus(transfer.status)],
                },
                enterprise_id=transfer.receiver_id,
            )
        )
    return hits


@scanner("TRANSFER-DISPUTED")
def transfer_disputed(scope: Scope) -> list[Hit]:
    max_days = int(scope.params["max_days"])
    rows = (
        Discrepancy.objects.filter(
            settled_at__isnull=True, line__transfer__generator__in=scope.enterprises
        )
        .exclude(line__transfer__status=TransferStatus.CANCELLED)
        .select_related("line__transfer__generator")
        .order_by("pk")
    )
    hits = []
    for discrepancy in rows:
        opened = timezone.localdate(discrepancy.opened_at)
        days = (scope.as_of - opened).days
        if days <= max_days:
            continue
        transfer = discrepancy.line.transfer
        hits.append(
            Hit(
                subject_key=f"d{discrepancy.pk}",
                region_id=transfer.generator.region_id,
                period_start=opened,
                period_end=scope.as_of,
                values={
                    "number": transfer.number,
                    "line": discrepancy.line.seq,
                    "declared": tonnes(discrepancy.declared),
                    "weighed": tonnes(discrepancy.weighed),
                    "opened": opened.isoformat(),
                    "days": days,
                    "max_days": max_days,
                },
                enterprise_id=transfer.generator_id,
            )
        )
    return hits


@scanner("TRANSFER-RECEIVER")
def transfer_receiver(scope: Scope) -> list[Hit]:
    start, end = scope.window()
    months = int(scope.params["months"])
    limit = scope.dec("limit_pct")
    received = (
        TransferLine.objects.filter(
            transfer__receiver__in=scope.enterprises,
            transfer__received_on__range=(start, end),
            accepted__gt=0,
        )
        .values(
            "transfer__receiver_id",
            "transfer__receiver__region_id",
            "transfer__receiver__is_utilizer",
            "transfer__receiver__is_disposer",
            "transfer__purpose",
            "waste_id",
            "waste__name_zh",
        )
        .annotate(accepted=Sum("accepted"))
        .order_by("transfer__receiver_id", "waste_id", "transfer__purpose")
    )
    capacity: dict[tuple[int, str], Decimal] = {}
    for row in (
        FacilityCapacity.objects.filter(site__enterprise__in=scope.enterprises)
        .values("site__enterprise_id", "waste_id")
        .annotate(total=Sum("annual_capacity"))
        .order_by()
    ):
        capacity[(row["site__enterprise_id"], row["waste_id"])] = row["total"] or ZERO
    hits = []
    for row in received:
        receiver, waste_id = row["transfer__receiver_id"], row["waste_id"]
        utilization = row["transfer__purpose"] == Purpose.UTILIZATION
        accepted = row["accepted"] or ZERO
        registered = capacity.get((receiver, waste_id))
        if utilization and not row["transfer__receiver__is_utilizer"]:
            problem = ("该单位未登记为利用单位", "not registered as a utilizer")
        elif not utilization and not row["transfer__receiver__is_disposer"]:
            problem = ("该单位未登记为处置单位", "not registered as a disposer")
        elif utilization and registered is None:
            problem = ("未登记该废物的利用能力", "no registered capacity for this waste")
        elif registered is not None and accepted * 100 > registered * months / 12 * limit:
            allowed = tonnes(registered * months / 12)
            problem = (
                f"超过登记能力{allowed}吨的{limit}%",
                f"above {limit}% of its registered {allowed} t",
            )
        else:
            continue
        hits.append(
            Hit(
                subject_key=f"e{receiver}:{waste_id}:{row['transfer__purpose']}",
                region_id=row["transfer__receiver__region_id"],
                period_start=start,
                period_end=end,
                values={
                    "waste": row["waste__name_zh"],
                    "accepted": tonnes(accepted),
                    "months": months,
                    "purpose": "利用" if utilization else "处置",
                    "purpose_en": "utilization" if utilization else "disposal",
                    "problem": problem[0],
                    "problem_en": problem[1],
                },
                enterprise_id=receiver,
                waste_id=waste_id,
            )
        )
    return hits

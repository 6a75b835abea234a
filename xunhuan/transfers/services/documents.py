"""Drafting a document: its number from the locked region/year sequence (never
``count()``) and ``transfer_create`` with its idempotency key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from xunhuan.core.errors import Conflict, ValidationFailed
from xunhuan.core.units import format_tonnes
from xunhuan.ledger.models import Purpose
from xunhuan.ledger.services import (
    today_in_shanghai,
)
from xunhuan.registry.models import Enterprise
from xunhuan.transfers.models import (
    Transfer,
    TransferLeg,
    TransferLine,
    TransferNumberSequence,
    TransportMode,
)
from xunhuan.transfers.services.base import (
    WRITERS,
    LegDraft,
    LineDraft,
    audit_transfer,
    check_plan,
    parse_tonnes,
    require_role,
)


def _sequence_locked(enterprise: Enterprise, year: int) -> TransferNumberSequence:
    """The number sequence row of the generator's region and year, locked ``FOR UPDATE``
    (created in a savepoint on first use). Holding it serializes the region's creates."""
    region_id = enterprise.region_id
    row = (
        TransferNumberSequence.objects.select_for_update()
        .filter(region_id=region_id, year=year)
        .first()
    )
    if row is None:
        try:
            with transaction.atomic():
                TransferNumberSequence.objects.create(region_id=region_id, year=year, last=0)
        except IntegrityError:
            pass  # a concurrent writer created it; take its lock below
        row = TransferNumberSequence.objects.select_for_update().get(region_id=region_id, year=year)
    return row


def _next_number(row: TransferNumberSequence) -> str:
    """The next document number from a locked sequence row; never from ``count()``."""
    row.last += 1
    row.save(update_fields=["last"])
    return f"LD{row.region_id}-{row.year}-{row.last:06d}"


def _create_fingerprint(
    generator: Enterprise,
    receiver: Enterprise,
    plan: tuple[str, str, str, str],
    legs: Sequence[LegDraft],
    lines: Sequence[tuple[LineDraft, Decimal]],
) -> str:
    payload = {
        "generator": generator.pk,
        "receiver": receiver.pk,
        "plan": list(plan),
        "legs": [[leg.carrier.pk, leg.mode, leg.vehicle] for leg in legs],
        "lines": [[ln.waste.pk, ln.source_site.pk, format_tonnes(q)] for ln, q in lines],
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- services -----------------------------------------------------------------------


def transfer_create(
    *,
    user: AbstractBaseUser,
    generator: Enterprise,
    receiver: Enterprise,
    purpose: str,
    legs: Sequence[LegDraft],
    lines: Sequence[LineDraft],
    planned_route: str = "",
    planned_disposal_method: str = "",
    note: str = "",
    idempotency_key: str | None = None,
    today: dt.date | None = None,
) -> Transfer:
    """Draft a transfer document for the generator: receiver (a utilizer for
    utilization, a disposer for disposal), ordered carrier legs (road or rail), waste
    lines with declared tonnes leaving from the generator's sites, and the planned route
    or disposal method. The document gets its number now; nothing is signed or written
    to a ledger until it is issued. A retry with the same ``idempotency_key`` returns
    the document the first call drafted; the same key with other content is refused."""
    require_role(user, generator, WRITERS, "开具联单")
    check_plan(purpose, planned_route, planned_disposal_method)
    if receiver.pk == generator.pk:
        raise ValidationFailed("接收单位不能是本单位 / receiver is the generator", field="receiver")
    if purpose == Purpose.UTILIZATION and not receiver.is_utilizer:
        raise ValidationFailed(
            f"接收单位{receiver.name}不是利用单位 / receiver is not a registered utilizer",
            field="receiver",
        )
    if purpose == Purpose.DISPOSAL and not receiver.is_disposer:
        raise ValidationFailed(
            f"接收单位{receiver.name}不是处置单位 / receiver is not a registered disposer",
            field="receiver",
        )
    if not legs:
        raise ValidationFailed("至少须有一个运输单位 / at least one carrier", field="legs")
    for leg in legs:
        if not leg.carrier.is_carrier:
            raise ValidationFailed(
                f"{leg.carrier.name}不是运输单位 / not a registered carrier", field="legs"
            )
        if leg.mode not in TransportMode.values:
            raise ValidationFailed(
                f"未知运输方式{leg.mode!r} / unknown transport mode", field="legs"
            )
    if not lines:
        raise ValidationFailed("至少须有一种废物 / at least one waste line", field="lines")
    checked = []
    for line in lines:
        declared = parse_tonnes(line.declared, "declared")
        if declared <= 0:
            raise ValidationFailed(
                "申报量须大于0 / declared tonnes must be positive", field="declared"
            )
        if line.source_site.enterprise_id != generator.pk:
            raise ValidationFailed(
                "来源设施不属于产生单位 / source site belongs to another enterprise",
                field="source_site",
            )
        if not line.waste.is_active:
            raise ValidationFailed(
                f"废物代码{line.waste.code}已停用 / waste code is retired", field="waste_code"
            )
        checked.append((line, declared))
    day = today or today_in_shanghai()
    key = (idempotency_key or "").strip()[:128]
    fingerprint = _create_fingerprint(
        generator, receiver, (purpose, planned_route, planned_disposal_method, note), legs, checked
    )
    with transaction.atomic():
        sequence = _sequence_locked(generator, day.year)
        if key:
            earlier = Transfer.objects.filter(generator=generator, idempotency_key=key).first()
            if earlier is not None:
                if earlier.request_fingerprint != fingerprint:
                    raise Conflict(
                        "同一幂等键已用于不同的请求 / "
                        "Idempotency-Key was used for a different request",
                        field="Idempotency-Key",
                    )
                return earlier
        transfer = Transfer.objects.create(
            number=_next_number(sequence),
            idempotency_key=key,
            request_fingerprint=fingerprint if key else "",
            generator=generator,
            receiver=receiver,
            purpose=purpose,
            planned_route=planned_route,
            planned_disposal_method=planned_disposal_method,
            note=note[:500],
            created_by_id=user.pk,
        )
        for seq, leg in enumerate(legs, start=1):
            TransferLeg.objects.create(
                transfer=transfer, seq=seq, carrier=leg.carrier, mode=leg.mode, vehicle=leg.vehicle
            )
        for seq, (line, declared) in enumerate(checked, start=1):
            TransferLine.objects.create(
                transfer=transfer,
                seq=seq,
                waste=line.waste,
                source_site=line.source_site,
                declared=declared,
            )
        audit_transfer(user, "transfer.create", transfer, generator, None)
    return transfer

"""Bridge between stored ledger rows and the Django-free hash chain in ``xunhuan.core.chain``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from xunhuan.core.chain import ChainBreak, ChainLink, verify_links
from xunhuan.core.units import format_tonnes
from xunhuan.ledger.models import ChainHead, LedgerEntry

# Columns read to rebuild an entry's canonical fields, in this order.
CHAIN_COLUMNS = (
    "enterprise_id",
    "seq",
    "public_id",
    "kind",
    "site_id",
    "to_site_id",
    "waste_id",
    "stream_id",
    "quantity",
    "occurred_on",
    "recorded_at",
    "recorded_by_id",
    "counterparty_id",
    "purpose",
    "route",
    "disposal_method",
    "batch_code",
    "note",
    "reverses_id",
    "corrects_id",
    "reason",
)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def timestamp_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_fields(
    *,
    enterprise_id: int,
    seq: int,
    public_id: object,
    kind: str,
    site_id: int,
    to_site_id: int | None,
    waste_id: str,
    stream_id: int | None,
    quantity: Decimal,
    occurred_on: dt.date,
    recorded_at: dt.datetime,
    recorded_by_id: int | None,
    counterparty_id: int | None,
    purpose: str,
    route: str,
    disposal_method: str,
    batch_code: str,
    note: str,
    reverses_id: int | None,
    corrects_id: int | None,
    reason: str,
) -> dict[str, str | None]:
    """The canonical, all-text form of one entry that its hash covers."""
    return {
        "enterprise": str(enterprise_id),
        "seq": str(seq),
        "id": str(public_id),
        "kind": kind,
        "site": str(site_id),
        "to_site": _text(to_site_id),
        "waste": waste_id,
        "stream": _text(stream_id),
        "quantity": format_tonnes(quantity),
        "occurred_on": occurred_on.isoformat(),
        "recorded_at": timestamp_text(recorded_at),
        "recorded_by": _text(recorded_by_id),
        "counterparty": _text(counterparty_id),
        "purpose": purpose,
        "route": route,
        "disposal_method": disposal_method,
        "batch_code": batch_code,
        "note": note,
        "reverses": _text(reverses_id),
        "corrects": _text(corrects_id),
        "reason": reason,
    }


def _links(enterprise_id: int) -> Iterator[ChainLink]:
    rows = (
        LedgerEntry.objects.filter(enterprise_id=enterprise_id)
        .order_by("seq")
        .values_list(*CHAIN_COLUMNS, "prev_hash", "hash")
    )
    for row in rows.iterator(chunk_size=5000):
        values = dict(zip(CHAIN_COLUMNS, row[: len(CHAIN_COLUMNS)], strict=True))
        yield ChainLink(
            seq=int(row[1]),
            prev_hash=row[-2],
            hash=row[-1],
            fields=chain_fields(**values),
            label=str(row[2]),
        )


def chain_verify(*, enterprise_id: int) -> ChainBreak | None:
    """Verify one enterprise's chain against its stored head; return the first break."""
    head = ChainHead.objects.filter(enterprise_id=enterprise_id).first()
    return verify_links(
        _links(enterprise_id),
        head_seq=head.last_seq if head else 0,
        head_hash=head.last_hash if head and head.last_seq else None,
    )

"""What each entry kind requires and how it moves stock. Shared by every write path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from xunhuan.core.errors import DomainError, ValidationFailed
from xunhuan.core.units import QuantityError, to_tonnes
from xunhuan.ledger.models import DisposalMethod, EntryKind, Purpose, UtilizationRoute
from xunhuan.registry.models import Enterprise, Site, SiteKind, WasteCategory, WasteStream

# Kinds that add to stock at ``site``; the others take away from it. Storage
# movements also add to ``to_site``.
INCREASING_KINDS = frozenset({EntryKind.GENERATED.value, EntryKind.RECEIVED.value})
MOVEMENT_KINDS = frozenset({EntryKind.STORAGE_IN.value, EntryKind.STORAGE_OUT.value})
EARLIEST_DATE = dt.date(2000, 1, 1)
# Choice values as plain sets: ``TextChoices.values`` builds a new list on every
# access, which dominated bulk validation.
KINDS = frozenset(EntryKind.values)
PURPOSES = frozenset(Purpose.values)
ROUTES = frozenset(UtilizationRoute.values)
DISPOSAL_METHODS = frozenset(DisposalMethod.values)
# Plain-string aliases: enum attribute access is slow enough to show in bulk ingest.
_GENERATED, _RECEIVED = EntryKind.GENERATED.value, EntryKind.RECEIVED.value
_STORAGE_IN, _STORAGE_OUT = EntryKind.STORAGE_IN.value, EntryKind.STORAGE_OUT.value
_SELF_UTILIZED, _SELF_DISPOSED = EntryKind.SELF_UTILIZED.value, EntryKind.SELF_DISPOSED.value
_HANDED_OVER = EntryKind.HANDED_OVER.value
_UTILIZATION, _DISPOSAL = Purpose.UTILIZATION.value, Purpose.DISPOSAL.value
_STORAGE_SITE = SiteKind.STORAGE.value


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """A ledger entry as submitted, before it is validated and chained."""

    kind: str
    site: Site
    waste: WasteCategory
    quantity: Decimal
    occurred_on: dt.date
    stream: WasteStream | None = None
    to_site: Site | None = None
    counterparty: Enterprise | None = None
    purpose: str = ""
    route: str = ""
    disposal_method: str = ""
    batch_code: str = ""
    note: str = field(default="")


def row_named(error: DomainError, *, row: int, of: int) -> DomainError:
    """Name the draft at fault in ``error``: its 1-based ``row`` in a batch of ``of`` drafts.

    The one place every write path (posts, corrections, bulk ingest, file imports)
    says which draft of a batch a rule or stock error belongs to. As
    ``DomainError.row`` documents, a row is named only when the batch holds more
    than one draft, and a row already named (e.g. by an API lookup) is kept.
    """
    if of > 1 and error.row is None:
        error.row = row
    return error


def stock_effects(
    *, kind: str, site_id: int, to_site_id: int | None, waste_id: str, quantity: Decimal
) -> list[tuple[int, str, Decimal]]:
    """The (site, waste, delta) changes an entry makes to stock on hand.

    A reversing entry carries a negative quantity, so the same rule undoes the
    original's effects exactly.
    """
    if kind in INCREASING_KINDS:
        return [(site_id, waste_id, quantity)]
    if kind in MOVEMENT_KINDS:
        assert to_site_id is not None  # noqa: S101 - guaranteed by validation and a constraint
        return [(site_id, waste_id, -quantity), (to_site_id, waste_id, quantity)]
    return [(site_id, waste_id, -quantity)]


def _fail(message: str, field_name: str) -> ValidationFailed:
    return ValidationFailed(message, field=field_name)


def validate_draft(enterprise: Enterprise, draft: EntryDraft, *, today: dt.date) -> EntryDraft:
    """Check one draft against the domain's rules; raise ``ValidationFailed`` naming the field.

    Returns the draft with its quantity normalized to three decimal places.
    """
    if draft.kind not in KINDS:
        raise _fail(f"未知的记录类型 {draft.kind!r} / unknown entry kind", "kind")
    kind = draft.kind
    try:
        quantity = to_tonnes(draft.quantity)
    except QuantityError as exc:
        raise _fail(f"数量无效：{exc} / invalid quantity", "quantity") from exc
    if quantity <= 0:
        raise _fail(f"数量必须大于0，实际为{quantity} / quantity must be positive", "quantity")
    if draft.occurred_on > today:
        raise _fail(
            f"发生日期{draft.occurred_on}晚于今天{today} / date is in the future", "occurred_on"
        )
    if draft.occurred_on < EARLIEST_DATE:
        raise _fail(f"发生日期{draft.occurred_on}早于2000年 / date too early", "occurred_on")
    if draft.site.enterprise_id != enterprise.pk:
        raise _fail("设施不属于本单位 / site belongs to another enterprise", "site")
    if not draft.waste.is_active:
        raise _fail(f"废物代码{draft.waste.code}已停用 / waste code is retired", "waste_code")
    if draft.stream is not None:
        if draft.stream.enterprise_id != enterprise.pk:
            raise _fail("废物流不属于本单位 / stream belongs to another enterprise", "stream")
        if draft.stream.waste_id != draft.waste.code:
            raise _fail(
                f"废物流{draft.stream.code}的代码是{draft.stream.waste_id}，与{draft.waste.code}"
                "不一致 / stream and waste code disagree",
                "waste_code",
            )
    _validate_kind_fields(enterprise, kind, draft)
    return draft if quantity == draft.quantity else replace(draft, quantity=quantity)


def validate_drafts(
    enterprise: Enterprise, drafts: Sequence[EntryDraft], *, today: dt.date
) -> list[EntryDraft]:
    """``validate_draft`` over a batch, in order; the first error names its row (``row_named``)."""
    checked: list[EntryDraft] = []
    # One try around the loop, not one per draft: bulk ingest validates millions.
    try:
        for draft in drafts:
            checked.append(validate_draft(enterprise, draft, today=today))
    except ValidationFailed as exc:
        row_named(exc, row=len(checked) + 1, of=len(drafts))
        raise
    return checked


def _validate_kind_fields(enterprise: Enterprise, kind: str, draft: EntryDraft) -> None:
    _check_movement(enterprise, kind, draft)
    _check_counterparty(enterprise, kind, draft)
    if kind == _SELF_UTILIZED or (kind == _HANDED_OVER and draft.purpose == _UTILIZATION):
        if draft.route not in ROUTES:
            raise _fail("自行/委托利用须注明利用方式 / utilization needs a route", "route")
    elif draft.route:
        raise _fail("只有利用记录可填写利用方式 / route only applies to utilization", "route")
    if kind == _SELF_DISPOSED:
        if draft.disposal_method not in DISPOSAL_METHODS:
            raise _fail("自行处置须注明处置方式 / disposal needs a method", "disposal_method")
    elif draft.disposal_method and not (kind == _HANDED_OVER and draft.purpose == _DISPOSAL):
        raise _fail(
            "只有处置记录可填写处置方式 / disposal method only applies to disposal",
            "disposal_method",
        )


def _check_movement(enterprise: Enterprise, kind: str, draft: EntryDraft) -> None:
    if kind not in MOVEMENT_KINDS:
        if draft.to_site is not None:
            raise _fail("只有入库/出库记录可填写目的设施 / to_site only for storage", "to_site")
        return
    if draft.to_site is None:
        raise _fail("入库/出库须注明目的设施 / storage movement needs to_site", "to_site")
    if draft.to_site.enterprise_id != enterprise.pk:
        raise _fail("目的设施不属于本单位 / to_site belongs to another enterprise", "to_site")
    if draft.to_site.pk == draft.site.pk:
        raise _fail("来源与目的设施相同 / site and to_site are the same", "to_site")
    if kind == _STORAGE_IN and draft.to_site.kind != _STORAGE_SITE:
        raise _fail(
            f"入库的目的设施{draft.to_site.code}不是贮存场 / to_site is not a storage yard",
            "to_site",
        )
    if kind == _STORAGE_OUT and draft.site.kind != _STORAGE_SITE:
        raise _fail(
            f"出库的来源设施{draft.site.code}不是贮存场 / site is not a storage yard", "site"
        )


def _check_counterparty(enterprise: Enterprise, kind: str, draft: EntryDraft) -> None:
    party = draft.counterparty
    if kind not in (_HANDED_OVER, _RECEIVED):
        if party is not None:
            raise _fail("此类记录不填写对方单位 / counterparty not applicable", "counterparty")
        if draft.purpose:
            raise _fail("此类记录不填写去向用途 / purpose not applicable", "purpose")
        return
    if party is None:
        label = "接收单位 / receiver" if kind == _HANDED_OVER else "来源单位 / source"
        raise _fail(f"须注明{label}", "counterparty")
    if party.pk == enterprise.pk:
        raise _fail("对方单位不能是本单位 / counterparty is this enterprise", "counterparty")
    if kind == _RECEIVED:
        if draft.purpose:
            raise _fail("接收记录不填写去向用途 / purpose not applicable", "purpose")
        return
    if draft.purpose not in PURPOSES:
        raise _fail("委托记录须注明利用或处置 / purpose must be utilization or disposal", "purpose")
    if draft.purpose == _UTILIZATION and not party.is_utilizer:
        raise _fail(
            f"接收单位{party.name}不是利用单位 / receiver is not a registered utilizer",
            "counterparty",
        )
    if draft.purpose == _DISPOSAL and not party.is_disposer:
        raise _fail(
            f"接收单位{party.name}不是处置单位 / receiver is not a registered disposer",
            "counterparty",
        )

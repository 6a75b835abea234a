"""Turn an API entry body into an ``EntryDraft``, resolving codes within the enterprise."""

from __future__ import annotations

from xunhuan.api.schemas import EntryIn
from xunhuan.core.errors import ValidationFailed
from xunhuan.ledger.rules import EntryDraft
from xunhuan.registry import selectors as registry_selectors
from xunhuan.registry.models import Enterprise


def draft_from_input(enterprise: Enterprise, item: EntryIn, index: int) -> EntryDraft:
    def missing(message: str, field: str) -> ValidationFailed:
        return ValidationFailed(message, field=field, row=index + 1)

    site = registry_selectors.site_by_code(enterprise=enterprise, code=item.site)
    if site is None:
        raise missing(f"本单位无此设施编码：{item.site} / unknown site", "site")
    waste = registry_selectors.waste_category_get(code=item.waste_code)
    if waste is None:
        raise missing(f"未知废物代码：{item.waste_code} / unknown waste code", "waste_code")
    to_site = None
    if item.to_site:
        to_site = registry_selectors.site_by_code(enterprise=enterprise, code=item.to_site)
        if to_site is None:
            raise missing(f"本单位无此设施编码：{item.to_site} / unknown site", "to_site")
    stream = None
    if item.stream:
        stream = registry_selectors.stream_by_code(enterprise=enterprise, code=item.stream)
        if stream is None:
            raise missing(f"未知废物流编码：{item.stream} / unknown stream", "stream")
    counterparty = None
    if item.counterparty:
        counterparty = registry_selectors.enterprise_by_credit_code(item.counterparty)
        if counterparty is None:
            raise missing(f"未登记的单位：{item.counterparty} / unknown enterprise", "counterparty")
    return EntryDraft(
        kind=item.kind,
        site=site,
        waste=waste,
        quantity=item.quantity,
        occurred_on=item.occurred_on,
        stream=stream,
        to_site=to_site,
        counterparty=counterparty,
        purpose=item.purpose,
        route=item.route,
        disposal_method=item.disposal_method,
        batch_code=item.batch_code,
        note=item.note,
    )

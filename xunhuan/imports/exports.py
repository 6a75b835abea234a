"""Workbooks out: the blank template pre-filled with the enterprise's sites and
streams, and the ledger of any period in the same official layout."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import translation

from xunhuan.imports.sheets import (
    KIND_LABELS,
    SHEET_OF_KIND,
    SHEETS,
    VALUE_LABELS,
    Sheet,
)
from xunhuan.imports.workbook import Reference, rows_workbook, template_build
from xunhuan.ledger.models import LedgerEntry
from xunhuan.registry import selectors as registry_selectors
from xunhuan.registry.models import Enterprise, SiteKind


def ledger_template_workbook(*, enterprise: Enterprise) -> bytes:
    """The official ledger tables, empty, with this enterprise's sites, streams and
    the waste codes offered in drop-downs."""
    with translation.override("zh-hans"):
        kind_names = {value: str(label) for value, label in SiteKind.choices}
    sites = list(registry_selectors.sites_list(enterprise=enterprise).order_by("code"))
    streams = list(
        registry_selectors.streams_list(enterprise=enterprise)
        .select_related("source_site")
        .order_by("code")
    )
    wastes = list(registry_selectors.waste_categories_list())
    reference = Reference(
        enterprise_name=enterprise.name,
        credit_code=enterprise.credit_code,
        sites=[(s.code, s.name, kind_names.get(s.kind, s.kind)) for s in sites],
        streams=[
            (s.code, s.name, s.waste_id, s.source_site.code if s.source_site else "")
            for s in streams
        ],
        wastes=[(w.code, w.name_zh) for w in wastes],
        code_lists={
            "sites": [s.code for s in sites],
            "streams": [s.code for s in streams],
            "wastes": [w.code for w in wastes],
            "storage_kinds": list(VALUE_LABELS["kind"].values())[:2],
            "own_kinds": list(VALUE_LABELS["kind"].values())[2:],
            "purposes": list(VALUE_LABELS["purpose"].values()),
            "routes": list(VALUE_LABELS["route"].values()),
            "disposal_methods": list(VALUE_LABELS["disposal_method"].values()),
        },
    )
    return template_build(reference)


def _note(entry: LedgerEntry) -> str:
    # A correction is shown as such: what it reverses or replaces, and why.
    if entry.reverses_id is not None and entry.reverses is not None:
        return f"冲销第{entry.reverses.seq}号记录：{entry.reason}"
    if entry.corrects_id is not None and entry.corrects is not None:
        return f"更正第{entry.corrects.seq}号记录：{entry.reason}" + (
            f"；{entry.note}" if entry.note else ""
        )
    return entry.note


def _cell(entry: LedgerEntry, field: str | None) -> object:
    values: dict[str | None, object] = {
        "batch_code": entry.batch_code,
        "occurred_on": entry.occurred_on,
        "kind": VALUE_LABELS["kind"].get(entry.kind, KIND_LABELS.get(entry.kind, entry.kind)),
        "site": entry.site.code,
        "to_site": entry.to_site.code if entry.to_site else "",
        "stream": entry.stream.code if entry.stream else "",
        "waste_code": entry.waste_id,
        "quantity": entry.quantity,
        "counterparty": entry.counterparty.credit_code if entry.counterparty else "",
        "purpose": VALUE_LABELS["purpose"].get(entry.purpose, ""),
        "route": VALUE_LABELS["route"].get(entry.route, ""),
        "disposal_method": VALUE_LABELS["disposal_method"].get(entry.disposal_method, ""),
        "note": _note(entry),
    }
    return values.get(field, "")


def _row(sheet: Sheet, entry: LedgerEntry) -> list[object]:
    row: list[object] = []
    for column in sheet.columns:
        if column.field is None:
            if column.header == "台账序号":
                row.append(entry.seq)
            else:  # the counterparty's name beside its credit code
                row.append(entry.counterparty.name if entry.counterparty else "")
        else:
            row.append(_cell(entry, column.field))
    return row


def ledger_workbook_export(
    *,
    enterprise: Enterprise,
    entries: QuerySet[LedgerEntry],
    date_from: dt.date,
    date_to: dt.date,
) -> bytes:
    """The given entries (one enterprise's, already access-checked) in the tables of
    the template, in ledger order; reversals keep their negative quantity."""
    rows = (
        entries.select_related("site", "to_site", "stream", "counterparty", "reverses", "corrects")
        .order_by("seq")
        .iterator(chunk_size=5000)
    )
    by_sheet: dict[str, list[list[object]]] = {sheet.name: [] for sheet in SHEETS}
    for entry in rows:
        sheet = SHEET_OF_KIND[entry.kind]
        by_sheet[sheet.name].append(_row(sheet, entry))
    title = [
        ["一般工业固体废物管理台账"],
        ["单位名称", enterprise.name],
        ["统一社会信用代码", enterprise.credit_code],
        ["期间", f"{date_from.isoformat()} 至 {date_to.isoformat()}"],
        ["说明", "冲销记录数量为负数，更正记录在备注中注明所更正的台账序号和原因。"],
    ]
    return rows_workbook(title, by_sheet)

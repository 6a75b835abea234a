"""The workbook layout: one sheet per record table of the MEE 2021 guideline
(一般工业固体废物管理台账制定指南（试行）, 公告2021年第82号), in the same columns
for the template, the import and the export.

Each column names the ledger field it fills (the names of ``xunhuan.ledger.imports.COLUMNS``),
so a sheet row becomes the same cells a CSV row does and goes through the same
checks (``xunhuan.ledger.imports``) and the same ledger services.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils import translation

from xunhuan.ledger.models import DisposalMethod, EntryKind, Purpose, UtilizationRoute

# Written to the instructions sheet and the workbook's properties; a workbook
# without it is not our template (the "wrong template" error).
TEMPLATE_ID = "xunhuan-ledger-2021-v1"
INSTRUCTIONS_SHEET = "填表说明"
SITES_SHEET = "设施清单"
STREAMS_SHEET = "产生清单"
CODES_SHEET = "代码表"


@dataclass(frozen=True)
class Column:
    header: str  # the header cell, Chinese as the guideline's tables are
    field: str | None  # the ledger field it fills; None: shown for people, not imported
    required: bool = False
    width: int = 14
    # Which code list (CODES_SHEET column) offers the values in a drop-down.
    choices: str | None = None


@dataclass(frozen=True)
class Sheet:
    name: str  # sheet title in the workbook
    table: str  # the guideline's table this sheet is
    columns: tuple[Column, ...]
    # The entry kind of every row, or None when the column "环节" says it per row.
    kind: str | None
    kinds: tuple[str, ...]  # the kinds this sheet may hold (for export and the 环节 list)

    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


_BATCH = Column("批次编码", "batch_code", width=18)
_NOTE = Column("备注", "note", width=24)
# Filled by the export so a printed table can be traced to the ledger; ignored on import.
_SEQ = Column("台账序号", None, width=10)

SHEETS: tuple[Sheet, ...] = (
    Sheet(
        name="产生环节",
        table="产生环节记录表",
        kind=EntryKind.GENERATED,
        kinds=(EntryKind.GENERATED,),
        columns=(
            _BATCH,
            Column("产生日期", "occurred_on", required=True, width=12),
            Column("产生设施编码", "site", required=True, choices="sites"),
            Column("废物流编码", "stream", choices="streams"),
            Column("废物代码", "waste_code", required=True, choices="wastes"),
            Column("产生量（吨）", "quantity", required=True),
            _NOTE,
            _SEQ,
        ),
    ),
    Sheet(
        name="接收环节",
        table="接收（外单位转入）记录表",
        kind=EntryKind.RECEIVED,
        kinds=(EntryKind.RECEIVED,),
        columns=(
            _BATCH,
            Column("接收日期", "occurred_on", required=True, width=12),
            Column("接收设施编码", "site", required=True, choices="sites"),
            Column("废物代码", "waste_code", required=True, choices="wastes"),
            Column("接收量（吨）", "quantity", required=True),
            Column("来源单位统一社会信用代码", "counterparty", required=True, width=22),
            Column("来源单位名称", None, width=24),
            _NOTE,
            _SEQ,
        ),
    ),
    Sheet(
        name="贮存环节",
        table="贮存环节记录表",
        kind=None,
        kinds=(EntryKind.STORAGE_IN, EntryKind.STORAGE_OUT),
        columns=(
            _BATCH,
            Column("日期", "occurred_on", required=True, width=12),
            Column("环节", "kind", required=True, choices="storage_kinds"),
            Column("来源设施编码", "site", required=True, choices="sites"),
            Column("去向设施编码", "to_site", required=True, choices="sites"),
            Column("废物代码", "waste_code", required=True, choices="wastes"),
            Column("数量（吨）", "quantity", required=True),
            _NOTE,
            _SEQ,
        ),
    ),
    Sheet(
        name="自行利用处置环节",
        table="自行利用/处置环节记录表",
        kind=None,
        kinds=(EntryKind.SELF_UTILIZED, EntryKind.SELF_DISPOSED, EntryKind.DISCARDED),
        columns=(
            _BATCH,
            Column("日期", "occurred_on", required=True, width=12),
            Column("环节", "kind", required=True, choices="own_kinds"),
            Column("设施编码", "site", required=True, choices="sites"),
            Column("废物代码", "waste_code", required=True, choices="wastes"),
            Column("数量（吨）", "quantity", required=True),
            Column("利用方式", "route", choices="routes", width=20),
            Column("处置方式", "disposal_method", choices="disposal_methods"),
            _NOTE,
            _SEQ,
        ),
    ),
    Sheet(
        name="委托利用处置环节",
        table="委托利用/处置环节记录表",
        kind=EntryKind.HANDED_OVER,
        kinds=(EntryKind.HANDED_OVER,),
        columns=(
            _BATCH,
            Column("出厂日期", "occurred_on", required=True, width=12),
            Column("来源设施编码", "site", required=True, choices="sites"),
            Column("废物代码", "waste_code", required=True, choices="wastes"),
            Column("数量（吨）", "quantity", required=True),
            Column("接收单位统一社会信用代码", "counterparty", required=True, width=22),
            Column("接收单位名称", None, width=24),
            Column("用途", "purpose", required=True, choices="purposes"),
            Column("利用方式", "route", choices="routes", width=20),
            Column("处置方式", "disposal_method", choices="disposal_methods"),
            _NOTE,
            _SEQ,
        ),
    ),
)
SHEETS_BY_NAME = {s.name: s for s in SHEETS}
SHEET_OF_KIND = {kind: s for s in SHEETS for kind in s.kinds}


def _labels(choices: type[models.TextChoices]) -> dict[str, str]:
    # The workbook is in Chinese whatever language the page was in.
    with translation.override("zh-hans"):
        return {value: str(label) for value, label in choices.choices}


KIND_LABELS = _labels(EntryKind)
PURPOSE_LABELS = _labels(Purpose)
ROUTE_LABELS = _labels(UtilizationRoute)
DISPOSAL_LABELS = _labels(DisposalMethod)
# Short names for the 环节 column (the ledger's own labels are longer).
STORAGE_KIND_LABELS = {EntryKind.STORAGE_IN.value: "入库", EntryKind.STORAGE_OUT.value: "出库"}
OWN_KIND_LABELS = {
    EntryKind.SELF_UTILIZED.value: "自行利用",
    EntryKind.SELF_DISPOSED.value: "自行处置",
    EntryKind.DISCARDED.value: "倾倒丢弃",
}
# Per field: label in the workbook -> the ledger's value. Codes are accepted as well,
# so a cell typed "cement" or picked "水泥生产/水泥混合材" mean the same.
LABEL_VALUES: dict[str, dict[str, str]] = {
    "kind": {label: value for value, label in (STORAGE_KIND_LABELS | OWN_KIND_LABELS).items()},
    "purpose": {label: value for value, label in PURPOSE_LABELS.items()},
    "route": {label: value for value, label in ROUTE_LABELS.items()},
    "disposal_method": {label: value for value, label in DISPOSAL_LABELS.items()},
}
VALUE_LABELS: dict[str, dict[str, str]] = {
    "kind": STORAGE_KIND_LABELS | OWN_KIND_LABELS,
    "purpose": PURPOSE_LABELS,
    "route": ROUTE_LABELS,
    "disposal_method": DISPOSAL_LABELS,
}

"""CSV import of ledger entries: every row checked, errors named by row and column,
all-or-nothing, and the same file never imported twice."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from xunhuan.core.errors import DomainError
from xunhuan.core.units import QuantityError, to_tonnes
from xunhuan.core.uscc import CreditCodeError, validate_credit_code
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.models import EntryKind, ImportBatch
from xunhuan.ledger.rules import EntryDraft, validate_draft
from xunhuan.ledger.services import ledger_import_audit, today_in_shanghai
from xunhuan.registry.models import Enterprise, Site, WasteCategory, WasteStream

# Column: (Chinese header, English header). Either header is accepted.
COLUMNS = {
    "occurred_on": ("日期", "occurred_on"),
    "kind": ("类型", "kind"),
    "site": ("设施编码", "site"),
    "waste_code": ("废物代码", "waste_code"),
    "quantity": ("数量（吨）", "quantity"),
    "to_site": ("目的设施编码", "to_site"),
    "stream": ("废物流编码", "stream"),
    "counterparty": ("对方单位统一社会信用代码", "counterparty"),
    "purpose": ("用途", "purpose"),
    "route": ("利用方式", "route"),
    "disposal_method": ("处置方式", "disposal_method"),
    "batch_code": ("批次编码", "batch_code"),
    "note": ("备注", "note"),
}
REQUIRED = ("occurred_on", "kind", "site", "waste_code", "quantity")
KIND_BY_LABEL = {str(label): value for value, label in EntryKind.choices}


def column_label(name: str | None) -> str:
    """How an error names a column: both headers, e.g. ``数量（吨）/quantity``."""
    if name in COLUMNS:
        zh, en = COLUMNS[name]
        return f"{zh}/{en}"
    return name or "-"


@dataclass
class RowError:
    # 1-based row of the file as a spreadsheet shows it: the header is row 1, a
    # quoted cell spanning several lines stays one row, blank rows still count.
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行 / row {self.row} {self.column}：{self.message}"


@dataclass
class ImportResult:
    checked: int = 0  # data rows that passed every check
    created: int = 0
    already_imported: bool = False
    errors: list[RowError] = field(default_factory=list)
    batch: ImportBatch | None = None


def _header_map(header: list[str]) -> tuple[dict[str, int], list[RowError]]:
    lookup = {}
    for name, (zh, en) in COLUMNS.items():
        lookup[zh] = name
        lookup[en] = name
    found: dict[str, int] = {}
    errors = []
    for index, raw in enumerate(header):
        title = raw.strip()
        if title not in lookup:
            errors.append(RowError(1, title or f"#{index + 1}", "未知列 / unknown column"))
        else:
            found[lookup[title]] = index
    for name in REQUIRED:
        if name not in found:
            errors.append(RowError(1, column_label(name), "缺少必填列 / required column missing"))
    return found, errors


class RowLookups:
    """Per-file caches, so a 100,000-row file makes a handful of queries, not 100,000."""

    def __init__(self, enterprise: Enterprise) -> None:
        self.sites = {s.code: s for s in Site.objects.filter(enterprise=enterprise)}
        self.streams = {s.code: s for s in WasteStream.objects.filter(enterprise=enterprise)}
        self.wastes = {w.code: w for w in WasteCategory.objects.all()}
        self.parties: dict[str, Enterprise | None] = {}

    def party(self, credit_code: str) -> Enterprise | None:
        code = credit_code.strip().upper()
        if code not in self.parties:
            self.parties[code] = Enterprise.objects.filter(credit_code=code).first()
        return self.parties[code]


def row_draft_parse(
    cells: dict[str, str], lookups: RowLookups, line: int
) -> tuple[EntryDraft | None, list[RowError]]:
    """One file row (cells by column name) as a draft, or every error it has, each
    naming ``line`` and its column. The one row check shared by the CSV import, the
    Excel workbooks and the web entry form."""
    errors: list[RowError] = []

    def err(name: str, message: str) -> None:
        errors.append(RowError(line, column_label(name), message))

    for name in REQUIRED:
        if not cells.get(name):
            err(name, "必填 / required")
    if errors:
        return None, errors
    day = None
    try:
        day = dt.date.fromisoformat(cells["occurred_on"].replace("/", "-"))
    except ValueError:
        err("occurred_on", f"日期格式应为YYYY-MM-DD：{cells['occurred_on']} / bad date")
    kind = KIND_BY_LABEL.get(cells["kind"], cells["kind"])
    if kind not in EntryKind.values:
        err("kind", f"未知类型：{cells['kind']} / unknown kind")
    quantity = None
    try:
        quantity = to_tonnes(cells["quantity"])
    except QuantityError as exc:
        err("quantity", f"{exc} / not a quantity")
    site = lookups.sites.get(cells["site"])
    if site is None:
        err("site", f"本单位无此设施编码：{cells['site']} / unknown site")
    waste = lookups.wastes.get(cells["waste_code"].upper())
    if waste is None:
        err("waste_code", f"未知废物代码：{cells['waste_code']} / unknown waste code")
    to_site = None
    if cells.get("to_site"):
        to_site = lookups.sites.get(cells["to_site"])
        if to_site is None:
            err("to_site", f"本单位无此设施编码：{cells['to_site']} / unknown site")
    stream = None
    if cells.get("stream"):
        stream = lookups.streams.get(cells["stream"])
        if stream is None:
            err("stream", f"未知废物流编码：{cells['stream']} / unknown stream")
    party = None
    if cells.get("counterparty"):
        try:
            # A mistyped code is named as such, not as an unknown enterprise.
            validate_credit_code(cells["counterparty"])
        except CreditCodeError as exc:
            err("counterparty", str(exc))
        else:
            party = lookups.party(cells["counterparty"])
            if party is None:
                err("counterparty", f"未登记的单位：{cells['counterparty']} / unknown enterprise")
    if errors or day is None or quantity is None or site is None or waste is None:
        return None, errors
    draft = EntryDraft(
        kind=kind,
        site=site,
        waste=waste,
        quantity=quantity,
        occurred_on=day,
        stream=stream,
        to_site=to_site,
        counterparty=party,
        purpose=cells.get("purpose", ""),
        route=cells.get("route", ""),
        disposal_method=cells.get("disposal_method", ""),
        batch_code=cells.get("batch_code", ""),
        note=cells.get("note", ""),
    )
    return draft, []


def ledger_import_csv(
    *,
    enterprise: Enterprise,
    content: bytes,
    filename: str,
    recorded_by: AbstractBaseUser | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> ImportResult:
    """Import a CSV file of ledger entries for one enterprise.

    Every row is checked and all errors are returned (row, column, message);
    if there is any, nothing is saved. A file already imported (same SHA-256)
    is recognized and changes nothing. ``dry_run`` makes every check, stock
    included, and saves nothing.
    """
    digest = hashlib.sha256(content).hexdigest()
    result = ImportResult()
    existing = ImportBatch.objects.filter(enterprise=enterprise, sha256=digest).first()
    if existing is not None:
        result.already_imported, result.batch = True, existing
        return result
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append(RowError(1, "-", "文件须为UTF-8编码的CSV / file must be UTF-8 CSV"))
        return result
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        result.errors.append(RowError(1, "-", "空文件 / empty file"))
        return result
    columns, result.errors = _header_map(header)
    if result.errors:
        return result
    day = today or today_in_shanghai()
    lookups = RowLookups(enterprise)
    drafts: list[EntryDraft] = []
    lines: list[int] = []  # file line of each draft, to name it in a later error
    for line, raw in enumerate(reader, start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(header):
            result.errors.append(
                RowError(line, "-", f"列数应为{len(header)}，实际{len(raw)} / wrong column count")
            )
            continue
        cells = {name: raw[index].strip() for name, index in columns.items()}
        draft, errors = row_draft_parse(cells, lookups, line)
        if draft is not None:
            try:
                draft = validate_draft(enterprise, draft, today=day)
            except DomainError as exc:
                errors.append(RowError(line, column_label(exc.field), exc.message))
        result.errors.extend(errors)
        if draft is not None and not errors:
            drafts.append(draft)
            lines.append(line)
    if not result.errors and not drafts:
        result.errors.append(RowError(2, "-", "文件没有数据行 / no data rows"))
    result.checked = len(drafts)
    if result.errors:
        return result
    # A dry run goes all the way through ingest (stock is only known under the chain
    # lock) and then rolls back, so it finds every error a real import would.
    with transaction.atomic():
        try:
            # A savepoint, so losing the race to import the same file leaves the outer
            # transaction usable (PostgreSQL makes the loser wait for the winner's commit).
            with transaction.atomic():
                batch = ImportBatch.objects.create(
                    enterprise=enterprise,
                    sha256=digest,
                    filename=filename[:255],
                    row_count=len(drafts),
                    created_by_id=recorded_by.pk if recorded_by is not None else None,
                )
        except IntegrityError:
            result.already_imported = True
            result.batch = ImportBatch.objects.filter(enterprise=enterprise, sha256=digest).first()
            return result
        try:
            result.created = ledger_entries_ingest(
                enterprise=enterprise,
                drafts=drafts,
                recorded_by=recorded_by,
                import_batch=batch,
                today=day,
            )
        except DomainError as exc:
            transaction.set_rollback(True)
            # ``row`` is the draft's position among several; a batch of one names none.
            line = lines[(exc.row or 1) - 1]
            result.errors.append(RowError(line, column_label(exc.field), exc.message))
            return result
        # One audit event for the file, in its transaction (a dry run rolls it back).
        ledger_import_audit(
            enterprise=enterprise, batch=batch, created=result.created, recorded_by=recorded_by
        )
        if dry_run:
            transaction.set_rollback(True)
            result.created = 0
            return result
        result.batch = batch
    return result

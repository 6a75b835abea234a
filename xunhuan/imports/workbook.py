"""Reading and writing the ledger workbook (openpyxl). Shape only: no database, no rules.

``workbook_rows`` turns a workbook into the cells of each data row keyed by the
ledger's field names, with label cells ("入库", "水泥生产/水泥混合材") turned into
the ledger's values; the checks are the CSV import's (see ``services``).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from xunhuan.imports.sheets import (
    CODES_SHEET,
    INSTRUCTIONS_SHEET,
    LABEL_VALUES,
    SHEETS,
    SHEETS_BY_NAME,
    SITES_SHEET,
    STREAMS_SHEET,
    TEMPLATE_ID,
    Sheet,
)

# How often the reader reports progress (rows).
PROGRESS_EVERY = 2000
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


@dataclass(frozen=True)
class CellError:
    """One problem, named as a person finds it in Excel: sheet, row, column."""

    sheet: str
    row: int
    column: str  # the header text of the column ("-" for the whole row or file)
    message: str
    letter: str = ""  # the column's letter in the sheet, when known

    def __str__(self) -> str:
        place = f"{self.column}（{self.letter}列）" if self.letter else self.column
        return f"{self.sheet} 第{self.row}行 {place}：{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "letter": self.letter,
            "message": self.message,
        }


@dataclass
class SheetRow:
    sheet: Sheet
    row: int  # 1-based row in the sheet, as Excel shows it
    cells: dict[str, str]  # ledger field name -> text
    letters: dict[str, str]  # ledger field name -> column letter


@dataclass
class WorkbookRows:
    rows: list[SheetRow] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)


def cell_text(value: object) -> str:
    """A cell as the text the CSV path would see: dates ISO, numbers without float noise."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        # Excel stores dates as datetimes at midnight; a ledger date is the calendar day.
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        # repr gives the shortest text that reads back as the same float: 12.345, not 12.3449999.
        return format(Decimal(repr(value)), "f")
    return str(value).strip()


def _header(sheet: Sheet, values: tuple[object, ...]) -> tuple[dict[str, int], list[CellError]]:
    """Map header text to column index; name unknown and missing columns."""
    known = {c.header: c for c in sheet.columns}
    found: dict[str, int] = {}
    errors: list[CellError] = []
    for index, value in enumerate(values):
        title = cell_text(value)
        if not title:
            continue
        letter = get_column_letter(index + 1)
        if title not in known:
            errors.append(CellError(sheet.name, 1, title, "未知列 / unknown column", letter))
        else:
            found[title] = index
    for column in sheet.columns:
        if column.required and column.header not in found:
            errors.append(
                CellError(sheet.name, 1, column.header, "缺少必填列 / required column missing")
            )
    return found, errors


def workbook_rows(
    content: bytes, *, progress: Callable[[int, int], None] | None = None
) -> WorkbookRows:
    """Every non-empty data row of the record sheets, or the errors that stop reading.

    A workbook with none of the record sheets is the wrong template. A row equal
    to an earlier row of the same sheet in every cell is reported as a duplicate:
    a ledger line typed twice would otherwise count the waste twice.
    """
    result = WorkbookRows()
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        result.errors.append(
            CellError("-", 0, "-", "无法读取：请上传.xlsx格式的台账模板 / not an .xlsx workbook")
        )
        return result
    try:
        present = [SHEETS_BY_NAME[name] for name in book.sheetnames if name in SHEETS_BY_NAME]
        if not present:
            names = "、".join(s.name for s in SHEETS)
            result.errors.append(
                CellError(
                    "-",
                    0,
                    "-",
                    f"不是本平台的台账模板：未找到记录表（{names}），请下载模板填写 / "
                    "wrong template: no ledger sheet found",
                )
            )
            return result
        total = sum(max((book[s.name].max_row or 1) - 1, 0) for s in present)
        done = 0
        for sheet in present:
            done = _read_sheet(book[sheet.name], sheet, result, done, total, progress)
    finally:
        book.close()
    if progress is not None:
        progress(done, max(total, done))
    return result


def _read_sheet(
    worksheet: Any,
    sheet: Sheet,
    result: WorkbookRows,
    done: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    lines: Iterator[tuple[object, ...]] = worksheet.iter_rows(values_only=True)
    header = next(lines, None)
    if header is None:
        return done
    columns, errors = _header(sheet, header)
    if errors:
        result.errors.extend(errors)
        return done
    by_header = {c.header: c for c in sheet.columns}
    fields = [
        (by_header[title].field, index, get_column_letter(index + 1))
        for title, index in columns.items()
        if by_header[title].field is not None
    ]
    seen: dict[tuple[str, ...], int] = {}
    for number, values in enumerate(lines, start=2):
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, max(total, done))
        texts = tuple(cell_text(v) for v in values)
        if not any(texts):
            continue
        first = seen.setdefault(texts, number)
        if first != number:
            result.errors.append(
                CellError(
                    sheet.name,
                    number,
                    "-",
                    f"与第{first}行完全相同，疑为重复录入 / duplicates row {first}",
                )
            )
            continue
        cells: dict[str, str] = {}
        letters: dict[str, str] = {}
        for name, index, letter in fields:
            assert name is not None  # noqa: S101 - filtered above
            text = texts[index] if index < len(texts) else ""
            labels = LABEL_VALUES.get(name)
            cells[name] = labels.get(text, text) if labels else text
            letters[name] = letter
        if sheet.kind is not None:
            cells["kind"] = sheet.kind
        result.rows.append(SheetRow(sheet=sheet, row=number, cells=cells, letters=letters))
    return done


# --- writing -------------------------------------------------------------------------


@dataclass
class Reference:
    """What the template offers in drop-downs and reference sheets."""

    enterprise_name: str
    credit_code: str
    sites: list[tuple[str, str, str]]  # code, name, kind label
    streams: list[tuple[str, str, str, str]]  # code, name, waste code, source site code
    wastes: list[tuple[str, str]]  # code, name
    code_lists: dict[str, list[str]]  # choices name -> values offered


def _style_header(worksheet: Any, headers: list[str], widths: Iterable[int]) -> None:
    worksheet.append(headers)
    for index, width in enumerate(widths, start=1):
        cell = worksheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        worksheet.column_dimensions[get_column_letter(index)].width = width
    worksheet.freeze_panes = "A2"


def template_build(reference: Reference, *, rows: int = 1000) -> bytes:
    """The official ledger tables as an empty workbook with this enterprise's sites,
    streams and codes in reference sheets and drop-downs on the first ``rows`` rows."""
    book = Workbook()
    intro = book.active
    intro.title = INSTRUCTIONS_SHEET
    book.properties.title = "一般工业固体废物管理台账"
    book.properties.keywords = TEMPLATE_ID
    for line in (
        ["一般工业固体废物管理台账（依据《一般工业固体废物管理台账制定指南（试行）》）"],
        ["模板版本", TEMPLATE_ID],
        ["单位名称", reference.enterprise_name],
        ["统一社会信用代码", reference.credit_code],
        [],
        ["填写方法"],
        ["1. 每个记录表一行一条记录，第一行为表头，请勿修改表头和工作表名称。"],
        ["2. 日期填写为 2025-03-01 形式（或Excel日期）；数量单位为吨，最多三位小数，须大于0。"],
        ["3. 设施编码、废物流编码、废物代码请从下拉列表选择（见“设施清单”“产生清单”“代码表”）。"],
        ["4. 上传后先试导入检查，全部无误后才能确认导入；同一文件重复导入不会重复记账。"],
        ["5. 已记入台账的记录不能修改，如有错误请在平台上更正（冲销并重录，注明原因）。"],
    ):
        intro.append(line)
    intro.column_dimensions["A"].width = 22
    intro.column_dimensions["B"].width = 40
    intro["A1"].font = Font(bold=True, size=14)

    codes = book.create_sheet(CODES_SHEET)
    lists = list(reference.code_lists.items())
    ranges: dict[str, str] = {}
    for index, (name, values) in enumerate(lists, start=1):
        letter = get_column_letter(index)
        codes.cell(row=1, column=index, value=name).font = Font(bold=True)
        codes.column_dimensions[letter].width = 22
        for offset, value in enumerate(values, start=2):
            codes.cell(row=offset, column=index, value=value)
        last = max(len(values) + 1, 2)
        ranges[name] = f"'{CODES_SHEET}'!${letter}$2:${letter}${last}"

    for sheet in SHEETS:
        worksheet = book.create_sheet(sheet.name)
        _style_header(worksheet, sheet.headers(), (c.width for c in sheet.columns))
        for index, column in enumerate(sheet.columns, start=1):
            if column.choices is None or column.choices not in ranges:
                continue
            letter = get_column_letter(index)
            validation = DataValidation(
                type="list", formula1=ranges[column.choices], allow_blank=True
            )
            validation.error = "请从下拉列表选择 / pick a value from the list"
            validation.add(f"{letter}2:{letter}{rows + 1}")
            worksheet.add_data_validation(validation)

    sites = book.create_sheet(SITES_SHEET)
    _style_header(sites, ["设施编码", "设施名称", "设施类型"], (16, 30, 18))
    for site_row in reference.sites:
        sites.append(list(site_row))
    streams = book.create_sheet(STREAMS_SHEET)
    _style_header(streams, ["废物流编码", "废物名称", "废物代码", "产生设施编码"], (16, 24, 12, 16))
    for stream_row in reference.streams:
        streams.append(list(stream_row))
    wastes = book.create_sheet("废物代码")
    _style_header(wastes, ["废物代码", "名称"], (12, 30))
    for waste_row in reference.wastes:
        wastes.append(list(waste_row))
    book.move_sheet(CODES_SHEET, offset=len(book.sheetnames))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rows_workbook(
    title_lines: list[list[str]], sheets: Mapping[str, Iterable[list[object]]]
) -> bytes:
    """A write-only workbook of the record sheets filled with ``sheets[name]`` rows
    (in each sheet's column order), after an instructions sheet of ``title_lines``."""
    book = Workbook(write_only=True)
    intro = book.create_sheet(INSTRUCTIONS_SHEET)
    for line in title_lines:
        intro.append(line)
    for sheet in SHEETS:
        worksheet = book.create_sheet(sheet.name)
        for index, column in enumerate(sheet.columns, start=1):
            worksheet.column_dimensions[get_column_letter(index)].width = column.width
        worksheet.freeze_panes = "A2"
        worksheet.append(sheet.headers())
        for row in sheets.get(sheet.name, ()):
            worksheet.append(row)
    book.properties.keywords = TEMPLATE_ID
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

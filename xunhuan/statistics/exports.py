"""Exports of any statistics table: Excel with Chinese headers, CSV (UTF-8 with BOM so
Excel opens it), and Parquet for analysts (English column names, exact decimals)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

FORMATS = ("xlsx", "csv", "parquet")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


def _cell(value: Any) -> Any:
    return "" if value is None else value


def table_export(
    *,
    rows: Sequence[Mapping[str, Any]],
    headers: Mapping[str, str],
    fmt: str,
    title: str,
    columns: Sequence[str] | None = None,
) -> bytes:
    """``rows`` (dicts, same keys in order) as a file of format ``fmt``.

    ``headers`` maps each key to its Chinese header (Excel and CSV); Parquet keeps
    the keys. Tonnes stay ``Decimal`` all the way (Excel number format 0.000).
    """
    columns = list(columns) if columns is not None else _columns(rows)
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None  # noqa: S101 - a new workbook always has one sheet
        sheet.title = title[:31]
        sheet.append([headers.get(c, c) for c in columns])
        for row in rows:
            sheet.append([_cell(row.get(c)) for c in columns])
        for column_cells in sheet.iter_cols(min_row=2):
            for cell in column_cells:
                if isinstance(cell.value, Decimal):
                    cell.number_format = "0.000" if cell.value.as_tuple().exponent == -3 else "0.00"
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow([headers.get(c, c) for c in columns])
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return text.getvalue().encode("utf-8-sig")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = {}
        for c in columns:
            values = [row.get(c) for row in rows]
            if any(isinstance(v, Decimal) for v in values):
                scale = 2 if c.endswith("rate") else 3
                arrays[c] = pa.array(
                    [
                        v.quantize(Decimal(1).scaleb(-scale)) if v is not None else None
                        for v in values
                    ],
                    type=pa.decimal128(20, scale),
                )
            elif all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
                arrays[c] = pa.array(values, type=pa.int64())
            else:
                arrays[c] = pa.array(
                    [None if v is None else str(v) for v in values], type=pa.string()
                )
        table = pa.table(arrays) if columns else pa.table({})
        out = io.BytesIO()
        pq.write_table(table, out)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r}")

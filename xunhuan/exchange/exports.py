"""CSV and Excel export of a run's proposed flows (the rows the user may see)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from openpyxl import Workbook

from xunhuan.core.units import format_tonnes
from xunhuan.exchange.models import ProposedFlow

HEADER = (
    "供应单位 / source",
    "统一社会信用代码 / credit code",
    "供应设施 / source site",
    "固废类别 / waste",
    "数量（吨） / tonnes",
    "接收方 / receiver",
    "方式 / mode",
    "距离（公里） / km",
    "单位运费（元/吨） / yuan per t",
    "运费（元） / yuan",
    "说明 / why",
)


def _row(flow: ProposedFlow) -> tuple[str, ...]:
    return (
        flow.source_enterprise.name,
        flow.source_enterprise.credit_code,
        flow.source_site.code,
        flow.waste_id,
        format_tonnes(flow.quantity),
        flow.receiver_name,
        flow.mode,
        f"{flow.distance_km}",
        f"{flow.cost_per_t}",
        f"{flow.cost_yuan}",
        flow.explanation,
    )


def flows_csv(flows: Iterable[ProposedFlow]) -> bytes:
    """UTF-8 with a byte-order mark so that Excel opens the Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(_row(flow) for flow in flows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def flows_xlsx(flows: Iterable[ProposedFlow]) -> bytes:
    """Quantities and money as text: Excel would turn Decimal tonnes into floats."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("建议流向 flows")
    sheet.append(HEADER)
    for flow in flows:
        sheet.append(_row(flow))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

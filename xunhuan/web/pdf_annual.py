"""The annual ledger summary of one enterprise as a PDF (Chinese): the year's official
indicators, totals by waste and by ledger entry kind, a monthly chart of generation and
utilization with its table, stock at year end, and the state of the hash chain.

Figures come from the statistics cells (``stats_table`` scoped to the one enterprise,
the same numbers the dashboard shows) and from the ledger (totals by kind, summed in
SQL); the chain is walked as the workspace badge does. reportlab's CID font
``STSong-Light`` renders the Chinese without font files (as the transfer PDF does);
the charts are reportlab.graphics drawings, vector in the PDF."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import EntryKind, LedgerEntry
from xunhuan.ledger.selectors import ledger_totals_by_waste_and_kind
from xunhuan.registry.models import Enterprise, WasteCategory
from xunhuan.statistics.selectors import StatRow, StatScope, stats_table
from xunhuan.web.templatetags.xunhuan_format import tonnes

FONT = "STSong-Light"
GENERATED = colors.HexColor("#5b7fa6")
UTILIZED = colors.HexColor("#3f9a5a")
ZERO = Decimal("0.000")


@dataclass
class AnnualSummary:
    """Everything the PDF prints, gathered first so a test can compare it with the file."""

    enterprise: Enterprise
    year: int
    total: StatRow | None
    by_waste: list[StatRow]
    by_kind: list[tuple[str, str, Decimal]]
    months: list[tuple[int, Decimal, Decimal]]  # month, generated, utilized
    waste_names: dict[str, str]
    entries: int
    chain_problem: str | None

    @property
    def stock_at_year_end(self) -> Decimal:
        return sum((r.stock_on_hand or ZERO for r in self.by_waste), ZERO)


def annual_summary(*, enterprise: Enterprise, year: int) -> AnnualSummary:
    """Gather the year's figures of ``enterprise`` (the caller has checked access)."""
    scope = StatScope(paths=(), enterprise_ids=(enterprise.pk,))
    total = stats_table(scope=scope, by=["year"], year=year)
    by_waste = stats_table(scope=scope, by=["waste"], year=year)
    monthly = {
        int(str(r.keys["month"])[5:7]): r for r in stats_table(scope=scope, by=["month"], year=year)
    }
    months = [
        (
            m,
            monthly[m].values["generated"] if m in monthly else ZERO,
            monthly[m].values["utilized"] if m in monthly else ZERO,
        )
        for m in range(1, 13)
    ]
    by_kind = ledger_totals_by_waste_and_kind(
        enterprise=enterprise, date_from=dt.date(year, 1, 1), date_to=dt.date(year, 12, 31)
    )
    codes = {str(r.keys["waste"]) for r in by_waste} | {w for w, _k, _t in by_kind}
    names = dict(WasteCategory.objects.filter(code__in=codes).values_list("code", "name_zh"))
    broken = chain_verify(enterprise_id=enterprise.pk)
    return AnnualSummary(
        enterprise=enterprise,
        year=year,
        total=total[0] if total else None,
        by_waste=by_waste,
        by_kind=by_kind,
        months=months,
        waste_names=names,
        entries=LedgerEntry.objects.filter(enterprise=enterprise).count(),
        chain_problem=(
            None if broken is None else f"第{broken.seq}条记录（{broken.label}）：{broken.problem}"
        ),
    )


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _t(value: Decimal | None) -> str:
    return tonnes(value, "bare")


def _rate(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}"


def _table(rows: list[list[str]], widths: list[float], font: str) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 8),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8efec")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _monthly_chart(summary: AnnualSummary, font: str) -> Drawing:
    """Generation and utilization per month as grouped bars, tonnes on the axis."""
    drawing = Drawing(180 * mm, 70 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y = 16 * mm, 12 * mm
    chart.width, chart.height = 150 * mm, 48 * mm
    # Floats only to place bars on paper; every printed figure is the Decimal's text.
    chart.data = [
        [float(g) for _m, g, _u in summary.months],
        [float(u) for _m, _g, u in summary.months],
    ]
    chart.categoryAxis.categoryNames = [f"{m}月" for m, _g, _u in summary.months]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = lambda v: f"{v:,.0f}"
    chart.bars[0].fillColor = GENERATED
    chart.bars[1].fillColor = UTILIZED
    chart.barSpacing = 1
    chart.groupSpacing = 6
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 120 * mm, 68 * mm
    legend.fontName = font
    legend.fontSize = 8
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.colorNamePairs = [(GENERATED, "产生量"), (UTILIZED, "综合利用量")]
    drawing.add(legend)
    drawing.add(String(16 * mm, 64 * mm, "吨", fontName=font, fontSize=7))
    return drawing


def annual_summary_pdf(summary: AnnualSummary) -> bytes:
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=15, leading=21, alignment=1)
    heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=16, spaceBefore=6)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13)
    e = summary.enterprise
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=f"{e.name} {summary.year}年台账年度汇总",
        author="循环 Xunhuan",
    )
    printed = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    story: list[object] = [
        Paragraph(escape(f"{summary.year}年一般工业固体废物管理台账年度汇总"), title),
        Spacer(1, 3 * mm),
        Paragraph(escape(f"单位名称：{e.name}　统一社会信用代码：{e.credit_code}"), body),
        Paragraph(
            escape(
                f"所在地区：{e.region.name}　行业：{e.industry.name}"
                + (f"　园区：{e.park.name}" if e.park else "")
            ),
            body,
        ),
        Paragraph(escape(f"生成时间：{printed}（北京时间）　单位：吨"), body),
        Spacer(1, 3 * mm),
        Paragraph("一、年度指标", heading),
    ]
    t = summary.total
    values = t.values if t else {}
    story.append(
        _table(
            [
                [
                    "产生量",
                    "综合利用量",
                    "处置量",
                    "贮存量",
                    "倾倒丢弃量",
                    "综合利用率（%）",
                    "年末库存",
                ],
                [
                    _t(values.get("generated", ZERO)),
                    _t(values.get("utilized", ZERO)),
                    _t(values.get("disposed", ZERO)),
                    _t(values.get("storage_added", ZERO)),
                    _t(values.get("dumped", ZERO)),
                    _rate(t.utilization_rate if t else None),
                    _t(summary.stock_at_year_end),
                ],
            ],
            [25 * mm] * 7,
            font,
        )
    )
    story += [Paragraph("二、按废物类别", heading)]
    waste_rows = [
        ["废物类别", "产生量", "综合利用量", "处置量", "贮存量", "年末库存", "利用率（%）"]
    ]
    for r in summary.by_waste:
        code = str(r.keys["waste"])
        waste_rows.append(
            [
                f"{code} {summary.waste_names.get(code, '')}",
                _t(r.values["generated"]),
                _t(r.values["utilized"]),
                _t(r.values["disposed"]),
                _t(r.values["storage_added"]),
                _t(r.stock_on_hand),
                _rate(r.utilization_rate),
            ]
        )
    if len(waste_rows) == 1:
        waste_rows.append(["本年无记录", "", "", "", "", "", ""])
    story.append(_table(waste_rows, [45 * mm, *[22 * mm] * 6], font))

    story += [Paragraph("三、按废物类别与记录类型（台账记录合计，含更正）", heading)]
    labels = dict(EntryKind.choices)
    kind_rows = [["废物类别", "记录类型", "合计"]]
    for code, kind, total in summary.by_kind:
        kind_rows.append(
            [f"{code} {summary.waste_names.get(code, '')}", str(labels.get(kind, kind)), _t(total)]
        )
    if len(kind_rows) == 1:
        kind_rows.append(["本年无记录", "", ""])
    story.append(_table(kind_rows, [60 * mm, 60 * mm, 40 * mm], font))

    story += [Paragraph("四、逐月产生与综合利用", heading), _monthly_chart(summary, font)]
    month_rows = [["月份", "产生量", "综合利用量"]]
    month_rows += [[f"{m}月", _t(g), _t(u)] for m, g, u in summary.months]
    month_rows.append(
        [
            "合计",
            _t(sum((g for _m, g, _u in summary.months), ZERO)),
            _t(sum((u for _m, _g, u in summary.months), ZERO)),
        ]
    )
    story.append(_table(month_rows, [30 * mm, 45 * mm, 45 * mm], font))
    story += [Paragraph("五、台账哈希链", heading)]
    if summary.chain_problem is None:
        chain = f"台账共{summary.entries}条记录，哈希链校验完整，未发现篡改。"
    else:
        chain = f"台账共{summary.entries}条记录，哈希链校验发现问题：{summary.chain_problem}"
    story.append(Paragraph(escape(chain), body))
    document.build(story)
    return out.getvalue()

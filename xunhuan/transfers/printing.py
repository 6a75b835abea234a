"""The printable transfer document (PDF, Chinese): parties, waste lines, every signature
with its hash, and a QR code of the number so an inspector can look the document up.

reportlab's built-in CID font ``STSong-Light`` renders Chinese without shipping font
files; segno draws the QR code.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

import segno
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from xunhuan.core.units import format_tonnes
from xunhuan.transfers.models import Transfer, TransferStatus

FONT = "STSong-Light"


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _qr(text: str) -> Image:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=4, border=2)
    buffer.seek(0)
    width, height = ImageReader(buffer).getSize()
    buffer.seek(0)
    side = 28 * mm
    return Image(buffer, width=side, height=side * height / width)


def _t(value: object) -> str:
    return "" if value is None else str(value)


def transfer_pdf(*, transfer: Transfer) -> bytes:
    """Render one document (legs, lines, signatures prefetched by the caller's selector)."""
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13)
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"一般工业固体废物转移联单 {transfer.number}",
    )
    status = TransferStatus(transfer.status).label
    plan = transfer.get_planned_route_display() or transfer.get_planned_disposal_method_display()
    header = Table(
        [
            [
                Paragraph(
                    f"联单编号：{transfer.number}<br/>状态：{status}<br/>"
                    f"去向：{transfer.get_purpose_display()}（{plan}）<br/>"
                    f"开具日期：{_t(transfer.issued_on)}　接收期限：{_t(transfer.receipt_due)}",
                    body,
                ),
                _qr(transfer.number),
            ]
        ],
        colWidths=[145 * mm, 35 * mm],
    )
    parties = [["", "单位名称", "统一社会信用代码"]]
    parties.append(["产生单位", transfer.generator.name, transfer.generator.credit_code])
    for leg in transfer.legs.all():
        parties.append(
            [
                f"运输单位{leg.seq}（{leg.get_mode_display()} {leg.vehicle}）",
                leg.carrier.name,
                leg.carrier.credit_code,
            ]
        )
    parties.append(["接收单位", transfer.receiver.name, transfer.receiver.credit_code])
    lines = [["序号", "废物代码", "申报量（吨）", "过磅量（吨）", "接收量（吨）", "退回量（吨）"]]
    for line in transfer.lines.all():
        lines.append(
            [
                str(line.seq),
                line.waste_id,
                format_tonnes(line.declared),
                format_tonnes(line.weighed) if line.weighed is not None else "",
                format_tonnes(line.accepted) if line.accepted is not None else "",
                format_tonnes(line.refused) if line.refused is not None else "",
            ]
        )
    signatures = [["环节", "单位", "签署人", "时间", "哈希（前16位）"]]
    for signature in transfer.signatures.all():
        signatures.append(
            [
                signature.get_step_display(),
                signature.enterprise.name,
                signature.signer_name,
                f"{timezone.localtime(signature.signed_at):%Y-%m-%d %H:%M}",  # Asia/Shanghai
                signature.hash[:16],
            ]
        )
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), font, 8),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )
    story = [
        Paragraph("一般工业固体废物转移联单", title),
        Spacer(1, 4 * mm),
        header,
        Spacer(1, 4 * mm),
        Table(parties, colWidths=[50 * mm, 80 * mm, 50 * mm], style=grid),
        Spacer(1, 4 * mm),
        Table(lines, style=grid),
        Spacer(1, 4 * mm),
        Paragraph("签署记录 / signatures", body),
        Table(signatures, style=grid),
    ]
    if transfer.refusal_reason:
        story.append(Paragraph(f"拒收原因：{escape(transfer.refusal_reason)}", body))
    if transfer.cancel_reason:
        story.append(Paragraph(f"作废原因：{escape(transfer.cancel_reason)}", body))
    document.build(story)
    return out.getvalue()

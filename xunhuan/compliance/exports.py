"""Excel export of a findings queue (openpyxl, write-only so large queues stream)."""

from __future__ import annotations

import io

from django.db.models import QuerySet
from openpyxl import Workbook

from xunhuan.compliance.models import Finding, FindingStatus
from xunhuan.core.compliance.library import RULES_BY_ID, Severity

HEADERS = (
    "规则编号 rule",
    "规则 title",
    "严重程度 severity",
    "单位 enterprise",
    "统一社会信用代码 credit code",
    "园区 park",
    "设施 site",
    "行政区划 region",
    "期间起 from",
    "期间止 to",
    "说明 explanation",
    "状态 status",
    "状态说明 reason",
    "首次发现 first seen",
    "最近发现 last seen",
)
SEVERITY_ZH = {Severity.HIGH: "高", Severity.MEDIUM: "中", Severity.LOW: "低"}


def findings_export_xlsx(*, findings: QuerySet[Finding]) -> bytes:
    """The findings (already access-filtered and ordered) as an .xlsx workbook."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("检查发现")
    sheet.append(list(HEADERS))
    labels = dict(FindingStatus.choices)
    for f in findings.select_related("enterprise", "park", "site", "region").iterator(
        chunk_size=2000
    ):
        rule = RULES_BY_ID.get(f.rule_id)
        sheet.append(
            [
                f.rule_id,
                rule.title_zh if rule else "",
                SEVERITY_ZH.get(Severity(f.severity), str(f.severity)),
                f.enterprise.name if f.enterprise else "",
                f.enterprise.credit_code if f.enterprise else "",
                f.park.name if f.park else "",
                f.site.code if f.site else "",
                f.region.name,
                f.period_start,
                f.period_end,
                f.explanation_zh,
                str(labels.get(f.status, f.status)),
                f.status_reason,
                f.first_seen.replace(tzinfo=None),
                f.last_seen.replace(tzinfo=None),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

"""Compliance pages: the regulator's findings queue for its jurisdiction (sortable by
severity and age, filtered by rule, region and status, exported to Excel), one
finding with its history and the moves the user may make, and an enterprise's own
findings beside its workspace. Access comes from ``xunhuan.compliance.selectors``;
every move goes through ``xunhuan.compliance.services``, which decide again."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from xunhuan.accounts.selectors import regions_regulated_by, regions_visible_to
from xunhuan.compliance import selectors
from xunhuan.compliance import services as compliance_services
from xunhuan.compliance.exports import findings_export_xlsx
from xunhuan.compliance.models import Finding, FindingStatus
from xunhuan.core.compliance.library import RULES, RULES_BY_ID, Severity
from xunhuan.core.errors import DomainError, NotFound
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.web.access import can_write, visible_enterprise

PAGE = 50
ORDERS = (
    ("severity", gettext_lazy("严重程度")),
    ("age", gettext_lazy("发现最早")),
    ("recent", gettext_lazy("最近发现")),
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MOVES = {
    "acknowledge": compliance_services.finding_acknowledge,
    "resolve": compliance_services.finding_resolve,
    "waive": compliance_services.finding_waive,
}


def _filters(request: HttpRequest) -> dict[str, str]:
    """The queue's filters as given (shape only; the selector applies them)."""
    query = request.GET
    return {
        "status": query.get("status", selectors.ACTIVE_FILTER),
        "rule": query.get("rule", "").strip().upper(),
        "region": query.get("region", "").strip(),
        "severity": query.get("severity", "").strip(),
        "order": query.get("order", "severity"),
    }


def _queue(request: HttpRequest, filters: dict[str, str]) -> QuerySet[Finding]:
    severity = filters["severity"]
    return selectors.findings_list(
        findings=selectors.findings_visible_to(request.user),
        status=filters["status"] or None,
        rule_id=filters["rule"] or None,
        severity=int(severity) if severity.isdigit() else None,
        region_code=filters["region"] or None,
        order=filters["order"],
    )


def _rows(findings: list[Finding]) -> list[dict[str, Any]]:
    today = today_in_shanghai()
    rows = []
    for finding in findings:
        rule = RULES_BY_ID.get(finding.rule_id)
        rows.append(
            {
                "finding": finding,
                "title": rule.title_zh if rule else finding.rule_id,
                "severity": Severity(finding.severity).name.lower(),
                "age_days": (today - finding.first_seen.date()).days,
            }
        )
    return rows


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The jurisdiction's findings, gravest and oldest first by default. A user with
    only enterprise seats gets the same page over its own enterprises' findings."""
    roots = list(regions_regulated_by(request.user).order_by("code"))
    filters = _filters(request)
    page = Paginator(_queue(request, filters), PAGE).get_page(request.GET.get("page"))
    # Regions offered in the filter: the jurisdictions and the level below them.
    regions = list(
        regions_visible_to(request.user)
        .filter(level__in=("province", "city"))
        .order_by("code")
        .values_list("code", "name")
    )
    kept = {k: v for k, v in filters.items() if v}
    context = {
        "roots": roots,
        "page": page,
        "rows": _rows(list(page.object_list)),
        "filters": filters,
        "query": urlencode(kept),
        "rules": [(r.rule_id, r.title_zh) for r in RULES],
        "regions": regions,
        "statuses": [(selectors.ACTIVE_FILTER, _("待处理及已确认")), *FindingStatus.choices],
        "severities": [(int(s), s.name.lower()) for s in sorted(Severity, reverse=True)],
        "orders": ORDERS,
    }
    return render(request, "web/compliance/queue.html", context)


@login_required
@require_GET
def queue_export(request: HttpRequest) -> HttpResponse:
    """The queue with the same filters as an Excel workbook (the API's exporter)."""
    content = findings_export_xlsx(findings=_queue(request, _filters(request)))
    response = HttpResponse(content, content_type=XLSX)
    stamp = today_in_shanghai().isoformat()
    response["Content-Disposition"] = f'attachment; filename="findings-{stamp}.xlsx"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def finding_detail(request: HttpRequest, finding_id: uuid.UUID) -> HttpResponse:
    try:
        finding = selectors.finding_get(
            findings=selectors.findings_visible_to(request.user), public_id=str(finding_id)
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if request.method == "POST":
        move = MOVES.get(request.POST.get("action", ""))
        if move is None:
            messages.error(request, _("未知操作"))
        else:
            try:
                move(
                    user=request.user,
                    finding=finding,
                    reason=request.POST.get("reason", ""),
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("已更新状态"))
        return redirect("web:finding", finding_id=finding.public_id)
    rule = RULES_BY_ID.get(finding.rule_id)
    context = {
        "finding": finding,
        "rule": rule,
        "severity": Severity(finding.severity).name.lower(),
        "events": list(selectors.finding_events(finding=finding)),
        "actions": selectors.finding_actions(user=request.user, finding=finding),
        "measured": sorted(finding.measured.items()),
    }
    return render(request, "web/compliance/finding.html", context)


@login_required
@require_GET
def enterprise_findings(request: HttpRequest, credit_code: str) -> HttpResponse:
    """The enterprise's own findings (its seats, and the regulators who see it)."""
    enterprise = visible_enterprise(request, credit_code)
    status = request.GET.get("status", selectors.ACTIVE_FILTER)
    rows = selectors.findings_list(
        findings=selectors.findings_visible_to(request.user).filter(enterprise=enterprise),
        status=status or None,
        order=request.GET.get("order", "severity"),
    )
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    context = {
        "enterprise": enterprise,
        "tab": "findings",
        "writable": can_write(request, enterprise),
        "page": page,
        "rows": _rows(list(page.object_list)),
        "status": status,
        "query": urlencode({"status": status}),
        "statuses": [(selectors.ACTIVE_FILTER, _("待处理及已确认")), *FindingStatus.choices],
    }
    return render(request, "web/compliance/enterprise_findings.html", context)

"""Exchange pages: the runs a user may see, and one run's proposed flows as a flow map
(supplier → receiver by mode on longitude/latitude), a Sankey (source league → waste →
receiving league) and their tables, with CSV/Excel exports and the "draft a 联单"
button. Reads go through ``xunhuan.exchange.selectors`` with the user's visible
enterprises and regions; the button calls ``services.flow_accept``."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from openpyxl import Workbook

from xunhuan.accounts.selectors import (
    enterprises_visible_to,
    enterprises_writable_by,
    regions_visible_to,
)
from xunhuan.core import errors
from xunhuan.exchange import exports, selectors, services
from xunhuan.exchange.models import ChangeKind, ProposedFlow, Run
from xunhuan.registry.models import Enterprise, Region

RUNS_SHOWN = 50
SANKEY_HEADER = ("产生地盟市 / source league", "固废类别 / waste", "接收地盟市 / receiving league")


def _run(request: HttpRequest, run_id: str) -> Run:
    try:
        return selectors.run_get(
            enterprises=enterprises_visible_to(request.user),
            regions=regions_visible_to(request.user),
            public_id=run_id,
        )
    except errors.NotFound as exc:
        raise Http404(exc.message) from exc


def _flows(request: HttpRequest, run: Run) -> list[ProposedFlow]:
    return list(
        selectors.run_flows_list(run=run, enterprises=enterprises_visible_to(request.user))
        .select_related("source_enterprise__region", "receiver_enterprise__region", "waste")
        .select_related("receiver_site")
    )


def _point(site: Any, enterprise: Enterprise | None) -> tuple[float, float] | None:
    for holder in (site, enterprise):
        if holder is not None and holder.latitude is not None and holder.longitude is not None:
            return float(holder.longitude), float(holder.latitude)
    return None


def _league(region: Region | None, names: dict[str, str]) -> str:
    if region is None:
        return "—"
    parts = [p for p in region.path.split("/") if p]
    code = parts[2] if len(parts) > 2 else parts[-1]
    return names.get(code, code)


@dataclass(frozen=True)
class SankeyLink:
    source: str
    waste: str
    target: str
    tonnes: Decimal


def _sankey(flows: list[ProposedFlow], run: Run) -> list[SankeyLink]:
    """Tonnes by (source league, waste, receiving league); a scenario's planned plant
    is in the league its change names."""
    planned: dict[str, Region | None] = {}
    if run.scenario is not None:
        changes = run.scenario.changes.filter(kind=ChangeKind.ADD_PLANT).select_related("region")
        planned = {c.name: c.region for c in changes}
    codes = {c for f in flows for c in _path_codes(f)} | {
        p for r in planned.values() if r is not None for p in r.path.split("/") if p
    }
    names = dict(Region.objects.filter(code__in=codes).values_list("code", "name"))
    total: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for f in flows:
        receiver_region = (
            f.receiver_enterprise.region
            if f.receiver_enterprise is not None
            else planned.get(f.receiver_name)
        )
        key = (
            _league(f.source_enterprise.region, names),
            f"{f.waste_id} {f.waste.name_zh}",
            _league(receiver_region, names),
        )
        total[key] += f.quantity
    return [SankeyLink(s, w, t, q) for (s, w, t), q in sorted(total.items())]


def _path_codes(flow: ProposedFlow) -> list[str]:
    paths = [flow.source_enterprise.region.path]
    if flow.receiver_enterprise is not None:
        paths.append(flow.receiver_enterprise.region.path)
    return [p for path in paths for p in path.split("/") if p]


def _map_lines(flows: list[ProposedFlow], run: Run) -> list[dict[str, Any]]:
    planned: dict[str, tuple[float, float]] = {}
    if run.scenario is not None:
        for c in run.scenario.changes.filter(kind=ChangeKind.ADD_PLANT):
            if c.latitude is not None and c.longitude is not None:
                planned[c.name] = (float(c.longitude), float(c.latitude))
    lines = []
    for f in flows:
        start = _point(f.source_site, f.source_enterprise)
        end = (
            _point(f.receiver_site, f.receiver_enterprise)
            if f.receiver_enterprise is not None
            else planned.get(f.receiver_name)
        )
        if start is None or end is None:
            continue
        lines.append(
            {
                "coords": [start, end],
                "mode": f.mode,
                "tonnes": str(f.quantity),
                "name": f"{f.source_enterprise.name} → {f.receiver_name}",
            }
        )
    return lines


def _drafters(request: HttpRequest) -> set[int]:
    """Enterprises whose draft 联单 the user may write (admin and member seats)."""
    return set(enterprises_writable_by(request.user).values_list("pk", flat=True))


@login_required
@require_GET
def runs_page(request: HttpRequest) -> HttpResponse:
    runs = selectors.runs_visible(
        enterprises=enterprises_visible_to(request.user), regions=regions_visible_to(request.user)
    )[:RUNS_SHOWN]
    return render(request, "web/exchange/runs.html", {"runs": runs})


@login_required
@require_GET
def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    run = _run(request, run_id)
    flows = _flows(request, run)
    export = request.GET.get("export")
    if export == "flows.csv":
        return _download(exports.flows_csv(flows), f"flows-{run_id}.csv", "text/csv")
    if export == "flows.xlsx":
        return _download(exports.flows_xlsx(flows), f"flows-{run_id}.xlsx", XLSX)
    sankey = _sankey(flows, run)
    if export == "sankey.csv":
        return _download(_sankey_csv(sankey), f"sankey-{run_id}.csv", "text/csv")
    if export == "sankey.xlsx":
        return _download(_sankey_xlsx(sankey), f"sankey-{run_id}.xlsx", XLSX)
    regulated = selectors.regulated_codes(regions=regions_visible_to(request.user))
    drafters = _drafters(request)
    carriers = (
        Enterprise.objects.filter(is_carrier=True)
        .order_by("name")
        .values_list("credit_code", "name")
        if drafters
        else []
    )
    return render(
        request,
        "web/exchange/run.html",
        {
            "run": run,
            "totals": selectors.run_totals_visible(run=run, regulated=regulated),
            "flows": [
                (f, f.source_enterprise_id in drafters and f.receiver_enterprise_id is not None)
                for f in flows
            ],
            "sankey": sankey,
            "carriers": list(carriers),
            "chart_data": {
                "lines": _map_lines(flows, run),
                "sankey": [
                    {"source": s.source, "waste": s.waste, "target": s.target, "t": str(s.tonnes)}
                    for s in sankey
                ],
            },
        },
    )


@login_required
@require_POST
def flow_accept(request: HttpRequest, run_id: str, seq: int) -> HttpResponse:
    """The button: the flow becomes the generator's draft 联单 (then shown on its page)."""
    run = _run(request, run_id)
    try:
        flow = selectors.flow_get(
            run=run, enterprises=enterprises_visible_to(request.user), seq=seq
        )
    except errors.NotFound as exc:
        raise Http404(exc.message) from exc
    carrier = Enterprise.objects.filter(
        credit_code=request.POST.get("carrier", ""), is_carrier=True
    ).first()
    if carrier is None:
        messages.error(request, "请选择承运单位 / choose a carrier")
        return redirect("web:exchange_run", run_id=run_id)
    try:
        transfer = services.flow_accept(
            flow=flow,
            user=request.user,  # type: ignore[arg-type]  # login_required
            carrier=carrier,
            vehicle=request.POST.get("vehicle", "")[:32],
        )
    except errors.PermissionDenied as exc:
        raise PermissionDenied(exc.message) from exc
    except errors.DomainError as exc:
        messages.error(request, exc.message)
        return redirect("web:exchange_run", run_id=run_id)
    return redirect("web:transfer", number=transfer.number)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _sankey_rows(links: list[SankeyLink]) -> list[tuple[str, str, str, str]]:
    return [(s.source, s.waste, s.target, f"{s.tonnes}") for s in links]


def _sankey_csv(links: list[SankeyLink]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow((*SANKEY_HEADER, "数量（吨） / tonnes"))
    writer.writerows(_sankey_rows(links))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _sankey_xlsx(links: list[SankeyLink]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("流向汇总 sankey")
    sheet.append((*SANKEY_HEADER, "数量（吨） / tonnes"))
    for row in _sankey_rows(links):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

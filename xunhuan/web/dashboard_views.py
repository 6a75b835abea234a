"""The regulator dashboard: the jurisdiction's utilization by region, month, waste
group and route, targets with their gap, rankings, and drill-down region → park →
enterprise → ledger. All figures come from ``xunhuan.statistics.selectors``; this
module only picks the region and shapes rows for tables, charts and CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.timezone import localdate
from django.views.decorators.http import require_GET

from xunhuan.accounts.selectors import regions_regulated_by, regions_visible_to
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.registry.models import Enterprise, Park, Region
from xunhuan.statistics.selectors import (
    LABELS_ZH,
    StatRow,
    assessment_table,
    stat_scope,
    stats_table,
    targets_evaluate,
)
from xunhuan.transfers.models import RevisionStatus, Transfer
from xunhuan.transfers.selectors import (
    transfers_disputed,
    transfers_overdue,
    transfers_visible_to,
)
from xunhuan.web.finders import PREFIX as BOUNDARIES
from xunhuan.web.finders import boundary_served
from xunhuan.web.templatetags.xunhuan_format import tonnes

# Which rows the region's breakdown table shows, by the region's level.
CHILD_DIMENSION = {"national": "city", "province": "city", "city": "county", "county": "park"}
TABLES = (
    "regions",
    "months",
    "groups",
    "routes",
    "enterprises",
    "targets",
    "ranking",
    "overdue",
    "disputed",
)
MONTHS_SHOWN = 24
HOT_SPOTS = 10


@dataclass
class Chartable:
    """A table with a chart: rows of (label, value, rate) as the page and ECharts read them."""

    labels: list[str]
    values: list[str]  # tonnes as text, so JSON carries the exact figure
    rates: list[str | None]


def _chart(rows: Sequence[StatRow], dim: str, measure: str = "generated") -> Chartable:
    return Chartable(
        labels=[str(r.labels.get(dim) or r.keys[dim]) for r in rows],
        values=[f"{r.values.get(measure, Decimal(0))}" for r in rows],
        rates=[f"{r.utilization_rate}" if r.utilization_rate is not None else None for r in rows],
    )


def _map(rows: Sequence[StatRow], dim: str) -> dict[str, list[str | None]]:
    """The map's data: each child region's GB/T 2260 code (the boundary file's
    ``adcode``), name, utilization rate and tonnes generated, as in the table."""
    chart = _chart(rows, dim)
    return {"codes": [str(r.keys[dim]) for r in rows], **chart.__dict__}


def _region(request: HttpRequest) -> Region:
    roots = list(regions_regulated_by(request.user).order_by("code"))
    if not roots:
        raise PermissionDenied("仅监管部门可查看 / regulators only")
    code = request.GET.get("region") or roots[0].code
    region = regions_visible_to(request.user).filter(code=code).first()
    if region is None:
        raise Http404("不在监管辖区内 / outside your jurisdiction")
    return region


def _csv(rows: list[dict[str, Any]], filename: str) -> HttpResponse:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writerow({k: LABELS_ZH.get(k, k) for k in rows[0]})
        writer.writerows(rows)
    # A BOM so that Excel opens the Chinese headers as UTF-8.
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _with_stock(total: StatRow, parts: Sequence[StatRow]) -> StatRow:
    """The year's total with its stock on hand: a time grouping carries no stock (it is
    a balance, not a flow), so it is the sum over the parts that cover the region."""
    if total.stock_on_hand is not None or not parts:
        return total
    return replace(
        total, stock_on_hand=sum((r.stock_on_hand or Decimal(0) for r in parts), Decimal(0))
    )


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    region = _region(request)
    scope = stat_scope(request.user)
    # Every month with data, once: the trend shows the last ones and the year picker
    # offers their years (one grouped query instead of two).
    all_months = stats_table(scope=scope, by=["month"], region=region)
    years = sorted({int(str(r.keys["month"])[:4]) for r in all_months})
    try:
        year = int(request.GET.get("year") or (years[-1] if years else 0)) or None
    except ValueError:
        year = years[-1] if years else None
    park: Park | None = None
    if request.GET.get("park"):
        park = Park.objects.filter(
            pk=request.GET["park"], region__path__startswith=region.path
        ).first()
        if park is None:
            raise Http404("园区不在此区域 / park outside this region")
    park_id = park.pk if park else None
    child_dim = CHILD_DIMENSION.get(region.level, "park")
    total = stats_table(scope=scope, by=["year"], region=region, year=year, park_id=park_id)
    children = (
        stats_table(scope=scope, by=[child_dim], region=region, year=year) if park is None else []
    )
    export = request.GET.get("export")
    # Enterprise rows read the per-enterprise cells, not the region rollup: a province
    # has thousands, so they are listed from the league down (drill-down), and the
    # province's full list is the CSV export.
    by_enterprise = region.level not in ("national", "province") or export == "enterprises"
    enterprises = (
        stats_table(scope=scope, by=["enterprise"], region=region, year=year, park_id=park_id)
        if by_enterprise
        else []
    )
    enterprises.sort(key=lambda r: -r.values["generated"])
    months = (
        stats_table(scope=scope, by=["month"], region=region, park_id=park_id)
        if park is not None
        else all_months
    )[-MONTHS_SHOWN:]
    groups = stats_table(scope=scope, by=["group"], region=region, year=year, park_id=park_id)
    routes = stats_table(scope=scope, by=["route"], region=region, year=year, park_id=park_id)
    targets = targets_evaluate(scope=scope, region=region, year=year) if park is None else []
    ranking = (
        assessment_table(scope=scope, region=region, year=year)
        if year is not None and park is None and region.level in ("province", "city")
        else []
    )
    # Stock hot spots from the same enterprise rows: most on hand, most added this year.
    largest_stock = sorted(enterprises, key=lambda r: -(r.stock_on_hand or 0))[:HOT_SPOTS]
    fastest_growing = sorted(enterprises, key=lambda r: -r.values["storage_added"])[:HOT_SPOTS]
    # Transfers of the jurisdiction's generators: the page lists the first ones, the
    # CSV all of them.
    in_region = transfers_visible_to(request.user).filter(
        generator__region__path__startswith=region.path
    )
    shown = None if export in ("overdue", "disputed") else HOT_SPOTS
    overdue = list(transfers_overdue(transfers=in_region, today=today_in_shanghai())[:shown])
    disputed = [(t, _dispute(t)) for t in transfers_disputed(transfers=in_region)[:shown]]
    if export in TABLES:
        return _export(
            export,
            region,
            year,
            children,
            months,
            groups,
            routes,
            enterprises,
            targets,
            ranking,
            overdue,
            disputed,
        )
    credit_codes = dict(
        Enterprise.objects.filter(
            pk__in=[r.keys["enterprise"] for r in enterprises[:100]]
        ).values_list("pk", "credit_code")
    )
    context = {
        "region": region,
        "ancestors": _ancestors(region, request),
        "park": park,
        "year": year,
        "years": years,
        "total": _with_stock(total[0], children or enterprises) if total else None,
        "child_dim": child_dim,
        "children": [(r, _hue(r.utilization_rate)) for r in children],
        "enterprises": [(r, credit_codes.get(r.keys["enterprise"])) for r in enterprises[:100]],
        "enterprise_count": len(enterprises),
        "by_enterprise": by_enterprise,
        "months": months,
        "groups": groups,
        "routes": routes,
        "targets": targets,
        "ranking": ranking,
        # Leagues of a province, counties of a league: the boundary file is the region's own.
        "map_file": (
            f"{BOUNDARIES}/{region.code}.json"
            if park is None and child_dim in ("city", "county") and boundary_served(region.code)
            else None
        ),
        "charts": {
            "map": _map(children, child_dim),
            "regions": _chart(children, child_dim).__dict__,
            "months": _chart(months, "month").__dict__,
            "groups": _chart(groups, "group").__dict__,
            "routes": _chart(routes, "route", "utilized").__dict__,
        },
        "query": request.GET.urlencode(),
        "largest_stock": [r for r in largest_stock if r.stock_on_hand],
        "fastest_growing": [r for r in fastest_growing if r.values["storage_added"] > 0],
        "overdue": overdue,
        "disputed": disputed,
        "today": today_in_shanghai(),
    }
    return render(request, "web/dashboard.html", context)


@dataclass
class Dispute:
    """What a disputed document waits for, read from its prefetched lines and revisions."""

    weight: list[str]  # "SW02 申报 5.000 t / 过磅 4.500 t" per unsettled line
    revisions: int  # revisions waiting for the parties' approval
    since: str  # when the oldest open dispute was opened (Asia/Shanghai date)


def _dispute(transfer: Transfer) -> Dispute:
    weight, opened = [], []
    for line in transfer.lines.all():
        found = getattr(line, "discrepancy", None)
        if found is not None and found.settled_at is None:
            declared, weighed = tonnes(found.declared, "bare"), tonnes(found.weighed, "bare")
            weight.append(f"{line.waste_id} {declared} → {weighed}")
            opened.append(localdate(found.opened_at))
    pending = [r for r in transfer.revisions.all() if r.status == RevisionStatus.PENDING]
    opened += [localdate(r.created_at) for r in pending]
    return Dispute(
        weight=weight,
        revisions=len(pending),
        since=min(opened).isoformat() if opened else "",
    )


def _transfer_rows(
    transfers: Sequence[tuple[Transfer, Dispute | None]],
) -> list[dict[str, Any]]:
    rows = []
    for t, dispute in transfers:
        row: dict[str, Any] = {
            "联单编号": t.number,
            "产生单位": t.generator.name,
            "产生单位统一社会信用代码": t.generator.credit_code,
            "接收单位": t.receiver.name,
            "状态": t.get_status_display(),
            "接收期限": t.receipt_due,
            "利用/处置期限": t.completion_due,
        }
        if dispute is not None:
            row["磅差（申报→过磅，吨）"] = "；".join(dispute.weight)
            row["待同意更正"] = dispute.revisions
            row["争议开始日期"] = dispute.since
        rows.append(row)
    return rows


def _hue(rate: Decimal | None) -> int | None:
    """Colour of a utilization rate: 0 % red (hue 0) to 100 % green (hue 120)."""
    if rate is None:
        return None
    return int(max(Decimal(0), min(rate, Decimal(100))) * Decimal("1.2"))


def _ancestors(region: Region, request: HttpRequest) -> list[Region]:
    """The breadcrumb: the regions above ``region`` that the user regulates too."""
    codes = [c for c in region.path.split("/") if c]
    by_code = {r.code: r for r in regions_visible_to(request.user).filter(code__in=codes)}
    return [by_code[c] for c in codes if c in by_code]


def _export(
    name: str,
    region: Region,
    year: int | None,
    children: list[StatRow],
    months: list[StatRow],
    groups: list[StatRow],
    routes: list[StatRow],
    enterprises: list[StatRow],
    targets: list[Any],
    ranking: list[Any],
    overdue: list[Transfer],
    disputed: list[tuple[Transfer, Dispute]],
) -> HttpResponse:
    tables: dict[str, list[dict[str, Any]]] = {
        "regions": [r.flat() for r in children],
        "months": [r.flat() for r in months],
        "groups": [r.flat() for r in groups],
        "routes": [r.flat() for r in routes],
        "enterprises": [r.flat() for r in enterprises],
        "targets": [
            {
                "目标": t.target.indicator,
                "目标年": t.target.year,
                "数据年": t.data_year,
                "当前值": t.current,
                "差距（百分点）": t.gap_points,
                "差距（吨）": t.gap_tonnes,
                "预计达到年份": t.reached_in,
                "状态": t.status,
            }
            for t in targets
        ],
        "ranking": [
            {
                "排名": r.rank,
                "区域": r.region.name,
                "综合利用率（%）": r.rate,
                "较上年（百分点）": r.improvement,
                "库存削减（%）": r.stock_reduction,
                "得分": r.score,
            }
            for r in ranking
        ],
        "overdue": _transfer_rows([(t, None) for t in overdue]),
        "disputed": _transfer_rows(disputed),
    }
    return _csv(tables[name], f"{name}-{region.code}-{year or 'all'}")

"""Statistics endpoints: official indicators by any grouping, exports, targets,
assessment (考核) and published figures. No logic here: scope from
``statistics.selectors.stat_scope``, then selectors and services.

Access (docs/adr/0012): every endpoint needs a login. Indicator tables sum only the
cells the user may see (a regulator its jurisdictions' subtrees, an enterprise seat
its own enterprise). Targets, assessment and published figures are regulators'
tools for a region in their jurisdiction; anyone else gets 404 for the region.
Nothing is public to anonymous users yet.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from xunhuan.accounts.selectors import regions_visible_to
from xunhuan.core.errors import NotFound, ValidationFailed
from xunhuan.core.indicators import ScoringWeights
from xunhuan.registry.models import Region
from xunhuan.statistics import selectors, services
from xunhuan.statistics.exports import CONTENT_TYPES, FORMATS, table_export

router = Router(tags=["统计 statistics"])


def _user(request: HttpRequest) -> Any:
    return request.user


def _region_for_indicators(request: HttpRequest, code: str | None) -> Region | None:
    if not code:
        return None
    return selectors.region_get(code=code)


def _regulated_region(request: HttpRequest, code: str) -> Region:
    region = regions_visible_to(_user(request)).filter(code=code).first()
    if region is None:
        # The same answer whether the region does not exist or is someone else's.
        raise NotFound("行政区划不存在或不在辖区内 / region not found", field="region")
    return region


class IndicatorFilters(Schema):
    by: str = Field(
        "year", description="逗号分隔的分组，如 city,group / groupings, comma separated"
    )
    region: str | None = None
    year: int | None = None
    waste_group: str | None = None


class StatRowOut(Schema):
    keys: dict[str, Any]
    labels: dict[str, str]
    values: dict[str, Decimal]
    stock_on_hand: Decimal | None
    utilization_rate: Decimal | None


class IndicatorTableOut(Schema):
    definition: str
    by: list[str]
    rows: list[StatRowOut]


def _table(request: HttpRequest, filters: IndicatorFilters) -> list[selectors.StatRow]:
    return selectors.stats_table(
        scope=selectors.stat_scope(_user(request)),
        by=[b.strip() for b in filters.by.split(",") if b.strip()],
        region=_region_for_indicators(request, filters.region),
        year=filters.year,
        waste_group=filters.waste_group,
    )


@router.get("/indicators", response=IndicatorTableOut)
def indicators(request: HttpRequest, filters: Query[IndicatorFilters]) -> dict[str, Any]:
    """官方口径指标（产生、综合利用及其中往年贮存、处置、贮存、倾倒丢弃、综合利用率），
    按任意维度分组 / official indicators grouped by any of city, county, park, industry,
    enterprise, waste, group, route, year, quarter, month."""
    rows = _table(request, filters)
    return {
        "definition": selectors.RATE_DEFINITION,
        "by": [b.strip() for b in filters.by.split(",") if b.strip()],
        "rows": rows,
    }


@router.get("/indicators/export")
def indicators_export(
    request: HttpRequest, filters: Query[IndicatorFilters], format: str = "xlsx"
) -> HttpResponse:
    """同一张表导出为 Excel（中文表头）、CSV 或 Parquet / the same table as a file."""
    if format not in FORMATS:
        raise ValidationFailed(f"格式须为 {', '.join(FORMATS)} / unknown format", field="format")
    rows = [row.flat() for row in _table(request, filters)]
    body = table_export(
        rows=rows,
        headers=selectors.LABELS_ZH,
        fmt=format,
        title="综合利用统计",
        columns=selectors.table_columns([b.strip() for b in filters.by.split(",") if b.strip()]),
    )
    response = HttpResponse(body, content_type=CONTENT_TYPES[format])
    stamp = dt.date.today().isoformat()  # noqa: DTZ011 - only names the file
    response["Content-Disposition"] = f'attachment; filename="xunhuan-statistics-{stamp}.{format}"'
    return response


class TargetIn(Schema):
    region: str
    year: int
    plan: str
    indicator: str
    scope: str
    metric: str
    waste_groups: list[str] = Field(default_factory=list)
    threshold_percent: Decimal | None = None
    threshold_tonnes: Decimal | None = None
    threshold_text: str = ""
    issuer_doc_no: str = ""
    source_url: str = ""
    note: str = ""


class TargetOut(Schema):
    id: str
    region: str
    year: int
    plan: str
    indicator: str
    scope: str
    metric: str
    waste_groups: list[str]
    threshold_percent: Decimal | None
    threshold_tonnes: Decimal | None
    threshold_text: str
    verification: str
    source_url: str
    is_seed: bool
    retired: bool
    retired_at: dt.datetime | None
    retired_reason: str
    supersedes: str | None
    superseded_by: str | None


class TargetEvaluationOut(Schema):
    target: TargetOut
    region: str
    data_year: int
    current: Decimal | None
    gap_points: Decimal | None
    gap_tonnes: Decimal | None
    reached_in: int | None
    status: str


def _target_out(target: Any) -> dict[str, Any]:
    return {
        "id": str(target.public_id),
        "region": target.region_code,
        "year": target.year,
        "plan": target.plan,
        "indicator": target.indicator,
        "scope": target.scope,
        "metric": target.metric,
        "waste_groups": sorted(g.code for g in target.waste_groups.all()),
        "threshold_percent": target.threshold_percent,
        "threshold_tonnes": target.threshold_tonnes,
        "threshold_text": target.threshold_text,
        "verification": target.verification,
        "source_url": target.source_url,
        "is_seed": target.is_seed,
        "retired": target.is_retired,
        "retired_at": target.retired_at,
        "retired_reason": target.retired_reason,
        "supersedes": str(target.supersedes.public_id) if target.supersedes else None,
        "superseded_by": (
            str(target.superseded_by.public_id) if hasattr(target, "superseded_by") else None
        ),
    }


@router.get("/targets", response=list[TargetEvaluationOut])
def targets(
    request: HttpRequest, region: str, year: int | None = None, include_retired: bool = False
) -> list[dict[str, Any]]:
    """辖区目标的现值、差距（百分点、吨）、按趋势预计达标年份与红黄绿状态；
    include_retired=true 时另列已停用、已修订的目标（状态 retired，不测算）/
    targets that apply to a region, measured on it; with include_retired=true also
    the retired and superseded ones (status ``retired``, not measured)."""
    place = _regulated_region(request, region)
    evaluations = selectors.targets_evaluate(
        scope=selectors.stat_scope(_user(request)), region=place, year=year
    )
    rows = [
        {
            "target": _target_out(e.target),
            "region": e.region.code,
            "data_year": e.data_year,
            "current": e.current,
            "gap_points": e.gap_points,
            "gap_tonnes": e.gap_tonnes,
            "reached_in": e.reached_in,
            "status": e.status,
        }
        for e in evaluations
    ]
    if include_retired:
        rows += [
            {
                "target": _target_out(t),
                "region": place.code,
                "data_year": t.year,
                "current": None,
                "gap_points": None,
                "gap_tonnes": None,
                "reached_in": None,
                "status": "retired",
            }
            for t in selectors.targets_retired_for_region(region=place)
        ]
    return rows


@router.post("/targets", response={201: TargetOut})
def targets_create(request: HttpRequest, body: TargetIn) -> Status[dict[str, Any]]:
    """监管部门为辖区设定目标 / a regulator adds a target for a region it regulates."""
    target = services.target_create(
        user=_user(request),
        region_code=body.region,
        year=body.year,
        plan=body.plan,
        indicator=body.indicator,
        scope=body.scope,
        metric=body.metric,
        waste_groups=body.waste_groups,
        threshold_percent=body.threshold_percent,
        threshold_tonnes=body.threshold_tonnes,
        threshold_text=body.threshold_text,
        issuer_doc_no=body.issuer_doc_no,
        source_url=body.source_url,
        note=body.note,
    )
    return Status(201, _target_out(target))


class TargetReviseIn(Schema):
    """The fields to change (those left out keep their value) and why."""

    reason: str
    year: int | None = None
    plan: str | None = None
    indicator: str | None = None
    scope: str | None = None
    metric: str | None = None
    waste_groups: list[str] | None = None
    threshold_percent: Decimal | None = None
    threshold_tonnes: Decimal | None = None
    threshold_text: str | None = None
    issuer_doc_no: str | None = None
    source_url: str | None = None
    note: str | None = None


class TargetRetireIn(Schema):
    reason: str


@router.post("/targets/{public_id}/revise", response={201: TargetOut})
def targets_revise(
    request: HttpRequest, public_id: str, body: TargetReviseIn
) -> Status[dict[str, Any]]:
    """修订目标：新目标取代原目标，原目标停用并留存（须说明原因）/ revise a target: a new
    target supersedes it and the old one is kept, retired, with the reason. A threshold
    given as null is cleared (to change a rate target into a tonnage one)."""
    given = body.model_dump(exclude_unset=True)
    reason = given.pop("reason")
    # null clears a threshold; any other field given as null keeps its value
    changes = {
        k: v
        for k, v in given.items()
        if v is not None or k in ("threshold_percent", "threshold_tonnes")
    }
    target = services.target_revise(
        user=_user(request), target_public_id=public_id, reason=reason, **changes
    )
    return Status(201, _target_out(target))


@router.post("/targets/{public_id}/retire", response=TargetOut)
def targets_retire(request: HttpRequest, public_id: str, body: TargetRetireIn) -> dict[str, Any]:
    """停用（撤回）目标，须说明原因；目标留存备查，不再测算 / withdraw a target with a
    reason; it is kept as history and no longer evaluated."""
    target = services.target_retire(
        user=_user(request), target_public_id=public_id, reason=body.reason
    )
    return _target_out(target)


class AssessmentOut(Schema):
    rank: int | None
    region: str
    name: str
    utilization_rate: Decimal | None
    rate_before: Decimal | None
    improvement: Decimal | None
    stock_start: Decimal
    stock_end: Decimal
    stock_reduction: Decimal | None
    scores: dict[str, Decimal | None]
    score: Decimal | None


class AssessmentFilters(Schema):
    region: str
    year: int
    waste_group: str | None = None
    weight_rate: Decimal = Decimal("0.5")
    weight_improvement: Decimal = Decimal("0.3")
    weight_stock_reduction: Decimal = Decimal("0.2")


def _assessment_rows(request: HttpRequest, filters: AssessmentFilters) -> list[dict[str, Any]]:
    place = _regulated_region(request, filters.region)
    rows = selectors.assessment_table(
        scope=selectors.stat_scope(_user(request)),
        region=place,
        year=filters.year,
        waste_group=filters.waste_group,
        weights=ScoringWeights(
            rate=filters.weight_rate,
            improvement=filters.weight_improvement,
            stock_reduction=filters.weight_stock_reduction,
        ),
    )
    return [
        {
            "rank": r.rank,
            "region": r.region.code,
            "name": r.region.name,
            "utilization_rate": r.rate,
            "rate_before": r.rate_before,
            "improvement": r.improvement,
            "stock_start": r.stock_start,
            "stock_end": r.stock_end,
            "stock_reduction": r.stock_reduction,
            "scores": r.scores,
            "score": r.score,
        }
        for r in rows
    ]


@router.get("/assessment", response=list[AssessmentOut])
def assessment(request: HttpRequest, filters: Query[AssessmentFilters]) -> list[dict[str, Any]]:
    """年度考核：下一级行政区按综合利用率、提升幅度、库存削减评分排名（权重可调）/
    the year's assessment of the leagues of a province or the counties of a league."""
    return _assessment_rows(request, filters)


ASSESSMENT_HEADERS = {
    "rank": "名次",
    "region": "行政区划代码",
    "name": "地区",
    "utilization_rate": "综合利用率（%）",
    "rate_before": "上年综合利用率（%）",
    "improvement": "提升（百分点）",
    "stock_start": "年初库存（吨）",
    "stock_end": "年末库存（吨）",
    "stock_reduction": "库存削减率（%）",
    "score_rate": "利用率得分",
    "score_improvement": "提升得分",
    "score_stock_reduction": "库存削减得分",
    "score": "综合得分",
}


@router.get("/assessment/export")
def assessment_export(
    request: HttpRequest, filters: Query[AssessmentFilters], format: str = "xlsx"
) -> HttpResponse:
    """年度考核表导出（Excel 中文表头、CSV、Parquet）/ the assessment table as a file."""
    if format not in FORMATS:
        raise ValidationFailed(f"格式须为 {', '.join(FORMATS)} / unknown format", field="format")
    rows = []
    for row in _assessment_rows(request, filters):
        scores = row.pop("scores")
        score = row.pop("score")
        rows.append({**row, **{f"score_{k}": v for k, v in scores.items()}, "score": score})
    body = table_export(
        rows=rows,
        headers=ASSESSMENT_HEADERS,
        fmt=format,
        title=f"{filters.year}年考核",
        columns=list(ASSESSMENT_HEADERS),
    )
    response = HttpResponse(body, content_type=CONTENT_TYPES[format])
    name = f"xunhuan-assessment-{filters.region}-{filters.year}.{format}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class PublishedIn(Schema):
    region: str
    year: int
    source: str
    waste_group: str | None = None
    generated: Decimal | None = None
    utilized: Decimal | None = None
    utilized_prior: Decimal | None = None
    disposed: Decimal | None = None
    storage_added: Decimal | None = None
    dumped: Decimal | None = None
    rate_percent: Decimal | None = None
    note: str = ""


class ComparisonOut(Schema):
    id: str
    waste_group: str | None
    source: str
    published: dict[str, Decimal | None]
    published_rate: Decimal | None
    ledger: dict[str, Decimal]
    ledger_rate: Decimal | None
    differences: dict[str, Decimal | None]


FIGURES = selectors.PUBLISHED_FIELDS


@router.post("/published", response={201: dict[str, str]})
def published_create(request: HttpRequest, body: PublishedIn) -> Status[dict[str, str]]:
    """登记地区公布的年度统计数（不含企业明细）/ record a region's published figures."""
    figure = services.published_figure_record(
        user=_user(request),
        region_code=body.region,
        year=body.year,
        source=body.source,
        waste_group=body.waste_group,
        figures={name: getattr(body, name) for name in FIGURES},
        rate_percent=body.rate_percent,
        note=body.note,
    )
    return Status(201, {"id": str(figure.public_id)})


@router.get("/published", response=list[ComparisonOut])
def published_compare(request: HttpRequest, region: str, year: int) -> list[dict[str, Any]]:
    """公布数与台账汇总数对照（差额 = 公布 − 台账）/ published beside ledger-derived figures."""
    place = _regulated_region(request, region)
    comparisons = selectors.published_figures_compare(
        scope=selectors.stat_scope(_user(request)), region=place, year=year
    )
    return [
        {
            "id": str(c.figure.public_id),
            "waste_group": c.figure.waste_group_id,
            "source": c.figure.source,
            "published": {name: getattr(c.figure, name) for name in FIGURES},
            "published_rate": c.figure.rate_percent,
            "ledger": c.ledger,
            "ledger_rate": c.ledger_rate,
            "differences": c.differences,
        }
        for c in comparisons
    ]

"""Compliance endpoints: rules and their jurisdiction settings, findings, the queue and
its Excel export. No logic here: access through selectors, writes through services."""

# No ``from __future__ import annotations``: see the note in ``api.py`` (ninja #1424).
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from xunhuan.accounts.selectors import enterprises_visible_to
from xunhuan.compliance import selectors
from xunhuan.compliance.exports import findings_export_xlsx
from xunhuan.compliance.models import (
    FacilityProfile,
    Finding,
    HazardousStream,
    OreZone,
    RuleSetting,
    RuleSettingChange,
)
from xunhuan.compliance.services import (
    facility_profile_declare,
    finding_acknowledge,
    finding_resolve,
    finding_waive,
    hazardous_stream_declare,
    ore_zone_register,
    rule_setting_set,
)
from xunhuan.core.compliance.library import RULES_BY_ID
from xunhuan.core.compliance.params import params_as_text
from xunhuan.core.errors import NotFound
from xunhuan.registry.models import Enterprise, Region

router = Router(tags=["合规 compliance"])


class ParamOut(Schema):
    name: str
    kind: str
    value: str
    default: str
    label_zh: str
    label_en: str


class RuleOut(Schema):
    rule_id: str
    title_zh: str
    title_en: str
    source: str
    verification: str
    severity: int
    industries: list[str]
    waste_codes: list[str]
    is_enabled: bool
    set_in: str | None
    params: list[ParamOut]


class RuleSettingIn(Schema):
    is_enabled: bool
    params: dict[str, str] = Field(default_factory=dict)
    reason: str = Field(..., max_length=500)


class RuleSettingOut(Schema):
    rule_id: str
    region: str = Field(..., alias="region_id")
    is_enabled: bool
    params: dict[str, str]
    updated_at: dt.datetime


class RuleSettingChangeOut(Schema):
    rule_id: str
    region: str = Field(..., alias="region_id")
    is_enabled: bool
    params: dict[str, str]
    previous_enabled: bool | None
    previous_params: dict[str, str] | None
    reason: str
    changed_by: str | None = Field(None, alias="changed_by.username")
    changed_at: dt.datetime


class FindingOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    rule_id: str
    severity: int
    status: str
    status_reason: str
    enterprise: str | None = Field(None, alias="enterprise.credit_code")
    enterprise_name: str | None = Field(None, alias="enterprise.name")
    park: str | None = Field(None, alias="park.name")
    site: str | None = Field(None, alias="site.code")
    waste_code: str | None = Field(None, alias="waste_id")
    region: str = Field(..., alias="region_id")
    period_start: dt.date
    period_end: dt.date
    measured: dict[str, str]
    explanation_zh: str
    explanation_en: str
    first_seen: dt.datetime
    last_seen: dt.datetime


class FindingEventOut(Schema):
    from_status: str
    to_status: str
    reason: str
    changed_by: str | None = Field(None, alias="changed_by.username")
    changed_at: dt.datetime


class FindingFilters(Schema):
    status: str | None = None
    rule: str | None = None
    severity: int | None = None
    enterprise: str | None = None
    region: str | None = None
    order: str = "severity"


class ReasonIn(Schema):
    reason: str = Field("", max_length=500)


def _region(code: str) -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise NotFound(f"没有该行政区划：{code} / unknown region", field="region")
    return region


@router.get("/rules", response=list[RuleOut])
def rules_list(request: HttpRequest, region: str = "100000") -> list[dict[str, Any]]:
    """Every rule with the settings in force in ``region`` (defaults: national)."""
    rows = []
    for effective in selectors.rules_effective(region=_region(region)):
        rule = effective.rule
        values = params_as_text(effective.params)
        defaults = params_as_text({p.name: p.default for p in rule.params})
        rows.append(
            {
                "rule_id": rule.rule_id,
                "title_zh": rule.title_zh,
                "title_en": rule.title_en,
                "source": rule.source,
                "verification": rule.verification,
                "severity": int(rule.severity),
                "industries": list(rule.industries),
                "waste_codes": list(rule.waste_codes),
                "is_enabled": effective.is_enabled,
                "set_in": effective.set_in,
                "params": [
                    {
                        "name": p.name,
                        "kind": p.kind,
                        "value": values[p.name],
                        "default": defaults[p.name],
                        "label_zh": p.label_zh,
                        "label_en": p.label_en,
                    }
                    for p in rule.params
                ],
            }
        )
    return rows


@router.put("/rules/{rule_id}/settings/{region_code}", response=RuleSettingOut)
def rule_settings_put(
    request: HttpRequest, rule_id: str, region_code: str, body: RuleSettingIn
) -> RuleSetting:
    """Switch a rule and set its parameters for a jurisdiction (its regulators only)."""
    return rule_setting_set(
        user=request.user,
        rule_id=rule_id,
        region_code=region_code,
        is_enabled=body.is_enabled,
        params=body.params,
        reason=body.reason,
    )


@router.get("/rules/{rule_id}/settings/{region_code}/history", response=list[RuleSettingChangeOut])
def rule_settings_history(
    request: HttpRequest, rule_id: str, region_code: str
) -> QuerySet[RuleSettingChange]:
    region = selectors.region_regulated(user=request.user, code=region_code)
    if rule_id.upper() not in RULES_BY_ID:
        raise NotFound(f"没有该规则：{rule_id} / unknown rule", field="rule_id")
    return selectors.rule_setting_history(rule_id=rule_id.upper(), region=region)


def _findings(request: HttpRequest, filters: FindingFilters) -> QuerySet[Finding]:
    return selectors.findings_list(
        findings=selectors.findings_visible_to(request.user),
        status=filters.status,
        rule_id=filters.rule,
        severity=filters.severity,
        enterprise_code=filters.enterprise,
        region_code=filters.region,
        order=filters.order,
    )


@router.get("/findings", response=list[FindingOut])
@paginate(LimitOffsetPagination)
def findings_list(request: HttpRequest, filters: Query[FindingFilters]) -> QuerySet[Finding]:
    """Findings the user may see: its enterprises' own, or its jurisdiction's queue
    (``order``: severity | age | recent)."""
    return _findings(request, filters)


@router.get("/findings/export.xlsx")
def findings_export(request: HttpRequest, filters: Query[FindingFilters]) -> HttpResponse:
    """The same list as an Excel workbook."""
    content = findings_export_xlsx(findings=_findings(request, filters))
    response = HttpResponse(
        content,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = 'attachment; filename="findings.xlsx"'
    return response


def _finding(request: HttpRequest, finding_id: uuid.UUID) -> Finding:
    return selectors.finding_get(
        findings=selectors.findings_visible_to(request.user), public_id=str(finding_id)
    )


def _detail(finding: Finding) -> Finding:
    finding.events_list = list(selectors.finding_events(finding=finding))  # type: ignore[attr-defined]
    return finding


class _Detail(FindingOut):
    events: list[FindingEventOut] = Field(..., alias="events_list")


@router.get("/findings/{finding_id}", response=_Detail)
def findings_get(request: HttpRequest, finding_id: uuid.UUID) -> Finding:
    return _detail(_finding(request, finding_id))


@router.post("/findings/{finding_id}/acknowledge", response=_Detail)
def findings_acknowledge(request: HttpRequest, finding_id: uuid.UUID, body: ReasonIn) -> Finding:
    """The enterprise or its regulator acknowledges an open finding."""
    finding = finding_acknowledge(
        user=request.user, finding=_finding(request, finding_id), reason=body.reason
    )
    return _detail(finding)


@router.post("/findings/{finding_id}/resolve", response=_Detail)
def findings_resolve(request: HttpRequest, finding_id: uuid.UUID, body: ReasonIn) -> Finding:
    """The regulator closes a finding as put right (reason required)."""
    finding = finding_resolve(
        user=request.user, finding=_finding(request, finding_id), reason=body.reason
    )
    return _detail(finding)


@router.post("/findings/{finding_id}/waive", response=_Detail)
def findings_waive(request: HttpRequest, finding_id: uuid.UUID, body: ReasonIn) -> Finding:
    """The regulator waives a finding (reason required); re-runs keep it waived."""
    finding = finding_waive(
        user=request.user, finding=_finding(request, finding_id), reason=body.reason
    )
    return _detail(finding)


class ProfileIn(Schema):
    """Only the fields sent are changed."""

    is_new_project: bool | None = None
    potline_current_ka: Decimal | None = None
    ac_kwh_per_t_liquid: Decimal | None = None
    ac_kwh_per_t_ingot: Decimal | None = None
    current_efficiency_pct: Decimal | None = None
    metal: str | None = None
    line_capacity_t: Decimal | None = None
    beneficiation_t_per_day: Decimal | None = None
    ore_self_supply_pct: Decimal | None = None
    capital_ratio_pct: Decimal | None = None
    has_gangue_plan: bool | None = None
    has_fly_ash_plan: bool | None = None
    has_fgd_gypsum_plan: bool | None = None
    utilization_designed: bool | None = None
    utilization_built: bool | None = None
    utilization_in_operation: bool | None = None


class ProfileOut(ProfileIn):
    id: uuid.UUID = Field(..., alias="public_id")
    enterprise: str = Field(..., alias="enterprise.credit_code")
    site: str | None = Field(None, alias="site.code")
    updated_at: dt.datetime


def _enterprise(request: HttpRequest, credit_code: str) -> Enterprise:
    enterprise = enterprises_visible_to(request.user).filter(credit_code=credit_code).first()
    if enterprise is None:
        raise NotFound("单位不存在或无权查看 / enterprise not found", field="credit_code")
    return enterprise


@router.get("/enterprises/{credit_code}/profiles", response=list[ProfileOut])
def profiles_list(request: HttpRequest, credit_code: str) -> QuerySet[FacilityProfile]:
    """The technical parameters the norms are checked against (lines and enterprise-wide)."""
    return selectors.facility_profiles_list(enterprise_id=_enterprise(request, credit_code).pk)


@router.put("/enterprises/{credit_code}/profiles", response=ProfileOut)
def profiles_put(
    request: HttpRequest, credit_code: str, body: ProfileIn, site: str | None = None
) -> FacilityProfile:
    """Declare parameters of a line (``?site=CODE``) or enterprise-wide (no ``site``)."""
    return facility_profile_declare(
        user=request.user,
        enterprise=_enterprise(request, credit_code),
        site_code=site,
        values=body.model_dump(exclude_none=True),
    )


class HazardousIn(Schema):
    hw_class: str = Field(..., max_length=4)
    hw_code: str = Field("", max_length=10)
    note: str = Field("", max_length=200)


class HazardousOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    enterprise: str = Field(..., alias="enterprise.credit_code")
    waste_code: str = Field(..., alias="waste_id")
    hw_class: str
    hw_code: str
    note: str
    declared_at: dt.datetime


@router.get("/enterprises/{credit_code}/hazardous", response=list[HazardousOut])
def hazardous_list(request: HttpRequest, credit_code: str) -> QuerySet[HazardousStream]:
    """Wastes the enterprise declared hazardous (checked by HAZARDOUS-STORAGE)."""
    return selectors.hazardous_streams_list(enterprise_id=_enterprise(request, credit_code).pk)


@router.put("/enterprises/{credit_code}/hazardous/{waste_code}", response=HazardousOut)
def hazardous_put(
    request: HttpRequest, credit_code: str, waste_code: str, body: HazardousIn
) -> HazardousStream:
    """Declare a waste booked under ``waste_code`` hazardous (名录 class and code)."""
    return hazardous_stream_declare(
        user=request.user,
        enterprise=_enterprise(request, credit_code),
        waste_code=waste_code,
        hw_class=body.hw_class,
        hw_code=body.hw_code,
        note=body.note,
    )


class ZoneIn(Schema):
    region: str
    name: str = Field(..., max_length=128)
    latitude: Decimal
    longitude: Decimal
    radius_km: Decimal


class ZoneOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    region: str = Field(..., alias="region_id")
    name: str
    latitude: Decimal
    longitude: Decimal
    radius_km: Decimal
    created_at: dt.datetime


@router.get("/zones", response=list[ZoneOut])
def zones_list(request: HttpRequest) -> QuerySet[OreZone]:
    """Designated mining zones in the user's jurisdiction (regulators only)."""
    return selectors.ore_zones_visible_to(request.user)


@router.post("/zones", response={201: ZoneOut})
def zones_post(request: HttpRequest, body: ZoneIn) -> Status[OreZone]:
    """Register a designated zone (≤ 30 km) that new beneficiation plants are held to."""
    return Status(
        201,
        ore_zone_register(
            user=request.user,
            region_code=body.region,
            name=body.name,
            latitude=body.latitude,
            longitude=body.longitude,
            radius_km=body.radius_km,
        ),
    )

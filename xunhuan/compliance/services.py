"""Writes of the compliance engine: runs that turn hits into findings, regulators'
rule settings (with their history), finding status changes and facility parameters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from xunhuan.accounts.selectors import regions_visible_to
from xunhuan.audit.services import audit_record
from xunhuan.compliance.models import (
    ComplianceRun,
    FacilityProfile,
    Finding,
    FindingEvent,
    FindingStatus,
    HazardousStream,
    OreZone,
    PendingCheck,
    RuleSetting,
    RuleSettingChange,
)
from xunhuan.compliance.scanners import SCANNERS, Hit, Scope, hit_measured
from xunhuan.compliance.scanners.base import RunMemo, chunks
from xunhuan.compliance.selectors import enterprise_written_by, region_administered
from xunhuan.core.compliance.checks import hazardous_code_parse
from xunhuan.core.compliance.explain import explanation_render
from xunhuan.core.compliance.library import RULES, RuleDef, rule_get
from xunhuan.core.compliance.params import ParamValue, params_as_text, params_resolve
from xunhuan.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    reason_checked,
)
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.registry.models import Enterprise, Park, Region, Site, WasteCategory

User = AbstractBaseUser | AnonymousUser
ACTIVE = (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED)
SYSTEM_FOUND_AGAIN = "复查再次发现 / found again on re-check"
SYSTEM_GONE = "复查未再发现 / no longer found on re-check"


def default_as_of() -> dt.date:
    """The last day of the previous month (Asia/Shanghai): the last complete ledger month."""
    return today_in_shanghai().replace(day=1) - dt.timedelta(days=1)


def rules_select(rule_ids: Sequence[str] | None) -> list[RuleDef]:
    if not rule_ids:
        return list(RULES)
    selected = []
    for rule_id in rule_ids:
        rule = rule_get(rule_id)
        if rule is None:
            raise NotFound(f"没有该规则：{rule_id} / unknown rule", field="rule")
        selected.append(rule)
    return selected


@dataclass(frozen=True)
class SettingGroup:
    """Enterprises (by region) that share one parameter set of a rule."""

    condition: Q
    params: dict[str, ParamValue]


def setting_groups(rule: RuleDef) -> list[SettingGroup]:
    """Split the country by the rule's settings: each enabled setting covers its region
    subtree minus deeper settings; the rest runs on the defaults. Disabled settings
    carve their subtree out of everything."""
    settings = list(RuleSetting.objects.filter(rule_id=rule.rule_id).select_related("region"))
    paths = [s.region.path for s in settings]
    groups = []
    for setting in settings:
        if not setting.is_enabled:
            continue
        path = setting.region.path
        condition = Q(region__path__startswith=path)
        for other in paths:
            if other != path and other.startswith(path):
                condition &= ~Q(region__path__startswith=other)
        groups.append(SettingGroup(condition, params_resolve(rule.params, setting.params)))
    default = Q()
    for path in paths:
        default &= ~Q(region__path__startswith=path)
    groups.append(SettingGroup(default, params_resolve(rule.params, {})))
    return groups


def _in_scope(
    rule: RuleDef, base: QuerySet[Enterprise], group: SettingGroup
) -> QuerySet[Enterprise]:
    rows = base.filter(group.condition)
    if rule.industries:
        industry = Q()
        for prefix in rule.industries:
            industry |= Q(industry__code__startswith=prefix)
        rows = rows.filter(industry)
    return rows


@transaction.atomic
def compliance_run(
    *,
    rule_ids: Sequence[str] | None = None,
    region_code: str | None = None,
    enterprise_ids: Iterable[int] | None = None,
    as_of: dt.date | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ComplianceRun:
    """Run rules over a scope and record what they find.

    A hit updates the finding with the same rule and subject (a resolved one is
    reopened, a waived one stays waived); an active finding in the scanned scope
    that no longer fires is resolved by the checks. ``enterprise_ids`` narrows the
    run to those enterprises (the incremental run after new entries); ``progress``
    is told (rules done, rules in all, rule id) after each rule.
    """
    as_of = as_of or default_as_of()
    region = None
    base = Enterprise.objects.all()
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        if region is None:
            raise NotFound(f"没有该行政区划：{region_code} / unknown region", field="region")
        base = base.filter(region__path__startswith=region.path)
    ids = None if enterprise_ids is None else sorted(set(enterprise_ids))
    if ids is not None:
        base = base.filter(pk__in=ids)
    rules = rules_select(rule_ids)
    now = timezone.now()
    run = ComplianceRun.objects.create(
        rule_ids=[r.rule_id for r in rules], region=region, as_of=as_of, started_at=now
    )
    memo = RunMemo(base)
    for done, rule in enumerate(rules, start=1):
        for group in setting_groups(rule):
            scoped = _in_scope(rule, base, group)
            hits = SCANNERS[rule.rule_id](Scope(rule, scoped, group.params, as_of, memo))
            _record(run, rule, hits, scoped, now)
        if progress is not None:
            progress(done, len(rules), rule.rule_id)
    if rule_ids is None:
        # Every rule ran over these enterprises: nothing is pending for them any more.
        PendingCheck.objects.filter(enterprise__in=base).delete()
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at", "found", "created", "updated", "resolved"])
    return run


def _record(
    run: ComplianceRun,
    rule: RuleDef,
    hits: list[Hit],
    scoped: QuerySet[Enterprise],
    now: dt.datetime,
) -> None:
    keys = [h.subject_key for h in hits]
    existing = {
        f.subject_key: f
        for chunk in chunks(keys)
        for f in Finding.objects.filter(rule_id=rule.rule_id, subject_key__in=chunk)
    }
    new: list[Finding] = []
    changed: list[Finding] = []
    unchanged: list[int] = []
    events: list[FindingEvent] = []
    for hit in hits:
        fields = {
            "severity": int(hit.severity if hit.severity is not None else rule.severity),
            "enterprise_id": hit.enterprise_id,
            "site_id": hit.site_id,
            "park_id": hit.park_id,
            "waste_id": hit.waste_id,
            "region_id": hit.region_id,
            "period_start": hit.period_start,
            "period_end": hit.period_end,
            "measured": hit_measured(hit),
            "explanation_zh": explanation_render(rule.template_zh, hit.values),
            "explanation_en": explanation_render(rule.template_en, hit.values),
            "last_seen": now,
        }
        finding = existing.get(hit.subject_key)
        if finding is None:
            new.append(
                Finding(
                    rule_id=rule.rule_id,
                    subject_key=hit.subject_key,
                    first_seen=now,
                    status_changed_at=now,
                    **fields,
                )
            )
            continue
        moved = finding.status == FindingStatus.RESOLVED or any(
            getattr(finding, name) != value for name, value in fields.items() if name != "last_seen"
        )
        for name, value in fields.items():
            setattr(finding, name, value)
        if not moved:
            # Same figures as last time: only last_seen moves (one UPDATE for all of them).
            unchanged.append(finding.pk)
            continue
        if finding.status == FindingStatus.RESOLVED:
            events.append(
                FindingEvent(
                    finding=finding,
                    from_status=finding.status,
                    to_status=FindingStatus.OPEN,
                    reason=SYSTEM_FOUND_AGAIN,
                )
            )
            finding.status = FindingStatus.OPEN
            finding.status_reason = ""
            finding.status_changed_at = now
        changed.append(finding)
    # Both engines return the new primary keys from a bulk insert (SQLite >= 3.35).
    created = Finding.objects.bulk_create(new, batch_size=500)
    events += [FindingEvent(finding=f, to_status=FindingStatus.OPEN) for f in created]
    for chunk in chunks(unchanged):
        Finding.objects.filter(pk__in=chunk).update(last_seen=now)
    Finding.objects.bulk_update(
        changed,
        [*fields_updated(), "status", "status_reason", "status_changed_at"],
        batch_size=500,
    )
    # What no longer fires in the scope just scanned is resolved by the checks: the
    # rule's active findings there, less what fired (compared here, not in an IN list).
    active = Finding.objects.filter(rule_id=rule.rule_id, status__in=ACTIVE)
    if rule.subject == "park":
        # A park is scanned when any of its enterprises is in scope.
        active = active.filter(park__in=Park.objects.filter(enterprises__in=scoped).values("pk"))
    else:
        active = active.filter(enterprise__in=scoped)
    fired = set(keys)
    resolved = [
        f
        for f in active.only("pk", "subject_key", "status", "status_reason", "status_changed_at")
        if f.subject_key not in fired
    ]
    for finding in resolved:
        events.append(
            FindingEvent(
                finding=finding,
                from_status=finding.status,
                to_status=FindingStatus.RESOLVED,
                reason=SYSTEM_GONE,
            )
        )
        finding.status = FindingStatus.RESOLVED
        finding.status_reason = SYSTEM_GONE
        finding.status_changed_at = now
    Finding.objects.bulk_update(
        resolved, ["status", "status_reason", "status_changed_at"], batch_size=500
    )
    FindingEvent.objects.bulk_create(events, batch_size=1000)
    run.found += len(hits)
    run.created += len(new)
    run.updated += len(changed) + len(unchanged)
    run.resolved += len(resolved)


def fields_updated() -> list[str]:
    return [
        "severity",
        "enterprise",
        "site",
        "park",
        "waste",
        "region",
        "period_start",
        "period_end",
        "measured",
        "explanation_zh",
        "explanation_en",
        "last_seen",
    ]


def _regulates(user: User, region_id: str) -> bool:
    """Any regulator seat over the region, read-only ones included (for reading)."""
    return regions_visible_to(user).filter(pk=region_id).exists()


def _administers(user: User, region_id: str) -> bool:
    """An acting regulator seat over the region (ADR 0052): reader seats at a regulator
    see the queue and the settings but change nothing, since moving a finding or a
    rule's parameters is an official act of the jurisdiction."""
    return region_administered(user=user, region_id=region_id)


def _refuse_reader(user: User, region_id: str, what_zh: str, what_en: str) -> None:
    """Raise PermissionDenied unless the user administers the region; a reader seat of
    the region is told it is read-only rather than that it is not the regulator."""
    if _administers(user, region_id):
        return
    if _regulates(user, region_id):
        raise PermissionDenied(
            f"只读席位不能{what_zh} / a read-only regulator seat cannot {what_en}"
        )
    raise PermissionDenied(f"只有辖区监管部门可{what_zh} / only the region's regulator may")


def _writes_for(user: User, enterprise_id: int | None) -> bool:
    return enterprise_written_by(user=user, enterprise_id=enterprise_id)


@transaction.atomic
def rule_setting_set(
    *,
    user: User,
    rule_id: str,
    region_code: str,
    is_enabled: bool,
    params: Mapping[str, object],
    reason: str,
) -> RuleSetting:
    """Switch a rule on or off and set its parameters for a regulator's jurisdiction.

    Only an admin or member seat of the region's regulator (or of a region above it)
    may, never a read-only seat (ADR 0052); the parameters are
    validated against the rule's types and ranges and stored as text; the change and
    what it replaced are appended to the rule's history in the same transaction.
    """
    rule = rule_get(rule_id)
    if rule is None:
        raise NotFound(f"没有该规则：{rule_id} / unknown rule", field="rule_id")
    _refuse_reader(user, region_code, "设置规则", "change rule settings")
    text = reason_checked(reason, required=True)
    values = params_resolve(rule.params, params)
    overrides = {name: value for name, value in params_as_text(values).items() if name in params}
    setting = (
        RuleSetting.objects.select_for_update()
        .filter(rule_id=rule.rule_id, region_id=region_code)
        .first()
    )
    previous_enabled = setting.is_enabled if setting else None
    previous_params = dict(setting.params) if setting else None
    if setting is None:
        setting = RuleSetting(rule_id=rule.rule_id, region_id=region_code)
    setting.is_enabled = is_enabled
    setting.params = overrides
    setting.updated_by = user if user.is_authenticated else None  # type: ignore[assignment]
    setting.save()
    audit_record(
        actor=user,
        action="compliance.rule_setting_set",
        object_type="compliance.RuleSetting",
        object_id=f"{rule.rule_id}@{region_code}",
        enterprise=None,
        region=setting.region,
        before=None
        if previous_enabled is None
        else {"is_enabled": previous_enabled, "params": previous_params},
        after={"is_enabled": is_enabled, "params": overrides, "reason": text},
    )
    RuleSettingChange.objects.create(
        rule_id=rule.rule_id,
        region_id=region_code,
        is_enabled=is_enabled,
        params=overrides,
        previous_enabled=previous_enabled,
        previous_params=previous_params,
        reason=text,
        changed_by=setting.updated_by,
    )
    return setting


def _transition(
    finding: Finding, to_status: str, *, user: User, reason: str, allowed_from: Sequence[str]
) -> Finding:
    if finding.status not in allowed_from:
        raise Conflict(
            f"当前状态为“{finding.get_status_display()}”，不能改为该状态 / "
            f"cannot move a finding from {finding.status} to {to_status}",
            field="status",
        )
    audit_record(
        actor=user,
        action=f"compliance.finding_{to_status}",
        object_type="compliance.Finding",
        object_id=str(finding.public_id),
        enterprise=finding.enterprise,
        # a park's finding has no enterprise: its region's regulators read it
        region=None if finding.enterprise_id else finding.region,
        before={"status": finding.status, "reason": finding.status_reason},
        after={"status": to_status, "reason": reason},
    )
    FindingEvent.objects.create(
        finding=finding,
        from_status=finding.status,
        to_status=to_status,
        reason=reason,
        changed_by=user if user.is_authenticated else None,  # type: ignore[misc]
    )
    finding.status = to_status
    finding.status_reason = reason
    finding.status_changed_at = timezone.now()
    finding.save(update_fields=["status", "status_reason", "status_changed_at"])
    return finding


def _locked(finding: Finding) -> Finding:
    return Finding.objects.select_for_update().get(pk=finding.pk)


@transaction.atomic
def finding_acknowledge(*, user: User, finding: Finding, reason: str = "") -> Finding:
    """The enterprise (a writer seat) or its regulator acknowledges an open finding."""
    finding = _locked(finding)
    if not _writes_for(user, finding.enterprise_id):
        _refuse_reader(user, finding.region_id, "处理该问题", "handle this finding")
    return _transition(
        finding,
        FindingStatus.ACKNOWLEDGED,
        user=user,
        reason=reason_checked(reason, required=False),
        allowed_from=[FindingStatus.OPEN],
    )


@transaction.atomic
def finding_resolve(*, user: User, finding: Finding, reason: str) -> Finding:
    """The regulator closes a finding as put right, saying how."""
    finding = _locked(finding)
    _refuse_reader(user, finding.region_id, "销号", "resolve findings")
    return _transition(
        finding,
        FindingStatus.RESOLVED,
        user=user,
        reason=reason_checked(reason, required=True),
        allowed_from=ACTIVE,
    )


@transaction.atomic
def finding_waive(*, user: User, finding: Finding, reason: str) -> Finding:
    """The regulator waives a finding with a reason; re-runs keep it waived."""
    finding = _locked(finding)
    _refuse_reader(user, finding.region_id, "豁免", "waive findings")
    return _transition(
        finding,
        FindingStatus.WAIVED,
        user=user,
        reason=reason_checked(reason, required=True),
        allowed_from=ACTIVE,
    )


PROFILE_FIELDS = (
    "is_new_project",
    "capital_ratio_pct",
    "potline_current_ka",
    "ac_kwh_per_t_liquid",
    "ac_kwh_per_t_ingot",
    "current_efficiency_pct",
    "metal",
    "line_capacity_t",
    "beneficiation_t_per_day",
    "ore_self_supply_pct",
    "has_gangue_plan",
    "has_fly_ash_plan",
    "has_fgd_gypsum_plan",
    "utilization_designed",
    "utilization_built",
    "utilization_in_operation",
)


@transaction.atomic
def facility_profile_set(
    *, enterprise: Enterprise, site: Site | None = None, actor: User | None = None, **values: Any
) -> FacilityProfile:
    """Register or update the technical parameters of an enterprise's line or plant
    (``site``), or its enterprise-wide plans and 三同时 state (no ``site``)."""
    unknown = sorted(set(values) - set(PROFILE_FIELDS))
    if unknown:
        raise ValidationFailed(f"未知参数：{', '.join(unknown)} / unknown field", field=unknown[0])
    if site is not None and site.enterprise_id != enterprise.pk:
        raise ValidationFailed(
            "设施不属于该单位 / site belongs to another enterprise", field="site"
        )
    profile, _ = FacilityProfile.objects.select_for_update().get_or_create(
        enterprise=enterprise, site=site
    )
    before = {name: str(getattr(profile, name)) for name in values}
    for name, value in values.items():
        setattr(profile, name, value)
    try:
        profile.full_clean(exclude=["enterprise", "site"], validate_unique=False)
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(f"{field}: {'; '.join(messages)}", field=field) from exc
    profile.save()
    audit_record(
        actor=actor,
        action="compliance.facility_profile_set",
        object_type="compliance.FacilityProfile",
        object_id=str(profile.public_id),
        enterprise=enterprise,
        before=before,
        after={name: str(value) for name, value in values.items()},
    )
    return profile


def facility_profile_declare(
    *, user: User, enterprise: Enterprise, site_code: str | None, values: Mapping[str, Any]
) -> FacilityProfile:
    """An enterprise writer (declaring its own parameters) or the enterprise's regulator
    sets the technical parameters of a line (``site_code``) or the enterprise-wide ones."""
    if not (_writes_for(user, enterprise.pk) or _administers(user, enterprise.region_id)):
        raise PermissionDenied(
            "无权填报该单位参数 / no right to declare this enterprise's parameters"
        )
    site = None
    if site_code:
        site = Site.objects.filter(enterprise=enterprise, code=site_code).first()
        if site is None:
            raise ValidationFailed(f"本单位无此设施编码：{site_code} / unknown site", field="site")
    return facility_profile_set(enterprise=enterprise, site=site, actor=user, **values)


@transaction.atomic
def hazardous_stream_declare(
    *,
    user: User,
    enterprise: Enterprise,
    waste_code: str,
    hw_class: str,
    hw_code: str = "",
    note: str = "",
) -> HazardousStream:
    """Declare that a waste the enterprise books under ``waste_code`` is hazardous
    (国家危险废物名录 class and code), so the one-year storage rule watches it.

    An enterprise writer seat or an acting seat of its regulator may; the class and
    code are checked against the list's format; the declaration is audited.
    """
    if not (_writes_for(user, enterprise.pk) or _administers(user, enterprise.region_id)):
        raise PermissionDenied("无权申报该单位危险废物 / no right to declare for this enterprise")
    return hazardous_stream_set(
        enterprise=enterprise,
        waste_code=waste_code,
        hw_class=hw_class,
        hw_code=hw_code,
        note=note,
        actor=user,
    )


@transaction.atomic
def hazardous_stream_set(
    *,
    enterprise: Enterprise,
    waste_code: str,
    hw_class: str,
    hw_code: str = "",
    note: str = "",
    actor: User | None = None,
) -> HazardousStream:
    """Record (or update) a hazardous declaration, checked and audited, without an
    access check: ``hazardous_stream_declare`` is the users' way in; the demo uses this."""
    waste = WasteCategory.objects.filter(code=waste_code.strip().upper()).first()
    if waste is None:
        raise ValidationFailed(f"没有该废物代码：{waste_code} / unknown waste code", field="waste")
    for field, code_text in (("hw_class", ""), ("hw_code", hw_code)):
        try:
            klass, code = hazardous_code_parse(hw_class, code_text)
        except ValueError as exc:
            raise ValidationFailed(str(exc), field=field) from exc
    locked = HazardousStream.objects.select_for_update()
    stream = locked.filter(enterprise=enterprise, waste=waste).first()
    before = None if stream is None else {"hw_class": stream.hw_class, "hw_code": stream.hw_code}
    if stream is None:
        stream = HazardousStream(enterprise=enterprise, waste=waste)
    stream.hw_class, stream.hw_code, stream.note = klass, code, note.strip()[:200]
    stream.declared_by = actor if actor and actor.is_authenticated else None  # type: ignore[assignment]
    stream.save()
    audit_record(
        actor=actor,
        action="compliance.hazardous_stream_declare",
        object_type="compliance.HazardousStream",
        object_id=str(stream.public_id),
        enterprise=enterprise,
        before=before,
        after={"waste": waste.code, "hw_class": klass, "hw_code": code},
    )
    return stream


MAX_ZONE_RADIUS_KM = Decimal(30)


@transaction.atomic
def ore_zone_register(
    *,
    user: User,
    region_code: str,
    name: str,
    latitude: Decimal,
    longitude: Decimal,
    radius_km: Decimal,
) -> OreZone:
    """Register a league's designated mining zone (seed 004: radius generally within
    30 km) that the beneficiation-scale rule measures new plants against. Only an
    acting regulator seat of the region may; audited."""
    _refuse_reader(user, region_code, "划定区域", "designate zones")
    return ore_zone_set(
        region_code=region_code,
        name=name,
        latitude=latitude,
        longitude=longitude,
        radius_km=radius_km,
        actor=user,
    )


@transaction.atomic
def ore_zone_set(
    *,
    region_code: str,
    name: str,
    latitude: Decimal,
    longitude: Decimal,
    radius_km: Decimal,
    actor: User | None = None,
) -> OreZone:
    """Record a designated zone, checked and audited, without an access check
    (``ore_zone_register`` is the regulators' way in; the demo uses this)."""
    if not Decimal(0) < radius_km <= MAX_ZONE_RADIUS_KM:
        raise ValidationFailed(
            "划定区域半径应在0–30公里之间 / radius must be within 30 km", field="radius_km"
        )
    if not (Decimal(-90) <= latitude <= Decimal(90) and Decimal(-180) <= longitude <= Decimal(180)):
        raise ValidationFailed("坐标无效 / invalid coordinates", field="latitude")
    label = name.strip()
    if not label:
        raise ValidationFailed("请填写区域名称 / a name is required", field="name")
    if OreZone.objects.filter(region_id=region_code, name=label).exists():
        raise Conflict("该区域名称已存在 / a zone of that name exists", field="name")
    zone = OreZone.objects.create(
        name=label,
        region_id=region_code,
        latitude=latitude,
        longitude=longitude,
        radius_km=radius_km,
        created_by=actor if actor and actor.is_authenticated else None,  # type: ignore[misc]
    )
    audit_record(
        actor=actor,
        action="compliance.ore_zone_register",
        object_type="compliance.OreZone",
        object_id=str(zone.public_id),
        enterprise=None,
        region=zone.region,
        before=None,
        after={
            "region": region_code,
            "name": label,
            "latitude": str(latitude),
            "longitude": str(longitude),
            "radius_km": str(radius_km),
        },
    )
    return zone

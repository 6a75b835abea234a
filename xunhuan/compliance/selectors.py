"""Reads of the compliance engine. Findings lists start from what the user may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from xunhuan.accounts.models import WRITER_ROLES, Membership
from xunhuan.accounts.selectors import regions_regulated_by, regions_visible_to
from xunhuan.compliance.models import (
    FacilityProfile,
    Finding,
    FindingEvent,
    FindingStatus,
    HazardousStream,
    OreZone,
    RuleSetting,
    RuleSettingChange,
)
from xunhuan.core.compliance.library import RULES, RuleDef
from xunhuan.core.compliance.params import ParamValue, params_resolve
from xunhuan.core.errors import NotFound
from xunhuan.registry.models import Region

User = AbstractBaseUser | AnonymousUser
ORDERINGS = {
    # The queue: gravest first, then the longest-standing.
    "severity": ("-severity", "first_seen", "pk"),
    "age": ("first_seen", "-severity", "pk"),
    "recent": ("-last_seen", "-severity", "pk"),
}


# The queue's default: what still needs handling (open or acknowledged).
ACTIVE_FILTER = "active"


def findings_visible_to(user: User) -> QuerySet[Finding]:
    """Findings about the user's own enterprises, and every finding in the regions it
    regulates (parks included). Nothing else, whatever the filters say."""
    if not user.is_authenticated:
        return Finding.objects.none()
    own = Membership.objects.filter(user_id=user.pk, enterprise__isnull=False).values(
        "enterprise_id"
    )
    condition = Q(enterprise_id__in=own)
    for path in regions_regulated_by(user).values_list("path", flat=True):
        condition |= Q(region__path__startswith=path)
    return Finding.objects.filter(condition)


def findings_list(
    *,
    findings: QuerySet[Finding],
    status: str | None = None,
    rule_id: str | None = None,
    severity: int | None = None,
    enterprise_code: str | None = None,
    region_code: str | None = None,
    order: str = "severity",
) -> QuerySet[Finding]:
    """A filtered, ordered page source for the queue and the enterprise's own list."""
    rows = findings.select_related("enterprise", "site", "park", "waste", "region")
    if status == ACTIVE_FILTER:
        rows = rows.filter(status__in=finding_open_statuses())
    elif status:
        rows = rows.filter(status=status)
    if rule_id:
        rows = rows.filter(rule_id=rule_id.strip().upper())
    if severity:
        rows = rows.filter(severity=severity)
    if enterprise_code:
        rows = rows.filter(enterprise__credit_code=enterprise_code.strip().upper())
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        rows = rows.filter(region__path__startswith=region.path) if region else rows.none()
    return rows.order_by(*ORDERINGS.get(order, ORDERINGS["severity"]))


def finding_get(*, findings: QuerySet[Finding], public_id: str) -> Finding:
    finding = findings_list(findings=findings).filter(public_id=public_id).first()
    if finding is None:
        raise NotFound("检查发现不存在或无权查看 / finding not found", field="finding_id")
    return finding


def finding_events(*, finding: Finding) -> QuerySet[FindingEvent]:
    return FindingEvent.objects.filter(finding=finding).select_related("changed_by")


def finding_open_statuses() -> tuple[str, ...]:
    return (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED)


@dataclass(frozen=True)
class EffectiveRule:
    """A rule as it applies in one region: the nearest setting up the tree, or defaults."""

    rule: RuleDef
    is_enabled: bool
    params: dict[str, ParamValue]
    set_in: str | None  # region code of the setting in force, None for the defaults


def rules_effective(*, region: Region) -> list[EffectiveRule]:
    """Every rule with the settings in force in ``region`` (two queries in all)."""
    ancestors = [code for code in region.path.strip("/").split("/") if code]
    settings = {
        (s.rule_id, s.region_id): s for s in RuleSetting.objects.filter(region_id__in=ancestors)
    }
    effective = []
    for rule in RULES:
        found = next(
            (
                settings[(rule.rule_id, code)]
                for code in reversed(ancestors)
                if (rule.rule_id, code) in settings
            ),
            None,
        )
        effective.append(
            EffectiveRule(
                rule=rule,
                is_enabled=found.is_enabled if found else True,
                params=params_resolve(rule.params, found.params if found else {}),
                set_in=found.region_id if found else None,
            )
        )
    return effective


def region_regulated(*, user: User, code: str) -> Region:
    """A region in the user's jurisdiction, or NotFound (no probing of others')."""
    region = regions_visible_to(user).filter(code=code).first()
    if region is None:
        raise NotFound("行政区划不在辖区内 / region not in your jurisdiction", field="region")
    return region


def rule_setting_history(*, rule_id: str, region: Region) -> QuerySet[RuleSettingChange]:
    return RuleSettingChange.objects.filter(rule_id=rule_id, region=region).order_by(
        "-changed_at", "-pk"
    )


def facility_profiles_list(*, enterprise_id: int) -> QuerySet[FacilityProfile]:
    return (
        FacilityProfile.objects.filter(enterprise_id=enterprise_id)
        .select_related("enterprise", "site")
        .order_by("site__code", "pk")
    )


def region_administered(*, user: User, region_id: str) -> bool:
    """Whether the user holds an acting (admin or member) regulator seat over the region's
    subtree. Reader seats see the queue and settings but may change nothing (ADR 0052)."""
    if not user.is_authenticated:
        return False
    paths = Membership.objects.filter(
        user_id=user.pk, regulator_region__isnull=False, role__in=WRITER_ROLES
    ).values_list("regulator_region__path", flat=True)
    condition = Q(pk__in=[])
    for path in paths:
        condition |= Q(path__startswith=path)
    return Region.objects.filter(condition, pk=region_id).exists()


def enterprise_written_by(*, user: User, enterprise_id: int | None) -> bool:
    """Whether the user holds a writer seat (admin or member) at the enterprise."""
    if enterprise_id is None or not user.is_authenticated:
        return False
    return Membership.objects.filter(
        user_id=user.pk, enterprise_id=enterprise_id, role__in=WRITER_ROLES
    ).exists()


def finding_actions(*, user: User, finding: Finding) -> set[str]:
    """The status moves the user could make on the finding now (the services decide
    again): acknowledge for the enterprise's writers and acting regulators; resolve
    and waive for acting regulators of its region."""
    if finding.status not in finding_open_statuses():
        return set()
    regulator = region_administered(user=user, region_id=finding.region_id)
    actions = {"resolve", "waive"} if regulator else set()
    if finding.status == FindingStatus.OPEN and (
        regulator or enterprise_written_by(user=user, enterprise_id=finding.enterprise_id)
    ):
        actions.add("acknowledge")
    return actions


def hazardous_streams_list(*, enterprise_id: int) -> QuerySet[HazardousStream]:
    return (
        HazardousStream.objects.filter(enterprise_id=enterprise_id)
        .select_related("enterprise")
        .order_by("waste_id")
    )


def ore_zones_visible_to(user: User) -> QuerySet[OreZone]:
    """Zones registered in the regions the user regulates (none for enterprise seats)."""
    return OreZone.objects.filter(region__in=regions_visible_to(user)).order_by("region_id", "name")

"""Compliance records: facility technical parameters, per-jurisdiction rule settings
with their change history, findings with their status history, and runs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xunhuan.registry.models import Enterprise, Park, Region, Site, WasteCategory


class FacilityProfile(models.Model):
    """Technical parameters of an enterprise's facility that the seeds set norms on.

    Kept here rather than in the registry because only the compliance rules read
    them. ``site`` is the line or plant they describe; an enterprise-wide profile
    (plans, 三同时) leaves it empty.
    """

    class Metal(models.TextChoices):
        COPPER = "cu", _("铜")
        LEAD = "pb", _("铅")
        ZINC = "zn", _("锌")
        LEAD_ZINC = "pbzn", _("铅锌")
        PRECIOUS = "precious", _("贵金属")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_new_project = models.BooleanField(_("新建/改扩建项目"), default=False)
    # Electrolytic aluminium (seed 004, GB 21346-2022)
    potline_current_ka = models.DecimalField(
        _("电解槽电流（kA）"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    ac_kwh_per_t_liquid = models.DecimalField(
        _("铝液交流电耗（kWh/t）"), max_digits=7, decimal_places=1, null=True, blank=True
    )
    ac_kwh_per_t_ingot = models.DecimalField(
        _("铝锭交流电耗（kWh/t）"), max_digits=7, decimal_places=1, null=True, blank=True
    )
    current_efficiency_pct = models.DecimalField(
        _("电流效率（%）"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    # Cu/Pb/Zn smelting lines and beneficiation plants (seed 004)
    metal = models.CharField(_("金属"), max_length=8, choices=Metal.choices, blank=True)
    line_capacity_t = models.DecimalField(
        _("单系列产能（吨/年）"), max_digits=12, decimal_places=0, null=True, blank=True
    )
    beneficiation_t_per_day = models.DecimalField(
        _("选矿处理能力（吨/日）"), max_digits=9, decimal_places=1, null=True, blank=True
    )
    ore_self_supply_pct = models.DecimalField(
        _("自有矿山原料自给率（%）"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    # Electrolytic aluminium project financing (seed 004: 最低资本金比例 40%)
    capital_ratio_pct = models.DecimalField(
        _("项目资本金比例（%）"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    # Plans and 三同时 (seed 003)
    has_gangue_plan = models.BooleanField(_("有煤矸石综合利用方案"), default=False)
    has_fly_ash_plan = models.BooleanField(_("有粉煤灰综合利用方案"), default=False)
    has_fgd_gypsum_plan = models.BooleanField(_("有脱硫石膏综合利用方案"), default=False)
    utilization_designed = models.BooleanField(_("利用设施同时设计"), default=True)
    utilization_built = models.BooleanField(_("利用设施同时施工"), default=True)
    utilization_in_operation = models.BooleanField(_("利用设施同时投产"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("设施技术参数")
        verbose_name_plural = _("设施技术参数")
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "site"], name="facility_profile_unique_site"
            ),
            models.UniqueConstraint(
                fields=["enterprise"],
                condition=Q(site__isnull=True),
                name="facility_profile_one_enterprise_wide",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id}/{self.site_id or '-'}"


class HazardousStream(models.Model):
    """A waste an enterprise declares hazardous (国家危险废物名录 class and code).

    The platform's catalogue holds only general industrial solid waste (SW codes), so
    a hazardous waste kept in this ledger is booked under the SW code the enterprise
    uses for it and declared here; the one-year storage rule (固废法2020第八十一条)
    looks only at declared streams (ADR 0052).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    waste = models.ForeignKey(WasteCategory, on_delete=models.PROTECT, related_name="+")
    hw_class = models.CharField(_("危险废物类别"), max_length=4)
    hw_code = models.CharField(_("危险废物代码"), max_length=10, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    declared_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("危险废物申报")
        verbose_name_plural = _("危险废物申报")
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "waste"], name="hazardous_stream_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id}/{self.waste_id} {self.hw_class}"


class OreZone(models.Model):
    """A zone a league designates around a key mining area (seed 004: 覆盖半径一般控制在
    30公里以内); new beneficiation plants inside it must reach the seed's minimum scale."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("划定区域名称"), max_length=128)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    latitude = models.DecimalField(_("中心纬度"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("中心经度"), max_digits=9, decimal_places=6)
    radius_km = models.DecimalField(_("半径（公里）"), max_digits=5, decimal_places=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("选矿划定区域")
        verbose_name_plural = _("选矿划定区域")
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="ore_zone_unique_name"),
            models.CheckConstraint(name="ore_zone_radius_positive", condition=Q(radius_km__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.radius_km} km)"


class RuleSetting(models.Model):
    """A jurisdiction's choice for one rule: on or off, and its parameter overrides.

    The setting of the nearest region up the tree wins; without one the library's
    defaults apply. Overrides are text (see ``xunhuan.core.compliance.params``).
    """

    rule_id = models.CharField(_("规则编号"), max_length=32)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    is_enabled = models.BooleanField(_("启用"), default=True)
    params = models.JSONField(_("参数"), default=dict)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("规则设置")
        verbose_name_plural = _("规则设置")
        constraints = [
            models.UniqueConstraint(fields=["rule_id", "region"], name="rule_setting_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}@{self.region_id}"


class RuleSettingChange(models.Model):
    """Append-only history of rule settings: who changed what, when and why."""

    rule_id = models.CharField(max_length=32)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    is_enabled = models.BooleanField()
    params = models.JSONField(default=dict)
    previous_enabled = models.BooleanField(null=True)
    previous_params = models.JSONField(null=True)
    reason = models.CharField(_("原因"), max_length=500)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("规则设置变更")
        verbose_name_plural = _("规则设置变更")
        indexes = [
            # rule_setting_history(region, rule): newest changes of one rule in a region
            models.Index(fields=["region", "rule_id", "changed_at"], name="rule_change_region_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}@{self.region_id} {self.changed_at:%Y-%m-%d}"


class FindingStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    RESOLVED = "resolved", _("已整改")
    WAIVED = "waived", _("已豁免")


class Finding(models.Model):
    """What a rule found about one subject. A re-run updates the same row (by rule,
    subject and key) instead of adding another: ``first_seen`` stays, ``last_seen``,
    the period, measured values and explanation move on."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rule_id = models.CharField(_("规则编号"), max_length=32)
    severity = models.PositiveSmallIntegerField(_("严重程度"))
    # Subject: an enterprise (optionally one of its sites), or a park.
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    park = models.ForeignKey(
        Park, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    waste = models.ForeignKey(
        WasteCategory, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The subject's region: a regulator's queue is a subtree of it.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    # Distinguishes findings of one rule about one enterprise (site and waste, a month).
    subject_key = models.CharField(max_length=64)
    period_start = models.DateField(_("期间起"))
    period_end = models.DateField(_("期间止"))
    measured = models.JSONField(_("测得值"), default=dict)
    explanation_zh = models.TextField(_("说明"))
    explanation_en = models.TextField(_("说明（英文）"))
    status = models.CharField(
        _("状态"), max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    status_reason = models.CharField(_("状态说明"), max_length=500, blank=True)
    first_seen = models.DateTimeField(_("首次发现"))
    last_seen = models.DateTimeField(_("最近发现"))
    status_changed_at = models.DateTimeField(_("状态变更时间"))

    class Meta:
        verbose_name = _("检查发现")
        verbose_name_plural = _("检查发现")
        constraints = [
            models.UniqueConstraint(
                fields=["rule_id", "subject_key"], name="finding_one_per_rule_subject"
            ),
            models.CheckConstraint(
                name="finding_has_subject",
                condition=Q(enterprise__isnull=False) | Q(park__isnull=False),
            ),
            models.CheckConstraint(
                name="finding_waiver_has_reason",
                condition=~Q(status="waived") | ~Q(status_reason=""),
            ),
        ]
        indexes = [
            # an enterprise's own findings (findings_list for enterprise seats)
            models.Index(fields=["enterprise", "status"], name="finding_enterprise_idx"),
            # the regulator's queue: region subtree, open first, severity then age
            models.Index(fields=["region", "status", "severity"], name="finding_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.subject_key} ({self.status})"


class FindingEvent(models.Model):
    """Append-only status history of a finding (who, when, from what to what, why)."""

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=500, blank=True)
    # Empty for the checks' own changes (found again, no longer found).
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("发现状态变更")
        verbose_name_plural = _("发现状态变更")
        ordering = ["finding_id", "changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.finding_id}: {self.from_status}->{self.to_status}"


class ComplianceRun(models.Model):
    """One run of the checks (CLI, incremental after posts, benchmark), with its counts."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rule_ids = models.JSONField(default=list)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, related_name="+")
    as_of = models.DateField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    found = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("检查运行")
        verbose_name_plural = _("检查运行")

    def __str__(self) -> str:
        return f"run {self.as_of} {self.found} found"


class PendingCheck(models.Model):
    """An enterprise whose ledger changed since its last check: the incremental run's
    work list, filled after each committed post and emptied by the run."""

    enterprise = models.OneToOneField(
        Enterprise, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    marked_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("待复查单位")
        verbose_name_plural = _("待复查单位")

    def __str__(self) -> str:
        return str(self.enterprise_id)

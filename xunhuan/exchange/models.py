"""By-product exchange: listings, quality, rail access, scenarios, runs and proposed flows.

The optimizer itself is Django-free (``xunhuan.core.exchange``); these tables hold
what it reads that the registry and ledger do not (quality, rail, listings,
scenario edits) and what it proposes. Runs and their flows are written once and
never changed: a new run is a new plan.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from xunhuan.registry.fields import TonnesField
from xunhuan.registry.models import Enterprise, Region, Site, WasteCategory


def _pct(label: Any) -> models.DecimalField[Any, Any]:
    return models.DecimalField(label, max_digits=6, decimal_places=2, null=True, blank=True)


class QualityFields(models.Model):
    """The quality attributes the optimizer compares (see ``QUALITY_ATTRIBUTES``)."""

    fly_ash_grade = models.PositiveSmallIntegerField(
        _("粉煤灰等级（1=Ⅰ级）"), null=True, blank=True
    )
    al2o3_pct = _pct(_("Al2O3含量（%）"))
    purity_pct = _pct(_("纯度（%）"))
    moisture_pct = _pct(_("含水率（%）"))

    class Meta:
        abstract = True


class RailTerminal(models.Model):
    """A freight station or private siding junction where bulk waste is loaded."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("站点名称"), max_length=64, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6)

    class Meta:
        verbose_name = _("铁路货运站")
        verbose_name_plural = _("铁路货运站")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RailLink(models.Model):
    """A site is rail-served through a terminal, with road drayage between them."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, related_name="rail_link")
    terminal = models.ForeignKey(RailTerminal, on_delete=models.PROTECT, related_name="links")
    drayage_km = models.DecimalField(_("短驳距离（公里）"), max_digits=7, decimal_places=1)
    is_active = models.BooleanField(_("在用"), default=True)

    class Meta:
        verbose_name = _("铁路接入")
        verbose_name_plural = _("铁路接入")
        constraints = [
            models.CheckConstraint(
                name="rail_link_drayage_nonnegative", condition=Q(drayage_km__gte=0)
            )
        ]

    def __str__(self) -> str:
        return f"{self.site_id} → {self.terminal_id}"


class QualityDeclaration(QualityFields):
    """What a generator declares about a waste at a site (latest one counts).

    Append-only: a new declaration replaces the previous one for matching."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    waste = models.ForeignKey(WasteCategory, on_delete=models.PROTECT, related_name="+")
    declared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("质量声明")
        verbose_name_plural = _("质量声明")
        indexes = [
            # supply read: latest declaration per (site, waste)
            models.Index(fields=["site", "waste", "declared_at"], name="quality_site_waste_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.waste_id}"


class QualityAttribute(models.TextChoices):
    FLY_ASH_GRADE = "fly_ash_grade", _("粉煤灰等级")
    AL2O3_PCT = "al2o3_pct", _("Al2O3含量")
    PURITY_PCT = "purity_pct", _("纯度")
    MOISTURE_PCT = "moisture_pct", _("含水率")


class LimitScope(models.TextChoices):
    LOT = "lot", _("每批（不合格不可接收）")
    BLEND = "blend", _("混合平均")


class QualityLimit(models.Model):
    """A utilizer's limit on one attribute of a waste it takes, per lot or on the blend."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    waste = models.ForeignKey(WasteCategory, on_delete=models.PROTECT, related_name="+")
    attribute = models.CharField(_("指标"), max_length=16, choices=QualityAttribute.choices)
    scope = models.CharField(_("适用"), max_length=8, choices=LimitScope.choices)
    minimum = models.DecimalField(_("下限"), max_digits=8, decimal_places=2, null=True, blank=True)
    maximum = models.DecimalField(_("上限"), max_digits=8, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("质量要求")
        verbose_name_plural = _("质量要求")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "waste", "attribute", "scope"], name="quality_limit_unique"
            ),
            models.CheckConstraint(
                name="quality_limit_has_a_bound",
                condition=Q(minimum__isnull=False) | Q(maximum__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.waste_id} {self.attribute}"


class Listing(QualityFields):
    """Surplus an enterprise publishes for the exchange; it expires, or is withdrawn."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    waste = models.ForeignKey(WasteCategory, on_delete=models.PROTECT, related_name="+")
    quantity = TonnesField(_("数量（吨）"), db_column="quantity_kg")
    expires_on = models.DateField(_("有效期至"))
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("备注"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("供应信息")
        verbose_name_plural = _("供应信息")
        ordering = ["-published_at"]
        constraints = [
            models.CheckConstraint(name="listing_quantity_positive", condition=Q(quantity__gt=0)),
        ]
        indexes = [
            # supply read: listings live on the run's period end
            models.Index(fields=["expires_on"], name="listing_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.waste_id} {self.quantity} t"


class Scenario(models.Model):
    """A what-if over the region's real data: a tariff and a list of changes.

    ``based_on`` records the scenario it was copied from; a scenario with no
    changes and the default tariff is the baseline."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("情景名称"), max_length=128)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="copies"
    )
    road_yuan_per_tkm = models.DecimalField(max_digits=8, decimal_places=4, default="0.45")
    rail_yuan_per_tkm = models.DecimalField(max_digits=8, decimal_places=4, default="0.16")
    rail_handling_yuan_per_t = models.DecimalField(max_digits=8, decimal_places=2, default="20")
    road_max_km = models.DecimalField(max_digits=7, decimal_places=1, default="300")
    rail_max_km = models.DecimalField(max_digits=7, decimal_places=1, default="1500")
    cross_league_yuan_per_t = models.DecimalField(max_digits=8, decimal_places=2, default="0")
    cross_province_yuan_per_t = models.DecimalField(max_digits=8, decimal_places=2, default="0")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("情景")
        verbose_name_plural = _("情景")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class ChangeKind(models.TextChoices):
    ADD_PLANT = "add_plant", _("新建利用项目")
    CLOSE_SITE = "close_site", _("关停利用设施")
    OPEN_RAIL_LINK = "open_rail_link", _("新开铁路专用线")


class ScenarioChange(models.Model):
    """One edit a scenario makes to the real network before solving."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(_("类型"), max_length=16, choices=ChangeKind.choices)
    # close_site / open_rail_link: the existing site
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # add_plant: a hypothetical utilizer
    name = models.CharField(_("名称"), max_length=128, blank=True)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    waste = models.ForeignKey(
        WasteCategory, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    annual_capacity = TonnesField(_("年处理能力（吨）"), null=True, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    # open_rail_link (and an added plant that is rail-served)
    terminal = models.ForeignKey(
        RailTerminal, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    drayage_km = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)

    class Meta:
        verbose_name = _("情景变更")
        verbose_name_plural = _("情景变更")
        ordering = ["scenario_id", "pk"]
        constraints = [
            models.CheckConstraint(
                name="scenario_change_fields",
                condition=(
                    Q(kind="close_site", site__isnull=False)
                    | Q(kind="open_rail_link", site__isnull=False, terminal__isnull=False)
                    | Q(
                        kind="add_plant",
                        region__isnull=False,
                        waste__isnull=False,
                        annual_capacity__gt=0,
                        latitude__isnull=False,
                        longitude__isnull=False,
                    )
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scenario_id} {self.kind}"


class Run(models.Model):
    """One optimization of a region's exchange for one month, with its totals."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    scenario = models.ForeignKey(
        Scenario, on_delete=models.PROTECT, null=True, blank=True, related_name="runs"
    )
    period = models.DateField(_("月份（首日）"))
    solver = models.CharField(max_length=16)
    lots = models.PositiveIntegerField(_("供应批数"))
    receivers = models.PositiveIntegerField(_("接收方数"))
    arcs = models.PositiveIntegerField(_("可行线路数"))
    supplied = TonnesField(_("可供应量（吨）"))
    utilized = TonnesField(_("拟利用量（吨）"))
    cost_yuan = models.DecimalField(_("运输费用（元）"), max_digits=16, decimal_places=2)
    road_tkm = models.DecimalField(_("公路吨公里"), max_digits=18, decimal_places=1)
    rail_tkm = models.DecimalField(_("铁路吨公里"), max_digits=18, decimal_places=1)
    co2_t = models.DecimalField(_("运输CO2（吨）"), max_digits=14, decimal_places=3)
    tariff = models.JSONField(_("运价参数"))  # the Tariff used, as strings (no quantities)
    # 1: one month's plan; 12: the year from ``period`` with yard carry-over, its flows
    # each route's tonnes over the year.
    months = models.PositiveSmallIntegerField(_("月数"), default=1)
    storage_cost_yuan = models.DecimalField(
        _("贮存费用（元）"), max_digits=16, decimal_places=2, default=Decimal("0.00")
    )
    notes = models.TextField(_("说明"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("优化计算")
        verbose_name_plural = _("优化计算")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.region_id} {self.period:%Y-%m}"


class Mode(models.TextChoices):
    ROAD = "road", _("公路")
    RAIL = "rail", _("铁路")


class ProposedFlow(models.Model):
    """A tonnage the run proposes to move from a source site to a receiver, explained."""

    # Flows are written tens of thousands at a time, so they carry only the indexes a
    # query needs: (run, seq) and (run, source/receiver enterprise) below. The other
    # foreign keys are read only by Django's PROTECT checks when a site, listing or
    # enterprise is deleted, which the registry and ledger already refuse. The
    # references to the registry are not database constraints (ADR 0033): a run
    # writes them from the rows it has just read, and PostgreSQL's deferred checks of
    # six keys per flow were a third of a 10,000-flow run (all of them at COMMIT).
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="flows", db_index=False)
    # 1, 2, … within the run: a flow's public address is (run public id, seq).
    seq = models.PositiveIntegerField(_("序号"))
    source_enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    source_site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    listing = models.ForeignKey(
        Listing,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Null when the receiver is a plant a scenario adds (named in receiver_name).
    receiver_enterprise = models.ForeignKey(
        Enterprise,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    receiver_site = models.ForeignKey(
        Site,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    receiver_name = models.CharField(_("接收方"), max_length=128)
    waste = models.ForeignKey(
        WasteCategory,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    quantity = TonnesField(_("数量（吨）"), db_column="quantity_kg")
    mode = models.CharField(_("方式"), max_length=8, choices=Mode.choices)
    distance_km = models.DecimalField(_("距离（公里）"), max_digits=8, decimal_places=1)
    cost_per_t = models.DecimalField(_("单位运费（元/吨）"), max_digits=10, decimal_places=2)
    cost_yuan = models.DecimalField(_("运费（元）"), max_digits=16, decimal_places=2)
    # Why this route: its rank by cost among the lot's eligible routes (1 = cheapest,
    # equal costs share a rank) and how many there were. The sentence is rendered in
    # the reader's language from these and the columns above (``explanation``).
    cost_rank = models.PositiveIntegerField(_("运费排名"))
    eligible_routes = models.PositiveIntegerField(_("可达线路数"))

    class Meta:
        verbose_name = _("建议流向")
        verbose_name_plural = _("建议流向")
        ordering = ["run_id", "seq"]
        constraints = [
            # also the index of a run's flows in order and of the lookup by (run, seq)
            models.UniqueConstraint(fields=["run", "seq"], name="flow_run_seq_unique"),
        ]
        indexes = [
            # an enterprise's view of a run: flows where it sends or receives
            models.Index(fields=["run", "source_enterprise"], name="flow_run_source_idx"),
            models.Index(fields=["run", "receiver_enterprise"], name="flow_run_receiver_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.source_site_id} → {self.receiver_name} {self.quantity} t"

    @property
    def explanation(self) -> str:
        """Distance, mode, cost and why this receiver, in the active language."""
        text = gettext(
            "%(mode)s%(km)s公里，%(per_t)s元/吨；在%(routes)d条可达且质量合格的线路中运费排第%(rank)d"
        ) % {
            "mode": self.get_mode_display(),
            "km": self.distance_km,
            "per_t": self.cost_per_t,
            "routes": self.eligible_routes,
            "rank": self.cost_rank,
        }
        if self.cost_rank > 1:
            text += gettext("（更便宜的接收方能力已被占用）")
        return text


class FlowAcceptance(models.Model):
    """A proposed flow a party accepted, and the draft transfer document (联单) it became.

    One per flow: accepting again returns the same draft. Written in the same
    transaction as the draft (``services.flow_accept``)."""

    flow = models.OneToOneField(ProposedFlow, on_delete=models.PROTECT, related_name="acceptance")
    transfer = models.OneToOneField(
        "transfers.Transfer", on_delete=models.PROTECT, related_name="exchange_acceptance"
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("接受的流向")
        verbose_name_plural = _("接受的流向")

    def __str__(self) -> str:
        return f"{self.flow_id} → {self.transfer_id}"


class HorizonRequest(models.Model):
    """A requested 12-month plan; the job worker solves it into ``run``."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    scenario = models.ForeignKey(
        Scenario, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    period = models.DateField(_("起始月份（首日）"))
    drawdown_share = models.DecimalField(max_digits=4, decimal_places=3)
    run = models.OneToOneField(
        Run, on_delete=models.PROTECT, null=True, blank=True, related_name="horizon_request"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("12个月计划请求")
        verbose_name_plural = _("12个月计划请求")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.region_id} {self.period:%Y-%m} +12"

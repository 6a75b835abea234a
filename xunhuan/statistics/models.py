"""Statistics: pre-aggregated ledger cells, targets, published figures and the fill state.

``StatCell`` is the count table (zulip ``analytics`` style): one row per enterprise,
waste and month with the ledger's sums by kind and the official indicators derived
from them (``xunhuan.core.indicators``). Every dimension a regulator groups by is
a column of the row (region path, city, park, industry, waste group, year, quarter),
so any report is one ``GROUP BY`` over this table in the database. The rows are
kept up to date in the ledger's own transaction (``xunhuan.ledger.signals``) and
``manage.py stats_rebuild`` rebuilds them to the same result.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xunhuan.registry.fields import TonnesField
from xunhuan.registry.models import Enterprise, Industry, Park, Region, WasteCategory, WasteGroup


def cell_ref(to: type[models.Model], *, null: bool = False) -> models.ForeignKey[Any, Any]:
    """A cell's reference to a registry row: joined through, never deleted through, no
    index of its own and no database constraint (ADR 0015)."""
    return models.ForeignKey(
        to,
        on_delete=models.PROTECT,
        null=null,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )


class SeriesDimensions(models.Model):
    """Whose tonnes and where: an enterprise's series of one waste, with the dimensions
    copied from the enterprise when the rows are written (a rebuild follows an
    enterprise that moved region or park).

    The cells are derived rows, written only by SQL that joins the very rows they
    point to, and checked against the ledger by ``stats_check``: their references
    carry no database constraint (ADR 0015). A constraint would re-check every key of
    every row written (a rebuild writes hundreds of thousands; PostgreSQL's deferred
    checks took a third of its time) and prove nothing the derivation does not.
    """

    enterprise = cell_ref(Enterprise)
    # The enterprise's region (usually a county) and its materialized path, so a
    # jurisdiction's subtree is ``region_path LIKE '<path>%'`` without a join.
    region = cell_ref(Region)
    region_path = models.CharField(max_length=64)
    city_code = models.CharField(_("盟市代码"), max_length=6)
    park = cell_ref(Park, null=True)
    industry = cell_ref(Industry)
    waste = cell_ref(WasteCategory)
    waste_group = cell_ref(WasteGroup, null=True)

    class Meta:
        abstract = True


class CellDimensions(SeriesDimensions):
    """Where and when a cell's tonnes belong: the series and its month."""

    month = models.DateField(_("月份"))  # the first day of the month (Asia/Shanghai dates)
    year = models.PositiveSmallIntegerField(_("年"))
    quarter = models.PositiveSmallIntegerField(_("季度"))

    class Meta:
        abstract = True


# The sums a report shows, in its order (``selectors.stats_table``).
REPORT_MEASURES = (
    "generated",
    "utilized",
    "utilized_prior",
    "disposed",
    "disposed_prior",
    "storage_added",
    "dumped",
    "received",
    "received_handled",
)


class CellSums(models.Model):
    """What a cell holds: the ledger's sums by kind and the indicators derived from them
    (tonnes, stored as kilograms); a rollup holds the same columns summed."""

    entries = models.PositiveIntegerField(_("记录数"))
    # Sums of the ledger by kind (reversals netted in): what stats_check compares
    # with a GROUP BY over the raw ledger.
    generated = TonnesField(_("产生量"), db_column="generated_kg")
    received = TonnesField(_("接收量"), db_column="received_kg")
    self_utilized = TonnesField(_("自行利用量"), db_column="self_utilized_kg")
    handed_utilization = TonnesField(_("委托利用量"), db_column="handed_utilization_kg")
    self_disposed = TonnesField(_("自行处置量"), db_column="self_disposed_kg")
    handed_disposal = TonnesField(_("委托处置量"), db_column="handed_disposal_kg")
    discarded = TonnesField(_("倾倒丢弃记录量"), db_column="discarded_kg")
    # The official indicators (docs/adr/0010), own generation only.
    utilized = TonnesField(_("综合利用量"), db_column="utilized_kg")
    utilized_prior = TonnesField(_("其中：综合利用往年贮存量"), db_column="utilized_prior_kg")
    disposed = TonnesField(_("处置量"), db_column="disposed_kg")
    disposed_prior = TonnesField(_("其中：处置往年贮存量"), db_column="disposed_prior_kg")
    storage_added = TonnesField(_("贮存量（本年）"), db_column="storage_added_kg")
    dumped = TonnesField(_("倾倒丢弃量"), db_column="dumped_kg")
    received_handled = TonnesField(_("接收后利用处置量"), db_column="received_handled_kg")
    # Change of stock on hand (every origin): stock at a date sums the earlier months.
    stock_change = TonnesField(_("库存变化量"), db_column="stock_change_kg")

    class Meta:
        abstract = True


class StatCell(CellDimensions, CellSums):
    """One enterprise's ledger for one waste in one month, summed (tonnes)."""

    class Meta:
        verbose_name = _("统计单元")
        verbose_name_plural = _("统计单元")
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "waste", "month"], name="stat_cell_unique"
            ),
        ]
        indexes = [
            # dashboards: a region subtree's year (region_path LIKE 'p%' AND year = y)
            models.Index(
                fields=["year", "region_path"],
                name="stat_cell_year_path_idx",
                opclasses=["", "varchar_pattern_ops"],
            ),
            # stock on hand at the end of a year of a subtree's enterprises by waste group
            # (region_path LIKE 'p%' AND year <= y: every earlier year), the drill-down's
            # second query: covering, so it reads no table rows
            models.Index(
                fields=["region_path", "year", "enterprise", "waste_group", "stock_change"],
                name="stat_cell_path_stock_idx",
                opclasses=["varchar_pattern_ops", "", "", "", ""],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id}/{self.waste_id}/{self.month:%Y-%m}"


class StatRegionCell(CellSums):
    """The cells of one region (county), waste and month summed over its enterprises.

    Dashboards of regulators group regions, waste groups and periods only; this
    rollup answers them without touching every enterprise's cells. Kept in step
    with ``StatCell`` by deltas in the same transaction (``services.stat_cells_refresh``)
    and rebuilt from it by ``stat_cells_rebuild``; ``stats_check`` compares the two.
    """

    region = cell_ref(Region)
    region_path = models.CharField(max_length=64)
    city_code = models.CharField(_("盟市代码"), max_length=6)
    waste = cell_ref(WasteCategory)
    waste_group = cell_ref(WasteGroup, null=True)
    month = models.DateField(_("月份"))
    year = models.PositiveSmallIntegerField(_("年"))
    quarter = models.PositiveSmallIntegerField(_("季度"))

    class Meta:
        verbose_name = _("区域统计单元")
        verbose_name_plural = _("区域统计单元")
        constraints = [
            # also the ON CONFLICT target of the incremental upsert
            models.UniqueConstraint(
                fields=["region", "waste", "month"], name="stat_region_cell_unique"
            ),
        ]
        indexes = [
            # province/league dashboards: region_path LIKE 'p%' AND year = y, covering
            # what they group and sum (PostgreSQL reads no table rows; SQLite ignores
            # INCLUDE and uses the key)
            models.Index(
                fields=["year", "region_path"],
                name="stat_region_year_path_idx",
                opclasses=["", "varchar_pattern_ops"],
                include=["city_code", "waste_group", "month", "quarter", *REPORT_MEASURES],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region_id}/{self.waste_id}/{self.month:%Y-%m}"


class StatYearCell(SeriesDimensions, CellSums):
    """One enterprise's cells of one waste in one year, summed.

    Reports without a month or quarter (an enterprise list of a county's year, its
    stock on hand at the year's end) read one row per series and year here instead
    of twelve. Rewritten with its series whenever the cells are (the same
    transaction, ``services._series_recompute``), rebuilt by ``stat_cells_rebuild``,
    compared with the cells by ``stats_check``.
    """

    year = models.PositiveSmallIntegerField(_("年"))

    class Meta:
        verbose_name = _("年度统计单元")
        verbose_name_plural = _("年度统计单元")
        constraints = [
            # also the index of a series' rows (the rewrite deletes by enterprise, waste)
            models.UniqueConstraint(
                fields=["enterprise", "waste", "year"], name="stat_year_cell_unique"
            ),
        ]
        indexes = [
            # a subtree's year (region_path LIKE 'p%' AND year = y) and its stock at the
            # end of a year (AND year <= y)
            models.Index(
                fields=["region_path", "year"],
                name="stat_year_path_idx",
                opclasses=["varchar_pattern_ops", ""],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id}/{self.waste_id}/{self.year}"


class StatRouteCell(CellDimensions):
    """Own utilization of one enterprise, waste and month by utilization route (tonnes)."""

    route = models.CharField(_("利用方式"), max_length=32)
    utilized = TonnesField(_("综合利用量"), db_column="utilized_kg")

    class Meta:
        verbose_name = _("利用方式统计单元")
        verbose_name_plural = _("利用方式统计单元")
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "waste", "month", "route"], name="stat_route_cell_unique"
            ),
        ]
        indexes = [
            # route breakdown of a region subtree's year
            models.Index(
                fields=["year", "region_path"],
                name="stat_route_year_path_idx",
                opclasses=["", "varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id}/{self.waste_id}/{self.month:%Y-%m}/{self.route}"


# Every table of derived cells: what a rebuild rewrites (and vacuums on PostgreSQL).
CELL_MODELS: tuple[type[models.Model], ...] = (
    StatCell,
    StatRouteCell,
    StatRegionCell,
    StatYearCell,
)


class FillState(models.Model):
    """When the cells were last rebuilt from the whole ledger, and whether it finished.

    Incremental updates do not touch this row: it would become a lock every
    writer of every enterprise waits for.
    """

    class State(models.TextChoices):
        STARTED = "started", _("重建中")
        DONE = "done", _("完成")

    name = models.CharField(max_length=32, primary_key=True)
    state = models.CharField(max_length=16, choices=State.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    cells = models.PositiveIntegerField(default=0)
    entries = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.state}"


class TargetScope(models.TextChoices):
    INDUSTRIAL = "industrial", _("一般工业固体废物（全部）")
    BULK = "bulk", _("大宗工业固体废物（全部大宗类别）")
    GROUPS = "groups", _("指定类别组")
    OTHER = "other", _("台账以外的指标（不可由台账计算）")


class TargetMetric(models.TextChoices):
    RATE = "rate", _("综合利用率（%）")
    TONNES = "tonnes", _("综合利用量（吨）")
    TEXT = "text", _("定性目标")


class Target(models.Model):
    """A plan's target for a region and year: a utilization rate or tonnage over a scope.

    The seeds' targets are loaded by migration (``is_seed``); regulators add their own
    for regions in their jurisdiction. Targets the ledger cannot measure (straw,
    construction waste, green factories …) are kept with scope ``other`` so the plan
    is complete, and are reported without a status.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # A GB/T 2260 code, not a foreign key: regions are loaded after migrations run
    # (registry_load), and the seeds' targets are loaded by a migration.
    region_code = models.CharField(_("行政区划代码"), max_length=6)
    year = models.PositiveSmallIntegerField(_("目标年"))
    plan = models.CharField(_("规划/文件"), max_length=200)
    issuer_doc_no = models.CharField(_("文号"), max_length=120, blank=True)
    indicator = models.CharField(_("指标（原文）"), max_length=200)
    scope = models.CharField(_("范围"), max_length=16, choices=TargetScope.choices)
    waste_groups = models.ManyToManyField(WasteGroup, blank=True, related_name="+")
    metric = models.CharField(_("指标类型"), max_length=8, choices=TargetMetric.choices)
    threshold_percent = models.DecimalField(
        _("目标值（%）"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    threshold_tonnes = TonnesField(_("目标值（吨）"), null=True, blank=True)
    threshold_text = models.CharField(_("目标（原文）"), max_length=200, blank=True)
    verification = models.CharField(_("核实情况"), max_length=200, blank=True)
    source_url = models.URLField(_("来源"), max_length=500, blank=True)
    note = models.TextField(_("说明"), blank=True)
    is_seed = models.BooleanField(_("政策种子数据"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A target is never edited or deleted (ADR 0016): a revision is a new row that
    # supersedes this one, and this one is retired with the revision's reason; a
    # withdrawal only retires it. Retired rows stay as the plan's history.
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    retired_at = models.DateTimeField(_("停用时间"), null=True, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    retired_reason = models.CharField(_("停用/修订原因"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("目标")
        verbose_name_plural = _("目标")
        ordering = ["region_code", "year", "id"]
        constraints = [
            models.CheckConstraint(
                name="target_threshold_matches_metric",
                condition=Q(metric="rate", threshold_percent__gt=0, threshold_tonnes__isnull=True)
                | Q(metric="tonnes", threshold_tonnes__gt=0, threshold_percent__isnull=True)
                | Q(metric="text", threshold_percent__isnull=True, threshold_tonnes__isnull=True),
            ),
            models.CheckConstraint(
                name="target_percent_at_most_100",
                condition=Q(threshold_percent__isnull=True) | Q(threshold_percent__lte=100),
            ),
            # a retired target says when and why; an active one has no reason
            models.CheckConstraint(
                name="target_retired_has_reason",
                condition=Q(retired_at__isnull=True, retired_reason="")
                | (Q(retired_at__isnull=False) & ~Q(retired_reason="")),
            ),
        ]
        indexes = [
            # targets of a jurisdiction: region_code IN (subtree codes)
            models.Index(fields=["region_code", "year"], name="target_region_year_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.region_code} {self.year} {self.indicator}"

    @property
    def is_retired(self) -> bool:
        """Withdrawn or superseded by a revision: kept as history, no longer evaluated."""
        return self.retired_at is not None


class PublishedFigure(models.Model):
    """Summary figures a region published for a year (no per-enterprise detail), held
    beside the ledger-derived indicators so the two can be compared.

    ``waste_group`` empty means all general industrial solid waste. Figures not
    published are left empty.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("年"))
    waste_group = models.ForeignKey(
        WasteGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    generated = TonnesField(_("产生量"), null=True, blank=True)
    utilized = TonnesField(_("综合利用量"), null=True, blank=True)
    utilized_prior = TonnesField(_("其中：综合利用往年贮存量"), null=True, blank=True)
    disposed = TonnesField(_("处置量"), null=True, blank=True)
    storage_added = TonnesField(_("贮存量"), null=True, blank=True)
    dumped = TonnesField(_("倾倒丢弃量"), null=True, blank=True)
    rate_percent = models.DecimalField(
        _("公布的综合利用率（%）"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    source = models.CharField(_("来源（公报/年鉴）"), max_length=300)
    note = models.TextField(_("说明"), blank=True)
    # A correction is a new row that supersedes the old one (history is kept).
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    reason = models.CharField(_("更正原因"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("公布统计数")
        verbose_name_plural = _("公布统计数")
        ordering = ["region_id", "year", "id"]
        constraints = [
            models.CheckConstraint(
                name="published_correction_has_reason",
                condition=Q(supersedes__isnull=True) | ~Q(reason=""),
            ),
        ]
        indexes = [
            # comparison: the figures of a region and year
            models.Index(fields=["region", "year"], name="published_region_year_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.region_id} {self.year} {self.source}"


class StatPending(models.Model):
    """An (enterprise, waste) whose cells are behind its ledger (ADR 0013).

    A bulk ingest writes this mark in the ledger's own transaction instead of
    recomputing the cells there; the job ``statistics.pending`` recomputes the
    series under the enterprise's chain lock and deletes the mark in one
    transaction, so a committed mark always means "not yet caught up".
    """

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    waste = models.ForeignKey(
        WasteCategory, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    marked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("待更新统计")
        verbose_name_plural = _("待更新统计")
        constraints = [
            # the marks' upsert (INSERT … ON CONFLICT DO NOTHING) and the drain's
            # per-enterprise lookup both use this index (enterprise first)
            models.UniqueConstraint(fields=["enterprise", "waste"], name="stat_pending_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id}/{self.waste_id}"

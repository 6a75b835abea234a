"""The enterprise ledger (台账): append-only entries, stock balances and chain heads.

Entries are never updated or deleted (the model refuses, and database triggers
installed by migration 0002 refuse too). A correction is a reversing entry plus
a replacement, linked to the original, with a reason. Each enterprise's entries
form a SHA-256 hash chain (see ``xunhuan.core.chain``).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xunhuan.registry.fields import TonnesField
from xunhuan.registry.models import Enterprise, Site, WasteCategory, WasteStream


class EntryKind(models.TextChoices):
    GENERATED = "generated", _("产生")
    RECEIVED = "received", _("接收（外单位转入）")
    STORAGE_IN = "storage_in", _("入库贮存")
    STORAGE_OUT = "storage_out", _("出库")
    SELF_UTILIZED = "self_utilized", _("自行利用")
    SELF_DISPOSED = "self_disposed", _("自行处置")
    HANDED_OVER = "handed_over", _("委托利用/处置（转出）")
    DISCARDED = "discarded", _("倾倒丢弃")


class Purpose(models.TextChoices):
    UTILIZATION = "utilization", _("利用")
    DISPOSAL = "disposal", _("处置")


class UtilizationRoute(models.TextChoices):
    CEMENT = "cement", _("水泥生产/水泥混合材")
    CONCRETE = "concrete", _("混凝土掺合料")
    BRICKS = "bricks", _("砖及砌块")
    AERATED_CONCRETE = "aerated_concrete", _("加气混凝土")
    GYPSUM_PRODUCTS = "gypsum_products", _("石膏板/水泥缓凝剂")
    ROAD_BASE = "road_base", _("路基材料")
    BACKFILL = "backfill", _("井下充填")
    RECLAMATION = "reclamation", _("土地复垦/生态修复")
    EXTRACTION = "extraction", _("有价组分提取（氧化铝、镓、金属回收）")
    CERAMSITE = "ceramsite", _("陶粒")
    POWER = "power", _("发电/燃料（煤矸石电厂）")
    OTHER = "other", _("其他利用")


class DisposalMethod(models.TextChoices):
    LANDFILL = "landfill", _("填埋")
    INCINERATION = "incineration", _("焚烧")
    OTHER = "other", _("其他处置")


class AppendOnlyQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("ledger entries are append-only: post a correction instead")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("ledger entries are append-only: post a correction instead")


class IdempotencyKey(models.Model):
    """A write request's key: a retry with the same key returns the first result."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=128)
    # SHA-256 of the canonical request body: the same key with another body is refused.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id}:{self.key}"


class ImportBatch(models.Model):
    """One imported file. The same file (same SHA-256) is never imported twice."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=255)
    row_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "sha256"], name="import_file_once"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.row_count} rows)"


class LedgerEntry(models.Model):
    """One ledger record. Its effect on stock is ``sign(kind) * quantity`` at ``site``
    (and ``+quantity`` at ``to_site`` for storage movements)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Indexes on this table cost every ingest, so each one must name its query.
    # enterprise: served by the (enterprise, seq) unique index.
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    seq = models.PositiveBigIntegerField(_("序号"))
    kind = models.CharField(_("类型"), max_length=16, choices=EntryKind.choices)
    # site: served by ledger_site_waste_day_idx.
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", db_index=False)
    # to_site, waste, stream: no query selects by them alone (statistics aggregate
    # whole periods; they use ledger_day_kind_idx).
    to_site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    waste = models.ForeignKey(
        WasteCategory, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    stream = models.ForeignKey(
        WasteStream,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Negative only on a reversing entry (see constraint below).
    quantity = TonnesField(_("数量（吨）"), db_column="quantity_kg")
    occurred_on = models.DateField(_("发生日期"))
    recorded_at = models.DateTimeField(_("记录时间"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
    )
    counterparty = models.ForeignKey(
        Enterprise,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    purpose = models.CharField(_("去向用途"), max_length=16, choices=Purpose.choices, blank=True)
    route = models.CharField(
        _("利用方式"), max_length=32, choices=UtilizationRoute.choices, blank=True
    )
    disposal_method = models.CharField(
        _("处置方式"), max_length=16, choices=DisposalMethod.choices, blank=True
    )
    batch_code = models.CharField(_("批次编码"), max_length=64, blank=True)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    # reverses, corrects, idempotency, counterparty: set on few rows, so their
    # indexes are partial (see Meta) and cost bulk ingest nothing.
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        db_index=False,
    )
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrected_by",
        db_index=False,
    )
    reason = models.CharField(_("更正原因"), max_length=500, blank=True)
    idempotency = models.ForeignKey(
        IdempotencyKey,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        db_index=False,
    )
    import_batch = models.ForeignKey(
        ImportBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        db_index=False,
    )
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects: ClassVar[models.Manager[LedgerEntry]] = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("台账记录")
        verbose_name_plural = _("台账记录")
        ordering = ["enterprise_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "seq"], name="ledger_entry_seq_unique"),
            # An entry is reversed at most once.
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="ledger_reversed_once",
            ),
            models.CheckConstraint(
                name="ledger_quantity_sign",
                condition=(Q(reverses__isnull=True) & Q(quantity__gt=0))
                | (Q(reverses__isnull=False) & Q(quantity__lt=0)),
            ),
            models.CheckConstraint(
                name="ledger_correction_has_reason",
                condition=(Q(reverses__isnull=True) & Q(corrects__isnull=True)) | ~Q(reason=""),
            ),
            models.CheckConstraint(
                name="ledger_counterparty_where_needed",
                condition=~Q(kind__in=["handed_over", "received"]) | Q(counterparty__isnull=False),
            ),
            models.CheckConstraint(
                name="ledger_to_site_only_on_movements",
                condition=Q(kind__in=["storage_in", "storage_out"], to_site__isnull=False)
                | (~Q(kind__in=["storage_in", "storage_out"]) & Q(to_site__isnull=True)),
            ),
        ]
        indexes = [
            # ledger history of one site and waste: selectors.ledger_entries_list(site_code=...)
            models.Index(fields=["site", "waste", "occurred_on"], name="ledger_site_waste_day_idx"),
            # statistics by period: scans of (kind, occurred_on) across enterprises
            models.Index(fields=["occurred_on", "kind"], name="ledger_day_kind_idx"),
            # what was handed over to / received from an enterprise (transfers, receivers)
            models.Index(
                fields=["counterparty", "occurred_on"],
                condition=Q(counterparty__isnull=False),
                name="ledger_counterparty_idx",
            ),
            # the history view: which entries replaced an original
            models.Index(
                fields=["corrects"], condition=Q(corrects__isnull=False), name="ledger_corrects_idx"
            ),
            # a retried request looks up the entries its Idempotency-Key created
            models.Index(
                fields=["idempotency"],
                condition=Q(idempotency__isnull=False),
                name="ledger_idempotency_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id}#{self.seq} {self.kind} {self.quantity} t"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("ledger entries are append-only: post a correction instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("ledger entries are append-only: post a correction instead")


class StockBalance(models.Model):
    """Stock on hand of one waste at one site: the running sum of the entries' effects.

    Updated only with ``quantity = quantity + delta`` under the enterprise's chain
    lock; the check constraint is the backstop that makes a negative stock
    impossible even for a buggy writer.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="stock")
    waste = models.ForeignKey(WasteCategory, on_delete=models.PROTECT, related_name="+")
    quantity = TonnesField(_("库存（吨）"), db_column="quantity_kg", default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("库存")
        verbose_name_plural = _("库存")
        constraints = [
            models.UniqueConstraint(fields=["site", "waste"], name="stock_site_waste_unique"),
            models.CheckConstraint(name="stock_never_negative", condition=Q(quantity__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.waste_id}: {self.quantity} t"


class ChainHead(models.Model):
    """The last link of an enterprise's chain. Its row lock serializes that enterprise's writers."""

    enterprise = models.OneToOneField(
        Enterprise, on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.enterprise_id}#{self.last_seq}"

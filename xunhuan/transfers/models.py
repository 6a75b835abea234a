"""Transfer documents (电子转移联单): who handed waste over, who carried it, who received
it and what finally became of it, each step signed and hash-chained.

The document itself (``Transfer``, its legs and lines) holds the current state; the
history that must never change lives in append-only rows: ``TransferSignature`` (one
per signed step, chained per document), ``TransferRevision`` (before and after of every
approved change) and the ledger entries linked by ``TransferLedgerLink``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xunhuan.ledger.models import DisposalMethod, LedgerEntry, Purpose, UtilizationRoute
from xunhuan.registry.fields import TonnesField
from xunhuan.registry.models import Enterprise, Region, Site, WasteCategory


class TransferStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ISSUED = "issued", _("已开具（待运输）")
    IN_TRANSIT = "in_transit", _("运输中")
    RECEIVED = "received", _("已接收")
    COMPLETED = "completed", _("已完成利用/处置")
    CANCELLED = "cancelled", _("已作废")


class ReceiptDecision(models.TextChoices):
    ACCEPTED = "accepted", _("全部接收")
    PARTLY_ACCEPTED = "partly_accepted", _("部分接收")
    REFUSED = "refused", _("拒收")


class TransportMode(models.TextChoices):
    ROAD = "road", _("公路")
    RAIL = "rail", _("铁路")


class Step(models.TextChoices):
    ISSUE = "issue", _("产生单位开具")
    COLLECT = "collect", _("运输单位接运")
    RECEIVE = "receive", _("接收单位签收")
    COMPLETE = "complete", _("利用/处置完成")
    CANCEL = "cancel", _("作废")
    SETTLE = "settle", _("磅差确认")
    REVISION_REQUEST = "revision_request", _("申请更正")
    REVISION_APPROVE = "revision_approve", _("同意更正")
    REVISION_WITHDRAW = "revision_withdraw", _("撤回更正申请")
    REVISION_REJECT = "revision_reject", _("驳回更正申请")


class TransferNumberSequence(models.Model):
    """The last number given to a document of one region and year. Numbers come from
    this row taken ``FOR UPDATE``, never from ``count()``: a count repeats numbers after
    a concurrent insert or a (forbidden, but possible) delete."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["region", "year"], name="transfer_number_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.region_id}/{self.year}: {self.last}"


class Transfer(models.Model):
    """One transfer document (联单) from a generator to a utilizer or disposer."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("联单编号"), max_length=32, unique=True)
    generator = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="transfers_out"
    )
    receiver = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="transfers_in")
    receiver_site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    purpose = models.CharField(_("去向用途"), max_length=16, choices=Purpose.choices)
    planned_route = models.CharField(
        _("拟利用方式"), max_length=32, choices=UtilizationRoute.choices, blank=True
    )
    planned_disposal_method = models.CharField(
        _("拟处置方式"), max_length=16, choices=DisposalMethod.choices, blank=True
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=TransferStatus.choices, default=TransferStatus.DRAFT
    )
    decision = models.CharField(
        _("接收结论"), max_length=16, choices=ReceiptDecision.choices, blank=True
    )
    refusal_reason = models.CharField(_("拒收原因"), max_length=500, blank=True)
    cancel_reason = models.CharField(_("作废原因"), max_length=500, blank=True)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A retried create with the same key returns this document (see transfer_create).
    idempotency_key = models.CharField(max_length=128, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    # Calendar days in Asia/Shanghai, as on the paper form.
    issued_on = models.DateField(_("开具日期"), null=True, blank=True)
    received_on = models.DateField(_("接收日期"), null=True, blank=True)
    completed_on = models.DateField(_("完成日期"), null=True, blank=True)
    receipt_due = models.DateField(_("接收期限"), null=True, blank=True)
    completion_due = models.DateField(_("利用/处置期限"), null=True, blank=True)

    class Meta:
        verbose_name = _("转移联单")
        verbose_name_plural = _("转移联单")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["generator", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="transfer_idempotency_key_unique",
            ),
            models.CheckConstraint(
                name="transfer_not_to_itself", condition=~Q(generator=models.F("receiver"))
            ),
            models.CheckConstraint(
                name="transfer_plan_matches_purpose",
                condition=Q(purpose="utilization", planned_disposal_method="")
                & ~Q(planned_route="")
                | Q(purpose="disposal", planned_route="") & ~Q(planned_disposal_method=""),
            ),
        ]
        indexes = [
            # a party's list: transfers out of / into an enterprise, newest first
            models.Index(fields=["generator", "created_at"], name="transfer_generator_idx"),
            models.Index(fields=["receiver", "created_at"], name="transfer_receiver_idx"),
            # the overdue list: open documents past a due date
            models.Index(fields=["status", "receipt_due"], name="transfer_receipt_due_idx"),
            models.Index(fields=["status", "completion_due"], name="transfer_completion_due_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class TransferLeg(models.Model):
    """One carrier's leg, in order (a rail leg is a carrier too)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="legs")
    seq = models.PositiveSmallIntegerField()
    carrier = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(_("运输方式"), max_length=8, choices=TransportMode.choices)
    vehicle = models.CharField(_("车牌/车次"), max_length=32, blank=True)
    collected_on = models.DateField(_("接运日期"), null=True, blank=True)

    class Meta:
        ordering = ["transfer_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "seq"], name="transfer_leg_seq_unique"),
        ]
        indexes = [
            # a carrier's list: documents it carries
            models.Index(fields=["carrier"], name="transfer_leg_carrier_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}#{self.seq} {self.carrier_id}"


class TransferLine(models.Model):
    """One waste on the document: declared at issue, weighed and accepted at receipt."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="lines")
    seq = models.PositiveSmallIntegerField()
    waste = models.ForeignKey(WasteCategory, on_delete=models.PROTECT, related_name="+")
    # The generator's site the waste leaves from (its stock goes down there).
    source_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    declared = TonnesField(_("申报量（吨）"))
    # The generator's current handed-over entry for this line (a correction replaces
    # it; the replaced ones stay linked in TransferLedgerLink).
    handed_entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    weighed = TonnesField(_("过磅量（吨）"), null=True, blank=True)
    accepted = TonnesField(_("接收量（吨）"), null=True, blank=True)
    refused = TonnesField(_("退回量（吨）"), null=True, blank=True)
    final_route = models.CharField(
        _("利用方式"), max_length=32, choices=UtilizationRoute.choices, blank=True
    )
    final_disposal_method = models.CharField(
        _("处置方式"), max_length=16, choices=DisposalMethod.choices, blank=True
    )

    class Meta:
        ordering = ["transfer_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "seq"], name="transfer_line_seq_unique"),
            models.CheckConstraint(
                name="transfer_line_declared_positive", condition=Q(declared__gt=0)
            ),
            models.CheckConstraint(
                name="transfer_line_receipt_adds_up",
                condition=Q(weighed__isnull=True, accepted__isnull=True, refused__isnull=True)
                | Q(
                    weighed__gt=0,
                    accepted__gte=0,
                    refused__gte=0,
                    weighed=models.F("accepted") + models.F("refused"),
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}#{self.seq} {self.waste_id} {self.declared} t"


class AppendOnly(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{type(self).__name__} rows are append-only")


class TransferSignature(AppendOnly):
    """One signed step. ``step_key`` names the step uniquely within the document
    (``collect:2``, ``settle:<enterprise>``), so signing the same step twice is refused by
    the database as well as by the service. Signatures of a document form a hash chain
    (``xunhuan.core.chain``) over their canonical fields."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="signatures")
    seq = models.PositiveSmallIntegerField()
    step = models.CharField(_("环节"), max_length=24, choices=Step.choices)
    step_key = models.CharField(max_length=64)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signer_name = models.CharField(_("签署人"), max_length=150)
    signed_at = models.DateTimeField(_("签署时间"))
    # What was signed, as canonical text (quantities, decision, reason): the hash covers it.
    payload = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["transfer_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "seq"], name="transfer_signature_seq"),
            models.UniqueConstraint(
                fields=["transfer", "step_key"], name="transfer_step_signed_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}#{self.seq} {self.step_key}"


class TransferLedgerLink(AppendOnly):
    """Which ledger entry a document step wrote. Every entry written for a transfer is
    linked here, so ledger and transfers can be compared row by row."""

    class Role(models.TextChoices):
        HANDED_OVER = "handed_over", _("产生单位转出")
        RECEIVED = "received", _("接收单位接收")
        RETURNED = "returned", _("拒收退回产生单位")
        WEIGHED = "weighed", _("按过磅量调整转出")
        FINISHED = "finished", _("利用/处置")
        CANCELLED = "cancelled", _("作废冲销")
        REVISED = "revised", _("更正调整")

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="ledger_links")
    line = models.ForeignKey(TransferLine, on_delete=models.PROTECT, related_name="ledger_links")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16, choices=Role.choices)

    def __str__(self) -> str:
        return f"{self.transfer_id}/{self.line_id} {self.role} {self.entry_id}"


class Discrepancy(models.Model):
    """A weighed quantity outside the tolerance of the declared one. It blocks
    completion until both generator and receiver have signed a settlement."""

    line = models.OneToOneField(TransferLine, on_delete=models.PROTECT, related_name="discrepancy")
    declared = TonnesField(_("申报量（吨）"))
    weighed = TonnesField(_("过磅量（吨）"))
    tolerance_percent = models.DecimalField(max_digits=5, decimal_places=2)
    opened_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("磅差")
        verbose_name_plural = _("磅差")

    def __str__(self) -> str:
        return f"{self.line_id}: {self.declared} vs {self.weighed}"


class RevisionStatus(models.TextChoices):
    PENDING = "pending", _("待各方同意")
    APPLIED = "applied", _("已生效")
    WITHDRAWN = "withdrawn", _("已撤回")
    REJECTED = "rejected", _("已驳回")


class TransferRevision(models.Model):
    """A change to a signed document. It takes effect only when every affected party
    has approved; ``before`` and ``after`` keep both versions for good. A pending
    request may instead be withdrawn by its requester or rejected (with a reason) by
    another affected party: the row stays, closed, and the document is unchanged."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="revisions")
    seq = models.PositiveSmallIntegerField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requesting_enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("更正原因"), max_length=500)
    before = models.JSONField()
    after = models.JSONField()
    # Credit codes of the parties whose approval is needed (fixed when requested).
    approvers = models.JSONField()
    status = models.CharField(max_length=16, choices=RevisionStatus.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # Withdrawn or rejected: when, by which party and user, and why (rejections only).
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_by_enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    close_reason = models.CharField(_("驳回/撤回原因"), max_length=500, blank=True)

    class Meta:
        ordering = ["transfer_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "seq"], name="transfer_revision_seq"),
            # One open request at a time: a second would be approved against a stale "before".
            models.UniqueConstraint(
                fields=["transfer"],
                condition=Q(status="pending"),
                name="transfer_one_pending_revision",
            ),
            # Closed (withdrawn/rejected) exactly when it carries a closing time, and a
            # rejection always says why.
            models.CheckConstraint(
                name="transfer_revision_closed_consistent",
                condition=Q(status__in=["pending", "applied"], closed_at__isnull=True)
                | Q(status__in=["withdrawn", "rejected"], closed_at__isnull=False),
            ),
            models.CheckConstraint(
                name="transfer_revision_rejection_has_reason",
                condition=~Q(status="rejected", close_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id} revision {self.seq} ({self.status})"

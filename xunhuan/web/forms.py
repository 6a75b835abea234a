"""Forms check the shape of what was typed; the ledger rules and services decide the rest
(their ``DomainError.field`` is put on the form field of the same name)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from xunhuan.core.errors import DomainError
from xunhuan.imports.services import FIELD_BY_LABEL
from xunhuan.ledger.imports import RowLookups, row_draft_parse
from xunhuan.ledger.models import DisposalMethod, EntryKind, Purpose, UtilizationRoute
from xunhuan.ledger.rules import EntryDraft
from xunhuan.registry import selectors as registry_selectors
from xunhuan.registry.models import Enterprise, Site, WasteCategory, WasteGroup, WasteStream
from xunhuan.statistics.models import TargetMetric, TargetScope
from xunhuan.transfers.models import TransportMode
from xunhuan.transfers.services import LegDraft, LineDraft


def _blank(choices: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


class LedgerEntryForm(forms.Form):
    """One ledger entry, in the names of ``xunhuan.ledger.imports.COLUMNS``, so the
    form's cells go through the same row checks as a CSV or workbook line."""

    kind = forms.ChoiceField(label=_("记录类型"), choices=EntryKind.choices)
    occurred_on = forms.DateField(
        label=_("发生日期"), widget=forms.DateInput(attrs={"type": "date"})
    )
    site = forms.ChoiceField(label=_("设施"))
    to_site = forms.ChoiceField(label=_("目的设施（入库/出库）"), required=False)
    waste_code = forms.ChoiceField(label=_("废物代码"))
    stream = forms.ChoiceField(label=_("废物流（产生清单）"), required=False)
    quantity = forms.CharField(
        label=_("数量（吨）"),
        max_length=24,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    counterparty = forms.CharField(
        label=_("对方单位统一社会信用代码"), max_length=18, required=False
    )
    purpose = forms.ChoiceField(
        label=_("去向用途"), choices=_blank(Purpose.choices), required=False
    )
    route = forms.ChoiceField(
        label=_("利用方式"), choices=_blank(UtilizationRoute.choices), required=False
    )
    disposal_method = forms.ChoiceField(
        label=_("处置方式"), choices=_blank(DisposalMethod.choices), required=False
    )
    batch_code = forms.CharField(label=_("批次编码"), max_length=64, required=False)
    note = forms.CharField(label=_("备注"), max_length=500, required=False)
    # Sent back with the form: a double click or a resent POST posts the entry once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(
        self,
        *args: Any,
        sites: list[Site],
        streams: list[WasteStream],
        wastes: list[WasteCategory],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        site_choices = [(s.code, f"{s.code} {s.name}") for s in sites]
        self.fields["site"].choices = site_choices  # type: ignore[attr-defined]
        self.fields["to_site"].choices = _blank(site_choices)  # type: ignore[attr-defined]
        self.fields["stream"].choices = _blank(  # type: ignore[attr-defined]
            [(s.code, f"{s.code} {s.name}（{s.waste_id}）") for s in streams]
        )
        self.fields["waste_code"].choices = [  # type: ignore[attr-defined]
            (w.code, f"{w.code} {w.name_zh}") for w in wastes
        ]
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    def cells(self) -> dict[str, str]:
        """The cleaned values as the text cells the ledger's row check reads."""
        data = self.cleaned_data
        return {
            name: (data[name].isoformat() if name == "occurred_on" else str(data.get(name) or ""))
            for name in (
                "kind",
                "occurred_on",
                "site",
                "to_site",
                "waste_code",
                "stream",
                "quantity",
                "counterparty",
                "purpose",
                "route",
                "disposal_method",
                "batch_code",
                "note",
            )
        }


class CorrectionForm(LedgerEntryForm):
    """A correction: the reason, and the replacement unless the entry is only reversed."""

    reason = forms.CharField(
        label=_("更正原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    reverse_only = forms.BooleanField(label=_("仅冲销，不录入替代记录"), required=False)
    field_order = ("reason", "reverse_only")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound and self.data.get("reverse_only"):
            # Only the reason matters when nothing replaces the entry.
            for name, field in self.fields.items():
                if name not in ("reason", "reverse_only", "idempotency_key"):
                    field.required = False


class WorkbookUploadForm(forms.Form):
    file = forms.FileField(
        label=_("台账Excel文件（.xlsx）"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx"}),
    )


class PeriodForm(forms.Form):
    date_from = forms.DateField(label=_("起始日期"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("截止日期"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("截止日期不能早于起始日期"))
        return data


class HistoryFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.ChoiceField(label=_("记录类型"), choices=_blank(EntryKind.choices), required=False)


def draft_from_form(form: LedgerEntryForm, enterprise: Enterprise) -> EntryDraft | None:
    """Resolve the form's codes with the CSV import's row check (same messages, same
    rules); put each problem on its field and return None if there is any."""
    draft, errors = row_draft_parse(form.cells(), RowLookups(enterprise), 0)
    for error in errors:
        name = FIELD_BY_LABEL.get(error.column, error.column)
        form.add_error(name if name in form.fields else None, error.message)
    return None if errors else draft


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a refused write on the field it names (or on the form as a whole)."""
    name = error.field if error.field in form.fields else None
    form.add_error(name, error.message)


class TransferCreateForm(forms.Form):
    """A transfer document with one waste line and one carrier leg (the API takes more)."""

    generator = forms.ChoiceField(label=_("产生单位"))
    receiver = forms.CharField(label=_("接收单位统一社会信用代码"), max_length=18)
    purpose = forms.ChoiceField(label=_("去向用途"), choices=Purpose.choices)
    planned_route = forms.ChoiceField(
        label=_("拟利用方式"), choices=_blank(UtilizationRoute.choices), required=False
    )
    planned_disposal_method = forms.ChoiceField(
        label=_("拟处置方式"), choices=_blank(DisposalMethod.choices), required=False
    )
    carrier = forms.CharField(label=_("运输单位统一社会信用代码"), max_length=18)
    mode = forms.ChoiceField(label=_("运输方式"), choices=TransportMode.choices)
    vehicle = forms.CharField(label=_("车牌/车次"), max_length=32, required=False)
    waste_code = forms.CharField(label=_("废物代码"), max_length=8)
    source_site = forms.CharField(label=_("来源设施编码"), max_length=32)
    declared = forms.DecimalField(
        label=_("申报量（吨）"), max_digits=16, decimal_places=3, min_value=Decimal("0.001")
    )
    note = forms.CharField(label=_("备注"), max_length=500, required=False)

    def __init__(self, *args: Any, generators: list[Enterprise], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generators = {e.credit_code: e for e in generators}
        self.fields["generator"].choices = [  # type: ignore[attr-defined]
            (e.credit_code, e.name) for e in generators
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Codes to registry rows (shape); the transfer service checks roles and rules.
        lookups: dict[str, Any] = {
            "receiver": registry_selectors.enterprise_by_credit_code(data.get("receiver", "")),
            "carrier": registry_selectors.enterprise_by_credit_code(data.get("carrier", "")),
            "waste_code": registry_selectors.waste_category_get(code=data.get("waste_code", "")),
        }
        generator = self.generators.get(data.get("generator", ""))
        lookups["source_site"] = (
            registry_selectors.site_by_code(enterprise=generator, code=data.get("source_site", ""))
            if generator is not None
            else None
        )
        for name, found in lookups.items():
            if name in data and found is None:
                self.add_error(name, _("未找到 / not found"))
        data["_resolved"] = {**lookups, "generator": generator}
        return data

    def resolved(self) -> dict[str, Any]:
        """Keyword arguments for ``transfer_create``."""
        data = self.cleaned_data
        found = data["_resolved"]
        return {
            "generator": found["generator"],
            "receiver": found["receiver"],
            "purpose": data["purpose"],
            "planned_route": data["planned_route"],
            "planned_disposal_method": data["planned_disposal_method"],
            "legs": [
                LegDraft(carrier=found["carrier"], mode=data["mode"], vehicle=data["vehicle"])
            ],
            "lines": [
                LineDraft(
                    waste=found["waste_code"],
                    source_site=found["source_site"],
                    declared=data["declared"],
                )
            ],
            "note": data["note"],
        }


class TargetForm(forms.Form):
    """A target's fields as ``target_create`` takes them; the service checks the rest
    (threshold against metric, groups against scope) and its refusals land on these
    fields by name."""

    region_code = forms.ChoiceField(label=_("行政区划"))
    year = forms.IntegerField(label=_("目标年"))
    plan = forms.CharField(label=_("规划/文件"), max_length=200)
    issuer_doc_no = forms.CharField(label=_("文号"), max_length=120, required=False)
    indicator = forms.CharField(label=_("指标（原文）"), max_length=200)
    scope = forms.ChoiceField(label=_("范围"), choices=TargetScope.choices)
    waste_groups = forms.MultipleChoiceField(
        label=_("类别组（范围为指定类别组时）"), required=False
    )
    metric = forms.ChoiceField(label=_("指标类型"), choices=TargetMetric.choices)
    threshold_percent = forms.DecimalField(
        label=_("目标值（%）"), max_digits=5, decimal_places=2, required=False
    )
    threshold_tonnes = forms.DecimalField(
        label=_("目标值（吨）"), max_digits=16, decimal_places=3, required=False
    )
    threshold_text = forms.CharField(label=_("目标（原文）"), max_length=200, required=False)
    source_url = forms.URLField(
        label=_("来源"), max_length=500, required=False, assume_scheme="https"
    )
    note = forms.CharField(
        label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(
        self, *args: Any, regions: list[tuple[str, str]], groups: list[WasteGroup], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region_code"].choices = regions  # type: ignore[attr-defined]
        self.fields["waste_groups"].choices = [  # type: ignore[attr-defined]
            (g.code, g.name_zh) for g in groups
        ]

    def values(self) -> dict[str, Any]:
        """The cleaned fields as the service's keyword arguments."""
        data = self.cleaned_data
        return {name: data[name] for name in self.fields if name in data}


class TargetReviseForm(TargetForm):
    """A revision: the target's fields as they should now read, and why."""

    reason = forms.CharField(
        label=_("修订原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    field_order = ("reason",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, regions=[], **kwargs)
        del self.fields["region_code"]  # a revision keeps the target's region


class TargetRetireForm(forms.Form):
    reason = forms.CharField(
        label=_("停用原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

"""Transfer documents (联单) over the JSON API, the audit trail, and API-token auth.

Endpoints hold no logic: a document is looked up among those the user may see
(``transfers_visible_to``: anybody else gets the same 404 as for a number never
issued) and the service decides whether the user may sign the step (403 otherwise).
"""

# No ``from __future__ import annotations``: django-ninja resolves the annotations
# of paginated views at run time (see xunhuan/api/api.py).
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.params.functions import Header
from ninja.security import HttpBearer

from xunhuan.accounts.selectors import enterprises_visible_to, regions_visible_to
from xunhuan.accounts.services import api_token_authenticate
from xunhuan.audit.models import AuditEvent
from xunhuan.audit.selectors import audit_events_list
from xunhuan.core.errors import NotFound, ValidationFailed
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.registry import selectors as registry_selectors
from xunhuan.registry.models import Enterprise
from xunhuan.transfers import revisions, selectors, services
from xunhuan.transfers.models import Transfer, TransferLine
from xunhuan.transfers.printing import transfer_pdf


class ApiTokenAuth(HttpBearer):
    """``Authorization: Bearer xh_…``: a hashed, revocable personal token. The user is
    also set on the request so every selector sees the same user as with a session."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(raw=token)
        if user is not None:
            request.user = user  # type: ignore[assignment]  # the project user model
        return user


# --- shapes --------------------------------------------------------------------------


class LegIn(Schema):
    carrier: str = Field(..., description="运输单位统一社会信用代码")
    mode: str = Field(..., description="road | rail")
    vehicle: str = Field("", max_length=32)


class LineIn(Schema):
    waste_code: str
    source_site: str = Field(..., description="产生单位设施编码")
    declared: Decimal = Field(..., description="申报量（吨）")


class TransferIn(Schema):
    generator: str
    receiver: str
    purpose: str
    planned_route: str = ""
    planned_disposal_method: str = ""
    legs: list[LegIn] = Field(..., min_length=1, max_length=10)
    lines: list[LineIn] = Field(..., min_length=1, max_length=50)
    note: str = Field("", max_length=500)


class CollectIn(Schema):
    vehicle: str = Field("", max_length=32)


class ReceiptLineIn(Schema):
    seq: int
    weighed: Decimal
    accepted: Decimal


class ReceiveIn(Schema):
    site: str = Field(..., description="接收单位设施编码")
    lines: list[ReceiptLineIn] = Field(..., min_length=1, max_length=50)
    refusal_reason: str = Field("", max_length=500)


class CompletionLineIn(Schema):
    seq: int
    route: str = ""
    disposal_method: str = ""


class CompleteIn(Schema):
    lines: list[CompletionLineIn] = Field(default_factory=list, max_length=50)


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)


class NoteIn(Schema):
    note: str = Field(..., min_length=1, max_length=500)


class RevisionIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)
    note: str | None = Field(None, max_length=500)
    planned_route: str | None = None
    planned_disposal_method: str | None = None
    declared: dict[int, Decimal] | None = None


class LegOut(Schema):
    seq: int
    carrier: str = Field(..., alias="carrier.credit_code")
    carrier_name: str = Field(..., alias="carrier.name")
    mode: str
    vehicle: str
    collected_on: dt.date | None


class DiscrepancyOut(Schema):
    declared: Decimal
    weighed: Decimal
    tolerance_percent: Decimal
    settled: bool


class LineOut(Schema):
    seq: int
    waste_code: str = Field(..., alias="waste_id")
    source_site: str = Field(..., alias="source_site.code")
    declared: Decimal
    weighed: Decimal | None
    accepted: Decimal | None
    refused: Decimal | None
    final_route: str
    final_disposal_method: str
    discrepancy: DiscrepancyOut | None = None

    @staticmethod
    def resolve_discrepancy(obj: TransferLine) -> DiscrepancyOut | None:
        try:
            found = obj.discrepancy
        except TransferLine.discrepancy.RelatedObjectDoesNotExist:
            return None
        return DiscrepancyOut(
            declared=found.declared,
            weighed=found.weighed,
            tolerance_percent=found.tolerance_percent,
            settled=found.settled_at is not None,
        )


class SignatureOut(Schema):
    seq: int
    step: str
    step_key: str
    enterprise: str = Field(..., alias="enterprise.credit_code")
    signer: str = Field(..., alias="signer_name")
    signed_at: dt.datetime
    hash: str


class RevisionOut(Schema):
    seq: int
    status: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    approvers: list[str]
    close_reason: str


class TransferOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    number: str
    status: str
    decision: str
    generator: str = Field(..., alias="generator.credit_code")
    generator_name: str = Field(..., alias="generator.name")
    receiver: str = Field(..., alias="receiver.credit_code")
    receiver_name: str = Field(..., alias="receiver.name")
    receiver_site: str | None = Field(None, alias="receiver_site.code")
    purpose: str
    planned_route: str
    planned_disposal_method: str
    note: str
    refusal_reason: str
    cancel_reason: str
    issued_on: dt.date | None
    received_on: dt.date | None
    completed_on: dt.date | None
    receipt_due: dt.date | None
    completion_due: dt.date | None
    legs: list[LegOut]
    lines: list[LineOut]
    signatures: list[SignatureOut]
    revisions: list[RevisionOut]


class RevisionCreatedOut(Schema):
    seq: int
    status: str


class AuditOut(Schema):
    at: dt.datetime
    actor: str | None = Field(None, alias="actor.username")
    enterprise: str | None = Field(None, alias="enterprise.credit_code")
    # the jurisdiction of a write without an enterprise (its code: no join needed)
    region: str | None = Field(None, alias="region_id")
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# --- helpers ---------------------------------------------------------------------------


def _user(request: HttpRequest) -> Any:
    return request.user


def _document(request: HttpRequest, number: str) -> Transfer:
    return selectors.transfer_get(
        transfers=selectors.transfers_visible_to(_user(request)), number=number
    )


def _enterprise(code: str, field: str) -> Enterprise:
    found = registry_selectors.enterprise_by_credit_code(code)
    if found is None:
        raise ValidationFailed(f"未登记的单位：{code} / unknown enterprise", field=field)
    return found


def _legs(body: TransferIn) -> list[services.LegDraft]:
    return [
        services.LegDraft(
            carrier=_enterprise(leg.carrier, "legs"), mode=leg.mode, vehicle=leg.vehicle
        )
        for leg in body.legs
    ]


def _lines(generator: Enterprise, body: TransferIn) -> list[services.LineDraft]:
    drafts = []
    for line in body.lines:
        waste = registry_selectors.waste_category_get(code=line.waste_code)
        if waste is None:
            raise ValidationFailed(
                f"未知废物代码：{line.waste_code} / unknown waste code", field="waste_code"
            )
        site = registry_selectors.site_by_code(enterprise=generator, code=line.source_site)
        if site is None:
            raise ValidationFailed(
                f"产生单位无此设施编码：{line.source_site} / unknown site", field="source_site"
            )
        drafts.append(services.LineDraft(waste=waste, source_site=site, declared=line.declared))
    return drafts


def _reloaded(request: HttpRequest, transfer: Transfer) -> Transfer:
    return _document(request, transfer.number)


# --- endpoints -------------------------------------------------------------------------

router = Router(tags=["转移联单 transfers"])


@router.get("", response=list[TransferOut])
@paginate(LimitOffsetPagination)
def transfers_list(request: HttpRequest, status: str | None = None) -> QuerySet[Transfer]:
    """Documents the user is a party to, or that a regulator's jurisdiction touches."""
    return selectors.transfers_list(
        transfers=selectors.transfers_visible_to(_user(request)), status=status
    )


IdempotencyHeader: Any = Header(None, alias="Idempotency-Key", max_length=128)


@router.post("", response={201: TransferOut})
def transfers_create(
    request: HttpRequest, body: TransferIn, idempotency_key: str | None = IdempotencyHeader
) -> Status[Transfer]:
    """Draft a document for the generator (its admin or member seats). Retrying with the
    same ``Idempotency-Key`` returns the document the first request drafted."""
    generator = enterprises_visible_to(_user(request)).filter(credit_code=body.generator).first()
    if generator is None:
        raise NotFound("单位不存在或无权查看 / enterprise not found", field="generator")
    transfer = services.transfer_create(
        user=_user(request),
        generator=generator,
        receiver=_enterprise(body.receiver, "receiver"),
        purpose=body.purpose,
        planned_route=body.planned_route,
        planned_disposal_method=body.planned_disposal_method,
        legs=_legs(body),
        lines=_lines(generator, body),
        note=body.note,
        idempotency_key=idempotency_key,
    )
    return Status(201, _reloaded(request, transfer))


@router.get("/overdue", response=list[TransferOut])
@paginate(LimitOffsetPagination)
def transfers_overdue(request: HttpRequest) -> QuerySet[Transfer]:
    """Documents past their receipt or utilization/disposal deadline (Asia/Shanghai)."""
    return selectors.transfers_overdue(
        transfers=selectors.transfers_visible_to(_user(request)), today=today_in_shanghai()
    )


@router.get("/audit", response=list[AuditOut])
@paginate(LimitOffsetPagination)
def audit_list(
    request: HttpRequest, object_type: str | None = None, object_id: str | None = None
) -> QuerySet[AuditEvent]:
    """The audit trail of the enterprises the user may see and, for a regulator, of its
    jurisdiction's own writes (targets, rule settings, parks)."""
    return audit_events_list(
        enterprises=enterprises_visible_to(_user(request)),
        regions=regions_visible_to(_user(request)),
        object_type=object_type,
        object_id=object_id,
    )


@router.get("/{number}", response=TransferOut)
def transfers_get(request: HttpRequest, number: str) -> Transfer:
    return _document(request, number)


@router.get("/{number}/pdf")
def transfers_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """The printable document (PDF, Chinese) with its signatures and a QR code."""
    transfer = _document(request, number)
    response = HttpResponse(transfer_pdf(transfer=transfer), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{transfer.number}.pdf"'
    return response


@router.post("/{number}/issue", response=TransferOut)
def transfers_issue(request: HttpRequest, number: str) -> Transfer:
    transfer = services.transfer_issue(transfer=_document(request, number), user=_user(request))
    return _reloaded(request, transfer)


@router.post("/{number}/collect", response=TransferOut)
def transfers_collect(request: HttpRequest, number: str, body: CollectIn) -> Transfer:
    transfer = services.transfer_collect(
        transfer=_document(request, number), user=_user(request), vehicle=body.vehicle
    )
    return _reloaded(request, transfer)


@router.post("/{number}/receive", response=TransferOut)
def transfers_receive(request: HttpRequest, number: str, body: ReceiveIn) -> Transfer:
    transfer = _document(request, number)
    site = registry_selectors.site_by_code(enterprise=transfer.receiver, code=body.site)
    if site is None:
        raise ValidationFailed(f"接收单位无此设施编码：{body.site} / unknown site", field="site")
    transfer = services.transfer_receive(
        transfer=transfer,
        user=_user(request),
        receiver_site=site,
        lines=[services.ReceiptLine(x.seq, x.weighed, x.accepted) for x in body.lines],
        refusal_reason=body.refusal_reason,
    )
    return _reloaded(request, transfer)


@router.post("/{number}/complete", response=TransferOut)
def transfers_complete(request: HttpRequest, number: str, body: CompleteIn) -> Transfer:
    transfer = services.transfer_complete(
        transfer=_document(request, number),
        user=_user(request),
        lines=[services.CompletionLine(x.seq, x.route, x.disposal_method) for x in body.lines],
    )
    return _reloaded(request, transfer)


@router.post("/{number}/cancel", response=TransferOut)
def transfers_cancel(request: HttpRequest, number: str, body: ReasonIn) -> Transfer:
    transfer = services.transfer_cancel(
        transfer=_document(request, number), user=_user(request), reason=body.reason
    )
    return _reloaded(request, transfer)


@router.post("/{number}/settle", response=TransferOut)
def transfers_settle(request: HttpRequest, number: str, body: NoteIn) -> Transfer:
    transfer = revisions.transfer_discrepancy_settle(
        transfer=_document(request, number), user=_user(request), note=body.note
    )
    return _reloaded(request, transfer)


@router.post("/{number}/revisions", response={201: RevisionCreatedOut})
def transfers_revise(request: HttpRequest, number: str, body: RevisionIn) -> Status[dict[str, Any]]:
    revision = revisions.transfer_revision_request(
        transfer=_document(request, number),
        user=_user(request),
        reason=body.reason,
        changes=revisions.RevisionChanges(
            note=body.note,
            planned_route=body.planned_route,
            planned_disposal_method=body.planned_disposal_method,
            declared=body.declared,
        ),
    )
    return Status(201, {"seq": revision.seq, "status": revision.status})


@router.post("/{number}/revisions/{seq}/approve", response=RevisionCreatedOut)
def transfers_revision_approve(request: HttpRequest, number: str, seq: int) -> dict[str, Any]:
    revision = revisions.transfer_revision_approve(
        transfer=_document(request, number), user=_user(request), revision_seq=seq
    )
    return {"seq": revision.seq, "status": revision.status}


@router.post("/{number}/revisions/{seq}/withdraw", response=RevisionCreatedOut)
def transfers_revision_withdraw(request: HttpRequest, number: str, seq: int) -> dict[str, Any]:
    """The requesting party withdraws its pending revision (the document is unchanged)."""
    revision = revisions.transfer_revision_withdraw(
        transfer=_document(request, number), user=_user(request), revision_seq=seq
    )
    return {"seq": revision.seq, "status": revision.status}


@router.post("/{number}/revisions/{seq}/reject", response=RevisionCreatedOut)
def transfers_revision_reject(
    request: HttpRequest, number: str, seq: int, body: ReasonIn
) -> dict[str, Any]:
    """Another affected party rejects a pending revision, with a reason."""
    revision = revisions.transfer_revision_reject(
        transfer=_document(request, number),
        user=_user(request),
        revision_seq=seq,
        reason=body.reason,
    )
    return {"seq": revision.seq, "status": revision.status}

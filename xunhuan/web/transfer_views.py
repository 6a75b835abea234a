"""Transfer documents (联单): each party's inbox and outbox, one document with its
signatures, and the step the user's enterprise can sign now. The steps, their order
and who may sign are decided by ``xunhuan.transfers.services``; a refusal is shown."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from xunhuan.accounts.selectors import enterprises_visible_to, enterprises_writable_by, roles_at
from xunhuan.core.errors import DomainError, NotFound, ValidationFailed
from xunhuan.core.units import QuantityError, to_tonnes
from xunhuan.ledger.models import DisposalMethod, UtilizationRoute
from xunhuan.registry import selectors as registry_selectors
from xunhuan.transfers import revisions as transfer_revisions
from xunhuan.transfers import services as transfer_services
from xunhuan.transfers.models import Transfer, TransferStatus
from xunhuan.transfers.selectors import (
    open_discrepancies,
    transfer_get,
    transfer_signatures_verify,
    transfers_list,
    transfers_visible_to,
)
from xunhuan.web.forms import TransferCreateForm

PAGE = 50


def _mine(request: HttpRequest) -> set[int]:
    return set(enterprises_visible_to(request.user).values_list("pk", flat=True))


@login_required
@require_http_methods(["GET", "POST"])
def transfers_page(request: HttpRequest) -> HttpResponse:
    generators = list(enterprises_writable_by(request.user).filter(is_generator=True))
    form = TransferCreateForm(request.POST or None, generators=generators)
    if request.method == "POST":
        if not generators:
            raise Http404("无可开具联单的单位 / no enterprise to issue for")
        if form.is_valid():
            try:
                transfer = transfer_services.transfer_create(
                    user=request.user,  # type: ignore[arg-type]
                    **form.resolved(),
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("已创建联单草稿%(n)s") % {"n": transfer.number})
                return redirect("web:transfer", number=transfer.number)
    status = request.GET.get("status") or None
    rows = transfers_list(transfers=transfers_visible_to(request.user), status=status)
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    mine = _mine(request)
    context = {
        "page": page,
        "rows": [(t, _direction(t, mine)) for t in page.object_list],
        "statuses": TransferStatus.choices,
        "status": status,
        "form": form if generators else None,
    }
    return render(request, "web/transfers.html", context)


def _direction(transfer: Transfer, mine: set[int]) -> str:
    """How the user's side sees the document (a regulator sees neither)."""
    if transfer.generator_id in mine:
        return "out"
    if transfer.receiver_id in mine:
        return "in"
    if any(leg.carrier_id in mine for leg in transfer.legs.all()):
        return "carry"
    return ""


def _actions(request: HttpRequest, transfer: Transfer) -> dict[str, Any]:
    """The steps the user's enterprises could sign now (the services check again)."""
    writers = transfer_services.WRITERS
    at_generator = roles_at(request.user, transfer.generator)
    at_receiver = roles_at(request.user, transfer.receiver)
    legs = list(transfer.legs.all())
    pending = [leg for leg in legs if leg.collected_on is None]
    next_leg = pending[0] if pending else None
    status = transfer.status
    discrepancies = list(open_discrepancies(transfer=transfer))
    return {
        "issue": status == TransferStatus.DRAFT and bool(at_generator & writers),
        "collect": next_leg is not None
        and status in transfer_services.OPEN_BEFORE_RECEIPT
        and bool(roles_at(request.user, next_leg.carrier) & transfer_services.TRANSPORT_SIGNERS),
        "next_leg": next_leg,
        "receive": status == TransferStatus.IN_TRANSIT
        and next_leg is None
        and bool(at_receiver & writers),
        "complete": status == TransferStatus.RECEIVED
        and not discrepancies
        and bool(at_receiver & writers),
        "settle": bool(discrepancies) and bool((at_generator | at_receiver) & writers),
        "discrepancies": discrepancies,
        "approve": bool((at_generator | at_receiver) & writers)
        or any(roles_at(request.user, leg.carrier) & writers for leg in legs),
        "cancel": status in (TransferStatus.DRAFT, *transfer_services.OPEN_BEFORE_RECEIPT)
        and bool(at_generator & writers),
        **_revision_actions(request, transfer, legs),
    }


# --- revisions: request, approve, reject, withdraw (self-contained block) -------------


def _revision_actions(request: HttpRequest, transfer: Transfer, legs: list[Any]) -> dict[str, Any]:
    """Which revision forms to show; ``transfer_revisions`` decides again on submit."""
    writers = transfer_services.WRITERS
    parties = [transfer.generator, *[leg.carrier for leg in legs], transfer.receiver]
    writes_for = {p.credit_code for p in parties if roles_at(request.user, p) & writers}
    pending = next((r for r in transfer.revisions.all() if r.status == "pending"), None)
    requester = pending.requesting_enterprise.credit_code if pending else None
    return {
        "revise": pending is None
        and bool(writes_for)
        and transfer.status in (*transfer_services.OPEN_BEFORE_RECEIPT, TransferStatus.RECEIVED),
        "revise_declared": transfer.status in transfer_services.OPEN_BEFORE_RECEIPT,
        "pending_revision": pending,
        "withdraw": pending is not None and requester in writes_for,
        "reject": pending is not None and bool(writes_for & set(pending.approvers) - {requester}),
        "routes": UtilizationRoute.choices,
        "methods": DisposalMethod.choices,
    }


def _revision_step(
    request: HttpRequest, transfer: Transfer, action: str
) -> Callable[[], object] | None:
    """The revision service call for a posted revision form, or ``None``."""
    data = request.POST
    user: Any = request.user
    if action == "revision_request":
        declared = {
            line.seq: _tonnes(data[f"declared_{line.seq}"], "declared")
            for line in transfer.lines.all()
            if data.get(f"declared_{line.seq}", "").strip()
        }
        changes = transfer_revisions.RevisionChanges(
            note=data.get("note", "").strip() or None,
            planned_route=data.get("planned_route", "") or None,
            planned_disposal_method=data.get("planned_disposal_method", "") or None,
            declared=declared or None,
        )
        return lambda: transfer_revisions.transfer_revision_request(
            transfer=transfer, user=user, reason=data.get("reason", ""), changes=changes
        )
    if action not in ("revision_withdraw", "revision_reject"):
        return None
    try:
        seq = int(data.get("revision", ""))
    except ValueError as exc:
        raise ValidationFailed("更正申请不存在 / no such revision", field="revision") from exc
    if action == "revision_withdraw":
        return lambda: transfer_revisions.transfer_revision_withdraw(
            transfer=transfer, user=user, revision_seq=seq
        )
    return lambda: transfer_revisions.transfer_revision_reject(
        transfer=transfer, user=user, revision_seq=seq, reason=data.get("reason", "")
    )


# --- end of the revision block ----------------------------------------------------------


def _tonnes(text: str, field: str) -> Decimal:
    try:
        return to_tonnes(text)
    except QuantityError as exc:
        raise ValidationFailed(f"数量无效：{exc} / invalid quantity", field=field) from exc


def _step(request: HttpRequest, transfer: Transfer) -> Callable[[], object]:
    """The service call for the posted step (shape only: the service decides)."""
    data = request.POST
    user = request.user
    action = data.get("action", "")
    if action == "issue":
        return lambda: transfer_services.transfer_issue(transfer=transfer, user=user)  # type: ignore[arg-type]
    if action == "collect":
        return lambda: transfer_services.transfer_collect(
            transfer=transfer,
            user=user,  # type: ignore[arg-type]
            vehicle=data.get("vehicle", ""),
        )
    if action == "receive":
        site = registry_selectors.site_by_code(
            enterprise=transfer.receiver, code=data.get("receiver_site", "")
        )
        if site is None:
            raise ValidationFailed("请选择接收设施 / choose the receiving site", field="site")
        lines = [
            transfer_services.ReceiptLine(
                seq=line.seq,
                weighed=_tonnes(data.get(f"weighed_{line.seq}", ""), "weighed"),
                accepted=_tonnes(data.get(f"accepted_{line.seq}", ""), "accepted"),
            )
            for line in transfer.lines.all()
        ]
        return lambda: transfer_services.transfer_receive(
            transfer=transfer,
            user=user,  # type: ignore[arg-type]
            receiver_site=site,
            lines=lines,
            refusal_reason=data.get("refusal_reason", ""),
        )
    if action == "complete":
        return lambda: transfer_services.transfer_complete(transfer=transfer, user=user)  # type: ignore[arg-type]
    if action == "settle":
        return lambda: transfer_revisions.transfer_discrepancy_settle(
            transfer=transfer,
            user=user,  # type: ignore[arg-type]
            note=data.get("note", ""),
        )
    if action == "approve":
        try:
            seq = int(data.get("revision", ""))
        except ValueError as exc:
            raise ValidationFailed("更正申请不存在 / no such revision", field="revision") from exc
        return lambda: transfer_revisions.transfer_revision_approve(
            transfer=transfer,
            user=user,  # type: ignore[arg-type]
            revision_seq=seq,
        )
    if action == "cancel":
        return lambda: transfer_services.transfer_cancel(
            transfer=transfer,
            user=user,  # type: ignore[arg-type]
            reason=data.get("reason", ""),
        )
    revision = _revision_step(request, transfer, action)
    if revision is not None:
        return revision
    raise ValidationFailed("未知操作 / unknown step", field="action")


@login_required
@require_http_methods(["GET", "POST"])
def transfer_detail(request: HttpRequest, number: str) -> HttpResponse:
    try:
        transfer = transfer_get(transfers=transfers_visible_to(request.user), number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if request.method == "POST":
        try:
            _step(request, transfer)()
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("已签署"))
        return redirect("web:transfer", number=transfer.number)
    actions = _actions(request, transfer)
    context = {
        "transfer": transfer,
        "actions": actions,
        "receiver_sites": list(registry_selectors.sites_list(enterprise=transfer.receiver))
        if actions["receive"]
        else [],
        "chain_break": transfer_signatures_verify(transfer=transfer),
    }
    return render(request, "web/transfer.html", context)

"""Enterprise ledger pages: entry form, history with corrections, correction form, chain badge.

Views only select (through access-checked selectors), hand the form to the ledger
services and show what they refused; the rules live in ``xunhuan.ledger``.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from xunhuan.core.errors import DomainError
from xunhuan.ledger import selectors as ledger_selectors
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import LedgerEntry
from xunhuan.ledger.services import ledger_entry_correct, ledger_entry_post
from xunhuan.registry import selectors as registry_selectors
from xunhuan.registry.models import Enterprise
from xunhuan.web.access import can_write, only, visible_enterprise, writable_enterprise
from xunhuan.web.forms import (
    CorrectionForm,
    HistoryFilterForm,
    LedgerEntryForm,
    add_domain_error,
    draft_from_form,
)

HISTORY_PAGE = 50


def _form_lists(enterprise: Enterprise) -> dict[str, list]:  # type: ignore[type-arg]
    return {
        "sites": list(registry_selectors.sites_list(enterprise=enterprise).order_by("code")),
        "streams": list(registry_selectors.streams_list(enterprise=enterprise).order_by("code")),
        "wastes": list(registry_selectors.waste_categories_list()),
    }


@login_required
@require_http_methods(["GET", "POST"])
def entry_new(request: HttpRequest, credit_code: str) -> HttpResponse:
    enterprise = writable_enterprise(request, credit_code)
    lists = _form_lists(enterprise)
    form = LedgerEntryForm(request.POST or None, **lists)
    if request.method == "POST" and form.is_valid():
        draft = draft_from_form(form, enterprise)
        if draft is not None:
            try:
                entry = ledger_entry_post(
                    enterprise=enterprise,
                    draft=draft,
                    recorded_by=request.user,  # type: ignore[arg-type]
                    idempotency_key=f"web:{form.cleaned_data['idempotency_key']}",
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("已记入台账：第%(seq)s号记录") % {"seq": entry.seq})
                return redirect("web:ledger", credit_code=enterprise.credit_code)
    return render(request, "web/entry_form.html", {"enterprise": enterprise, "form": form})


@login_required
@require_GET
def ledger_history(request: HttpRequest, credit_code: str) -> HttpResponse:
    enterprise = visible_enterprise(request, credit_code)
    filters = HistoryFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    rows = ledger_selectors.ledger_entries_list(
        enterprises=only(enterprise),
        enterprise=enterprise,
        kind=criteria.get("kind") or None,
        date_from=criteria.get("date_from"),
        date_to=criteria.get("date_to"),
    )
    page = Paginator(rows, HISTORY_PAGE).get_page(request.GET.get("page"))
    entries: list[LedgerEntry] = list(page.object_list)
    # Which of these were later reversed, and by which entry: one query for the page.
    reversed_by = dict(
        LedgerEntry.objects.filter(
            enterprise=enterprise, reverses_id__in=[e.pk for e in entries]
        ).values_list("reverses_id", "seq")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "enterprise": enterprise,
        "filters": filters,
        "page": page,
        "entries": [(e, reversed_by.get(e.pk)) for e in entries],
        "query": query.urlencode(),
        "writable": can_write(request, enterprise),
    }
    return render(request, "web/ledger.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def entry_correct(request: HttpRequest, credit_code: str, entry_id: uuid.UUID) -> HttpResponse:
    enterprise = writable_enterprise(request, credit_code)
    entry = ledger_selectors.ledger_entry_get(enterprises=only(enterprise), public_id=str(entry_id))
    lists = _form_lists(enterprise)
    initial = {
        "kind": entry.kind,
        "occurred_on": entry.occurred_on,
        "site": entry.site.code,
        "to_site": entry.to_site.code if entry.to_site else "",
        "waste_code": entry.waste_id,
        "stream": entry.stream.code if entry.stream else "",
        "quantity": entry.quantity,
        "counterparty": entry.counterparty.credit_code if entry.counterparty else "",
        "purpose": entry.purpose,
        "route": entry.route,
        "disposal_method": entry.disposal_method,
        "batch_code": entry.batch_code,
        "note": entry.note,
    }
    form = CorrectionForm(request.POST or None, initial=initial, **lists)
    if request.method == "POST" and form.is_valid():
        reverse_only = form.cleaned_data["reverse_only"]
        replacement = None if reverse_only else draft_from_form(form, enterprise)
        if reverse_only or replacement is not None:
            try:
                reversal, _new = ledger_entry_correct(
                    entry=entry,
                    reason=form.cleaned_data["reason"],
                    replacement=replacement,
                    recorded_by=request.user,  # type: ignore[arg-type]
                    idempotency_key=f"web:{form.cleaned_data['idempotency_key']}",
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    _("已更正第%(seq)s号记录（冲销记录第%(rev)s号）")
                    % {"seq": entry.seq, "rev": reversal.seq},
                )
                return redirect("web:ledger", credit_code=enterprise.credit_code)
    context = {"enterprise": enterprise, "entry": entry, "form": form}
    return render(request, "web/correct_form.html", context)


@login_required
@require_GET
def chain_badge(request: HttpRequest, credit_code: str) -> HttpResponse:
    """The chain-verification badge, loaded after the page (it reads the whole chain)."""
    enterprise = visible_enterprise(request, credit_code)
    problem = chain_verify(enterprise_id=enterprise.pk)
    return render(request, "web/partials/chain_badge.html", {"chain_break": problem})

"""目标管理 / Targets: a regulator's page for the targets of its jurisdiction.

The targets that apply to a region (its own and those above it) with their status
for a year, the current targets of the regions below it, and the retired and
superseded ones as history; an acting regulator seat adds targets and revises or
retires those of its jurisdiction (ADR 0016). Figures come from
``statistics.selectors``; every write goes through ``statistics.services``, which
decide who may.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from xunhuan.accounts.selectors import regions_regulated_by, regions_visible_to
from xunhuan.core.errors import DomainError
from xunhuan.core.errors import PermissionDenied as DomainPermissionDenied
from xunhuan.registry.models import Region, WasteGroup
from xunhuan.statistics.models import Target
from xunhuan.statistics.selectors import (
    stat_scope,
    target_paths_acted_for,
    targets_below_region,
    targets_evaluate,
    targets_retired_for_region,
)
from xunhuan.statistics.services import target_create, target_retire, target_revise
from xunhuan.web.forms import TargetForm, TargetRetireForm, TargetReviseForm, add_domain_error


def _region(request: HttpRequest) -> Region:
    """The region the page is about: one of the user's jurisdictions or below (404
    otherwise, so another region's targets are not probed); regulators only."""
    roots = list(regions_regulated_by(request.user).order_by("code"))
    if not roots:
        raise PermissionDenied("仅监管部门可查看 / regulators only")
    code = request.GET.get("region") or roots[0].code
    region = regions_visible_to(request.user).filter(code=code).first()
    if region is None:
        raise Http404("不在监管辖区内 / outside your jurisdiction")
    return region


def _year(request: HttpRequest) -> int | None:
    text = request.GET.get("year", "")
    return int(text) if text.isdigit() else None


def _initial(target: Target) -> dict[str, Any]:
    return {
        "year": target.year,
        "plan": target.plan,
        "issuer_doc_no": target.issuer_doc_no,
        "indicator": target.indicator,
        "scope": target.scope,
        "waste_groups": [g.code for g in target.waste_groups.all()],
        "metric": target.metric,
        "threshold_percent": target.threshold_percent,
        "threshold_tonnes": target.threshold_tonnes,
        "threshold_text": target.threshold_text,
        "source_url": target.source_url,
        "note": target.note,
    }


@login_required
@require_http_methods(["GET", "POST"])
def targets_page(request: HttpRequest) -> HttpResponse:
    region = _region(request)
    year = _year(request)
    groups = list(WasteGroup.objects.order_by("code"))
    # Where a target may be added from this page: the region and the level below it.
    choices = [(region.code, region.name)] + [
        (r.code, r.name) for r in Region.objects.filter(parent=region).order_by("code")
    ]
    acted = target_paths_acted_for(request.user)
    create_form = TargetForm(prefix="new", regions=choices, groups=groups)
    failed: tuple[str, forms.Form] | None = None  # a refused revise/retire, re-shown
    if request.method == "POST":
        action = request.POST.get("action", "")
        public_id = request.POST.get("target", "")
        form: forms.Form
        if action == "create":
            form = create_form = TargetForm(
                request.POST, prefix="new", regions=choices, groups=groups
            )
        elif action == "revise":
            form = TargetReviseForm(request.POST, prefix=f"revise-{public_id}", groups=groups)
        elif action == "retire":
            form = TargetRetireForm(request.POST, prefix=f"retire-{public_id}")
        else:
            raise Http404("未知操作 / unknown action")
        if form.is_valid():
            try:
                if isinstance(form, TargetReviseForm):
                    values = form.values()
                    target_revise(
                        user=request.user,
                        target_public_id=public_id,
                        reason=values.pop("reason"),
                        **values,
                    )
                    messages.success(request, _("已修订目标，原目标留存为历史记录"))
                elif isinstance(form, TargetForm):
                    target_create(user=request.user, **form.values())
                    messages.success(request, _("已新增目标"))
                else:
                    target_retire(
                        user=request.user,
                        target_public_id=public_id,
                        reason=form.cleaned_data["reason"],
                    )
                    messages.success(request, _("已停用目标，目标留存为历史记录"))
            except DomainError as exc:
                add_domain_error(form, exc)
                if isinstance(exc, DomainPermissionDenied):
                    # a reader seat is shown no form to carry the refusal
                    messages.error(request, exc.message)
            else:
                query = {k: v for k, v in (("region", region.code), ("year", year)) if v}
                return redirect(f"{request.path}?{urlencode(query)}")
        if action != "create":
            failed = (f"{action}-{public_id}", form)
    evaluations = targets_evaluate(scope=stat_scope(request.user), region=region, year=year)
    below = list(targets_below_region(region=region))
    history = list(targets_retired_for_region(region=region))
    codes = {e.target.region_code for e in evaluations} | {t.region_code for t in below}
    codes |= {t.region_code for t in history} | {region.code}
    regions = {r.code: r for r in Region.objects.filter(code__in=codes)}

    def name(target: Target) -> str:
        place = regions.get(target.region_code)
        return place.name if place is not None else target.region_code

    def manageable(target: Target) -> bool:
        place = regions.get(target.region_code)
        return place is not None and any(place.path.startswith(p) for p in acted)

    def forms_for(target: Target) -> dict[str, Any] | None:
        if not manageable(target):
            return None
        key = str(target.public_id)
        revise: forms.Form = TargetReviseForm(
            prefix=f"revise-{key}", groups=groups, initial=_initial(target)
        )
        retire: forms.Form = TargetRetireForm(prefix=f"retire-{key}")
        if failed is not None and failed[0] == f"revise-{key}":
            revise = failed[1]
        if failed is not None and failed[0] == f"retire-{key}":
            retire = failed[1]
        return {"revise": revise, "retire": retire, "open": failed is not None and key in failed[0]}

    context = {
        "region": region,
        "year": year,
        "rows": [(e, forms_for(e.target), name(e.target)) for e in evaluations],
        "below": [(t, forms_for(t), name(t)) for t in below],
        "history": [(t, name(t)) for t in history],
        "create_form": create_form if any(region.path.startswith(p) for p in acted) else None,
        "query": urlencode({k: v for k, v in (("region", region.code), ("year", year)) if v}),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "web/targets.html", context, status=status)

"""Excel in and out: template download, upload with a dry run, commit, progress, export;
and the annual ledger summary PDF."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xunhuan.core.errors import DomainError
from xunhuan.imports import selectors as import_selectors
from xunhuan.imports.exports import ledger_template_workbook, ledger_workbook_export
from xunhuan.imports.services import (
    JOB_CHECK,
    JOB_COMMIT,
    import_session_check_start,
    import_session_commit_start,
    import_session_create,
)
from xunhuan.jobs.selectors import job_latest
from xunhuan.ledger import selectors as ledger_selectors
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.web.access import only, visible_enterprise, writable_enterprise
from xunhuan.web.forms import PeriodForm, WorkbookUploadForm
from xunhuan.web.pdf_annual import annual_summary as annual_summary_gather
from xunhuan.web.pdf_annual import annual_summary_pdf

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def imports_page(request: HttpRequest, credit_code: str) -> HttpResponse:
    enterprise = writable_enterprise(request, credit_code)
    form = WorkbookUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            session = import_session_create(
                enterprise=enterprise,
                filename=upload.name,
                content=upload.read(),
                created_by=request.user,  # type: ignore[arg-type]
            )
            import_session_check_start(session=session, user=request.user)  # type: ignore[arg-type]
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect(
                "web:import_session",
                credit_code=enterprise.credit_code,
                session_id=session.public_id,
            )
    context = {
        "enterprise": enterprise,
        "form": form,
        "sessions": list(import_selectors.import_sessions_list(enterprise=enterprise)),
    }
    return render(request, "web/imports.html", context)


@login_required
@require_GET
def import_template(request: HttpRequest, credit_code: str) -> HttpResponse:
    enterprise = writable_enterprise(request, credit_code)
    content = ledger_template_workbook(enterprise=enterprise)
    return _xlsx(content, f"ledger-template-{enterprise.credit_code}.xlsx")


def _session_context(request: HttpRequest, credit_code: str, session_id: uuid.UUID) -> dict:  # type: ignore[type-arg]
    enterprise = writable_enterprise(request, credit_code)
    session = import_selectors.import_session_get(enterprise=enterprise, public_id=session_id)
    kind = JOB_COMMIT if session.status == "committing" else JOB_CHECK
    return {
        "enterprise": enterprise,
        "session": session,
        "job": job_latest(kind=kind, target_id=session.pk) if session.is_busy else None,
    }


@login_required
@require_GET
def import_session(request: HttpRequest, credit_code: str, session_id: uuid.UUID) -> HttpResponse:
    return render(
        request, "web/import_session.html", _session_context(request, credit_code, session_id)
    )


@login_required
@require_GET
def import_progress(request: HttpRequest, credit_code: str, session_id: uuid.UUID) -> HttpResponse:
    """The progress fragment htmx polls while a job works; once done it asks for a reload."""
    context = _session_context(request, credit_code, session_id)
    response = render(request, "web/partials/import_progress.html", context)
    job = context["job"]
    # Finished (the page shows the result) or failed (the fragment shows why): stop polling.
    if not context["session"].is_busy or (job is not None and job.status == "failed"):
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def import_commit(request: HttpRequest, credit_code: str, session_id: uuid.UUID) -> HttpResponse:
    context = _session_context(request, credit_code, session_id)
    session = context["session"]
    try:
        import_session_commit_start(session=session, user=request.user)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("web:import_session", credit_code=credit_code, session_id=session.public_id)


@login_required
@require_GET
def ledger_export(request: HttpRequest, credit_code: str) -> HttpResponse:
    enterprise = visible_enterprise(request, credit_code)
    today = today_in_shanghai()
    form = PeriodForm(
        request.GET or None, initial={"date_from": today.replace(month=1, day=1), "date_to": today}
    )
    if not form.is_valid():
        years = ledger_selectors.ledger_years(enterprise=enterprise)
        context = {"enterprise": enterprise, "form": form, "years": years}
        return render(request, "web/export.html", context)
    date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    entries = ledger_selectors.ledger_entries_list(
        enterprises=only(enterprise), enterprise=enterprise, date_from=date_from, date_to=date_to
    )
    content = ledger_workbook_export(
        enterprise=enterprise, entries=entries, date_from=date_from, date_to=date_to
    )
    name = f"ledger-{enterprise.credit_code}-{date_from:%Y%m%d}-{date_to:%Y%m%d}.xlsx"
    return _xlsx(content, name)


@login_required
@require_GET
def annual_summary(request: HttpRequest, credit_code: str) -> HttpResponse:
    """The annual ledger summary PDF for the chosen year (any year with entries)."""
    enterprise = visible_enterprise(request, credit_code)
    years = ledger_selectors.ledger_years(enterprise=enterprise)
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        year = 0
    if year not in years:
        raise Http404("该年度无台账记录 / no ledger entries in that year")
    content = annual_summary_pdf(annual_summary_gather(enterprise=enterprise, year=year))
    response = HttpResponse(content, content_type="application/pdf")
    name = f"ledger-summary-{enterprise.credit_code}-{year}.pdf"
    response["Content-Disposition"] = f"inline; filename*=UTF-8''{name}"
    return response

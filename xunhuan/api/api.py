"""JSON API (django-ninja) with OpenAPI docs at /api/docs.

Endpoints hold no logic: they resolve what the user may see or write through
``xunhuan.accounts.selectors`` and call services/selectors. Domain errors map to
HTTP in one handler. Every write accepts an ``Idempotency-Key`` header.
"""

# No ``from __future__ import annotations`` here: django-ninja resolves a paginated
# view's ``Query[Schema]`` annotation in its own module, so a string annotation
# there fails on every request (django-ninja issue #1424).
import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as RequestInvalid
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.params.functions import Header
from ninja.parser import Parser
from ninja.security import django_auth

from xunhuan.accounts.selectors import (
    enterprises_visible_to,
    enterprises_writable_by,
    regions_visible_to,
)
from xunhuan.api import schemas
from xunhuan.api.drafts import draft_from_input
from xunhuan.api.transfers import ApiTokenAuth
from xunhuan.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from xunhuan.ledger import selectors as ledger_selectors
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import LedgerEntry, StockBalance
from xunhuan.ledger.services import ledger_entries_post, ledger_entry_correct
from xunhuan.registry import selectors as registry_selectors
from xunhuan.registry.models import Enterprise, Region, Site, WasteCategory, WasteStream
from xunhuan.registry.services import enterprise_register, site_register, waste_stream_register


class JSONBodyParser(Parser):
    """The default JSON parser, refusing a body that is not JSON as a field error."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return super().parse_body(request)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise ValidationFailed(
                "请求体不是有效的JSON / request body is not valid JSON", field="body"
            ) from exc


api = NinjaAPI(
    title="循环 Xunhuan API",
    version="1",
    description="工业固废台账与利用平台 / industrial solid-waste ledger platform",
    # A session (browser, docs) or a personal API token (scripts, other systems).
    auth=[django_auth, ApiTokenAuth()],
    urls_namespace="api",
    parser=JSONBodyParser(),
)

IdempotencyHeader: Any = Header(None, alias="Idempotency-Key", max_length=128)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    body = schemas.ErrorOut(code=exc.code, message=exc.message, field=exc.field, row=exc.row)
    return api.create_response(request, body.model_dump(), status=exc.status)


# Sources ninja puts first in an error's location; a body error's next item is the
# parameter's name, which the client never sent.
_BODY_SOURCES = {"body", "form", "file"}


def _field_and_row(loc: list[Any]) -> tuple[str, int | None]:
    """``["body", "body", "entries", 2, "quantity"]`` -> ``("quantity", 3)``."""
    source, rest = (loc[0], loc[1:]) if loc else ("body", [])
    if source in _BODY_SOURCES:
        rest = rest[1:]
    row = None
    if len(rest) >= 2 and rest[0] == "entries" and isinstance(rest[1], int):
        row, rest = rest[1] + 1, rest[2:]
    return ".".join(str(part) for part in rest) or str(source), row


@api.exception_handler(RequestInvalid)
def request_invalid(request: HttpRequest, exc: RequestInvalid) -> HttpResponse:
    """Shape errors (missing fields, wrong types) in the same body as domain errors,
    naming the first field at fault and listing every problem in the message."""
    located = [(*_field_and_row(list(e.get("loc", []))), e.get("msg", "")) for e in exc.errors]
    field, row = (located[0][0], located[0][1]) if located else ("body", None)
    message = "请求内容不符合格式 / invalid request: " + "; ".join(
        (f"第{r}条 / row {r} " if r is not None else "") + f"{f}: {m}" for f, r, m in located
    )
    body = schemas.ErrorOut(code=ValidationFailed.code, message=message, field=field, row=row)
    return api.create_response(request, body.model_dump(), status=ValidationFailed.status)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja wraps parser failures in HttpError(400); answer those as the domain error.
    if isinstance(exc.__cause__, DomainError):
        return domain_error(request, exc.__cause__)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


def _user(request: HttpRequest) -> Any:
    return request.user


def _visible(request: HttpRequest, credit_code: str) -> Enterprise:
    enterprise = enterprises_visible_to(_user(request)).filter(credit_code=credit_code).first()
    if enterprise is None:
        # Same answer whether it does not exist or is someone else's: no probing.
        raise NotFound("单位不存在或无权查看 / enterprise not found", field="credit_code")
    return enterprise


def _writable(request: HttpRequest, credit_code: str) -> Enterprise:
    enterprise = _visible(request, credit_code)
    if not enterprises_writable_by(_user(request)).filter(pk=enterprise.pk).exists():
        raise PermissionDenied("无权填报该单位台账 / no write access to this enterprise")
    return enterprise


registry = Router(tags=["登记 registry"])


@registry.get("/regions", response=list[schemas.RegionOut])
def regions_list(request: HttpRequest, parent: str | None = None) -> QuerySet[Region]:
    """行政区划 (GB/T 2260): children of ``parent``, or the national root and provinces."""
    return registry_selectors.regions_children(parent_code=parent)


@registry.get("/waste-categories", response=list[schemas.WasteCategoryOut])
def waste_categories_list(request: HttpRequest) -> QuerySet[WasteCategory]:
    return registry_selectors.waste_categories_list()


@registry.get("/enterprises", response=list[schemas.EnterpriseOut])
@paginate(LimitOffsetPagination)
def enterprises_list(
    request: HttpRequest, region: str | None = None, q: str | None = None
) -> QuerySet[Enterprise]:
    """Enterprises the user may see: its own, or those in its jurisdiction."""
    return registry_selectors.enterprises_list(
        enterprises=enterprises_visible_to(_user(request)), region_code=region, search=q
    )


@registry.post("/enterprises", response={201: schemas.EnterpriseOut})
def enterprises_create(request: HttpRequest, body: schemas.EnterpriseIn) -> Status[Enterprise]:
    """Register an enterprise (regulators, within their jurisdiction)."""
    if not regions_visible_to(_user(request)).filter(code=body.region).exists():
        raise PermissionDenied(
            "只有辖区监管部门可登记企业 / only the region's regulator may register"
        )
    park = registry_selectors.park_by_name(body.park) if body.park else None
    if body.park and park is None:
        # A name that matches no park must not register the enterprise outside any park.
        raise ValidationFailed(f"未登记的园区：{body.park} / unknown park", field="park")
    enterprise = enterprise_register(
        credit_code=body.credit_code,
        name=body.name,
        industry_code=body.industry,
        region_code=body.region,
        roles=body.roles,
        park=park,
        latitude=body.latitude,
        longitude=body.longitude,
        address=body.address,
        actor=_user(request),
    )
    return Status(201, enterprise)


@registry.get("/enterprises/{credit_code}", response=schemas.EnterpriseOut)
def enterprises_get(request: HttpRequest, credit_code: str) -> Enterprise:
    return _visible(request, credit_code)


@registry.get("/enterprises/{credit_code}/sites", response=list[schemas.SiteOut])
def sites_list(request: HttpRequest, credit_code: str) -> QuerySet[Site]:
    return registry_selectors.sites_list(enterprise=_visible(request, credit_code))


@registry.post("/enterprises/{credit_code}/sites", response={201: schemas.SiteOut})
def sites_create(request: HttpRequest, credit_code: str, body: schemas.SiteIn) -> Status[Site]:
    enterprise = _writable(request, credit_code)
    site = site_register(enterprise=enterprise, actor=_user(request), **body.model_dump())
    return Status(201, site)


@registry.get("/enterprises/{credit_code}/streams", response=list[schemas.StreamOut])
def streams_list(request: HttpRequest, credit_code: str) -> QuerySet[WasteStream]:
    return registry_selectors.streams_list(enterprise=_visible(request, credit_code))


@registry.post("/enterprises/{credit_code}/streams", response={201: schemas.StreamOut})
def streams_create(
    request: HttpRequest, credit_code: str, body: schemas.StreamIn
) -> Status[WasteStream]:
    enterprise = _writable(request, credit_code)
    source_site = (
        registry_selectors.site_by_code(enterprise=enterprise, code=body.source_site)
        if body.source_site
        else None
    )
    if body.source_site and source_site is None:
        raise ValidationFailed(
            f"本单位无此设施编码：{body.source_site} / unknown site", field="source_site"
        )
    stream = waste_stream_register(
        enterprise=enterprise,
        code=body.code,
        name=body.name,
        waste_code=body.waste_code,
        process=body.process,
        source_site=source_site,
        actor=_user(request),
    )
    return Status(201, stream)


ledger = Router(tags=["台账 ledger"])


class EntryFilters(Schema):
    enterprise: str | None = None
    site: str | None = None
    waste_code: str | None = None
    kind: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@ledger.get("/entries", response=list[schemas.EntryOut])
@paginate(LimitOffsetPagination)
def entries_list(request: HttpRequest, filters: Query[EntryFilters]) -> QuerySet[LedgerEntry]:
    """Ledger entries the user may see, newest first."""
    visible = enterprises_visible_to(_user(request))
    enterprise = _visible(request, filters.enterprise) if filters.enterprise else None
    return ledger_selectors.ledger_entries_list(
        enterprises=visible,
        enterprise=enterprise,
        site_code=filters.site,
        waste_code=filters.waste_code,
        kind=filters.kind,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )


@ledger.get("/entries/{entry_id}", response=schemas.EntryOut)
def entries_get(request: HttpRequest, entry_id: str) -> LedgerEntry:
    return ledger_selectors.ledger_entry_get(
        enterprises=enterprises_visible_to(_user(request)), public_id=entry_id
    )


@ledger.post("/enterprises/{credit_code}/entries", response={201: list[schemas.EntryOut]})
def entries_create(
    request: HttpRequest,
    credit_code: str,
    body: schemas.EntriesIn,
    idempotency_key: str | None = IdempotencyHeader,
) -> Status[list[LedgerEntry]]:
    """Post entries (applied in order, all or nothing). Retrying with the same
    ``Idempotency-Key`` returns the first result and records nothing new."""
    enterprise = _writable(request, credit_code)
    drafts = [draft_from_input(enterprise, item, index) for index, item in enumerate(body.entries)]
    entries = ledger_entries_post(
        enterprise=enterprise,
        drafts=drafts,
        recorded_by=_user(request),
        idempotency_key=idempotency_key,
    )
    return Status(201, ledger_selectors.ledger_entries_reload(entries))


@ledger.post("/entries/{entry_id}/corrections", response={201: schemas.CorrectionOut})
def entries_correct(
    request: HttpRequest,
    entry_id: str,
    body: schemas.CorrectionIn,
    idempotency_key: str | None = IdempotencyHeader,
) -> Status[dict[str, LedgerEntry | None]]:
    """Correct an entry: a reversing entry plus an optional replacement, with a reason."""
    entry = ledger_selectors.ledger_entry_get(
        enterprises=enterprises_visible_to(_user(request)), public_id=entry_id
    )
    enterprise = _writable(request, entry.enterprise.credit_code)
    replacement = draft_from_input(enterprise, body.replacement, 0) if body.replacement else None
    reversal, new_entry = ledger_entry_correct(
        entry=entry,
        reason=body.reason,
        replacement=replacement,
        recorded_by=_user(request),
        idempotency_key=idempotency_key,
    )
    reloaded = ledger_selectors.ledger_entries_reload(
        [reversal, *([new_entry] if new_entry else [])]
    )
    return Status(201, {"reversal": reloaded[0], "replacement": reloaded[1] if new_entry else None})


@ledger.get("/enterprises/{credit_code}/stock", response=list[schemas.StockOut])
def stock_list(request: HttpRequest, credit_code: str) -> QuerySet[StockBalance]:
    """Stock on hand per site and waste code."""
    enterprise = _visible(request, credit_code)
    return ledger_selectors.stock_list(enterprises=Enterprise.objects.filter(pk=enterprise.pk))


@ledger.get("/enterprises/{credit_code}/chain", response=schemas.ChainOut)
def chain_status(request: HttpRequest, credit_code: str) -> schemas.ChainOut:
    """Verify the enterprise's hash chain now (the chain badge)."""
    enterprise = _visible(request, credit_code)
    broken = chain_verify(enterprise_id=enterprise.pk)
    return schemas.ChainOut(
        enterprise=enterprise.credit_code,
        entries=LedgerEntry.objects.filter(enterprise=enterprise).count(),
        intact=broken is None,
        first_broken_seq=broken.seq if broken else None,
        problem=broken.problem if broken else None,
    )


api.add_router("/", registry)
api.add_router("/ledger", ledger)
api.add_router("/statistics", "xunhuan.api.statistics.router")
api.add_router("/transfers", "xunhuan.api.transfers.router")
api.add_router("/compliance", "xunhuan.api.compliance.router")
api.add_router("/exchange", "xunhuan.api.exchange.router")
api.add_router("/tokens", "xunhuan.api.tokens.router")
api.add_router("/public", "xunhuan.api.public.router")

"""Transfer documents over the JSON API: the full lifecycle, the access matrix of every
``/api/transfers`` operation x every persona, API tokens and the login limiter.

Policy (from ``transfers_visible_to`` and the services):

* everything needs a login (401);
* a document exists only for the members of its parties (generator, carriers,
  receiver) and the regulators whose subtree holds one of them; to anyone else it is
  a 404, the same answer as for a number never issued;
* each step is signed by one party with a writer seat (admin/member), collection also
  by a driver; any other user who can see the document gets 403;
* regulators read (documents, overdue list, audit trail) and never sign.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from pytest_django import DjangoAssertNumQueries, Settings

from tests.conftest import World
from tests.test_transfers_support import Party, new_transfer, party, stock
from xunhuan.accounts.services import api_token_create, api_token_revoke
from xunhuan.api.api import api
from xunhuan.audit.models import AuditEvent
from xunhuan.ledger.models import LedgerEntry, StockBalance
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.transfers.models import Transfer, TransferRevision, TransferSignature
from xunhuan.transfers.revisions import (
    RevisionChanges,
    transfer_revision_request,
)
from xunhuan.transfers.services import (
    ReceiptLine,
    transfer_collect,
    transfer_issue,
    transfer_receive,
)

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

T = Decimal
PERSONAS = (
    "owner",
    "colleague",
    "reader",
    "driver",
    "outsider",
    "carrier",
    "receiver",
    "league_regulator",
    "other_league_regulator",
    "province_regulator",
    "anonymous",
)
# Who sees documents between the plant, the road carrier and the receiver (all in 准格尔旗).
SEES = frozenset(PERSONAS) - {"outsider", "other_league_regulator", "anonymous"}
PLANT_WRITERS = frozenset({"owner", "colleague"})
DOC_NOT_FOUND = {
    "code": "not_found",
    "message": "联单不存在或无权查看 / transfer document not found",
    "field": "number",
    "row": None,
}


@dataclass
class Docs:
    p: Party
    draft: Transfer  # not yet issued
    issued: Transfer  # issued 10 days ago: overdue for receipt
    in_transit: Transfer  # collected, awaiting receipt
    weighed_off: Transfer  # received 5 % light: an open discrepancy
    received: Transfer  # received in full, awaiting completion
    revising: Transfer  # in transit with a revision the plant asked for

    def client(self, persona: str) -> Client:
        client = Client()
        if persona != "anonymous":
            client.force_login(self.p.users[persona])
        return client


def _receive(p: Party, transfer: Transfer, weighed: str) -> None:
    transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=p.world.receiver_site,
        lines=[ReceiptLine(1, T(weighed), T(weighed))],
    )


@pytest.fixture
def docs(world: World) -> Docs:
    p = party(world)
    owner, driver = p.users["owner"], p.users["driver"]
    today = today_in_shanghai()
    draft = new_transfer(p, declared=("10.000",))
    issued = new_transfer(p, declared=("11.000",))
    transfer_issue(transfer=issued, user=owner, today=today - dt.timedelta(days=10))
    made = []
    for declared in ("12.000", "100.000", "14.000", "15.000"):
        transfer = new_transfer(p, declared=(declared,))
        transfer_issue(transfer=transfer, user=owner)
        transfer_collect(transfer=transfer, user=driver)
        made.append(transfer)
    in_transit, weighed_off, received, revising = made
    _receive(p, weighed_off, "95.000")
    _receive(p, received, "14.000")
    transfer_revision_request(
        transfer=revising,
        user=owner,
        reason="拟利用方式变更",
        changes=RevisionChanges(planned_route="concrete"),
    )
    return Docs(p, draft, issued, in_transit, weighed_off, received, revising)


def snapshot() -> dict[str, Any]:
    """What a denied call must leave as it was."""
    return {
        "transfers": sorted(Transfer.objects.values_list("number", "status", "planned_route")),
        "signatures": TransferSignature.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "audit": AuditEvent.objects.count(),
        "revisions": sorted(TransferRevision.objects.values_list("pk", "status")),
        "stock": sorted(StockBalance.objects.values_list("site_id", "waste_id", "quantity")),
    }


# --- the routes ----------------------------------------------------------------------

Call = Callable[[Client, Docs], "TestResponse"]


@dataclass(frozen=True)
class Route:
    call: Call
    status: Callable[[str], int]
    check: Callable[[Any, Docs, str], None]


def reading(persona: str) -> int:
    """A document's reads: its parties and the regulators above them."""
    if persona == "anonymous":
        return 401
    return 200 if persona in SEES else 404


def listing(persona: str) -> int:
    return 401 if persona == "anonymous" else 200


def signer(
    *allowed: str, ok: int = 200, already: frozenset[str] = frozenset()
) -> Callable[[str], int]:
    def status(persona: str) -> int:
        if persona == "anonymous":
            return 401
        if persona not in SEES:
            return 404
        if persona in already:
            return 409
        return ok if persona in allowed else 403

    return status


def creating(persona: str) -> int:
    """Drafting for the plant: its writers; its other readers 403; nobody else sees it."""
    if persona == "anonymous":
        return 401
    if persona in PLANT_WRITERS:
        return 201
    plant_readers = {"reader", "league_regulator", "province_regulator"}
    return 403 if persona in plant_readers else 404


def _get(path: str, doc: str | None = None) -> Call:
    def call(client: Client, d: Docs) -> TestResponse:
        number = getattr(d, doc).number if doc else ""
        return client.get(path.format(number=number))

    return call


def _post(path: str, doc: str | None, body: Callable[[Docs], dict[str, Any]]) -> Call:
    def call(client: Client, d: Docs) -> TestResponse:
        number = getattr(d, doc).number if doc else ""
        return client.post(path.format(number=number), body(d), content_type="application/json")

    return call


def visible_numbers(persona: str, d: Docs) -> list[str]:
    if persona not in SEES:
        return []
    return [
        t.number for t in (d.revising, d.received, d.weighed_off, d.in_transit, d.issued, d.draft)
    ]


def check_list(data: Any, d: Docs, persona: str) -> None:
    assert [t["number"] for t in data["items"]] == visible_numbers(persona, d)


def check_overdue(data: Any, d: Docs, persona: str) -> None:
    expected = [d.issued.number] if persona in SEES else []
    assert [t["number"] for t in data["items"]] == expected


def check_audit(data: Any, d: Docs, persona: str) -> None:
    seats = {
        "owner": "plant",
        "colleague": "plant",
        "reader": "plant",
        "driver": "carrier",
        "carrier": "carrier",
        "receiver": "receiver",
    }
    events = AuditEvent.objects.order_by("-at", "-id")
    if persona in seats:
        events = events.filter(enterprise=getattr(d.p.world, seats[persona]))
    elif persona not in SEES:
        events = events.none()
    else:
        # Regulators: every enterprise here is in their subtree. These fixtures write
        # no region's event (a target, a rule setting: tests/test_audit_regions.py),
        # and events of neither (loading the divisions, a user's own token) are
        # nobody's trail.
        assert not events.filter(enterprise__isnull=True, region__isnull=False).exists()
        events = events.filter(enterprise__isnull=False)
    assert [(e["action"], e["object_id"]) for e in data["items"]] == [
        (e.action, e.object_id) for e in events
    ]
    assert data["count"] == (0 if persona not in SEES else len(events))


def check_detail(data: Any, d: Docs, persona: str) -> None:
    assert data["number"] == d.weighed_off.number
    assert data["status"] == "received"
    assert data["lines"] == [
        {
            "seq": 1,
            "waste_code": "SW02",
            "source_site": "BOILER1",
            "declared": "100.000",
            "weighed": "95.000",
            "accepted": "95.000",
            "refused": "0.000",
            "final_route": "",
            "final_disposal_method": "",
            "discrepancy": {
                "declared": "100.000",
                "weighed": "95.000",
                "tolerance_percent": "2.00",
                "settled": False,
            },
        }
    ]
    assert [s["step_key"] for s in data["signatures"]] == ["issue", "collect:1", "receive"]


def check_pdf(response: Any, d: Docs, persona: str) -> None:
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    # Chinese text is set in the built-in CID font; the QR code is an embedded image.
    assert b"/BaseFont /STSong-Light" in response.content
    assert b"/Subtype /Image" in response.content


def check_created(data: Any, d: Docs, persona: str) -> None:
    created = Transfer.objects.get(number=data["number"])
    assert (created.status, created.created_by, created.generator) == (
        "draft",
        d.p.users[persona],
        d.p.world.plant,
    )
    assert data["lines"][0]["declared"] == "5.500"


def status_is(expected: str) -> Callable[[Any, Docs, str], None]:
    def check(data: Any, d: Docs, persona: str) -> None:
        assert data["status"] == expected
        assert Transfer.objects.get(number=data["number"]).status == expected

    return check


def check_settled(data: Any, d: Docs, persona: str) -> None:
    assert data["lines"][0]["discrepancy"]["settled"] is False  # one party of two
    assert data["signatures"][-1]["step_key"].startswith("settle:")


def check_revision(data: Any, d: Docs, persona: str) -> None:
    assert data == {"seq": 1, "status": "pending"}


def check_approved(data: Any, d: Docs, persona: str) -> None:
    assert data == {"seq": 1, "status": "pending"}  # the other party has yet to approve


def check_closed(status: str, reason: str) -> Callable[[Any, Docs, str], None]:
    def check(data: Any, d: Docs, persona: str) -> None:
        assert data == {"seq": 1, "status": status}
        revision = TransferRevision.objects.get(transfer=d.revising, seq=1)
        assert (revision.status, revision.close_reason, revision.closed_by) == (
            status,
            reason,
            d.p.users[persona],
        )
        # The document keeps what it had: the pending change never reached it.
        assert Transfer.objects.get(pk=d.revising.pk).planned_route == "cement"

    return check


NEW_DOC: dict[str, Any] = {
    "receiver": "",
    "purpose": "utilization",
    "planned_route": "cement",
    "legs": [{"carrier": "", "mode": "road", "vehicle": "蒙K00001"}],
    "lines": [{"waste_code": "SW02", "source_site": "BOILER1", "declared": "5.500"}],
}


def new_doc(d: Docs) -> dict[str, Any]:
    w = d.p.world
    body = dict(NEW_DOC, generator=w.plant.credit_code, receiver=w.receiver.credit_code)
    body["legs"] = [dict(NEW_DOC["legs"][0], carrier=w.carrier.credit_code)]
    return body


DOC = "/api/transfers/{number}"
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/transfers"): Route(_get("/api/transfers"), listing, check_list),
    ("POST", "/api/transfers"): Route(
        _post("/api/transfers", None, new_doc), creating, check_created
    ),
    ("GET", "/api/transfers/overdue"): Route(
        _get("/api/transfers/overdue"), listing, check_overdue
    ),
    ("GET", "/api/transfers/audit"): Route(_get("/api/transfers/audit"), listing, check_audit),
    ("GET", "/api/transfers/{number}"): Route(_get(DOC, "weighed_off"), reading, check_detail),
    ("GET", "/api/transfers/{number}/pdf"): Route(
        _get(DOC + "/pdf", "weighed_off"), reading, check_pdf
    ),
    ("POST", "/api/transfers/{number}/issue"): Route(
        _post(DOC + "/issue", "draft", lambda d: {}),
        signer("owner", "colleague"),
        status_is("issued"),
    ),
    ("POST", "/api/transfers/{number}/collect"): Route(
        _post(DOC + "/collect", "issued", lambda d: {"vehicle": "蒙K54321"}),
        signer("driver", "carrier"),
        status_is("in_transit"),
    ),
    ("POST", "/api/transfers/{number}/receive"): Route(
        _post(
            DOC + "/receive",
            "in_transit",
            lambda d: {
                "site": "KILN1",
                "lines": [{"seq": 1, "weighed": "12.000", "accepted": "12.000"}],
            },
        ),
        signer("receiver"),
        status_is("received"),
    ),
    ("POST", "/api/transfers/{number}/complete"): Route(
        _post(DOC + "/complete", "received", lambda d: {"lines": []}),
        signer("receiver"),
        status_is("completed"),
    ),
    ("POST", "/api/transfers/{number}/cancel"): Route(
        _post(DOC + "/cancel", "issued", lambda d: {"reason": "车辆故障"}),
        signer("owner", "colleague"),
        status_is("cancelled"),
    ),
    ("POST", "/api/transfers/{number}/settle"): Route(
        _post(DOC + "/settle", "weighed_off", lambda d: {"note": "装车未扣皮重"}),
        signer("owner", "colleague", "receiver"),
        check_settled,
    ),
    ("POST", "/api/transfers/{number}/revisions"): Route(
        _post(DOC + "/revisions", "in_transit", lambda d: {"reason": "改", "note": "新备注"}),
        signer("owner", "colleague", "carrier", "receiver", ok=201),
        check_revision,
    ),
    ("POST", "/api/transfers/{number}/revisions/{seq}/approve"): Route(
        _post(DOC + "/revisions/1/approve", "revising", lambda d: {}),
        signer("carrier", "receiver", already=PLANT_WRITERS),
        check_approved,
    ),
    ("POST", "/api/transfers/{number}/revisions/{seq}/withdraw"): Route(
        _post(DOC + "/revisions/1/withdraw", "revising", lambda d: {}),
        signer("owner", "colleague"),
        check_closed("withdrawn", ""),
    ),
    ("POST", "/api/transfers/{number}/revisions/{seq}/reject"): Route(
        _post(DOC + "/revisions/1/reject", "revising", lambda d: {"reason": "不同意"}),
        # The requesting plant withdraws rather than rejects its own request (409).
        signer("carrier", "receiver", already=PLANT_WRITERS),
        check_closed("rejected", "不同意"),
    ),
}


def test_matrix_has_a_row_for_every_transfer_operation() -> None:
    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if path.startswith("/api/transfers")
    }
    assert operations == set(ROUTES)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", list(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_access_matrix(docs: Docs, route: tuple[str, str], persona: str) -> None:
    spec = ROUTES[route]
    before = snapshot()
    response = spec.call(docs.client(persona), docs)
    expected = spec.status(persona)
    assert response.status_code == expected, response.content
    if expected in (200, 201):
        if route[1].endswith("/pdf"):
            spec.check(response, docs, persona)
        else:
            spec.check(response.json(), docs, persona)
        return
    if expected == 404 and "{number}" in route[1]:
        assert response.json() == DOC_NOT_FOUND
    assert snapshot() == before


def test_full_lifecycle_through_the_api(docs: Docs) -> None:
    w, d = docs.p.world, docs
    owner, driver, receiver = d.client("owner"), d.client("driver"), d.client("receiver")
    created = owner.post("/api/transfers", new_doc(d), content_type="application/json")
    assert created.status_code == 201
    number = created.json()["number"]
    base = f"/api/transfers/{number}"

    def post(client: Client, path: str, body: dict[str, Any]) -> Any:
        response = client.post(base + path, body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()

    assert post(owner, "/issue", {})["status"] == "issued"
    again = owner.post(base + "/issue", {}, content_type="application/json")
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    assert post(driver, "/collect", {"vehicle": "蒙K77777"})["legs"][0]["vehicle"] == "蒙K77777"
    received = post(
        receiver,
        "/receive",
        {
            "site": "KILN1",
            "lines": [{"seq": 1, "weighed": "5.500", "accepted": "5.000"}],
            "refusal_reason": "部分结块",
        },
    )
    assert (received["decision"], received["lines"][0]["refused"]) == ("partly_accepted", "0.500")
    done = post(receiver, "/complete", {"lines": [{"seq": 1, "route": "concrete"}]})
    assert (done["status"], done["lines"][0]["final_route"]) == ("completed", "concrete")
    entries = LedgerEntry.objects.filter(batch_code=number).order_by("enterprise_id", "seq")
    assert [(e.kind, str(e.quantity)) for e in entries] == [
        ("handed_over", "5.500"),
        ("received", "0.500"),
        ("received", "5.000"),
        ("self_utilized", "5.000"),
    ]
    pdf = d.client("league_regulator").get(base + "/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    trail = d.client("province_regulator").get(f"/api/transfers/audit?object_id={number}")
    assert [e["action"] for e in trail.json()["items"]] == [
        "transfer.complete",
        "transfer.receive",
        "transfer.collect",
        "transfer.issue",
        "transfer.create",
    ]
    assert stock(w.plant_site) == T("1000.000") - T("11.000") - T("12.000") - T("95.000") - T(
        "14.000"
    ) - T("15.000") - T("5.000")


def test_list_query_count_is_flat(
    docs: Docs, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = docs.client("province_regulator")
    client.get("/api/transfers")  # warm the session
    # session, user, the regulator's region paths, count, page, then one query each for
    # legs, lines, signatures and revisions whatever the number of documents
    with django_assert_num_queries(9):
        response = client.get("/api/transfers?limit=100")
    assert len(response.json()["items"]) == 6


def test_api_token_authenticates_until_revoked(docs: Docs) -> None:
    user = docs.p.users["league_regulator"]
    token, raw = api_token_create(user=user, name="数据对接")
    assert token.key_hash != raw
    assert raw not in str(list(type(token).objects.values_list()))
    client = Client()
    headers = {"Authorization": f"Bearer {raw}"}
    listed = client.get("/api/transfers", headers=headers)
    assert (listed.status_code, listed.json()["count"]) == (200, 6)
    wrong = client.get("/api/transfers", headers={"Authorization": f"Bearer {raw}x"})
    assert wrong.status_code == 401
    api_token_revoke(user=user, public_id=token.public_id)
    assert client.get("/api/transfers", headers=headers).status_code == 401
    assert AuditEvent.objects.filter(action__startswith="api_token.").count() == 2


def test_login_is_refused_after_five_failures(docs: Docs, settings: Settings) -> None:
    user = docs.p.users["owner"]
    user.set_password("correct-horse-battery")
    user.save()
    client = Client()
    assert client.login(username="owner", password="correct-horse-battery")
    client.logout()
    for _ in range(5):
        assert not client.login(username="owner", password="wrong-password")
    assert not client.login(username="owner", password="correct-horse-battery")
    assert not client.login(username="OWNER ", password="wrong-password")
    settings.XUNHUAN_LOGIN_LOCKOUT_MINUTES = 0
    assert client.login(username="owner", password="correct-horse-battery")


def test_create_retried_with_the_same_idempotency_key_drafts_once(docs: Docs) -> None:
    client = docs.client("colleague")
    headers = {"Idempotency-Key": "erp-4711"}
    first = client.post(
        "/api/transfers", new_doc(docs), content_type="application/json", headers=headers
    )
    again = client.post(
        "/api/transfers", new_doc(docs), content_type="application/json", headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["number"] == again.json()["number"]
    before = snapshot()
    other = dict(new_doc(docs), note="另一份")
    clash = client.post("/api/transfers", other, content_type="application/json", headers=headers)
    assert (clash.status_code, clash.json()["field"]) == (409, "Idempotency-Key")
    assert snapshot() == before
    assert Transfer.objects.filter(idempotency_key="erp-4711").count() == 1


def test_a_closed_revision_answers_every_later_click_with_why(docs: Docs) -> None:
    base = f"/api/transfers/{docs.revising.number}/revisions/1"
    receiver, owner = docs.client("receiver"), docs.client("owner")
    rejected = receiver.post(
        base + "/reject", {"reason": "不同意"}, content_type="application/json"
    )
    assert (rejected.status_code, rejected.json()) == (200, {"seq": 1, "status": "rejected"})
    before = snapshot()
    for client, path, body in (
        (receiver, "/reject", {"reason": "再次驳回"}),
        (owner, "/withdraw", {}),
        (docs.client("carrier"), "/approve", {}),
    ):
        again = client.post(base + path, body, content_type="application/json")
        step = {"/reject": "revision_reject", "/withdraw": "revision_withdraw"}.get(
            path, "revision_approve"
        )
        assert again.status_code == 409
        assert again.json()["message"].endswith(f"revision 1 is rejected: cannot {step}")
    assert snapshot() == before
    detail = owner.get(f"/api/transfers/{docs.revising.number}").json()
    assert [(r["seq"], r["status"], r["close_reason"]) for r in detail["revisions"]] == [
        (1, "rejected", "不同意")
    ]
    assert detail["signatures"][-1]["step_key"] == "revision:1:reject"

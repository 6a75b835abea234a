"""Access matrix of the JSON API: every route (taken from the API itself) x every persona.

Each cell asserts the exact status and body (for lists: exactly which records) and
that nothing was written unless the write was allowed, in which case exactly the
expected rows were. The policy, read from ``xunhuan.accounts.selectors`` and the
domain:

* everything needs a login (401 otherwise); regions and the waste catalogue are
  reference data every user may read;
* an enterprise's records are readable by its members (any role) and by the
  regulators whose region subtree contains it; to anybody else the enterprise does
  not exist (404, the same answer as for a credit code never registered);
* only admin and member seats write an enterprise's registry and ledger; a reader,
  a driver or a regulator who can see it gets 403;
* only a regulator registers enterprises, and only inside its own subtree.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

import pytest
from django.test import Client

from tests.access_support import (
    ENTERPRISES,
    PERSONAS,
    PLANT_READERS,
    PLANT_WRITERS,
    VISIBLE,
    Seeded,
    counts_changed,
    entries_visible_to,
    new_credit_code,
    seed,
    snapshot,
    stock_of,
)
from tests.conftest import World
from tests.factories import make_site
from xunhuan.api.api import api
from xunhuan.ledger.models import LedgerEntry
from xunhuan.registry.models import Enterprise, Region, Site, WasteCategory, WasteStream

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

UNAUTHORIZED = {"detail": "Unauthorized"}
ENTERPRISE_NOT_FOUND = {
    "code": "not_found",
    "message": "单位不存在或无权查看 / enterprise not found",
    "field": "credit_code",
    "row": None,
}
ENTRY_NOT_FOUND = {
    "code": "not_found",
    "message": "台账记录不存在 / ledger entry not found",
    "field": "entry",
    "row": None,
}
NO_WRITE_ACCESS = {
    "code": "forbidden",
    "message": "无权填报该单位台账 / no write access to this enterprise",
    "field": None,
    "row": None,
}
NOT_THE_REGULATOR = {
    "code": "forbidden",
    "message": "只有辖区监管部门可登记企业 / only the region's regulator may register",
    "field": None,
    "row": None,
}
REGISTERING_REGULATORS = frozenset({"league_regulator", "province_regulator"})
# Path prefixes whose operations are covered by their own access matrix.
# (/api/exchange: tests/test_exchange_api.py; /api/compliance: tests/test_compliance_api.py;
# /api/statistics: tests/test_statistics_api.py; /api/tokens: tests/test_api_tokens.py;
# /api/public: tests/test_public_aggregates.py)
OWN_MATRICES = (
    "/api/transfers",
    "/api/exchange",
    "/api/compliance",
    "/api/statistics",
    "/api/tokens",
    "/api/public",
)


@pytest.fixture
def seeded(world: World) -> Seeded:
    return seed(world)


# --- the routes ------------------------------------------------------------------------

Call: TypeAlias = "Callable[[Client, Seeded], TestResponse]"
Check: TypeAlias = Callable[[Any, Seeded, str], None]


@dataclass(frozen=True)
class Route:
    call: Call
    status: Callable[[str], int]
    check: Check
    not_found: dict[str, Any] = field(default_factory=lambda: ENTERPRISE_NOT_FOUND)
    forbidden: dict[str, Any] = field(default_factory=lambda: NO_WRITE_ACCESS)
    # Row-count changes an allowed call makes (reads: none).
    creates: dict[str, int] = field(default_factory=dict)


def any_user(persona: str) -> int:
    """Reference data, and lists already cut down to what the user may see."""
    return 401 if persona == "anonymous" else 200


def plant_read(persona: str) -> int:
    if persona == "anonymous":
        return 401
    return 200 if persona in PLANT_READERS else 404


def plant_write(persona: str) -> int:
    if persona == "anonymous":
        return 401
    if persona in PLANT_WRITERS:
        return 201
    return 403 if persona in PLANT_READERS else 404


def register_in_plant_county(persona: str) -> int:
    if persona == "anonymous":
        return 401
    return 201 if persona in REGISTERING_REGULATORS else 403


def _get(path: str) -> Call:
    def call(client: Client, s: Seeded) -> TestResponse:
        return client.get(path.format(plant=s.code("plant"), p2=s.entry_id("p2")))

    return call


def _post(path: str, make_body: Callable[[Seeded], dict[str, Any]], key: str | None = None) -> Call:
    def call(client: Client, s: Seeded) -> TestResponse:
        headers = {"Idempotency-Key": key} if key else {}
        return client.post(
            path.format(plant=s.code("plant"), p3=s.entry_id("p3")),
            make_body(s),
            content_type="application/json",
            headers=headers,
        )

    return call


def check_regions(data: Any, s: Seeded, persona: str) -> None:
    expected = list(
        Region.objects.filter(level__in=["national", "province"])
        .order_by("code")
        .values_list("code", flat=True)
    )
    assert [r["code"] for r in data] == expected
    assert len(expected) == 35  # the national root and 34 provincial divisions
    assert {
        "code": "150000",
        "name": "内蒙古自治区",
        "level": "province",
        "parent_code": "100000",
    } in data


def check_waste_categories(data: Any, s: Seeded, persona: str) -> None:
    expected = list(
        WasteCategory.objects.filter(is_active=True).order_by("code").values_list("code", flat=True)
    )
    assert [w["code"] for w in data] == expected
    assert data[1] == {
        "code": "SW02",
        "name_zh": "粉煤灰",
        "name_en": "fly ash",
        "group": "fly_ash",
        "catalogue_version": "MEE-2021-82",
        "class_code_2024": "S02",
        "source_status": "attested",
    }


def check_enterprises(data: Any, s: Seeded, persona: str) -> None:
    expected = sorted(s.code(name) for name in VISIBLE[persona])
    assert [e["credit_code"] for e in data["items"]] == expected
    assert data["count"] == len(expected)


def enterprise_json(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "id": str(enterprise.public_id),
        "credit_code": enterprise.credit_code,
        "name": enterprise.name,
        "industry": enterprise.industry_id,
        "region": enterprise.region_id,
        "park": None,
        "roles": enterprise.roles,
        "latitude": None,
        "longitude": None,
    }


NEW_ENTERPRISE = {
    "name": "新登记测试企业",
    "industry": "4411",
    "region": "150622",
    "roles": ["generator"],
}


def check_registered(data: Any, s: Seeded, persona: str) -> None:
    created = Enterprise.objects.get(credit_code=new_credit_code())
    assert data == enterprise_json(created)
    assert (created.name, created.region_id, created.roles) == (
        "新登记测试企业",
        "150622",
        ["generator"],
    )


def check_plant(data: Any, s: Seeded, persona: str) -> None:
    assert data == enterprise_json(s.world.plant)


def check_sites(data: Any, s: Seeded, persona: str) -> None:
    assert data == [
        {
            "id": str(s.world.plant_site.public_id),
            "code": "BOILER1",
            "name": "1号锅炉",
            "kind": "production",
            "storage_class": "",
            "design_capacity": None,
            "opened_on": None,
            "is_permanent": False,
        },
        {
            "id": str(s.world.plant_yard.public_id),
            "code": "YARD1",
            "name": "灰场",
            "kind": "storage",
            "storage_class": "II",
            "design_capacity": "500000.000",
            "opened_on": "2020-01-01",
            "is_permanent": False,
        },
    ]


def check_site_created(data: Any, s: Seeded, persona: str) -> None:
    site = Site.objects.get(enterprise=s.world.plant, code="NEW1")
    assert data == {
        "id": str(site.public_id),
        "code": "NEW1",
        "name": "新车间",
        "kind": "production",
        "storage_class": "",
        "design_capacity": None,
        "opened_on": None,
        "is_permanent": False,
    }


def check_streams(data: Any, s: Seeded, persona: str) -> None:
    assert data == [
        {
            "id": str(s.plant_stream.public_id),
            "code": "FA1",
            "name": "粉煤灰产生线",
            "waste_code": "SW02",
            "process": "",
        }
    ]


def check_stream_created(data: Any, s: Seeded, persona: str) -> None:
    stream = WasteStream.objects.get(enterprise=s.world.plant, code="SLAG1")
    assert data == {
        "id": str(stream.public_id),
        "code": "SLAG1",
        "name": "炉渣",
        "waste_code": "SW03",
        "process": "锅炉排渣",
    }
    assert stream.source_site == s.world.plant_site


def check_entries(data: Any, s: Seeded, persona: str) -> None:
    expected = [s.entry_id(name) for name in entries_visible_to(persona)]
    assert [e["id"] for e in data["items"]] == expected
    assert data["count"] == len(expected)


def check_p2(data: Any, s: Seeded, persona: str) -> None:
    p2 = s.entries["p2"]
    assert data == {
        "id": str(p2.public_id),
        "enterprise": s.code("plant"),
        "seq": 2,
        "kind": "storage_in",
        "site": "BOILER1",
        "to_site": "YARD1",
        "waste_code": "SW02",
        "stream": None,
        "quantity": "60.321",
        "occurred_on": "2025-03-02",
        "recorded_at": data["recorded_at"],
        "counterparty": None,
        "purpose": "",
        "route": "",
        "disposal_method": "",
        "batch_code": "",
        "note": "",
        "reverses": None,
        "corrects": None,
        "reason": "",
        "hash": p2.hash,
    }


def new_entry_body(s: Seeded) -> dict[str, Any]:
    return {
        "entries": [
            {
                "kind": "generated",
                "site": "BOILER1",
                "waste_code": "SW02",
                "quantity": "1.000",
                "occurred_on": "2025-03-10",
                "stream": "FA1",
            }
        ]
    }


def check_entry_posted(data: Any, s: Seeded, persona: str) -> None:
    (created,) = LedgerEntry.objects.filter(enterprise=s.world.plant, seq=4)
    assert [(e["id"], e["seq"], e["quantity"], e["stream"]) for e in data] == [
        (str(created.public_id), 4, "1.000", "FA1")
    ]
    assert created.recorded_by == s.world.users[persona]
    assert stock_of(s.world.plant_site) == Decimal("64.135")


def correction_body(s: Seeded) -> dict[str, Any]:
    return {
        "reason": "称重有误",
        "replacement": {
            "kind": "handed_over",
            "site": "YARD1",
            "waste_code": "SW02",
            "quantity": "20.000",
            "occurred_on": "2025-03-03",
            "counterparty": s.code("receiver"),
            "purpose": "utilization",
            "route": "cement",
        },
    }


def check_corrected(data: Any, s: Seeded, persona: str) -> None:
    p3 = s.entries["p3"]
    reversal = LedgerEntry.objects.get(reverses=p3)
    replacement = LedgerEntry.objects.get(corrects=p3)
    assert (data["reversal"]["id"], data["replacement"]["id"]) == (
        str(reversal.public_id),
        str(replacement.public_id),
    )
    assert (data["reversal"]["quantity"], data["reversal"]["reverses"]) == (
        "-20.125",
        str(p3.public_id),
    )
    assert (data["replacement"]["quantity"], data["replacement"]["corrects"]) == (
        "20.000",
        str(p3.public_id),
    )
    assert (reversal.seq, replacement.seq, reversal.reason) == (4, 5, "称重有误")
    # 40.196 + 20.125 handed over back in - 20.000 handed over again
    assert stock_of(s.world.plant_yard) == Decimal("40.321")


def check_stock(data: Any, s: Seeded, persona: str) -> None:
    plant = s.code("plant")
    assert data == [
        {"enterprise": plant, "site": "BOILER1", "waste_code": "SW02", "quantity": "63.135"},
        {"enterprise": plant, "site": "YARD1", "waste_code": "SW02", "quantity": "40.196"},
    ]


def check_chain(data: Any, s: Seeded, persona: str) -> None:
    assert data == {
        "enterprise": s.code("plant"),
        "entries": 3,
        "intact": True,
        "first_broken_seq": None,
        "problem": None,
    }


ENTERPRISE = "/api/enterprises/{plant}"
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/regions"): Route(_get("/api/regions"), any_user, check_regions),
    ("GET", "/api/waste-categories"): Route(
        _get("/api/waste-categories"), any_user, check_waste_categories
    ),
    ("GET", "/api/enterprises"): Route(_get("/api/enterprises"), any_user, check_enterprises),
    ("POST", "/api/enterprises"): Route(
        _post("/api/enterprises", lambda s: {"credit_code": new_credit_code(), **NEW_ENTERPRISE}),
        register_in_plant_county,
        check_registered,
        forbidden=NOT_THE_REGULATOR,
        creates={"Enterprise": 1},
    ),
    ("GET", "/api/enterprises/{credit_code}"): Route(_get(ENTERPRISE), plant_read, check_plant),
    ("GET", "/api/enterprises/{credit_code}/sites"): Route(
        _get(ENTERPRISE + "/sites"), plant_read, check_sites
    ),
    ("POST", "/api/enterprises/{credit_code}/sites"): Route(
        _post(
            ENTERPRISE + "/sites",
            lambda s: {"code": "NEW1", "name": "新车间", "kind": "production"},
        ),
        plant_write,
        check_site_created,
        creates={"Site": 1},
    ),
    ("GET", "/api/enterprises/{credit_code}/streams"): Route(
        _get(ENTERPRISE + "/streams"), plant_read, check_streams
    ),
    ("POST", "/api/enterprises/{credit_code}/streams"): Route(
        _post(
            ENTERPRISE + "/streams",
            lambda s: {
                "code": "SLAG1",
                "name": "炉渣",
                "waste_code": "SW03",
                "process": "锅炉排渣",
                "source_site": "BOILER1",
            },
        ),
        plant_write,
        check_stream_created,
        creates={"WasteStream": 1},
    ),
    ("GET", "/api/ledger/entries"): Route(_get("/api/ledger/entries"), any_user, check_entries),
    ("GET", "/api/ledger/entries/{entry_id}"): Route(
        _get("/api/ledger/entries/{p2}"), plant_read, check_p2, not_found=ENTRY_NOT_FOUND
    ),
    ("POST", "/api/ledger/enterprises/{credit_code}/entries"): Route(
        _post("/api/ledger/enterprises/{plant}/entries", new_entry_body, key="matrix-entry"),
        plant_write,
        check_entry_posted,
        creates={"LedgerEntry": 1, "IdempotencyKey": 1},
    ),
    ("POST", "/api/ledger/entries/{entry_id}/corrections"): Route(
        _post("/api/ledger/entries/{p3}/corrections", correction_body, key="matrix-fix"),
        plant_write,
        check_corrected,
        not_found=ENTRY_NOT_FOUND,
        creates={"LedgerEntry": 2, "IdempotencyKey": 1},
    ),
    ("GET", "/api/ledger/enterprises/{credit_code}/stock"): Route(
        _get("/api/ledger/enterprises/{plant}/stock"), plant_read, check_stock
    ),
    ("GET", "/api/ledger/enterprises/{credit_code}/chain"): Route(
        _get("/api/ledger/enterprises/{plant}/chain"), plant_read, check_chain
    ),
}


# --- the tests -------------------------------------------------------------------------


def _operations_in_urlconf() -> set[str]:
    """Paths of the API's URL patterns, as OpenAPI writes them. Left out: the docs, the
    schema and ninja's root, which only answers 404 (it exists so ninja can reverse it)."""
    patterns, _app, _namespace = api.urls
    found = set()
    for pattern in patterns:
        route = str(pattern.pattern)
        if route in {"docs", "openapi.json", ""}:
            continue
        found.add("/api/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return found


def test_matrix_has_a_row_for_every_api_operation() -> None:
    schema = api.get_openapi_schema()
    operations = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    # Routers with their own matrix (tests/test_transfers_api.py checks its rows the same way).
    own_matrix = {op for op in operations if op[1].startswith(OWN_MATRICES)}
    assert operations - own_matrix == set(ROUTES), "a new endpoint needs a row in ROUTES"
    # Nothing is routed without appearing in the schema (include_in_schema=False).
    assert _operations_in_urlconf() == {path for _method, path in operations}
    # Every operation requires a login (session or API token), except the public
    # aggregates (ADR 0024), which are anonymous by design.
    public = {("get", "/api/public/aggregates")}
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if (method, path) in public:
                assert "security" not in op, (method, path)
                continue
            assert op["security"] == [{"SessionAuth": []}, {"ApiTokenAuth": []}], (method, path)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", list(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_access_matrix(seeded: Seeded, route: tuple[str, str], persona: str) -> None:
    spec = ROUTES[route]
    before = snapshot()

    response = spec.call(seeded.world.client(persona), seeded)

    expected = spec.status(persona)
    assert response.status_code == expected, response.content.decode()
    data = response.json()
    after = snapshot()
    if expected in (200, 201):
        spec.check(data, seeded, persona)
        assert counts_changed(before, after) == spec.creates
        if not spec.creates:
            assert after == before
        return
    assert data == {401: UNAUTHORIZED, 403: spec.forbidden, 404: spec.not_found}[expected]
    assert after == before


PLANT_SCOPED = [route for route, spec in ROUTES.items() if spec.status("outsider") == 404]


@pytest.mark.parametrize("route", PLANT_SCOPED, ids=lambda r: f"{r[0]} {r[1]}")
def test_a_hidden_enterprise_answers_like_one_never_registered(
    seeded: Seeded, route: tuple[str, str]
) -> None:
    """No probing: the outsider cannot tell the plant's records from nothing at all."""
    client = seeded.world.client("outsider")
    hidden = ROUTES[route].call(client, seeded)
    # The same request aimed at a valid credit code / entry id nobody registered.
    seeded.world.plant.credit_code = new_credit_code(serial=123_456_789)
    for entry in seeded.entries.values():
        entry.public_id = uuid.uuid4()
    missing = ROUTES[route].call(client, seeded)
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
    assert hidden.status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_reads_exactly_its_enterprises(seeded: Seeded, persona: str) -> None:
    client = seeded.world.client(persona)
    readable = set()
    for name in ENTERPRISES:
        code = seeded.code(name)
        statuses = {
            client.get(f"/api/enterprises/{code}").status_code,
            client.get(f"/api/enterprises/{code}/sites").status_code,
            client.get(f"/api/ledger/enterprises/{code}/stock").status_code,
            client.get(f"/api/ledger/enterprises/{code}/chain").status_code,
            client.get(f"/api/ledger/entries?enterprise={code}").status_code,
        }
        if persona == "anonymous":
            assert statuses == {401}
            continue
        assert statuses in ({200}, {404}), (name, statuses)
        if statuses == {200}:
            readable.add(name)
    assert readable == VISIBLE[persona]


@pytest.mark.parametrize(
    ("persona", "enterprise", "entries"),
    [
        ("league_regulator", "receiver", ["r1"]),
        ("league_regulator", "plant", ["p3", "p2", "p1"]),
        ("other_league_regulator", "outsider", ["o1"]),
        ("province_regulator", "outsider", ["o1"]),
        ("receiver", "receiver", ["r1"]),
    ],
)
def test_entries_filtered_by_enterprise(
    seeded: Seeded, persona: str, enterprise: str, entries: list[str]
) -> None:
    response = seeded.world.client(persona).get(
        f"/api/ledger/entries?enterprise={seeded.code(enterprise)}"
    )
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["items"]] == [seeded.entry_id(n) for n in entries]


@pytest.mark.parametrize(
    ("persona", "region", "status"),
    [
        ("league_regulator", "150600", 201),  # its own league
        ("league_regulator", "150622", 201),  # a banner under it
        ("league_regulator", "150203", 403),  # 包头, another league
        ("league_regulator", "150000", 403),  # the province above it
        ("league_regulator", "110101", 403),  # Beijing
        ("other_league_regulator", "150203", 201),
        ("other_league_regulator", "150622", 403),
        ("province_regulator", "150000", 201),
        ("province_regulator", "150203", 201),
        ("province_regulator", "150622", 201),
        ("province_regulator", "110101", 403),
        ("owner", "150622", 403),
        ("receiver", "150622", 403),
        ("driver", "150622", 403),
        ("anonymous", "150622", 401),
    ],
)
def test_regulators_register_enterprises_only_in_their_subtree(
    seeded: Seeded, persona: str, region: str, status: int
) -> None:
    code = new_credit_code(region)
    before = snapshot()
    response = seeded.world.client(persona).post(
        "/api/enterprises",
        {**NEW_ENTERPRISE, "credit_code": code, "region": region},
        content_type="application/json",
    )
    assert response.status_code == status, response.content.decode()
    if status == 201:
        assert Enterprise.objects.get(credit_code=code).region_id == region
        assert counts_changed(before, snapshot()) == {"Enterprise": 1}
    else:
        assert response.json() == (UNAUTHORIZED if status == 401 else NOT_THE_REGULATOR)
        assert snapshot() == before


@pytest.mark.parametrize(
    ("persona", "enterprise", "status"),
    [
        ("owner", "plant", 201),
        ("colleague", "plant", 201),
        ("reader", "plant", 403),
        ("carrier", "carrier", 201),
        ("driver", "carrier", 403),
        ("outsider", "outsider", 201),
        ("receiver", "receiver", 201),
        ("receiver", "plant", 404),  # its supplier's ledger is not its own
        ("carrier", "receiver", 404),
        ("other_league_regulator", "outsider", 403),
        ("province_regulator", "receiver", 403),
    ],
)
def test_ledger_writes_need_an_admin_or_member_seat(
    seeded: Seeded, persona: str, enterprise: str, status: int
) -> None:
    target: Enterprise = getattr(seeded.world, enterprise)
    make_site(enterprise=target, code="W1", name="写入测试车间")
    before = snapshot()
    response = seeded.world.client(persona).post(
        f"/api/ledger/enterprises/{target.credit_code}/entries",
        {
            "entries": [
                {
                    "kind": "generated",
                    "site": "W1",
                    "waste_code": "SW59",
                    "quantity": "2.500",
                    "occurred_on": "2025-04-01",
                }
            ]
        },
        content_type="application/json",
        headers={"Idempotency-Key": "seat-test"},
    )
    assert response.status_code == status, response.content.decode()
    if status == 201:
        assert counts_changed(before, snapshot()) == {
            "LedgerEntry": 1,
            "StockBalance": 1,
            "IdempotencyKey": 1,
        }
        assert response.json()[0]["enterprise"] == target.credit_code
    else:
        assert response.json() == {403: NO_WRITE_ACCESS, 404: ENTERPRISE_NOT_FOUND}[status]
        assert snapshot() == before


def test_session_writes_need_the_csrf_token(seeded: Seeded) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(seeded.world.users["owner"])
    url = f"/api/ledger/enterprises/{seeded.code('plant')}/entries"
    before = snapshot()

    refused = client.post(url, new_entry_body(seeded), content_type="application/json")

    assert (refused.status_code, refused.json()) == (403, {"detail": "CSRF check Failed"})
    assert snapshot() == before
    client.get("/")  # the page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        url, new_entry_body(seeded), content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201
    assert counts_changed(before, snapshot()) == {"LedgerEntry": 1}

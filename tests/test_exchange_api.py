"""Access matrix of the exchange API (every /api/exchange operation x every persona),
with exact bodies where it matters and proof that denied writes change nothing;
query counts of the list endpoints.

Policy: runs and scenarios are the regulators' tool over their jurisdiction; an
enterprise sees a run only when a flow leaves or reaches it, and then only those
flows and not the region's totals; listings are written by an enterprise's admin
and member seats and read by whoever may read the enterprise; everything else is
the same 404 as an id never issued; anonymous gets 401.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.access_support import PERSONAS, persist_passwords
from tests.test_exchange_app import Ordos, region  # noqa: F401  (fixture)
from xunhuan.api.api import api
from xunhuan.exchange import services
from xunhuan.exchange.models import (
    FlowAcceptance,
    HorizonRequest,
    Listing,
    ProposedFlow,
    Run,
    Scenario,
    ScenarioChange,
)
from xunhuan.transfers.models import Transfer, TransferLeg, TransferLine

PLANT_MEMBERS = frozenset({"owner", "colleague", "reader"})
REGULATORS = frozenset({"league_regulator", "province_regulator"})
# Who may see the run (a flow from the plant, one to the receiver's kiln)
RUN_READERS = PLANT_MEMBERS | REGULATORS | {"receiver"}
RUN_NOT_FOUND = {
    "code": "not_found",
    "message": "计算不存在或无权查看 / run not found",
    "field": "run",
    "row": None,
}


@dataclass
class Setup:
    ordos: Ordos
    run: Run
    scenario_run: Run
    scenario: Scenario
    horizon: HorizonRequest

    def client(self, persona: str) -> Client:
        return self.ordos.world.client(persona)

    @property
    def plant(self) -> str:
        return self.ordos.world.plant.credit_code


@pytest.fixture
def setup(region: Ordos) -> Setup:  # noqa: F811
    persist_passwords(region.world)
    regulator = region.world.users["league_regulator"]
    run = services.exchange_run(region=region.region, period=region.period, created_by=regulator)
    scenario = services.scenario_create(region=region.region, name="关停", created_by=regulator)
    services.scenario_change_add(
        scenario=scenario, kind="close_site", site=region.world.receiver_site
    )
    scenario_run = services.exchange_run(
        region=region.region, period=region.period, created_by=regulator, scenario=scenario
    )
    services.listing_publish(
        enterprise=region.world.plant,
        site_code="BOILER1",
        waste_code="SW02",
        quantity="12.500",
        expires_on=region.period.replace(year=region.period.year + 1),
        today=region.period,
        published_by=region.world.users["owner"],
    )
    horizon = services.horizon_request(
        region=region.region, period=region.period, created_by=regulator
    )
    return Setup(region, run, scenario_run, scenario, horizon)


def _state() -> dict[str, int]:
    return {
        "Listing": Listing.objects.count(),
        "Run": Run.objects.count(),
        "ProposedFlow": ProposedFlow.objects.count(),
        "Scenario": Scenario.objects.count(),
        "ScenarioChange": ScenarioChange.objects.count(),
        "FlowAcceptance": FlowAcceptance.objects.count(),
        "Transfer": Transfer.objects.count(),
        "HorizonRequest": HorizonRequest.objects.count(),
    }


def _statuses(
    allowed: frozenset[str], ok: int, visible_denied: frozenset[str] = frozenset()
) -> dict[str, int]:
    out = {}
    for persona in PERSONAS:
        if persona == "anonymous":
            out[persona] = 401
        elif persona in allowed:
            out[persona] = ok
        elif persona in visible_denied:
            out[persona] = 403
        else:
            out[persona] = 404
    return out


ALL = frozenset(PERSONAS) - {"anonymous"}
Call = Callable[[Client, Setup], Any]


def _listing_body(s: Setup) -> dict[str, Any]:
    return {
        "site": "BOILER1",
        "waste_code": "SW02",
        "quantity": "33.000",
        "expires_on": s.ordos.period.replace(year=s.ordos.period.year + 1).isoformat(),
        "moisture_pct": "12.5",
    }


def _accept_body(s: Setup) -> dict[str, Any]:
    return {"carrier": s.ordos.world.carrier.credit_code, "vehicle": "蒙K12345"}


def _run_body(s: Setup) -> dict[str, Any]:
    return {"region": "150600", "period": s.ordos.period.isoformat()}


OPS: dict[tuple[str, str], tuple[Call, dict[str, int], dict[str, int] | None]] = {
    # (call, expected status per persona, expected row-count changes when allowed)
    ("POST", "/api/exchange/enterprises/{credit_code}/listings"): (
        lambda c, s: c.post(
            f"/api/exchange/enterprises/{s.plant}/listings",
            _listing_body(s),
            content_type="application/json",
        ),
        _statuses(frozenset({"owner", "colleague"}), 201, frozenset({"reader"}) | REGULATORS),
        {"Listing": 1},
    ),
    ("GET", "/api/exchange/listings"): (
        lambda c, s: c.get("/api/exchange/listings"),
        _statuses(ALL, 200),
        None,
    ),
    ("POST", "/api/exchange/scenarios"): (
        lambda c, s: c.post(
            "/api/exchange/scenarios",
            {"region": "150600", "name": "铁路", "rail_yuan_per_tkm": "0.12"},
            content_type="application/json",
        ),
        _statuses(REGULATORS, 201, ALL - REGULATORS),
        {"Scenario": 1},
    ),
    ("POST", "/api/exchange/scenarios/{scenario_id}/copy"): (
        lambda c, s: c.post(
            f"/api/exchange/scenarios/{s.scenario.public_id}/copy",
            {"name": "副本"},
            content_type="application/json",
        ),
        _statuses(REGULATORS, 201),
        {"Scenario": 1, "ScenarioChange": 1},
    ),
    ("POST", "/api/exchange/scenarios/{scenario_id}/changes"): (
        lambda c, s: c.post(
            f"/api/exchange/scenarios/{s.scenario.public_id}/changes",
            {"kind": "close_site", "site": str(s.ordos.far_site.public_id)},
            content_type="application/json",
        ),
        _statuses(REGULATORS, 201),
        {"ScenarioChange": 1},
    ),
    ("POST", "/api/exchange/runs"): (
        lambda c, s: c.post("/api/exchange/runs", _run_body(s), content_type="application/json"),
        _statuses(REGULATORS, 201, ALL - REGULATORS),
        {"Run": 1, "ProposedFlow": 4},  # the run's three, plus the live listing's
    ),
    ("POST", "/api/exchange/horizon-runs"): (
        lambda c, s: c.post(
            "/api/exchange/horizon-runs", _run_body(s), content_type="application/json"
        ),
        _statuses(REGULATORS, 202, ALL - REGULATORS),
        {"HorizonRequest": 1},
    ),
    ("GET", "/api/exchange/horizon-runs/{request_id}"): (
        lambda c, s: c.get(f"/api/exchange/horizon-runs/{s.horizon.public_id}"),
        _statuses(REGULATORS, 200),
        None,
    ),
    ("GET", "/api/exchange/runs"): (
        lambda c, s: c.get("/api/exchange/runs"),
        _statuses(ALL, 200),
        None,
    ),
    ("GET", "/api/exchange/runs/compare"): (
        lambda c, s: c.get(
            "/api/exchange/runs/compare",
            {"baseline": str(s.run.public_id), "scenario": str(s.scenario_run.public_id)},
        ),
        _statuses(REGULATORS, 200),
        None,
    ),
    ("GET", "/api/exchange/runs/league-effect"): (
        lambda c, s: c.get(
            "/api/exchange/runs/league-effect",
            {"baseline": str(s.run.public_id), "scenario": str(s.scenario_run.public_id)},
        ),
        _statuses(REGULATORS, 200),
        None,
    ),
    ("GET", "/api/exchange/runs/{run_id}"): (
        lambda c, s: c.get(f"/api/exchange/runs/{s.run.public_id}"),
        _statuses(RUN_READERS, 200),
        None,
    ),
    ("GET", "/api/exchange/runs/{run_id}/flows"): (
        lambda c, s: c.get(f"/api/exchange/runs/{s.run.public_id}/flows"),
        _statuses(RUN_READERS, 200),
        None,
    ),
    ("POST", "/api/exchange/runs/{run_id}/flows/{seq}/accept"): (
        lambda c, s: c.post(
            f"/api/exchange/runs/{s.run.public_id}/flows/1/accept",
            _accept_body(s),
            content_type="application/json",
        ),
        # a draft 联单 is the generator's (its writer seats); the receiver and the
        # regulators see the flow but may not draft for the plant
        _statuses(
            frozenset({"owner", "colleague"}),
            201,
            frozenset({"reader", "receiver"}) | REGULATORS,
        ),
        {"FlowAcceptance": 1, "Transfer": 1},
    ),
    ("GET", "/api/exchange/runs/{run_id}/flows.csv"): (
        lambda c, s: c.get(f"/api/exchange/runs/{s.run.public_id}/flows.csv"),
        _statuses(RUN_READERS, 200),
        None,
    ),
    ("GET", "/api/exchange/runs/{run_id}/flows.xlsx"): (
        lambda c, s: c.get(f"/api/exchange/runs/{s.run.public_id}/flows.xlsx"),
        _statuses(RUN_READERS, 200),
        None,
    ),
}


def test_matrix_has_a_row_for_every_exchange_operation() -> None:
    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if path.startswith("/api/exchange")
    }
    assert operations == set(OPS)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("op", list(OPS), ids=lambda op: f"{op[0]} {op[1]}")
def test_access(setup: Setup, op: tuple[str, str], persona: str) -> None:
    call, statuses, changes = OPS[op]
    before = _state()
    response = call(setup.client(persona), setup)
    assert response.status_code == statuses[persona], response.content[:300]
    after = _state()
    delta = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    if response.status_code in (200, 201, 202) and changes is not None:
        assert delta == changes
    else:
        assert delta == {}
    run_op = op[1].startswith("/api/exchange/runs/{run_id}")
    if response.status_code == 404 and run_op and not op[1].endswith((".csv", ".xlsx")):
        assert response.json() == RUN_NOT_FOUND


# What each reader sees of the run: flows from the plant, or only the one into the kiln.
ALL_FLOWS = (("BOILER1", "400.000"), ("BOILER1", "500.000"), ("YARD1", "30.000"))
FLOWS_SEEN = {
    **dict.fromkeys(PLANT_MEMBERS | REGULATORS, ALL_FLOWS),
    "receiver": (("BOILER1", "400.000"),),
}


@pytest.mark.parametrize("persona", sorted(RUN_READERS))
def test_each_reader_sees_only_its_flows_and_totals_only_regulators(
    setup: Setup, persona: str
) -> None:
    client = setup.client(persona)
    flows = client.get(f"/api/exchange/runs/{setup.run.public_id}/flows").json()
    assert tuple((f["source_site"], f["quantity"]) for f in flows["items"]) == FLOWS_SEEN[persona]
    run = client.get(f"/api/exchange/runs/{setup.run.public_id}").json()
    assert run["utilized"] == ("930.000" if persona in REGULATORS else None)
    exported = client.get(f"/api/exchange/runs/{setup.run.public_id}/flows.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert tuple((r[2], r[4]) for r in rows[1:]) == FLOWS_SEEN[persona]
    listed = client.get("/api/exchange/runs").json()
    assert {r["id"] for r in listed["items"]} == (
        {str(setup.run.public_id), str(setup.scenario_run.public_id)}
        if persona != "receiver"
        else {str(setup.run.public_id)}  # the scenario closes the kiln: no flow to it
    )


@pytest.mark.parametrize("persona", ["outsider", "other_league_regulator", "carrier", "driver"])
def test_outsiders_see_no_run_and_no_listing(setup: Setup, persona: str) -> None:
    client = setup.client(persona)
    assert client.get("/api/exchange/runs").json() == {"items": [], "count": 0}
    assert client.get("/api/exchange/listings").json() == {"items": [], "count": 0}


def test_listing_and_compare_bodies(setup: Setup) -> None:
    owner = setup.client("owner")
    created = owner.post(
        f"/api/exchange/enterprises/{setup.plant}/listings",
        _listing_body(setup),
        content_type="application/json",
    ).json()
    assert created["quantity"] == "33.000"
    assert created["moisture_pct"] == "12.50"
    assert created["withdrawn"] is False
    assert [item["quantity"] for item in owner.get("/api/exchange/listings").json()["items"]] == [
        "33.000",
        "12.500",
    ]
    compared = setup.client("league_regulator").get(
        "/api/exchange/runs/compare",
        {"baseline": str(setup.run.public_id), "scenario": str(setup.scenario_run.public_id)},
    )
    body = compared.json()
    assert body["utilized_change"] == "0.000"
    assert body["cost_change_yuan"] == str(setup.scenario_run.cost_yuan - setup.run.cost_yuan)


def test_bad_inputs_are_field_errors(setup: Setup) -> None:
    regulator = setup.client("league_regulator")
    bad_period = regulator.post(
        "/api/exchange/runs",
        {"region": "150600", "period": setup.ordos.period.replace(day=2).isoformat()},
        content_type="application/json",
    )
    assert bad_period.status_code == 422
    assert bad_period.json()["field"] == "period"
    unknown = regulator.post(
        f"/api/exchange/scenarios/{setup.scenario.public_id}/changes",
        {"kind": "demolish"},
        content_type="application/json",
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "kind"
    missing = regulator.get(f"/api/exchange/runs/{uuid.uuid4()}")
    assert missing.json() == RUN_NOT_FOUND


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_list_query_counts_do_not_grow_with_rows(setup: Setup) -> None:
    client = setup.client("league_regulator")
    flows_url = f"/api/exchange/runs/{setup.run.public_id}/flows"
    few_flows = _queries(client, flows_url)
    few_runs = _queries(client, "/api/exchange/runs")
    for _ in range(3):
        services.exchange_run(
            region=setup.ordos.region,
            period=setup.ordos.period,
            created_by=setup.ordos.world.users["league_regulator"],
        )
    assert _queries(client, "/api/exchange/runs") == few_runs
    assert _queries(client, flows_url) == few_flows
    # session, user, jurisdiction paths (visible enterprises, visible regions), the
    # run, count, page (runs: the regulated codes instead of the run): none per row
    assert (few_flows, few_runs) == (8, 7)


def test_accepting_a_flow_drafts_its_transfer_document_once(setup: Setup) -> None:
    world = setup.ordos.world
    owner = setup.client("owner")
    url = f"/api/exchange/runs/{setup.run.public_id}/flows/1/accept"
    first = owner.post(url, _accept_body(setup), content_type="application/json")
    assert first.status_code == 201, first.content
    body = first.json()
    transfer = Transfer.objects.get(number=body["transfer"])
    assert body == {
        "transfer": transfer.number,
        "status": "draft",
        "generator": world.plant.credit_code,
        "receiver": world.receiver.credit_code,
        "declared": "400.000",
        "planned_route": "cement",
    }
    assert (transfer.generator, transfer.receiver, transfer.purpose) == (
        world.plant,
        world.receiver,
        "utilization",
    )
    assert [
        (line.seq, line.waste_id, line.source_site, line.declared)
        for line in TransferLine.objects.filter(transfer=transfer)
    ] == [(1, "SW02", world.plant_site, Decimal("400.000"))]
    assert [
        (leg.seq, leg.carrier, leg.mode, leg.vehicle)
        for leg in TransferLeg.objects.filter(transfer=transfer)
    ] == [(1, world.carrier, "road", "蒙K12345")]
    # nothing is signed or posted: a draft only
    assert transfer.signatures.count() == 0
    # again (a double click, a colleague): the same draft, nothing new
    before = _state()
    again = setup.client("colleague").post(
        url, _accept_body(setup), content_type="application/json"
    )
    assert again.status_code == 201
    assert again.json()["transfer"] == transfer.number
    assert _state() == before
    flows = owner.get(f"/api/exchange/runs/{setup.run.public_id}/flows").json()["items"]
    assert [(f["seq"], f["transfer"]) for f in flows] == [
        (1, transfer.number),
        (2, None),
        (3, None),
    ]


def test_accept_refuses_unknown_carrier_and_a_planned_plant(setup: Setup) -> None:
    owner = setup.client("owner")
    url = f"/api/exchange/runs/{setup.run.public_id}/flows/1/accept"
    before = _state()
    bad = owner.post(
        url,
        {"carrier": setup.ordos.world.outsider.credit_code},
        content_type="application/json",
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "carrier")
    missing = owner.post(
        f"/api/exchange/runs/{setup.run.public_id}/flows/99/accept",
        _accept_body(setup),
        content_type="application/json",
    )
    assert (missing.status_code, missing.json()["field"]) == (404, "flow")
    # a scenario's planned plant has no enterprise to send a document to
    regulator = setup.ordos.world.users["league_regulator"]
    scenario = services.scenario_create(
        region=setup.ordos.region, name="新建", created_by=regulator
    )
    services.scenario_change_add(
        scenario=scenario,
        kind="add_plant",
        name="拟建利用项目",
        region=setup.ordos.region,
        waste=ProposedFlow.objects.filter(run=setup.run).first().waste,  # type: ignore[union-attr]
        annual_capacity=Decimal("120000"),
        latitude=Decimal("39.900000"),
        longitude=Decimal("111.210000"),
    )
    planned = services.exchange_run(
        region=setup.ordos.region,
        period=setup.ordos.period,
        created_by=regulator,
        scenario=scenario,
    )
    before = _state()
    refused = owner.post(
        f"/api/exchange/runs/{planned.public_id}/flows/1/accept",
        _accept_body(setup),
        content_type="application/json",
    )
    assert (refused.status_code, refused.json()["field"]) == (422, "flow")
    assert _state() == before


def test_twelve_month_plan_through_the_job_worker(setup: Setup) -> None:
    from xunhuan.jobs.services import jobs_work

    regulator = setup.client("league_regulator")
    url = f"/api/exchange/horizon-runs/{setup.horizon.public_id}"
    assert regulator.get(url).json() == {
        "id": str(setup.horizon.public_id),
        "status": "queued",
        "message": "",
        "run": None,
    }
    assert jobs_work(limit=5) >= 1
    done = regulator.get(url).json()
    assert (done["status"], done["message"]) == ("done", "完成 / done")
    run = regulator.get(f"/api/exchange/runs/{done['run']}").json()
    assert (run["months"], run["solver"], run["utilized"]) == (12, "ortools-12m", "942.500")


def test_flows_say_why_in_the_language_asked_for(setup: Setup) -> None:
    client = setup.client("owner")
    url = f"/api/exchange/runs/{setup.run.public_id}/flows"
    chinese = client.get(url).json()["items"]
    client.cookies["django_language"] = "en"  # the language switch's choice
    english = client.get(url).json()["items"]
    assert [(f["cost_rank"], f["eligible_routes"]) for f in chinese] == [(1, 2), (2, 2), (2, 2)]
    assert chinese[1]["explanation"].endswith("运费排第2（更便宜的接收方能力已被占用）")
    assert english[1]["explanation"].endswith(
        "cost rank 2 of 2 eligible routes (cheaper receivers' capacity is taken)"
    )

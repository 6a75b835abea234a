"""Exchange pages: who sees a run's flow map, Sankey and tables, their exports, the
"draft a 联单" button (generator's writer seats only; others leave nothing behind),
and query counts that do not grow with the flows."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from tests.access_support import PERSONAS
from tests.test_exchange_api import (  # noqa: F401  (fixtures)
    RUN_READERS,
    Setup,
    _state,
    setup,
)
from tests.test_exchange_app import region  # noqa: F401  (fixture)
from xunhuan.exchange import services
from xunhuan.registry.models import WasteCategory
from xunhuan.transfers.models import Transfer


def _url(s: Setup, suffix: str = "") -> str:
    return f"/exchange/{s.run.public_id}/{suffix}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_page_access(setup: Setup, persona: str) -> None:  # noqa: F811
    response = setup.client(persona).get(_url(setup))
    if persona == "anonymous":
        assert response.status_code == 302
        assert "/login" in response["Location"] or "login" in response["Location"]
    elif persona in RUN_READERS:
        assert response.status_code == 200
    else:
        assert response.status_code == 404
    listing = setup.client(persona).get("/exchange/")
    if persona != "anonymous":
        assert listing.status_code == 200
        assert (str(setup.run.public_id) in listing.content.decode()) == (persona in RUN_READERS)


def test_map_sankey_tables_and_exports(setup: Setup) -> None:  # noqa: F811
    client = setup.client("league_regulator")
    page = client.get(_url(setup))
    data = page.context["chart_data"]
    # three flows, all by road, each a line from the source site to the receiver
    assert [(line["mode"], line["tonnes"]) for line in data["lines"]] == [
        ("road", "400.000"),
        ("road", "500.000"),
        ("road", "30.000"),
    ]
    assert data["lines"][0]["coords"] == [(111.2, 39.9), (111.5, 39.9)]
    fly_ash = f"SW02 {WasteCategory.objects.get(code='SW02').name_zh}"
    # every source and receiver is in 鄂尔多斯市: one Sankey link of 930 t
    assert data["sankey"] == [
        {"source": "鄂尔多斯市", "waste": fly_ash, "target": "鄂尔多斯市", "t": "930.000"}
    ]
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(_url(setup), {"export": "sankey.csv"}).content.decode("utf-8-sig")
            )
        )
    )
    assert rows[1:] == [["鄂尔多斯市", fly_ash, "鄂尔多斯市", "930.000"]]
    sheet = load_workbook(
        io.BytesIO(client.get(_url(setup), {"export": "sankey.xlsx"}).content)
    ).active
    assert sheet is not None
    assert [r[3] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["930.000"]
    flows = list(
        csv.reader(
            io.StringIO(
                client.get(_url(setup), {"export": "flows.csv"}).content.decode("utf-8-sig")
            )
        )
    )
    assert [(r[2], r[4]) for r in flows[1:]] == [
        ("BOILER1", "400.000"),
        ("BOILER1", "500.000"),
        ("YARD1", "30.000"),
    ]
    xlsx = client.get(_url(setup), {"export": "flows.xlsx"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_receiver_sees_only_its_flow_and_no_totals(setup: Setup) -> None:  # noqa: F811
    page = setup.client("receiver").get(_url(setup))
    assert [f.seq for f, _ in page.context["flows"]] == [1]
    assert page.context["totals"] is False
    assert 'id="kpi-utilized"' not in page.content.decode()


def test_draft_button_for_the_generator_only(setup: Setup) -> None:  # noqa: F811
    carrier = setup.ordos.world.carrier.credit_code
    form = {"carrier": carrier, "vehicle": "蒙K12345"}
    owner_page = setup.client("owner").get(_url(setup))
    assert [can for _, can in owner_page.context["flows"]] == [True, True, True]
    regulator_page = setup.client("league_regulator").get(_url(setup))
    assert [can for _, can in regulator_page.context["flows"]] == [False, False, False]
    before = _state()
    for persona, status in (("receiver", 403), ("reader", 403), ("outsider", 404)):
        denied = setup.client(persona).post(_url(setup, "flows/1/accept/"), form)
        assert denied.status_code == status
    assert _state() == before
    done = setup.client("owner").post(_url(setup, "flows/2/accept/"), form)
    transfer = Transfer.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/transfers/{transfer.number}/"
    assert transfer.receiver == setup.ordos.far
    assert (
        setup.client("owner").get(_url(setup)).context["flows"][1][0].acceptance.transfer
        == transfer
    )


def _queries(setup: Setup, url: str) -> int:  # noqa: F811
    client = setup.client("league_regulator")
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_flows(setup: Setup) -> None:  # noqa: F811
    few = _queries(setup, _url(setup))
    # a new run also places the live listing: four flows instead of three
    more = services.exchange_run(
        region=setup.ordos.region,
        period=setup.ordos.period,
        created_by=setup.ordos.world.users["league_regulator"],
    )
    assert more.flows.count() == 4
    assert _queries(setup, f"/exchange/{more.public_id}/") == few

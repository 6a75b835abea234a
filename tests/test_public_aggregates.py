"""The public aggregates (issue #3: "a public view shows aggregates only"): anonymous
page and API, per league and year, cells of fewer than three enterprises withheld,
and no enterprise-level datum anywhere in the answer (ADR 0024)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.test import Client

from tests.conftest import World
from tests.factories import draft
from tests.test_transfers_support import Party, new_transfer, party
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Enterprise, Site
from xunhuan.statistics import public
from xunhuan.transfers.models import Transfer
from xunhuan.transfers.services import (
    ReceiptLine,
    transfer_collect,
    transfer_complete,
    transfer_issue,
    transfer_receive,
)

T = Decimal
DAY = dt.date(2025, 3, 1)


@pytest.fixture
def p(world: World) -> Party:
    """Ordos (150600): the plant generates and ships; the receiver and the disposer
    record receipts, so three enterprises contribute to its 2025 ledger figures. Baotou
    (150200): the outsider alone. One completed transfer from the plant this year."""
    p = party(world)
    w = p.world
    ledger_entries_post(
        enterprise=w.plant, drafts=[draft(w.plant_site, "generated", "200.000", day=DAY)]
    )
    disposer_site = Site.objects.get(enterprise=w.disposer, code="LF1")
    for enterprise, site, tonnes in (
        (w.receiver, w.receiver_site, "20.000"),
        (w.disposer, disposer_site, "5.000"),
    ):
        ledger_entries_post(
            enterprise=enterprise,
            drafts=[draft(site, "received", tonnes, day=DAY, counterparty=w.plant)],
        )
    ledger_entries_post(
        enterprise=w.outsider,
        drafts=[draft(w.outsider_site, "generated", "77.777", waste_code="SW09", day=DAY)],
    )
    transfer = new_transfer(p, declared=("12.500",))
    transfer_issue(transfer=transfer, user=p.users["owner"])
    transfer_collect(transfer=transfer, user=p.users["driver"])
    transfer_receive(
        transfer=transfer,
        user=p.users["receiver"],
        receiver_site=w.receiver_site,
        lines=[ReceiptLine(1, T("12.500"), T("12.000"))],
        refusal_reason="结块",
    )
    transfer_complete(transfer=transfer, user=p.users["receiver"])
    return p


def test_cells_of_fewer_than_three_enterprises_are_withheld(p: Party) -> None:
    cells = {(c.league_code, c.year): c for c in public.public_aggregates()}
    year = Transfer.objects.get().completed_on.year  # type: ignore[union-attr]
    ordos = cells[("150600", 2025)]
    assert (ordos.province, ordos.league, ordos.ledger_suppressed) == (
        "内蒙古自治区",
        "鄂尔多斯市",
        False,
    )
    # The party's opening stock (2025-01-02) and the 200 t of March, all at the plant.
    assert ordos.generated == T("2200.000")
    baotou = cells[("150200", 2025)]
    assert baotou.ledger_suppressed
    assert (baotou.generated, baotou.utilized, baotou.utilization_rate) == (None, None, None)
    # One generator completed documents: withheld too.
    shipped = cells[("150600", year)]
    assert shipped.transfers_suppressed
    assert (shipped.transfers_completed, shipped.tonnes_transferred) == (None, None)


def test_transfer_figures_when_enough_generators(p: Party, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public, "MIN_ENTERPRISES", 1)
    year = Transfer.objects.get().completed_on.year  # type: ignore[union-attr]
    shipped = {(c.league_code, c.year): c for c in public.public_aggregates()}[("150600", year)]
    assert (shipped.transfers_completed, shipped.tonnes_transferred) == (1, T("12.000"))


@pytest.mark.parametrize("path", ["/public/", "/api/public/aggregates"])
def test_anonymous_readers_see_no_enterprise_datum(p: Party, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    # The API's JSON escapes Chinese: search the decoded text, or a leak would pass.
    text = (
        json.dumps(response.json(), ensure_ascii=False)
        if path.startswith("/api/")
        else response.content.decode()
    )
    assert "鄂尔多斯市" in text
    for enterprise in Enterprise.objects.all():
        assert enterprise.name not in text
        assert enterprise.credit_code not in text
        assert str(enterprise.public_id) not in text
    for number in Transfer.objects.values_list("number", flat=True):
        assert number not in text
    for site in Site.objects.all():
        assert site.name not in text
    # Baotou's one enterprise: its 77.777 t appears nowhere.
    assert "77.777" not in text


def test_the_api_answers_with_the_rule_and_suppressed_cells(p: Party) -> None:
    data = Client().get("/api/public/aggregates").json()
    assert data["min_enterprises"] == 3
    baotou = next(c for c in data["cells"] if (c["league_code"], c["year"]) == ("150200", 2025))
    assert baotou == {
        "province": "内蒙古自治区",
        "league_code": "150200",
        "league": "包头市",
        "year": 2025,
        "generated": None,
        "utilized": None,
        "utilization_rate": None,
        "ledger_suppressed": True,
        "transfers_completed": 0,
        "tonnes_transferred": "0.000",
        "transfers_suppressed": False,
    }


def test_every_persona_gets_the_same_public_answer(p: Party) -> None:
    """The access matrix of /api/public: no login needed, nobody sees more."""
    from tests.access_support import PERSONAS, persist_passwords
    from xunhuan.api.api import api

    operations = {
        (method.upper(), path)
        for path, ops in api.get_openapi_schema()["paths"].items()
        for method in ops
        if path.startswith("/api/public")
    }
    assert operations == {("GET", "/api/public/aggregates")}
    persist_passwords(p.world)
    anonymous = Client().get("/api/public/aggregates").json()
    for persona in PERSONAS:
        client = Client()
        if persona != "anonymous":
            client.force_login(p.users[persona])
        for path in ("/api/public/aggregates", "/public/"):
            response = client.get(path)
            assert response.status_code == 200, (persona, path)
        assert client.get("/api/public/aggregates").json() == anonymous

"""Transfer pages: each party sees the step it can sign now and signs it; the
document goes generator → carrier → receiver through the transfer services; the
ledgers follow; strangers get nothing and denied steps change nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.access_support import PERSONAS, Seeded, seed, snapshot, stock_of
from tests.conftest import World
from xunhuan.ledger.models import LedgerEntry
from xunhuan.transfers.models import Transfer, TransferStatus

LIST = "/transfers/"


@pytest.fixture
def seeded(world: World) -> Seeded:
    return seed(world)


def create(seeded: Seeded, declared: str = "10.000") -> Transfer:
    response = seeded.world.client("owner").post(
        LIST,
        {
            "generator": seeded.code("plant"),
            "receiver": seeded.code("receiver"),
            "purpose": "utilization",
            "planned_route": "cement",
            "carrier": seeded.code("carrier"),
            "mode": "road",
            "vehicle": "蒙K12345",
            "waste_code": "SW02",
            "source_site": "YARD1",
            "declared": declared,
        },
    )
    assert response.status_code == 302, response.content.decode()
    transfer = Transfer.objects.get()
    assert response["Location"] == f"/transfers/{transfer.number}/"
    return transfer


def buttons(seeded: Seeded, persona: str, transfer: Transfer) -> set[str]:
    html = seeded.world.client(persona).get(f"/transfers/{transfer.number}/").content.decode()
    return {b for b in ("issue", "collect", "receive", "complete") if f'id="do-{b}"' in html}


def sign(seeded: Seeded, persona: str, transfer: Transfer, **data: str) -> None:
    response = seeded.world.client(persona).post(f"/transfers/{transfer.number}/", data)
    assert response.status_code == 302


def test_a_transfer_goes_generator_carrier_receiver(seeded: Seeded) -> None:
    world = seeded.world
    yard_before = stock_of(world.plant_yard)
    transfer = create(seeded)
    assert transfer.status == TransferStatus.DRAFT
    assert buttons(seeded, "owner", transfer) == {"issue"}
    assert buttons(seeded, "carrier", transfer) == set()  # nothing to sign before issue

    sign(seeded, "owner", transfer, action="issue")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ISSUED
    assert stock_of(world.plant_yard) == yard_before - Decimal("10.000")
    assert buttons(seeded, "owner", transfer) == set()
    assert buttons(seeded, "driver", transfer) == {"collect"}
    assert buttons(seeded, "receiver", transfer) == set()

    sign(seeded, "driver", transfer, action="collect", vehicle="蒙K12345")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.IN_TRANSIT
    assert buttons(seeded, "receiver", transfer) == {"receive"}

    sign(
        seeded,
        "receiver",
        transfer,
        action="receive",
        receiver_site="KILN1",
        weighed_1="10.000",
        accepted_1="10.000",
    )
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    assert buttons(seeded, "receiver", transfer) == {"complete"}
    sign(seeded, "receiver", transfer, action="complete")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.COMPLETED
    received = LedgerEntry.objects.filter(
        enterprise=world.receiver, kind="received", batch_code=transfer.number
    ).get()
    assert received.quantity == Decimal("10.000")
    html = world.client("league_regulator").get(f"/transfers/{transfer.number}/").content.decode()
    assert "签署链完整" in html
    assert html.count("<tr><td>") >= 4  # legs, lines and four signatures are listed


def test_a_refused_step_is_shown_and_changes_nothing(seeded: Seeded) -> None:
    transfer = create(seeded)
    before = snapshot()
    client = seeded.world.client("receiver")
    response = client.post(f"/transfers/{transfer.number}/", {"action": "issue"}, follow=True)
    assert "无权" in " ".join(str(m) for m in response.context["messages"])
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.DRAFT
    assert snapshot() == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_opens_a_transfer(seeded: Seeded, persona: str) -> None:
    transfer = create(seeded)
    sign(seeded, "owner", transfer, action="issue")
    before = snapshot()
    client = seeded.world.client(persona)
    url = f"/transfers/{transfer.number}/"
    page = client.get(url)
    listing = client.get(LIST)
    parties = {"owner", "colleague", "reader", "driver", "carrier", "receiver"}
    regulators = {"league_regulator", "province_regulator"}
    if persona == "anonymous":
        assert (page.status_code, listing.status_code) == (302, 302)
    elif persona in parties | regulators:
        assert page.status_code == 200
        assert transfer.number in listing.content.decode()
    else:  # the outsider enterprise and the other league's regulator
        assert page.status_code == 404
        assert transfer.number not in listing.content.decode()
        assert seeded.code("plant") not in page.content.decode()
    # Nobody but the carrier's seats may collect; a denied POST changes nothing.
    client.post(url, {"action": "collect"})
    if persona not in ("driver", "carrier"):
        assert snapshot() == before


def test_only_generator_writers_get_the_create_form(seeded: Seeded) -> None:
    for persona, shown in (("owner", True), ("reader", False), ("league_regulator", False)):
        html = seeded.world.client(persona).get(LIST).content.decode()
        assert ('id="create-transfer"' in html) == shown, persona
    before = Transfer.objects.count()
    denied = seeded.world.client("league_regulator").post(LIST, {"generator": "x"})
    assert denied.status_code == 404
    assert Transfer.objects.count() == before


def test_transfer_list_queries_do_not_grow(seeded: Seeded) -> None:
    create(seeded, "1.000")
    client = seeded.world.client("league_regulator")
    client.get(LIST)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    owner = seeded.world.client("owner")
    for n in range(4):
        owner.post(
            LIST,
            {
                "generator": seeded.code("plant"),
                "receiver": seeded.code("receiver"),
                "purpose": "utilization",
                "planned_route": "cement",
                "carrier": seeded.code("carrier"),
                "mode": "road",
                "waste_code": "SW02",
                "source_site": "YARD1",
                "declared": f"{n + 2}.000",
            },
        )
    assert Transfer.objects.count() == 5
    with CaptureQueriesContext(connection) as many:
        client.get(LIST)
    assert len(many) == len(few)


def test_a_weight_discrepancy_is_settled_by_both_parties_before_completion(
    seeded: Seeded,
) -> None:
    transfer = create(seeded)
    sign(seeded, "owner", transfer, action="issue")
    sign(seeded, "driver", transfer, action="collect")
    sign(
        seeded,
        "receiver",
        transfer,
        action="receive",
        receiver_site="KILN1",
        weighed_1="8.000",
        accepted_1="8.000",
    )
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    # Completion waits for the discrepancy; both sides are offered to settle it.
    assert buttons(seeded, "receiver", transfer) == set()
    for persona in ("owner", "receiver"):
        html = seeded.world.client(persona).get(f"/transfers/{transfer.number}/").content.decode()
        assert 'id="do-settle"' in html
    sign(seeded, "owner", transfer, action="settle", note="地磅校准差异")
    sign(seeded, "receiver", transfer, action="settle", note="以接收方过磅为准")
    assert buttons(seeded, "receiver", transfer) == {"complete"}
    sign(seeded, "receiver", transfer, action="complete")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.COMPLETED

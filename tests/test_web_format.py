"""Tonnages in pages: thousands separators, the exact Decimal, the unit in the
reader's language; the same on the dashboard, the ledger, the stock and transfers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from tests.access_support import Seeded, seed
from tests.conftest import World
from tests.factories import draft
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.web.templatetags.xunhuan_format import tonnes


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12345.678"), "12,345.678"),
        (Decimal("1234567.5"), "1,234,567.500"),
        (Decimal("-20.125"), "-20.125"),
        (Decimal("0.001"), "0.001"),
        (Decimal("999999999999.999"), "999,999,999,999.999"),  # no float on the way
        (7, "7.000"),
        ("4321.5", "4,321.500"),
    ],
)
def test_tonnes_keeps_every_kilogram_and_groups_thousands(value: object, text: str) -> None:
    assert tonnes(value, "bare") == text
    with translation.override("zh-hans"):
        assert tonnes(value) == f"{text} 吨"
    with translation.override("en"):
        assert tonnes(value) == f"{text} t"


def test_tonnes_of_nothing_is_a_dash() -> None:
    assert tonnes(None) == "—"
    assert tonnes("", "bare") == "—"
    assert tonnes("n/a") == "n/a"


@pytest.fixture
def big(world: World) -> Seeded:
    seeded = seed(world)
    ledger_entries_post(
        enterprise=world.plant,
        drafts=[draft(world.plant_site, "generated", "12345.678", day=dt.date(2025, 6, 1))],
    )
    return seeded


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_ledger_stock_and_dashboard_show_grouped_tonnes(big: Seeded, language: str) -> None:
    world = big.world
    owner = world.client("owner")
    owner.post("/i18n/setlang/", {"language": language, "next": "/"})
    code = big.code("plant")
    ledger = owner.get(f"/enterprises/{code}/ledger/").content.decode()
    assert '<td class="num">12,345.678</td>' in ledger
    # Stock at the boiler: 123.456 - 60.321 + 12,345.678.
    workspace = owner.get(f"/enterprises/{code}/").content.decode()
    assert '<td class="num">12,408.813</td>' in workspace
    regulator = world.client("league_regulator")
    regulator.post("/i18n/setlang/", {"language": language, "next": "/"})
    dashboard = regulator.get("/dashboard/", {"year": "2025"}).content.decode()
    assert '<b id="kpi-generated">12,469.134</b>' in dashboard  # 123.456 + 12,345.678

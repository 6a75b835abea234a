"""The annual ledger summary PDF: chosen by year, only for enterprises the user may
see, in Chinese, with the year's figures (the statistics' and the ledger's), the
monthly chart, stock at year end and the chain state."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from tests.access_support import Seeded, seed
from tests.conftest import World
from tests.factories import draft
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.statistics.selectors import StatScope, stats_table
from xunhuan.web.pdf_annual import annual_summary, annual_summary_pdf


@pytest.fixture
def seeded(world: World) -> Seeded:
    seeded = seed(world)
    # A large month so the thousands separator shows, and an entry of another year.
    ledger_entries_post(
        enterprise=world.plant,
        drafts=[
            draft(world.plant_site, "generated", "12000.500", day=dt.date(2025, 7, 9)),
            draft(world.plant_site, "generated", "1.000", day=dt.date(2024, 12, 31)),
        ],
    )
    return seeded


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def _url(seeded: Seeded) -> str:
    return f"/enterprises/{seeded.code('plant')}/ledger/annual.pdf"


def test_the_summary_pdf_carries_the_years_figures(seeded: Seeded) -> None:
    world = seeded.world
    response = world.client("owner").get(_url(seeded), {"year": "2025"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = _text(response.content)
    assert "2025年一般工业固体废物管理台账年度汇总" in text
    assert world.plant.name in text
    assert world.plant.credit_code in text
    # The figures the statistics hold for the plant in 2025, printed exactly.
    one = StatScope(paths=(), enterprise_ids=(world.plant.pk,))
    (year,) = stats_table(scope=one, by=["year"], year=2025)
    assert year.values["generated"] == Decimal("12123.956")  # 123.456 + 12,000.5
    assert "12,123.956" in text
    assert "12,000.500" in text  # July, in the monthly table
    for kind in ("产生", "入库贮存", "委托利用/处置（转出）"):
        assert kind in text
    assert "SW02" in text
    # Stock at the end of 2025: 1 t from 2024, + 123.456 + 12,000.5 - 20.125 handed over
    # (the receipt is the receiver's) = 12,104.831 over the boiler and the yard.
    summary = annual_summary(enterprise=world.plant, year=2025)
    assert summary.stock_at_year_end == Decimal("12104.831")
    assert "12,104.831" in text
    assert "哈希链校验完整" in text
    assert [(m, g) for m, g, _u in summary.months if g] == [
        (3, Decimal("123.456")),
        (7, Decimal("12000.500")),
    ]


def test_a_broken_chain_is_reported_in_the_summary(seeded: Seeded) -> None:
    summary = annual_summary(enterprise=seeded.world.plant, year=2025)
    summary.chain_problem = "第2条记录（测试）：hash mismatch"
    text = _text(annual_summary_pdf(summary))
    assert "哈希链校验发现问题" in text
    assert "完整" not in text


def test_the_year_is_chosen_among_the_years_with_entries(seeded: Seeded) -> None:
    client = seeded.world.client("owner")
    page = client.get(f"/enterprises/{seeded.code('plant')}/ledger/export/")
    html = page.content.decode()
    assert page.context["years"] == [2024, 2025]
    assert '<option value="2025">2025</option>' in html
    assert client.get(_url(seeded), {"year": "2023"}).status_code == 404
    assert client.get(_url(seeded), {"year": "abc"}).status_code == 404
    other_year = _text(client.get(_url(seeded), {"year": "2024"}).content)
    assert "2024年" in other_year
    assert "12,000.500" not in other_year


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("owner", 200),
        ("reader", 200),
        ("league_regulator", 200),
        ("province_regulator", 200),
        ("outsider", 404),
        ("other_league_regulator", 404),
        ("carrier", 404),
        ("anonymous", 302),
    ],
)
def test_only_who_may_see_the_ledger_gets_its_summary(
    seeded: Seeded, persona: str, status: int
) -> None:
    response = seeded.world.client(persona).get(_url(seeded), {"year": "2025"})
    assert response.status_code == status
    if status != 200:
        assert b"%PDF" not in response.content

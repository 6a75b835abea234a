"""Who sees what on the server-rendered pages (``xunhuan/web/urls.py`` and the login page).

The anonymous home page is a landing page by design (no data, a login link);
every other page needs a login. An enterprise nobody may see is a 404, and its
names, codes and quantities never appear on any page the persona can load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import URLPattern

from tests.access_support import (
    ENTERPRISES,
    PERSONAS,
    PLANT_PAGE_TEXT,
    PLANT_QUANTITIES,
    PLANT_SECRETS,
    VISIBLE,
    Seeded,
    new_credit_code,
    seed,
)
from tests.conftest import World
from tests.test_web_workspace import WORKSPACE_PAGES
from xunhuan.registry.models import Enterprise
from xunhuan.web import urls as web_urls

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

NAMES = {
    "plant": "准格尔测试电厂",
    "outsider": "包头测试铝厂",
    "carrier": "鄂尔多斯测试运输公司",
    "receiver": "准格尔测试建材厂",
    "disposer": "测试处置场",
}
LOGIN = "/accounts/login/"
# Personas with no tie to the plant at all (the receiver is its counterparty and
# legitimately sees the plant's name on its own receipts).
STRANGERS = ("outsider", "carrier", "driver", "other_league_regulator")


@pytest.fixture
def seeded(world: World) -> Seeded:
    return seed(world)


def page(seeded: Seeded, persona: str, url: str) -> TestResponse:
    return seeded.world.client(persona).get(url)


def text(response: TestResponse) -> str:
    return response.content.decode()


def enterprise_url(seeded: Seeded, name: str) -> str:
    return f"/enterprises/{seeded.code(name)}/"


def test_every_web_url_is_covered() -> None:
    """A new page in xunhuan/web/urls.py must be added to these tests."""
    names = {p.name for p in web_urls.urlpatterns if isinstance(p, URLPattern)}
    # The workspace pages are covered persona by persona in test_web_workspace.py,
    # the dashboard in test_web_dashboard.py, transfers in test_web_transfers.py, the
    # anonymous public aggregates in test_public_aggregates.py, the exchange pages in
    # test_exchange_web.py, the findings queue in test_compliance_web.py, the annual
    # summary PDF in test_web_pdf.py, target management in
    # test_statistics_targets_manage.py.
    assert names == {
        "home",
        "enterprise",
        "dashboard",
        "targets",
        "transfers",
        "transfer",
        "public",
        "exchange_runs",
        "exchange_run",
        "exchange_flow_accept",
        "findings",
        "finding",
        "findings_export",
        "enterprise_findings",
        "annual_summary",
        *WORKSPACE_PAGES,
    }
    assert len(web_urls.urlpatterns) == len(names)


# --- anonymous ---------------------------------------------------------------------


def test_anonymous_gets_the_landing_page_without_any_data(seeded: Seeded) -> None:
    response = page(seeded, "anonymous", "/")
    assert response.status_code == 200
    assert f'href="{LOGIN}"' in text(response)
    for name in ENTERPRISES:
        assert NAMES[name] not in text(response)
        assert seeded.code(name) not in text(response)


@pytest.mark.parametrize("name", [*ENTERPRISES, "never-registered"])
def test_anonymous_is_sent_to_login_from_enterprise_pages(seeded: Seeded, name: str) -> None:
    url = f"/enterprises/{seeded.code(name) if name in ENTERPRISES else '911506220000000000'}/"
    response = page(seeded, "anonymous", url)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={url}"


def test_login_page_loads_and_logs_in(seeded: Seeded) -> None:
    client = Client()
    form = client.get(LOGIN)
    assert form.status_code == 200
    assert 'name="username"' in text(form)
    assert 'name="password"' in text(form)

    wrong = client.post(LOGIN, {"username": "owner", "password": "wrong-password-1"})
    assert wrong.status_code == 200  # the form again, with an error
    assert NAMES["plant"] not in text(client.get("/"))  # still the anonymous landing page

    right = client.post(LOGIN, {"username": "owner", "password": "correct-horse-battery"})
    assert right.status_code == 302
    assert right["Location"] == "/"
    assert NAMES["plant"] in text(client.get("/"))


# --- members -------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "colleague", "reader"])
def test_members_see_their_enterprise_page(seeded: Seeded, persona: str) -> None:
    response = page(seeded, persona, enterprise_url(seeded, "plant"))
    assert response.status_code == 200
    html = text(response)
    for shown in (*PLANT_PAGE_TEXT, *PLANT_QUANTITIES, seeded.code("plant")):
        assert shown in html, shown
    assert NAMES["receiver"] in html  # the hand-over's receiver
    # The badge loads after the page (it reads the whole chain).
    badge = page(seeded, persona, enterprise_url(seeded, "plant") + "chain/")
    assert "台账哈希链完整" in text(badge)
    assert NAMES["outsider"] not in html
    assert "77.777" not in html


def test_owner_home_lists_its_own_enterprise_only(seeded: Seeded) -> None:
    html = text(page(seeded, "owner", "/"))
    assert "本单位" in html
    assert f'href="{enterprise_url(seeded, "plant")}"' in html
    assert "可查看的企业（1）" in html
    for name in ENTERPRISES:
        assert (NAMES[name] in html) == (name == "plant"), name


# --- every persona x every enterprise ----------------------------------------------------


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "anonymous"])
def test_enterprise_pages_open_exactly_for_who_may_see_them(seeded: Seeded, persona: str) -> None:
    client = seeded.world.client(persona)
    opened = set()
    for name in ENTERPRISES:
        response = client.get(enterprise_url(seeded, name))
        assert response.status_code in (200, 404), (name, response.status_code)
        if response.status_code == 200:
            assert NAMES[name] in text(response)
            opened.add(name)
    assert opened == VISIBLE[persona]


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "anonymous"])
def test_home_lists_exactly_the_visible_enterprises(seeded: Seeded, persona: str) -> None:
    html = text(page(seeded, persona, "/"))
    assert f"可查看的企业（{len(VISIBLE[persona])}）" in html
    for name in ENTERPRISES:
        assert (NAMES[name] in html) == (name in VISIBLE[persona]), name
        linked = f'href="{enterprise_url(seeded, name)}"' in html
        assert linked == (name in VISIBLE[persona]), name


# --- regulators ------------------------------------------------------------------------


def count_row(city: str, code: str, enterprises: int) -> str:
    return f'{city}（{code}）</td><td class="num">{enterprises}<'


@pytest.mark.parametrize(
    ("persona", "title", "rows"),
    [
        ("league_regulator", "监管辖区：鄂尔多斯市", [count_row("鄂尔多斯市", "150600", 4)]),
        ("other_league_regulator", "监管辖区：包头市", [count_row("包头市", "150200", 1)]),
        (
            "province_regulator",
            "监管辖区：内蒙古自治区",
            [count_row("包头市", "150200", 1), count_row("鄂尔多斯市", "150600", 4)],
        ),
    ],
)
def test_regulators_home_shows_their_jurisdiction_only(
    seeded: Seeded, persona: str, title: str, rows: list[str]
) -> None:
    html = text(page(seeded, persona, "/"))
    assert title in html
    for row in rows:
        assert row in html
    assert html.count('<td class="num">') == len(rows)
    assert "本单位" not in html  # a regulator has no enterprise of its own


def test_league_regulator_reads_a_plant_in_its_banner(seeded: Seeded) -> None:
    html = text(page(seeded, "league_regulator", enterprise_url(seeded, "plant")))
    for shown in (*PLANT_PAGE_TEXT, *PLANT_QUANTITIES):
        assert shown in html


# --- strangers ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", STRANGERS)
def test_strangers_get_404_and_never_see_the_plant(seeded: Seeded, persona: str) -> None:
    client = seeded.world.client(persona)
    hidden = client.get(enterprise_url(seeded, "plant"))
    never_registered = client.get("/enterprises/911506220000000000/")
    assert hidden.status_code == 404
    assert (never_registered.status_code, never_registered.content) == (404, hidden.content)

    loadable = [hidden, client.get("/"), client.get(LOGIN)]
    loadable += [client.get(enterprise_url(seeded, name)) for name in VISIBLE[persona]]
    assert all(r.status_code in (200, 404) for r in loadable)
    leaked = {
        secret
        for response in loadable
        for secret in (*PLANT_SECRETS, *PLANT_QUANTITIES, seeded.code("plant"))
        if secret in text(response)
    }
    assert leaked == set()


def test_receiver_sees_the_plant_only_as_its_counterparty(seeded: Seeded) -> None:
    client = seeded.world.client("receiver")
    assert client.get(enterprise_url(seeded, "plant")).status_code == 404
    assert NAMES["plant"] not in text(client.get("/"))
    own = text(client.get(enterprise_url(seeded, "receiver")))
    assert NAMES["plant"] in own  # who handed the 20.125 t over
    for private in ("1号锅炉", "灰场", "BOILER1", "YARD1", "123.456", "63.135", "40.196"):
        assert private not in own


def test_a_new_enterprise_outside_the_jurisdiction_stays_hidden(seeded: Seeded) -> None:
    """Visibility follows the region tree, not a fixed list: a plant registered in 包头
    later is the 包头 regulator's, not the 鄂尔多斯 one's."""
    late = Enterprise.objects.create(
        credit_code=new_credit_code("150204"),
        name="后来登记的包头企业",
        industry_id="3216",
        region_id="150204",
        is_generator=True,
    )
    url = f"/enterprises/{late.credit_code}/"
    assert page(seeded, "league_regulator", url).status_code == 404
    assert page(seeded, "other_league_regulator", url).status_code == 200
    assert page(seeded, "province_regulator", url).status_code == 200
    assert "后来登记的包头企业" not in text(page(seeded, "league_regulator", "/"))

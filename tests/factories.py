"""factory_boy factories and small builders shared by the tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

import factory
import numpy as np
from django.contrib.auth import get_user_model

from xunhuan.accounts.models import Membership, Role
from xunhuan.core.exchange.network import Arcs
from xunhuan.core.uscc import make_credit_code
from xunhuan.ledger.rules import EntryDraft
from xunhuan.registry.models import Enterprise, Industry, Region, Site, WasteCategory

User = get_user_model()


def credit_code_for(n: int, region_code: str = "150602") -> str:
    """A valid GB 32100 code: 91 (enterprise, company) + region + 9-digit serial."""
    return make_credit_code(f"91{region_code}{n:09d}")


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    credit_code = factory.Sequence(lambda n: credit_code_for(n + 1000))
    name = factory.Sequence(lambda n: f"测试企业{n}有限公司")
    industry = factory.LazyFunction(lambda: Industry.objects.get(code="4411"))
    region = factory.LazyFunction(lambda: Region.objects.get(code="150622"))
    is_generator = True


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    enterprise = factory.SubFactory(EnterpriseFactory)
    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.Sequence(lambda n: f"车间{n}")
    kind = "production"


class YardFactory(SiteFactory):
    code = factory.Sequence(lambda n: f"Y{n:03d}")
    name = factory.Sequence(lambda n: f"贮存场{n}")
    kind = "storage"
    storage_class = "II"
    design_capacity = Decimal("500000.000")
    opened_on = dt.date(2020, 1, 1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")


def seat(
    user: Any,
    *,
    enterprise: Enterprise | None = None,
    region: str | None = None,
    role: str = Role.ADMIN,
) -> Membership:
    return Membership.objects.create(
        user=user,
        enterprise=enterprise,
        regulator_region=Region.objects.get(code=region) if region else None,
        role=role,
    )


def waste(code: str) -> WasteCategory:
    return WasteCategory.objects.get(code=code)


def draft(
    site: Site,
    kind: str = "generated",
    quantity: str = "10.000",
    *,
    waste_code: str = "SW02",
    day: dt.date = dt.date(2025, 3, 1),
    **extra: Any,
) -> EntryDraft:
    return EntryDraft(
        kind=kind,
        site=site,
        waste=waste(waste_code),
        quantity=Decimal(quantity),
        occurred_on=day,
        **extra,
    )


def make_enterprise(**fields: Any) -> Enterprise:
    return cast(Enterprise, EnterpriseFactory(**fields))


def make_site(**fields: Any) -> Site:
    return cast(Site, SiteFactory(**fields))


def make_yard(**fields: Any) -> Site:
    return cast(Site, YardFactory(**fields))


def make_user(**fields: Any) -> Any:
    return UserFactory(**fields)


def hand_arcs(arcs: list[tuple[int, int, int]]) -> Arcs:
    """Road arcs from (lot, receiver, fen per tonne) triples, without distances."""
    lot, receiver, cost = zip(*arcs, strict=True) if arcs else ((), (), ())
    n = len(arcs)
    return Arcs(
        lot=np.array(lot, dtype=np.int32),
        receiver=np.array(receiver, dtype=np.int32),
        mode=np.zeros(n, dtype=np.int8),
        km=np.zeros(n),
        rail_km=np.zeros(n),
        cost_fen_per_t=np.array(cost, dtype=np.int64),
    )

"""The demo region generator: deterministic, consistent across parties, and verifiable."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum

from xunhuan.accounts.selectors import enterprises_visible_to
from xunhuan.compliance.selectors import region_administered
from xunhuan.demo.archetypes import ARCHETYPES
from xunhuan.demo.generator import DemoSpec, DemoSummary, demo_load
from xunhuan.demo.places import LEAGUES, PARKS
from xunhuan.ledger.models import LedgerEntry, StockBalance
from xunhuan.ledger.verify import ledger_verify_all
from xunhuan.registry.models import Enterprise, FacilityCapacity, Park, Site

pytestmark = pytest.mark.django_db

SMALL = DemoSpec(enterprises=40, years=1, end=dt.date(2025, 6, 30))


class _Rollback(Exception):
    pass


def _snapshot(spec: DemoSpec) -> tuple[DemoSummary, dict[str, Any]]:
    """Load ``spec``, record what it made, then roll it all back."""
    captured: dict[str, Any] = {}
    summary = DemoSummary()
    try:
        with transaction.atomic():
            summary = demo_load(spec)
            captured["enterprises"] = list(
                Enterprise.objects.order_by("credit_code").values_list(
                    "credit_code", "name", "region_id", "industry_id", "park__name"
                )
            )
            captured["totals"] = list(
                LedgerEntry.objects.values("enterprise__credit_code", "kind", "waste_id")
                .annotate(total=Sum("quantity"))
                .order_by("enterprise__credit_code", "kind", "waste_id")
            )
            raise _Rollback
    except _Rollback:
        pass
    return summary, captured


def test_same_spec_gives_the_same_region() -> None:
    first_summary, first = _snapshot(SMALL)
    second_summary, second = _snapshot(SMALL)
    assert first == second
    assert first_summary.entries == second_summary.entries
    assert first_summary.entries > 1000
    _, other_seed = _snapshot(DemoSpec(enterprises=40, years=1, end=SMALL.end, seed=7))
    assert other_seed["enterprises"] != first["enterprises"]


def test_region_is_real_inner_mongolia() -> None:
    summary = demo_load(SMALL)
    assert summary.enterprises == Enterprise.objects.count() == 40
    # Every kind of enterprise is there, in a county of one of the 12 leagues.
    for enterprise in Enterprise.objects.select_related("region__parent"):
        assert enterprise.region.level == "county"
        assert enterprise.region.parent is not None
        assert enterprise.region.parent_id in LEAGUES
    assert set(Park.objects.values_list("name", flat=True)) == {p.name for p in PARKS}
    assert Enterprise.objects.filter(is_utilizer=True).count() >= 7
    assert Enterprise.objects.filter(is_disposer=True).count() >= 1
    assert Enterprise.objects.filter(is_carrier=True).count() >= 2
    for archetype in ARCHETYPES:
        assert Enterprise.objects.filter(
            industry_id__in=archetype.industries,
            **{f"is_{role}": True for role in archetype.roles},
        ).exists(), archetype.key
    # Utilizers declare what they can take, per waste.
    assert FacilityCapacity.objects.filter(site__kind="utilization").exists()


def test_ledgers_verify_and_every_handover_is_received() -> None:
    demo_load(SMALL)
    report = ledger_verify_all()
    assert report.problems == []
    assert report.entries == LedgerEntry.objects.count()
    assert not StockBalance.objects.filter(quantity__lt=0).exists()
    sent: dict[tuple[int, int, dt.date, str], Decimal] = defaultdict(Decimal)
    for row in LedgerEntry.objects.filter(kind="handed_over").values(
        "enterprise_id", "counterparty_id", "occurred_on", "waste_id", "quantity"
    ):
        key = (row["enterprise_id"], row["counterparty_id"], row["occurred_on"], row["waste_id"])
        sent[key] += row["quantity"]
    received: dict[tuple[int, int, dt.date, str], Decimal] = defaultdict(Decimal)
    for row in LedgerEntry.objects.filter(kind="received").values(
        "enterprise_id", "counterparty_id", "occurred_on", "waste_id", "quantity"
    ):
        key = (row["counterparty_id"], row["enterprise_id"], row["occurred_on"], row["waste_id"])
        received[key] += row["quantity"]
    assert sent
    assert sent == received
    # Receivers use or dispose of what they receive the same day: nothing piles up there.
    receiver_sites = Site.objects.filter(kind__in=["utilization", "disposal"])
    assert not StockBalance.objects.filter(site__in=receiver_sites, quantity__gt=0).exists()


def test_magnitudes_follow_the_provincial_scale() -> None:
    demo_load(SMALL)
    generated = LedgerEntry.objects.filter(kind="generated", occurred_on__year=2024).aggregate(
        total=Sum("quantity")
    )["total"]
    # About 3.3亿 t a year at 2,000 enterprises, scaled to 40.
    expected = Decimal(330_000_000) * 40 / 2000
    assert expected * Decimal("0.8") < generated < expected * Decimal("1.25")
    utilized = (
        LedgerEntry.objects.filter(
            occurred_on__year=2024,
            kind__in=["self_utilized", "handed_over"],
            purpose__in=["", "utilization"],
        )
        .exclude(site__kind="utilization")
        .aggregate(total=Sum("quantity"))["total"]
    )
    rate = utilized / generated
    assert Decimal("0.2") < rate < Decimal("0.6")


def test_demo_logins_are_scoped() -> None:
    summary = demo_load(SMALL)
    usernames = {login.username for login in summary.logins}
    assert {"admin", "neimenggu", "eerduosi", "baotou", "zhungeer", "coal-power"} <= usernames
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    league = enterprises_visible_to(users.get(username="eerduosi"))
    assert league.exists()
    assert set(league.values_list("region__parent_id", flat=True)) == {"150600"}
    province = enterprises_visible_to(users.get(username="neimenggu"))
    assert province.count() == Enterprise.objects.count()
    plant = enterprises_visible_to(users.get(username="coal-power"))
    assert plant.count() == 1
    assert users.get(username="coal-power").check_password("xunhuan-demo")
    # regulators act in their jurisdiction; the province's reader seat only reads
    reader = users.get(username="neimenggu-reader")
    assert enterprises_visible_to(reader).count() == Enterprise.objects.count()
    for login, region in [("neimenggu", "150000"), ("eerduosi", "150600"), ("zhungeer", "150622")]:
        assert region_administered(user=users.get(username=login), region_id=region)
    assert not region_administered(user=users.get(username="eerduosi"), region_id="150200")
    assert not region_administered(user=reader, region_id="150000")


def test_command_loads_once_and_prints_logins() -> None:
    out = io.StringIO()
    call_command(
        "demo_load", "--enterprises", "25", "--years", "1", "--end", "2025-03-31", stdout=out
    )
    text = out.getvalue()
    assert "25 家企业" in text
    assert "演示账号" in text
    assert "eerduosi" in text
    count = LedgerEntry.objects.count()
    again = io.StringIO()
    call_command("demo_load", stdout=again)
    assert "跳过" in again.getvalue()
    assert LedgerEntry.objects.count() == count


def test_spec_is_checked() -> None:
    with pytest.raises(ValueError, match="period"):
        demo_load(DemoSpec(enterprises=40, period="hour"))
    with pytest.raises(ValueError, match="at least"):
        demo_load(DemoSpec(enterprises=5))
    assert not Enterprise.objects.exists()

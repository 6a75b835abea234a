"""Targets as data, their evaluation, the yearly assessment (考核) and published figures.

Assessment data (year 2025 against 2024), hand-computed:

| league | 2024 gen/util | 2025 gen/util (prior) | rate 2024 → 2025 | stock 1 Jan → 31 Dec 2025 |
|---|---|---|---|---|
| 鄂尔多斯 150600 | the story in test_statistics | 50 / 60 (40) | 30.00 → 66.67 | 70 → 50: −28.57% |
| 包头 150200 | 100 / 50 | 100 / 60 | 50.00 → 60.00 | 50 → 90: +80% |
| 乌海 150300 | 100 / 80 | 100 / 70 | 80.00 → 70.00 | 20 → 50: +150% |

Scores (0–100 between the field's worst and best): rate 66.70 / 0 / 100, improvement
(36.67, 10.00, −10.00 points) 100 / 42.85 / 0, stock reduction (28.57, −80.00,
−150.00 %) 100 / 39.20 / 0. Weighted 0.5/0.3/0.2: 83.35, 20.70, 50.00.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import World
from tests.factories import draft, make_enterprise, make_site
from tests.test_statistics import post_story
from xunhuan.accounts.models import Membership, Role
from xunhuan.core.errors import PermissionDenied, ValidationFailed
from xunhuan.core.indicators import ScoringWeights
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Region
from xunhuan.statistics.models import PublishedFigure, Target
from xunhuan.statistics.selectors import (
    StatScope,
    assessment_table,
    published_figures_compare,
    targets_evaluate,
)
from xunhuan.statistics.services import published_figure_record, target_create

SEED = Path(__file__).resolve().parent.parent / "xunhuan/statistics/data/policy_targets_seed.csv"
TODAY = dt.date(2026, 3, 1)


@pytest.mark.django_db
def test_every_seed_target_is_loaded() -> None:
    with SEED.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert Target.objects.filter(is_seed=True).count() == len(rows) == 38
    loaded = {(t.region_code, t.year, t.indicator) for t in Target.objects.filter(is_seed=True)}
    assert loaded == {(r["region_code"], int(r["year"]), r["indicator"]) for r in rows}


@pytest.mark.django_db
def test_seed_targets_from_the_domain_readme() -> None:
    im_2015 = {
        t.indicator: t.threshold_percent
        for t in Target.objects.filter(region_code="150000", year=2015, metric="rate")
    }
    assert im_2015 == {
        "大宗工业固废综合利用率": Decimal("59.00"),
        "尾矿综合利用率": Decimal("10.00"),
        "煤矸石综合利用率": Decimal("75.00"),
        "粉煤灰综合利用率": Decimal("80.00"),
        "工业副产石膏综合利用率": Decimal("60.00"),
        "冶炼渣综合利用率": Decimal("75.00"),
    }
    four = Target.objects.get(region_code="140000", year=2022, metric="tonnes")
    assert four.threshold_tonnes == Decimal("120000000.000")
    assert sorted(g.code for g in four.waste_groups.all()) == [
        "byproduct_gypsum",
        "coal_gangue",
        "fly_ash",
        "smelting_slag",
    ]
    national = Target.objects.get(
        region_code="100000", year=2025, indicator="大宗工业固废综合利用率"
    )
    assert (national.scope, national.threshold_percent) == ("bulk", Decimal("57.00"))


def _league(code: str, county: str, years: dict[int, tuple[str, str]]) -> None:
    enterprise = make_enterprise(region=Region.objects.get(code=county))
    site = make_site(enterprise=enterprise)
    drafts = []
    for year, (generated, utilized) in years.items():
        day = dt.date(year, 5, 1)
        drafts.append(draft(site, "generated", generated, day=day))
        drafts.append(draft(site, "self_utilized", utilized, day=day, route="cement"))
    ledger_entries_post(enterprise=enterprise, drafts=drafts, today=TODAY)


@pytest.fixture
def leagues(world: World) -> World:
    post_story(world)
    _league("150200", "150203", {2024: ("100", "50"), 2025: ("100", "60")})
    _league("150300", "150302", {2024: ("100", "80"), 2025: ("100", "70")})
    return world


def test_assessment_of_the_leagues_hand_computed(leagues: World) -> None:
    province = Region.objects.get(code="150000")
    rows = assessment_table(scope=StatScope.everything(), region=province, year=2025)
    scored = [r for r in rows if r.score is not None]
    assert [(r.rank, r.region.code, r.score) for r in scored] == [
        (1, "150600", Decimal("83.35")),
        (2, "150300", Decimal("50.00")),
        (3, "150200", Decimal("20.70")),
    ]
    ordos, wuhai, baotou = scored
    assert (ordos.rate, ordos.rate_before, ordos.improvement) == (
        Decimal("66.67"),
        Decimal("30.00"),
        Decimal("36.67"),
    )
    assert (ordos.stock_start, ordos.stock_end, ordos.stock_reduction) == (
        Decimal("70.000"),
        Decimal("50.000"),
        Decimal("28.57"),
    )
    assert baotou.scores == {
        "rate": Decimal("0.00"),
        "improvement": Decimal("42.85"),
        "stock_reduction": Decimal("39.20"),
    }
    assert wuhai.stock_reduction == Decimal("-150.00")
    # the nine leagues without data: no rate, no score, no rank, listed after
    rest = [r for r in rows if r.score is None]
    assert len(rest) == 9
    assert all(r.rate is None and r.rank is None for r in rest)


def test_assessment_weights_are_configurable(leagues: World) -> None:
    province = Region.objects.get(code="150000")
    rows = assessment_table(
        scope=StatScope.everything(),
        region=province,
        year=2025,
        weights=ScoringWeights(rate=Decimal(0), improvement=Decimal(0), stock_reduction=Decimal(1)),
    )
    assert [(r.region.code, r.score) for r in rows if r.score is not None] == [
        ("150600", Decimal("100.00")),
        ("150200", Decimal("39.20")),
        ("150300", Decimal("0.00")),
    ]


def test_assessment_of_counties_in_a_league(leagues: World) -> None:
    rows = assessment_table(
        scope=StatScope.everything(), region=Region.objects.get(code="150600"), year=2025
    )
    assert [(r.region.code, r.rate, r.rank) for r in rows if r.rank] == [
        ("150622", Decimal("66.67"), 1)
    ]
    with pytest.raises(ValidationFailed):
        assessment_table(
            scope=StatScope.everything(), region=Region.objects.get(code="150622"), year=2025
        )


def test_tonnage_target_gap_and_projection(leagues: World) -> None:
    # an acting seat: read-only regulator seats set no targets (ADR 0016)
    Membership.objects.filter(user=leagues.users["league_regulator"]).update(role=Role.MEMBER)
    target_create(
        user=leagues.users["league_regulator"],
        region_code="150600",
        year=2026,
        plan="测试计划",
        indicator="粉煤灰利用量",
        scope="groups",
        metric="tonnes",
        waste_groups=["fly_ash"],
        threshold_tonnes=Decimal("100"),
    )
    ordos = Region.objects.get(code="150600")
    (mine,) = [
        e
        for e in targets_evaluate(scope=StatScope.everything(), region=ordos, year=2025)
        if e.target.year == 2026
    ]
    assert (mine.current, mine.gap_points, mine.gap_tonnes) == (
        Decimal("60.000"),
        None,
        Decimal("40.000"),
    )
    # 30 t in 2024, 60 t in 2025: +30 t a year reaches 100 t in 2027, after 2026
    assert (mine.reached_in, mine.status) == (2027, "red")


def test_target_outside_jurisdiction_is_refused(world: World) -> None:
    before = Target.objects.count()
    with pytest.raises(PermissionDenied):
        target_create(
            user=world.users["other_league_regulator"],
            region_code="150600",
            year=2026,
            plan="越权",
            indicator="x",
            scope="bulk",
            metric="rate",
            threshold_percent=Decimal("50"),
        )
    assert Target.objects.count() == before


def test_published_correction_supersedes_with_a_reason(world: World) -> None:
    post_story(world)
    regulator = world.users["league_regulator"]
    first = published_figure_record(
        user=regulator,
        region_code="150622",
        year=2025,
        source="公报",
        figures={"generated": Decimal("40")},
    )
    with pytest.raises(ValidationFailed):
        published_figure_record(
            user=regulator,
            region_code="150622",
            year=2025,
            source="公报（更正）",
            figures={"generated": Decimal("50")},
            supersedes=first,
        )
    published_figure_record(
        user=regulator,
        region_code="150622",
        year=2025,
        source="公报（更正）",
        figures={"generated": Decimal("50")},
        supersedes=first,
        reason="录入错误 / typing error",
    )
    assert PublishedFigure.objects.count() == 2
    (current,) = published_figures_compare(
        scope=StatScope.everything(), region=Region.objects.get(code="150622"), year=2025
    )
    assert current.figure.source == "公报（更正）"
    assert current.differences["generated"] == Decimal("0.000")
    assert current.ledger_rate == Decimal("66.67")

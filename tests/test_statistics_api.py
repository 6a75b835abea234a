"""Statistics API and CLI: who sees what, denied writes change nothing, exports, query counts."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.access_support import persist_passwords
from tests.conftest import World
from tests.factories import draft, make_enterprise, make_site
from tests.test_statistics import post_story
from xunhuan.accounts.models import Membership, Role
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Region
from xunhuan.statistics.models import PublishedFigure, Target

BASE = "/api/statistics"


@pytest.fixture
def story(world: World) -> World:
    persist_passwords(world)
    post_story(world)
    return world


def get(world: World, persona: str, path: str) -> Any:
    return world.client(persona).get(BASE + path)


def post(world: World, persona: str, path: str, body: dict[str, Any]) -> Any:
    return world.client(persona).post(
        BASE + path, data=json.dumps(body), content_type="application/json"
    )


# --- indicators: scoped sums --------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "enterprises"),
    [
        ("owner", {"plant"}),
        ("reader", {"plant"}),
        ("receiver", {"receiver"}),
        ("outsider", set()),
        ("league_regulator", {"plant", "receiver"}),
        ("other_league_regulator", set()),
        ("province_regulator", {"plant", "receiver"}),
    ],
)
def test_indicators_show_only_what_the_user_may_see(
    story: World, persona: str, enterprises: set[str]
) -> None:
    response = get(story, persona, "/indicators?by=enterprise&year=2025")
    assert response.status_code == 200
    body = response.json()
    ids = {getattr(story, name).pk: name for name in ("plant", "receiver")}
    assert {ids[row["keys"]["enterprise"]] for row in body["rows"]} == enterprises
    assert body["definition"].startswith("综合利用率 = 综合利用量 ÷ (产生量 + 综合利用往年贮存量)")
    if "plant" not in enterprises:
        assert "60.000" not in response.content.decode()


def test_indicators_values_for_the_league(story: World) -> None:
    body = get(story, "league_regulator", "/indicators?by=year&region=150600").json()
    rows = {row["keys"]["year"]: row for row in body["rows"]}
    assert rows[2025]["values"]["utilized"] == "60.000"
    assert rows[2025]["values"]["utilized_prior"] == "40.000"
    assert rows[2025]["utilization_rate"] == "66.67"
    assert rows[2025]["stock_on_hand"] is None  # a time grouping has no single stock


def test_indicators_anonymous_gets_nothing(story: World) -> None:
    response = get(story, "anonymous", "/indicators?by=year")
    assert response.status_code == 401
    assert "60.000" not in response.content.decode()


def test_indicators_unknown_grouping_is_a_field_error(story: World) -> None:
    response = get(story, "league_regulator", "/indicators?by=colour")
    assert response.status_code == 422
    assert response.json()["field"] == "by"


# --- exports ----------------------------------------------------------------------------


def test_excel_export_has_chinese_headers(story: World) -> None:
    from openpyxl import load_workbook

    response = get(story, "league_regulator", "/indicators/export?by=city,group&year=2025")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("盟市", "类别组", "产生量（吨）", "综合利用量（吨）")
    assert rows[0][-1] == "综合利用率（%）"
    assert rows[1][:2] == ("鄂尔多斯市", "粉煤灰")
    assert Decimal(str(rows[1][3])) == Decimal("60")


def test_csv_and_parquet_exports(story: World) -> None:
    import pyarrow.parquet as pq

    response = get(story, "league_regulator", "/indicators/export?by=year&format=csv")
    text = response.content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == "年"
    assert [r[0] for r in table[1:]] == ["2024", "2025", "2026"]
    response = get(story, "league_regulator", "/indicators/export?by=year&format=parquet")
    data = pq.read_table(io.BytesIO(response.content)).to_pylist()
    assert [(r["year"], r["utilized"], r["utilization_rate"]) for r in data] == [
        (2024, Decimal("30.000"), Decimal("30.00")),
        (2025, Decimal("60.000"), Decimal("66.67")),
        (2026, Decimal("10.000"), Decimal("100.00")),
    ]


def test_export_outsider_gets_an_empty_table(story: World) -> None:
    response = get(story, "outsider", "/indicators/export?by=year&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [["年", *rows[0][1:]]]  # the headers, no data
    assert rows[0][-1] == "综合利用率（%）"


# --- targets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("league_regulator", 200),
        ("province_regulator", 200),
        ("other_league_regulator", 404),
        ("owner", 404),
        ("outsider", 404),
        ("anonymous", 401),
    ],
)
def test_targets_only_for_the_regions_regulator(story: World, persona: str, status: int) -> None:
    response = get(story, persona, "/targets?region=150600&year=2025")
    assert response.status_code == status
    if status != 200:
        assert "66.67" not in response.content.decode()


def test_target_evaluation_for_the_league(story: World) -> None:
    body = get(story, "league_regulator", "/targets?region=150600&year=2025").json()
    by_indicator = {
        (r["target"]["region"], r["target"]["indicator"], r["target"]["year"]): r for r in body
    }
    # the province's 2025 bulk target (50%) applied to the league: fly ash is bulk
    bulk = by_indicator[("150000", "大宗固废综合利用率", 2025)]
    assert bulk["current"] == "66.67"
    assert bulk["status"] == "green"
    assert bulk["gap_points"] == "0.00"
    assert bulk["gap_tonnes"] == "0.000"
    # the national 2025 bulk target applies too
    assert ("100000", "大宗工业固废综合利用率", 2025) in by_indicator
    # a target the ledger cannot measure is listed without a status
    straw = by_indicator[("150000", "秸秆综合利用率", 2025)]
    assert (straw["status"], straw["current"]) == ("unknown", None)


def _target_body(region: str = "150622") -> dict[str, Any]:
    return {
        "region": region,
        "year": 2027,
        "plan": "准格尔旗粉煤灰专项行动",
        "indicator": "粉煤灰综合利用率",
        "scope": "groups",
        "metric": "rate",
        "waste_groups": ["fly_ash"],
        "threshold_percent": "85",
    }


def acting(world: World, persona: str) -> None:
    """Make a persona's regulator seat an acting one: read-only seats set no targets
    (ADR 0016)."""
    Membership.objects.filter(user=world.users[persona]).update(role=Role.MEMBER)


def test_regulator_adds_a_target_in_its_jurisdiction(story: World) -> None:
    acting(story, "league_regulator")
    response = post(story, "league_regulator", "/targets", _target_body())
    assert response.status_code == 201
    assert response.json()["waste_groups"] == ["fly_ash"]
    body = get(story, "league_regulator", "/targets?region=150622&year=2025").json()
    mine = next(r for r in body if r["target"]["region"] == "150622")
    # 2025: 60 ÷ 90 = 66.67%; 85% needs 0.85 × 90 − 60 = 16.5 t more
    assert (mine["current"], mine["gap_points"], mine["gap_tonnes"]) == ("66.67", "18.33", "16.500")
    # trend over 2024 (30%) and 2025 (66.67%): +36.67 points a year -> 2026
    assert (mine["reached_in"], mine["status"]) == (2026, "amber")


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("other_league_regulator", 403),
        ("league_regulator", 403),  # a read-only seat (ADR 0016)
        ("owner", 403),
        ("outsider", 403),
        ("anonymous", 401),
    ],
)
def test_denied_target_write_changes_nothing(story: World, persona: str, status: int) -> None:
    before = Target.objects.count()
    response = post(story, persona, "/targets", _target_body())
    assert response.status_code == status
    assert Target.objects.count() == before


def test_target_threshold_must_match_metric(story: World) -> None:
    acting(story, "league_regulator")
    before = Target.objects.count()
    body = {**_target_body(), "threshold_percent": "120"}
    response = post(story, "league_regulator", "/targets", body)
    assert response.status_code == 422
    assert response.json()["field"] == "threshold_percent"
    assert Target.objects.count() == before


# --- assessment and published figures ------------------------------------------------------


def test_assessment_access(story: World) -> None:
    assert get(story, "league_regulator", "/assessment?region=150600&year=2025").status_code == 200
    assert (
        get(story, "other_league_regulator", "/assessment?region=150600&year=2025").status_code
        == 404
    )
    assert get(story, "anonymous", "/assessment?region=150600&year=2025").status_code == 401


def test_assessment_export(story: World) -> None:
    from openpyxl import load_workbook

    path = "/assessment/export?region=150600&year=2025"
    response = get(story, "league_regulator", path)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("名次", "行政区划代码", "地区", "综合利用率（%）")
    ranked = [r for r in rows[1:] if r[0] == 1]
    assert [(r[1], r[2], Decimal(str(r[3]))) for r in ranked] == [
        ("150622", "准格尔旗", Decimal("66.67"))
    ]
    for persona, status in (("other_league_regulator", 404), ("owner", 404), ("anonymous", 401)):
        denied = get(story, persona, path)
        assert denied.status_code == status
        assert b"150622" not in denied.content


def test_published_figures_beside_the_ledger(story: World) -> None:
    response = post(
        story,
        "league_regulator",
        "/published",
        {
            "region": "150622",
            "year": 2025,
            "source": "准格尔旗2025年环境统计公报",
            "generated": "52",
            "utilized": "60",
            "rate_percent": "65.20",
        },
    )
    assert response.status_code == 201
    body = get(story, "league_regulator", "/published?region=150622&year=2025").json()
    assert len(body) == 1
    assert body[0]["differences"]["generated"] == "2.000"
    assert body[0]["differences"]["utilized"] == "0.000"
    assert body[0]["differences"]["disposed"] is None
    assert (body[0]["published_rate"], body[0]["ledger_rate"]) == ("65.20", "66.67")


@pytest.mark.parametrize(
    ("persona", "status"), [("other_league_regulator", 403), ("owner", 403), ("anonymous", 401)]
)
def test_denied_published_write_changes_nothing(story: World, persona: str, status: int) -> None:
    response = post(
        story,
        persona,
        "/published",
        {"region": "150622", "year": 2025, "source": "x", "generated": "1"},
    )
    assert response.status_code == status
    assert PublishedFigure.objects.count() == 0
    assert get(story, persona, "/published?region=150622&year=2025").status_code in (401, 404)


# --- query counts -------------------------------------------------------------------------


def add_generators(n: int) -> None:
    county = Region.objects.get(code="150622")
    for i in range(n):
        enterprise = make_enterprise(name=f"统计批量企业{i}", region=county)
        site = make_site(enterprise=enterprise)
        ledger_entries_post(
            enterprise=enterprise,
            drafts=[draft(site, "generated", "1.000", day=dt.date(2025, 1 + i % 12, 1))],
            today=dt.date(2026, 1, 1),
        )


def _count(world: World, path: str) -> int:
    client = world.client("province_regulator")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(BASE + path)
    assert response.status_code == 200
    return len(queries)


# Every request: session, user; the scope: regulated paths, own seats. Indicators: the
# region, the table, stock (no time grouping), one per named grouping. Targets,
# assessment, published: the jurisdiction check (2), then their own fixed reads.
PATHS = {
    "/indicators?by=enterprise,month&region=150000&year=2025": 7,
    "/indicators?by=city,group&region=150000&year=2025": 9,
    "/indicators?by=route&year=2025": 5,
    "/targets?region=150000&year=2025": 10,
    "/assessment?region=150000&year=2025": 8,
    "/published?region=150000&year=2025": 8,
}


@pytest.mark.parametrize("path", list(PATHS))
def test_query_counts_do_not_grow_with_rows(world: World, path: str) -> None:
    persist_passwords(world)
    add_generators(5)
    small = _count(world, path)
    add_generators(25)
    large = _count(world, path)
    assert small == large == PATHS[path]


# --- CLI ----------------------------------------------------------------------------------


def test_cli_table_and_export(
    story: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("stats", "--region", "150000", "--year", "2025", "--by", "group")
    out = capsys.readouterr().out
    assert "类别组\t产生量（吨）" in out
    assert "粉煤灰\t50.000\t60.000\t40.000" in out
    target = tmp_path / "stats.xlsx"
    call_command(
        "stats", "--region", "150000", "--by", "city", "--format", "xlsx", "--output", str(target)
    )
    assert target.read_bytes()[:2] == b"PK"
    with pytest.raises(CommandError):
        call_command("stats", "--region", "999999")


# Every statistics operation and the tests above that prove who may use it
# (tests/test_api_access.py leaves /api/statistics to this file).
ACCESS_TESTED = {
    ("GET", "/api/statistics/indicators"): "test_indicators_show_only_what_the_user_may_see",
    ("GET", "/api/statistics/indicators/export"): "test_export_outsider_gets_an_empty_table",
    ("GET", "/api/statistics/targets"): "test_targets_only_for_the_regions_regulator",
    ("POST", "/api/statistics/targets"): "test_denied_target_write_changes_nothing",
    ("GET", "/api/statistics/assessment"): "test_assessment_access",
    ("GET", "/api/statistics/assessment/export"): "test_assessment_export",
    ("GET", "/api/statistics/published"): "test_denied_published_write_changes_nothing",
    ("POST", "/api/statistics/published"): "test_denied_published_write_changes_nothing",
    # revising and retiring targets are tested in their own file (ADR 0016)
    ("POST", "/api/statistics/targets/{public_id}/revise"): (
        "tests.test_statistics_targets_manage:test_api_denied_revise_and_retire_change_nothing"
    ),
    ("POST", "/api/statistics/targets/{public_id}/retire"): (
        "tests.test_statistics_targets_manage:test_api_denied_revise_and_retire_change_nothing"
    ),
}


def _defined(name: str) -> bool:
    """A test of this module, or ``module:test`` of another one."""
    if ":" not in name:
        return name in globals()
    module, _, function = name.partition(":")
    return hasattr(importlib.import_module(module), function)


def test_every_statistics_operation_has_an_access_test() -> None:
    from xunhuan.api.api import api

    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if path.startswith("/api/statistics")
    }
    assert operations == set(ACCESS_TESTED)
    assert all(_defined(name) for name in ACCESS_TESTED.values())

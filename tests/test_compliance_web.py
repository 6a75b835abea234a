"""The findings pages: the regulator's queue (its jurisdiction only, filters, order,
Excel), one finding with its moves, and an enterprise's own findings. Denied moves
change nothing; allowed ones are audited; the queue's queries do not grow with rows."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from tests.conftest import World
from tests.factories import make_enterprise, make_yard
from tests.test_compliance_api import AS_OF, permanent_yards_found
from xunhuan.audit.models import AuditEvent
from xunhuan.compliance.models import Finding, FindingEvent
from xunhuan.compliance.services import compliance_run
from xunhuan.registry.models import Region

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db


@pytest.fixture
def found(world: World) -> dict[str, Finding]:
    return permanent_yards_found(world)


def listed(response: TestResponse) -> set[str]:
    body = response.content.decode()
    return {name for name in ("准格尔测试电厂", "包头测试铝厂") if name in body}


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("league_regulator", {"准格尔测试电厂"}),
        ("league_reader", {"准格尔测试电厂"}),
        ("other_league_regulator", {"包头测试铝厂"}),
        ("province_regulator", {"准格尔测试电厂", "包头测试铝厂"}),
        ("owner", {"准格尔测试电厂"}),
        ("outsider", {"包头测试铝厂"}),
        ("carrier", set()),
    ],
)
def test_the_queue_holds_the_jurisdiction_only(
    world: World, found: dict[str, Finding], persona: str, sees: set[str]
) -> None:
    response: TestResponse = world.client(persona).get("/compliance/")
    assert response.status_code == 200
    assert listed(response) == sees


@pytest.mark.parametrize("persona", ["outsider", "other_league_regulator", "carrier"])
def test_others_get_nothing_of_the_plants_finding(
    world: World, found: dict[str, Finding], persona: str
) -> None:
    client = world.client(persona)
    plant = found["plant"]
    assert client.get(f"/compliance/{plant.public_id}/").status_code == 404
    assert client.get(f"/enterprises/{world.plant.credit_code}/findings/").status_code == 404
    before = (Finding.objects.get(pk=plant.pk).status, FindingEvent.objects.count())
    response = client.post(f"/compliance/{plant.public_id}/", {"action": "resolve", "reason": "x"})
    assert response.status_code == 404
    assert (Finding.objects.get(pk=plant.pk).status, FindingEvent.objects.count()) == before
    export = client.get("/compliance/export.xlsx")
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    codes = {str(row[4]) for row in list(sheet.iter_rows(values_only=True))[1:]}
    assert world.plant.credit_code not in codes


def test_anonymous_is_sent_to_log_in(world: World, found: dict[str, Finding]) -> None:
    client = world.client("anonymous")
    for path in (
        "/compliance/",
        "/compliance/export.xlsx",
        f"/compliance/{found['plant'].public_id}/",
    ):
        assert client.get(path).status_code == 302


def test_a_regulator_resolves_and_the_move_is_audited(
    world: World, found: dict[str, Finding]
) -> None:
    plant = found["plant"]
    client = world.client("league_regulator")
    page: TestResponse = client.get(f"/compliance/{plant.public_id}/")
    body = page.content.decode()
    assert 'id="do-resolve"' in body
    assert 'id="do-waive"' in body
    assert "贮存场永久灰场（ZC09）登记为永久贮存场" in body
    response = client.post(
        f"/compliance/{plant.public_id}/",
        {"action": "resolve", "reason": "已改为临时贮存 / now temporary"},
    )
    assert response.status_code == 302
    plant.refresh_from_db()
    assert (plant.status, plant.status_reason) == ("resolved", "已改为临时贮存 / now temporary")
    assert list(
        FindingEvent.objects.filter(finding=plant)
        .order_by("pk")
        .values_list("to_status", "changed_by__username")
    ) == [("open", None), ("resolved", "league_regulator")]
    event = AuditEvent.objects.get(action="compliance.finding_resolved")
    assert (event.actor, event.enterprise, event.before) == (
        world.users["league_regulator"],
        world.plant,
        {"status": "open", "reason": ""},
    )
    # Resolved findings leave the default (active) queue and show under "resolved".
    assert listed(client.get("/compliance/")) == set()
    assert listed(client.get("/compliance/?status=resolved")) == {"准格尔测试电厂"}


def test_a_waiver_needs_a_reason_and_a_reader_seat_moves_nothing(
    world: World, found: dict[str, Finding]
) -> None:
    plant = found["plant"]
    url = f"/compliance/{plant.public_id}/"
    reader = world.client("league_reader")
    assert 'id="do-resolve"' not in reader.get(url).content.decode()
    refused: TestResponse = reader.post(url, {"action": "waive", "reason": "试点"}, follow=True)
    assert "只读席位不能豁免" in refused.content.decode()
    empty: TestResponse = world.client("league_regulator").post(
        url, {"action": "waive", "reason": "  "}, follow=True
    )
    assert "请填写原因" in empty.content.decode()
    plant.refresh_from_db()
    assert plant.status == "open"
    assert FindingEvent.objects.filter(finding=plant).count() == 1
    assert not AuditEvent.objects.filter(action__startswith="compliance.finding_").exists()


def test_the_enterprise_acknowledges_on_its_own_findings_page(
    world: World, found: dict[str, Finding]
) -> None:
    own: TestResponse = world.client("owner").get(
        f"/enterprises/{world.plant.credit_code}/findings/"
    )
    assert listed(own) == {"准格尔测试电厂"}
    plant = found["plant"]
    page = world.client("owner").get(f"/compliance/{plant.public_id}/").content.decode()
    assert 'id="do-acknowledge"' in page
    assert 'id="do-resolve"' not in page
    world.client("owner").post(f"/compliance/{plant.public_id}/", {"action": "acknowledge"})
    plant.refresh_from_db()
    assert plant.status == "acknowledged"
    # The enterprise's reader seat sees the finding but gets no move.
    reader = world.client("reader").get(f"/compliance/{plant.public_id}/").content.decode()
    assert 'id="do-acknowledge"' not in reader


def test_filters_order_and_export(world: World, found: dict[str, Finding]) -> None:
    compliance_run(rule_ids=["YARD-PERMANENT"], as_of=AS_OF)
    client = world.client("province_regulator")
    assert listed(client.get("/compliance/?region=150200")) == {"包头测试铝厂"}
    assert listed(client.get("/compliance/?rule=YARD-3Y")) == set()
    assert listed(client.get("/compliance/?severity=3")) == {"准格尔测试电厂", "包头测试铝厂"}
    assert listed(client.get("/compliance/?severity=1")) == set()
    by_age = client.get("/compliance/?order=age").content.decode()
    assert by_age.index("准格尔测试电厂") < by_age.index("包头测试铝厂")
    export: TestResponse = client.get("/compliance/export.xlsx?region=150200")
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert [row[:4] for row in rows[1:]] == [
        ("YARD-PERMANENT", "设置永久贮存场", "高", "包头测试铝厂")
    ]


def test_queue_queries_do_not_grow_with_rows(world: World, found: dict[str, Finding]) -> None:
    client = world.client("province_regulator")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/compliance/").status_code == 200
        return len(captured)

    few = queries()
    region = Region.objects.get(code="150622")
    for i in range(12):
        enterprise = make_enterprise(name=f"查询计数{i}", region=region)
        make_yard(enterprise=enterprise, code="ZC09", is_permanent=True)
    compliance_run(rule_ids=["YARD-PERMANENT"], as_of=AS_OF)
    assert Finding.objects.count() == 14
    assert queries() == few

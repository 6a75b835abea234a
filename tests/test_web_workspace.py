"""The enterprise workspace pages: who may open each one, entry and correction forms
through the ledger services, history showing corrections, Excel in and out, progress
of background imports, and query counts that do not grow with the rows shown."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from tests.access_support import (
    PERSONAS,
    PLANT_READERS,
    PLANT_WRITERS,
    Seeded,
    counts_changed,
    seed,
    snapshot,
    stock_of,
)
from tests.factories import draft
from xunhuan.imports import services as import_services
from xunhuan.imports.exports import ledger_template_workbook
from xunhuan.imports.models import ImportSession, SessionStatus
from xunhuan.jobs.models import Job, JobStatus
from xunhuan.jobs.services import jobs_work
from xunhuan.ledger.models import LedgerEntry
from xunhuan.ledger.services import ledger_entries_post

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

# name -> (who may open it: "read" = anyone who sees the plant, "write" = its writers; method)
WORKSPACE_PAGES: dict[str, tuple[str, str]] = {
    "chain_badge": ("read", "get"),
    "ledger": ("read", "get"),
    "ledger_export": ("read", "get"),
    "entry_new": ("write", "get"),
    "entry_correct": ("write", "get"),
    "imports": ("write", "get"),
    "import_template": ("write", "get"),
    "import_session": ("write", "get"),
    "import_progress": ("write", "get"),
    "import_commit": ("write", "post"),
}
LOGIN = "/accounts/login/"


@pytest.fixture
def seeded(world: object) -> Seeded:
    return seed(world)  # type: ignore[arg-type]


def base(seeded: Seeded) -> str:
    return f"/enterprises/{seeded.code('plant')}/"


def template_with(seeded: Seeded, sheet: str, rows: list[list[object]]) -> bytes:
    book = load_workbook(io.BytesIO(ledger_template_workbook(enterprise=seeded.world.plant)))
    for row in rows:
        book[sheet].append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def gen_row(day: str, quantity: object, site: str = "BOILER1") -> list[object]:
    return ["", day, site, "", "SW02", quantity, ""]


def plant_session(seeded: Seeded) -> ImportSession:
    return import_services.import_session_create(
        enterprise=seeded.world.plant,
        filename="plant.xlsx",
        content=template_with(seeded, "产生环节", [gen_row("2025-04-01", 1)]),
    )


def url_of(seeded: Seeded, name: str, session: ImportSession) -> str:
    tail = {
        "chain_badge": "chain/",
        "ledger": "ledger/",
        "ledger_export": "ledger/export/",
        "entry_new": "ledger/new/",
        "entry_correct": f"ledger/{seeded.entry_id('p1')}/correct/",
        "imports": "imports/",
        "import_template": "imports/template/",
        "import_session": f"imports/{session.public_id}/",
        "import_progress": f"imports/{session.public_id}/progress/",
        "import_commit": f"imports/{session.public_id}/commit/",
    }[name]
    return base(seeded) + tail


def expected_status(persona: str, rule: str, method: str) -> int:
    if persona == "anonymous":
        return 302
    if persona not in PLANT_READERS:
        return 404
    if rule == "write" and persona not in PLANT_WRITERS:
        return 403
    return 302 if method == "post" else 200


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_workspace_page_opens_exactly_for_who_may_use_it(
    seeded: Seeded, persona: str
) -> None:
    session = plant_session(seeded)
    client = seeded.world.client(persona)
    before = snapshot()
    got = {}
    for name, (_rule, method) in WORKSPACE_PAGES.items():
        url = url_of(seeded, name, session)
        response = client.post(url) if method == "post" else client.get(url)
        got[name] = response.status_code
        if persona == "anonymous":
            assert response["Location"] == f"{LOGIN}?next={url}"
        if response.status_code in (403, 404):
            for secret in ("BOILER1", "123.456", "plant.xlsx"):
                assert secret not in response.content.decode()
    assert got == {
        name: expected_status(persona, rule, method)
        for name, (rule, method) in WORKSPACE_PAGES.items()
    }
    assert snapshot() == before


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p not in PLANT_WRITERS])
def test_denied_writes_change_nothing(seeded: Seeded, persona: str) -> None:
    session = import_services.import_session_check(session=plant_session(seeded))
    assert session.status == SessionStatus.CHECKED
    client = seeded.world.client(persona)
    before = snapshot()
    sessions_before = ImportSession.objects.count()
    entry = {
        "kind": "generated",
        "occurred_on": "2025-04-01",
        "site": "BOILER1",
        "waste_code": "SW02",
        "quantity": "5",
        "idempotency_key": "k1",
    }
    responses = [
        client.post(base(seeded) + "ledger/new/", entry),
        client.post(
            base(seeded) + f"ledger/{seeded.entry_id('p1')}/correct/",
            {**entry, "reason": "试图更正"},
        ),
        client.post(
            base(seeded) + "imports/",
            {"file": io.BytesIO(template_with(seeded, "产生环节", [gen_row("2025-04-02", 2)]))},
        ),
        client.post(base(seeded) + f"imports/{session.public_id}/commit/"),
    ]
    assert {r.status_code for r in responses} <= {302, 403, 404}
    assert snapshot() == before
    assert ImportSession.objects.count() == sessions_before
    session.refresh_from_db()
    assert session.status == SessionStatus.CHECKED


# --- entry form ---------------------------------------------------------------------------


def post_entry(seeded: Seeded, persona: str = "owner", **fields: str) -> TestResponse:
    data = {
        "kind": "generated",
        "occurred_on": "2025-04-01",
        "site": "BOILER1",
        "waste_code": "SW02",
        "quantity": "5.5",
        "idempotency_key": fields.pop("key", "form-1"),
        **fields,
    }
    return seeded.world.client(persona).post(base(seeded) + "ledger/new/", data)


def test_entry_form_posts_through_the_ledger(seeded: Seeded) -> None:
    before = stock_of(seeded.world.plant_site)
    response = post_entry(seeded, persona="colleague")
    assert response.status_code == 302
    assert response["Location"] == base(seeded) + "ledger/"
    entry = LedgerEntry.objects.filter(enterprise=seeded.world.plant).order_by("-seq").first()
    assert entry is not None
    assert (entry.kind, entry.quantity, entry.recorded_by_id) == (
        "generated",
        Decimal("5.500"),
        seeded.world.users["colleague"].pk,
    )
    assert stock_of(seeded.world.plant_site) == before + Decimal("5.500")
    # The same form sent twice (a double click) posts once.
    post_entry(seeded, persona="colleague")
    assert LedgerEntry.objects.filter(enterprise=seeded.world.plant).count() == 4


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"quantity": "-3"}, "quantity", "数量必须大于0"),
        ({"quantity": "abc"}, "quantity", "not a quantity"),
        ({"kind": "storage_in"}, "to_site", "入库/出库须注明目的设施"),
        ({"kind": "handed_over"}, "counterparty", "须注明接收单位"),
        ({"occurred_on": "2099-01-01"}, "occurred_on", "晚于今天"),
        ({"kind": "self_utilized", "quantity": "9999"}, "route", "须注明利用方式"),
        (
            {"kind": "self_utilized", "quantity": "9999", "route": "cement"},
            "quantity",
            "库存不足",
        ),
        ({"counterparty": "91150622MA0000000X"}, "counterparty", ""),
    ],
    ids=["negative", "text", "no-to-site", "no-receiver", "future", "no-route", "stock", "code"],
)
def test_entry_form_shows_refusals_on_their_field(
    seeded: Seeded, fields: dict[str, str], field: str, message: str
) -> None:
    before = snapshot()
    response = post_entry(seeded, **fields)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert f'id="err-{field}"' in response.content.decode()
    assert snapshot() == before


# --- history and corrections -------------------------------------------------------------


def test_correction_is_a_reversal_and_a_replacement_shown_as_such(seeded: Seeded) -> None:
    client = seeded.world.client("owner")
    url = base(seeded) + f"ledger/{seeded.entry_id('p3')}/correct/"
    form = client.get(url)
    assert form.status_code == 200
    assert form.context["form"].initial["quantity"] == Decimal("20.125")
    fields = {
        "reason": "地磅读数有误",
        "kind": "handed_over",
        "occurred_on": "2025-03-03",
        "site": "YARD1",
        "waste_code": "SW02",
        "counterparty": seeded.code("receiver"),
        "purpose": "utilization",
        "route": "cement",
        "quantity": "18.125",
        "idempotency_key": "fix-1",
    }
    response = client.post(url, fields)
    assert response.status_code == 302
    reversal, replacement = LedgerEntry.objects.filter(enterprise=seeded.world.plant).order_by(
        "-seq"
    )[:2][::-1]
    assert (reversal.seq, reversal.reverses_id, reversal.quantity) == (
        4,
        seeded.entries["p3"].pk,
        Decimal("-20.125"),
    )
    assert (replacement.seq, replacement.corrects_id, replacement.quantity) == (
        5,
        seeded.entries["p3"].pk,
        Decimal("18.125"),
    )
    assert stock_of(seeded.world.plant_yard) == Decimal("42.196")  # 60.321 - 18.125

    html = client.get(base(seeded) + "ledger/").content.decode()
    assert '<tr id="entry-4" class="reversal">' in html
    assert '<tr id="entry-5" class="replacement">' in html
    assert '<tr id="entry-3" class="corrected">' in html
    assert "冲销</span> #3：地磅读数有误" in html
    assert "更正</span> #3：地磅读数有误" in html
    assert "已被冲销 #4" in html
    # An entry that was reversed offers no second correction.
    assert f"ledger/{seeded.entry_id('p3')}/correct/" not in html
    again = client.post(url, {"reason": "再改", "reverse_only": "on", "idempotency_key": "fix-2"})
    assert again.status_code == 200
    assert "已被冲销" in " ".join(again.context["form"].non_field_errors())


def test_a_correction_that_would_take_stock_below_zero_is_refused(seeded: Seeded) -> None:
    # Reversing the 123.456 t generated would remove more than the 63.135 t left at BOILER1.
    client = seeded.world.client("owner")
    before = snapshot()
    response = client.post(
        base(seeded) + f"ledger/{seeded.entry_id('p1')}/correct/",
        {"reason": "重复记录", "reverse_only": "on", "idempotency_key": "x"},
    )
    assert response.status_code == 200
    assert "库存不足" in " ".join(response.context["form"].errors["quantity"])
    assert snapshot() == before


def test_reverse_only_needs_a_reason(seeded: Seeded) -> None:
    client = seeded.world.client("owner")
    url = base(seeded) + f"ledger/{seeded.entry_id('p3')}/correct/"
    before = snapshot()
    response = client.post(url, {"reason": "", "reverse_only": "on", "idempotency_key": "r"})
    assert list(response.context["form"].errors) == ["reason"]
    assert snapshot() == before
    done = client.post(url, {"reason": "未实际转出", "reverse_only": "on", "idempotency_key": "r"})
    assert done.status_code == 302
    assert counts_changed(before, snapshot()) == {"LedgerEntry": 1, "IdempotencyKey": 1}


def test_history_filters_by_kind_and_date(seeded: Seeded) -> None:
    client = seeded.world.client("league_regulator")
    response = client.get(base(seeded) + "ledger/", {"kind": "storage_in"})
    assert [e.seq for e, _ in response.context["entries"]] == [2]
    response = client.get(base(seeded) + "ledger/", {"date_from": "2025-03-02"})
    assert [e.seq for e, _ in response.context["entries"]] == [3, 2]
    assert "更正" not in response.content.decode().split("<tbody>")[1]  # readers get no link


# --- Excel in -----------------------------------------------------------------------------


def test_upload_shows_errors_by_sheet_row_and_column_then_a_fix_imports(seeded: Seeded) -> None:
    client = seeded.world.client("owner")
    bad = template_with(
        seeded, "产生环节", [gen_row("2025-04-01", 10), gen_row("2025-04-02", "-4")]
    )
    before = snapshot()
    upload = io.BytesIO(bad)
    upload.name = "四月台账.xlsx"
    response = client.post(base(seeded) + "imports/", {"file": upload}, follow=True)
    html = response.content.decode()
    assert response.context["session"].status == SessionStatus.INVALID
    assert '<td>产生环节</td><td class="num">3</td><td>产生量（吨）（F）</td>' in html
    assert "数量必须大于0" in html
    assert snapshot() == before

    fixed = io.BytesIO(
        template_with(seeded, "产生环节", [gen_row("2025-04-01", 10), gen_row("2025-04-02", 4)])
    )
    fixed.name = "四月台账.xlsx"
    response = client.post(base(seeded) + "imports/", {"file": fixed}, follow=True)
    session = response.context["session"]
    assert session.status == SessionStatus.CHECKED
    assert snapshot() == before  # checked, not booked
    response = client.post(base(seeded) + f"imports/{session.public_id}/commit/", follow=True)
    assert response.context["session"].status == SessionStatus.COMMITTED
    assert counts_changed(before, snapshot()) == {"LedgerEntry": 2}
    assert stock_of(seeded.world.plant_site) == Decimal("77.135")  # 63.135 + 14


def test_large_workbook_is_checked_and_committed_by_a_job(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_services, "INLINE_MAX_BYTES", 0)
    client = seeded.world.client("owner")
    rows = [gen_row(f"2025-04-{day:02d}", f"{day}.5") for day in range(1, 29)]
    upload = io.BytesIO(template_with(seeded, "产生环节", rows))
    upload.name = "big.xlsx"
    page = client.post(base(seeded) + "imports/", {"file": upload}, follow=True)
    session = page.context["session"]
    assert session.status == SessionStatus.CHECKING
    progress_url = base(seeded) + f"imports/{session.public_id}/progress/"
    assert f'hx-get="{progress_url}"' in page.content.decode()
    polled = client.get(progress_url)
    assert "HX-Refresh" not in polled
    assert '<progress max="100" value="0">' in polled.content.decode()

    assert jobs_work() == 1
    session.refresh_from_db()
    assert session.status == SessionStatus.CHECKED
    job = Job.objects.get(kind=import_services.JOB_CHECK, target_id=str(session.pk))
    assert (job.status, job.progress_done, job.progress_total) == (JobStatus.DONE, 28, 28)
    assert client.get(progress_url)["HX-Refresh"] == "true"

    client.post(base(seeded) + f"imports/{session.public_id}/commit/")
    session.refresh_from_db()
    assert session.status == SessionStatus.COMMITTING
    assert jobs_work() == 1
    session.refresh_from_db()
    assert (session.status, session.created_entries) == (SessionStatus.COMMITTED, 28)
    commit_job = Job.objects.get(kind=import_services.JOB_COMMIT)
    assert commit_job.created_by_id == seeded.world.users["owner"].pk
    assert (
        LedgerEntry.objects.filter(enterprise=seeded.world.plant, import_batch=session.batch)
        .values_list("recorded_by_id", flat=True)
        .distinct()
        .get()
        == seeded.world.users["owner"].pk
    )


def test_template_download_is_an_xlsx_with_the_sites(seeded: Seeded) -> None:
    response = seeded.world.client("owner").get(base(seeded) + "imports/template/")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    codes = [r[0] for r in book["设施清单"].iter_rows(min_row=2, values_only=True)]
    assert codes == ["BOILER1", "YARD1"]
    streams = [r[:3] for r in book["产生清单"].iter_rows(min_row=2, values_only=True)]
    assert streams == [("FA1", "粉煤灰产生线", "SW02")]


# --- Excel out ----------------------------------------------------------------------------


def test_export_writes_the_period_in_the_official_tables(seeded: Seeded) -> None:
    client = seeded.world.client("league_regulator")
    response = client.get(
        base(seeded) + "ledger/export/", {"date_from": "2025-03-02", "date_to": "2025-03-31"}
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert list(book["产生环节"].iter_rows(min_row=2, values_only=True)) == []
    storage = list(book["贮存环节"].iter_rows(min_row=2, values_only=True))
    assert [r[1:7] for r in storage] == [
        (dt.datetime(2025, 3, 2), "入库", "BOILER1", "YARD1", "SW02", 60.321)  # noqa: DTZ001
    ]
    handed = list(book["委托利用处置环节"].iter_rows(min_row=2, values_only=True))
    assert [(r[2], r[4], r[5], r[6], r[7], r[8], r[-1]) for r in handed] == [
        (
            "YARD1",
            20.125,
            seeded.code("receiver"),
            "准格尔测试建材厂",
            "利用",
            "水泥生产/水泥混合材",
            3,
        )
    ]


def test_export_marks_reversals(seeded: Seeded) -> None:
    from xunhuan.ledger.services import ledger_entry_correct

    ledger_entry_correct(entry=seeded.entries["p3"], reason="未实际转出")
    response = seeded.world.client("owner").get(
        base(seeded) + "ledger/export/", {"date_from": "2025-01-01", "date_to": "2025-12-31"}
    )
    handed = list(
        load_workbook(io.BytesIO(response.content))["委托利用处置环节"].iter_rows(
            min_row=2, values_only=True
        )
    )
    assert [(r[4], r[10], r[11]) for r in handed] == [
        (20.125, None, 3),  # an empty cell
        (-20.125, "冲销第3号记录：未实际转出", 4),
    ]


def test_export_refuses_a_reversed_period(seeded: Seeded) -> None:
    response = seeded.world.client("owner").get(
        base(seeded) + "ledger/export/", {"date_from": "2025-03-31", "date_to": "2025-03-01"}
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["date_to"]


# --- query counts -------------------------------------------------------------------------


def _queries(seeded: Seeded, url: str) -> int:
    client = seeded.world.client("owner")
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("tail", ["", "ledger/", "imports/"])
def test_workspace_queries_do_not_grow_with_rows(seeded: Seeded, tail: str) -> None:
    url = base(seeded) + tail
    few = _queries(seeded, url)
    world = seeded.world
    ledger_entries_post(
        enterprise=world.plant,
        drafts=[
            draft(world.plant_site, "generated", f"{n}.000", day=dt.date(2025, 4, n))
            for n in range(1, 26)
        ],
    )
    for n in range(3):
        import_services.import_session_create(
            enterprise=world.plant, filename=f"f{n}.xlsx", content=b"x"
        )
    assert _queries(seeded, url) == few


# --- language ------------------------------------------------------------------------------


def test_chinese_by_default_with_an_english_switch(seeded: Seeded) -> None:
    client = seeded.world.client("owner")
    url = base(seeded) + "ledger/"
    chinese = client.get(url).content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert ">台账记录</a>" in chinese
    switched = client.post("/i18n/setlang/", {"language": "en", "next": url})
    assert (switched.status_code, switched["Location"]) == (302, url)
    english = client.get(url).content.decode()
    assert '<html lang="en">' in english
    assert ">Ledger entries</a>" in english
    assert ">台账记录</a>" not in english
    assert "Ledger hash chain intact" in client.get(base(seeded) + "chain/").content.decode()


def test_an_english_browser_still_gets_chinese_until_the_user_switches(seeded: Seeded) -> None:
    client = seeded.world.client("owner")
    url = base(seeded) + "ledger/"
    html = client.get(url, headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    assert '<html lang="zh-hans">' in html
    assert ">台账记录</a>" in html
    client.post("/i18n/setlang/", {"language": "en", "next": url})
    html = client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"}).content.decode()
    assert '<html lang="en">' in html
    client.cookies["django_language"] = "fr"  # not offered: back to Chinese
    assert '<html lang="zh-hans">' in client.get(url).content.decode()


def test_a_failed_import_job_stops_the_progress_bar_and_says_why(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_services, "INLINE_MAX_BYTES", 0)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_services, "workbook_check", broken)
    client = seeded.world.client("owner")
    upload = io.BytesIO(template_with(seeded, "产生环节", [gen_row("2025-04-01", 1)]))
    upload.name = "x.xlsx"
    session = client.post(base(seeded) + "imports/", {"file": upload}, follow=True).context[
        "session"
    ]
    before = snapshot()
    assert jobs_work() == 1
    polled = client.get(base(seeded) + f"imports/{session.public_id}/progress/")
    assert polled["HX-Refresh"] == "true"
    html = client.get(base(seeded) + f"imports/{session.public_id}/").content.decode()
    assert "后台任务失败" in html
    assert 'hx-trigger="every 1s"' not in html
    assert "disk full" not in html  # internals stay in the log
    assert snapshot() == before


def test_front_end_assets_are_served_locally_from_npm(seeded: Seeded) -> None:
    from django.contrib.staticfiles import finders

    for asset in ("vendor/htmx/htmx.min.js", "vendor/echarts/echarts.min.js", "web/dashboard.js"):
        assert finders.find(asset) is not None, asset
    html = seeded.world.client("owner").get(base(seeded)).content.decode()
    assert '<script src="/static/vendor/htmx/htmx.min.js" defer></script>' in html
    assert "https://" not in html.split("<body")[0]  # nothing from a CDN in the head

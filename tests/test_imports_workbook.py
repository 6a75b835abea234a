"""Workbook import: the official template in, every error by sheet/row/column, a dry
run that books nothing, all-or-nothing commit, and the same rows never booked twice."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from tests.access_support import snapshot, stock_of
from tests.conftest import World
from xunhuan.imports.exports import ledger_template_workbook
from xunhuan.imports.models import ImportSession, SessionStatus
from xunhuan.imports.services import (
    import_session_check,
    import_session_commit,
    import_session_create,
)
from xunhuan.ledger.models import ImportBatch, LedgerEntry

TODAY = dt.date(2025, 6, 30)
GEN = "产生环节"
STORE = "贮存环节"
HAND = "委托利用处置环节"


def workbook(world: World, rows: dict[str, list[list[object]]]) -> bytes:
    """The plant's template with ``rows`` appended under each sheet's header."""
    book = load_workbook(io.BytesIO(ledger_template_workbook(enterprise=world.plant)))
    for sheet, lines in rows.items():
        for line in lines:
            book[sheet].append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def gen(
    day: object, quantity: object, *, site: str = "BOILER1", waste: str = "SW02"
) -> list[object]:
    # 批次编码 | 产生日期 | 产生设施编码 | 废物流编码 | 废物代码 | 产生量（吨） | 备注
    return ["", day, site, "", waste, quantity, ""]


def check(world: World, content: bytes) -> ImportSession:
    session = import_session_create(
        enterprise=world.plant, filename="t.xlsx", content=content, created_by=world.users["owner"]
    )
    return import_session_check(session=session, today=TODAY)


def errors(session: ImportSession) -> list[tuple[str, int, str, str]]:
    return [(e["sheet"], e["row"], e["column"], e["letter"]) for e in session.errors]


@pytest.fixture
def good(world: World) -> bytes:
    return workbook(
        world,
        {
            # Excel date cells come back as naive datetimes at midnight.
            GEN: [gen(dt.datetime(2025, 3, 1), 100.5), gen("2025-03-02", "20.125")],  # noqa: DTZ001
            STORE: [["B1", dt.date(2025, 3, 2), "入库", "BOILER1", "YARD1", "SW02", 60, "进灰场"]],
        },
    )


def test_template_has_the_guideline_tables_and_the_enterprise_sites(world: World) -> None:
    book = load_workbook(io.BytesIO(ledger_template_workbook(enterprise=world.plant)))
    assert book.sheetnames[:6] == [
        "填表说明",
        "产生环节",
        "接收环节",
        "贮存环节",
        "自行利用处置环节",
        "委托利用处置环节",
    ]
    sites = [tuple(r) for r in book["设施清单"].iter_rows(min_row=2, values_only=True)]
    assert sites == [("BOILER1", "1号锅炉", "产生设施/车间"), ("YARD1", "灰场", "贮存场")]
    assert [c.value for c in book[GEN][1]] == [
        "批次编码",
        "产生日期",
        "产生设施编码",
        "废物流编码",
        "废物代码",
        "产生量（吨）",
        "备注",
        "台账序号",
    ]
    assert book["填表说明"]["B4"].value == world.plant.credit_code


def test_dry_run_books_nothing_then_commit_books_all(world: World, good: bytes) -> None:
    before = snapshot()
    session = check(world, good)
    assert session.status == SessionStatus.CHECKED
    assert session.row_count == 3
    assert session.errors == []
    assert snapshot() == before

    session = import_session_commit(session=session, recorded_by=world.users["owner"], today=TODAY)
    assert session.status == SessionStatus.COMMITTED
    assert session.created_entries == 3
    entries = list(LedgerEntry.objects.filter(enterprise=world.plant).order_by("seq"))
    assert [(e.kind, e.quantity, e.occurred_on) for e in entries] == [
        ("generated", Decimal("100.500"), dt.date(2025, 3, 1)),
        ("generated", Decimal("20.125"), dt.date(2025, 3, 2)),
        ("storage_in", Decimal("60.000"), dt.date(2025, 3, 2)),
    ]
    assert entries[2].note == "进灰场"
    assert entries[2].batch_code == "B1"
    assert {e.import_batch_id for e in entries} == {session.batch_id}
    assert stock_of(world.plant_site) == Decimal("60.625")
    assert stock_of(world.plant_yard) == Decimal("60.000")
    assert bytes(session.content) == b""


def test_the_same_workbook_twice_changes_nothing(world: World, good: bytes) -> None:
    first = check(world, good)
    import_session_commit(session=first, recorded_by=world.users["owner"], today=TODAY)
    before = snapshot()
    second = check(world, good)
    assert second.status == SessionStatus.DUPLICATE
    assert second.batch_id == first.batch_id
    # Committing it anyway, or committing the first session again, books nothing.
    import_session_commit(session=second, recorded_by=world.users["owner"], today=TODAY)
    import_session_commit(session=first, recorded_by=world.users["owner"], today=TODAY)
    assert snapshot() == before
    assert ImportBatch.objects.filter(enterprise=world.plant).count() == 1


def test_wrong_template(world: World) -> None:
    book = Workbook()
    book.active.append(["日期", "数量"])
    book.active.append(["2025-03-01", 1])
    out = io.BytesIO()
    book.save(out)
    session = check(world, out.getvalue())
    assert session.status == SessionStatus.INVALID
    assert len(session.errors) == 1
    assert session.errors[0]["message"].startswith("不是本平台的台账模板")


def test_not_a_workbook(world: World) -> None:
    session = check(world, b"date,quantity\n2025-03-01,1\n")
    assert session.status == SessionStatus.INVALID
    assert session.errors[0]["message"].startswith("无法读取")


def test_missing_column(world: World) -> None:
    book = load_workbook(io.BytesIO(ledger_template_workbook(enterprise=world.plant)))
    book[GEN].delete_cols(6)  # 产生量（吨）
    book[GEN].append(["", "2025-03-01", "BOILER1", "", "SW02", ""])
    out = io.BytesIO()
    book.save(out)
    session = check(world, out.getvalue())
    assert session.status == SessionStatus.INVALID
    assert errors(session) == [(GEN, 1, "产生量（吨）", "")]
    assert session.errors[0]["message"] == "缺少必填列 / required column missing"


@pytest.mark.parametrize(
    ("row", "column", "letter", "message_start"),
    [
        (gen("2025-02-30", 1), "产生日期", "B", "日期格式应为YYYY-MM-DD"),
        (gen("3月1日", 1), "产生日期", "B", "日期格式应为YYYY-MM-DD"),
        (gen("2025-03-01", "十吨"), "产生量（吨）", "F", ""),
        (gen("2025-03-01", -5), "产生量（吨）", "F", "数量必须大于0"),
        (gen("2025-03-01", 0), "产生量（吨）", "F", "数量必须大于0"),
        (gen("2025-03-01", "1.0005"), "产生量（吨）", "F", ""),
        (gen("2025-03-01", 1, waste="SW99"), "废物代码", "E", "未知废物代码：SW99"),
        (gen("2025-03-01", 1, site="NOPE"), "产生设施编码", "C", "本单位无此设施编码：NOPE"),
        (gen("2025-07-01", 1), "产生日期", "B", "发生日期2025-07-01晚于今天"),
    ],
    ids=[
        "bad-date",
        "chinese-date",
        "non-numeric",
        "negative",
        "zero",
        "sub-kilogram",
        "unknown-waste",
        "unknown-site",
        "future",
    ],
)
def test_row_errors_name_sheet_row_and_column(
    world: World, row: list[object], column: str, letter: str, message_start: str
) -> None:
    content = workbook(world, {GEN: [gen("2025-03-01", 5), row]})
    before = snapshot()
    session = check(world, content)
    assert session.status == SessionStatus.INVALID
    assert errors(session) == [(GEN, 3, column, letter)]
    assert session.errors[0]["message"].startswith(message_start)
    assert snapshot() == before


def test_duplicate_row(world: World) -> None:
    content = workbook(
        world, {GEN: [gen("2025-03-01", 5), gen("2025-03-02", 6), gen("2025-03-01", 5)]}
    )
    session = check(world, content)
    assert errors(session) == [(GEN, 4, "-", "")]
    assert session.errors[0]["message"] == "与第2行完全相同，疑为重复录入 / duplicates row 2"


def test_every_error_is_listed_and_one_bad_row_books_nothing(world: World) -> None:
    content = workbook(
        world,
        {
            GEN: [gen("2025-03-01", 5), gen("2025-03-01", "x", site="NOPE")],
            HAND: [
                ["", "2025-03-03", "BOILER1", "SW02", 2, "911506220000000000", "", "利用", "", ""]
            ],
        },
    )
    before = snapshot()
    session = check(world, content)
    assert errors(session) == [
        (GEN, 3, "产生量（吨）", "F"),
        (GEN, 3, "产生设施编码", "C"),
        (HAND, 2, "接收单位统一社会信用代码", "F"),
    ]
    assert session.error_count == 3
    with pytest.raises(Exception, match="须先试导入"):
        import_session_commit(session=session, recorded_by=world.users["owner"], today=TODAY)
    assert snapshot() == before


def test_stock_is_checked_in_the_dry_run(world: World) -> None:
    # Storing 60 t that were never generated: only the ledger's stock check finds it.
    content = workbook(
        world, {STORE: [["", "2025-03-02", "入库", "BOILER1", "YARD1", "SW02", 60, ""]]}
    )
    before = snapshot()
    session = check(world, content)
    assert session.status == SessionStatus.INVALID
    assert errors(session) == [(STORE, 2, "数量（吨）", "G")]
    assert session.errors[0]["message"].startswith("库存不足")
    assert snapshot() == before


def test_hand_over_with_labels_is_booked_with_the_ledger_values(world: World) -> None:
    content = workbook(
        world,
        {
            GEN: [gen("2025-03-01", 30)],
            HAND: [
                [
                    "H1",
                    "2025-03-03",
                    "BOILER1",
                    "SW02",
                    "12.5",
                    world.receiver.credit_code,
                    world.receiver.name,
                    "利用",
                    "水泥生产/水泥混合材",
                    "",
                    "",
                ]
            ],
        },
    )
    session = import_session_commit(
        session=check(world, content), recorded_by=world.users["owner"], today=TODAY
    )
    assert session.status == SessionStatus.COMMITTED
    handed = LedgerEntry.objects.get(enterprise=world.plant, kind="handed_over")
    assert (handed.purpose, handed.route, handed.counterparty_id, handed.quantity) == (
        "utilization",
        "cement",
        world.receiver.pk,
        Decimal("12.500"),
    )


def test_old_upload_sessions_are_purged_on_the_next_upload(world: World, good: bytes) -> None:
    from django.utils import timezone

    from xunhuan.imports.services import KEEP_SESSIONS

    old = check(world, good)
    kept = check(world, good)
    ImportSession.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - KEEP_SESSIONS - dt.timedelta(days=1)
    )
    newest = import_session_create(enterprise=world.plant, filename="n.xlsx", content=good)
    assert set(ImportSession.objects.values_list("pk", flat=True)) == {kept.pk, newest.pk}

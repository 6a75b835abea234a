"""CSV import of ledger entries through its CLI: ``python -m xunhuan import`` and
``manage.py ledger_import_csv`` (``call_command``).

A good file imports; a file with one bad row saves nothing and names the row
(the header is row 1, as a spreadsheet shows it) and the column, in Chinese and
English; the same file twice changes nothing; ``--dry-run`` saves nothing.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from tests.factories import make_enterprise, make_site, make_yard
from xunhuan.__main__ import main
from xunhuan.core.uscc import ALPHABET
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import ChainHead, ImportBatch, LedgerEntry, StockBalance
from xunhuan.registry.models import Enterprise, Site

pytestmark = pytest.mark.django_db

HEADER = (
    "日期,类型,设施编码,废物代码,数量（吨）,目的设施编码,对方单位统一社会信用代码,"
    "用途,利用方式,处置方式,备注"
)


def keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m xunhuan`` closes every connection when the command ends, as a process
    should; in-process that would close the test's open transaction on PostgreSQL."""
    monkeypatch.setattr(connections, "close_all", lambda: None)


@dataclass
class Parties:
    plant: Enterprise
    boiler: Site
    yard: Site
    utilizer: Enterprise
    disposer: Enterprise
    carrier: Enterprise
    outsider: Enterprise


@pytest.fixture
def parties(db: None) -> Parties:
    plant = make_enterprise(name="导入测试电厂")
    outsider = make_enterprise(name="包头外单位")
    make_site(enterprise=outsider, code="POT1")
    return Parties(
        plant=plant,
        boiler=make_site(enterprise=plant, code="BOILER1"),
        yard=make_yard(enterprise=plant, code="YARD1"),
        utilizer=make_enterprise(name="导入测试建材厂", is_generator=False, is_utilizer=True),
        disposer=make_enterprise(name="导入测试处置场", is_generator=False, is_disposer=True),
        carrier=make_enterprise(name="导入测试运输公司", is_generator=False, is_carrier=True),
        outsider=outsider,
    )


def csv_file(tmp_path: Path, *rows: str, name: str = "台账.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def good_rows(p: Parties) -> list[str]:
    return [
        "2025-03-01,generated,BOILER1,SW02,100.000,,,,,,1号炉",
        "2025-03-02,入库贮存,BOILER1,SW02,60,YARD1,,,,,",
        f"2025-03-03,handed_over,YARD1,sw02,20.5,,{p.utilizer.credit_code},utilization,cement,,",
        '2025-03-04,产生,BOILER1,SW03,5,,,,,,"含逗号, 与换行\n第二行"',
    ]


def run(p: Parties, path: Path, *options: str) -> tuple[str, str]:
    """``call_command``; returns (stdout, stderr); raises ``CommandError`` as the command does."""
    out, err = StringIO(), StringIO()
    try:
        call_command(
            "ledger_import_csv",
            "--enterprise",
            p.plant.credit_code,
            str(path),
            *options,
            stdout=out,
            stderr=err,
        )
    except CommandError as exc:
        exc.args = (*exc.args, err.getvalue())
        raise
    return out.getvalue(), err.getvalue()


def state() -> tuple[object, ...]:
    return (
        LedgerEntry.objects.count(),
        ImportBatch.objects.count(),
        sorted(StockBalance.objects.values_list("site_id", "waste_id", "quantity")),
        sorted(ChainHead.objects.values_list("enterprise_id", "last_seq", "last_hash")),
    )


def test_a_good_file_imports_through_python_m_xunhuan(
    parties: Parties,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = csv_file(tmp_path, *good_rows(parties))
    keep_test_connection(monkeypatch)
    monkeypatch.setattr(
        sys, "argv", ["xunhuan", "import", "--enterprise", parties.plant.credit_code, str(path)]
    )

    main()

    assert capsys.readouterr().out == "已导入4条记录 / imported 4 entries\n"
    entries = list(LedgerEntry.objects.filter(enterprise=parties.plant).order_by("seq"))
    assert [(e.seq, e.kind, e.waste_id, e.quantity) for e in entries] == [
        (1, "generated", "SW02", Decimal("100.000")),
        (2, "storage_in", "SW02", Decimal("60.000")),
        (3, "handed_over", "SW02", Decimal("20.500")),
        (4, "generated", "SW03", Decimal("5.000")),
    ]
    assert entries[2].counterparty == parties.utilizer
    assert entries[3].note == "含逗号, 与换行\n第二行"
    batch = ImportBatch.objects.get()
    assert (batch.filename, batch.row_count) == ("台账.csv", 4)
    assert {e.import_batch_id for e in entries} == {batch.pk}
    assert StockBalance.objects.get(site=parties.boiler, waste="SW02").quantity == Decimal("40.000")
    assert StockBalance.objects.get(site=parties.yard, waste="SW02").quantity == Decimal("39.500")
    assert StockBalance.objects.get(site=parties.boiler, waste="SW03").quantity == Decimal("5.000")
    assert StockBalance.objects.count() == 3
    assert chain_verify(enterprise_id=parties.plant.pk) is None


def test_the_same_file_twice_changes_nothing(parties: Parties, tmp_path: Path) -> None:
    path = csv_file(tmp_path, *good_rows(parties))
    run(parties, path)
    before = state()

    out, _ = run(parties, path)

    assert out == "此文件已导入过，未作改动 / file already imported; nothing changed\n"
    assert state() == before
    # A renamed copy is still the same file.
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    run(parties, copy)
    assert state() == before


def test_dry_run_saves_nothing_and_a_later_import_still_works(
    parties: Parties, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, *good_rows(parties))
    before = state()

    out, _ = run(parties, path, "--dry-run")

    assert out == "检查通过，共4行，未保存 / dry run OK: 4 rows checked, nothing saved\n"
    assert state() == before
    out, _ = run(parties, path)
    assert out == "已导入4条记录 / imported 4 entries\n"


def test_dry_run_finds_stock_errors_too(parties: Parties, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "2025-03-01,generated,BOILER1,SW02,10,,,,,,",
        "2025-03-02,self_disposed,BOILER1,SW02,10.001,,,,,landfill,",
    )
    before = state()
    with pytest.raises(CommandError) as caught:
        run(parties, path, "--dry-run")
    assert caught.value.args[-1] == (
        "第3行 / row 3 数量（吨）/quantity：库存不足：设施库存10.000吨，本次需减少10.001吨 / "
        "stock on hand 10.000 t is less than 10.001 t\n"
    )
    assert state() == before


def wrong_check(code: str) -> str:
    """The same code with a wrong check character."""
    return code[:-1] + next(ch for ch in ALPHABET if ch != code[-1])


# (case, bad third row, column, message). Row 2 is good and row 4 is good: neither is saved.
BAD_ROWS: list[tuple[str, str, str, str]] = [
    (
        "receiver code with a wrong check character",
        "2025-03-02,handed_over,BOILER1,SW02,5,,{bad_code},utilization,cement,,",
        "对方单位统一社会信用代码/counterparty",
        "统一社会信用代码校验位错误：应为{check}，实际{wrong} / check character should be "
        "{check}, got {wrong}",
    ),
    (
        "unknown waste code",
        "2025-03-02,generated,BOILER1,SW99,5,,,,,,",
        "废物代码/waste_code",
        "未知废物代码：SW99 / unknown waste code",
    ),
    (
        "negative quantity",
        "2025-03-02,generated,BOILER1,SW02,-5,,,,,,",
        "数量（吨）/quantity",
        "数量必须大于0，实际为-5.000 / quantity must be positive",
    ),
    (
        "zero quantity",
        "2025-03-02,generated,BOILER1,SW02,0,,,,,,",
        "数量（吨）/quantity",
        "数量必须大于0，实际为0.000 / quantity must be positive",
    ),
    (
        "stock going negative",
        "2025-03-02,self_disposed,BOILER1,SW02,100.001,,,,,landfill,",
        "数量（吨）/quantity",
        "库存不足：设施库存100.000吨，本次需减少100.001吨 / "
        "stock on hand 100.000 t is less than 100.001 t",
    ),
    (
        "receiver that is no utilizer",
        "2025-03-02,handed_over,BOILER1,SW02,5,,{carrier},utilization,cement,,",
        "对方单位统一社会信用代码/counterparty",
        "接收单位导入测试运输公司不是利用单位 / receiver is not a registered utilizer",
    ),
    (
        "receiver that is no disposer",
        "2025-03-02,handed_over,BOILER1,SW02,5,,{utilizer},disposal,,landfill,",
        "对方单位统一社会信用代码/counterparty",
        "接收单位导入测试建材厂不是处置单位 / receiver is not a registered disposer",
    ),
    (
        "someone else's site",
        "2025-03-02,generated,POT1,SW02,5,,,,,,",
        "设施编码/site",
        "本单位无此设施编码：POT1 / unknown site",
    ),
    (
        "unknown kind",
        "2025-03-02,dumped,BOILER1,SW02,5,,,,,,",
        "类型/kind",
        "未知类型：dumped / unknown kind",
    ),
]


@pytest.mark.parametrize(
    ("row", "column", "message"), [c[1:] for c in BAD_ROWS], ids=[c[0] for c in BAD_ROWS]
)
def test_a_file_with_one_bad_row_saves_nothing_and_names_row_and_column(
    parties: Parties, tmp_path: Path, row: str, column: str, message: str
) -> None:
    code = parties.utilizer.credit_code
    values = {
        "bad_code": wrong_check(code),
        "check": code[-1],
        "wrong": wrong_check(code)[-1],
        "carrier": parties.carrier.credit_code,
        "utilizer": code,
    }
    path = csv_file(
        tmp_path,
        "2025-03-01,generated,BOILER1,SW02,100,,,,,,",
        row.format(**values),
        "2025-03-03,generated,BOILER1,SW02,1,,,,,,",
    )
    before = state()

    with pytest.raises(CommandError) as caught:
        run(parties, path)

    assert caught.value.args[0] == "1处错误，未保存任何记录 / 1 error(s); nothing was saved"
    assert caught.value.args[-1] == f"第3行 / row 3 {column}：{message.format(**values)}\n"
    assert state() == before


def test_rows_are_counted_as_a_spreadsheet_shows_them(parties: Parties, tmp_path: Path) -> None:
    """A cell spanning two lines is one row and a blank row still counts, so the error
    names the row an officer sees in Excel/WPS, not the line of the text file."""
    path = csv_file(
        tmp_path,
        '2025-03-01,generated,BOILER1,SW02,100,,,,,,"第一行\n第二行"',
        ",,,,,,,,,,",
        "2025-03-02,generated,BOILER1,SW02,0,,,,,,",
    )
    with pytest.raises(CommandError) as caught:
        run(parties, path)
    assert caught.value.args[-1] == (
        "第4行 / row 4 数量（吨）/quantity：数量必须大于0，实际为0.000 / "
        "quantity must be positive\n"
    )


def test_every_bad_row_is_listed(parties: Parties, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "2025-03-01,generated,BOILER1,SW02,0,,,,,,",
        "2025-02-30,generated,BOILER1,SW99,5,,,,,,",
    )
    with pytest.raises(CommandError) as caught:
        run(parties, path)
    assert caught.value.args[0] == "3处错误，未保存任何记录 / 3 error(s); nothing was saved"
    assert caught.value.args[-1].splitlines() == [
        "第2行 / row 2 数量（吨）/quantity：数量必须大于0，实际为0.000 / quantity must be positive",
        "第3行 / row 3 日期/occurred_on：日期格式应为YYYY-MM-DD：2025-02-30 / bad date",
        "第3行 / row 3 废物代码/waste_code：未知废物代码：SW99 / unknown waste code",
    ]
    assert LedgerEntry.objects.count() == 0


def test_future_dates_are_judged_in_asia_shanghai(
    parties: Parties, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 17:30 UTC on 1 March is already 01:30 on 2 March in Shanghai.
    moment = dt.datetime(2026, 3, 1, 17, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    today_in_shanghai = csv_file(tmp_path, "2026-03-02,generated,BOILER1,SW02,5,,,,,,")
    tomorrow = csv_file(tmp_path, "2026-03-03,generated,BOILER1,SW02,5,,,,,,", name="b.csv")

    run(parties, today_in_shanghai)
    before = state()
    with pytest.raises(CommandError) as caught:
        run(parties, tomorrow)

    assert caught.value.args[-1] == (
        "第2行 / row 2 日期/occurred_on：发生日期2026-03-03晚于今天2026-03-02 / "
        "date is in the future\n"
    )
    assert state() == before
    assert LedgerEntry.objects.get().occurred_on == dt.date(2026, 3, 2)


def test_enterprise_with_a_wrong_check_character_is_refused(
    parties: Parties,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = csv_file(tmp_path, *good_rows(parties))
    code = parties.plant.credit_code
    bad = wrong_check(code)
    keep_test_connection(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["xunhuan", "import", "--enterprise", bad, str(path)])

    with pytest.raises(SystemExit) as caught:
        main()

    assert caught.value.code == 1
    assert capsys.readouterr().err == (
        f"CommandError: --enterprise {bad}: 统一社会信用代码校验位错误：应为{code[-1]}，"
        f"实际{bad[-1]} / check character should be {code[-1]}, got {bad[-1]}\n"
    )
    assert LedgerEntry.objects.count() == 0


def test_header_errors_name_row_one(parties: Parties, tmp_path: Path) -> None:
    path = tmp_path / "bad-header.csv"
    path.write_text("日期,类型,设施编码,废物代码,重量\n2025-03-01,generated,BOILER1,SW02,5\n")
    with pytest.raises(CommandError) as caught:
        run(parties, path)
    assert caught.value.args[-1].splitlines() == [
        "第1行 / row 1 重量：未知列 / unknown column",
        "第1行 / row 1 数量（吨）/quantity：缺少必填列 / required column missing",
    ]

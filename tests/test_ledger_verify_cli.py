"""``python -m xunhuan verify`` / ``manage.py ledger_verify``: zero when every chain is
intact, non-zero naming the enterprise and the first broken entry after tampering."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from tests.factories import draft, make_enterprise, make_site, make_yard
from tests.ledger_tamper import append_only_lifted, change_quantity, delete_entry, swap_seqs
from xunhuan.__main__ import main
from xunhuan.ledger.bulk import ledger_entries_ingest
from xunhuan.ledger.models import LedgerEntry
from xunhuan.ledger.services import ledger_entries_post, ledger_entry_correct
from xunhuan.registry.models import Enterprise, Site

pytestmark = pytest.mark.django_db


def keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m xunhuan`` closes every connection when the command ends, as a process
    should; in-process that would close the test's open transaction on PostgreSQL."""
    monkeypatch.setattr(connections, "close_all", lambda: None)


@dataclass
class Ledgers:
    plant: Enterprise
    boiler: Site
    yard: Site
    mine: Enterprise


@pytest.fixture
def ledgers(db: None) -> Ledgers:
    """Two enterprises with short intact chains (posts, a bulk ingest and a correction)."""
    plant = make_enterprise(name="校验测试电厂")
    boiler = make_site(enterprise=plant, code="BOILER1")
    yard = make_yard(enterprise=plant, code="YARD1")
    ledger_entries_post(
        enterprise=plant,
        drafts=[
            draft(boiler, "generated", "100.000"),
            draft(boiler, "storage_in", "60.000", to_site=yard),
        ],
    )
    ledger_entries_ingest(
        enterprise=plant, drafts=[draft(yard, "self_utilized", "10.000", route="bricks")]
    )
    used = LedgerEntry.objects.get(enterprise=plant, seq=3)
    ledger_entry_correct(
        entry=used,
        reason="称重有误",
        replacement=draft(yard, "self_utilized", "9.000", route="bricks"),
    )
    mine = make_enterprise(name="校验测试煤矿")
    pit = make_site(enterprise=mine, code="PIT1")
    ledger_entries_post(
        enterprise=mine, drafts=[draft(pit, "generated", "5.000", waste_code="SW04")]
    )
    return Ledgers(plant=plant, boiler=boiler, yard=yard, mine=mine)


def verify(*options: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("ledger_verify", *options, stdout=out, stderr=err)
    except CommandError as exc:
        exc.args = (*exc.args, out.getvalue(), err.getvalue())
        raise
    return out.getvalue(), err.getvalue()


def entry_label(enterprise: Enterprise, seq: int) -> str:
    entry = LedgerEntry.objects.get(enterprise=enterprise, seq=seq)
    return f"第{seq}条记录 / entry #{seq} ({entry.public_id})"


def test_intact_ledgers_exit_zero(
    ledgers: Ledgers, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keep_test_connection(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["xunhuan", "verify"])

    main()  # returns instead of sys.exit(1)

    captured = capsys.readouterr()
    # plant: 2 posted + 1 ingested + reversal + replacement; mine: 1. Stock rows:
    # plant boiler SW02, yard SW02; mine pit SW04.
    assert captured.out == (
        "校验2条链、6条记录、3项库存 / checked 2 chains, 6 entries, 3 stock balances: OK\n"
    )
    assert captured.err == ""


def test_a_changed_quantity_is_named_and_exits_one(
    ledgers: Ledgers, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = ledgers.plant
    with append_only_lifted():
        change_quantity(
            plant.pk, 3, 1000
        )  # the 10 t used at the yard (since corrected) becomes 11 t
    keep_test_connection(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["xunhuan", "verify"])

    with pytest.raises(SystemExit) as caught:
        main()

    assert caught.value.code == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"{plant.credit_code} 校验测试电厂: {entry_label(plant, 3)}: "
        "contents changed since it was recorded",
        f"{plant.credit_code} 校验测试电厂: 库存与台账不符 / stock of site {ledgers.yard.pk} "
        "waste SW02 is 51.000 t but the entries sum to 50.000 t",
        "CommandError: 台账校验未通过 / ledger verification failed",
    ]
    assert captured.out == (
        "校验2条链、6条记录、3项库存 / checked 2 chains, 6 entries, 3 stock balances: "
        "2 problem(s)\n"
    )


def test_a_removed_entry_names_the_one_after_the_gap(ledgers: Ledgers) -> None:
    plant = ledgers.plant
    label = entry_label(plant, 3)
    with append_only_lifted():
        delete_entry(plant.pk, 2)

    with pytest.raises(CommandError) as caught:
        verify()

    assert caught.value.returncode == 1
    problems = caught.value.args[-1].splitlines()
    assert problems[0] == (
        f"{plant.credit_code} 校验测试电厂: {label}: sequence jumps from 1 to 3: entries removed"
    )
    # The removed 60 t move also leaves both stocks out of line with the entries.
    assert len(problems) == 3


def test_swapped_entries_are_named_at_the_first_of_them(ledgers: Ledgers) -> None:
    plant = ledgers.plant
    with append_only_lifted():
        swap_seqs(plant.pk, 2, 4)

    with pytest.raises(CommandError) as caught:
        verify()

    assert caught.value.args[-1].splitlines() == [
        f"{plant.credit_code} 校验测试电厂: {entry_label(plant, 2)}: "
        "previous-hash does not match the entry before it"
    ]


def test_only_the_tampered_enterprise_is_reported(ledgers: Ledgers) -> None:
    with append_only_lifted():
        change_quantity(ledgers.plant.pk, 1, 1)

    out, err = verify("--enterprise", ledgers.mine.credit_code.lower())

    assert (
        out == "校验1条链、1条记录、1项库存 / checked 1 chains, 1 entries, 1 stock balances: OK\n"
    )
    assert err == ""
    with pytest.raises(CommandError) as caught:
        verify("--enterprise", ledgers.plant.credit_code)
    assert (
        caught.value.args[-1]
        .splitlines()[0]
        .startswith(f"{ledgers.plant.credit_code} 校验测试电厂: {entry_label(ledgers.plant, 1)}: ")
    )


def test_an_unknown_enterprise_is_an_error_not_an_intact_ledger(ledgers: Ledgers) -> None:
    with pytest.raises(CommandError) as caught:
        verify("--enterprise", "91150622000000000X")
    assert caught.value.returncode == 2
    assert caught.value.args[0] == (
        "未登记的单位：91150622000000000X / no enterprise with this credit code"
    )

"""Audit rows for ledger writes outside transfers (issue #3, item 6): a post, a
correction and a bulk file import each write exactly one audit event, in the write's
transaction, with actor, object and before/after; a refused or replayed write, a dry
run and a re-imported file write none. Regulators read the events of their
jurisdiction, enterprises their own."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from tests.access_support import persist_passwords
from tests.conftest import World
from tests.factories import draft
from xunhuan.audit.models import AuditEvent
from xunhuan.core.errors import Conflict, InsufficientStock
from xunhuan.imports.exports import ledger_template_workbook
from xunhuan.imports.services import (
    import_session_check,
    import_session_commit,
    import_session_create,
)
from xunhuan.ledger.imports import ledger_import_csv
from xunhuan.ledger.models import ImportBatch, LedgerEntry
from xunhuan.ledger.services import ledger_entries_post, ledger_entry_correct

DAY = dt.date(2025, 3, 1)
TODAY = dt.date(2025, 6, 30)
CSV_HEADER = "日期,类型,设施编码,废物代码,数量（吨）,目的设施编码,备注"


def events() -> list[tuple[str, str, str | None, str | None]]:
    return list(
        AuditEvent.objects.order_by("id").values_list(
            "action", "object_type", "actor__username", "enterprise__credit_code"
        )
    )


def summary(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": str(entry.public_id),
        "seq": entry.seq,
        "kind": entry.kind,
        "site": entry.site.code,
        "waste": entry.waste_id,
        "quantity": f"{entry.quantity:.3f}",
        "occurred_on": entry.occurred_on.isoformat(),
        "batch_code": entry.batch_code or None,
    }


def test_a_post_writes_one_event_with_every_entry(world: World) -> None:
    owner = world.users["owner"]
    first, second = ledger_entries_post(
        enterprise=world.plant,
        recorded_by=owner,
        drafts=[
            draft(world.plant_site, "generated", "100.000", day=DAY),
            draft(world.plant_site, "storage_in", "40.500", day=DAY, to_site=world.plant_yard),
        ],
        idempotency_key="erp-1",
    )
    assert events() == [("ledger.post", "ledger_entries", "owner", world.plant.credit_code)]
    event = AuditEvent.objects.get()
    assert event.object_id == f"{world.plant.credit_code}:1-2"
    assert event.before is None
    assert event.after == {"entries": [summary(first), summary(second)]}
    assert event.after["entries"][1]["quantity"] == "40.500"
    # A retry with the same key writes nothing, so it records nothing.
    ledger_entries_post(
        enterprise=world.plant,
        recorded_by=owner,
        drafts=[
            draft(world.plant_site, "generated", "100.000", day=DAY),
            draft(world.plant_site, "storage_in", "40.500", day=DAY, to_site=world.plant_yard),
        ],
        idempotency_key="erp-1",
    )
    assert AuditEvent.objects.count() == 1


def test_a_refused_post_records_nothing(world: World) -> None:
    with pytest.raises(InsufficientStock):
        ledger_entries_post(
            enterprise=world.plant,
            recorded_by=world.users["owner"],
            drafts=[draft(world.plant_site, "storage_in", "1.000", to_site=world.plant_yard)],
        )
    assert (LedgerEntry.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_a_correction_records_the_entry_before_and_its_reversal_and_replacement(
    world: World,
) -> None:
    (entry,) = ledger_entries_post(
        enterprise=world.plant, drafts=[draft(world.plant_site, "generated", "10.000", day=DAY)]
    )
    colleague = world.users["colleague"]
    reversal, replacement = ledger_entry_correct(
        entry=entry,
        reason="磅单录入错误",
        replacement=draft(world.plant_site, "generated", "12.500", day=DAY),
        recorded_by=colleague,
    )
    assert replacement is not None
    event = AuditEvent.objects.get(action="ledger.correct")
    assert (event.object_type, event.object_id, event.actor, event.enterprise) == (
        "ledger_entry",
        str(entry.public_id),
        colleague,
        world.plant,
    )
    assert event.before == {"entry": summary(entry), "reversed": False}
    assert event.after == {
        "reversed": True,
        "reason": "磅单录入错误",
        "reversal": summary(reversal),
        "replacement": summary(replacement),
    }
    assert (event.after["reversal"]["quantity"], event.after["replacement"]["quantity"]) == (
        "-10.000",
        "12.500",
    )
    # Correcting it again is refused and leaves no event.
    count = AuditEvent.objects.count()
    with pytest.raises(Conflict, match="already reversed"):
        ledger_entry_correct(entry=entry, reason="再改", recorded_by=colleague)
    assert AuditEvent.objects.count() == count


def test_a_csv_file_is_one_event_with_its_hash_and_sequence_range(world: World) -> None:
    ledger_entries_post(
        enterprise=world.plant, drafts=[draft(world.plant_site, "generated", "1.000", day=DAY)]
    )
    content = "\n".join(
        [
            CSV_HEADER,
            *[f"2025-03-{day:02d},generated,BOILER1,SW02,{day}.5,," for day in range(1, 6)],
        ]
    ).encode()
    before = AuditEvent.objects.count()
    dry = ledger_import_csv(
        enterprise=world.plant, content=content, filename="三月.csv", dry_run=True, today=TODAY
    )
    assert (dry.errors, dry.created) == ([], 0)
    assert AuditEvent.objects.count() == before
    owner = world.users["owner"]
    done = ledger_import_csv(
        enterprise=world.plant, content=content, filename="三月.csv", recorded_by=owner, today=TODAY
    )
    assert (done.errors, done.created) == ([], 5)
    batch = ImportBatch.objects.get()
    event = AuditEvent.objects.get(action="ledger.import")
    assert (event.object_type, event.object_id, event.actor, event.enterprise) == (
        "import_batch",
        str(batch.public_id),
        owner,
        world.plant,
    )
    assert event.after == {
        "filename": "三月.csv",
        "sha256": hashlib.sha256(content).hexdigest(),
        "rows": 5,
        "seq_from": 2,
        "seq_to": 6,
    }
    # Not one event per row, and the same file again records nothing.
    assert AuditEvent.objects.count() == before + 1
    again = ledger_import_csv(
        enterprise=world.plant, content=content, filename="再次.csv", recorded_by=owner
    )
    assert again.already_imported
    assert AuditEvent.objects.count() == before + 1


def test_a_refused_csv_file_records_nothing(world: World) -> None:
    content = f"{CSV_HEADER}\n2025-03-01,storage_in,BOILER1,SW02,5,YARD1,\n".encode()
    result = ledger_import_csv(
        enterprise=world.plant,
        content=content,
        filename="坏.csv",
        recorded_by=world.users["owner"],
        today=TODAY,
    )
    assert result.errors
    assert (LedgerEntry.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_a_workbook_commit_is_one_event(world: World) -> None:
    book = load_workbook(io.BytesIO(ledger_template_workbook(enterprise=world.plant)))
    for day in range(1, 4):
        # 批次编码 | 产生日期 | 产生设施编码 | 废物流编码 | 废物代码 | 产生量（吨） | 备注
        book["产生环节"].append(["", f"2025-03-0{day}", "BOILER1", "", "SW02", day, ""])
    out = io.BytesIO()
    book.save(out)
    owner = world.users["owner"]
    session = import_session_create(
        enterprise=world.plant, filename="三月.xlsx", content=out.getvalue(), created_by=owner
    )
    session = import_session_check(session=session, today=TODAY)
    assert AuditEvent.objects.count() == 0  # the check is a dry run
    session = import_session_commit(session=session, recorded_by=owner, today=TODAY)
    assert session.created_entries == 3
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.enterprise, event.object_id) == (
        "ledger.import",
        owner,
        world.plant,
        str(ImportBatch.objects.get().public_id),
    )
    after = event.after or {}
    assert (after["rows"], after["seq_from"], after["seq_to"]) == (3, 1, 3)


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("owner", True),
        ("reader", True),
        ("outsider", False),
        ("carrier", False),
        ("league_regulator", True),
        ("other_league_regulator", False),
        ("province_regulator", True),
    ],
)
def test_the_trail_of_ledger_writes_is_read_within_jurisdiction(
    world: World, persona: str, sees: bool
) -> None:
    persist_passwords(world)
    client = Client()
    client.force_login(world.users["owner"])
    posted = client.post(
        f"/api/ledger/enterprises/{world.plant.credit_code}/entries",
        {
            "entries": [
                {
                    "occurred_on": "2025-03-01",
                    "kind": "generated",
                    "site": "BOILER1",
                    "waste_code": "SW02",
                    "quantity": "7.250",
                }
            ]
        },
        content_type="application/json",
    )
    assert posted.status_code == 201, posted.content
    reader = Client()
    reader.force_login(world.users[persona])
    trail = reader.get("/api/transfers/audit?object_type=ledger_entries").json()
    expected = [("ledger.post", "owner", world.plant.credit_code)] if sees else []
    assert [(e["action"], e["actor"], e["enterprise"]) for e in trail["items"]] == expected

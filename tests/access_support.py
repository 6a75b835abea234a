"""Helpers for the API/web access, ledger API and query-count tests.

Two things the shared ``world`` fixture does not do, added here without touching it:

* ``UserFactory`` sets the password after creating the row and skips the save
  (``skip_postgeneration_save``), so the stored password differs from the one on
  the in-memory user. ``Client.force_login`` derives the session hash from the
  in-memory one, Django then finds it does not match the database and treats the
  request as anonymous. ``persist_passwords`` saves them.
  (Passwords are hashed with MD5 in tests: ``conftest.FAST_HASHERS``.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.conftest import World
from tests.factories import credit_code_for, draft
from xunhuan.ledger.models import ChainHead, IdempotencyKey, LedgerEntry, StockBalance
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Enterprise, Site, WasteCategory, WasteStream

PERSONAS = (
    "owner",
    "colleague",
    "reader",
    "driver",
    "outsider",
    "carrier",
    "receiver",
    "league_regulator",
    "other_league_regulator",
    "province_regulator",
    "anonymous",
)
# World attributes of the five enterprises.
ENTERPRISES = ("plant", "outsider", "carrier", "receiver", "disposer")

# Which enterprises each persona may read. The carrier, receiver and disposer are
# registered in 准格尔旗 (150622) like the plant; the outsider is in 包头 (150203).
VISIBLE: dict[str, frozenset[str]] = {
    "owner": frozenset({"plant"}),
    "colleague": frozenset({"plant"}),
    "reader": frozenset({"plant"}),
    "driver": frozenset({"carrier"}),
    "outsider": frozenset({"outsider"}),
    "carrier": frozenset({"carrier"}),
    "receiver": frozenset({"receiver"}),
    "league_regulator": frozenset({"plant", "carrier", "receiver", "disposer"}),
    "other_league_regulator": frozenset({"outsider"}),
    "province_regulator": frozenset(ENTERPRISES),
    "anonymous": frozenset(),
}
PLANT_WRITERS = frozenset({"owner", "colleague"})
PLANT_READERS = frozenset(p for p, seen in VISIBLE.items() if "plant" in seen)

# What the seeded plant holds, for "never appears" checks: names, codes and every
# quantity of its entries and stock (none of them occur in anybody else's data
# except 20.125, the hand-over the receiver also records).
PLANT_PAGE_TEXT = ("准格尔测试电厂", "1号锅炉", "灰场", "BOILER1", "YARD1")
PLANT_SECRETS = (*PLANT_PAGE_TEXT, "粉煤灰产生线")  # the stream's name is on no page yet
PLANT_QUANTITIES = ("123.456", "60.321", "20.125", "63.135", "40.196")
DAY = dt.date(2025, 3, 1)


def persist_passwords(world: World) -> World:
    for user in world.users.values():
        user.save(update_fields=["password"])
    return world


@dataclass
class Seeded:
    """The world with a little ledger: three plant entries, the receiver's
    receipt of the hand-over, one outsider entry."""

    world: World
    entries: dict[str, LedgerEntry]
    plant_stream: WasteStream
    outsider_stream: WasteStream

    def code(self, enterprise: str) -> str:
        found: Enterprise = getattr(self.world, enterprise)
        return found.credit_code

    def entry_id(self, name: str) -> str:
        return str(self.entries[name].public_id)


def seed(world: World) -> Seeded:
    persist_passwords(world)
    plant, receiver, outsider = world.plant, world.receiver, world.outsider
    plant_stream = WasteStream.objects.create(
        enterprise=plant,
        code="FA1",
        name="粉煤灰产生线",
        waste=WasteCategory.objects.get(code="SW02"),
        source_site=world.plant_site,
    )
    outsider_stream = WasteStream.objects.create(
        enterprise=outsider,
        code="RM1",
        name="赤泥",
        waste=WasteCategory.objects.get(code="SW09"),
        source_site=world.outsider_site,
    )
    p1, p2, p3 = ledger_entries_post(
        enterprise=plant,
        recorded_by=world.users["owner"],
        drafts=[
            draft(world.plant_site, "generated", "123.456", day=DAY, stream=plant_stream),
            draft(
                world.plant_site,
                "storage_in",
                "60.321",
                day=DAY + dt.timedelta(days=1),
                to_site=world.plant_yard,
            ),
            draft(
                world.plant_yard,
                "handed_over",
                "20.125",
                day=DAY + dt.timedelta(days=2),
                counterparty=receiver,
                purpose="utilization",
                route="cement",
            ),
        ],
    )
    (r1,) = ledger_entries_post(
        enterprise=receiver,
        drafts=[
            draft(
                world.receiver_site,
                "received",
                "20.125",
                day=DAY + dt.timedelta(days=2),
                counterparty=plant,
            )
        ],
    )
    (o1,) = ledger_entries_post(
        enterprise=outsider,
        drafts=[
            draft(
                world.outsider_site,
                "generated",
                "77.777",
                waste_code="SW09",
                day=DAY + dt.timedelta(days=3),
                stream=outsider_stream,
            )
        ],
    )
    return Seeded(
        world=world,
        entries={"p1": p1, "p2": p2, "p3": p3, "r1": r1, "o1": o1},
        plant_stream=plant_stream,
        outsider_stream=outsider_stream,
    )


# Entries each persona may read, newest first (occurred_on desc, then seq desc).
ENTRY_ORDER = ("o1", "p3", "r1", "p2", "p1")
ENTRY_OWNER = {"p1": "plant", "p2": "plant", "p3": "plant", "r1": "receiver", "o1": "outsider"}


def entries_visible_to(persona: str) -> list[str]:
    return [name for name in ENTRY_ORDER if ENTRY_OWNER[name] in VISIBLE[persona]]


def snapshot() -> dict[str, Any]:
    """Everything a denied write must leave as it was: row counts and the stock and
    chain heads' contents (a write could move stock without adding a row)."""
    return {
        "LedgerEntry": LedgerEntry.objects.count(),
        "StockBalance": StockBalance.objects.count(),
        "Enterprise": Enterprise.objects.count(),
        "Site": Site.objects.count(),
        "WasteStream": WasteStream.objects.count(),
        "IdempotencyKey": IdempotencyKey.objects.count(),
        "stock": sorted(
            StockBalance.objects.values_list("site_id", "waste_id", "quantity").order_by()
        ),
        "heads": sorted(
            ChainHead.objects.values_list("enterprise_id", "last_seq", "last_hash").order_by()
        ),
    }


def counts_changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Row-count deltas between two snapshots, non-zero ones only."""
    return {
        key: after[key] - before[key]
        for key in before
        if isinstance(before[key], int) and after[key] != before[key]
    }


def stock_of(site: Site, waste_code: str = "SW02") -> Decimal:
    quantity: Decimal = StockBalance.objects.get(site=site, waste_id=waste_code).quantity
    return quantity


def new_credit_code(region_code: str = "150622", serial: int = 900_000_001) -> str:
    return credit_code_for(serial, region_code)

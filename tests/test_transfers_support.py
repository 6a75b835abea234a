"""Helpers shared by the transfer tests (no tests here).

``Party`` adds to the shared ``world`` what transfers need: stock at the plant, a
rail carrier for multimodal documents, a disposer's landfill and receivers' sites.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.conftest import World
from tests.factories import draft, make_enterprise, make_site, make_user, seat
from xunhuan.accounts.models import Role
from xunhuan.ledger.models import LedgerEntry, StockBalance
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Enterprise, Site, WasteCategory
from xunhuan.transfers.models import Transfer
from xunhuan.transfers.services import LegDraft, LineDraft, transfer_create

STOCK_DAY = dt.date(2025, 1, 2)


@dataclass
class Party:
    world: World
    rail: Enterprise
    landfill: Site
    users: dict[str, Any]

    @property
    def plant(self) -> Enterprise:
        return self.world.plant


def party(world: World, *, stock: str = "1000.000") -> Party:
    """The world, with ``stock`` tonnes of fly ash (SW02) and of slag (SW03) generated
    at the plant's boiler, a rail carrier and a disposer's landfill."""
    for user in world.users.values():
        user.save(update_fields=["password"])
    ledger_entries_post(
        enterprise=world.plant,
        drafts=[
            draft(world.plant_site, "generated", stock, day=STOCK_DAY),
            draft(world.plant_site, "generated", stock, waste_code="SW03", day=STOCK_DAY),
        ],
    )
    rail = make_enterprise(
        name="测试铁路货运", is_generator=False, is_carrier=True, industry_id="5320"
    )
    users = dict(world.users)
    users["rail"] = make_user(username="rail")
    seat(users["rail"], enterprise=rail, role=Role.ADMIN)
    landfill = make_site(enterprise=world.disposer, code="LF1", name="填埋场", kind="disposal")
    users["disposer"] = make_user(username="disposer")
    seat(users["disposer"], enterprise=world.disposer, role=Role.ADMIN)
    return Party(world=world, rail=rail, landfill=landfill, users=users)


def new_transfer(
    p: Party,
    *,
    declared: tuple[str, ...] = ("100.000",),
    rail: bool = False,
    disposal: bool = False,
    user: str = "owner",
) -> Transfer:
    w = p.world
    legs = [LegDraft(carrier=w.carrier, mode="road", vehicle="蒙K12345")]
    if rail:
        legs.append(LegDraft(carrier=p.rail, mode="rail", vehicle="K1234次"))
    wastes = ["SW02", "SW03"]
    return transfer_create(
        user=p.users[user],
        generator=w.plant,
        receiver=w.disposer if disposal else w.receiver,
        purpose="disposal" if disposal else "utilization",
        planned_route="" if disposal else "cement",
        planned_disposal_method="landfill" if disposal else "",
        legs=legs,
        lines=[
            LineDraft(
                waste=WasteCategory.objects.get(code=wastes[i]),
                source_site=w.plant_site,
                declared=Decimal(q),
            )
            for i, q in enumerate(declared)
        ],
    )


def stock(site: Site, waste_code: str = "SW02") -> Decimal:
    row = StockBalance.objects.filter(site=site, waste_id=waste_code).first()
    return row.quantity if row else Decimal("0.000")


def kinds_for(number: str) -> list[tuple[str, str, str]]:
    """(enterprise name, kind, quantity) of every ledger entry carrying the number."""
    return [
        (e.enterprise.name, e.kind, str(e.quantity))
        for e in LedgerEntry.objects.filter(batch_code=number)
        .select_related("enterprise")
        .order_by("enterprise_id", "seq")
    ]

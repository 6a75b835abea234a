"""Demo transfer documents (联单) in every state, signed by the demo logins.

The largest 鄂尔多斯 coal power plant (login ``coal-power``) sends fly ash and slag to
the demo cement works (``cement``) by road (``road-carrier-driver``) and, for some
loads, on by rail (``rail-carrier``). Every step goes through the transfer services,
so the ledgers of both enterprises carry exactly what the documents say. Back-dated
steps (``today=``) make some documents overdue. Quantities are fixed, so the same
demo gives the same documents (numbers depend only on the order of creation).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model

from xunhuan.accounts.models import Membership
from xunhuan.ledger.models import StockBalance
from xunhuan.ledger.services import today_in_shanghai
from xunhuan.registry.models import Enterprise, Site, SiteKind
from xunhuan.transfers.models import Transfer
from xunhuan.transfers.revisions import (
    RevisionChanges,
    transfer_discrepancy_settle,
    transfer_revision_request,
)
from xunhuan.transfers.services import (
    LegDraft,
    LineDraft,
    ReceiptLine,
    transfer_cancel,
    transfer_collect,
    transfer_complete,
    transfer_create,
    transfer_issue,
    transfer_receive,
)

T = Decimal


@dataclass(frozen=True)
class _Cast:
    users: dict[str, Any]
    generator: Enterprise
    road: Enterprise
    rail: Enterprise
    receiver: Enterprise
    receiver_site: Site
    source: StockBalance


@dataclass(frozen=True)
class Scenario:
    """One document: declared tonnes (fly ash, and slag when there is a second line),
    whether it also goes by rail, and how far it gets. ``weighed`` and ``accepted``
    are shares of the declared tonnes at receipt."""

    name: str
    declared: str
    state: str  # draft, cancelled, issued, in_transit, received, completed, revising
    rail: bool = False
    weighed: str = "1"
    accepted: str = "1"
    settle: bool = False
    days_ago: int = 3


SCENARIOS = (
    Scenario("全部接收并利用", "120.000", "completed"),
    Scenario("公铁联运", "300.000", "completed", rail=True, days_ago=6),
    Scenario("部分拒收（含水率超标）", "80.000", "completed", accepted="0.75"),
    Scenario("全部拒收", "45.000", "received", accepted="0", days_ago=2),
    Scenario("磅差待确认", "100.000", "received", weighed="0.95", days_ago=2),
    Scenario("磅差已确认", "60.000", "completed", weighed="1.05", settle=True),
    Scenario("运输中", "90.000", "in_transit", rail=True, days_ago=1),
    Scenario("超期未接收", "70.000", "issued", days_ago=12),
    Scenario("超期未利用", "50.000", "received", days_ago=45),
    Scenario("草稿", "40.000", "draft"),
    Scenario("已作废", "35.000", "cancelled"),
    Scenario("更正待同意", "55.000", "revising", days_ago=1),
)


def _cast() -> _Cast | None:
    User = get_user_model()
    users = {
        u.get_username(): u
        for u in User.objects.filter(
            username__in=[
                "coal-power",
                "road-carrier-driver",
                "road-carrier",
                "rail-carrier",
                "cement",
            ]
        )
    }
    if len(users) < 5:
        return None
    enterprise = {
        name: Membership.objects.filter(user=users[name]).values_list("enterprise", flat=True)[0]
        for name in ("coal-power", "road-carrier", "rail-carrier", "cement")
    }
    generator = Enterprise.objects.get(pk=enterprise["coal-power"])
    receiver = Enterprise.objects.get(pk=enterprise["cement"])
    source = (
        StockBalance.objects.filter(site__enterprise=generator, waste_id="SW02")
        .select_related("site", "waste")
        .order_by("-quantity")
        .first()
    )
    receiver_site = Site.objects.filter(enterprise=receiver, kind=SiteKind.UTILIZATION).first()
    if source is None or receiver_site is None:
        return None
    return _Cast(
        users=users,
        generator=generator,
        road=Enterprise.objects.get(pk=enterprise["road-carrier"]),
        rail=Enterprise.objects.get(pk=enterprise["rail-carrier"]),
        receiver=receiver,
        receiver_site=receiver_site,
        source=source,
    )


def _play(c: _Cast, s: Scenario, today: dt.date) -> Transfer:
    users = c.users
    day = today - dt.timedelta(days=s.days_ago)
    legs = [LegDraft(carrier=c.road, mode="road", vehicle="蒙K·6J218")]
    if s.rail:
        legs.append(LegDraft(carrier=c.rail, mode="rail", vehicle="X4K-2217次"))
    transfer = transfer_create(
        user=users["coal-power"],
        generator=c.generator,
        receiver=c.receiver,
        purpose="utilization",
        planned_route="cement",
        legs=legs,
        lines=[LineDraft(waste=c.source.waste, source_site=c.source.site, declared=T(s.declared))],
        note=s.name,
        today=day,
    )
    if s.state == "draft":
        return transfer
    transfer_issue(transfer=transfer, user=users["coal-power"], today=day)
    if s.state == "cancelled":
        return transfer_cancel(
            transfer=transfer, user=users["coal-power"], reason="车辆故障，改日转移", today=day
        )
    if s.state == "issued":
        return transfer
    transfer_collect(transfer=transfer, user=users["road-carrier-driver"], today=day)
    if s.rail:
        transfer_collect(transfer=transfer, user=users["rail-carrier"], today=day)
    if s.state == "in_transit":
        return transfer
    if s.state == "revising":
        transfer_revision_request(
            transfer=transfer,
            user=users["coal-power"],
            reason="改为混凝土掺合料",
            changes=RevisionChanges(planned_route="concrete"),
            today=day,
        )
        return transfer
    weighed = (T(s.declared) * T(s.weighed)).quantize(T("0.001"))
    accepted = (weighed * T(s.accepted)).quantize(T("0.001"))
    transfer_receive(
        transfer=transfer,
        user=users["cement"],
        receiver_site=c.receiver_site,
        lines=[ReceiptLine(1, weighed, accepted)],
        refusal_reason="含水率超标，不符合入窑要求" if accepted < weighed else "",
        today=day,
    )
    if s.settle:
        for login in ("coal-power", "cement"):
            transfer_discrepancy_settle(
                transfer=transfer, user=users[login], note="装车时未扣除篷布重量", today=day
            )
    if s.state == "completed":
        transfer_complete(transfer=transfer, user=users["cement"], today=day)
    return transfer


def demo_transfers_load(*, log: Callable[[str], None] = print) -> list[Transfer]:
    """Play the scenarios with the demo logins; skip (and say so) if the demo region
    lacks a plant with fly ash in stock or a cement works with a kiln."""
    cast = _cast()
    if cast is None:
        log("转移联单演示跳过：缺少演示账号或库存 / transfers demo skipped")
        return []
    needed = sum((T(s.declared) * T("1.05") for s in SCENARIOS), T("0"))
    if cast.source.quantity < needed:
        log(f"转移联单演示跳过：库存不足{needed}吨 / not enough stock for the transfers demo")
        return []
    today = today_in_shanghai()
    made = [_play(cast, s, today) for s in SCENARIOS]
    log(
        f"转移联单 {len(made)} 份（{cast.generator.name} → {cast.receiver.name}）："
        + "、".join(f"{t.number} {s.name}" for t, s in zip(made, SCENARIOS, strict=True))
    )
    return made

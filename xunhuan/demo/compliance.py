"""Planted compliance problems the generator's ledgers cannot carry by themselves.

The generator plants yards too small, permanent yards, mines that utilize no gangue
and dumping at low rates, so a small demo may have none of them. This adds, to
the first enterprises of their kind (by credit code, so the same spec plants the
same problems), facility parameters that break the seed-004 and seed-003 norms
(potline energy, project equity, a small new beneficiation plant inside a
designated zone), a hazardous-waste declaration over years of stock, a permanent
yard, and one dumping entry. Clean parameters go to the other
aluminium smelters and power plants so that the rules also have compliant
subjects to pass over. Every plant is listed in ``summary.planted`` in the
generator's format: ``"<name>（<credit code>）: <问题> / <problem>"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction

from xunhuan.compliance.models import ComplianceRun
from xunhuan.compliance.services import (
    compliance_run,
    facility_profile_set,
    hazardous_stream_set,
    ore_zone_set,
)
from xunhuan.demo.generator import DemoSpec, DemoSummary
from xunhuan.ledger.models import EntryKind
from xunhuan.ledger.rules import EntryDraft
from xunhuan.ledger.services import ledger_entries_post
from xunhuan.registry.models import Enterprise, Site, WasteStream
from xunhuan.registry.services import site_register

PLANTED_POTLINE = "电解铝交流电耗超标 / potline energy above the norm"
PLANTED_PLANS = "新建电厂缺脱硫石膏利用方案 / new power plant without FGD-gypsum plan"
PLANTED_THREE = "利用设施未同时投产 / utilization facility not in operation (三同时)"
PLANTED_PERMANENT = "永久贮存场 / permanent yard"
PLANTED_DUMPING = "倾倒丢弃 / dumped waste"
PLANTED_HAZARDOUS = "危险废物贮存超过一年 / hazardous waste stored over a year"
PLANTED_CAPITAL = "电解铝项目资本金比例不足 / aluminium project equity below 40%"
PLANTED_BENEFICIATION = "划定区域内新建选矿厂规模不足 / small new plant in a zone"


def _label(enterprise: Enterprise) -> str:
    return f"{enterprise.name}（{enterprise.credit_code}）"


def _of_industry(*codes: str) -> list[Enterprise]:
    return list(
        Enterprise.objects.filter(industry_id__in=codes, is_generator=True)
        .select_related("region")
        .filter(waste_streams__isnull=False)
        .distinct()
        .order_by("credit_code")
    )


def _production(enterprise: Enterprise) -> Site | None:
    return Site.objects.filter(enterprise=enterprise, kind="production").order_by("code").first()


@transaction.atomic
def demo_compliance_plant(spec: DemoSpec, summary: DemoSummary) -> list[str]:
    """Add the planted compliance problems (and clean parameters beside them)."""
    planted: list[str] = []
    smelters = [
        e for e in _of_industry("3216") if e.name.endswith(("铝业有限公司", "铝电有限责任公司"))
    ]
    for number, smelter in enumerate(smelters):
        # The planted line breaks the existing-line norm, GB 21346 and the seed's
        # end-of-12th-plan deadline; the others already meet the new-line values.
        bad = number == 0
        facility_profile_set(
            enterprise=smelter,
            site=_production(smelter),
            potline_current_ka=Decimal("400"),
            ac_kwh_per_t_liquid=Decimal("13420") if bad else Decimal("12700"),
            ac_kwh_per_t_ingot=Decimal("13560") if bad else Decimal("13150"),
            current_efficiency_pct=Decimal("93.5"),
        )
        if bad:
            planted.append(f"{_label(smelter)}: {PLANTED_POTLINE}")
    if smelters:
        # 铝灰渣 is HW48 (321-024-48, MEE's 2021-10 reply on aluminium dross); the demo's
        # smelters book it as SW01 and keep years of it in their yards.
        hazardous_stream_set(
            enterprise=smelters[-1],
            waste_code="SW01",
            hw_class="HW48",
            hw_code="321-024-48",
            note="电解铝铝灰渣 / aluminium dross",
        )
        planted.append(f"{_label(smelters[-1])}: {PLANTED_HAZARDOUS}")
    if len(smelters) > 1:
        facility_profile_set(
            enterprise=smelters[1], is_new_project=True, capital_ratio_pct=Decimal("32")
        )
        planted.append(f"{_label(smelters[1])}: {PLANTED_CAPITAL}")
    for number, power in enumerate(_of_industry("4411", "4412")[:3]):
        facility_profile_set(
            enterprise=power,
            is_new_project=True,
            has_fly_ash_plan=True,
            has_fgd_gypsum_plan=number != 0,
        )
        if number == 0:
            planted.append(f"{_label(power)}: {PLANTED_PLANS}")
    chemicals = _of_industry("2522", "2523")
    if chemicals:
        facility_profile_set(
            enterprise=chemicals[0], is_new_project=True, utilization_in_operation=False
        )
        planted.append(f"{_label(chemicals[0])}: {PLANTED_THREE}")
    mines = _of_industry("0610", "0620")
    if mines:
        site_register(
            enterprise=mines[0],
            code="ZC99",
            name="历史矸石山",
            kind="storage",
            storage_class="I",
            design_capacity=Decimal("2000000"),
            opened_on=dt.date(1998, 6, 1),
            is_permanent=True,
        )
        planted.append(f"{_label(mines[0])}: {PLANTED_PERMANENT}")
    metal_mines = _of_industry("0810", "0911", "0912", "0913", "0914", "0921", "0922", "0932")
    for mine in metal_mines:
        # A league's designated zone around the first located mine, whose new lead-zinc
        # beneficiation plant is below the seed's 1,000 t/d.
        if mine.latitude is None or mine.longitude is None:
            continue
        ore_zone_set(
            region_code=mine.region_id[:4] + "00",
            name=f"{mine.region.name}重点矿区（演示）",
            latitude=mine.latitude,
            longitude=mine.longitude,
            radius_km=Decimal("30"),
        )
        facility_profile_set(
            enterprise=mine,
            site=_production(mine),
            is_new_project=True,
            metal="pbzn",
            beneficiation_t_per_day=Decimal("600"),
        )
        planted.append(f"{_label(mine)}: {PLANTED_BENEFICIATION}")
        break
    if metal_mines:
        mine = metal_mines[-1]
        stream = WasteStream.objects.filter(enterprise=mine).order_by("code").first()
        site = _production(mine)
        if stream is not None and site is not None:
            day = spec.end_date()
            ledger_entries_post(
                enterprise=mine,
                drafts=[
                    EntryDraft(
                        kind=kind,
                        site=site,
                        waste=stream.waste,
                        quantity=quantity,
                        occurred_on=day,
                        stream=stream,
                        note="演示：倾倒丢弃",
                    )
                    for kind, quantity in (
                        (EntryKind.GENERATED, Decimal("860.000")),
                        (EntryKind.DISCARDED, Decimal("860.000")),
                    )
                ],
            )
            planted.append(f"{_label(mine)}: {PLANTED_DUMPING}")
    summary.planted.extend(planted)
    return planted


def demo_compliance_load(
    spec: DemoSpec, summary: DemoSummary, *, log: Callable[[str], None] = lambda _: None
) -> ComplianceRun:
    """Plant the compliance problems, then run every rule once so the queue is filled."""
    planted = demo_compliance_plant(spec, summary)
    run = compliance_run(as_of=spec.end_date())
    log(f"合规检查 / compliance: {len(planted)} planted, {run.found} findings")
    return run

"""Aggregates anybody may read, without logging in (issue #3: "a public view shows
aggregates only"): per league (盟市) and year, generation, utilization and the rate,
and the transfer documents completed with the tonnes they moved.

Never an enterprise's name, credit code or document number. A cell (league, year)
in which fewer than ``MIN_ENTERPRISES`` enterprises contributed is suppressed — its
figures are withheld, only the fact of suppression is shown — so that no single
enterprise's (or pair's) figures can be read off; the ledger figures and the
transfer figures are suppressed independently, each by its own contributors. No
totals are published: a total minus the shown cells would give a suppressed one
back (ADR 0024).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import ExtractYear

from xunhuan.registry.models import Region
from xunhuan.statistics.selectors import StatScope, stats_table
from xunhuan.transfers.models import Transfer, TransferStatus

MIN_ENTERPRISES = 3


@dataclass(frozen=True)
class PublicCell:
    """One league's year. Figures are ``None`` where the cell is suppressed."""

    province: str
    league_code: str
    league: str
    year: int
    generated: Decimal | None
    utilized: Decimal | None
    utilization_rate: Decimal | None
    ledger_suppressed: bool
    transfers_completed: int | None
    tonnes_transferred: Decimal | None
    transfers_suppressed: bool


def _league_of(path: str) -> str:
    """The city-level (盟市) code in a region's materialized path ``…/150000/150600/…``;
    a county directly under its province stands for itself."""
    parts = path.strip("/").split("/")
    return parts[2] if len(parts) > 2 else parts[-1]


def public_aggregates() -> list[PublicCell]:
    """Every league-year with ledger or transfer activity, suppressed where fewer than
    ``MIN_ENTERPRISES`` enterprises contributed (see the module docstring)."""
    everything = StatScope.everything()
    totals = {
        (row.keys["city"], int(row.keys["year"])): row
        for row in stats_table(scope=everything, by=["city", "year"])
    }
    contributors: dict[tuple[str, int], int] = defaultdict(int)
    for row in stats_table(scope=everything, by=["city", "year", "enterprise"]):
        if any(row.values.values()):
            contributors[(row.keys["city"], int(row.keys["year"]))] += 1
    moved: dict[tuple[str, int], list[int | Decimal]] = {}
    completed = (
        Transfer.objects.filter(status=TransferStatus.COMPLETED)
        .values("generator__region__path", year=ExtractYear("completed_on"))
        .annotate(
            documents=Count("id", distinct=True),
            generators=Count("generator", distinct=True),
        )
        .order_by()
    )
    accepted = {
        (r["generator__region__path"], r["year"]): r["tonnes"]
        for r in Transfer.objects.filter(status=TransferStatus.COMPLETED)
        .values("generator__region__path", year=ExtractYear("completed_on"))
        .annotate(tonnes=Sum("lines__accepted"))
        .order_by()
    }
    for r in completed:
        key = (_league_of(r["generator__region__path"]), int(r["year"]))
        # An enterprise sits in one county, so distinct generators add up across counties.
        docs, generators, tonnes = moved.get(key, [0, 0, Decimal("0.000")])
        tonnes_here = accepted.get((r["generator__region__path"], r["year"])) or Decimal("0")
        moved[key] = [docs + r["documents"], generators + r["generators"], tonnes + tonnes_here]
    keys = sorted(set(totals) | set(moved))
    names = dict(Region.objects.filter(code__in={k[0] for k in keys}).values_list("code", "name"))
    provinces = dict(
        Region.objects.filter(code__in={k[0][:2] + "0000" for k in keys}).values_list(
            "code", "name"
        )
    )
    out = []
    for league, year in keys:
        total = totals.get((league, year))
        ledger_ok = contributors.get((league, year), 0) >= MIN_ENTERPRISES
        docs, generators, tonnes = moved.get((league, year), [0, 0, Decimal("0.000")])
        transfers_ok = int(generators) >= MIN_ENTERPRISES or docs == 0
        out.append(
            PublicCell(
                province=provinces.get(league[:2] + "0000", ""),
                league_code=league,
                league=names.get(league, league),
                year=year,
                generated=total.values["generated"] if total and ledger_ok else None,
                utilized=total.values["utilized"] if total and ledger_ok else None,
                utilization_rate=total.utilization_rate if total and ledger_ok else None,
                ledger_suppressed=not ledger_ok,
                transfers_completed=int(docs) if transfers_ok else None,
                tonnes_transferred=Decimal(tonnes).quantize(Decimal("0.001"))
                if transfers_ok
                else None,
                transfers_suppressed=not transfers_ok,
            )
        )
    return out

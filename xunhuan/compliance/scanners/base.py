"""What every scanner shares: the ``Hit`` and ``Scope`` types, the registry of scanners
and the aggregate queries several rules read (generation and utilization in a window)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.db.models import Q, QuerySet, Sum

from xunhuan.core.compliance.library import RuleDef, Severity
from xunhuan.core.compliance.params import ParamValue
from xunhuan.ledger.models import EntryKind, LedgerEntry, Purpose
from xunhuan.registry.models import Enterprise, Site, SiteKind, WasteCategory

ZERO = Decimal(0)
# Keys per IN (...) list: a province-wide rule may fire tens of thousands of times, more
# than SQLite takes parameters in one statement (32,766).
IN_CHUNK = 2000
T = TypeVar("T")


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """``items`` in runs of at most ``IN_CHUNK``, for IN (...) lists."""
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


@dataclass
class Hit:
    """One rule firing on one subject, with the figures its explanation needs."""

    subject_key: str
    region_id: str
    period_start: dt.date
    period_end: dt.date
    values: dict[str, Any]
    enterprise_id: int | None = None
    site_id: int | None = None
    park_id: int | None = None
    waste_id: str | None = None
    measured: dict[str, str] = field(default_factory=dict)
    # None: the rule's own severity; rate rules grade theirs by the shortfall.
    severity: Severity | None = None


@dataclass(frozen=True)
class Scope:
    """What one rule scans: its enterprises (the run's, narrowed to the rule's industries
    and setting group), parameters and date. ``run`` is shared by every rule of a run:
    the run's enterprises and what rules have already read from the ledger."""

    rule: RuleDef
    enterprises: QuerySet[Enterprise]
    params: Mapping[str, ParamValue]
    as_of: dt.date
    run: RunMemo = field(default_factory=lambda: RunMemo(Enterprise.objects.all()))

    def dec(self, name: str) -> Decimal:
        value = self.params[name]
        return value if isinstance(value, Decimal) else Decimal(int(value))

    def window(self, months: int | None = None) -> tuple[dt.date, dt.date]:
        """The last ``months`` whole calendar months up to ``as_of`` (default: the
        rule's ``months`` parameter)."""
        count = months if months is not None else int(self.params["months"])
        first = self.as_of.replace(day=1)
        for _ in range(count - 1):
            first = (first - dt.timedelta(days=1)).replace(day=1)
        return first, self.as_of

    def entries(self) -> QuerySet[LedgerEntry]:
        rows = LedgerEntry.objects.filter(enterprise__in=self.enterprises)
        if self.rule.waste_codes:
            rows = rows.filter(waste_id__in=self.rule.waste_codes)
        return rows


Scanner = Callable[[Scope], list[Hit]]
SCANNERS: dict[str, Scanner] = {}


def scanner(rule_id: str) -> Callable[[Scanner], Scanner]:
    def register(function: Scanner) -> Scanner:
        SCANNERS[rule_id] = function
        return function

    return register


def site_label(row: Mapping[str, Any], prefix: str = "site__") -> str:
    return f"{row[prefix + 'name']}（{row[prefix + 'code']}）"


def measured_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Measured values as text for the JSON column (no floats on the way)."""
    return {key: str(value) for key, value in values.items() if isinstance(value, Decimal | int)}


# Utilization by the generator: its own use (at any site, from the yard too) and what it
# handed over for utilization. Receivers' use of what they received happens at their
# utilization facilities and is not the generator's.
# (The utilization sites as a subquery, not a join: the window's grouped scan then
# touches no other table, which on a 10M-row ledger halved it.)
UTILIZED = (
    Q(kind=EntryKind.SELF_UTILIZED) | Q(kind=EntryKind.HANDED_OVER, purpose=Purpose.UTILIZATION)
) & ~Q(site__in=Site.objects.filter(kind=SiteKind.UTILIZATION).values("pk"))


@dataclass
class RunMemo:
    """A run's enterprises and the window totals its rules have read: the rules that
    compare generation and utilization over the same months share one grouped scan of
    the ledger instead of one each (six rules read the last 12 months)."""

    enterprises: QuerySet[Enterprise]
    totals: dict[tuple[dt.date, dt.date], list[dict[str, Any]]] = field(default_factory=dict)


def window_totals(scope: Scope) -> list[dict[str, Any]]:
    """Per enterprise and waste, generated and utilized (``UTILIZED``) in the rule's
    window, for the rule's enterprises and wastes, ordered by enterprise and waste.
    Rows carry the enterprise's region, park and name and the waste's name (read
    apart from the scan, which groups the ledger alone)."""
    start, end = scope.window()
    rows = scope.run.totals.get((start, end))
    if rows is None:
        rows = list(
            LedgerEntry.objects.filter(
                enterprise__in=scope.run.enterprises, occurred_on__range=(start, end)
            )
            .values("enterprise_id", "waste_id")
            .annotate(
                generated=Sum("quantity", filter=Q(kind=EntryKind.GENERATED)),
                utilized=Sum("quantity", filter=UTILIZED),
            )
            .order_by("enterprise_id", "waste_id")
        )
        who = {
            e["pk"]: e
            for e in scope.run.enterprises.values("pk", "region_id", "park_id", "name").order_by()
        }
        waste_names = dict(WasteCategory.objects.values_list("code", "name_zh"))
        for row in rows:
            e = who[row["enterprise_id"]]
            row["enterprise__region_id"] = e["region_id"]
            row["enterprise__park_id"] = e["park_id"]
            row["enterprise__name"] = e["name"]
            row["waste__name_zh"] = waste_names[row["waste_id"]]
        scope.run.totals[(start, end)] = rows
    mine = set(scope.enterprises.values_list("pk", flat=True))
    wastes = scope.rule.waste_codes
    return [
        row
        for row in rows
        if row["enterprise_id"] in mine and (not wastes or row["waste_id"] in wastes)
    ]


def generated_by_waste(scope: Scope) -> dict[tuple[int, str], Decimal]:
    return {
        (row["enterprise_id"], row["waste_id"]): row["generated"] or ZERO
        for row in window_totals(scope)
        if row["generated"] is not None
    }


def hit_measured(hit: Hit) -> dict[str, str]:
    return {**measured_values(hit.values), **hit.measured}

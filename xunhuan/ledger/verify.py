"""Whole-ledger verification: every chain, and stock balances against the raw entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from xunhuan.core.errors import NotFound
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import ChainHead, LedgerEntry, StockBalance
from xunhuan.ledger.selectors import stock_recomputed
from xunhuan.registry.models import Enterprise


@dataclass
class VerifyReport:
    chains: int = 0
    entries: int = 0
    balances: int = 0
    problems: list[str] = field(default_factory=list)


def ledger_verify_all(*, credit_code: str | None = None) -> VerifyReport:
    """Check each enterprise with entries or a chain head (or only ``credit_code``'s).

    Reports, per enterprise, the first broken entry of its chain (by seq and
    public id) and every stock balance that differs from the sum of the raw
    entries. Raises ``NotFound`` for a credit code nobody registered, so a typo
    is never reported as an intact ledger.
    """
    report = VerifyReport()
    if credit_code:
        code = credit_code.strip().upper()
        enterprises = Enterprise.objects.filter(credit_code=code)
        if not enterprises.exists():
            raise NotFound(f"未登记的单位：{code} / no enterprise with this credit code")
    else:
        # EXISTS per enterprise is an index probe on (enterprise, seq); a DISTINCT over
        # the whole ledger would scan every row.
        has_entries = Exists(LedgerEntry.objects.filter(enterprise=OuterRef("pk")))
        has_head = Exists(ChainHead.objects.filter(enterprise=OuterRef("pk")))
        enterprises = Enterprise.objects.filter(has_entries | has_head).order_by("credit_code")
    for enterprise in enterprises:
        report.chains += 1
        report.entries += LedgerEntry.objects.filter(enterprise=enterprise).count()
        broken = chain_verify(enterprise_id=enterprise.pk)
        if broken is not None:
            report.problems.append(
                f"{enterprise.credit_code} {enterprise.name}: 第{broken.seq}条记录 / "
                f"entry #{broken.seq} ({broken.label}): {broken.problem}"
            )
        expected = stock_recomputed(enterprise=enterprise)
        stored = {
            (site_id, waste_id): quantity
            for site_id, waste_id, quantity in StockBalance.objects.filter(
                site__enterprise=enterprise
            ).values_list("site_id", "waste_id", "quantity")
        }
        report.balances += len(stored)
        for key in sorted(set(expected) | set(stored)):
            want, have = expected.get(key, 0), stored.get(key, 0)
            if want != have:
                report.problems.append(
                    f"{enterprise.credit_code} {enterprise.name}: 库存与台账不符 / "
                    f"stock of site {key[0]} waste {key[1]} is {have} t "
                    f"but the entries sum to {want} t"
                )
    return report

"""Public aggregates (no login): per league and year, ledger and transfer totals with
cells of fewer than three enterprises suppressed (``xunhuan.statistics.public``,
ADR 0024). Nothing here names an enterprise or a document."""

# No ``from __future__ import annotations``: django-ninja resolves annotations at run
# time (see xunhuan/api/api.py).
from decimal import Decimal

from django.http import HttpRequest
from ninja import Router, Schema

from xunhuan.statistics.public import MIN_ENTERPRISES, PublicCell, public_aggregates

router = Router(tags=["公开统计 public"])


class PublicCellOut(Schema):
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


class PublicOut(Schema):
    min_enterprises: int
    rule: str
    cells: list[PublicCellOut]


RULE = (
    "单位数少于3家的盟市年度数据不予公开；不公布合计以免反推 / "
    "cells with fewer than 3 enterprises are withheld; no totals are published"
)


@router.get("/aggregates", response=PublicOut, auth=None)
def aggregates(request: HttpRequest) -> dict[str, object]:
    """Per league and year: generation, utilization, rate, completed transfer documents
    and tonnes transferred. Anonymous; aggregates only."""
    cells: list[PublicCell] = public_aggregates()
    return {"min_enterprises": MIN_ENTERPRISES, "rule": RULE, "cells": cells}

"""On the demo region the checks find every planted problem and flag no clean enterprise."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

import pytest
from django.db.models import Count

from xunhuan.compliance.models import Finding
from xunhuan.compliance.services import compliance_run
from xunhuan.demo.compliance import demo_compliance_plant
from xunhuan.demo.generator import DemoSpec, demo_load

pytestmark = pytest.mark.django_db

SPEC = DemoSpec(enterprises=60, years=2, end=dt.date(2025, 6, 30))
# Which rules must fire for each kind of planted problem.
RULES_FOR = {
    "贮存场库容不足": {"YARD-OVER-CAPACITY"},
    "永久贮存场": {"YARD-PERMANENT"},
    "煤矸石未综合利用": {"COAL-MINE-GANGUE"},
    "倾倒丢弃": {"DISCARDED"},
    "电解铝交流电耗超标": {"AL-POTLINE-EXISTING", "AL-GB21346", "AL-EXISTING-DEADLINE"},
    "危险废物贮存超过一年": {"HAZARDOUS-STORAGE"},
    "电解铝项目资本金比例不足": {"AL-CAPITAL-RATIO"},
    "划定区域内新建选矿厂规模不足": {"BENEFICIATION-SCALE"},
    "新建电厂缺脱硫石膏利用方案": {"COAL-POWER-PLANS"},
    "利用设施未同时投产": {"THREE-SIMULTANEOUS"},
}
# Rules that only planted problems may trigger on the demo's otherwise orderly ledgers.
# (SMELTER-SLAG and PARK-UTILIZATION are left out on purpose: the demo's smelters
# utilize 50-90 % of their slag and some parks hold no utilizer, as in the real region;
# so is SMELTER-IN-PARK: many of its copper and lead-zinc smelters stand outside parks.)
STRICT = {rule for rules in RULES_FOR.values() for rule in rules} | {
    "YARD-3Y",
    "STOCK-AGE",
    "AL-POTLINE-NEW",
    "SMELTING-LINE-SCALE",
    "BENEFICIATION-SCALE",
    "ORE-SELF-SUPPLY",
    "PG-SLAG-PRODUCTION",
    "LEDGER-GAP",
    "GENERATION-VS-DECLARED",
    "MASS-BALANCE",
}
PLANTED = re.compile(r"（(?P<code>[0-9A-Z]{18})）: (?P<problem>\S+) /")


def test_every_planted_problem_is_found_and_no_clean_enterprise_is_flagged() -> None:
    summary = demo_load(SPEC)
    demo_compliance_plant(SPEC, summary)
    expected: dict[str, set[str]] = defaultdict(set)
    for line in summary.planted:
        match = PLANTED.search(line)
        assert match is not None, line
        for rule_id in RULES_FOR[match["problem"]]:
            expected[rule_id].add(match["code"])
    assert set(expected) >= {
        "YARD-PERMANENT",
        "DISCARDED",
        "AL-GB21346",
        "COAL-POWER-PLANS",
        "THREE-SIMULTANEOUS",
        "HAZARDOUS-STORAGE",
        "AL-CAPITAL-RATIO",
        "BENEFICIATION-SCALE",
    }
    run = compliance_run(as_of=SPEC.end_date())
    found: dict[str, set[str]] = defaultdict(set)
    for rule_id, code in Finding.objects.filter(enterprise__isnull=False).values_list(
        "rule_id", "enterprise__credit_code"
    ):
        found[rule_id].add(code)
    for rule_id in STRICT:
        assert found[rule_id] == expected[rule_id], rule_id
    # A plausible, varied queue beyond the planted problems.
    by_rule = dict(Finding.objects.values_list("rule_id").annotate(n=Count("pk")))
    assert by_rule["SMELTER-SLAG"] >= 3
    assert by_rule["SMELTER-IN-PARK"] >= 1
    assert run.found == sum(by_rule.values())
    again = compliance_run(as_of=SPEC.end_date())
    assert (again.found, again.created, again.resolved) == (run.found, 0, 0)


# Long enough for stock to lie in a yard beyond the rule's three years.
LONG = DemoSpec(enterprises=40, years=4, end=dt.date(2025, 6, 30))


def test_old_yard_stock_is_found_only_where_the_demo_keeps_it() -> None:
    """Clean enterprises take stock older than two years to landfill each January; the
    planted hoarders do not, and only they are flagged for stock kept too long."""
    summary = demo_load(LONG)
    hoarders = {
        match["code"]
        for line in summary.planted
        if (match := PLANTED.search(line)) and match["problem"] == "贮存超期"
    }
    assert hoarders
    compliance_run(as_of=LONG.end_date(), rule_ids=["STOCK-AGE", "YARD-3Y"])

    def flagged(rule_id: str) -> set[str]:
        return set(
            Finding.objects.filter(rule_id=rule_id).values_list(
                "enterprise__credit_code", flat=True
            )
        )

    assert flagged("STOCK-AGE") == hoarders
    # Stock above three years of generation needs years of hoarding too.
    assert flagged("YARD-3Y") <= hoarders

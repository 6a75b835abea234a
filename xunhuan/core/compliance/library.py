"""The rule library: what each rule checks, where it comes from, its parameters and words.

Definitions are data (this module is Django-free); the scanning queries live in
``xunhuan.compliance.scanners`` keyed by the same ids. Sources say how sure we are:
``seed`` means the policy texts in ``../shared/seeds``; national standards name their
clause; anything taken from a secondary source says so in ``verification``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Literal

from xunhuan.core.compliance.params import ParamSpec


class Severity(IntEnum):
    """Ordered so a queue sorted by severity descending puts the gravest first."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3


# A rate rule's finding is graded by how far the rate falls short (ADR 0050 addendum):
# below half the required rate one step graver than the rule's severity, within this
# many points of it one step lighter.
NEAR_MISS_POINTS = Decimal(10)


def shortfall_severity(default: Severity, *, rate: Decimal, minimum: Decimal) -> Severity:
    """The severity of a finding whose utilization ``rate`` (percent) is below the rule's
    ``minimum``: a smelter using 10 % of its slag is graver than one using 95 %."""
    if rate * 2 < minimum:
        return Severity(min(default + 1, Severity.HIGH))
    if minimum - rate <= NEAR_MISS_POINTS:
        return Severity(max(default - 1, Severity.LOW))
    return default


Subject = Literal["site", "enterprise", "park"]

COAL_MINING = ("0610", "0620", "0690")
COAL_POWER = ("4411", "4412")
# 黑色/有色金属冶炼 (GB/T 4754-2017 31, 32): "冶金企业" of seed 003.
METALLURGY = ("31", "32")
NONFERROUS_SMELTING = ("32",)
ALUMINIUM = ("3216",)
METAL_MINING = ("08", "09")
# 铜冶炼 3211, 铅锌冶炼 3212, 镁冶炼 3217 (GB/T 4754-2017): seed 004's 铜铅锌镁冶炼企业.
COPPER_LEAD_ZINC_MAGNESIUM = ("3211", "3212", "3217")
# The seed-003 3-year sizing rule comes from the fly-ash (2013) and coal-gangue (2014)
# management rules, so it is scoped to those two wastes.
FLY_ASH_AND_GANGUE = ("SW02", "SW04")


@dataclass(frozen=True)
class RuleDef:
    rule_id: str
    title_zh: str
    title_en: str
    source: str
    verification: str
    severity: Severity
    subject: Subject
    template_zh: str
    template_en: str
    params: tuple[ParamSpec, ...] = ()
    # GB/T 4754 code prefixes the rule applies to; empty means every industry.
    industries: tuple[str, ...] = ()
    # Waste codes the rule looks at; empty means every code.
    waste_codes: tuple[str, ...] = ()

    def param(self, name: str) -> ParamSpec:
        return next(spec for spec in self.params if spec.name == name)


def _dec(
    name: str, default: str, zh: str, en: str, lo: str = "0", hi: str | None = None
) -> ParamSpec:
    return ParamSpec(
        name,
        "decimal",
        Decimal(default),
        zh,
        en,
        minimum=Decimal(lo),
        maximum=Decimal(hi) if hi is not None else None,
    )


def _int(name: str, default: int, zh: str, en: str, lo: int, hi: int) -> ParamSpec:
    return ParamSpec(name, "int", default, zh, en, minimum=Decimal(lo), maximum=Decimal(hi))


SEED_003 = "山西省工业固废综合利用工作方案（种子文件003）"
SEED_004 = "内蒙古有色金属行业规定（种子文件004，约2013年）"
SEED_001 = "关于加快推动工业资源综合利用的实施方案（工信部联节〔2022〕9号，种子文件001）"
WINDOW = _int("months", 12, "统计月数", "months looked back", 1, 60)

RULES: tuple[RuleDef, ...] = (
    RuleDef(
        "YARD-3Y",
        "贮存场堆存超过3年产生量",
        "yard holds more than 3 years of generation",
        f"{SEED_003}：煤矸石、粉煤灰临时贮存场按不超过3年产生量设计"
        "（源自粉煤灰综合利用管理办法2013、煤矸石综合利用管理办法2014）",
        "seed text; national 2013/2014 rules cited by the seed, not checked clause by clause",
        Severity.HIGH,
        "site",
        "贮存场{site}的{waste}现存{stock}吨，按近{months}个月产生量{generated}吨计相当于"
        "{years}年的产生量，超过{limit_years}年上限。",
        "Yard {site} holds {stock} t of {waste}, {years} years of the {generated} t generated "
        "in the last {months} months, above the {limit_years}-year limit.",
        params=(_dec("years", "3", "年限（年）", "years", "0.5", "20"), WINDOW),
        waste_codes=FLY_ASH_AND_GANGUE,
    ),
    RuleDef(
        "YARD-PERMANENT",
        "设置永久贮存场",
        "permanent storage yard",
        f"{SEED_003}：不得设置永久性贮存场，企业须消纳历史堆存",
        "seed text",
        Severity.HIGH,
        "site",
        "贮存场{site}登记为永久贮存场（现存{stock}吨）；应改为临时贮存并逐步消纳历史堆存。",
        "Yard {site} is registered as permanent (holding {stock} t); only temporary yards "
        "are allowed and historical stock must be absorbed.",
    ),
    RuleDef(
        "YARD-OVER-CAPACITY",
        "贮存量超过设计库容",
        "stock above the yard's design capacity",
        "贮存场登记的设计库容；GB 18599-2020 第5章（贮存场按设计建设、运行）",
        "registry parameter; GB 18599-2020 design chapter (verified in the domain notes)",
        Severity.HIGH,
        "site",
        "贮存场{site}现存{stock}吨，为设计库容{capacity}吨的{fill}%，超过{limit}%。",
        "Yard {site} holds {stock} t, {fill}% of its {capacity} t design capacity "
        "(limit {limit}%).",
        params=(_dec("limit_pct", "100", "库容占用上限（%）", "fill limit (%)", "1", "200"),),
    ),
    RuleDef(
        "STOCK-AGE",
        "贮存超期",
        "stock older than the allowed period",
        f"{SEED_003}：临时贮存不超过3年（危险废物贮存不超过1年见规则HAZARDOUS-STORAGE）",
        "seed text",
        Severity.MEDIUM,
        "site",
        "{site}的{waste}库存{stock}吨，而近{years}年入库合计仅{inflow}吨：至少{old}吨已贮存超过"
        "{years}年（先进先出推算）。",
        "{site} holds {stock} t of {waste} but only {inflow} t came in during the last {years} "
        "years: at least {old} t has been stored longer than {years} years (first in, first out).",
        params=(_int("years", 3, "允许贮存年限（年）", "allowed years", 1, 20),),
    ),
    RuleDef(
        "HAZARDOUS-STORAGE",
        "危险废物贮存超过一年",
        "hazardous waste stored longer than one year",
        "《固体废物污染环境防治法》（2020）第八十一条：贮存危险废物不得超过一年；确需延长期限的，"
        "应当报经颁发许可证的生态环境主管部门批准",
        "statute as given in the domain notes (art. 81); the platform's catalogue has no HW codes, "
        "so only wastes an enterprise or its regulator declared hazardous are checked (ADR 0052); "
        "the aluminium-dross codes 321-024-48/321-026-48 per MEE's 2021-10 reply on 铝灰",
        Severity.HIGH,
        "site",
        "{site}贮存的危险废物{waste}（{hw}）现存{stock}吨，近{days}天入库合计{inflow}吨：按先进先出"
        "至少{old}吨已贮存超过{days}天，最早一批{oldest}。",
        "{site} holds {stock} t of hazardous {waste} ({hw}) but only {inflow} t came in during the "
        "last {days} days: at least {old} t has been stored longer than {days} days (first in, "
        "first out); oldest batch {oldest_en}.",
        params=(_int("days", 365, "允许贮存天数", "days allowed", 1, 1095),),
    ),
    RuleDef(
        "COAL-MINE-GANGUE",
        "煤矿未综合利用煤矸石",
        "coal mine without gangue utilization",
        f"{SEED_003}：煤矿项目须有煤矸石综合利用方案",
        "seed text",
        Severity.HIGH,
        "enterprise",
        "近{months}个月产生煤矸石{generated}吨，综合利用{utilized}吨（{rate}%），低于{min_rate}%，"
        "且未登记煤矸石综合利用方案或利用设施。",
        "Generated {generated} t of coal gangue in the last {months} months and utilized "
        "{utilized} t ({rate}%), below {min_rate}%, with no registered gangue utilization "
        "plan or facility.",
        params=(
            _dec("min_rate_pct", "1", "最低利用率（%）", "minimum rate (%)", "0", "100"),
            WINDOW,
        ),
        industries=COAL_MINING,
        waste_codes=("SW04",),
    ),
    RuleDef(
        "COAL-POWER-PLANS",
        "新建/扩建燃煤电厂缺粉煤灰、脱硫石膏利用方案",
        "new coal power plant without fly-ash and FGD-gypsum plans",
        f"{SEED_003}：新建、扩建燃煤电厂须有粉煤灰、脱硫石膏综合利用方案",
        "seed text",
        Severity.HIGH,
        "enterprise",
        "新建/扩建燃煤电厂缺少：{missing}。",
        "New or expanded coal power plant lacks: {missing_en}.",
        industries=COAL_POWER,
    ),
    RuleDef(
        "SMELTER-SLAG",
        "冶金企业冶炼渣未全部利用",
        "smelter not utilizing all its slag",
        f"{SEED_003}：冶金企业冶炼渣全部综合利用",
        "seed text",
        Severity.MEDIUM,
        "enterprise",
        "近{months}个月产生冶炼渣{generated}吨，综合利用{utilized}吨（{rate}%），低于{min_rate}%。",
        "Generated {generated} t of smelting slag in the last {months} months and utilized "
        "{utilized} t ({rate}%), below {min_rate}%.",
        params=(
            _dec("min_rate_pct", "100", "最低利用率（%）", "minimum rate (%)", "0", "100"),
            WINDOW,
        ),
        industries=METALLURGY,
        waste_codes=("SW01",),
    ),
    RuleDef(
        "THREE-SIMULTANEOUS",
        "新项目未落实“三同时”",
        "new project without its utilization facility (三同时)",
        f"{SEED_003}：新建项目综合利用设施与主体工程同时设计、同时施工、同时投产使用",
        "seed text",
        Severity.HIGH,
        "enterprise",
        "新建/扩建项目的综合利用设施未{missing}（三同时）。",
        "The new or expanded project's utilization facility was not {missing_en} together "
        "with the main works.",
    ),
    RuleDef(
        "PARK-UTILIZATION",
        "产废量大的园区无综合利用项目",
        "park with large generation and no utilization projects",
        f"{SEED_003}：固废产生量大的工业园区须规划建设综合利用项目",
        "seed text; the size threshold is a parameter (the seed sets no number)",
        Severity.MEDIUM,
        "park",
        "园区{park}近{months}个月产生固废{generated}吨（门槛{threshold}吨），园区内无登记的综合利用"
        "设施能力。",
        "Park {park} generated {generated} t in the last {months} months (threshold "
        "{threshold} t) and has no registered utilization capacity.",
        params=(
            _dec("threshold_t", "1000000", "产生量门槛（吨）", "generation threshold (t)", "0"),
            WINDOW,
        ),
    ),
    RuleDef(
        "AL-POTLINE-NEW",
        "新建/改造电解铝生产线不达标",
        "new electrolytic aluminium potline below the norm",
        f"{SEED_004}：新建及改造电解铝≥400kA预焙槽，铝液交流电耗≤12750kWh/t、铝锭≤13200kWh/t，"
        "电流效率≥93%",
        "seed text; matches the 准入值 (entry values) of GB 21346-2013 (铝液交流电耗≤12750, "
        "铝锭综合交流电耗≤13200 kWh/t) per a repost of that standard's foreword "
        "(http://szlhsb.com/infoDetails/87/15792279); GB 21346-2013 was replaced by "
        "GB 21346-2022 on 2024-01-01",
        Severity.MEDIUM,
        "enterprise",
        "新建/改造电解铝生产线{site}：{breaches}。",
        "New potline {site}: {breaches_en}.",
        params=(
            _dec("min_current_ka", "400", "最低槽电流（kA）", "minimum current (kA)"),
            _dec(
                "max_ac_liquid", "12750", "铝液交流电耗上限（kWh/t）", "max AC, liquid Al (kWh/t)"
            ),
            _dec("max_ac_ingot", "13200", "铝锭交流电耗上限（kWh/t）", "max AC, ingot (kWh/t)"),
            _dec("min_efficiency_pct", "93", "最低电流效率（%）", "min current efficiency (%)"),
        ),
        industries=ALUMINIUM,
    ),
    RuleDef(
        "AL-POTLINE-EXISTING",
        "现有电解铝生产线不达标",
        "existing electrolytic aluminium potline below the norm",
        f"{SEED_004}：现有电解铝≥160kA，铝液交流电耗≤13350kWh/t、铝锭≤13800kWh/t，电流效率≥92%",
        "seed text",
        Severity.MEDIUM,
        "enterprise",
        "现有电解铝生产线{site}：{breaches}。",
        "Existing potline {site}: {breaches_en}.",
        params=(
            _dec("min_current_ka", "160", "最低槽电流（kA）", "minimum current (kA)"),
            _dec(
                "max_ac_liquid", "13350", "铝液交流电耗上限（kWh/t）", "max AC, liquid Al (kWh/t)"
            ),
            _dec("max_ac_ingot", "13800", "铝锭交流电耗上限（kWh/t）", "max AC, ingot (kWh/t)"),
            _dec("min_efficiency_pct", "92", "最低电流效率（%）", "min current efficiency (%)"),
        ),
        industries=ALUMINIUM,
    ),
    RuleDef(
        "AL-GB21346",
        "电解铝能耗超过国家限额",
        "aluminium energy use above the national limit",
        "GB 21346-2022《电解铝和氧化铝单位产品能源消耗限额》表1，3级（限定值）："
        "铝液交流电耗≤13350kWh/t，铝锭综合交流电耗≤13750kWh/t",
        "secondary: public code encoding the standard (domain data metal_industry_norms.csv); "
        "not checked against the standard's text",
        Severity.MEDIUM,
        "enterprise",
        "生产线{site}：{breaches}（GB 21346-2022 限定值）。",
        "Line {site}: {breaches_en} (GB 21346-2022 limit values).",
        params=(
            _dec("max_ac_liquid", "13350", "铝液交流电耗限定值（kWh/t）", "AC limit, liquid Al"),
            _dec("max_ac_ingot", "13750", "铝锭综合交流电耗限定值（kWh/t）", "AC limit, ingot"),
        ),
        industries=ALUMINIUM,
    ),
    RuleDef(
        "SMELTING-LINE-SCALE",
        "铜铅锌冶炼单系列规模不足",
        "copper/lead/zinc smelting line below the minimum scale",
        f"{SEED_004}：铜、锌冶炼单系列≥10万吨/年，铅≥8万吨/年；铜冶炼行业规范条件（工信部公告2014年"
        "第29号）新建/改造铜冶炼≥10万吨/年",
        "seed text; copper also verified in the 2014 national norm (text reposts)",
        Severity.MEDIUM,
        "enterprise",
        "{metal}冶炼生产线{site}年产能{capacity}吨，低于{minimum}吨。",
        "{metal_en} smelting line {site} has {capacity} t/a, below {minimum} t/a.",
        params=(
            _dec("min_cu_t", "100000", "铜（吨/年）", "copper (t/a)"),
            _dec("min_zn_t", "100000", "锌（吨/年）", "zinc (t/a)"),
            _dec("min_pb_t", "80000", "铅（吨/年）", "lead (t/a)"),
        ),
        industries=NONFERROUS_SMELTING,
    ),
    RuleDef(
        "BENEFICIATION-SCALE",
        "选矿厂规模不足",
        "beneficiation plant below the minimum scale",
        f"{SEED_004}：盟市划定的重点矿区区域（覆盖半径一般控制在30公里以内）内新建选矿厂，"
        "处理矿石能力贵金属≥100吨/日，铜≥300吨/日，铅锌≥1000吨/日",
        "seed text; applies to new plants (is_new_project) within a registered zone, distance "
        "by great circle from the site's (else the enterprise's) coordinates; outside the zones "
        "the seed asks scale to match the mine's, which is not registered (ADR 0052)",
        Severity.LOW,
        "enterprise",
        "新建{metal}选矿厂{site}位于划定区域{zone}内（距中心{distance}公里），处理能力{capacity}吨/日，"
        "低于{minimum}吨/日。",
        "New {metal_en} beneficiation plant {site}, {distance} km from the centre of zone "
        "{zone}, treats {capacity} t/d, below {minimum} t/d.",
        params=(
            _dec("min_precious_tpd", "100", "贵金属（吨/日）", "precious metals (t/d)"),
            _dec("min_cu_tpd", "300", "铜（吨/日）", "copper (t/d)"),
            _dec("min_pbzn_tpd", "1000", "铅锌（吨/日）", "lead-zinc (t/d)"),
        ),
        industries=METAL_MINING,
    ),
    RuleDef(
        "ORE-SELF-SUPPLY",
        "冶炼企业自有矿山原料保障不足",
        "smelter's own ore supply below the minimum",
        f"{SEED_004}：冶炼企业自有矿山原料自给率≥30%",
        "seed text",
        Severity.LOW,
        "enterprise",
        "自有矿山原料自给率{share}%，低于{minimum}%。",
        "Own-mine ore supply is {share}%, below {minimum}%.",
        params=(_dec("min_share_pct", "30", "最低自给率（%）", "minimum share (%)", "0", "100"),),
        industries=NONFERROUS_SMELTING,
    ),
    RuleDef(
        "AL-CAPITAL-RATIO",
        "电解铝项目资本金比例不足",
        "electrolytic aluminium project below the minimum equity ratio",
        f"{SEED_004}：电解铝项目最低资本金比例必须达到40%",
        "seed text; the ratio is the one declared for the project (profile), not read from "
        "financial filings",
        Severity.MEDIUM,
        "enterprise",
        "电解铝项目{site}资本金比例{share}%，低于{minimum}%。",
        "Aluminium project {site} has {share}% equity capital, below {minimum}%.",
        params=(
            _dec("min_share_pct", "40", "最低资本金比例（%）", "minimum ratio (%)", "0", "100"),
        ),
        industries=ALUMINIUM,
    ),
    RuleDef(
        "AL-EXISTING-DEADLINE",
        "现有电解铝未按期达到新建能耗水平",
        "existing aluminium line not at the new-line energy level after the deadline",
        f"{SEED_004}：不符合交流电耗规范条件的现有企业要通过技术改造节能降耗，在“十二五”末达到新建和"
        "改造企业能耗水平（铝液≤12750、铝锭≤13200kWh/t）",
        "seed text; 十二五 ends 2015-12-31",
        Severity.MEDIUM,
        "enterprise",
        "现有电解铝生产线{site}：{breaches}；“十二五”末（{deadline}年底）起应达到新建生产线能耗水平。",
        "Existing potline {site}: {breaches_en}; it was to reach the new-line level by the end "
        "of {deadline}.",
        params=(
            _dec(
                "max_ac_liquid", "12750", "铝液交流电耗上限（kWh/t）", "max AC, liquid Al (kWh/t)"
            ),
            _dec("max_ac_ingot", "13200", "铝锭交流电耗上限（kWh/t）", "max AC, ingot (kWh/t)"),
            _int("deadline_year", 2015, "期限（年底）", "deadline (end of year)", 2011, 2035),
        ),
        industries=ALUMINIUM,
    ),
    RuleDef(
        "SMELTER-IN-PARK",
        "铜铅锌镁冶炼企业未入园",
        "copper/lead/zinc/magnesium smelter outside an industrial park",
        f"{SEED_004}：铜铅锌镁冶炼企业要建设在有色金属专业园区",
        "seed text; the registry does not record what a park specializes in, so any registered "
        "park counts (a smelter in a park that is not a non-ferrous park is not caught)",
        Severity.LOW,
        "enterprise",
        "{industry}企业{name}未登记在任何工业园区内（要求建设在有色金属专业园区）。",
        "{industry_en} enterprise {name} is registered in no industrial park (it should be "
        "in a non-ferrous metals park).",
        industries=COPPER_LEAD_ZINC_MAGNESIUM,
    ),
    RuleDef(
        "PG-SLAG-PRODUCTION",
        "磷石膏未“以渣定产”",
        "phosphogypsum generated beyond what is utilized (以渣定产)",
        f"{SEED_001}：磷石膏“以渣定产”，按综合利用能力确定产量",
        "seed text",
        Severity.HIGH,
        "enterprise",
        "近{months}个月产生磷石膏{generated}吨，综合利用{utilized}吨（{rate}%），产量超出利用能力"
        "（要求≥{min_rate}%）。",
        "Generated {generated} t of phosphogypsum in the last {months} months and utilized "
        "{utilized} t ({rate}%): production exceeds utilization (required {min_rate}%).",
        params=(
            _dec("min_rate_pct", "100", "最低利用率（%）", "minimum rate (%)", "0", "200"),
            WINDOW,
        ),
        waste_codes=("SW10",),
    ),
    RuleDef(
        "LEDGER-GAP",
        "台账缺月",
        "generator with months without ledger entries",
        "一般工业固体废物管理台账制定指南（试行）（生态环境部公告2021年第82号）：按月汇总流向",
        "guideline title verified; its monthly table structure is recalled, not verified",
        Severity.LOW,
        "enterprise",
        "近{months}个月中有{count}个月无任何台账记录：{missing}。",
        "{count} of the last {months} months have no ledger entries: {missing}.",
        params=(WINDOW,),
    ),
    RuleDef(
        "GENERATION-VS-DECLARED",
        "产生量与产生清单申报不符",
        "generation inconsistent with the declared annual amount",
        "一般工业固体废物管理台账制定指南（试行）：产生清单填报预计年产生量",
        "guideline title verified; the band is a parameter",
        Severity.LOW,
        "enterprise",
        "{waste}近{months}个月产生{generated}吨，为产生清单预计年产生量{declared}吨的{ratio}%，"
        "超出{low}%–{high}%。",
        "{waste}: {generated} t generated in the last {months} months is {ratio}% of the "
        "declared {declared} t a year, outside {low}%–{high}%.",
        params=(
            _dec("low_pct", "50", "下限（%）", "lower bound (%)"),
            _dec("high_pct", "150", "上限（%）", "upper bound (%)"),
            WINDOW,
        ),
    ),
    RuleDef(
        "MASS-BALANCE",
        "产生量去向不平衡",
        "generation not accounted for (mass balance does not close)",
        "产生量 = 利用 + 处置 + 贮存 + 倾倒丢弃（环境统计口径）；"
        "一般工业固体废物管理台账制定指南（试行）",
        "statistics identity (domain notes)",
        Severity.MEDIUM,
        "enterprise",
        "{waste}在产生设施滞留{unaccounted}吨未记录去向，为近{months}个月产生量{generated}吨的"
        "{share}%，超过{tolerance}%。",
        "{unaccounted} t of {waste} sits at production sites with no recorded destination, "
        "{share}% of the {generated} t generated in the last {months} months (tolerance "
        "{tolerance}%).",
        params=(_dec("tolerance_pct", "5", "允许偏差（%）", "tolerance (%)", "0", "100"), WINDOW),
    ),
    RuleDef(
        "DISCARDED",
        "倾倒丢弃固体废物",
        "solid waste dumped or discarded",
        "《固体废物污染环境防治法》（2020）第二十条：不得擅自倾倒、堆放、丢弃、遗撒固体废物",
        "statute; article number from the 2020 revision as recalled",
        Severity.HIGH,
        "enterprise",
        "近{months}个月台账记录倾倒丢弃{waste}{discarded}吨（{count}笔）。",
        "{discarded} t of {waste} recorded as dumped in the last {months} months "
        "({count} entries).",
        params=(WINDOW,),
    ),
    RuleDef(
        "TRANSFER-OVERDUE",
        "联单接收或利用处置逾期",
        "transfer document overdue",
        "危险废物转移管理办法（部令第23号，2021）第十八条：接收人5个工作日内确认接收（一般工业固废联单参照）",
        "statute verified (domain data hazardous_transfer_rules.csv); applying it to general "
        "waste documents is this platform's choice; due dates are the transfer app's",
        Severity.MEDIUM,
        "enterprise",
        "联单{number}（{generator}→{receiver}）{step}期限{due}已过{days}天，当前状态：{status}。",
        "Transfer {number} ({generator} → {receiver}): {step_en} was due {due}, {days} days "
        "ago; status: {status_en}.",
    ),
    RuleDef(
        "TRANSFER-DISPUTED",
        "联单磅差久未确认",
        "transfer weighing discrepancy left unsettled",
        "转移联单磅差须双方签认后方可完成（本平台联单规则，见ADR 0020）",
        "platform rule (transfers app)",
        Severity.LOW,
        "enterprise",
        "联单{number}第{line}行申报{declared}吨、过磅{weighed}吨，磅差自{opened}起{days}天未经双方确认"
        "（超过{max_days}天）。",
        "Transfer {number} line {line}: declared {declared} t, weighed {weighed} t; the "
        "discrepancy has been open {days} days since {opened} (more than {max_days}).",
        params=(_int("max_days", 10, "允许天数", "days allowed", 1, 365),),
    ),
    RuleDef(
        "TRANSFER-RECEIVER",
        "接收单位无资质或超能力接收",
        "receiver unqualified or beyond its registered capacity",
        "固体废物污染环境防治法（2020）第三十七条：委托他人运输、利用、处置的，应当核实受托方的主体资格"
        "和技术能力",
        "statute, article number as recalled; capacity is the registry's annual capacity",
        Severity.HIGH,
        "enterprise",
        "近{months}个月经联单接收{waste}{accepted}吨（{purpose}）：{problem}。",
        "{accepted} t of {waste} received on transfer documents in the last {months} months "
        "({purpose_en}): {problem_en}.",
        params=(
            _dec("limit_pct", "100", "能力占用上限（%）", "capacity limit (%)", "1", "200"),
            WINDOW,
        ),
    ),
)

RULES_BY_ID: dict[str, RuleDef] = {rule.rule_id: rule for rule in RULES}


def rule_get(rule_id: str) -> RuleDef | None:
    return RULES_BY_ID.get(rule_id.strip().upper())


def industry_in_scope(rule: RuleDef, industry_code: str) -> bool:
    return not rule.industries or industry_code.startswith(rule.industries)

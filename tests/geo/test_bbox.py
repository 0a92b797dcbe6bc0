"""Bounding boxes from URLs, and the zoom arithmetic that sizes simplification and decimals."""

from __future__ import annotations

import math

import pytest

from geo.bbox import decimals_for_zoom, pad, parse_bbox, tolerance_for_zoom


def pixel_degrees(zoom: int) -> float:
    return 360.0 / (256 * 2 ** zoom)


@pytest.mark.parametrize("zoom", range(0, 17))
def test_decimals_keep_coordinates_within_half_a_pixel(zoom):
    decimals = decimals_for_zoom(zoom)
    rounding_error = 0.5 * 10 ** -decimals
    assert rounding_error <= 0.5 * pixel_degrees(zoom) / 2 or decimals == 6
    # ... and no finer than needed: one decimal fewer would show, except at the floor of 4.
    assert decimals == 4 or 0.5 * 10 ** -(decimals - 1) > 0.5 * pixel_degrees(zoom) / 2


def test_decimals_grow_with_the_zoom_and_stop_at_six():
    values = [decimals_for_zoom(z) for z in range(0, 25)]
    assert values == sorted(values)
    assert values[0] == 4 and values[12] == 4 and values[14] == 5 and values[17:] == [6] * 8
    assert decimals_for_zoom(None) == 6


def test_tolerance_is_half_a_pixel_and_zero_when_close():
    assert tolerance_for_zoom(12) == pytest.approx(0.5 * pixel_degrees(12))
    assert tolerance_for_zoom(17) == tolerance_for_zoom(None) == 0.0


@pytest.mark.parametrize("text,reason", [
    (None, "missing"), ("", "missing"), ("1,2,3", "four"), ("a,b,c,d", "numbers"),
    ("nan,1,2,3", "finite"), ("1,2,inf,3", "finite"), ("-181,0,1,1", "outside"),
    ("2,0,1,1", "greater"),
])
def test_bad_boxes_say_what_is_wrong(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_bbox(text)


def test_pad_stays_on_the_globe():
    assert pad((179.5, 89.5, 179.9, 89.9), 1.0) == (178.5, 88.5, 180.0, 90.0)
    assert parse_bbox("116.1,39.8,116.3,39.95") == (116.1, 39.8, 116.3, 39.95)
    assert math.isclose(pad((0, 0, 1, 1), 0.5)[0], -0.5)

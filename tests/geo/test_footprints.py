"""Tests for geo.footprints: reproducible synthetic compound footprints."""

import logging
import math

import numpy as np
import pytest
import shapely
from shapely import MultiPolygon, Point, Polygon
from shapely.geometry import box
from shapely.ops import unary_union

from geo.footprints import (
    MAX_VERTICES,
    MIN_VERTICES,
    area_m2,
    generate_footprint,
    random_point_within,
)

# Standard geometries in EPSG:4326 around Shijingshan (like shapely's tests/common.py).
CENTRE = (116.2229, 39.9057)
# A street boundary about 2.6 km x 2.2 km with a bite out of its north-east.
STREET = Polygon(
    [
        (116.2050, 39.8950),
        (116.2350, 39.8960),
        (116.2360, 39.9120),
        (116.2250, 39.9115),
        (116.2245, 39.9150),
        (116.2060, 39.9145),
    ]
)
# A compound already on the map, right next to CENTRE.
EXISTING = box(116.2150, 39.9000, 116.2225, 39.9060)
# A U: the middle of its bounding box is outside it.
U_SHAPE = Polygon(
    [
        (116.200, 39.900),
        (116.230, 39.900),
        (116.230, 39.920),
        (116.225, 39.920),
        (116.225, 39.904),
        (116.205, 39.904),
        (116.205, 39.920),
        (116.200, 39.920),
    ]
)
# Two lots 20 m apart, with a 10 m x 10 m plot between them: a footprint across
# them falls into three parts, the smallest of which is a sliver to drop.
LOT_WEST = box(116.2100, 39.9000, 116.2178, 39.9050)
LOT_EAST = box(116.2182, 39.9000, 116.2260, 39.9050)
TINY_PLOT = box(116.21794, 39.90245, 116.21806, 39.90254)
SPLIT_LOTS = MultiPolygon([LOT_WEST, TINY_PLOT, LOT_EAST])

SEEDS = range(40)
AREAS_M2 = [10_000, 40_000, 120_000, 300_000]  # 1 ha to 30 ha


def footprint(seed, area=60_000, centre=CENTRE, **kwargs):
    return generate_footprint(np.random.default_rng(seed), centre, area, **kwargs)


def outline_vertex_count(geom):
    return sum(len(p.exterior.coords) - 1 for p in geom.geoms)


def grid_deviation_deg(geom):
    """How far the footprint's minimum rotated rectangle is turned from N-S/E-W."""
    corners = np.asarray(shapely.minimum_rotated_rectangle(geom).exterior.coords)
    dx, dy = corners[1] - corners[0]
    # Compare in metres: one degree of longitude is cos(lat) of one of latitude.
    angle = math.degrees(math.atan2(dy, dx * math.cos(math.radians(CENTRE[1])))) % 90.0
    return min(angle, 90.0 - angle)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"within": STREET}, {"within": STREET, "avoid": EXISTING}],
    ids=["free", "within", "avoid"],
)
def test_same_seed_gives_identical_wkb(kwargs):
    assert footprint(3, **kwargs).wkb == footprint(3, **kwargs).wkb


def test_different_seeds_differ():
    wkbs = {footprint(seed).wkb for seed in SEEDS}
    assert len(wkbs) == len(SEEDS)


@pytest.mark.parametrize("area", AREAS_M2)
def test_unclipped_footprint_is_a_plausible_block(area):
    for seed in SEEDS:
        fp = footprint(seed, area)
        assert isinstance(fp, MultiPolygon)
        assert fp.is_valid
        assert len(fp.geoms) == 1
        assert MIN_VERTICES <= outline_vertex_count(fp) <= MAX_VERTICES
        assert area_m2(fp) == pytest.approx(area, rel=0.25)
        # In fact the outline is scaled to the area; only the grid snapping moves it.
        assert area_m2(fp) == pytest.approx(area, rel=0.01)
        # The centroid is the requested centre, to the grid.
        assert fp.centroid.distance(Point(CENTRE)) < 1e-5


def test_coordinates_are_on_the_1e6_degree_grid():
    for seed in SEEDS:
        coords = shapely.get_coordinates(footprint(seed, within=STREET, avoid=EXISTING))
        np.testing.assert_allclose(coords, np.round(coords, 6), rtol=0, atol=1e-12)


def test_vertex_counts_cover_the_range():
    counts = {outline_vertex_count(footprint(seed)) for seed in range(200)}
    assert min(counts) == MIN_VERTICES
    assert max(counts) == MAX_VERTICES


def test_mostly_aligned_with_the_street_grid():
    deviations = np.array([grid_deviation_deg(footprint(seed)) for seed in range(200)])
    assert np.mean(deviations <= 12) > 0.75
    # ...but not all: some follow a diagonal road.
    assert np.any(deviations > 15)


def test_some_footprints_are_l_shaped_or_notched():
    fill = [
        fp.area / shapely.minimum_rotated_rectangle(fp).area
        for fp in (footprint(seed) for seed in range(200))
    ]
    share_irregular = np.mean(np.array(fill) < 0.9)
    assert 0.1 < share_irregular < 0.5


@pytest.mark.parametrize("area", AREAS_M2)
def test_clipped_footprint_stays_inside_within(area):
    fitted = 0
    for seed in SEEDS:
        # Centres spread over the street, some near or beyond its edges.
        rng = np.random.default_rng(1000 + seed)
        minx, miny, maxx, maxy = STREET.bounds
        centre = (rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        try:
            fp = generate_footprint(rng, centre, area, within=STREET)
        except ValueError:
            continue
        assert fp.is_valid and isinstance(fp, MultiPolygon)
        assert STREET.contains(fp) or fp.within(STREET.buffer(1e-9))
        assert area_m2(fp) >= 0.2 * area
        fitted += 1
    assert fitted > len(SEEDS) // 2


def test_footprint_keeps_off_avoid():
    fp = footprint(5, 80_000, within=STREET, avoid=EXISTING)
    assert area_m2(fp.intersection(EXISTING)) < 1.0
    assert fp.disjoint(EXISTING)
    assert STREET.contains(fp)


def test_footprints_built_one_after_another_never_overlap():
    rng = np.random.default_rng(11)
    taken = []
    for _ in range(15):
        avoid = unary_union(taken) if taken else None
        centre = random_point_within(rng, STREET, avoid=avoid, min_distance_m=40)
        area = rng.uniform(10_000, 150_000)
        fp = generate_footprint(rng, (centre.x, centre.y), area, within=STREET, avoid=avoid)
        assert STREET.contains(fp)
        for other in taken:
            assert area_m2(fp.intersection(other)) < 1.0
        taken.append(fp)


def test_centre_inside_avoid_is_nudged_out(caplog):
    caplog.set_level(logging.DEBUG, logger="geo.footprints")
    centre_of_existing = EXISTING.centroid.coords[0]
    fp = footprint(2, 30_000, centre=centre_of_existing, within=STREET, avoid=EXISTING)
    assert "fitted at attempt" in caplog.text
    assert area_m2(fp.intersection(EXISTING)) < 1.0
    assert area_m2(fp) >= 0.2 * 30_000


def test_parts_smaller_than_one_percent_are_dropped():
    centre = (116.2180, 39.9025)
    for seed in SEEDS:
        fp = footprint(seed, 100_000, centre=centre, within=SPLIT_LOTS)
        assert len(fp.geoms) == 2
        assert fp.intersects(LOT_WEST) and fp.intersects(LOT_EAST)
        assert not fp.intersects(TINY_PLOT)
        assert all(part.area > 0.01 * fp.area for part in fp.geoms)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"within": box(116.2228, 39.9056, 116.2230, 39.9058)},  # room for about 300 m2
        {"within": box(117.0, 40.5, 117.01, 40.51)},  # far away
        {"within": EXISTING, "avoid": EXISTING.buffer(0.001)},  # all taken
    ],
    ids=["too-small", "elsewhere", "all-taken"],
)
def test_no_room_raises_value_error(kwargs):
    with pytest.raises(ValueError, match="no footprint"):
        footprint(0, 50_000, **kwargs)


@pytest.mark.parametrize("area", [0, -5.0, float("nan"), float("inf")])
def test_bad_area_raises_value_error(area):
    with pytest.raises(ValueError, match="area_m2"):
        footprint(0, area)


def test_bad_centre_or_empty_within_raises_value_error():
    with pytest.raises(ValueError, match="centre"):
        footprint(0, centre=(float("nan"), 39.9))
    with pytest.raises(ValueError, match="within is empty"):
        footprint(0, within=Polygon())


def test_random_point_lands_inside_a_concave_polygon():
    points = [random_point_within(np.random.default_rng(seed), U_SHAPE) for seed in range(100)]
    assert all(U_SHAPE.contains(p) for p in points)
    # Both arms and the base get points.
    xs = np.array([p.x for p in points])
    ys = np.array([p.y for p in points])
    assert (xs < 116.205).any() and (xs > 116.225).any() and (ys < 39.904).any()


def test_random_point_is_reproducible():
    first = random_point_within(np.random.default_rng(9), U_SHAPE, avoid=EXISTING)
    second = random_point_within(np.random.default_rng(9), U_SHAPE, avoid=EXISTING)
    assert first.equals_exact(second, tolerance=0)
    assert not first.equals(random_point_within(np.random.default_rng(10), U_SHAPE, avoid=EXISTING))


def test_random_point_keeps_its_distance_from_avoid():
    left_half = box(116.2050, 39.8950, 116.2200, 39.9150)
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        p = random_point_within(rng, STREET, avoid=left_half, min_distance_m=100)
        assert STREET.contains(p)
        # 100 m is about 0.00117 degree of longitude at 39.9 N.
        assert p.x > 116.2200 + 0.00115


def test_random_point_falls_back_to_the_farthest_when_all_is_too_close():
    rng = np.random.default_rng(4)
    p = random_point_within(rng, EXISTING, avoid=EXISTING.boundary, min_distance_m=10_000)
    assert EXISTING.contains(p)
    # The best candidate sits well inside: the compound is about 640 m x 670 m.
    assert EXISTING.exterior.distance(p) > 0.0015


def test_random_point_in_a_sliver_uses_point_on_surface():
    # A needle from corner to corner of its 1 degree bounding box: random draws miss it.
    sliver = Polygon([(116.0, 39.0), (117.0, 40.0), (117.0, 40.0 + 1e-9)])
    p = random_point_within(np.random.default_rng(0), sliver, max_samples=10)
    assert p.equals(sliver.point_on_surface())


def test_random_point_needs_an_area():
    with pytest.raises(ValueError, match="area"):
        random_point_within(np.random.default_rng(0), Polygon())
    with pytest.raises(ValueError, match="area"):
        random_point_within(np.random.default_rng(0), Point(CENTRE).buffer(0.001).boundary)


def test_area_m2():
    square = box(116.2, 39.9, 116.201, 39.901)
    assert area_m2(square) == pytest.approx(9495, abs=1)
    # Ring orientation doesn't matter; holes are subtracted; parts add up.
    clockwise = Polygon(list(square.exterior.coords)[::-1])
    assert area_m2(clockwise) == pytest.approx(area_m2(square))
    hole = box(116.2002, 39.9002, 116.2004, 39.9004)
    with_hole = Polygon(square.exterior.coords, holes=[hole.exterior.coords])
    assert area_m2(with_hole) == pytest.approx(area_m2(square) - area_m2(hole))
    two = MultiPolygon([square, box(116.3, 39.9, 116.301, 39.901)])
    assert area_m2(two) == pytest.approx(2 * area_m2(square), rel=1e-6)
    collection = shapely.GeometryCollection([square, Point(CENTRE)])
    assert area_m2(collection) == pytest.approx(area_m2(square))
    assert area_m2(Point(CENTRE)) == 0.0
    assert area_m2(Polygon()) == 0.0
    assert area_m2(None) == 0.0

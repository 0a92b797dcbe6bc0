"""Tests for geo.gcj02, checked against the independent implementation in ``prcoords``."""

import numpy as np
import prcoords
import pyproj
import pytest
import shapely
from shapely import LineString, MultiPolygon, Point, Polygon, affinity

from geo.gcj02 import (
    gcj02_to_wgs84,
    geometry_from_gcj02,
    geometry_to_gcj02,
    is_in_china,
    transform_geometry,
    wgs84_to_gcj02,
)

GEOD = pyproj.Geod(ellps="WGS84")

# Standard grids (lon, lat), each a 2-D meshgrid.
# Central Beijing, from the western hills (Shijingshan, Mentougou) to Tongzhou, Changping to Daxing.
BEIJING_GRID = np.meshgrid(np.linspace(115.9, 116.9, 41), np.linspace(39.6, 40.3, 29))
# Mainland China and its surroundings inside the rectangle where the shift applies.
CHINA_GRID = np.meshgrid(np.linspace(73.0, 135.0, 125), np.linspace(18.0, 53.5, 72))
GRIDS = {"beijing": BEIJING_GRID, "china": CHINA_GRID}

# Outside the China rectangle: Paris, New York, Sydney, Moscow, Jakarta, the Ross Sea.
OUTSIDE_LON = np.array([2.2945, -74.0445, 151.2153, 37.6176, 106.8456, -170.0])
OUTSIDE_LAT = np.array([48.8584, 40.6892, -33.8568, 55.7520, -6.2088, -78.0])

# Tiananmen, Beijing, in WGS84, and the GCJ-02 position prcoords 1.0 gives for it.
TIANANMEN_WGS84 = (116.391349, 39.907375)
TIANANMEN_GCJ02_PRCOORDS = (116.39759019123527, 39.90877629414095)

# Standard geometries in WGS84 around Shijingshan (like shapely's tests/common.py).
point = Point(116.2229, 39.9057)
line_string = LineString([(116.20, 39.90), (116.21, 39.905), (116.225, 39.903)])
polygon_with_hole = Polygon(
    [(116.19, 39.90), (116.20, 39.90), (116.20, 39.91), (116.19, 39.91)],
    holes=[[(116.193, 39.903), (116.193, 39.906), (116.196, 39.906), (116.196, 39.903)]],
)
multi_polygon = MultiPolygon(
    [
        Polygon([(116.21, 39.92), (116.215, 39.92), (116.215, 39.924), (116.21, 39.924)]),
        polygon_with_hole,
    ]
)
STANDARD_GEOMETRIES = [point, line_string, polygon_with_hole, multi_polygon]
STANDARD_IDS = ["Point", "LineString", "Polygon-with-hole", "MultiPolygon"]


def prcoords_forward(lon, lat):
    """The oracle's WGS84 -> GCJ-02 shift, elementwise (prcoords takes (lat, lon))."""
    points = zip(np.ravel(lon), np.ravel(lat), strict=True)
    pairs = [prcoords.wgs_gcj((la, lo), False) for lo, la in points]
    out = np.array(pairs, dtype=float)
    return out[:, 1].reshape(np.shape(lon)), out[:, 0].reshape(np.shape(lat))


@pytest.mark.parametrize("name", GRIDS)
def test_forward_agrees_with_prcoords(name):
    lon, lat = GRIDS[name]
    ours_lon, ours_lat = wgs84_to_gcj02(lon, lat)
    oracle_lon, oracle_lat = prcoords_forward(lon, lat)
    assert np.abs(ours_lon - oracle_lon).max() < 1e-6
    assert np.abs(ours_lat - oracle_lat).max() < 1e-6
    # They are the same published formula, so in practice they agree to rounding.
    assert np.abs(ours_lon - oracle_lon).max() < 1e-12
    assert np.abs(ours_lat - oracle_lat).max() < 1e-12


@pytest.mark.parametrize("name", GRIDS)
def test_round_trip_is_below_a_millimetre(name):
    lon, lat = GRIDS[name]
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-8
    assert np.abs(back_lat - lat).max() < 1e-8


def test_inverse_agrees_with_prcoords_iterative_inverse():
    lon, lat = BEIJING_GRID
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    ours_lon, ours_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    points = zip(gcj_lon.ravel(), gcj_lat.ravel(), strict=True)
    oracle = np.array([prcoords.gcj_wgs_bored((la, lo)) for lo, la in points])
    # prcoords stops iterating at 1e-5 of its own residual, so it is the looser of the two.
    assert np.abs(ours_lon.ravel() - oracle[:, 1]).max() < 1e-7
    assert np.abs(ours_lat.ravel() - oracle[:, 0]).max() < 1e-7


def test_offset_in_beijing_is_300_to_600_m():
    lon, lat = BEIJING_GRID
    _, _, offset_m = GEOD.inv(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert offset_m.min() > 300
    assert offset_m.max() < 600


def test_tiananmen_reference_point():
    oracle = prcoords.wgs_gcj((TIANANMEN_WGS84[1], TIANANMEN_WGS84[0]))
    assert oracle.lon == pytest.approx(TIANANMEN_GCJ02_PRCOORDS[0], abs=1e-12)
    assert oracle.lat == pytest.approx(TIANANMEN_GCJ02_PRCOORDS[1], abs=1e-12)

    lon, lat = wgs84_to_gcj02(*TIANANMEN_WGS84)
    assert lon == pytest.approx(TIANANMEN_GCJ02_PRCOORDS[0], abs=1e-9)
    assert lat == pytest.approx(TIANANMEN_GCJ02_PRCOORDS[1], abs=1e-9)
    # Hand check: on AMap, Tiananmen sits about 530 m east and 155 m north, 556 m in all.
    azimuth, _, distance_m = GEOD.inv(*TIANANMEN_WGS84, lon, lat)
    assert distance_m == pytest.approx(556, abs=1)
    assert 70 < azimuth < 75

    back = gcj02_to_wgs84(*TIANANMEN_GCJ02_PRCOORDS)
    assert back == pytest.approx(TIANANMEN_WGS84, abs=1e-9)


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_identity_outside_china(func):
    lon, lat = func(OUTSIDE_LON, OUTSIDE_LAT)
    np.testing.assert_array_equal(lon, OUTSIDE_LON)
    np.testing.assert_array_equal(lat, OUTSIDE_LAT)
    for lo, la in zip(OUTSIDE_LON, OUTSIDE_LAT, strict=True):
        assert func(lo, la) == (lo, la)


def test_prcoords_also_leaves_outside_points_alone():
    for lo, la in zip(OUTSIDE_LON, OUTSIDE_LAT, strict=True):
        with pytest.warns(UserWarning, match="Non-Chinese"):
            assert tuple(prcoords.wgs_gcj((la, lo))) == (la, lo)


def test_is_in_china():
    assert is_in_china(*TIANANMEN_WGS84) is True
    assert not is_in_china(OUTSIDE_LON, OUTSIDE_LAT).any()
    # The rectangle's edges count as inside.
    assert is_in_china([72.004, 137.8347], [0.8293, 55.8271]).all()
    assert not is_in_china([72.0039, 116.0], [40.0, 55.8272]).any()
    assert is_in_china(np.nan, 40.0) is False


def test_nan_passes_through():
    lon, lat = wgs84_to_gcj02([np.nan, 116.4], [39.9, 39.9])
    assert np.isnan(lon[0]) and lat[0] == 39.9
    lon, lat = gcj02_to_wgs84([np.nan, 116.4], [39.9, 39.9])
    assert np.isnan(lon[0]) and lat[0] == 39.9


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_scalars_give_floats(func):
    lon, lat = func(116.4, 39.9)
    assert type(lon) is float and type(lat) is float
    lon, lat = func(np.float64(116.4), 39)
    assert type(lon) is float and type(lat) is float


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_arrays_keep_shape_and_match_scalars(func):
    lon, lat = BEIJING_GRID
    out_lon, out_lat = func(lon, lat)
    assert out_lon.shape == out_lat.shape == lon.shape
    assert out_lon.dtype == np.float64
    for i, j in [(0, 0), (5, 17), (-1, -1)]:
        # The inverse iterates until the slowest point converges, so a point
        # alone may stop a step earlier: equal far below the tolerance.
        expected = (out_lon[i, j], out_lat[i, j])
        assert func(lon[i, j], lat[i, j]) == pytest.approx(expected, abs=1e-11)
    # Lists and broadcasting of a scalar latitude against a longitude array.
    list_lon, list_lat = func(lon[0].tolist(), lat[0].tolist())
    np.testing.assert_array_equal(list_lon, out_lon[0])
    broadcast_lon, broadcast_lat = func(lon[0], lat[0, 0])
    np.testing.assert_array_equal(broadcast_lon, out_lon[0])
    np.testing.assert_array_equal(broadcast_lat, out_lat[0])


def test_inputs_are_not_modified():
    lon, lat = BEIJING_GRID[0].copy(), BEIJING_GRID[1].copy()
    wgs84_to_gcj02(lon, lat)
    gcj02_to_wgs84(lon, lat)
    np.testing.assert_array_equal(lon, BEIJING_GRID[0])
    np.testing.assert_array_equal(lat, BEIJING_GRID[1])


def test_inverse_rejects_bad_parameters():
    with pytest.raises(ValueError, match="tolerance_deg"):
        gcj02_to_wgs84(116.4, 39.9, tolerance_deg=0)
    with pytest.raises(ValueError, match="max_iter"):
        gcj02_to_wgs84(116.4, 39.9, max_iter=0)


def test_inverse_logs_when_it_runs_out_of_steps(caplog):
    gcj02_to_wgs84(116.4, 39.9, tolerance_deg=1e-300, max_iter=2)
    assert "did not reach" in caplog.text


@pytest.mark.parametrize("geom", STANDARD_GEOMETRIES, ids=STANDARD_IDS)
def test_geometry_to_gcj02_moves_every_vertex(geom):
    shifted = geometry_to_gcj02(geom)
    assert shifted.geom_type == geom.geom_type
    assert shapely.get_num_coordinates(shifted) == shapely.get_num_coordinates(geom)
    assert shapely.get_num_geometries(shifted) == shapely.get_num_geometries(geom)
    assert shapely.get_num_interior_rings(shifted) == shapely.get_num_interior_rings(geom)
    assert not shifted.has_z
    assert shifted.is_valid
    coords = shapely.get_coordinates(geom)
    expected = np.column_stack(wgs84_to_gcj02(coords[:, 0], coords[:, 1]))
    np.testing.assert_array_equal(shapely.get_coordinates(shifted), expected)


@pytest.mark.parametrize("geom", STANDARD_GEOMETRIES, ids=STANDARD_IDS)
def test_geometry_round_trip(geom):
    back = geometry_from_gcj02(geometry_to_gcj02(geom))
    assert back.geom_type == geom.geom_type
    assert shapely.get_num_coordinates(back) == shapely.get_num_coordinates(geom)
    assert not back.has_z
    assert shapely.equals_exact(back, geom, tolerance=1e-8)


def test_geometry_helpers_take_arrays_and_none():
    geoms = np.array(STANDARD_GEOMETRIES + [None], dtype=object)
    shifted = geometry_to_gcj02(geoms)
    assert shifted.shape == geoms.shape
    assert shifted[-1] is None
    for before, after in zip(geoms[:-1], shifted[:-1], strict=True):
        assert after.equals_exact(geometry_to_gcj02(before), tolerance=0)


def test_geometry_helpers_keep_z_values():
    line_z = LineString([(116.20, 39.90, 55.0), (116.21, 39.905, 60.5)])
    mixed = np.array([line_z, point], dtype=object)
    shifted = geometry_to_gcj02(mixed)
    assert shifted[0].has_z and not shifted[1].has_z
    z = shapely.get_coordinates(shifted[0], include_z=True)[:, 2]
    np.testing.assert_array_equal(z, [55.0, 60.5])
    assert shapely.equals_exact(shifted[1], geometry_to_gcj02(point), tolerance=0)


def test_transform_geometry_with_any_function():
    moved = transform_geometry(polygon_with_hole, lambda lon, lat: (lon + 1.0, lat - 1.0))
    expected = affinity.translate(polygon_with_hole, 1.0, -1.0)
    assert moved.equals_exact(expected, tolerance=1e-12)
    assert transform_geometry(Polygon(), wgs84_to_gcj02).is_empty

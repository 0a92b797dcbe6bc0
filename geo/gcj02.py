"""Convert coordinates and geometries between WGS84 and GCJ-02 (AMap's and Tencent's "Mars" datum).

Why this module exists: GCJ-02 is a deliberately obfuscated datum mandated for
published maps in mainland China. It is WGS84 plus a non-linear offset of a few
hundred metres (about 500–600 m in Beijing) given by a published
polynomial-plus-sine formula, so it has no EPSG code and PROJ / pyproj cannot
do it. Our data are
stored in WGS84 (EPSG:4326, equal to CGCS2000 for mapping); they must be
shifted to GCJ-02 only to sit on AMap or Tencent base maps, and points picked on
such a map must be shifted back.

The forward formula is public knowledge (constants of the Krasovsky 1940
ellipsoid and the offset polynomials). There is no closed-form inverse; we
invert it by fixed-point iteration, which converges fast because the offset
varies slowly (its derivative stays below 0.01 degree per degree), so four or
five steps give sub-millimetre accuracy.

Out-of-China rule
-----------------
Providers apply the offset only inside China. Like most open implementations,
we use the rectangle longitude 72.004–137.8347 E, latitude 0.8293–55.8271 N
(:func:`is_in_china`). It is coarse on purpose: it also covers Mongolia, the
Korean peninsula, western Japan and parts of South-East Asia, where real
providers may not shift. Outside the rectangle (and for NaN) both directions are
the identity. That is irrelevant for Beijing, but keep it in mind elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import shapely

LOGGER = logging.getLogger(__name__)

__all__ = [
    "gcj02_to_wgs84",
    "geometry_from_gcj02",
    "geometry_to_gcj02",
    "is_in_china",
    "transform_geometry",
    "wgs84_to_gcj02",
]

# Krasovsky 1940 ellipsoid, which the GCJ-02 formula uses to turn metres into degrees.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_E2 = 0.00669342162296594323

# The rectangle treated as "China" (see the module docstring).
CHINA_LON_MIN, CHINA_LON_MAX = 72.004, 137.8347
CHINA_LAT_MIN, CHINA_LAT_MAX = 0.8293, 55.8271

_DEFAULT_MAX_ITER = 30


def _as_float_arrays(lon, lat):
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    is_scalar = lon.ndim == 0 and lat.ndim == 0
    lon, lat = np.broadcast_arrays(lon, lat)
    return lon, lat, is_scalar


def _as_output(lon, lat, is_scalar):
    if is_scalar:
        return float(lon), float(lat)
    return lon, lat


def is_in_china(lon, lat):
    """Tell whether points fall in the rectangle where GCJ-02 is applied.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    bool or numpy.ndarray of bool
        True inside the rectangle lon 72.004–137.8347, lat 0.8293–55.8271
        (bounds included). NaN is never inside.

    Examples
    --------
    >>> is_in_china(116.39, 39.91)
    True
    >>> is_in_china([116.39, 2.35], [39.91, 48.86]).tolist()
    [True, False]
    """
    lon, lat, is_scalar = _as_float_arrays(lon, lat)
    inside = _inside_china(lon, lat)
    return bool(inside) if is_scalar else inside


def _inside_china(lon, lat):
    return (
        (lon >= CHINA_LON_MIN)
        & (lon <= CHINA_LON_MAX)
        & (lat >= CHINA_LAT_MIN)
        & (lat <= CHINA_LAT_MAX)
    )


def _offset_deg(lon, lat):
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat), with no China test."""
    x = lon - 105.0
    y = lat - 35.0
    # The two published offset "polynomials", nominally in metres. The periodic
    # terms are shared between them except for the last two groups.
    wiggle = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    north_m = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + wiggle
        + (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    )
    east_m = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + wiggle
        + (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    )
    # Metres to degrees with the Krasovsky meridian radius M and prime-vertical radius N.
    phi = np.radians(lat)
    w2 = 1.0 - _KRASOVSKY_E2 * np.sin(phi) ** 2
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_E2) / (w2 * np.sqrt(w2))
    parallel_radius = _KRASOVSKY_A / np.sqrt(w2) * np.cos(phi)
    return np.degrees(east_m / parallel_radius), np.degrees(north_m / meridian_radius)


def wgs84_to_gcj02(lon, lat):
    """Shift WGS84 coordinates to GCJ-02.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude in degrees: floats for scalar input,
        new arrays of the broadcast shape otherwise. Points outside the China
        rectangle (:func:`is_in_china`) and NaN come back unchanged.

    See Also
    --------
    gcj02_to_wgs84 : the inverse.

    Examples
    --------
    Tiananmen, about 500 m east and 150 m north on an AMap base map:

    >>> lon, lat = wgs84_to_gcj02(116.391349, 39.907375)
    >>> round(lon, 6), round(lat, 6)
    (116.39759, 39.908776)

    Arrays work too; Paris is outside China and stays where it is:

    >>> lon, lat = wgs84_to_gcj02([116.391349, 2.2945], [39.907375, 48.8584])
    >>> lon.round(6).tolist(), lat.round(6).tolist()
    ([116.39759, 2.2945], [39.908776, 48.8584])
    """
    lon, lat, is_scalar = _as_float_arrays(lon, lat)
    inside = _inside_china(lon, lat)
    dlon, dlat = _offset_deg(lon, lat)
    out_lon = np.where(inside, lon + dlon, lon)
    out_lat = np.where(inside, lat + dlat, lat)
    return _as_output(out_lon, out_lat, is_scalar)


def gcj02_to_wgs84(lon, lat, tolerance_deg=1e-9, max_iter=_DEFAULT_MAX_ITER):
    """Shift GCJ-02 coordinates back to WGS84, exactly (to ``tolerance_deg``).

    The forward shift ``f`` has no closed-form inverse, so for a GCJ-02
    target ``t`` we iterate ``x <- x - (f(x) - t)`` from ``x = t``. The
    offset changes by less than 0.01 degree per degree, so each step shrinks
    the error more than a hundredfold: four steps reach about 1e-11 degree
    (1 micrometre) anywhere in China. Iteration stops when every point has
    moved less than ``tolerance_deg`` in the last step; the remaining error
    is then smaller still.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees; broadcast against each other.
    tolerance_deg : float, default 1e-9
        Stop when the largest correction (in degrees) drops below this.
    max_iter : int, default 30
        Give up after this many steps and log a warning; the result is then
        the last iterate.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude in degrees: floats for scalar input,
        new arrays of the broadcast shape otherwise. Points outside the China
        rectangle (:func:`is_in_china`) and NaN come back unchanged.

    See Also
    --------
    wgs84_to_gcj02 : the forward shift.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(116.39759, 39.908776)
    >>> round(lon, 6), round(lat, 6)
    (116.391349, 39.907375)

    The round trip is exact to far below a millimetre:

    >>> back = gcj02_to_wgs84(*wgs84_to_gcj02(116.391349, 39.907375))
    >>> abs(back[0] - 116.391349) < 1e-10 and abs(back[1] - 39.907375) < 1e-10
    True
    """
    if not tolerance_deg > 0:
        raise ValueError(f"tolerance_deg must be positive, got {tolerance_deg!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter!r}")
    target_lon, target_lat, is_scalar = _as_float_arrays(lon, lat)
    # The China test is made on the GCJ-02 input; inside the iteration the raw
    # offset is used so that points near the rectangle's edge don't get stuck.
    inside = _inside_china(target_lon, target_lat)
    x_lon = np.array(target_lon, dtype=np.float64)
    x_lat = np.array(target_lat, dtype=np.float64)
    sub_lon, sub_lat = x_lon[inside], x_lat[inside]
    goal_lon, goal_lat = target_lon[inside], target_lat[inside]
    for _ in range(max_iter):
        dlon, dlat = _offset_deg(sub_lon, sub_lat)
        step_lon = sub_lon + dlon - goal_lon
        step_lat = sub_lat + dlat - goal_lat
        sub_lon = sub_lon - step_lon
        sub_lat = sub_lat - step_lat
        if sub_lon.size == 0 or max(np.abs(step_lon).max(), np.abs(step_lat).max()) < tolerance_deg:
            break
    else:
        LOGGER.warning(
            "gcj02_to_wgs84 did not reach %g degree in %d steps", tolerance_deg, max_iter
        )
    x_lon[inside] = sub_lon
    x_lat[inside] = sub_lat
    return _as_output(x_lon, x_lat, is_scalar)


def transform_geometry(geom, func: Callable):
    """Apply a coordinate function ``func(lon, lat) -> (lon, lat)`` to geometries.

    A thin, vectorised wrapper around :func:`shapely.transform`: all vertices
    go through ``func`` in one call per dimensionality. Geometry types, part
    and vertex counts are kept; 2D geometries stay 2D, and Z values of 3D
    geometries pass through untouched.

    Parameters
    ----------
    geom : shapely.Geometry or array_like of shapely.Geometry
        Geometry or geometries; ``None`` entries stay ``None``.
    func : callable
        Takes two 1-D float arrays (lon, lat) and returns two arrays of the
        same length, like :func:`wgs84_to_gcj02`.

    Returns
    -------
    shapely.Geometry or numpy.ndarray of shapely.Geometry
        Same shape as the input.

    Examples
    --------
    >>> from shapely import Point
    >>> transform_geometry(Point(1, 2), lambda lon, lat: (lon + 10, lat))
    <POINT (11 2)>
    """

    def move_xy(coords):
        lon, lat = func(coords[:, 0], coords[:, 1])
        moved = coords.copy()
        moved[:, 0] = lon
        moved[:, 1] = lat
        return moved

    geoms = np.asarray(geom, dtype=object)
    # Split by dimensionality explicitly: include_z=None needs shapely 2.1, and
    # include_z=True would give 2D geometries a NaN Z on shapely 2.0.
    has_z = shapely.has_z(geoms)
    out = geoms.copy()
    if (~has_z).any():
        out[~has_z] = shapely.transform(geoms[~has_z], move_xy, include_z=False)
    if has_z.any():
        out[has_z] = shapely.transform(geoms[has_z], move_xy, include_z=True)
    return out.item() if out.ndim == 0 else out


def geometry_to_gcj02(geom):
    """Shift WGS84 geometries to GCJ-02 (for display on AMap / Tencent tiles).

    Parameters
    ----------
    geom : shapely.Geometry or array_like of shapely.Geometry
        Geometries in WGS84 longitude/latitude.

    Returns
    -------
    shapely.Geometry or numpy.ndarray of shapely.Geometry
        The same geometries in GCJ-02; type, parts and vertex counts kept.

    Notes
    -----
    The shift is smooth over the few hundred metres of a vertex's
    neighbourhood, so a valid polygon normally stays valid; shapes with
    features far below a metre may not.

    Examples
    --------
    >>> from shapely import Point
    >>> geometry_to_gcj02(Point(116.391349, 39.907375)).wkt
    'POINT (116.39759019123527 39.90877629414095)'
    """
    return transform_geometry(geom, wgs84_to_gcj02)


def geometry_from_gcj02(geom):
    """Shift GCJ-02 geometries (e.g. drawn on an AMap base map) back to WGS84.

    Parameters
    ----------
    geom : shapely.Geometry or array_like of shapely.Geometry
        Geometries in GCJ-02 longitude/latitude.

    Returns
    -------
    shapely.Geometry or numpy.ndarray of shapely.Geometry
        The same geometries in WGS84; type, parts and vertex counts kept.
        Uses the exact iterative inverse :func:`gcj02_to_wgs84`.

    Examples
    --------
    >>> from shapely import LineString
    >>> line = LineString([(116.39759, 39.908776), (116.40, 39.91)])
    >>> shapely.set_precision(geometry_from_gcj02(line), 1e-6).wkt
    'LINESTRING (116.391349 39.907375, 116.393758 39.908598)'
    """
    return transform_geometry(geom, gcj02_to_wgs84)

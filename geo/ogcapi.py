"""Building blocks of an OGC API – Features server (Part 1: Core, Part 2: CRS by Reference).

What every such server needs and no domain changes: CRS URIs and their axis order,
the ``bbox``/``bbox-crs``, ``datetime``, ``limit`` and ``offset`` query parameters,
coordinates in a requested CRS, and links for paging. It knows nothing of web
frameworks or databases: callers hand in strings and get values back, or an
:class:`OgcApiError` naming the parameter at fault.

Axis order is the trap of Part 2: ``CRS84`` is longitude/latitude, but
``EPSG:4326`` and ``EPSG:4490`` (CGCS2000) are latitude/longitude by their
definition, and a ``bbox`` in them comes in that order too. The order is read from
PROJ's definition of each CRS, never assumed.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
import pyproj

#: The default CRS of OGC API – Features: WGS84 longitude/latitude.
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: How an EPSG CRS is named in OGC API.
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
#: The temporal reference system of ``extent.temporal``.
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"

_FEATURES_1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
#: Requirement classes by short name.
CONFORMANCE = {
    "core": _FEATURES_1 + "core",
    "oas30": _FEATURES_1 + "oas30",
    "html": _FEATURES_1 + "html",
    "geojson": _FEATURES_1 + "geojson",
    "crs": "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
}

#: The largest ``offset`` accepted: beyond it no database pages sensibly.
MAX_OFFSET = 2**31 - 1

BBox = tuple[float, float, float, float]


class OgcApiError(ValueError):
    """A query parameter (or path part) that cannot be used, and why, in English.

    ``code`` is the OGC exception code: ``InvalidParameterValue`` for a bad value,
    ``NotFound`` for something that does not exist.
    """

    def __init__(self, parameter: str, reason: str, code: str = "InvalidParameterValue"):
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason
        self.code = code


# --- CRS ----------------------------------------------------------------------------------------

def epsg_uri(code: int) -> str:
    """The OGC URI of EPSG CRS `code`.

    Examples
    --------
    >>> epsg_uri(4490)
    'http://www.opengis.net/def/crs/EPSG/0/4490'
    """
    return EPSG_URI.format(code=int(code))


@functools.lru_cache(maxsize=64)
def _crs(uri: str) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(uri)


def is_lat_lon(uri: str) -> bool:
    """Tell whether the first axis of CRS `uri` points north (latitude first).

    Examples
    --------
    >>> is_lat_lon(CRS84), is_lat_lon(epsg_uri(4326)), is_lat_lon(epsg_uri(4490))
    (False, True, True)
    """
    return _crs(uri).axis_info[0].direction in ("north", "south")


def is_geographic(uri: str) -> bool:
    return _crs(uri).is_geographic


@functools.lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> pyproj.Transformer | None:
    """A transformer in x/y (east, north) order, or None when PROJ does nothing numerically.

    WGS84 to CGCS2000 is such a no-op (a "ballpark" transformation): only the
    axis order differs, and that is handled apart.
    """
    transformer = pyproj.Transformer.from_crs(_crs(source), _crs(target), always_xy=True)
    try:
        if transformer.to_proj4() == "+proj=noop":
            return None
    except pyproj.exceptions.ProjError:  # some pipelines have no PROJ.4 form
        pass
    return transformer


def parse_crs(text: str | None, supported: Sequence[str], *, parameter: str = "crs",
              default: str = CRS84) -> str:
    """The CRS URI asked for in `text`, one of `supported`; `default` when absent.

    Examples
    --------
    >>> parse_crs(None, [CRS84])
    'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
    >>> parse_crs("EPSG:4490", [CRS84])
    Traceback (most recent call last):
    ...
    geo.ogcapi.OgcApiError: crs: unsupported CRS; use one of http://www.opengis.net/def/crs/OGC/1.3/CRS84
    """
    if text is None:
        return default
    if text not in supported:
        raise OgcApiError(parameter, "unsupported CRS; use one of " + ", ".join(supported))
    return text


def content_crs(uri: str) -> str:
    """The value of the ``Content-Crs`` header for coordinates in `uri`.

    Examples
    --------
    >>> content_crs(CRS84)
    '<http://www.opengis.net/def/crs/OGC/1.3/CRS84>'
    """
    return f"<{uri}>"


def _positions(coordinates, out: list) -> None:
    if coordinates and isinstance(coordinates[0], int | float):
        out.append(coordinates)
    else:
        for part in coordinates:
            _positions(part, out)


def _rebuild(coordinates, replacements):
    if coordinates and isinstance(coordinates[0], int | float):
        return next(replacements)
    return [_rebuild(part, replacements) for part in coordinates]


def _geometry_positions(geometry: dict, out: list) -> None:
    if geometry["type"] == "GeometryCollection":
        for member in geometry["geometries"]:
            _geometry_positions(member, out)
    else:
        _positions(geometry["coordinates"], out)


def _geometry_rebuilt(geometry: dict, replacements) -> dict:
    if geometry["type"] == "GeometryCollection":
        return {**geometry, "geometries": [_geometry_rebuilt(member, replacements)
                                           for member in geometry["geometries"]]}
    return {**geometry, "coordinates": _rebuild(geometry["coordinates"], replacements)}


def transform_geometries(geometries: Iterable[dict | None], target: str, *,
                         source: str = CRS84, decimals: int = 9) -> list[dict | None]:
    """GeoJSON geometries in `source` (x/y order) with coordinates in CRS `target`.

    Coordinates come out in `target`'s own axis order, as OGC API Part 2 wants
    (latitude first for EPSG:4326 and EPSG:4490). When PROJ changes the numbers
    they are rounded to `decimals`; a no-op datum change leaves them untouched.
    Elevations, if any, pass through.

    Examples
    --------
    >>> point = {"type": "Point", "coordinates": [116.2, 39.9]}
    >>> transform_geometries([point, None], epsg_uri(4490))
    [{'type': 'Point', 'coordinates': [39.9, 116.2]}, None]
    >>> transform_geometries([point], CRS84)[0] is point
    True
    """
    geometries = list(geometries)
    if target == source:
        return geometries
    positions: list = []
    for geometry in geometries:
        if geometry is not None:
            _geometry_positions(geometry, positions)
    if not positions:
        return geometries
    xy = np.array([p[:2] for p in positions], dtype=float)
    transformer = _transformer(source, target)
    if transformer is not None:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        xy = np.round(np.column_stack([x, y]), decimals)
    if is_lat_lon(target):
        xy = xy[:, ::-1]
    replacements = iter([[*map(float, new), *old[2:]]
                         for new, old in zip(xy, positions, strict=True)])
    return [None if g is None else _geometry_rebuilt(g, replacements) for g in geometries]


# --- bbox -----------------------------------------------------------------------------------------

def parse_bbox(text: str, crs: str = CRS84, *, parameter: str = "bbox") -> list[BBox]:
    """The boxes (minlon, minlat, maxlon, maxlat) in CRS84 that `text`, given in `crs`, covers.

    `text` holds four numbers, or six with heights (which are ignored), as lower
    and upper corner in `crs`'s axis order. A box whose west edge lies east of its
    east edge crosses the antimeridian and comes back as two boxes.

    Examples
    --------
    >>> parse_bbox("116.1,39.8,116.3,40.0")
    [(116.1, 39.8, 116.3, 40.0)]
    >>> parse_bbox("39.8,116.1,40.0,116.3", epsg_uri(4326))
    [(116.1, 39.8, 116.3, 40.0)]
    >>> parse_bbox("170,-10,-170,10")
    [(170.0, -10.0, 180.0, 10.0), (-180.0, -10.0, -170.0, 10.0)]
    >>> parse_bbox("1,2,3")
    Traceback (most recent call last):
    ...
    geo.ogcapi.OgcApiError: bbox: needs four numbers (or six with heights)
    """
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise OgcApiError(parameter, "needs four numbers (or six with heights)")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise OgcApiError(parameter, "must be numbers separated by commas") from None
    if not all(math.isfinite(n) for n in numbers):
        raise OgcApiError(parameter, "must be finite numbers")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    a, b, c, d = numbers
    minx, miny, maxx, maxy = (b, a, d, c) if is_lat_lon(crs) else (a, b, c, d)
    if is_geographic(crs):
        if not (-180 <= minx <= 180 and -180 <= maxx <= 180
                and -90 <= miny <= 90 and -90 <= maxy <= 90):
            raise OgcApiError(parameter, "lies outside longitude -180..180 / latitude -90..90")
        if miny > maxy:
            raise OgcApiError(parameter, "its lower corner lies north of its upper corner")
        boxes = ([(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)] if minx > maxx
                 else [(minx, miny, maxx, maxy)])
    else:
        if minx > maxx or miny > maxy:
            raise OgcApiError(parameter, "its lower corner is above its upper corner")
        boxes = [(minx, miny, maxx, maxy)]
    transformer = _transformer(crs, CRS84)
    if transformer is None:
        return boxes
    return [tuple(float(v) for v in transformer.transform_bounds(*box, densify_pts=21))
            for box in boxes]


# --- datetime -------------------------------------------------------------------------------------

_DATE = r"\d{4}-\d{2}-\d{2}"
_DATE_TIME = _DATE + r"[Tt]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
_INSTANT = re.compile(rf"(?P<date_time>{_DATE_TIME})|(?P<date>{_DATE})")
_OPEN = ("", "..")


@dataclass(frozen=True)
class Interval:
    """A closed time interval in UTC; None is an open end."""

    start: dt.datetime | None
    end: dt.datetime | None


def _instant(text: str, parameter: str) -> tuple[dt.datetime, dt.datetime]:
    """The first and last moment an RFC 3339 date or date-time stands for, in UTC."""
    match = _INSTANT.fullmatch(text)
    if match is None:
        raise OgcApiError(parameter, "use an RFC 3339 date-time such as 2026-01-01T00:00:00Z, "
                                     "a date, or an interval start/end with .. for an open end")
    try:
        if match["date"]:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return start, start + dt.timedelta(days=1, microseconds=-1)
        fraction = match["fraction"]
        if fraction and len(fraction) > 7:  # Python keeps microseconds: drop the rest
            text = text.replace(fraction, fraction[:7], 1)
        moment = dt.datetime.fromisoformat(text.upper()).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise OgcApiError(parameter, "is not a real date or time") from None
    return moment, moment


def parse_datetime(text: str, *, parameter: str = "datetime") -> Interval:
    """The interval a ``datetime`` parameter means: an instant, or ``start/end`` with ``..`` open.

    A date stands for its whole day in UTC.

    Examples
    --------
    >>> parse_datetime("../2026-01-01T00:00:00Z")
    Interval(start=None, end=datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    >>> parse_datetime("2026-01-01T08:00:00+08:00").start.isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> parse_datetime("2026-01-01").end.isoformat()
    '2026-01-01T23:59:59.999999+00:00'
    """
    if "/" not in text:
        start, end = _instant(text, parameter)
        return Interval(start, end)
    first, _, last = text.partition("/")
    start = None if first in _OPEN else _instant(first, parameter)[0]
    end = None if last in _OPEN else _instant(last, parameter)[1]
    if start is not None and end is not None and start > end:
        raise OgcApiError(parameter, "the interval ends before it starts")
    return Interval(start, end)


def rfc3339(moment: dt.datetime | None) -> str | None:
    """`moment` in UTC as RFC 3339 with ``Z``; a naive value is taken as UTC already.

    Examples
    --------
    >>> rfc3339(dt.datetime(2026, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    '2026-01-01T00:00:00Z'
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- limit and offset -----------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]+")


def parse_limit(text: str | None, *, default: int = 10, maximum: int = 1000) -> int:
    """The page size asked for; a value above `maximum` is taken as `maximum`, as the standard says.

    Examples
    --------
    >>> parse_limit(None), parse_limit("50"), parse_limit("5000")
    (10, 50, 1000)
    """
    if text is None:
        return default
    if not _DIGITS.fullmatch(text):
        raise OgcApiError("limit", "must be a whole number from 1")
    if len(text.lstrip("0")) > len(str(maximum)):  # also keeps int() away from huge strings
        return maximum
    limit = int(text)
    if limit < 1:
        raise OgcApiError("limit", "must be a whole number from 1")
    return min(limit, maximum)


def parse_offset(text: str | None) -> int:
    """How many matching features to skip (default 0).

    Examples
    --------
    >>> parse_offset("20")
    20
    """
    if text is None:
        return 0
    too_long = len(text.lstrip("0")) > len(str(MAX_OFFSET))
    if not _DIGITS.fullmatch(text) or too_long or int(text) > MAX_OFFSET:
        raise OgcApiError("offset", f"must be a whole number from 0 to {MAX_OFFSET}")
    return int(text)


# --- links ----------------------------------------------------------------------------------------

def link(href: str, rel: str, type_: str | None = None, title: str | None = None) -> dict:
    """A link object as OGC API writes them.

    Examples
    --------
    >>> link("http://x/ogc", "self", JSON, "This document")
    {'href': 'http://x/ogc', 'rel': 'self', 'type': 'application/json', 'title': 'This document'}
    """
    found = {"href": href, "rel": rel}
    if type_:
        found["type"] = type_
    if title:
        found["title"] = str(title)
    return found


def with_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    """`url` (without a query) with the query `params`, in order.

    Examples
    --------
    >>> with_query("http://x/items", [("limit", "10"), ("bbox", "1,2,3,4")])
    'http://x/items?limit=10&bbox=1%2C2%2C3%2C4'
    """
    query = urlencode(list(params))
    return f"{url}?{query}" if query else url


def page_links(url: str, params: Sequence[tuple[str, str]], *, offset: int, limit: int,
               returned: int, matched: int, type_: str,
               titles: tuple[str, str] = ("Next page", "Previous page")) -> list[dict]:
    """``next`` and ``prev`` links for a page of `returned` features from `offset`.

    `params` are the request's query parameters; ``offset`` is replaced, ``limit``
    set to the page size actually used, everything else (filters, ``crs``, ``f``)
    kept, so a client that follows ``next`` pages through the same selection.

    Examples
    --------
    >>> [(l["rel"], l["href"]) for l in page_links("http://x/items", [("limit", "2")],
    ...     offset=2, limit=2, returned=2, matched=5, type_=GEOJSON)]
    [('next', 'http://x/items?limit=2&offset=4'), ('prev', 'http://x/items?limit=2&offset=0')]
    """
    kept = [(k, v) for k, v in params if k not in ("offset", "limit")]
    found = []
    if offset + returned < matched and returned > 0:
        found.append(link(with_query(url, [*kept, ("limit", str(limit)),
                                           ("offset", str(offset + returned))]),
                          "next", type_, titles[0]))
    if offset > 0:
        found.append(link(with_query(url, [*kept, ("limit", str(limit)),
                                           ("offset", str(max(offset - limit, 0)))]),
                          "prev", type_, titles[1]))
    return found


# --- OpenAPI --------------------------------------------------------------------------------------

def openapi_parameters(crss: Sequence[str], *, limit_default: int = 10,
                       limit_maximum: int = 1000, formats: Sequence[str] = ("json", "html")
                       ) -> dict[str, dict]:
    """The standard query and path parameters of OGC API – Features, for ``components``.

    Names are those of the standard's own OpenAPI fragments, so clients that look
    for ``#/components/parameters/limit`` (GDAL) find the page size limits.
    """
    crs_schema = {"type": "string", "format": "uri", "enum": list(crss), "default": CRS84}
    return {
        "f": {"name": "f", "in": "query", "required": False,
              "description": "The representation: json (GeoJSON for features) or html. "
                             "Without it the Accept header decides.",
              "schema": {"type": "string", "enum": list(formats)}},
        "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form",
                 "explode": False,
                 "description": "Only features whose geometry intersects the box: lower "
                                "corner, upper corner (4 numbers, or 6 with heights) in the "
                                "axis order of bbox-crs (CRS84: lon,lat; EPSG:4326 and "
                                "EPSG:4490: lat,lon).",
                 "schema": {"type": "array", "minItems": 4, "maxItems": 6,
                            "items": {"type": "number"}}},
        "bbox-crs": {"name": "bbox-crs", "in": "query", "required": False,
                     "description": "The CRS of bbox (default CRS84).", "schema": crs_schema},
        "crs": {"name": "crs", "in": "query", "required": False,
                "description": "The CRS of the coordinates in the response (default CRS84); "
                               "the response says which in its Content-Crs header.",
                "schema": crs_schema},
        "datetime": {"name": "datetime", "in": "query", "required": False,
                     "description": "An RFC 3339 instant or date, or an interval start/end "
                                    "with .. for an open end, e.g. ../2026-01-01T00:00:00Z.",
                     "schema": {"type": "string"}},
        "limit": {"name": "limit", "in": "query", "required": False, "style": "form",
                  "explode": False,
                  "description": f"At most this many features (1 to {limit_maximum}; a larger "
                                 "value is taken as the maximum).",
                  "schema": {"type": "integer", "minimum": 1, "maximum": limit_maximum,
                             "default": limit_default}},
        "offset": {"name": "offset", "in": "query", "required": False,
                   "description": "Skip this many matching features (follow the next link "
                                  "rather than counting).",
                   "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                              "default": 0}},
        "featureId": {"name": "featureId", "in": "path", "required": True,
                      "description": "The id of a feature.", "schema": {"type": "string"}},
    }


def exception_schema() -> dict:
    """The OGC exception body, ``{"code": ..., "description": ...}``."""
    return {"type": "object", "required": ["code"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}

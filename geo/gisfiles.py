"""Read the GIS files people bring into a GeoDataFrame in EPSG:4326, trusting nothing in them.

Formats: GeoJSON, GeoPackage, zipped Shapefile, KML (and KMZ), CSV with a WKT column or
longitude/latitude columns, and XLSX with longitude/latitude (or WKT) columns. The format
is recognised by the content (magic bytes, the members of a zip, the root of an XML
document, the first character of a text), never by the file name; the name is used only
to explain a refusal ("named .gpkg, but it is text").

Coordinates
-----------
The file's own coordinate reference system is read: a GeoPackage's or a GeoJSON's
declaration, a Shapefile's ``.prj``; KML is WGS84 by definition, and so is GeoJSON
without a ``crs`` member (RFC 7946). CSV and XLSX carry none. Every CRS that PROJ knows
converts to EPSG:4326 with ``always_xy`` (longitude first): WGS84, CGCS2000 (EPSG:4490,
a no-op for mapping), Web Mercator (EPSG:3857), the Gauss–Krüger zones of CGCS2000 and
Beijing 1954 (e.g. EPSG:4548, EPSG:2436), and any other.

GCJ-02 (AMap and Tencent coordinates) has no EPSG code and cannot be declared by any
file, so it is only ever the user's choice (:data:`GCJ02`); the longitudes and latitudes
are then shifted back with the exact inverse in :mod:`geo.gcj02`. A file declaring a
projected CRS cannot be GCJ-02 and is refused with that choice; a declared geographic
CRS (usually WGS84, which GCJ-02 data often claims) is overridden.

Decisions
---------
- The user's CRS choice wins over the file's declaration; a conflicting declaration is
  kept as a note (:attr:`GisFile.notes`) so the preview can show it.
- A file with no CRS (CSV, XLSX, a Shapefile without ``.prj``) is refused with reason
  ``no_crs`` unless the user chose one, even EPSG:4326: a wrong guess would put the
  features hundreds of metres (GCJ-02) or thousands of kilometres (projected) off.
- Geographic coordinates outside ±180/±90 are refused (``out_of_range``): they are
  almost always projected metres in a file that claims, or was assumed, to be lon/lat.
- Z and M values are dropped: the database stores 2D.
- A geometry that cannot be read at all (a GeoJSON ring of two points, WKT that is not
  WKT, a blank longitude beside a latitude) does not sink the file: it is left out as
  ``None`` and its reason kept in :attr:`GisFile.unreadable`, so the caller can report
  every bad feature at once. A feature with no geometry at all is ``None`` without a
  reason.

Refusals raise :class:`GisFileError` with a stable ``reason`` code and parameters; the
caller words the message in the user's language. This module knows nothing of what the
features are for.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import re
import sqlite3
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo import gcj02
from geo.files import (
    UnsafeFile,
    ZipLimits,
    check_zip,
    decode_text,
    has_doctype,
    is_zip,
    member_has_doctype,
    read_member,
)

LOGGER = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "GCJ02",
    "GisFile",
    "GisFileError",
    "Limits",
    "crs_label",
    "detect_format",
    "geometry_family",
    "parse_crs",
    "read_gis_file",
    "read_gis_path",
    "repair_geometry",
]

#: The user's choice for AMap / Tencent coordinates, which have no EPSG code.
GCJ02 = "gcj02"
WGS84 = CRS.from_epsg(4326)

#: What :func:`detect_format` may answer.
FORMATS = ("geojson", "gpkg", "shapefile", "kml", "kmz", "csv", "xlsx")

SQLITE_MAGIC = b"SQLite format 3\x00"
GPKG_APPLICATION_IDS = (b"GPKG", b"GP10", b"GP11")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and password-protected .xlsx
#: Extensions whose files are never plain text: a text file so named is not what it says.
_BINARY_EXTENSIONS = {".gpkg": "gpkg", ".zip": "shapefile", ".shp": "shapefile",
                      ".xlsx": "xlsx", ".kmz": "kmz", ".sqlite": "gpkg", ".xls": "xlsx"}
_STRUCTURED_EXTENSIONS = {".geojson": "geojson", ".json": "geojson", ".kml": "kml"}

#: Column names (lower case) that hold geometry as WKT, longitude or latitude.
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape", "几何", "空间信息")
LON_NAMES = ("longitude", "lon", "lng", "long", "x", "经度", "东经")
LAT_NAMES = ("latitude", "lat", "y", "纬度", "北纬")
#: A header row is looked for in the first rows of a sheet (a title line may come first).
HEADER_SEARCH_ROWS = 10

_GEOMETRY_FAMILIES = {
    "Point": "point", "MultiPoint": "point",
    "LineString": "line", "MultiLineString": "line", "LinearRing": "line",
    "Polygon": "polygon", "MultiPolygon": "polygon",
}


class GisFileError(ValueError):
    """A file refused; `reason` is a stable code, `params` fill the caller's message.

    Reasons: ``empty``, ``too_large``, ``not_gis`` (content not recognised; params
    ``found`` and, when the name claimed a format, ``claimed``), ``old_excel``,
    ``damaged``, ``zip_bomb``, ``zip_unknown`` (a zip with no Shapefile, workbook or KML),
    ``missing_member`` (``member``), ``several_layers`` (``layers``), ``no_features``,
    ``too_many_features`` (``count``, ``limit``), ``no_geometry_columns``, ``doctype``,
    ``network_link`` (a KML that would fetch from elsewhere), ``no_crs``, ``bad_crs``
    (``crs``), ``gcj02_projected`` (``crs``), ``out_of_range`` (``crs``).
    """

    def __init__(self, reason: str, **params):
        super().__init__(reason + (f" {params}" if params else ""))
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class Limits:
    """How big a file may be, in bytes and in features, and what its zip may unpack to."""

    max_bytes: int = 50 * 1024 * 1024
    max_features: int = 10_000
    zip: ZipLimits = field(default_factory=ZipLimits)


DEFAULT_LIMITS = Limits()


@dataclass
class GisFile:
    """What was read: the features in EPSG:4326 and how they got there.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        One row per feature in file order (index 0..n-1), the attributes as read (the
        geometry column is ``geometry``; an attribute of that name is dropped), in
        EPSG:4326. Geometries may be ``None`` (see :attr:`unreadable`).
    format : str
        One of :data:`FORMATS`.
    numbers : list of int
        The number to show for each feature: its position from 1, or for CSV and XLSX
        the row number a spreadsheet shows.
    numbering : str
        ``"feature"`` or ``"row"``: what :attr:`numbers` count.
    declared_crs : pyproj.CRS or None
        The CRS the file declares (None for CSV, XLSX, a Shapefile without .prj).
    source_crs : pyproj.CRS or str
        The CRS the coordinates were taken to be in: the user's choice, else the
        declared one; :data:`GCJ02` for GCJ-02.
    source_bounds, bounds : tuple of float or None
        (minx, miny, maxx, maxy) of the readable geometries, in the source CRS and in
        EPSG:4326; None when no geometry could be read.
    unreadable : dict of int to str
        Index -> why that feature's geometry could not be read.
    notes : list of (str, dict)
        Things worth telling that do not stop the import: ``crs_overridden``
        (``declared``, ``chosen``), ``z_dropped``, ``outside_china`` (GCJ-02 not
        applied there), ``layer_chosen`` (``layer``, ``layers``).
    """

    frame: gpd.GeoDataFrame
    format: str
    numbers: list[int]
    numbering: str
    declared_crs: CRS | None
    source_crs: CRS | str
    source_bounds: tuple[float, float, float, float] | None
    bounds: tuple[float, float, float, float] | None
    layer: str | None = None
    unreadable: dict[int, str] = field(default_factory=dict)
    notes: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def source_crs_label(self) -> str:
        return crs_label(self.source_crs)

    @property
    def declared_crs_label(self) -> str | None:
        return crs_label(self.declared_crs) if self.declared_crs is not None else None


# --- Coordinate reference systems -----------------------------------------------------------

def parse_crs(text: str | int | None) -> CRS | str | None:
    """The user's CRS choice: None (use the file's), :data:`GCJ02`, or an EPSG CRS.

    Accepts ``""``/``"auto"``, ``"gcj02"`` (also ``GCJ-02``, ``gcj``), ``"4326"``,
    ``"EPSG:4548"`` or an int. Anything else raises :class:`GisFileError` ``bad_crs``:
    only EPSG codes, so that a typo cannot pass as a proj string.

    Examples
    --------
    >>> parse_crs("auto") is None, parse_crs("GCJ-02")
    (True, 'gcj02')
    >>> parse_crs("epsg:4548").to_epsg(), parse_crs(4490).name
    (4548, 'China Geodetic Coordinate System 2000')
    >>> parse_crs("+proj=merc")
    Traceback (most recent call last):
    ...
    geo.gisfiles.GisFileError: bad_crs {'crs': '+proj=merc'}
    """
    if text is None:
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    value = str(text).strip()
    lowered = value.lower().replace("-", "").replace("_", "")
    if lowered in ("", "auto"):
        return None
    if lowered in ("gcj02", "gcj", "mars"):
        return GCJ02
    match = re.fullmatch(r"(?:epsg:)?([0-9]{4,6})", value.lower())
    if match is None:
        raise GisFileError("bad_crs", crs=value[:60])
    try:
        return CRS.from_epsg(int(match.group(1)))
    except CRSError:
        raise GisFileError("bad_crs", crs=value[:60]) from None


def _is_gcj02(crs) -> bool:
    # Never `crs == GCJ02`: pyproj would try to parse "gcj02" as a CRS, slowly, and fail.
    return isinstance(crs, str) and crs == GCJ02


def crs_label(crs: CRS | str | None) -> str:
    """A short name for showing a CRS: 'EPSG:4548 CGCS2000 / 3-degree Gauss-Kruger CM 117E'.

    >>> crs_label(CRS.from_epsg(3857)), crs_label(GCJ02), crs_label(None)
    ('EPSG:3857 WGS 84 / Pseudo-Mercator', 'GCJ-02', '—')
    """
    if crs is None:
        return "—"
    if _is_gcj02(crs):
        return "GCJ-02"
    authority = crs.to_authority(min_confidence=70)
    return f"{authority[0]}:{authority[1]} {crs.name}" if authority else crs.name


def _same_crs(a: CRS, b: CRS) -> bool:
    try:
        return a.equals(b, ignore_axis_order=True)
    except CRSError:
        return False


# --- Format detection -----------------------------------------------------------------------

def _xml_root(text: str) -> str | None:
    """The local name of the root element of an XML text, without parsing it."""
    for match in re.finditer(r"<([^?!/][^\s>/]*)", text[:65536]):
        return match.group(1).rsplit(":", 1)[-1].lower()
    return None


def _extension(filename: str) -> str:
    return Path(filename or "").suffix.lower()


@dataclass
class _Sniffed:
    format: str
    text: str | None = None
    members: list | None = None


def detect_format(data: bytes, filename: str = "", limits: Limits = DEFAULT_LIMITS) -> str:
    """Recognise a GIS file by its content; the answer is one of :data:`FORMATS`.

    Raises :class:`GisFileError` for anything else (``empty``, ``not_gis``,
    ``old_excel``, ``damaged``, ``zip_bomb``, ``zip_unknown``, ``doctype``).

    Examples
    --------
    >>> detect_format(b'{"type": "FeatureCollection", "features": []}')
    'geojson'
    >>> detect_format(b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"/>')
    'kml'
    >>> detect_format("name,经度,纬度\\n老山,116.2,39.9\\n".encode())
    'csv'
    >>> detect_format(b"just some words", "footprints.gpkg")
    Traceback (most recent call last):
    ...
    geo.gisfiles.GisFileError: not_gis {'found': 'text', 'claimed': 'gpkg'}
    """
    return _sniff(data, filename, limits).format


def _sniff(data: bytes, filename: str, limits: Limits) -> _Sniffed:
    if not data or not data.strip():
        raise GisFileError("empty")
    if len(data) > limits.max_bytes:
        raise GisFileError("too_large", limit=limits.max_bytes)
    claimed = _BINARY_EXTENSIONS.get(_extension(filename)) \
        or _STRUCTURED_EXTENSIONS.get(_extension(filename))
    if is_zip(data):
        return _sniff_zip(data, limits)
    if data.startswith(SQLITE_MAGIC):
        if len(data) >= 72 and data[68:72] in GPKG_APPLICATION_IDS:
            return _Sniffed("gpkg")
        raise GisFileError("not_gis", found="sqlite", **_claim(claimed))
    if data.startswith(OLE2_MAGIC):
        raise GisFileError("old_excel")
    text = decode_text(data)
    if text is None:
        raise GisFileError("not_gis", found="binary", **_claim(claimed))
    start = text.lstrip("\ufeff \t\r\n")[:1]
    if start in ("{", "["):
        return _Sniffed("geojson", text)
    if start == "<":
        if has_doctype(text):
            raise GisFileError("doctype")
        root = _xml_root(text)
        if root == "kml":
            _refuse_network_links(text)
            return _Sniffed("kml", text)
        raise GisFileError("not_gis", found=f"xml:{(root or '?')[:30]}", **_claim(claimed))
    # Plain text is the weakest sign: a CSV only when the name does not say otherwise.
    if claimed is not None:
        raise GisFileError("not_gis", found="text", claimed=claimed)
    return _Sniffed("csv", text)


def _refuse_network_links(text: str) -> None:
    # GDAL's LIBKML driver, the default KML reader, may follow a NetworkLink to another
    # server: an upload must not make the server fetch anything.
    if re.search(r"<\s*(?:\w+:)?NetworkLink\b", text, re.IGNORECASE):
        raise GisFileError("network_link")


def _claim(claimed: str | None) -> dict:
    return {"claimed": claimed} if claimed else {}


def _is_junk_member(name: str) -> bool:
    """Members a zip tool adds beside the data: macOS resource forks and folders."""
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith("._") or not base


def _sniff_zip(data: bytes, limits: Limits) -> _Sniffed:
    try:
        members = check_zip(data, limits.zip)
    except UnsafeFile as error:
        if error.reason == "bomb":
            raise GisFileError("zip_bomb") from None
        raise GisFileError("damaged") from None
    names = {m.filename for m in members}
    if "xl/workbook.xml" in names:
        return _Sniffed("xlsx", members=members)
    members = [m for m in members if not _is_junk_member(m.filename)]
    if any(m.filename.lower().endswith(".shp") for m in members):
        return _Sniffed("shapefile", members=members)
    if any(m.filename.lower().endswith(".kml") for m in members):
        return _Sniffed("kmz", members=members)
    raise GisFileError("zip_unknown")


# --- Reading --------------------------------------------------------------------------------

def read_gis_file(data: bytes, *, filename: str = "", crs: CRS | str | None = None,
                  layer: str | None = None, limits: Limits = DEFAULT_LIMITS) -> GisFile:
    """Read a GIS file's features into EPSG:4326.

    Parameters
    ----------
    data : bytes
        The whole file.
    filename : str
        Its name, only to explain a refusal.
    crs : pyproj.CRS, :data:`GCJ02` or None
        The user's choice (see :func:`parse_crs`); None takes the file's own.
    layer : str, optional
        Which layer to read when the file has several (a GeoPackage's table, a zip's
        Shapefile, by name without extension); a file with one layer ignores it.
    limits : Limits
        Size, feature count and zip limits.

    Returns
    -------
    GisFile

    Raises
    ------
    GisFileError
        When the file cannot be read as a whole (see the class for the reasons).

    Examples
    --------
    >>> text = '''{"type": "FeatureCollection", "features": [
    ...   {"type": "Feature", "properties": {"code": "A"},
    ...    "geometry": {"type": "Point", "coordinates": [12935000, 4852000]}}],
    ...  "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}}'''
    >>> found = read_gis_file(text.encode())
    >>> found.format, found.source_crs_label, found.frame.crs.to_epsg()
    ('geojson', 'EPSG:3857 WGS 84 / Pseudo-Mercator', 4326)
    >>> shapely.set_precision(found.frame.geometry[0], 1e-6).wkt
    'POINT (116.197082 39.903989)'
    """
    sniffed = _sniff(data, filename, limits)
    reader = {
        "geojson": _read_geojson, "gpkg": _read_gpkg, "shapefile": _read_shapefile,
        "kml": _read_kml, "kmz": _read_kmz, "csv": _read_csv, "xlsx": _read_xlsx,
    }[sniffed.format]
    return _finish(lambda: reader(data, sniffed, layer, limits), sniffed.format, crs)


def read_gis_path(path: str | Path, *, crs: CRS | str | None = None,
                  layer: str | None = None, limits: Limits = DEFAULT_LIMITS) -> GisFile:
    """Read a GIS file on disk, as :func:`read_gis_file` reads its bytes.

    A GeoPackage is read where it lies: a national file of hundreds of megabytes is then
    neither held in memory nor copied to a temporary file. Other formats are read as bytes.
    """
    path = Path(path)
    if path.stat().st_size > limits.max_bytes:
        raise GisFileError("too_large", limit=limits.max_bytes)
    with path.open("rb") as file:
        head = file.read(72)
    if not (head.startswith(SQLITE_MAGIC) and head[68:72] in GPKG_APPLICATION_IDS):
        return read_gis_file(path.read_bytes(), filename=path.name, crs=crs, layer=layer,
                             limits=limits)

    def read() -> _Raw:
        _refuse_gpkg_views(path, layer)
        return _read_with_gdal(path, layer, limits)

    return _finish(read, "gpkg", crs)


def _finish(read, format: str, crs: CRS | str | None) -> GisFile:
    """Run a reader and take its features to EPSG:4326; any parser failure is "damaged"."""
    try:
        raw = read()
        if len(raw.frame) == 0:
            raise GisFileError("no_features")
        return _to_wgs84(raw, format, crs)
    except GisFileError:
        raise
    except Exception as error:  # noqa: BLE001 - hostile input must not become a 500
        # Parsers fail on crafted files in ways nobody lists; say "damaged", keep the trace.
        LOGGER.warning("reading a %s file failed", format, exc_info=True)
        raise GisFileError("damaged", detail=type(error).__name__) from None


@dataclass
class _Raw:
    """Features as read, before any coordinate conversion."""

    frame: gpd.GeoDataFrame  # geometry in the source CRS, no CRS set
    declared_crs: CRS | None
    numbers: list[int] | None = None
    layer: str | None = None
    unreadable: dict[int, str] = field(default_factory=dict)
    notes: list[tuple[str, dict]] = field(default_factory=list)


def _check_count(count: int, limits: Limits) -> None:
    if count > limits.max_features:
        raise GisFileError("too_many_features", count=count, limit=limits.max_features)


def _frame(records: list[dict], geometries: list) -> gpd.GeoDataFrame:
    attributes = pd.DataFrame.from_records(records, columns=_columns_of(records)) \
        if records else pd.DataFrame(index=range(len(geometries)))
    attributes = attributes.astype(object).drop(columns=["geometry"], errors="ignore")
    return gpd.GeoDataFrame(attributes, geometry=gpd.GeoSeries(np.array(geometries,
                                                                        dtype=object)))


def _columns_of(records: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        for key in record:
            seen.setdefault(key, None)
    return list(seen)


def _geometry_error(error: Exception) -> str:
    return " ".join(str(error).split())[:160] or type(error).__name__


# GeoJSON is parsed here rather than by GDAL so that each broken geometry is reported
# with its feature number instead of failing, or being dropped from, the whole file.
def _read_geojson(data: bytes, sniffed: _Sniffed, layer, limits: Limits) -> _Raw:
    try:
        document = json.loads(sniffed.text)
    except (ValueError, RecursionError) as error:
        raise GisFileError("damaged", detail=str(error)[:120]) from None
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise GisFileError("damaged", detail="features is not a list")
    elif isinstance(document, dict) and document.get("type") == "Feature":
        features = [document]
    elif isinstance(document, dict) and document.get("type") in (*_GEOMETRY_FAMILIES,
                                                                  "GeometryCollection"):
        features = [{"type": "Feature", "geometry": document, "properties": {}}]
    else:
        raise GisFileError("not_gis", found="json")
    _check_count(len(features), limits)
    declared = _geojson_crs(document)
    records, geometries, unreadable = [], [], {}
    for index, feature in enumerate(features):
        if not isinstance(feature, dict):
            records.append({})
            geometries.append(None)
            unreadable[index] = "not a GeoJSON feature"
            continue
        properties = feature.get("properties")
        records.append(dict(properties) if isinstance(properties, dict) else {})
        geometry = feature.get("geometry")
        if geometry is None:
            geometries.append(None)
            continue
        try:
            geometries.append(shapely.geometry.shape(geometry))
        except (shapely.errors.GEOSException, ValueError, TypeError, KeyError, IndexError,
                AttributeError) as error:
            geometries.append(None)
            unreadable[index] = _geometry_error(error)
    return _Raw(_frame(records, geometries), declared, unreadable=unreadable)


def _geojson_crs(document) -> CRS:
    """The 2008 GeoJSON ``crs`` member if there is one, else WGS84 (RFC 7946)."""
    member = document.get("crs") if isinstance(document, dict) else None
    if not member:
        return WGS84
    name = member.get("properties", {}).get("name") if isinstance(member, dict) else None
    if not isinstance(name, str):
        raise GisFileError("bad_crs", crs=str(member)[:60])
    try:
        return CRS.from_user_input(name)
    except CRSError:
        raise GisFileError("bad_crs", crs=name[:60]) from None


def _read_with_gdal(path: Path, layer: str | None, limits: Limits, *,
                    encoding: str | None = None) -> _Raw:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    with warnings.catch_warnings(record=True) as caught:
        # GDAL reports oddities of a file as warnings; they are logged, not raised.
        warnings.simplefilter("always")
        try:
            layers = [str(name) for name, _type in pyogrio.list_layers(path)]
            notes = []
            if not layers:
                raise GisFileError("no_features")
            if len(layers) > 1:
                chosen = next((name for name in layers if layer and name.lower() == layer.lower()),
                              None)
                if chosen is None:
                    raise GisFileError("several_layers", layers=", ".join(layers)[:300])
                notes.append(("layer_chosen", {"layer": chosen, "layers": ", ".join(layers)}))
            else:
                chosen = layers[0]
            info = pyogrio.read_info(path, layer=chosen, encoding=encoding)
            _check_count(int(info["features"]), limits)
            frame = pyogrio.read_dataframe(path, layer=chosen, encoding=encoding,
                                           on_invalid="ignore", use_arrow=False)
        except (DataSourceError, DataLayerError, RuntimeError, ValueError) as error:
            if isinstance(error, GisFileError):
                raise
            LOGGER.info("import: GDAL could not read %s: %s", path.name, error)
            raise GisFileError("damaged", detail=str(error)[:120]) from None
    for warning in caught:
        LOGGER.info("import: GDAL: %s", warning.message)
    _check_count(len(frame), limits)
    declared = frame.crs
    geometries = frame.geometry.to_numpy()
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(object)
    attributes = attributes.drop(columns=["geometry"], errors="ignore")
    raw = gpd.GeoDataFrame(attributes.reset_index(drop=True),
                           geometry=gpd.GeoSeries(np.array(geometries, dtype=object)))
    return _Raw(raw, declared, layer=chosen, notes=notes)


def _read_gpkg(data: bytes, sniffed, layer, limits: Limits) -> _Raw:
    with tempfile.TemporaryDirectory(prefix="gengxin-gis-") as folder:
        path = Path(folder) / "upload.gpkg"
        path.write_bytes(data)
        _refuse_gpkg_views(path, layer)
        return _read_with_gdal(path, layer, limits)


def _refuse_gpkg_views(path: Path, layer: str | None) -> None:
    """Refuse feature layers that are SQL views: a view can run any query when read."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = connection.execute(
                "SELECT c.table_name, m.type FROM gpkg_contents c "
                "LEFT JOIN sqlite_master m ON m.name = c.table_name "
                "WHERE c.data_type = 'features'").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise GisFileError("damaged", detail=str(error)[:120]) from None
    if any(kind != "table" for _name, kind in rows):
        raise GisFileError("damaged", detail="a feature layer is not a table")


def _shapefile_encoding(dbf: bytes, has_cpg: bool) -> str | None:
    """The encoding of a .dbf without .cpg and language id: UTF-8 if it decodes, else GB18030.

    Chinese desktop GIS writes GBK; GDAL would read it as Latin-1 and garble every name.
    """
    if has_cpg or len(dbf) < 32 or dbf[29] != 0:
        return None
    try:
        dbf[32:].decode("utf-8")
    except UnicodeDecodeError:
        return "GB18030"
    return "UTF-8"


def _read_shapefile(data: bytes, sniffed: _Sniffed, layer, limits: Limits) -> _Raw:
    """The zip's Shapefile; several are read as one layer (a Shapefile holds one geometry
    type, so points, lines and polygons of one layer come as several), unless one is named
    after `layer`. Their coordinate systems must then agree."""
    by_stem: dict[str, dict[str, object]] = {}
    for member in sniffed.members:
        stem, _dot, extension = member.filename.rpartition(".")
        by_stem.setdefault(stem, {})[extension.lower()] = member
    shapes = {stem: parts for stem, parts in sorted(by_stem.items()) if "shp" in parts}
    named = [stem for stem in shapes if layer and _base(stem).lower() == layer.lower()]
    stems = named[:1] or list(shapes)
    raws = []
    for stem in stems:
        raws.append(_read_one_shapefile(data, stem, shapes[stem], limits))
        _check_count(sum(len(raw.frame) for raw in raws), limits)
    if len(raws) == 1:
        return raws[0]
    declared = [raw.declared_crs for raw in raws]
    if any(crs is None for crs in declared) and any(crs is not None for crs in declared) or \
            any(crs is not None and not _same_crs(crs, declared[0]) for crs in declared):
        raise GisFileError("several_layers", layers=", ".join(_base(s) for s in stems)[:300])
    frame = gpd.GeoDataFrame(pd.concat([raw.frame for raw in raws], ignore_index=True),
                             geometry="geometry")
    return _Raw(frame, declared[0], layer=", ".join(_base(s) for s in stems)[:200])


def _base(stem: str) -> str:
    return stem.rsplit("/", 1)[-1]


def _read_one_shapefile(data: bytes, stem: str, parts: dict, limits: Limits) -> _Raw:
    for needed in ("shx", "dbf"):
        if needed not in parts:
            raise GisFileError("missing_member", member=f"{_base(stem)}.{needed}")
    with tempfile.TemporaryDirectory(prefix="gengxin-gis-") as folder:
        # Members are written under names we choose: no path in the archive is ever used.
        dbf = b""
        for extension in ("shp", "shx", "dbf", "prj", "cpg"):
            if extension in parts:
                try:
                    content = read_member(data, parts[extension])
                except UnsafeFile:
                    raise GisFileError("damaged") from None
                (Path(folder) / f"layer.{extension}").write_bytes(content)
                if extension == "dbf":
                    dbf = content
        raw = _read_with_gdal(Path(folder) / "layer.shp", None, limits,
                              encoding=_shapefile_encoding(dbf, "cpg" in parts))
    raw.layer = _base(stem)
    if "prj" not in parts:
        raw.declared_crs = None
    return raw


def _read_kml(data: bytes, sniffed, layer, limits: Limits) -> _Raw:
    with tempfile.TemporaryDirectory(prefix="gengxin-gis-") as folder:
        path = Path(folder) / "upload.kml"
        path.write_bytes(data)
        return _read_kml_path(path, limits)


def _read_kml_path(path: Path, limits: Limits) -> _Raw:
    """Every folder of a KML document as one layer; KML is WGS84 by definition."""
    import pyogrio

    try:
        layers = [str(name) for name, _type in pyogrio.list_layers(path)]
    except Exception as error:  # noqa: BLE001 - GDAL raises several kinds on a bad file
        raise GisFileError("damaged", detail=str(error)[:120]) from None
    parts, total = [], 0
    for name in layers:
        raw = _read_with_gdal(path, name, limits) if len(layers) > 1 else \
            _read_with_gdal(path, None, limits)
        total += len(raw.frame)
        _check_count(total, limits)
        parts.append(raw.frame)
    if not parts:
        raise GisFileError("no_features")
    frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry") \
        if len(parts) > 1 else parts[0]
    return _Raw(frame, WGS84, layer=", ".join(layers)[:200])


def _read_kmz(data: bytes, sniffed: _Sniffed, layer, limits: Limits) -> _Raw:
    kml = [m for m in sniffed.members if m.filename.lower().endswith(".kml")]
    member = next((m for m in kml if m.filename.lower() == "doc.kml"), kml[0])
    try:
        content = read_member(data, member)
    except UnsafeFile:
        raise GisFileError("damaged") from None
    text = decode_text(content)
    if text is None:
        raise GisFileError("damaged")
    if has_doctype(text):
        raise GisFileError("doctype")
    _refuse_network_links(text)
    with tempfile.TemporaryDirectory(prefix="gengxin-gis-") as folder:
        path = Path(folder) / "upload.kml"
        path.write_bytes(content)
        return _read_kml_path(path, limits)


# --- Tables: CSV and XLSX -------------------------------------------------------------------

def _name_of(value) -> str:
    return " ".join(str(value).replace("\ufeff", "").split()).lower() if value is not None \
        else ""


def _matches(name: str, names: tuple[str, ...]) -> bool:
    """'lon', 'Longitude', 'lon_gcj02' and '经度(GCJ-02)' all name a longitude column."""
    if name in names:
        return True
    return any(re.fullmatch(rf"{re.escape(n)}\s*[_\-\s(（].*", name) for n in names
               if len(n) > 1)


def _geometry_columns(header: list[str]) -> tuple[str, int, int | None] | None:
    """('wkt', index, None) or ('lonlat', lon index, lat index) for a header row."""
    names = [_name_of(value) for value in header]
    for index, name in enumerate(names):
        if name in WKT_NAMES:
            return "wkt", index, None
    lon = next((i for i, name in enumerate(names) if _matches(name, LON_NAMES)), None)
    lat = next((i for i, name in enumerate(names) if _matches(name, LAT_NAMES)), None)
    if lon is not None and lat is not None:
        return "lonlat", lon, lat
    return None


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def _number(value) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        number = float(str(value).strip().replace("，", ".").replace("\u2212", "-"))
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


_EWKT = re.compile(r"\s*SRID=([0-9]{4,6})\s*;\s*(.*)", re.IGNORECASE | re.DOTALL)


def _table_to_raw(rows: list[tuple[int, tuple]], limits: Limits) -> _Raw:
    """Rows (sheet row number, values) with a header row among the first ones -> features."""
    header_at = None
    for position, (_row, values) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = _geometry_columns(list(values))
        if found is not None:
            header_at, geometry_columns = position, found
            break
    if header_at is None:
        raise GisFileError("no_geometry_columns")
    header = [str(v).replace("\ufeff", "").strip() if v is not None else ""
              for v in rows[header_at][1]]
    body = [(n, values) for n, values in rows[header_at + 1:]
            if not all(_blank(v) for v in values)]
    _check_count(len(body), limits)
    kind, first, second = geometry_columns
    geometry_indexes = {first, second}
    records, geometries, numbers, unreadable, srids = [], [], [], {}, set()
    for index, (number, values) in enumerate(body):
        values = list(values) + [None] * (len(header) - len(values))
        record = {}
        for position, name in enumerate(header):
            if position in geometry_indexes or not name or name in record:
                continue
            value = values[position]
            record[name] = None if _blank(value) else (value.strip() if isinstance(value, str)
                                                        else value)
        records.append(record)
        numbers.append(number)
        geometry = None
        try:
            if kind == "wkt":
                text = values[first]
                if not _blank(text):
                    text = str(text)
                    ewkt = _EWKT.fullmatch(text)
                    if ewkt:
                        srids.add(int(ewkt.group(1)))
                        text = ewkt.group(2)
                    geometry = shapely.from_wkt(text)
            else:
                lon, lat = values[first], values[second]
                if not (_blank(lon) and _blank(lat)):
                    geometry = shapely.Point(_number(lon), _number(lat))
        except (shapely.errors.GEOSException, ValueError, TypeError) as error:
            unreadable[index] = _geometry_error(error)
            geometry = None
        geometries.append(geometry)
    declared = None
    if len(srids) == 1:
        try:
            declared = CRS.from_epsg(srids.pop())
        except CRSError:
            declared = None
    return _Raw(_frame(records, geometries), declared, numbers=numbers, unreadable=unreadable)


def _read_csv(data: bytes, sniffed: _Sniffed, layer, limits: Limits) -> _Raw:
    text = sniffed.text
    # A polygon's WKT easily passes the csv module's default 128 KB per field. (The limit is
    # process-wide; it is only ever raised here, up to what a file may hold anyway.)
    if csv.field_size_limit() < limits.max_bytes:
        csv.field_size_limit(limits.max_bytes)
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max((",", ";", "\t", "|"), key=first_line.count)
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter)
    rows = []
    try:
        for values in reader:
            rows.append((reader.line_num, tuple(values)))
            if len(rows) > limits.max_features + HEADER_SEARCH_ROWS + 1:
                # Count the rest without keeping them, to say how many there are.
                count = len(rows) + sum(1 for _ in reader)
                raise GisFileError("too_many_features", count=count - 1,
                                   limit=limits.max_features)
    except csv.Error as error:
        raise GisFileError("damaged", detail=str(error)[:120]) from None
    return _table_to_raw(rows, limits)


def _read_xlsx(data: bytes, sniffed: _Sniffed, layer, limits: Limits) -> _Raw:
    from openpyxl import load_workbook

    for member in sniffed.members:
        if member.filename.endswith((".xml", ".rels")):
            try:
                if member_has_doctype(data, member):
                    raise GisFileError("doctype")
            except UnsafeFile:
                raise GisFileError("damaged") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's warnings do not matter for values
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                return _xlsx_sheet(book, layer, limits)
            finally:
                book.close()
    except GisFileError:
        raise
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds on a bad file
        LOGGER.info("import: openpyxl could not read the workbook: %r", error)
        raise GisFileError("damaged", detail=str(error)[:120]) from None


def _xlsx_sheet(book, layer: str | None, limits: Limits) -> _Raw:
    """The first sheet (or the one named `layer`) with geometry columns in its header."""
    sheets = [s for s in book.worksheets if hasattr(s, "iter_rows")]
    named = [s for s in sheets if layer and s.title.lower() == layer.lower()]
    for sheet in named or sheets:
        sheet.reset_dimensions()  # the stored dimension may be wrong; read every row
        rows = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((number, tuple(_cell(v) for v in values)))
            if len(rows) > limits.max_features + HEADER_SEARCH_ROWS + 1:
                raise GisFileError("too_many_features", count=len(rows),
                                   limit=limits.max_features)
        try:
            raw = _table_to_raw(rows, limits)
        except GisFileError as error:
            if error.reason == "no_geometry_columns":
                continue
            raise
        raw.layer = sheet.title
        return raw
    raise GisFileError("no_geometry_columns")


def _cell(value):
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date()
    return value


# --- Coordinates ----------------------------------------------------------------------------

def _to_wgs84(raw: _Raw, format: str, chosen: CRS | str | None) -> GisFile:
    frame = raw.frame
    notes = list(raw.notes)
    declared = raw.declared_crs
    geometries = np.asarray(frame.geometry.array, dtype=object)
    # An empty geometry is no geometry.
    geometries[shapely.is_empty(geometries)] = None
    present = ~shapely.is_missing(geometries)
    if present.any() and shapely.has_z(geometries[present]).any():
        geometries[present] = shapely.force_2d(geometries[present])
        notes.append(("z_dropped", {}))
    if chosen is None:
        if declared is None:
            raise GisFileError("no_crs")
        source = declared
    else:
        source = chosen
        if declared is not None and _is_gcj02(chosen) and declared.is_projected:
            raise GisFileError("gcj02_projected", crs=crs_label(declared))
        if declared is not None and (_is_gcj02(chosen) or not _same_crs(declared, chosen)) \
                and not (format in ("geojson", "kml", "kmz") and _is_gcj02(chosen)
                         and _same_crs(declared, WGS84)):
            notes.append(("crs_overridden", {"declared": crs_label(declared),
                                             "chosen": crs_label(chosen)}))
    source_bounds = _bounds(geometries[present])
    if present.any():
        converted = _convert(geometries[present], source, notes)
        geometries[present] = converted
    bounds = _bounds(geometries[present])
    result = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name),
                              geometry=gpd.GeoSeries(geometries, index=frame.index), crs=WGS84)
    numbers = raw.numbers or list(range(1, len(result) + 1))
    return GisFile(frame=result, format=format, numbers=numbers,
                   numbering="row" if raw.numbers else "feature", declared_crs=declared,
                   source_crs=source, source_bounds=source_bounds, bounds=bounds,
                   layer=raw.layer, unreadable=raw.unreadable, notes=notes)


def _bounds(geometries) -> tuple[float, float, float, float] | None:
    if len(geometries) == 0:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(geometries)
    return float(minx), float(miny), float(maxx), float(maxy)


def _is_lonlat(geometries) -> bool:
    minx, miny, maxx, maxy = shapely.total_bounds(geometries)
    return -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def _convert(geometries, source: CRS | str, notes: list) -> np.ndarray:
    if _is_gcj02(source) or source.is_geographic:
        if not _is_lonlat(geometries):
            raise GisFileError("out_of_range", crs=crs_label(source))
    if _is_gcj02(source):
        coords = shapely.get_coordinates(geometries)
        if not gcj02.is_in_china(coords[:, 0], coords[:, 1]).all():
            notes.append(("outside_china", {}))
        return np.asarray(gcj02.geometry_from_gcj02(geometries), dtype=object)
    if _same_crs(source, WGS84):
        return geometries
    transformer = Transformer.from_crs(source, WGS84, always_xy=True)

    def move(coords):
        x, y = transformer.transform(coords[:, 0], coords[:, 1], errcheck=False)
        return np.column_stack([x, y])

    converted = shapely.transform(geometries, move)
    coords = shapely.get_coordinates(converted)
    if not np.isfinite(coords).all() or not _is_lonlat(converted):
        raise GisFileError("out_of_range", crs=crs_label(source))
    return converted


# --- Geometry checks ------------------------------------------------------------------------

def geometry_family(geometry) -> str | None:
    """'point', 'line' or 'polygon' for a geometry of one dimension; 'mixed' for a mixed
    collection; None for no geometry.

    >>> from shapely import MultiPolygon, Point, box
    >>> geometry_family(Point(0, 0)), geometry_family(MultiPolygon([box(0, 0, 1, 1)]))
    ('point', 'polygon')
    >>> geometry_family(shapely.GeometryCollection([Point(0, 0), box(0, 0, 1, 1)]))
    'mixed'
    """
    if geometry is None or geometry.is_empty:
        return None
    family = _GEOMETRY_FAMILIES.get(geometry.geom_type)
    if family is not None:
        return family
    families = {geometry_family(part) for part in geometry.geoms} - {None}
    return families.pop() if len(families) == 1 else "mixed"


def repair_geometry(geometry):
    """Make `geometry` valid without changing what kind of thing it is.

    Returns
    -------
    (geometry, outcome)
        ``outcome`` is ``"valid"`` (returned as is), ``"repaired"`` (made valid with
        :func:`shapely.make_valid`, keeping only the parts of the original dimension,
        e.g. a bow-tie polygon split into two triangles), or ``"collapsed"`` (nothing
        of that dimension is left, e.g. a polygon with no area: refuse it).

    Examples
    --------
    >>> from shapely import Polygon
    >>> fixed, outcome = repair_geometry(Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]))
    >>> outcome, fixed.geom_type, fixed.area
    ('repaired', 'MultiPolygon', 2.0)
    >>> repair_geometry(Polygon([(0, 0), (1, 1), (2, 2), (0, 0)]))[1]
    'collapsed'
    """
    if geometry is None or geometry.is_valid:
        return geometry, "valid"
    family = geometry_family(geometry)
    if family == "polygon":
        fixed = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    else:
        fixed = shapely.make_valid(geometry)
    parts = [part for part in getattr(fixed, "geoms", [fixed])
             if geometry_family(part) == family]
    if not parts:
        return fixed, "collapsed"
    if len(parts) == 1:
        return parts[0], "repaired"
    if family == "polygon":
        return shapely.MultiPolygon([p for part in parts
                                     for p in getattr(part, "geoms", [part])]), "repaired"
    return shapely.GeometryCollection(parts), "repaired"

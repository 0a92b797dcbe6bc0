"""Import of streets, communities and items from GIS files and spreadsheets.

A planner brings the footprints and items they already keep in GIS files. An import
has two steps, and the first is the preview (the dry run): :func:`read_import_file`
reads the file into EPSG:4326 (:mod:`geo.gisfiles` does formats and coordinates),
:func:`check_import` checks every feature against the layer's rules and the database
and returns an :class:`ImportPlan` with its :class:`ImportReport`; nothing is written.
:func:`apply_import` then writes the plan in the caller's one transaction, only if the
plan has no errors. The web and ``flask import`` both re-read and re-check the file
right before applying, so what is applied is checked against the database as it is.

Decisions (what the issue left open)
------------------------------------
- **Matching, so that a re-import updates instead of duplicating.** Streets and
  communities match by ``code``. Items have no code in the schema; they match on
  (community, kind, title), which is how people name them ("3号楼加装电梯" in a
  community). Two items in the file with the same triple are an error; two items in
  the database with it make the update ambiguous, also an error. A ``code`` column on
  items would make this sturdier; it is a schema change, so it is not made here.
- **Errors block, warnings do not.** Errors: a geometry that cannot be read or repaired
  without changing its type, a wrong geometry type for the layer (streets need polygons;
  communities polygons, or points for their centre only; items by the catalogue: a lift
  is a point, a pipe run a line, a car park a polygon), missing required attributes
  (streets: code, name; communities: code, name; items: community code, kind, title),
  bad values, duplicate codes in the file, an unknown street, community or item kind, a
  feature more than 200 m outside the street its file names, or in no street at all
  (when the street comes from the spatial join), a street without a boundary.
  Warnings: a geometry repaired with ``make_valid`` (same type), overlaps (between
  footprints in the file, or with ones already in the database; digitised boundaries
  often overlap by a sliver, so they are shown, not refused), a footprint partly
  outside its street or less than 200 m outside it, an item outside its community's
  footprint, a feature without a
  geometry where one is optional, a status an import does not change.
- **Streets of communities.** A ``street_code`` column (a street's code or Chinese
  name) is used when given, and the footprint is checked against that street; without
  one, the street is found by spatial join with the street boundaries at the
  footprint's representative point (or the point itself).
- **Points for communities.** A community layer of points (e.g. centre points in
  GCJ-02 from AMap) sets the communities' ``location`` only; footprints are kept.
- **Data source.** A community whose footprint comes from the file, and every new
  community, gets ``data_source = "imported"`` and a ``source_note`` naming the file;
  one whose footprint stays (a points layer) keeps its data source, so a generated
  footprint never passes for an imported one. Imported streets are ``imported`` too.
- **Statuses.** A new item takes the file's ``status`` and ``progress`` (default
  planned, 0 %), checked against the allowed progress range. An existing item's status
  changes only through :mod:`renovation.workflow` (with its history row), never by an
  import: a different status in the file is a warning and is not applied.
- **Columns.** Attribute names are matched without regard to case, in English or
  Chinese (``code``/``编码``, ``name``/``名称`` ...; see ``FIELDS``). An optional
  attribute missing or blank keeps the value in the database.
- **Limits.** ``GIS_IMPORT_MAX_BYTES`` (default 50 MB) and ``GIS_IMPORT_MAX_FEATURES``
  (default 10,000) in the app's config; zips are checked for bombs before unpacking.
  ``flask import --max-features/--max-mb`` raises them for one file (a city, the country).
- **Scale.** A national file (170,000 communities) is checked with whole-array shapely
  operations (validity, STRtree joins and overlaps, prepared street boundaries) and the
  database rows it touches are read in one query; communities are written by COPY on
  PostgreSQL and prepared ``executemany`` on SpatiaLite, still in the one transaction,
  with the summary triggers on (or, for a load as large as the table, suspended and the
  summaries rebuilt once; see :func:`_bulk_load`). The messages are those of a
  feature-by-feature check, in the same order. ``bench/import_footprints.py`` measures it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from geoalchemy2.shape import from_shape, to_shape
from pyproj import Geod
from shapely.ops import nearest_points
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from geo import gisfiles
from geo.footprints import area_m2
from geo.gisfiles import GisFile, GisFileError, geometry_family, repair_geometry
from geo.spatialdb import bbox_filter, is_sqlite
from renovation import summaries
from renovation.catalogue import KINDS, ItemKind
from renovation.errors import DomainError
from renovation.models import Community, DataSource, RenovationItem, Street, utcnow
from renovation.status import PROGRESS_RANGE, Status

LOGGER = logging.getLogger(__name__)

LAYERS = ("streets", "communities", "items")
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_FEATURES = 10_000
#: Overlaps smaller than this are digitising noise and not reported.
OVERLAP_MIN_M2 = 1.0
#: A footprint may stick out of its street by this share before a warning.
OUTSIDE_STREET_SHARE = 0.01
#: A feature wholly outside its street but closer than this is a warning (street outlines
#: and footprints drawn at different scales disagree by metres); farther, an error.
OUTSIDE_STREET_MAX_M = 200.0
#: How far an item may lie from its community's footprint before a warning (degrees, ~10 m).
ITEM_NEAR_DEG = 0.0001
SRID = 4326

#: Field -> the column names it is read from (compared in lower case, spaces collapsed).
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "streets": {
        "code": ("code", "street_code", "编码", "代码", "街道代码", "街道编码"),
        "name_zh": ("name_zh", "name", "名称", "街道", "街道名称"),
        "name_en": ("name_en", "english_name", "英文名称", "英文名"),
    },
    "communities": {
        "code": ("code", "community_code", "编码", "代码", "社区代码", "社区编码"),
        "name": ("name", "名称", "社区", "社区名称", "小区", "小区名称"),
        "street": ("street_code", "street", "街道代码", "街道编码", "街道"),
        "year_built": ("year_built", "建成年代", "建成年份", "建成年"),
        "building_area_m2": ("building_area_m2", "building_area", "area_m2", "建筑面积"),
        "households": ("households", "户数"),
        "building_count": ("building_count", "buildings", "楼栋数"),
        "is_pilot": ("is_pilot", "pilot", "试点"),
    },
    "items": {
        "community_code": ("community_code", "community", "社区代码", "社区编码", "社区"),
        "kind": ("kind", "类别代码", "类别", "类型"),
        "title": ("title", "name", "名称", "项目名称"),
        "status": ("status", "状态"),
        "progress_pct": ("progress_pct", "progress", "进度"),
        "quantity": ("quantity", "数量"),
        "unit": ("unit", "单位"),
        "planned_start": ("planned_start", "plan_start", "计划开始"),
        "planned_end": ("planned_end", "plan_end", "计划完成", "计划结束"),
    },
}
REQUIRED = {"streets": ("code", "name_zh"), "communities": ("code", "name"),
            "items": ("community_code", "kind", "title")}
#: The longest text each column takes (the schema's lengths).
MAX_LENGTHS = {"code:streets": 12, "code:communities": 32, "name_zh": 100, "name_en": 100,
               "name": 200, "title": 200, "unit": 20}

_FAMILY_NAMES = {"point": _l("point"), "line": _l("line"), "polygon": _l("polygon"),
                 "mixed": _l("mix of geometry types")}
_LAYER_NAMES = {"streets": _l("streets"), "communities": _l("communities"),
                "items": _l("items")}


# --- The report -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """Something found in the file: an error blocks the import, a warning does not."""

    number: int | None  # the feature's number (or spreadsheet row); None: the whole file
    code: str | None
    message: str
    is_error: bool


@dataclass
class ImportReport:
    """What a preview or an import found and did."""

    layer: str
    filename: str
    format: str
    numbering: str  # "feature" or "row"
    declared_crs: str | None
    source_crs: str
    source_bounds: tuple[float, float, float, float] | None
    bounds: tuple[float, float, float, float] | None
    features: int
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    assigned_streets: int = 0  # communities whose street came from the spatial join
    problems: list[Problem] = field(default_factory=list)
    applied: bool = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Feature:
    """One feature as planned: what it will write, to which row."""

    index: int
    number: int
    code: str | None
    geometry: object = None  # the checked geometry in EPSG:4326, or None
    values: dict = field(default_factory=dict)  # attribute -> value to write
    target: object = None  # the existing row it updates, or None for a new one
    action: str | None = None  # "new", "update", "unchanged"; None when it has errors
    failed: bool = False
    street_text: str | None = None  # communities: the street named in the file
    status: Status | None = None  # items: the status and progress the file gives
    progress_pct: int | None = None
    changes: dict | None = None  # communities: the values an update changes


@dataclass
class ImportPlan:
    """A checked file, ready for :func:`apply_import` if its report has no errors."""

    report: ImportReport
    features: list[_Feature]
    filename: str


# --- Reading the file -----------------------------------------------------------------------

def limits_from_config(config=None) -> gisfiles.Limits:
    """The import limits: ``GIS_IMPORT_MAX_BYTES`` and ``GIS_IMPORT_MAX_FEATURES``."""
    config = current_app.config if config is None else config
    return gisfiles.Limits(
        max_bytes=int(config.get("GIS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)),
        max_features=int(config.get("GIS_IMPORT_MAX_FEATURES", DEFAULT_MAX_FEATURES)))


def parse_crs_choice(text: str | None):
    """The user's CRS choice (see :func:`geo.gisfiles.parse_crs`), refused with a message."""
    try:
        return gisfiles.parse_crs(text)
    except GisFileError as error:
        raise _refusal(error, gisfiles.Limits()) from None


def read_import_file(data: bytes, *, filename: str = "", layer: str, crs: str | None = None,
                     limits: gisfiles.Limits | None = None) -> GisFile:
    """Read an uploaded file for `layer`, in the CRS the user chose (None: the file's own).

    Raises
    ------
    DomainError
        400 for a file that cannot be imported at all (damaged, not a GIS file, a zip
        bomb, no CRS, ...), 413 for one over the size limit; the message says which.
    """
    return _read(lambda crs, limits: gisfiles.read_gis_file(
        data, filename=filename, crs=crs, layer=layer, limits=limits), filename, layer, crs,
        limits)


def read_import_path(path, *, layer: str, crs: str | None = None,
                     limits: gisfiles.Limits | None = None) -> GisFile:
    """:func:`read_import_file` for a file on disk (``flask import``): a GeoPackage is read
    in place, so a national file is not held in memory twice."""
    return _read(lambda crs, limits: gisfiles.read_gis_path(
        path, crs=crs, layer=layer, limits=limits), str(path), layer, crs, limits)


def _read(reader, filename: str, layer: str, crs: str | None, limits) -> GisFile:
    if layer not in LAYERS:
        raise DomainError(_l("Unknown layer %(layer)s: choose streets, communities or items.",
                             layer=str(layer)[:30]))
    limits = limits or limits_from_config()
    chosen = parse_crs_choice(crs)
    try:
        return reader(chosen, limits)
    except GisFileError as error:
        LOGGER.info("import of %r refused: %s", filename[:100], error)
        raise _refusal(error, limits) from None


_FOUND = {
    "text": _l("plain text"),
    "binary": _l("binary data of another kind"),
    "sqlite": _l("an SQLite database that is not a GeoPackage"),
    "json": _l("JSON that is not GeoJSON"),
}
_CLAIMED = {"gpkg": "GeoPackage", "shapefile": "zip / Shapefile", "xlsx": "Excel (.xlsx)",
            "kmz": "KMZ", "geojson": "GeoJSON", "kml": "KML"}


def _refusal(error: GisFileError, limits: gisfiles.Limits) -> DomainError:
    """The message for a refused file, in the user's language."""
    reason, params = error.reason, error.params
    if reason == "too_large":
        return DomainError(_l("The file is too large: at most %(mb)d MB can be imported.",
                              mb=max(1, limits.max_bytes // 2**20)), status=413)
    if reason == "not_gis":
        found = params.get("found", "")
        found_text = _FOUND.get(found) or (_l("XML that is not KML")
                                           if found.startswith("xml") else found)
        if params.get("claimed"):
            return DomainError(_l("The file is named as %(format)s, but its content is "
                                  "not: it is %(found)s.",
                                  format=_CLAIMED.get(params["claimed"], params["claimed"]),
                                  found=found_text))
        return DomainError(_l("This is not a file that can be imported (%(found)s). Use "
                              "GeoJSON, GeoPackage, a zipped Shapefile, KML, CSV or Excel "
                              "(.xlsx).", found=found_text))
    if reason == "damaged" and params.get("detail"):
        return DomainError(_l("The file is damaged and cannot be read (%(detail)s).",
                              detail=params["detail"]))
    messages = {
        "empty": _l("The file is empty."),
        "old_excel": _l("This is an old Excel file (.xls) or a password-protected one. Save "
                        "it as an Excel workbook (.xlsx) without a password, or as CSV."),
        "damaged": _l("The file is damaged and cannot be read."),
        "zip_bomb": _l("The zip file unpacks to far more data than allowed, so it is "
                       "refused."),
        "zip_unknown": _l("The zip file holds no Shapefile (.shp), KML or Excel workbook."),
        "no_features": _l("The file has no features."),
        "no_geometry_columns": _l("The table has no geometry columns: name them longitude "
                                  "and latitude (or 经度 and 纬度), or wkt."),
        "doctype": _l("The XML declares a DTD or entities, which KML never needs, so it is "
                      "refused."),
        "network_link": _l("The KML links to other files on the network (NetworkLink); "
                           "save the features themselves in the file and upload that."),
        "no_crs": _l("The file does not say which coordinate system it uses (a CSV or Excel "
                     "table, or a Shapefile without .prj). Choose it: an EPSG code such as "
                     "4326 or 4548, or GCJ-02 for AMap and Tencent coordinates."),
    }
    if reason in messages:
        return DomainError(messages[reason])
    formatted = {
        "missing_member": lambda p: _l("The zipped Shapefile lacks %(member)s: zip the .shp, "
                                       ".shx, .dbf and .prj files together.", **p),
        "several_layers": lambda p: _l("The file has several layers (%(layers)s). Keep only "
                                       "one, or name one after the layer you import.", **p),
        "too_many_features": lambda p: _l("The file has %(count)d features; at most "
                                          "%(limit)d can be imported at once.", **p),
        "bad_crs": lambda p: _l("Unknown coordinate system: %(crs)s. Give an EPSG code such "
                                "as 4326 or 4548, or gcj02.", **p),
        "gcj02_projected": lambda p: _l("GCJ-02 coordinates are longitudes and latitudes, but "
                                        "the file is in %(crs)s. Choose the file's own "
                                        "coordinate system.", **p),
        "out_of_range": lambda p: _l("The coordinates do not fit %(crs)s: they are not "
                                     "longitudes and latitudes. Choose the file's real "
                                     "coordinate system.", **p),
    }
    if reason in formatted:
        try:
            return DomainError(formatted[reason](params))
        except (KeyError, TypeError):
            pass
    return DomainError(_l("The file cannot be imported."))


# --- Reading values -------------------------------------------------------------------------

class _Bad(ValueError):
    """A value that cannot be used; `message` says why in the user's language."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _blank(value) -> bool:
    """None, NaN, NaT, pandas' NA or blank text: a cell with nothing in it."""
    kind = type(value)  # the common cases first: this runs for every cell of a big file
    if kind is str:
        return not value.strip()
    if kind is float:
        return value != value
    if kind is int or kind is bool:
        return False
    if value is None or isinstance(value, (list, dict, tuple)):
        return value is None
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value) -> str | None:
    """A cell as text: integral numbers without '.0' (codes read from Excel or a .dbf)."""
    if type(value) is str:
        return " ".join(value.replace("\x00", "").split()) or None
    if _blank(value):
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _text(value.item())
    return " ".join(str(value).replace("\x00", "").split()) or None


def _number(field_name: str, value, *, whole: bool = False, low=None, high=None):
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(str(value).strip().replace(",", "")) if isinstance(value, str) \
            else float(value)
        if not math.isfinite(number):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise _Bad(_l("%(field)s must be a number, not %(value)s.", field=field_name,
                      value=str(value)[:40])) from None
    if whole:
        if not number.is_integer():
            raise _Bad(_l("%(field)s must be a whole number, not %(value)s.",
                          field=field_name, value=str(value)[:40]))
        number = int(number)
    if low is not None and high is not None and not low <= number <= high:
        raise _Bad(_l("%(field)s must be between %(low)s and %(high)s, not %(value)s.",
                      field=field_name, low=low, high=high, value=str(value)[:40]))
    return number


_TRUE = {"1", "true", "yes", "y", "t", "是", "真", "x", "✓"}
_FALSE = {"0", "false", "no", "n", "f", "否", "假", ""}


def _boolean(field_name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    text = (_text(value) or "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad(_l("%(field)s must be yes or no, not %(value)s.", field=field_name,
                  value=str(value)[:40]))


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M")


def _date(field_name: str, value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date()
    text = _text(value) or ""
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise _Bad(_l("%(field)s must be a date such as 2026-05-31, not %(value)s.",
                  field=field_name, value=text[:40]))


def _column_names(frame) -> dict[str, str]:
    """Normalised name -> the file's column name, first one winning."""
    names: dict[str, str] = {}
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        names.setdefault(" ".join(str(column).replace("\ufeff", "").split()).lower(), column)
    return names


def _columns_for(layer: str, frame) -> dict[str, str]:
    """Field -> the file's column for it, for the fields the file has."""
    names = _column_names(frame)
    found = {}
    for field_name, aliases in FIELDS[layer].items():
        for alias in aliases:
            if alias.lower() in names and names[alias.lower()] not in found.values():
                found[field_name] = names[alias.lower()]
                break
    return found


# --- Checking -------------------------------------------------------------------------------

class _Checker:
    """Collects problems while a file is checked."""

    def __init__(self, report: ImportReport):
        self.report = report

    def error(self, feature: _Feature | None, message) -> None:
        self._add(feature, message, True)
        if feature is not None:
            feature.failed = True

    def warn(self, feature: _Feature | None, message) -> None:
        self._add(feature, message, False)

    def _add(self, feature, message, is_error: bool) -> None:
        self.report.problems.append(Problem(
            feature.number if feature is not None else None,
            feature.code if feature is not None else None, str(message), is_error))


_NOTES = {
    "crs_overridden": lambda p: _l("The file says its coordinates are in %(declared)s; they "
                                   "were read as %(chosen)s, as you chose.", **p),
    "z_dropped": lambda p: _l("Heights (Z values) were dropped."),
    "outside_china": lambda p: _l("Some coordinates lie outside China, where GCJ-02 has no "
                                  "offset; they were left as they are."),
    "layer_chosen": lambda p: _l("The file has several layers (%(layers)s); the layer "
                                 "%(layer)s was read.", **p),
}


def _note_message(name: str, params: dict):
    try:
        return _NOTES[name](params)
    except (KeyError, TypeError):
        return name


def check_import(session: Session, gisfile: GisFile, *, layer: str, filename: str = "",
                 progress: Callable[[int], None] | None = None) -> ImportPlan:
    """Check every feature of `gisfile` as `layer` against the rules and the database.

    Nothing is written. The report counts what would be new, updated and unchanged and
    lists every problem with the feature's number and code.

    Parameters
    ----------
    progress : callable, optional
        Called with the number of features checked since the last call (for a progress
        bar).
    """
    if layer not in LAYERS:
        raise DomainError(_l("Unknown layer %(layer)s: choose streets, communities or items.",
                             layer=str(layer)[:30]))
    frame = gisfile.frame
    report = ImportReport(
        layer=layer, filename=filename, format=gisfile.format, numbering=gisfile.numbering,
        declared_crs=gisfile.declared_crs_label, source_crs=gisfile.source_crs_label,
        source_bounds=gisfile.source_bounds, bounds=gisfile.bounds, features=len(frame))
    checker = _Checker(report)
    for name, params in gisfile.notes:
        checker.warn(None, _note_message(name, params))
    columns = _columns_for(layer, frame)
    missing = [f for f in REQUIRED[layer] if f not in columns]
    if missing:
        found = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)[:300]
        for field_name in missing:
            checker.error(None, _l("The file has no %(field)s column. Its columns: "
                                   "%(columns)s.", field=_field_label(field_name),
                                   columns=found or "—"))
        return ImportPlan(report, [], filename)
    # Column by column: a per-row dict of every attribute costs seconds on a national file.
    cells = {f: frame[column].tolist() for f, column in columns.items()}
    geometries = frame.geometry.to_numpy().tolist()
    features = []
    for index, geometry in enumerate(geometries):
        values = {f: column[index] for f, column in cells.items()}
        code = _feature_code(layer, values)
        feature = _Feature(index, gisfile.numbers[index], code)
        feature.values = values  # raw values; replaced by the checked ones below
        if index in gisfile.unreadable:
            checker.error(feature, _l("The geometry cannot be read: %(reason)s.",
                                      reason=gisfile.unreadable[index]))
        else:
            feature.geometry = geometry
        features.append(feature)
    {"streets": _check_streets, "communities": _check_communities,
     "items": _check_items}[layer](session, features, checker, progress)
    for feature in features:
        if feature.failed:
            feature.action = None
        elif feature.action == "new":
            report.new += 1
        elif feature.action == "update":
            report.updated += 1
        elif feature.action == "unchanged":
            report.unchanged += 1
    report.problems.sort(key=lambda p: (p.number is not None, p.number or 0, not p.is_error))
    return ImportPlan(report, features, filename)


def _field_label(field_name: str) -> str:
    return {"name_zh": "name", "street": "street_code"}.get(field_name, field_name)


def _feature_code(layer: str, values: dict) -> str | None:
    if layer == "items":
        parts = [_text(values.get(f)) for f in ("community_code", "kind", "title")]
        return " / ".join(p or "?" for p in parts)[:120] if any(parts) else None
    code = _text(values.get("code"))
    return code[:60] if code else None


def _required_text(checker: _Checker, feature: _Feature, values: dict, field_name: str,
                   max_length: int) -> str | None:
    text = _text(values.get(field_name))
    if text is None:
        checker.error(feature, _l("%(field)s is missing.", field=_field_label(field_name)))
        return None
    if len(text) > max_length:
        checker.error(feature, _l("%(field)s is longer than %(n)d characters.",
                                  field=_field_label(field_name), n=max_length))
        return None
    return text


def _optional_text(checker, feature, values, field_name, max_length) -> str | None:
    text = _text(values.get(field_name))
    if text is not None and len(text) > max_length:
        checker.error(feature, _l("%(field)s is longer than %(n)d characters.",
                                  field=_field_label(field_name), n=max_length))
        return None
    return text


def _checked_geometry(checker: _Checker, feature: _Feature, expected: tuple[str, ...],
                      what) -> object:
    """The feature's geometry if its type is one of `expected` families, repaired if need be.

    `what` names, for the message, what needs that type ("communities", "a lift").
    """
    geometry = feature.geometry
    if geometry is None:
        return None
    family = geometry_family(geometry)
    if family not in expected:
        checker.error(feature, _l("Wrong geometry type: %(what)s need %(expected)s, this is "
                                  "a %(found)s.", what=what,
                                  expected=" / ".join(str(_FAMILY_NAMES[f]) for f in expected),
                                  found=_FAMILY_NAMES.get(family, family)))
        return None
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        fixed, outcome = repair_geometry(geometry)
        if outcome == "collapsed":
            checker.error(feature, _l("The geometry is invalid (%(reason)s) and cannot be "
                                      "repaired without changing its type.", reason=reason))
            return None
        checker.warn(feature, _l("The geometry was invalid (%(reason)s) and has been "
                                 "repaired.", reason=reason))
        geometry = fixed
    return geometry


def _as_multipolygon(geometry) -> shapely.MultiPolygon:
    if geometry.geom_type == "Polygon":
        return shapely.MultiPolygon([geometry])
    if geometry.geom_type == "MultiPolygon":
        return geometry
    parts = [p for part in geometry.geoms for p in getattr(part, "geoms", [part])]
    return shapely.MultiPolygon(parts)


#: Vertices closer than this (degrees, about 1 cm) are the same: exports round to 7 decimals.
SAME_VERTEX_DEG = 1e-7


def _same_geometry(a, b) -> bool:
    """Whether two geometries are the same shape: vertex by vertex within a centimetre, a
    one-part multi-geometry the same as its part (a Shapefile cannot tell them apart)."""
    if a is None or b is None:
        return a is None and b is None
    return bool(shapely.equals_exact(_canonical(a), _canonical(b), SAME_VERTEX_DEG))


def _canonical(geometry):
    if geometry.geom_type.startswith("Multi") and len(geometry.geoms) == 1:
        geometry = geometry.geoms[0]
    return shapely.normalize(geometry)


def _shape(element):
    return to_shape(element) if element is not None else None


def _duplicate_codes(checker: _Checker, features: list[_Feature], key) -> None:
    first: dict = {}
    for feature in features:
        value = key(feature)
        if value is None:
            continue
        if value in first:
            checker.error(feature, _l("%(code)s appears more than once in the file (first as "
                                      "number %(first)d).", code=feature.code,
                                      first=first[value]))
        else:
            first[value] = feature.number


def _changes(target, values: dict, geometry_fields: tuple[str, ...]) -> dict:
    """The values that differ from `target`'s."""
    changed = {}
    for name, value in values.items():
        current = getattr(target, name)
        if name in geometry_fields:
            if not _same_geometry(_shape(current), value):
                changed[name] = value
        elif current != value:
            changed[name] = value
    return changed


def _load_by_code(session: Session, model, codes) -> dict[str, object]:
    codes = sorted({c for c in codes if c})
    found = {}
    for start in range(0, len(codes), 500):
        for row in session.scalars(sa.select(model).where(model.code.in_(codes[start:start
                                                                                 + 500]))):
            found[row.code] = row
    return found


def _bounds_of(features: list[_Feature]):
    geometries = [f.geometry for f in features if f.geometry is not None]
    if not geometries:
        return None
    return tuple(float(v) for v in shapely.total_bounds(geometries))


def _streets_near(session: Session, bounds) -> list[tuple[Street, object]]:
    """Streets whose boundary box meets `bounds`, with their boundaries as shapes."""
    if bounds is None:
        return []
    table = Street.__table__
    streets = session.scalars(sa.select(Street).where(
        bbox_filter(session.get_bind(), table, table.c.boundary, bounds))
        .order_by(Street.code)).all()
    return [(street, to_shape(street.boundary)) for street in streets]


#: shapely type ids: a point, a polygon and a multipolygon need no more than a validity test.
_POINT, _POLYGON, _MULTIPOLYGON, _COLLECTION = 0, 3, 6, 7


def _overlaps(checker: _Checker, features: list[_Feature], existing: list[tuple[str, str,
                                                                               object]]) -> None:
    """Warn of overlaps between the features' polygons and with `existing` (code, name, shape).

    The pairs come from an STRtree; their intersections are computed in one vectorised call,
    and the geodesic area only for those whose planar estimate could reach
    :data:`OVERLAP_MIN_M2` (footprints that merely touch, the usual case, never get there).
    """
    present = [f for f in features if not f.failed and f.geometry is not None]
    shapes = np.array([f.geometry for f in present], dtype=object)
    types = shapely.get_type_id(shapes)
    polygonal = np.isin(types, (_POLYGON, _MULTIPOLYGON))
    for index in np.flatnonzero(types == _COLLECTION):
        polygonal[index] = geometry_family(shapes[index]) == "polygon"
    polygons = [f for f, is_polygon in zip(present, polygonal.tolist(), strict=True)
                if is_polygon]
    if not polygons:
        return
    shapes = shapes[polygonal]
    tree = shapely.STRtree(shapes)
    left, right = tree.query(shapes, predicate="intersects")
    later = left > right  # each pair once, reported on the later feature
    left, right = left[later], right[later]
    for i, j, area in zip(*_overlap_areas(shapes, left, shapes, right), strict=True):
        checker.warn(polygons[i], _l("Overlaps number %(other)d (%(code)s) by %(area)s m².",
                                     other=polygons[j].number,
                                     code=polygons[j].code or "—", area=_whole(area)))
    if not existing:
        return
    others = np.array([shape for _code, _name, shape in existing], dtype=object)
    tree = shapely.STRtree(others)
    left, right = tree.query(shapes, predicate="intersects")
    for i, j, area in zip(*_overlap_areas(shapes, left, others, right), strict=True):
        code, name, _shape_ = existing[j]
        checker.warn(polygons[i], _l("Overlaps %(name)s (%(code)s), already in the "
                                     "database, by %(area)s m².", name=name, code=code,
                                     area=_whole(area)))


#: Square metres per square degree at the equator, for the planar estimate of an overlap
#: (times the cosine of the latitude); an estimate under half the threshold cannot reach it.
_M2_PER_DEG2 = 111_320.0 * 110_574.0


def _overlap_areas(a, left, b, right):
    """The pairs (a[left], b[right]) that overlap by at least OVERLAP_MIN_M2, with the area:
    (left, right, areas) in the order of the pairs."""
    if len(left) == 0:
        return [], [], []
    shared = shapely.intersection(a[left], b[right])
    latitude = np.radians(shapely.get_y(shapely.centroid(shared)))
    estimate = shapely.area(shared) * _M2_PER_DEG2 * np.cos(np.nan_to_num(latitude))
    candidates = np.flatnonzero(estimate >= OVERLAP_MIN_M2 / 2)
    areas = np.array([area_m2(shared[k]) for k in candidates])
    keep = candidates[areas >= OVERLAP_MIN_M2] if len(candidates) else candidates
    return (left[keep].tolist(), right[keep].tolist(),
            areas[areas >= OVERLAP_MIN_M2].tolist() if len(candidates) else [])


_GEOD = Geod(ellps="WGS84")


def _whole(number: float) -> str:
    """'3,248': a figure in a message, in whole units with thousands separated."""
    return format(number, ",.0f")


def _street_name(street: Street) -> str:
    return f"{street.name_zh} ({street.code})"


def distance_m(a, b) -> float:
    """The geodesic distance in metres between the nearest points of `a` and `b` (EPSG:4326)."""
    near_a, near_b = nearest_points(a, b)
    return float(_GEOD.inv(near_a.x, near_a.y, near_b.x, near_b.y)[2])


def _tick(progress) -> None:
    if progress is not None:
        progress(1)


def _check_streets(session: Session, features: list[_Feature], checker: _Checker,
                   progress) -> None:
    for feature in features:
        values = feature.values
        code = _required_text(checker, feature, values, "code", MAX_LENGTHS["code:streets"])
        name_zh = _required_text(checker, feature, values, "name_zh", MAX_LENGTHS["name_zh"])
        name_en = _optional_text(checker, feature, values, "name_en", MAX_LENGTHS["name_en"])
        if feature.geometry is None and not feature.failed:
            checker.error(feature, _l("The feature has no geometry."))
        geometry = _checked_geometry(checker, feature, ("polygon",), _LAYER_NAMES["streets"])
        feature.geometry = _as_multipolygon(geometry) if geometry is not None else None
        feature.values = {"code": code, "name_zh": name_zh}
        if name_en is not None:
            feature.values["name_en"] = name_en
        if feature.geometry is not None:
            feature.values["boundary"] = feature.geometry
    _duplicate_codes(checker, features, lambda f: f.values.get("code"))
    existing = _load_by_code(session, Street, [f.values.get("code") for f in features])
    codes_in_file = {f.values.get("code") for f in features}
    others = [(street.code, street.name_zh, shape)
              for street, shape in _streets_near(session, _bounds_of(features))
              if street.code not in codes_in_file]
    _overlaps(checker, features, others)
    for feature in features:
        _tick(progress)
        if feature.failed:
            continue
        target = existing.get(feature.values["code"])
        feature.target = target
        if target is None:
            feature.values.setdefault("name_en", feature.values["name_zh"])
            feature.action = "new"
            continue
        feature.action = "update" if _changes(target, feature.values, ("boundary",)) \
            else "unchanged"


def _check_communities(session: Session, features: list[_Feature], checker: _Checker,
                       progress) -> None:
    """Check communities in bulk: attributes feature by feature (cheap), geometries, streets,
    overlaps and changes as whole arrays, so that a national file of 170,000 checks in
    seconds. The problems and their order per feature are those of a feature-by-feature
    check."""
    numbers = {name: _plain_numbers([f.values.get(name) for f in features], *rule)
               for name, rule in _COMMUNITY_NUMBERS.items()}
    for feature in features:
        _community_attributes(checker, feature, numbers)
    _community_geometries(checker, features)
    _duplicate_codes(checker, features, lambda f: f.values.get("code"))

    codes_in_file = sorted({f.values["code"] for f in features if f.values.get("code")})
    stored = _stored_communities(session, codes_in_file)
    near, named = _community_streets(session, features)
    by_code = {s.code: s for s in named}
    by_name = {}
    for street in named:  # in code order: the first street of a name wins
        by_name.setdefault(street.name_zh, street)
    placed, problems = _place_communities(checker, features, stored, by_code, by_name, near)

    others = []
    bounds = _bounds_of([f for f in features if "footprint" in f.values])
    if bounds is not None:
        table = Community.__table__
        rows = session.execute(
            sa.select(table.c.code, table.c.name, sa.func.ST_AsBinary(table.c.footprint))
            .where(table.c.footprint.is_not(None),
                   bbox_filter(session.get_bind(), table, table.c.footprint, bounds),
                   _not_in(session, table.c.code, codes_in_file))).all()
        footprints = shapely.from_wkb([_wkb(row[2]) for row in rows])
        others = [(code, name, shape) for (code, name, _wkb_), shape
                  in zip(rows, footprints, strict=True)]

    _locate(features, stored)
    same = _same_stored_geometries(features, stored)
    done = 0
    for feature in features:
        done += 1
        if progress is not None and done % 1000 == 0:
            progress(1000)
        if feature.failed:
            continue
        target = stored.get(feature.values["code"])
        feature.target = target
        for is_error, message in problems.get(feature.index, ()):
            (checker.error if is_error else checker.warn)(feature, message)
        street_id = placed.get(feature.index)
        if street_id is None:
            continue
        feature.values["street_id"] = street_id
        if target is None:
            if "footprint" not in feature.values and "location" not in feature.values:
                checker.warn(feature, _l("The feature has no geometry; only its attributes "
                                         "are imported."))
            feature.action = "new"
            continue
        if feature.geometry is None:
            checker.warn(feature, _l("The feature has no geometry; only its attributes are "
                                     "imported."))
        feature.changes = _community_changes(target, feature.values, same.get(feature.index, {}))
        feature.action = "update" if feature.changes else "unchanged"
    if progress is not None and done % 1000:
        progress(done % 1000)
    _overlaps(checker, features, others)


#: The numeric attributes of a community: (whole, low, high), checked in this order.
_COMMUNITY_NUMBERS = {"year_built": (True, 1800, 2100), "building_area_m2": (False, 0, 1e9),
                      "households": (True, 0, 10_000_000),
                      "building_count": (True, 0, 10_000_000)}
#: In :func:`_plain_numbers`' answer: a blank cell, and one :func:`_number` must decide.
_NO_VALUE, _ASK = object(), object()


def _plain_numbers(cells: list, whole: bool, low, high) -> list:
    """Each cell's value when it is a plain number that passes :func:`_number` (an int or
    float, finite, whole if need be, in range; what a GeoPackage or Shapefile holds), else
    ``_NO_VALUE`` for a blank one or ``_ASK`` for any other (text, a bad number), which
    :func:`_number` then checks and words. One vectorised pass instead of a call per cell."""
    series = pd.Series(cells, dtype=object)
    plain = series.map(type).isin((int, float)).to_numpy()
    numbers = pd.to_numeric(series.where(plain), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        good = plain & np.isfinite(numbers) & (numbers >= low) & (numbers <= high)
        if whole:
            good &= numbers == np.floor(numbers)
    blank = series.isna().to_numpy() | (plain & np.isnan(numbers))
    values = (np.where(good, numbers, 0).astype(np.int64) if whole else numbers).tolist()
    return [values[i] if is_good else _NO_VALUE if is_blank else _ASK
            for i, (is_good, is_blank) in enumerate(zip(good.tolist(), blank.tolist(),
                                                        strict=True))]


def _community_attributes(checker: _Checker, feature: _Feature, numbers: dict) -> None:
    """A community's attributes, checked into ``feature.values``; its street's name or
    code into ``feature.street_text``. `numbers` holds :func:`_plain_numbers` by field."""
    values = feature.values
    checked = {"code": _required_text(checker, feature, values, "code",
                                      MAX_LENGTHS["code:communities"]),
               "name": _required_text(checker, feature, values, "name", MAX_LENGTHS["name"])}
    try:
        for name, (whole, low, high) in _COMMUNITY_NUMBERS.items():
            number = numbers[name][feature.index]
            if number is _ASK and not _blank(values.get(name)):
                number = _number(name, values[name], whole=whole, low=low, high=high)
            if number is not _ASK and number is not _NO_VALUE:
                checked[name] = number if whole else float(number)
        if not _blank(values.get("is_pilot")):
            checked["is_pilot"] = _boolean("is_pilot", values["is_pilot"])
    except _Bad as bad:
        checker.error(feature, bad.message)
    feature.street_text = _optional_text(checker, feature, values, "street", 100)
    feature.values = checked




def _community_geometries(checker: _Checker, features: list[_Feature]) -> None:
    """Footprints (polygons, as multipolygons) and centre points into ``feature.values``.

    Valid points and polygons, nearly all of a real file, are taken as they are in whole
    arrays; anything else goes through :func:`_checked_geometry` one by one, for its message
    or its repair."""
    present = [f for f in features if f.geometry is not None]
    geometries = np.array([f.geometry for f in present], dtype=object)
    types = shapely.get_type_id(geometries)
    simple = np.isin(types, (_POINT, _POLYGON, _MULTIPOLYGON)) & ~shapely.is_empty(geometries)
    simple[simple] = shapely.is_valid(geometries[simple])
    polygons = simple & (types == _POLYGON)
    if polygons.any():
        geometries[polygons] = shapely.multipolygons(geometries[polygons],
                                                     indices=np.arange(polygons.sum()))
    for feature, geometry, type_id, is_simple in zip(present, geometries, types.tolist(),
                                                     simple.tolist(), strict=True):
        if is_simple:
            feature.values["location" if type_id == _POINT else "footprint"] = geometry
            feature.geometry = geometry
            continue
        geometry = _checked_geometry(checker, feature, ("polygon", "point"),
                                     _LAYER_NAMES["communities"])
        if geometry is not None and geometry_family(geometry) == "polygon":
            feature.values["footprint"] = _as_multipolygon(geometry)
        elif geometry is not None:
            if geometry.geom_type == "MultiPoint":
                if len(geometry.geoms) != 1:
                    checker.error(feature, _l("A community's centre is one point; this "
                                              "feature has %(n)d.", n=len(geometry.geoms)))
                    geometry = None
                else:
                    geometry = geometry.geoms[0]
            if geometry is not None:
                feature.values["location"] = geometry
        feature.geometry = feature.values.get("footprint") or feature.values.get("location")


@dataclass
class _StoredCommunity:
    """A community already in the database, as an import compares it: plain values and
    shapes, loaded for every code of the file in one query, not ORM objects."""

    id: int
    code: str
    name: str
    street_id: int
    year_built: int | None
    building_area_m2: float | None
    households: int | None
    building_count: int | None
    is_pilot: bool
    footprint: object
    location: object


def _wkb(value):
    """WKB as bytes (psycopg and pysqlite give bytes or memoryview), or None."""
    return bytes(value) if value is not None else None


def _in_list(session: Session, column, values: list[str]):
    """``column IN values`` as one bound parameter, however many values: a JSON array,
    unpacked in the database (``json_each`` on SQLite, ``json_array_elements_text`` on
    PostgreSQL; psycopg takes seconds to send 170,000 codes as an array)."""
    document = sa.bindparam("in_list", json.dumps(values), type_=sa.Text)
    if is_sqlite(session.get_bind()):
        return column.in_(sa.select(sa.column("value")).select_from(sa.func.json_each(document)))
    return column.in_(sa.select(sa.func.json_array_elements_text(
        sa.cast(document, postgresql.JSON))))


def _not_in(session: Session, column, values: list[str]):
    return sa.not_(_in_list(session, column, values)) if values else sa.true()


def _stored_communities(session: Session, codes: list[str]) -> dict[str, _StoredCommunity]:
    """The communities with these codes, by code."""
    if not codes:
        return {}
    table = Community.__table__
    names = ("id", "code", "name", "street_id", "year_built", "building_area_m2", "households",
             "building_count", "is_pilot")
    rows = session.execute(sa.select(
        *(table.c[name] for name in names), sa.func.ST_AsBinary(table.c.footprint),
        sa.func.ST_AsBinary(table.c.location))
        .where(_in_list(session, table.c.code, codes))).all()
    footprints = shapely.from_wkb([_wkb(row[-2]) for row in rows])
    locations = shapely.from_wkb([_wkb(row[-1]) for row in rows])
    return {row.code: _StoredCommunity(*row[:len(names)], footprint, location)
            for row, footprint, location in zip(rows, footprints, locations, strict=True)}


class _StreetShape(NamedTuple):
    """A street as the community checks need it: its boundary as a (prepared) shape."""

    id: int
    code: str
    name_zh: str
    shape: object


def _community_streets(session: Session, features: list[_Feature]):
    """(near, named): the streets whose box meets the features' (for the spatial join, only
    loaded when a feature needs it) and the streets the file names by code or name, each in
    code order, with their boundaries parsed in one vectorised call and prepared."""
    table = Street.__table__
    query = sa.select(table.c.id, table.c.code, table.c.name_zh,
                      sa.func.ST_AsBinary(table.c.boundary)).order_by(table.c.code)
    rows = {}
    near_ids = []
    if any(not f.failed and f.geometry is not None and not f.street_text for f in features):
        bounds = _bounds_of(features)
        for row in session.execute(query.where(
                bbox_filter(session.get_bind(), table, table.c.boundary, bounds))):
            rows[row[0]] = row
            near_ids.append(row[0])
    texts = sorted({f.street_text for f in features if f.street_text})
    named_ids = set()
    for start in range(0, len(texts), 500):
        chunk = texts[start:start + 500]
        for row in session.execute(query.where(sa.or_(table.c.code.in_(chunk),
                                                      table.c.name_zh.in_(chunk)))):
            rows.setdefault(row[0], row)
            named_ids.add(row[0])
    ordered = sorted(rows.values(), key=lambda row: row[1])
    shapes = shapely.from_wkb([_wkb(row[3]) for row in ordered])
    shapely.prepare(shapes)  # each street is tested against many features
    streets = {row[0]: _StreetShape(row[0], row[1], row[2], shape)
               for row, shape in zip(ordered, shapes, strict=True)}
    return ([streets[i] for i in near_ids],
            [street for street in streets.values() if street.id in named_ids])


def _place_communities(checker, features, stored, by_code, by_name, near):
    """The street of each community feature: the one its file names (checked against its
    boundary), else the one its footprint's representative point (or its point) lies in.

    Returns
    -------
    (placed, problems)
        feature index -> street id, for the features placed; feature index -> the
        (is_error, message) to report, in the order a one-by-one check finds them.
    """
    placed: dict[int, int] = {}
    problems: dict[int, list] = {}
    named, joined = [], []
    for feature in features:
        if feature.failed:
            continue
        if feature.street_text:
            street = by_code.get(feature.street_text) or by_name.get(feature.street_text)
            if street is None:
                problems[feature.index] = [(True, _l(
                    "There is no street with the code or name %(street)s.",
                    street=feature.street_text))]
                continue
            placed[feature.index] = street.id
            if feature.geometry is not None:
                named.append((feature, street))
        elif feature.geometry is None:
            target = stored.get(feature.values["code"])
            if target is not None:
                placed[feature.index] = target.street_id
            else:
                problems[feature.index] = [(True, _l(
                    "The community has no geometry and no street code, so it cannot be "
                    "placed."))]
        else:
            joined.append(feature)

    if named:
        geometries = np.array([f.geometry for f, _street in named], dtype=object)
        boundaries = np.array([street.shape for _f, street in named], dtype=object)
        meets = shapely.intersects(boundaries, geometries)
        inside = np.ones(len(named), dtype=bool)
        areal = meets & (shapely.get_type_id(geometries) != _POINT)
        inside[areal] = shapely.covers(boundaries[areal], geometries[areal])
        for (feature, street), does_meet, is_inside in zip(named, meets.tolist(),
                                                           inside.tolist(), strict=True):
            if does_meet and is_inside:
                continue
            found = _street_problem(feature.geometry, street.shape, street, does_meet)
            if found is None:
                continue
            problems[feature.index] = [found]
            if found[0]:
                del placed[feature.index]

    if joined:
        probes = shapely.point_on_surface(np.array([f.geometry for f in joined], dtype=object))
        hits = np.full(len(joined), len(near), dtype=np.int64)
        if near:
            boundaries = np.array([street.shape for street in near], dtype=object)
            probe_at, street_at = shapely.STRtree(boundaries).query(probes)
            within = shapely.contains(boundaries[street_at], probes[probe_at])
            # The first street in code order, as a one-by-one check would take.
            np.minimum.at(hits, probe_at[within], street_at[within])
        for feature, hit in zip(joined, hits.tolist(), strict=True):
            if hit == len(near):
                problems[feature.index] = [(True, _l(
                    "The feature lies in no street, so no street can be assigned. Check its "
                    "coordinates and coordinate system."))]
                continue
            placed[feature.index] = near[hit].id
            checker.report.assigned_streets += 1
    return placed, problems


def _street_problem(geometry, boundary, street, meets: bool):
    """(is_error, message) for a feature that is not wholly inside the street its file
    names, or None when the part outside is too small to mention."""
    named = _street_name(street)
    if not meets:
        distance = distance_m(geometry, boundary)
        if distance > OUTSIDE_STREET_MAX_M:
            return True, _l("The feature lies %(m)s m outside its street %(street)s: check "
                            "its coordinates and its street code.", m=_whole(distance),
                            street=named)
        return False, _l("The feature lies %(m)s m outside its street %(street)s.",
                         m=_whole(distance), street=named)
    outside = area_m2(geometry.difference(boundary))
    share = outside / max(area_m2(geometry), 1e-9)
    if share > OUTSIDE_STREET_SHARE:
        return False, _l("Part of the footprint (%(share)s) lies outside its street "
                         "%(street)s.", share=format(share, ".0%"), street=named)
    return None


def _locate(features: list[_Feature], stored: dict) -> None:
    """Every footprint gets a centre point: the stored one while it still lies in the
    footprint, else the footprint's representative point."""
    with_footprint = [f for f in features if not f.failed and "footprint" in f.values]
    if not with_footprint:
        return
    footprints = np.array([f.values["footprint"] for f in with_footprint], dtype=object)
    kept = np.array([getattr(stored.get(f.values["code"]), "location", None)
                     for f in with_footprint], dtype=object)
    usable = ~shapely.is_missing(kept)
    usable[usable] = shapely.contains(footprints[usable], kept[usable])
    centres = shapely.point_on_surface(footprints)
    for feature, keep, location, centre in zip(with_footprint, usable.tolist(), kept, centres,
                                               strict=True):
        feature.values["location"] = location if keep else centre


def _same_stored_geometries(features: list[_Feature], stored: dict) -> dict[int, dict]:
    """feature index -> {"footprint": bool, "location": bool}: whether each geometry the file
    gives equals the stored one (see :func:`_same_geometry`), compared in whole arrays."""
    found: dict[int, dict] = {}
    for name in ("footprint", "location"):
        pairs = [(f, stored[f.values["code"]]) for f in features
                 if not f.failed and name in f.values and f.values["code"] in stored]
        if not pairs:
            continue
        new = np.array([f.values[name] for f, _row in pairs], dtype=object)
        old = np.array([getattr(row, name) for _f, row in pairs], dtype=object)
        same = np.zeros(len(pairs), dtype=bool)  # a stored None differs from a geometry
        known = ~shapely.is_missing(old)
        same[known] = shapely.equals_exact(_canonicals(new[known]), _canonicals(old[known]),
                                           SAME_VERTEX_DEG)
        for (feature, _row), is_same in zip(pairs, same.tolist(), strict=True):
            found.setdefault(feature.index, {})[name] = is_same
    return found


def _canonicals(geometries):
    """:func:`_canonical` of each geometry of an array."""
    geometries = geometries.copy()
    single = np.isin(shapely.get_type_id(geometries), (4, 5, 6)) & (
        shapely.get_num_geometries(geometries) == 1)
    geometries[single] = shapely.get_geometry(geometries[single], 0)
    return shapely.normalize(geometries)


def _community_changes(target: _StoredCommunity, values: dict, same: dict) -> dict:
    """The values that differ from the stored community's."""
    changed = {}
    for name, value in values.items():
        if name in ("footprint", "location"):
            if not same.get(name, False):
                changed[name] = value
        elif getattr(target, name) != value:
            changed[name] = value
    return changed


def _kind_of(text: str | None) -> ItemKind | None:
    if text is None:
        return None
    lowered = text.lower()
    for kind in KINDS:
        if lowered in (kind.code, kind.name_zh, kind.name_en.lower()):
            return kind
    return None


_STATUS_NAMES = {name: status for status in Status
                 for name in (status.value, status.label("zh"), status.label("en").lower())}


def _check_items(session: Session, features: list[_Feature], checker: _Checker,
                 progress) -> None:
    community_codes = {_text(f.values.get("community_code")) for f in features}
    communities = _load_by_code(session, Community, community_codes)
    for feature in features:
        values = feature.values
        community_code = _required_text(checker, feature, values, "community_code",
                                        MAX_LENGTHS["code:communities"])
        kind_text = _required_text(checker, feature, values, "kind", 100)
        title = _required_text(checker, feature, values, "title", MAX_LENGTHS["title"])
        unit = _optional_text(checker, feature, values, "unit", MAX_LENGTHS["unit"])
        community = communities.get(community_code) if community_code else None
        if community_code and community is None:
            checker.error(feature, _l("There is no community with the code %(code)s.",
                                      code=community_code))
        kind = _kind_of(kind_text)
        if kind_text and kind is None:
            checker.error(feature, _l("Unknown item kind: %(kind)s. Use a kind code such as "
                                      "lift_retrofit or drainage.", kind=kind_text[:40]))
        checked: dict = {}
        if community is not None:
            checked["community_id"] = community.id
        if kind is not None:
            checked["kind"] = kind.code
        checked["title"] = title
        if unit is not None:
            checked["unit"] = unit
        try:
            if not _blank(values.get("quantity")):
                checked["quantity"] = float(_number("quantity", values["quantity"], low=0,
                                                    high=1e12))
            for name in ("planned_start", "planned_end"):
                if not _blank(values.get(name)):
                    checked[name] = _date(name, values[name])
            if checked.get("planned_start") and checked.get("planned_end") \
                    and checked["planned_end"] < checked["planned_start"]:
                raise _Bad(_l("The planned end is before the planned start."))
            status, progress_pct = _status_of(values)
        except _Bad as bad:
            checker.error(feature, bad.message)
            status, progress_pct = None, None
        feature.status, feature.progress_pct = status, progress_pct
        if kind is not None:
            geometry = _checked_geometry(checker, feature, (kind.geometry,),
                                         _kind_label(kind))
            if geometry is not None and geometry.geom_type in ("MultiPoint", "MultiLineString",
                                                               "MultiPolygon") \
                    and len(geometry.geoms) == 1:
                geometry = geometry.geoms[0]
            if geometry is not None and geometry.geom_type == "MultiPoint":
                checker.error(feature, _l("A %(kind)s item is one point; this feature has "
                                          "%(n)d.", kind=_kind_label(kind),
                                          n=len(geometry.geoms)))
                geometry = None
            feature.geometry = geometry
        if feature.geometry is not None:
            checked["geometry"] = feature.geometry
        feature.values = checked

    def key(feature):
        v = feature.values
        if "community_id" not in v or "kind" not in v or not v.get("title"):
            return None
        return v["community_id"], v["kind"], v["title"]

    _duplicate_codes(checker, features, key)
    ids = sorted({f.values["community_id"] for f in features if "community_id" in f.values})
    existing: dict[tuple, list[RenovationItem]] = {}
    for start in range(0, len(ids), 500):
        for item in session.scalars(sa.select(RenovationItem).where(
                RenovationItem.community_id.in_(ids[start:start + 500]))
                .order_by(RenovationItem.id)):
            existing.setdefault((item.community_id, item.kind, item.title), []).append(item)
    footprints = {}
    for community_id, footprint in session.execute(
            sa.select(Community.id, Community.footprint).where(Community.id.in_(ids))) \
            if ids else []:
        if footprint is not None:
            footprints[community_id] = to_shape(footprint)

    for feature in features:
        _tick(progress)
        if feature.failed:
            continue
        values = feature.values
        footprint = footprints.get(values["community_id"])
        if feature.geometry is not None and footprint is not None \
                and feature.geometry.distance(footprint) > ITEM_NEAR_DEG:
            checker.warn(feature, _l("The item lies outside its community's footprint."))
        if feature.geometry is None:
            checker.warn(feature, _l("The feature has no geometry; only its attributes are "
                                     "imported."))
        matches = existing.get(key(feature), [])
        if len(matches) > 1:
            checker.error(feature, _l("%(n)d items of this community already have this kind "
                                      "and title, so the import cannot tell which to update.",
                                      n=len(matches)))
            continue
        if not matches:
            status = feature.status or Status.PLANNED
            progress_pct = feature.progress_pct
            if progress_pct is None:
                progress_pct = PROGRESS_RANGE[status][0]
            low, high = PROGRESS_RANGE[status]
            if not low <= progress_pct <= high:
                checker.error(feature, _l("A progress of %(progress)d does not fit the status "
                                          "%(status)s (%(low)d to %(high)d).",
                                          progress=progress_pct, status=status.lazy_label(),
                                          low=low, high=high))
                continue
            values["status"], values["progress_pct"] = status, progress_pct
            feature.action = "new"
            continue
        target = matches[0]
        feature.target = target
        if (feature.status is not None and feature.status != target.status) or (
                feature.progress_pct is not None and feature.progress_pct != target.progress_pct):
            checker.warn(feature, _l("An import does not change the status or progress of an "
                                     "existing item; use the item page or the spreadsheet "
                                     "upload."))
        feature.action = "update" if _changes(target, values, ("geometry",)) else "unchanged"


def _kind_label(kind: ItemKind):
    from renovation.i18n import locale_code

    try:
        return kind.name(locale_code())
    except RuntimeError:
        return kind.name_en


def _status_of(values: dict) -> tuple[Status | None, int | None]:
    status = None
    if not _blank(values.get("status")):
        text = (_text(values["status"]) or "").lower()
        status = _STATUS_NAMES.get(text)
        if status is None:
            raise _Bad(_l("Unknown status: %(value)s. Use one of: %(names)s.",
                          value=text[:40], names=", ".join(Status)))
    progress_pct = None
    if not _blank(values.get("progress_pct")):
        raw = values["progress_pct"]
        if isinstance(raw, str):
            raw = raw.strip().removesuffix("%").removesuffix("％")
        progress_pct = _number("progress", raw, whole=True, low=0, high=100)
    return status, progress_pct


# --- Applying -------------------------------------------------------------------------------

def apply_import(session: Session, plan: ImportPlan, *, today: dt.date | None = None,
                 progress: Callable[[int], None] | None = None) -> ImportReport:
    """Write a checked plan: new rows added, changed rows updated. The caller commits.

    Communities, which come by the hundred thousand, are written in bulk
    (:func:`_write_communities`); streets and items through the ORM.

    Raises
    ------
    DomainError
        422 if the plan has errors (nothing is written).
    """
    report = plan.report
    if not report.ok:
        raise DomainError(_l("The file has errors, so nothing was imported."), status=422)
    today = today or dt.date.today()
    if report.layer == "communities":
        _write_communities(session, plan, today, progress)
    else:
        writer = {"streets": _write_street, "items": _write_item}[report.layer]
        for feature in plan.features:
            if feature.action in ("new", "update"):
                writer(session, feature, plan.filename, today)
            _tick(progress)
        session.flush()
    report.applied = True
    LOGGER.info("import of %s from %r: %d new, %d updated, %d unchanged", report.layer,
                plan.filename[:100], report.new, report.updated, report.unchanged)
    return report


def _geometry_values(values: dict, names: tuple[str, ...]) -> dict:
    return {name: (from_shape(value, srid=SRID) if name in names and value is not None
                   else value) for name, value in values.items()}


def _write_street(session: Session, feature: _Feature, filename: str, today) -> None:
    values = dict(feature.values)
    boundary = values["boundary"]
    street = feature.target
    if street is None:
        street = Street(data_source=DataSource.IMPORTED)
        session.add(street)
        label = None
    else:
        label = _shape(street.label_point)
    if label is None or not boundary.contains(label):
        values["label_point"] = boundary.representative_point()
    if street.id is None or _changes(street, {"boundary": boundary}, ("boundary",)):
        values["data_source"] = DataSource.IMPORTED
    for name, value in _geometry_values(values, ("boundary", "label_point")).items():
        setattr(street, name, value)


#: The columns a bulk write of communities fills, with their PostgreSQL types for binary COPY.
_COMMUNITY_COLUMNS = (
    ("code", "text"), ("name", "text"), ("street_id", "int4"), ("footprint", "bytea"),
    ("location", "bytea"), ("year_built", "int4"), ("building_area_m2", "float8"),
    ("households", "int4"), ("building_count", "int4"), ("is_pilot", "bool"),
    ("is_district_pilot", "bool"), ("data_source", "text"), ("source_note", "text"),
    ("updated_at", "timestamptz"))
#: What an update may change; a NULL in the update's row keeps the stored value.
_COMMUNITY_UPDATED = ("name", "street_id", "footprint", "location", "year_built",
                      "building_area_m2", "households", "building_count", "is_pilot",
                      "data_source", "source_note")
_GEOMETRY_COLUMNS = ("footprint", "location")
#: Rows written per batch: bounds the memory the WKB of a national file takes.
WRITE_BATCH = 10_000


def _write_communities(session: Session, plan: ImportPlan, today: dt.date, progress) -> None:
    """Write new and changed communities in bulk, in the session's transaction: COPY on
    PostgreSQL (straight into the table for new rows, through a temporary table for
    updates), prepared ``executemany`` on SpatiaLite. Triggers fire as for any insert or
    update, so whatever they keep (summaries, spatial indexes) stays exact."""
    session.flush()
    note_name = plan.filename.replace("\x00", "")[:120] or "file"
    now = utcnow()
    new, updates = [], []
    for feature in plan.features:
        if feature.action == "new":
            values = dict(feature.values)
            what = "Footprint" if "footprint" in values else "Community"
            values.update(is_pilot=values.get("is_pilot", False), is_district_pilot=False,
                          data_source=DataSource.IMPORTED, updated_at=now,
                          source_note=f"{what} imported from {note_name} on "
                                      f"{today.isoformat()}.")
            new.append(values)
        elif feature.action == "update":
            values = dict(feature.changes or {})
            if "footprint" in values:
                values["data_source"] = DataSource.IMPORTED
                values["source_note"] = (f"Footprint imported from {note_name} on "
                                         f"{today.isoformat()}.")
            values["id"] = feature.target.id
            updates.append(values)
    connection = session.connection()
    sqlite = is_sqlite(connection)
    with _bulk_load(session, len(new) + len(updates), len(new)):
        for rows, write in ((new, _insert_sqlite if sqlite else _insert_postgres),
                            (updates, _update_sqlite if sqlite else _update_postgres)):
            for start in range(0, len(rows), WRITE_BATCH):
                batch = rows[start:start + WRITE_BATCH]
                write(connection, batch, now)
                if progress is not None:
                    progress(len(batch))
    if progress is not None:
        progress(len(plan.features) - len(new) - len(updates))
    session.expire_all()  # loaded communities no longer show what the database holds


#: From this many rows written, a write as large as the table itself is a bulk load (see
#: :func:`_bulk_load`).
BULK_LOAD_ROWS = 10_000


@contextlib.contextmanager
def _bulk_load(session: Session, written: int, inserted: int):
    """Around the write of `written` rows (`inserted` of them new): for a bulk load, at
    least :data:`BULK_LOAD_ROWS` rows and at least as many as the table holds (a city's or
    the country's first load, a re-import of everything), suspend the summary triggers and
    rebuild every summary once after the write; on PostgreSQL build the footprints' GiST
    index anew instead of growing it row by row, on SpatiaLite set its type-checking and
    time-stamping triggers aside meanwhile; all in the caller's transaction.

    The summary triggers cost in proportion to the rows written (each carries its change
    up to its street's row: about 0.5 ms a row here, over a minute for 170,000), a rebuild
    in proportion to the programme, which a bulk load then mostly is; a GiST index built
    at once takes a third of the time of growing it. Meanwhile other sessions wait for the
    communities table (PostgreSQL's locks; SQLite writes one at a time anyway). On an
    error the caller rolls back, which brings triggers and index back as they were.
    Smaller writes keep the triggers, row by row."""
    stored = session.scalar(sa.select(sa.func.count()).select_from(Community)) \
        if written >= BULK_LOAD_ROWS else 0
    if written < BULK_LOAD_ROWS or written < stored:
        yield
        return
    LOGGER.info("import: bulk load of %d rows into %d: summaries rebuilt after it", written,
                stored)
    connection = session.connection()
    rebuilt = []  # the SQL that brings back what was set aside for the load
    if is_sqlite(connection):
        # SpatiaLite's own per-row triggers: those that only check the geometry type and
        # SRID (which the rows written here have by construction), stamp the time of the
        # last write (stamped once below) and feed the spatial index (rebuilt once below).
        rebuilt = connection.execute(sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = "
            "'communities' AND (name LIKE 'gg_\\_%' ESCAPE '\\' OR name LIKE 'tm_\\_%' "
            "ESCAPE '\\' OR name LIKE 'gi_\\_communities\\_footprint' ESCAPE '\\')"
            )).all()
        for name, _sql in rebuilt:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    elif inserted:
        rebuilt = connection.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'communities' AND indexdef LIKE '% USING gist %'")).all()
        for name, _definition in rebuilt:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
    with summaries.suspended(connection):
        yield
    for _name, definition in rebuilt:
        connection.exec_driver_sql(definition)
    if rebuilt and is_sqlite(connection):
        if connection.exec_driver_sql("SELECT RecoverSpatialIndex('communities', 'footprint')"
                                      ).scalar() != 1:
            raise RuntimeError("SpatiaLite could not rebuild the footprints' spatial index")
        connection.exec_driver_sql(
            "UPDATE geometry_columns_time SET last_insert = strftime('%Y-%m-%dT%H:%M:%fZ', "
            "'now'), last_update = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE lower(f_table_name) = 'communities'")


def _ewkb(rows: list[dict], name: str) -> list:
    """The `name` geometry of each row as EWKB with SRID 4326 (None where there is none)."""
    geometries = np.array([row.get(name) for row in rows], dtype=object)
    return shapely.to_wkb(shapely.set_srid(geometries, SRID), include_srid=True).tolist()


def _copy_rows(connection, statement: str, rows: list[dict], columns) -> None:
    """COPY `rows` (the `columns`, as (name, type)) in binary through psycopg."""
    values = [_ewkb(rows, name) if name in _GEOMETRY_COLUMNS else [row.get(name) for row in rows]
              for name, _type in columns]  # column by column: fewer lookups than row by row
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            copy.set_types([type_ for _name, type_ in columns])
            for row in zip(*values, strict=True):
                copy.write_row(row)
    finally:
        cursor.close()


def _insert_postgres(connection, rows: list[dict], now) -> None:
    names = ", ".join(name for name, _type in _COMMUNITY_COLUMNS)
    _copy_rows(connection, f"COPY communities ({names}) FROM STDIN (FORMAT BINARY)", rows,
               _COMMUNITY_COLUMNS)


def _update_postgres(connection, rows: list[dict], now) -> None:
    types = dict(_COMMUNITY_COLUMNS)
    columns = [("id", "int4")] + [(name, types[name]) for name in _COMMUNITY_UPDATED]
    definitions = ", ".join(
        f"{name} {'geometry' if name in _GEOMETRY_COLUMNS else type_}"
        for name, type_ in columns)
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE import_communities ({definitions}) "
                               "ON COMMIT DROP")
    _copy_rows(connection, "COPY import_communities ({}) FROM STDIN (FORMAT BINARY)".format(
        ", ".join(name for name, _type in columns)), rows, columns)
    assignments = ", ".join(f"{name} = COALESCE(t.{name}, c.{name})"
                            for name in _COMMUNITY_UPDATED)
    connection.execute(sa.text(f"UPDATE communities AS c SET {assignments}, "
                               "updated_at = :now FROM import_communities AS t "
                               "WHERE c.id = t.id"), {"now": now})
    connection.exec_driver_sql("DROP TABLE import_communities")


def _sqlite_value(value):
    return int(value) if isinstance(value, bool) else value


def _sqlite_timestamp(connection, now) -> str:
    """`now` as SQLAlchemy stores a DateTime on SQLite."""
    column = Community.__table__.c.updated_at
    return column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)(now)


def _insert_sqlite(connection, rows: list[dict], now) -> None:
    names = [name for name, _type in _COMMUNITY_COLUMNS]
    placeholders = ", ".join(f"GeomFromWKB(?, {SRID})" if name in _GEOMETRY_COLUMNS else "?"
                             for name in names)
    timestamp = _sqlite_timestamp(connection, now)
    columns = [_wkb_list(rows, name) if name in _GEOMETRY_COLUMNS
               else [timestamp] * len(rows) if name == "updated_at"
               else [_sqlite_value(row.get(name)) for row in rows] for name in names]
    parameters = list(zip(*columns, strict=True))
    connection.exec_driver_sql(f"INSERT INTO communities ({', '.join(names)}) "
                               f"VALUES ({placeholders})", parameters)


def _update_sqlite(connection, rows: list[dict], now) -> None:
    assignments = ", ".join(
        f"{name} = COALESCE(GeomFromWKB(?, {SRID}), {name})" if name in _GEOMETRY_COLUMNS
        else f"{name} = COALESCE(?, {name})" for name in _COMMUNITY_UPDATED)
    timestamp = _sqlite_timestamp(connection, now)
    geometries = {name: _wkb_list(rows, name) for name in _GEOMETRY_COLUMNS}
    parameters = [
        (*(geometries[name][index] if name in geometries
           else _sqlite_value(row.get(name)) for name in _COMMUNITY_UPDATED),
         timestamp, row["id"])
        for index, row in enumerate(rows)]
    connection.exec_driver_sql(f"UPDATE communities SET {assignments}, updated_at = ? "
                               "WHERE id = ?", parameters)


def _wkb_list(rows: list[dict], name: str) -> list:
    """The `name` geometry of each row as 2D WKB (None where there is none)."""
    geometries = np.array([row.get(name) for row in rows], dtype=object)
    return shapely.to_wkb(geometries).tolist()


def _write_item(session: Session, feature: _Feature, filename: str, today) -> None:
    item = feature.target
    values = dict(feature.values)
    if item is None:
        item = RenovationItem()
        session.add(item)
        changed = values
    else:
        changed = _changes(item, values, ("geometry",))
    for name, value in _geometry_values(changed, ("geometry",)).items():
        setattr(item, name, value)


# --- One call for the CLI and the web -------------------------------------------------------

def run_import(session: Session, data: bytes, *, filename: str, layer: str,
               crs: str | None = None, dry_run: bool = True,
               limits: gisfiles.Limits | None = None,
               progress: Callable[[int], None] | None = None) -> ImportReport:
    """Read, check and (unless `dry_run`) apply a file in `session`. The caller commits.

    Refusals of the whole file raise :class:`DomainError`; problems with features are
    in the report, and with any error nothing is written.
    """
    gisfile = read_import_file(data, filename=filename, layer=layer, crs=crs, limits=limits)
    plan = check_import(session, gisfile, layer=layer, filename=filename, progress=progress)
    if dry_run or not plan.report.ok:
        return plan.report
    return apply_import(session, plan)


def format_bounds(bounds) -> str:
    """'116.10000, 39.80000 – 116.30000, 39.95000' (lon, lat of the corners), or '—'."""
    if bounds is None:
        return "—"
    minx, miny, maxx, maxy = bounds
    digits = 5 if max(abs(v) for v in bounds) <= 360 else 1
    return f"{minx:.{digits}f}, {miny:.{digits}f} – {maxx:.{digits}f}, {maxy:.{digits}f}"


def format_report(report: ImportReport) -> str:
    """The report as plain text, for the command line."""
    from flask_babel import gettext as _

    lines = [
        _("File: %(file)s (%(format)s), layer %(layer)s", file=report.filename,
          format=report.format, layer=report.layer),
        _("Coordinates read as: %(crs)s", crs=report.source_crs)
        + (_(" (the file says %(crs)s)", crs=report.declared_crs)
           if report.declared_crs and report.declared_crs != report.source_crs else ""),
        _("Bounds in the file: %(bounds)s", bounds=format_bounds(report.source_bounds)),
        _("Bounds in WGS84: %(bounds)s", bounds=format_bounds(report.bounds)),
        _("Features: %(n)d; new %(new)d, updated %(updated)d, unchanged %(unchanged)d",
          n=report.features, new=report.new, updated=report.updated,
          unchanged=report.unchanged),
    ]
    if report.assigned_streets:
        lines.append(_("Streets assigned by location: %(n)d", n=report.assigned_streets))
    lines.append(_("Errors: %(errors)d, warnings: %(warnings)d", errors=len(report.errors),
                   warnings=len(report.warnings)))
    for problem in report.problems:
        where = f"#{problem.number}" if problem.number is not None else "*"
        label = _("ERROR") if problem.is_error else _("WARNING")
        code = f" [{problem.code}]" if problem.code else ""
        lines.append(f"  {label} {where}{code}: {problem.message}")
    return "\n".join(lines)


def _build_import_command():
    import dataclasses
    import sys
    from pathlib import Path

    import click
    from flask.cli import with_appcontext
    from flask_babel import gettext as _

    @click.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--layer", required=True, type=click.Choice(LAYERS),
                  help="What the file holds.")
    @click.option("--crs", default=None,
                  help="The file's coordinates: an EPSG code (4326, 4490, 3857, 4548 ...) or "
                       "gcj02 (AMap, Tencent). Default: what the file says; required for CSV, "
                       "XLSX and Shapefiles without .prj.")
    @click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
    @click.option("--max-features", type=click.IntRange(1), default=None,
                  help="Allow this many features (default: GIS_IMPORT_MAX_FEATURES, 10,000); "
                       "a whole city or the country is one file here.")
    @click.option("--max-mb", type=click.IntRange(1), default=None,
                  help="Allow a file of this many MB (default: GIS_IMPORT_MAX_BYTES, 50 MB).")
    @with_appcontext
    def command(file: Path, layer: str, crs: str | None, dry_run: bool,
                max_features: int | None, max_mb: int | None) -> None:
        """Import streets, communities or items from FILE (GeoJSON, GeoPackage, zipped
        Shapefile, KML, CSV or XLSX), all or nothing."""
        limits = limits_from_config()
        if max_features is not None or max_mb is not None:
            limits = dataclasses.replace(
                limits, max_features=max_features or limits.max_features,
                max_bytes=max_mb * 2**20 if max_mb else limits.max_bytes)
        if file.stat().st_size > limits.max_bytes:
            raise click.ClickException(str(_refusal(GisFileError("too_large"), limits).message))
        stderr = sys.stderr  # the progress bars; the report goes to standard output
        database = current_app.extensions["gengxin.db"]
        with database.session() as session:
            try:
                gisfile = read_import_path(file, layer=layer, crs=crs, limits=limits)
                with click.progressbar(length=len(gisfile.frame), label=_("Checking"),
                                       file=stderr) as bar:
                    plan = check_import(session, gisfile, layer=layer, filename=file.name,
                                        progress=bar.update)
            except DomainError as error:
                raise click.ClickException(str(error.message)) from None
            click.echo(format_report(plan.report))
            if not plan.report.ok:
                session.rollback()
                raise click.ClickException(_("The file has errors, so nothing was imported."))
            if dry_run:
                session.rollback()
                click.echo(_("Dry run: nothing was written."))
                return
            try:
                with click.progressbar(length=len(plan.features), label=_("Importing"),
                                       file=stderr) as bar:
                    apply_import(session, plan, progress=bar.update)
                session.commit()
            except sa.exc.IntegrityError as error:
                session.rollback()
                LOGGER.info("import: integrity error: %s", error)
                raise click.ClickException(str(CONFLICT_MESSAGE)) from None
        click.echo(_("Imported: %(new)d new, %(updated)d updated, %(unchanged)d unchanged.",
                     new=plan.report.new, updated=plan.report.updated,
                     unchanged=plan.report.unchanged))

    return command


CONFLICT_MESSAGE = _l("The data changed while the file was being imported, so nothing was "
                      "changed. Check the file again.")

#: The `flask import` command (:func:`renovation.cli.init_app` adds it).
import_command = _build_import_command()

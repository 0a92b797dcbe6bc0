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
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import shapely
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from geoalchemy2.shape import from_shape, to_shape
from pyproj import Geod
from shapely.ops import nearest_points
from sqlalchemy.orm import Session

from geo import gisfiles
from geo.footprints import area_m2
from geo.gisfiles import GisFile, GisFileError, geometry_family, repair_geometry
from geo.spatialdb import bbox_filter
from renovation.catalogue import KINDS, ItemKind
from renovation.errors import DomainError
from renovation.models import Community, DataSource, RenovationItem, Street
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
    if layer not in LAYERS:
        raise DomainError(_l("Unknown layer %(layer)s: choose streets, communities or items.",
                             layer=str(layer)[:30]))
    limits = limits or limits_from_config()
    chosen = parse_crs_choice(crs)
    try:
        return gisfiles.read_gis_file(data, filename=filename, crs=chosen, layer=layer,
                                      limits=limits)
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
    shown = str(value)[:40]
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(str(value).strip().replace(",", "")) if isinstance(value, str) \
            else float(value)
        if not math.isfinite(number):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise _Bad(_l("%(field)s must be a number, not %(value)s.", field=field_name,
                      value=shown)) from None
    if whole:
        if not number.is_integer():
            raise _Bad(_l("%(field)s must be a whole number, not %(value)s.",
                          field=field_name, value=shown))
        number = int(number)
    if low is not None and high is not None and not low <= number <= high:
        raise _Bad(_l("%(field)s must be between %(low)s and %(high)s, not %(value)s.",
                      field=field_name, low=low, high=high, value=shown))
    return number


_TRUE = {"1", "true", "yes", "y", "t", "是", "真", "x", "✓"}
_FALSE = {"0", "false", "no", "n", "f", "否", "假", ""}


def _boolean(field_name: str, value) -> bool:
    if isinstance(value, bool):
        return value
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
        Called with 1 after each feature (for a progress bar).
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
    records = frame.drop(columns=frame.geometry.name).to_dict("records")
    geometries = list(frame.geometry.array)
    features = []
    for index, (record, geometry) in enumerate(zip(records, geometries, strict=True)):
        values = {f: record.get(column) for f, column in columns.items()}
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


def _overlaps(checker: _Checker, features: list[_Feature], existing: list[tuple[str, str,
                                                                               object]]) -> None:
    """Warn of overlaps between the features' polygons and with `existing` (code, name, shape)."""
    polygons = [f for f in features if not f.failed and f.geometry is not None
                and geometry_family(f.geometry) == "polygon"]
    if not polygons:
        return
    tree = shapely.STRtree([f.geometry for f in polygons])
    left, right = tree.query([f.geometry for f in polygons], predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i <= j:
            continue  # each pair once, reported on the later feature
        area = area_m2(polygons[i].geometry.intersection(polygons[j].geometry))
        if area >= OVERLAP_MIN_M2:
            checker.warn(polygons[i], _l("Overlaps number %(other)d (%(code)s) by %(area)s m².",
                                         other=polygons[j].number,
                                         code=polygons[j].code or "—", area=_whole(area)))
    if not existing:
        return
    tree = shapely.STRtree([shape for _code, _name, shape in existing])
    left, right = tree.query([f.geometry for f in polygons], predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        code, name, shape = existing[j]
        area = area_m2(polygons[i].geometry.intersection(shape))
        if area >= OVERLAP_MIN_M2:
            checker.warn(polygons[i], _l("Overlaps %(name)s (%(code)s), already in the "
                                         "database, by %(area)s m².", name=name, code=code,
                                         area=_whole(area)))


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


def _resolve_street(text: str, by_code: dict, by_name: dict) -> Street | None:
    return by_code.get(text) or by_name.get(text)


def _check_communities(session: Session, features: list[_Feature], checker: _Checker,
                       progress) -> None:
    for feature in features:
        values = feature.values
        checked = {"code": _required_text(checker, feature, values, "code",
                                          MAX_LENGTHS["code:communities"]),
                   "name": _required_text(checker, feature, values, "name",
                                          MAX_LENGTHS["name"])}
        try:
            if not _blank(values.get("year_built")):
                checked["year_built"] = _number("year_built", values["year_built"], whole=True,
                                                low=1800, high=2100)
            if not _blank(values.get("building_area_m2")):
                checked["building_area_m2"] = float(_number(
                    "building_area_m2", values["building_area_m2"], low=0, high=1e9))
            for name in ("households", "building_count"):
                if not _blank(values.get(name)):
                    checked[name] = _number(name, values[name], whole=True, low=0,
                                            high=10_000_000)
            if not _blank(values.get("is_pilot")):
                checked["is_pilot"] = _boolean("is_pilot", values["is_pilot"])
        except _Bad as bad:
            checker.error(feature, bad.message)
        street_text = _optional_text(checker, feature, values, "street", 100)
        geometry = _checked_geometry(checker, feature, ("polygon", "point"),
                                     _LAYER_NAMES["communities"])
        if geometry is not None and geometry_family(geometry) == "polygon":
            checked["footprint"] = _as_multipolygon(geometry)
        elif geometry is not None:
            if geometry.geom_type == "MultiPoint":
                if len(geometry.geoms) != 1:
                    checker.error(feature, _l("A community's centre is one point; this "
                                              "feature has %(n)d.", n=len(geometry.geoms)))
                    geometry = None
                else:
                    geometry = geometry.geoms[0]
            if geometry is not None:
                checked["location"] = geometry
        feature.geometry = checked.get("footprint") or checked.get("location")
        feature.values = checked
        feature.street_text = street_text
    _duplicate_codes(checker, features, lambda f: f.values.get("code"))

    existing = _load_by_code(session, Community, [f.values.get("code") for f in features])
    street_texts = {f.street_text for f in features if f.street_text}
    named = session.scalars(sa.select(Street).where(
        sa.or_(Street.code.in_(street_texts), Street.name_zh.in_(street_texts)))).all() \
        if street_texts else []
    near = _streets_near(session, _bounds_of(features))
    shapes = {street.id: shape for street, shape in near}
    for street in named:
        if street.id not in shapes:
            shapes[street.id] = to_shape(street.boundary)
    by_code = {s.code: s for s in named}
    by_name = {s.name_zh: s for s in named}
    tree_streets = [street for street, _shape_ in near]
    tree = shapely.STRtree([shape for _street, shape in near]) if near else None

    codes_in_file = {f.values.get("code") for f in features}
    others = []
    bounds = _bounds_of([f for f in features if "footprint" in f.values])
    if bounds is not None:
        table = Community.__table__
        for code, name, footprint in session.execute(
                sa.select(Community.code, Community.name, Community.footprint)
                .where(Community.footprint.is_not(None),
                       bbox_filter(session.get_bind(), table, table.c.footprint, bounds))):
            if code not in codes_in_file:
                others.append((code, name, to_shape(footprint)))

    for feature in features:
        _tick(progress)
        if feature.failed:
            continue
        target = existing.get(feature.values["code"])
        feature.target = target
        street = _street_for(checker, feature, target, by_code, by_name, shapes, tree,
                             tree_streets)
        if street is None:
            continue
        feature.values["street_id"] = street.id
        footprint = feature.values.get("footprint")
        if footprint is not None:
            # Keep a centre point that still lies in the footprint, else take a new one.
            location = _shape(target.location) if target is not None else None
            if location is None or not footprint.contains(location):
                location = footprint.representative_point()
            feature.values["location"] = location
        if target is None:
            if footprint is None and "location" not in feature.values:
                checker.warn(feature, _l("The feature has no geometry; only its attributes "
                                         "are imported."))
            feature.action = "new"
            continue
        if feature.geometry is None:
            checker.warn(feature, _l("The feature has no geometry; only its attributes are "
                                     "imported."))
        feature.action = "update" if _changes(target, feature.values,
                                              ("footprint", "location")) else "unchanged"
    _overlaps(checker, features, others)


def _street_for(checker, feature, target, by_code, by_name, shapes, tree, tree_streets):
    """The street of a community feature: named in the file, else by spatial join."""
    geometry = feature.geometry
    probe = None
    if geometry is not None:
        probe = geometry if geometry.geom_type == "Point" else geometry.representative_point()
    if feature.street_text:
        street = _resolve_street(feature.street_text, by_code, by_name)
        if street is None:
            checker.error(feature, _l("There is no street with the code or name %(street)s.",
                                      street=feature.street_text))
            return None
        boundary = shapes.get(street.id)
        if geometry is not None and boundary is not None:
            if not geometry.intersects(boundary):
                gap = _whole(distance_m(geometry, boundary))
                named = _street_name(street)
                if distance_m(geometry, boundary) > OUTSIDE_STREET_MAX_M:
                    checker.error(feature, _l("The feature lies %(m)s m outside its street "
                                              "%(street)s: check its coordinates and its "
                                              "street code.", m=gap, street=named))
                    return None
                checker.warn(feature, _l("The feature lies %(m)s m outside its street "
                                         "%(street)s.", m=gap, street=named))
            elif geometry.geom_type != "Point":
                outside = area_m2(geometry.difference(boundary))
                share = outside / max(area_m2(geometry), 1e-9)
                if share > OUTSIDE_STREET_SHARE:
                    checker.warn(feature, _l("Part of the footprint (%(share)s) lies outside "
                                             "its street %(street)s.",
                                             share=format(share, ".0%"),
                                             street=_street_name(street)))
        return street
    if probe is None:
        if target is not None:
            return target.street
        checker.error(feature, _l("The community has no geometry and no street code, so it "
                                  "cannot be placed."))
        return None
    hits = tree.query(probe, predicate="within").tolist() if tree is not None else []
    if not hits:
        checker.error(feature, _l("The feature lies in no street, so no street can be "
                                  "assigned. Check its coordinates and coordinate system."))
        return None
    street = tree_streets[min(hits)]
    checker.report.assigned_streets += 1
    return street


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

    Raises
    ------
    DomainError
        422 if the plan has errors (nothing is written).
    """
    report = plan.report
    if not report.ok:
        raise DomainError(_l("The file has errors, so nothing was imported."), status=422)
    today = today or dt.date.today()
    writer = {"streets": _write_street, "communities": _write_community,
              "items": _write_item}[report.layer]
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


def _write_community(session: Session, feature: _Feature, filename: str, today) -> None:
    community = feature.target
    values = dict(feature.values)
    changed = values if community is None else _changes(community, values,
                                                        ("footprint", "location"))
    note_name = filename.replace("\x00", "")[:120] or "file"
    if community is None:
        community = Community(data_source=DataSource.IMPORTED)
        session.add(community)
        what = "Footprint" if "footprint" in values else "Community"
        changed["source_note"] = f"{what} imported from {note_name} on {today.isoformat()}."
    elif "footprint" in changed:
        changed["data_source"] = DataSource.IMPORTED
        changed["source_note"] = f"Footprint imported from {note_name} on {today.isoformat()}."
    for name, value in _geometry_values(changed, ("footprint", "location")).items():
        setattr(community, name, value)


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
    @with_appcontext
    def command(file: Path, layer: str, crs: str | None, dry_run: bool) -> None:
        """Import streets, communities or items from FILE (GeoJSON, GeoPackage, zipped
        Shapefile, KML, CSV or XLSX), all or nothing."""
        limits = limits_from_config()
        if file.stat().st_size > limits.max_bytes:
            raise click.ClickException(str(_refusal(GisFileError("too_large"), limits).message))
        data = file.read_bytes()
        stderr = sys.stderr  # the progress bars; the report goes to standard output
        database = current_app.extensions["gengxin.db"]
        with database.session() as session:
            try:
                gisfile = read_import_file(data, filename=file.name, layer=layer, crs=crs,
                                           limits=limits)
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

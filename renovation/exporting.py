"""Export of streets, communities and items to GIS files and spreadsheets.

What is exported is what the :class:`~renovation.filters.Filters` select, so an
export made from a filtered dashboard or map holds what the planner saw. Files are
written with pyogrio (GDAL); every geometry is in EPSG:4326 (WGS84 longitude,
latitude; CGCS2000 data equals it to well under a metre).

Formats
-------
geojson
    RFC 7946: longitude/latitude in WGS84, no ``crs`` member, at most 7 decimals
    (about 1 cm), outer rings counter-clockwise.
gpkg
    GeoPackage, one layer named after the layer exported.
shp
    A zip of Shapefiles with ``.prj`` and a ``.cpg`` saying UTF-8. A Shapefile holds
    one geometry type, so items come as ``items_points``, ``items_lines`` and
    ``items_polygons`` (an item without geometry goes with its kind's type). Its
    attribute names are at most 10 characters: a name that fits is kept, the others
    are shortened (``building_area_m2`` → ``area_m2``, ``planned_end`` → ``plan_end``,
    ``community_code`` → ``community`` ...). :data:`FIELDS` gives each name's Shapefile
    name, and the zip carries the table as ``fields.csv``. Text longer than the
    format's 254 bytes is cut (at a character boundary).
csv
    UTF-8 with a byte-order mark (Excel reads the Chinese), the attributes, the
    geometry as WKT in ``wkt`` and ``lon``/``lat`` of a point on the feature (its
    representative point, which lies inside a polygon). Text a spreadsheet would run
    as a formula gets a leading quote (see :func:`renovation.spreadsheet.safe_text`).
xlsx
    The same columns as the CSV in one sheet; dates are dates. A geometry whose
    WKT is longer than a cell can hold (32,767 characters) is left out of ``wkt``
    (``lon``/``lat`` remain) and listed on a second sheet: use GeoPackage for it.

Attributes
----------
Dates are ISO text (``2025-06-30``) except in XLSX; booleans are true/false;
``progress_pct``, ``items``, ``items_done`` and ``items_overdue`` are figures of the
selected items (see :mod:`renovation.filters`), worked out by :mod:`renovation.progress`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click
import geopandas as gpd
import pandas as pd
import pyogrio  # imported with this module, before any SpatiaLite connection: see below
import shapely
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from renovation.catalogue import BY_CODE
from renovation.dashboard import street_rows
from renovation.errors import DomainError
from renovation.filters import Filters
from renovation.models import Community, RenovationItem, Street
from renovation.progress import NO_ITEMS, progress_by
from renovation.spreadsheet import XLSX_MIMETYPE, safe_text

LOGGER = logging.getLogger(__name__)
logging.getLogger("pyogrio").setLevel(logging.WARNING)  # not a line per file written

# SQLite loads mod_spatialite with RTLD_GLOBAL, which brings the system's SQLite, GEOS
# and PROJ into the process's global symbols; GDAL (bundled with pyogrio) loaded after
# that binds to them instead of its own and crashes writing a GeoPackage. create_app
# imports this module before the first connection, so GDAL is always loaded first.

LAYERS = ("streets", "communities", "items")
CRS = "EPSG:4326"
#: Digits after the decimal point of a coordinate: 1e-7 degrees is about 1 cm.
DECIMALS = 7
XLSX_CELL_LIMIT = 32_767
DBF_TEXT_BYTES = 254


@dataclass(frozen=True)
class Format:
    code: str
    suffix: str
    mimetype: str
    driver: str | None  # the GDAL driver, for the GIS formats


FORMATS: dict[str, Format] = {f.code: f for f in (
    Format("geojson", ".geojson", "application/geo+json", "GeoJSON"),
    Format("gpkg", ".gpkg", "application/geopackage+sqlite3", "GPKG"),
    Format("shp", ".zip", "application/zip", "ESRI Shapefile"),
    Format("csv", ".csv", "text/csv; charset=utf-8", None),
    Format("xlsx", ".xlsx", XLSX_MIMETYPE, None),
)}


@dataclass(frozen=True)
class Field:
    """An attribute of an exported layer."""

    name: str  # in GeoJSON, GeoPackage, CSV and XLSX
    shp_name: str  # in a Shapefile (at most 10 characters)
    type: str  # text, integer, real, boolean or date
    description: str


F = Field
FIELDS: dict[str, tuple[Field, ...]] = {
    "streets": (
        F("code", "code", "text", "street code (12-digit national code)"),
        F("name_zh", "name_zh", "text", "name in Chinese"),
        F("name_en", "name_en", "text", "name in English"),
        F("data_source", "data_src", "text", "where the boundary comes from"),
        F("communities", "comms", "integer", "communities selected"),
        F("communities_in_programme", "comms_prog", "integer",
          "communities with selected items"),
        F("items", "items", "integer", "selected renovation items"),
        F("items_done", "items_done", "integer", "of which completed or accepted"),
        F("items_overdue", "items_over", "integer", "of which past their planned end"),
        F("progress_pct", "progress", "real", "weighted progress of the items, 0-100"),
        F("building_area_m2", "area_m2", "real", "building area of the communities, m²"),
    ),
    "communities": (
        F("code", "code", "text", "community code"),
        F("name", "name", "text", "name"),
        F("street_code", "street", "text", "code of its street"),
        F("year_built", "year_built", "integer", "year built"),
        F("building_area_m2", "area_m2", "real", "building area, m²"),
        F("households", "households", "integer", "households"),
        F("building_count", "buildings", "integer", "buildings"),
        F("is_pilot", "is_pilot", "boolean", "a street's pilot community"),
        F("is_district_pilot", "dist_pilot", "boolean", "the district's pilot community"),
        F("data_source", "data_src", "text", "where the footprint comes from"),
        F("items", "items", "integer", "selected renovation items"),
        F("items_done", "items_done", "integer", "of which completed or accepted"),
        F("items_overdue", "items_over", "integer", "of which past their planned end"),
        F("progress_pct", "progress", "real", "weighted progress of the items, 0-100"),
    ),
    "items": (
        F("id", "id", "integer", "item number"),
        F("community_code", "community", "text", "code of its community"),
        F("street_code", "street", "text", "code of its street"),
        F("kind", "kind", "text", "kind code from the catalogue"),
        F("title", "title", "text", "title"),
        F("status", "status", "text", "status code"),
        F("progress_pct", "progress", "integer", "progress, 0-100"),
        F("quantity", "quantity", "real", "quantity"),
        F("unit", "unit", "text", "unit of the quantity"),
        F("planned_start", "plan_start", "date", "planned start"),
        F("planned_end", "plan_end", "date", "planned end"),
        F("actual_start", "act_start", "date", "actual start"),
        F("actual_end", "actual_end", "date", "actual end"),
        F("is_overdue", "is_overdue", "boolean", "past its planned end and not done"),
    ),
}
#: The columns a CSV or XLSX export adds after the attributes.
COORDINATE_COLUMNS = ("wkt", "lon", "lat")
_DTYPES = {"text": "object", "integer": "Int64", "real": "float64", "boolean": "boolean",
           "date": "object"}


@dataclass(frozen=True)
class Rows:
    """A layer read from the database: attribute rows and their geometries (EPSG:4326)."""

    layer: str
    records: list[dict]
    geometries: list  # shapely geometries or None
    points: list  # a point to give as lon/lat when there is no geometry, or None


@dataclass(frozen=True)
class ExportFile:
    filename: str
    mimetype: str
    data: bytes
    features: int


def _checked(layer: str, fmt: str) -> Format:
    from flask_babel import gettext as _

    if layer not in LAYERS:
        raise DomainError(_("layer must be one of: %(names)s.", names=", ".join(LAYERS)))
    if fmt not in FORMATS:
        raise DomainError(_("format must be one of: %(names)s.", names=", ".join(FORMATS)))
    return FORMATS[fmt]


# --- Reading the layers -----------------------------------------------------------------------

def _shape(value):
    return to_shape(value) if value is not None else None


def read_layer(session: Session, layer: str, filters: Filters | None = None, *,
               today: dt.date | None = None) -> Rows:
    """The features of `layer` the filters select, in code (items: id) order."""
    today = today or dt.date.today()
    filters = filters or Filters()
    if layer == "streets":
        return _streets(session, filters, today)
    if layer == "communities":
        return _communities(session, filters, today)
    if layer == "items":
        return _items(session, filters, today)
    raise ValueError(f"unknown layer {layer!r}")


def _streets(session: Session, filters: Filters, today: dt.date) -> Rows:
    rows = street_rows(session, filters, today=today)
    areas = dict(session.execute(
        sa.select(Community.street_id, sa.func.sum(Community.building_area_m2))
        .where(*filters.community_clauses(today)).group_by(Community.street_id)).all())
    streets = {s.id: s for s in session.scalars(
        sa.select(Street).where(Street.id.in_([r.key for r in rows])))}
    records, geometries = [], []
    for row in rows:
        street = streets[row.key]
        area = areas.get(street.id)
        records.append({
            "code": street.code, "name_zh": street.name_zh, "name_en": street.name_en,
            "data_source": street.data_source, "communities": row.communities,
            "communities_in_programme": row.communities_in_programme,
            "items": row.progress.items, "items_done": row.progress.done,
            "items_overdue": row.progress.overdue, "progress_pct": row.progress.percent,
            "building_area_m2": float(area) if area is not None else None})
        geometries.append(_shape(street.boundary))
    return Rows("streets", records, geometries, [None] * len(records))


def _communities(session: Session, filters: Filters, today: dt.date) -> Rows:
    progress = progress_by(session, Community.id, today=today, where=filters.item_clauses(today))
    query = (sa.select(Community, Street.code).join(Street, Community.street)
             .where(*filters.community_clauses(today)).order_by(Community.code))
    records, geometries, points = [], [], []
    for community, street_code in session.execute(query):
        p = progress.get(community.id, NO_ITEMS)
        records.append({
            "code": community.code, "name": community.name, "street_code": street_code,
            "year_built": community.year_built, "building_area_m2": community.building_area_m2,
            "households": community.households, "building_count": community.building_count,
            "is_pilot": community.is_pilot, "is_district_pilot": community.is_district_pilot,
            "data_source": community.data_source, "items": p.items, "items_done": p.done,
            "items_overdue": p.overdue, "progress_pct": p.percent})
        geometries.append(_shape(community.footprint))
        points.append(_shape(community.location))
    return Rows("communities", records, geometries, points)


def _items(session: Session, filters: Filters, today: dt.date) -> Rows:
    query = (sa.select(RenovationItem, Community.code, Street.code)
             .join(Community, RenovationItem.community).join(Street, Community.street)
             .where(*filters.item_clauses(today)).order_by(RenovationItem.id))
    records, geometries = [], []
    for item, community_code, street_code in session.execute(query):
        records.append({
            "id": item.id, "community_code": community_code, "street_code": street_code,
            "kind": item.kind, "title": item.title, "status": item.status.value,
            "progress_pct": item.progress_pct, "quantity": item.quantity, "unit": item.unit,
            "planned_start": item.planned_start, "planned_end": item.planned_end,
            "actual_start": item.actual_start, "actual_end": item.actual_end,
            "is_overdue": item.is_overdue(today)})
        geometries.append(_shape(item.geometry))
    return Rows("items", records, geometries, [None] * len(records))


# --- Writing ----------------------------------------------------------------------------------

def _frame(rows: Rows, fields: tuple[Field, ...], *, shapefile: bool = False):
    columns = {}
    for f in fields:
        values = [_iso(r[f.name]) if f.type == "date" else r[f.name] for r in rows.records]
        if shapefile and f.type == "text":
            values = [_cut_utf8(v, DBF_TEXT_BYTES) for v in values]
        columns[f.shp_name if shapefile else f.name] = pd.array(values, dtype=_DTYPES[f.type])
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(rows.geometries, crs=CRS),
                            crs=CRS)


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else value


def _cut_utf8(value: str | None, limit: int) -> str | None:
    """`value` cut to at most `limit` bytes of UTF-8 without splitting a character.

    >>> _cut_utf8("老山东里北社区", 10)
    '老山东'
    """
    if value is None:
        return None
    return value.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _write_gis(rows: Rows, fmt: Format, folder: Path) -> Path:
    path = folder / f"{rows.layer}{fmt.suffix}"
    frame = _frame(rows, FIELDS[rows.layer])
    options = {"RFC7946": "YES", "COORDINATE_PRECISION": DECIMALS} if fmt.code == "geojson" \
        else {}
    pyogrio.write_dataframe(frame, path, layer=rows.layer, driver=fmt.driver, **options)
    return path


def _family(geometry, kind: str | None) -> str:
    """Which Shapefile an item goes to: points, lines or polygons."""
    if geometry is not None:
        name = geometry.geom_type.removeprefix("Multi")
        return {"Point": "points", "LineString": "lines", "Polygon": "polygons"}.get(
            name, "points")
    catalogue_kind = BY_CODE.get(kind or "")
    return {"point": "points", "line": "lines", "polygon": "polygons"}[
        catalogue_kind.geometry if catalogue_kind else "point"]


def _write_shapefiles(rows: Rows, folder: Path) -> Path:
    groups: dict[str, list[int]] = {}
    for i, geometry in enumerate(rows.geometries):
        family = _family(geometry, rows.records[i].get("kind")) if rows.layer == "items" \
            else "polygons"
        groups.setdefault(family, []).append(i)
    names = []
    for family, indices in sorted(groups.items()):
        name = f"{rows.layer}_{family}" if rows.layer == "items" else rows.layer
        part = Rows(rows.layer, [rows.records[i] for i in indices],
                    [rows.geometries[i] for i in indices], [None] * len(indices))
        frame = _frame(part, FIELDS[rows.layer], shapefile=True)
        pyogrio.write_dataframe(frame, folder / f"{name}.shp", driver="ESRI Shapefile",
                                ENCODING="UTF-8")
        names.append(name)
    if not names:  # nothing selected: still a valid, empty layer
        frame = _frame(rows, FIELDS[rows.layer], shapefile=True)
        pyogrio.write_dataframe(frame, folder / f"{rows.layer}.shp", driver="ESRI Shapefile",
                                ENCODING="UTF-8",
                                geometry_type="Point" if rows.layer == "items" else "Polygon")
        names.append(rows.layer)
    path = folder / f"{rows.layer}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                archive.write(folder / f"{name}{suffix}", f"{name}{suffix}")
        archive.writestr("fields.csv", _fields_csv(rows.layer))
    return path


def _fields_csv(layer: str) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["name", "shapefile_name", "type", "description"])
    for f in FIELDS[layer]:
        writer.writerow([f.name, f.shp_name, f.type, f.description])
    return out.getvalue()


def _point_of(geometry, fallback) -> tuple[float | None, float | None]:
    point = geometry.representative_point() if geometry is not None and not geometry.is_empty \
        else fallback
    if point is None:
        return None, None
    return round(point.x, DECIMALS), round(point.y, DECIMALS)


def _wkt(geometry) -> str:
    if geometry is None:
        return ""
    return shapely.to_wkt(geometry, rounding_precision=DECIMALS, trim=True)


def table_rows(rows: Rows) -> tuple[list[str], list[list]]:
    """Header and rows for CSV and XLSX: the attributes, then wkt, lon, lat."""
    fields = FIELDS[rows.layer]
    header = [f.name for f in fields] + list(COORDINATE_COLUMNS)
    body = []
    for record, geometry, fallback in zip(rows.records, rows.geometries, rows.points,
                                          strict=True):
        lon, lat = _point_of(geometry, fallback)
        body.append([record[f.name] for f in fields] + [_wkt(geometry), lon, lat])
    return header, body


def write_csv(rows: Rows) -> bytes:
    header, body = table_rows(rows)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for values in body:
        writer.writerow([_csv_value(v) for v in values])
    return out.getvalue().encode("utf-8-sig")


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return safe_text(value)


def write_xlsx(rows: Rows) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    header, body = table_rows(rows)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(rows.layer)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    cells = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    wkt_column = header.index("wkt")
    too_long = []
    for number, values in enumerate(body, start=2):
        if len(values[wkt_column]) > XLSX_CELL_LIMIT:
            too_long.append((number, values[0]))
            values[wkt_column] = ""
        sheet.append([_xlsx_cell(sheet, v) for v in values])
    if body:
        from openpyxl.utils import get_column_letter

        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(body) + 1}"
    if too_long:
        notes = book.create_sheet("notes")
        notes.append(["row", header[0], "note"])
        for number, key in too_long:
            notes.append([number, _xlsx_cell(notes, key),
                          f"geometry too long for a cell ({XLSX_CELL_LIMIT} characters): "
                          "export as GeoPackage"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # text stays text: never a formula, whatever it starts with
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


def write(rows: Rows, fmt: str) -> bytes:
    """`rows` as a file in format `fmt` (a key of :data:`FORMATS`)."""
    chosen = FORMATS[fmt]
    if fmt == "csv":
        return write_csv(rows)
    if fmt == "xlsx":
        return write_xlsx(rows)
    with tempfile.TemporaryDirectory(prefix="gengxin-export-") as folder:
        if fmt == "shp":
            path = _write_shapefiles(rows, Path(folder))
        else:
            path = _write_gis(rows, chosen, Path(folder))
        return path.read_bytes()


def export(session: Session, layer: str, fmt: str, filters: Filters | None = None, *,
           today: dt.date | None = None) -> ExportFile:
    """The features of `layer` the filters select, as a file in format `fmt`.

    Raises
    ------
    DomainError
        (400) for an unknown layer or format; NotFound for a street that does not exist.
    """
    from renovation.overview import get_street

    chosen = _checked(layer, fmt)
    filters = filters or Filters()
    if filters.street:
        get_street(session, filters.street)
    today = today or dt.date.today()
    rows = read_layer(session, layer, filters, today=today)
    suffix = "-shp.zip" if fmt == "shp" else chosen.suffix
    filename = f"gengxin-{layer}-{today.strftime('%Y%m%d')}{suffix}"
    return ExportFile(filename, chosen.mimetype, write(rows, fmt), len(rows.records))


# --- flask export -----------------------------------------------------------------------------

def _format_of(out: str) -> str | None:
    name = out.lower()
    for code, chosen in FORMATS.items():
        if code != "shp" and name.endswith(chosen.suffix):
            return code
    return "shp" if name.endswith(".zip") else ("geojson" if name.endswith(".json") else None)


@click.command("export")
@click.option("--layer", required=True, type=click.Choice(LAYERS),
              help="What to export.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)),
              help="File format; by default from OUT's extension (.zip: shp).")
@click.option("--street", help="Only this street (code).")
@click.option("--kind", multiple=True, help="Only items of this kind (repeatable).")
@click.option("--status", multiple=True, help="Only items in this status (repeatable).")
@click.option("--built-from", type=int, help="Only communities built in or after this year.")
@click.option("--built-to", type=int, help="Only communities built in or before this year.")
@click.option("--pilot-only", is_flag=True, help="Only pilot communities.")
@click.option("--overdue-only", is_flag=True, help="Only overdue items.")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def export_command(layer, fmt, street, kind, status, built_from, built_to, pilot_only,
                   overdue_only, out):
    """Export the features of a layer that the filters select to the file OUT (EPSG:4326)."""
    fmt = fmt or _format_of(out)
    if fmt is None:
        raise click.UsageError("say --format, or give OUT an extension "
                               "(.geojson, .gpkg, .zip, .csv, .xlsx)")
    args = {"street": street or "", "kind": list(kind), "status": list(status),
            "built_from": "" if built_from is None else str(built_from),
            "built_to": "" if built_to is None else str(built_to),
            "pilot": "1" if pilot_only else "", "overdue": "1" if overdue_only else ""}
    with current_app.extensions["gengxin.db"].session() as session:
        try:
            result = export(session, layer, fmt, Filters.from_args(args))
        except DomainError as error:
            raise click.ClickException(str(error.message)) from None
    Path(out).write_bytes(result.data)
    click.echo(f"wrote {result.features} {layer} to {out} ({fmt}, {len(result.data)} bytes)")


__all__ = ["FIELDS", "FORMATS", "LAYERS", "export", "export_command", "read_layer", "write"]

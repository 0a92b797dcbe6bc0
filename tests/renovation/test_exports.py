"""Exports: every format opens with the usual tools (pyogrio, geopandas, openpyxl, csv) and
holds the right features, attributes and coordinates, compared with the database to 1e-7
degrees; GeoJSON keeps RFC 7946; Shapefile names are short and documented; the web route
and ``flask export`` take the filters; export then import gives the same data back.

Expected values are read here from the ORM rows and worked out by hand, not with the
exporter's queries.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import zipfile
from collections import defaultdict

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from pyproj import CRS
from shapely.geometry import shape
from sqlalchemy.orm import selectinload

from factories import make_community, make_item, make_street
from renovation import exporting
from renovation.catalogue import BY_CODE
from renovation.filters import Filters
from renovation.models import Community, RenovationItem, Street
from renovation.status import Status

TODAY = dt.date.today()
TOLERANCE_DEG = 1e-7
LAOSHAN = "110107002000"
KEYS = {"streets": "code", "communities": "code", "items": "id"}
FORMATS = ("geojson", "gpkg", "shp", "csv", "xlsx")


# --- What the database holds, worked out by hand ----------------------------------------------

def weighted(items) -> float | None:
    if not items:
        return None
    weights = [BY_CODE[i.kind].weight for i in items]
    return round(sum(w * i.progress_pct for w, i in zip(weights, items, strict=True))
                 / sum(weights), 1)


def late(item) -> bool:
    return item.planned_end is not None and item.planned_end < TODAY and not item.status.is_done


def iso(day):
    return day.isoformat() if day else None


def expected_layer(session, layer: str) -> dict:
    """key -> (attributes, shapely geometry or None, fallback point or None)."""
    communities = session.scalars(sa.select(Community).options(
        selectinload(Community.street), selectinload(Community.items))).all()
    found = {}
    if layer == "streets":
        by_street = defaultdict(list)
        for c in communities:
            by_street[c.street_id].append(c)
        for s in session.scalars(sa.select(Street)):
            own = by_street[s.id]
            items = [i for c in own for i in c.items]
            found[s.code] = ({
                "code": s.code, "name_zh": s.name_zh, "name_en": s.name_en,
                "data_source": s.data_source, "communities": len(own),
                "communities_in_programme": sum(1 for c in own if c.items),
                "items": len(items), "items_done": sum(i.status.is_done for i in items),
                "items_overdue": sum(late(i) for i in items), "progress_pct": weighted(items),
                "building_area_m2": sum(c.building_area_m2 for c in own
                                        if c.building_area_m2 is not None) if own else None,
            }, to_shape(s.boundary), None)
    elif layer == "communities":
        for c in communities:
            found[c.code] = ({
                "code": c.code, "name": c.name, "street_code": c.street.code,
                "year_built": c.year_built, "building_area_m2": c.building_area_m2,
                "households": c.households, "building_count": c.building_count,
                "is_pilot": c.is_pilot, "is_district_pilot": c.is_district_pilot,
                "data_source": c.data_source, "items": len(c.items),
                "items_done": sum(i.status.is_done for i in c.items),
                "items_overdue": sum(late(i) for i in c.items),
                "progress_pct": weighted(c.items),
            }, to_shape(c.footprint) if c.footprint is not None else None,
                to_shape(c.location) if c.location is not None else None)
    else:
        for c in communities:
            for i in c.items:
                found[i.id] = ({
                    "id": i.id, "community_code": c.code, "street_code": c.street.code,
                    "kind": i.kind, "title": i.title, "status": i.status.value,
                    "progress_pct": i.progress_pct, "quantity": i.quantity, "unit": i.unit,
                    "planned_start": iso(i.planned_start), "planned_end": iso(i.planned_end),
                    "actual_start": iso(i.actual_start), "actual_end": iso(i.actual_end),
                    "is_overdue": late(i),
                }, to_shape(i.geometry) if i.geometry is not None else None, None)
    return found


# --- Reading each format back into plain values -----------------------------------------------

def plain(value, kind: str):
    """A value as read from any format, as the Python value the database gave."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "text":
        return str(value) or None
    if kind == "integer":
        return None if value == "" else int(value)
    if kind == "real":
        return None if value == "" else float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else {"true": True, "false": False, "1": True,
                                                      "0": False}[str(value).lower()]
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        return None if value == "" else str(value)
    raise AssertionError(kind)


def typed(layer: str, record: dict, names: dict | None = None) -> dict:
    """`record` (keyed by the format's names, `names` mapping them back) as plain values."""
    names = names or {f.name: f.name for f in exporting.FIELDS[layer]}
    kinds = {f.name: f.type for f in exporting.FIELDS[layer]}
    return {names[k]: plain(v, kinds[names[k]]) for k, v in record.items() if k in names}


def single(geometry):
    """A one-part multi geometry as its part: a Shapefile does not tell the two apart."""
    if geometry is not None and geometry.geom_type.startswith("Multi") and \
            len(geometry.geoms) == 1:
        return geometry.geoms[0]
    return geometry


def assert_same_geometry(got, want, where):
    if want is None:
        assert got is None or got.is_empty, where
        return
    got, want = single(got), single(want)
    assert got.geom_type == want.geom_type, where
    # Normalised, so that ring orientation (RFC 7946 rewinds rings) and start points match.
    assert shapely.equals_exact(shapely.normalize(got), shapely.normalize(want),
                                tolerance=TOLERANCE_DEG), where


def read_geojson(data: bytes, layer: str) -> list:
    text = data.decode("utf-8")
    collection = json.loads(text)
    # RFC 7946: WGS84 longitude/latitude, no crs member, at most 7 decimals, right-hand rule.
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    assert not re.search(r"\d\.\d{8,}", text.split('"features"', 1)[1].replace(
        '"xy_coordinate_resolution"', "")), "a coordinate has more than 7 decimals"
    rows = []
    for feature in collection["features"]:
        assert feature["type"] == "Feature" and "crs" not in feature
        geometry = shape(feature["geometry"]) if feature["geometry"] else None
        if geometry is not None:
            xs, ys = shapely.get_coordinates(geometry).T
            assert ((-180 <= xs) & (xs <= 180)).all() and ((-90 <= ys) & (ys <= 90)).all()
            assert 115 < xs.min() and xs.max() < 118 and 39 < ys.min() and ys.max() < 41.5
            for polygon in getattr(geometry, "geoms", [geometry]):
                if polygon.geom_type == "Polygon":
                    assert polygon.exterior.is_ccw
                    assert all(not ring.is_ccw for ring in polygon.interiors)
        rows.append((typed(layer, feature["properties"]), geometry, None))
    return rows


def read_gpkg(data: bytes, layer: str, tmp_path) -> list:
    path = tmp_path / f"{layer}.gpkg"
    path.write_bytes(data)
    assert [name for name, _ in pyogrio.list_layers(path)] == [layer]
    info = pyogrio.read_info(path, layer=layer)
    assert info["crs"] == "EPSG:4326"
    frame = gpd.read_file(path, layer=layer)
    assert frame.crs.to_epsg() == 4326
    assert list(frame.columns[:-1]) == [f.name for f in exporting.FIELDS[layer]]
    return [(typed(layer, row.drop("geometry").to_dict()), row.geometry, None)
            for _, row in frame.iterrows()]


def read_shp(data: bytes, layer: str, tmp_path) -> list:
    path = tmp_path / f"{layer}.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        bases = sorted(n[:-4] for n in names if n.endswith(".shp"))
        documented = archive.read("fields.csv").decode("utf-8")
        for base in bases:
            assert {f"{base}{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")} <= names
            assert archive.read(f"{base}.cpg").decode().strip().upper() == "UTF-8"
            assert CRS.from_wkt(archive.read(f"{base}.prj").decode()).to_epsg() == 4326
    if layer == "items":  # one Shapefile per geometry type present (an empty one if none)
        assert set(bases) <= {"items_points", "items_lines", "items_polygons"} or \
            bases == ["items"]
    else:
        assert bases == [layer]
    fields = exporting.FIELDS[layer]
    rows_of_doc = list(csv.DictReader(io.StringIO(documented)))
    assert [(r["name"], r["shapefile_name"]) for r in rows_of_doc] == [
        (f.name, f.shp_name) for f in fields]
    back = {f.shp_name: f.name for f in fields}
    rows = []
    for base in bases:
        frame = gpd.read_file(f"/vsizip/{path}/{base}.shp")
        assert frame.crs.to_epsg() == 4326
        assert list(frame.columns[:-1]) == [f.shp_name for f in fields]
        rows += [(typed(layer, row.drop("geometry").to_dict(), back), row.geometry, None)
                 for _, row in frame.iterrows()]
    return rows


def read_csv(data: bytes, layer: str) -> list:
    assert data.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    assert reader.fieldnames == [f.name for f in exporting.FIELDS[layer]] + ["wkt", "lon", "lat"]
    rows = []
    for record in reader:
        geometry = shapely.from_wkt(record["wkt"]) if record["wkt"] else None
        point = (float(record["lon"]), float(record["lat"])) if record["lon"] else None
        rows.append((typed(layer, record), geometry, point))
    return rows


def read_xlsx(data: bytes, layer: str) -> list:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    sheet = book[layer]
    values = list(sheet.iter_rows(values_only=True))
    book.close()
    header = list(values[0])
    assert header == [f.name for f in exporting.FIELDS[layer]] + ["wkt", "lon", "lat"]
    rows = []
    for row in values[1:]:
        record = dict(zip(header, row, strict=True))
        geometry = shapely.from_wkt(record["wkt"]) if record["wkt"] else None
        point = (record["lon"], record["lat"]) if record["lon"] is not None else None
        rows.append((typed(layer, record), geometry, point))
    return rows


def read_back(fmt: str, data: bytes, layer: str, tmp_path) -> list:
    if fmt == "geojson":
        return read_geojson(data, layer)
    if fmt == "gpkg":
        return read_gpkg(data, layer, tmp_path)
    if fmt == "shp":
        return read_shp(data, layer, tmp_path)
    if fmt == "csv":
        return read_csv(data, layer)
    return read_xlsx(data, layer)


def assert_same_values(got: dict, want: dict, where):
    assert set(got) == set(want), where
    for name, value in want.items():
        if isinstance(value, float):
            assert got[name] == pytest.approx(value, abs=1e-6), (where, name)
        else:
            assert got[name] == value, (where, name, got[name], value)


# --- Each format, each layer ------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_holds_every_feature_with_its_attributes_and_coordinates(
        session, fmt, tmp_path):
    for layer in exporting.LAYERS:
        result = exporting.export(session, layer, fmt, today=TODAY)
        want = expected_layer(session, layer)
        rows = read_back(fmt, result.data, layer, tmp_path)
        assert result.features == len(rows) == len(want), layer
        key = KEYS[layer]
        got = {row[0][key]: row for row in rows}
        assert set(got) == set(want), layer
        if fmt == "shp" and layer == "items":
            with zipfile.ZipFile(io.BytesIO(result.data)) as archive:
                assert {n for n in archive.namelist() if n.endswith(".shp")} == {
                    "items_points.shp", "items_lines.shp", "items_polygons.shp"}
        for code, (values, geometry, point) in got.items():
            want_values, want_geometry, fallback = want[code]
            where = (fmt, layer, code)
            assert_same_values(values, want_values, where)
            assert_same_geometry(geometry, want_geometry, where)
            if fmt in ("csv", "xlsx"):  # lon/lat: a point on the feature, or its location
                anchor = want_geometry.representative_point() if want_geometry is not None \
                    else fallback
                assert point is not None, where
                assert math.dist(point, (anchor.x, anchor.y)) <= TOLERANCE_DEG, where


def test_shapefile_names_are_short_unique_and_mapped():
    for layer, fields in exporting.FIELDS.items():
        short = [f.shp_name for f in fields]
        assert len(set(short)) == len(short), layer
        for f in fields:
            assert re.fullmatch(r"[a-z][a-z0-9_]{0,9}", f.shp_name), (layer, f.shp_name)
            assert f.type in ("text", "integer", "real", "boolean", "date")
            if len(f.name) <= 10:  # a name that fits is kept
                assert f.shp_name == f.name, (layer, f.name)
    names = {f.name: f.shp_name for f in exporting.FIELDS["items"]}
    assert (names["planned_end"], names["community_code"]) == ("plan_end", "community")
    names = {f.name: f.shp_name for f in exporting.FIELDS["communities"]}
    assert (names["building_area_m2"], names["is_district_pilot"]) == ("area_m2", "dist_pilot")


def test_text_stays_text_and_long_text_is_cut_at_a_character(session, tmp_path):
    street = make_street(session)
    long_name = "老山东里北社区" * 28  # 196 characters, 588 bytes: more than a DBF field holds
    community = make_community(session, street, name=long_name)
    formula = '=HYPERLINK("http://example.org","x")'
    make_item(session, community, title=formula, kind="stairwell")
    only = Filters(street=street.code)

    book = openpyxl.load_workbook(io.BytesIO(exporting.export(session, "items", "xlsx",
                                                              only).data))
    cell = book["items"].cell(row=2, column=5)
    assert (cell.value, cell.data_type) == (formula, "s")  # never a formula
    rows = read_csv(exporting.export(session, "items", "csv", only).data, "items")
    assert rows[0][0]["title"] == "'" + formula  # a leading quote, as spreadsheets want
    rows = read_geojson(exporting.export(session, "communities", "geojson", only).data,
                        "communities")
    assert rows[0][0]["name"] == long_name
    rows = read_shp(exporting.export(session, "communities", "shp", only).data, "communities",
                    tmp_path)
    cut = rows[0][0]["name"]
    assert long_name.startswith(cut) and len(cut.encode()) <= 254 and len(cut) == 84


def test_a_geometry_too_long_for_an_excel_cell_is_left_out_and_listed():
    circle = shapely.Point(116.2, 39.9).buffer(0.01, quad_segs=1000)  # 4,000 vertices
    record = {f.name: None for f in exporting.FIELDS["communities"]}
    rows = exporting.Rows("communities", [{**record, "code": "A"}, {**record, "code": "B"}],
                          [circle, shapely.Point(116.2, 39.9).buffer(0.001)], [None, None])
    book = openpyxl.load_workbook(io.BytesIO(exporting.write_xlsx(rows)))
    sheet = book["communities"]
    column = [c.value for c in sheet[1]].index("wkt") + 1
    assert sheet.cell(2, column).value in (None, "")
    assert sheet.cell(3, column).value.startswith("POLYGON")
    assert sheet.cell(2, column + 1).value == pytest.approx(
        circle.representative_point().x, abs=1e-7)
    assert [c.value for c in book["notes"]["A"]][1:] == [2]
    assert len(shapely.to_wkt(circle, rounding_precision=7)) > exporting.XLSX_CELL_LIMIT


def test_an_empty_selection_is_a_valid_empty_file(session, tmp_path):
    nothing = Filters(built_from=2100)
    for fmt in FORMATS:
        for layer in ("communities", "items"):
            result = exporting.export(session, layer, fmt, nothing)
            assert result.features == 0
            assert read_back(fmt, result.data, layer, tmp_path) == [], (fmt, layer)
        # Streets stay: the figures of each are those of nothing.
        rows = read_back(fmt, exporting.export(session, "streets", fmt, nothing).data,
                         "streets", tmp_path)
        assert len(rows) == 9 and {r[0]["items"] for r in rows} == {0}


# --- The web route and the command ------------------------------------------------------------

def test_the_export_route_is_public_and_takes_the_filters(client, app_session):
    query = {"layer": "items", "format": "geojson", "street": LAOSHAN, "kind": "lift_retrofit",
             "overdue": "1"}
    response = client.get("/export", query_string=query)
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="gengxin-items-\d{8}\.geojson"', disposition)
    ids = {f["properties"]["id"] for f in json.loads(response.data)["features"]}
    street = app_session.scalars(sa.select(Street).where(Street.code == LAOSHAN)).one()
    want = {i.id for i in app_session.scalars(
        sa.select(RenovationItem).join(Community, RenovationItem.community)
        .where(Community.street_id == street.id, RenovationItem.kind == "lift_retrofit"))
        if late(i)}
    assert ids == want and want
    for fmt, mimetype in [("gpkg", "application/geopackage+sqlite3"), ("shp", "application/zip"),
                          ("csv", "text/csv"), ("xlsx", exporting.FORMATS["xlsx"].mimetype)]:
        response = client.get("/export", query_string={**query, "format": fmt})
        assert response.status_code == 200 and response.mimetype == mimetype, fmt
    assert client.get("/export?layer=items&format=csv").headers["Content-Type"] == \
        "text/csv; charset=utf-8"
    for bad, word, status in [("layer=roads&format=csv", "layer", 400),
                              ("layer=items&format=kml", "format", 400),
                              ("layer=items&format=csv&status=finished", "finished", 400),
                              ("layer=items&format=csv&street=999999999999", "999999999999",
                               404)]:
        response = client.get(f"/export?{bad}&lang=en",
                              headers={"Accept": "application/json"})
        assert response.status_code == status, bad
        assert word in response.get_json()["error"]["message"], bad


def test_flask_export_writes_the_file_with_the_filters(app, app_session, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "laoshan.gpkg"
    result = runner.invoke(args=["export", "--layer", "communities", "--format", "gpkg",
                                 "--street", LAOSHAN, "--built-from", "1980", str(out)])
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out)
    street = app_session.scalars(sa.select(Street).where(Street.code == LAOSHAN)).one()
    want = set(app_session.scalars(sa.select(Community.code).where(
        Community.street_id == street.id, Community.year_built >= 1980)))
    assert set(frame["code"]) == want and want
    assert f"wrote {len(want)} communities" in result.output

    out = tmp_path / "lifts.zip"  # the format from the extension: a zipped Shapefile
    result = runner.invoke(args=["export", "--layer", "items", "--kind", "lift_retrofit",
                                 "--status", "construction", "--status", "design", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        assert "items_points.shp" in archive.namelist()
    frame = gpd.read_file(f"/vsizip/{out}/items_points.shp")
    want = set(app_session.scalars(sa.select(RenovationItem.id).where(
        RenovationItem.kind == "lift_retrofit",
        RenovationItem.status.in_([Status.CONSTRUCTION, Status.DESIGN]))))
    assert set(frame["id"]) == want and want

    result = runner.invoke(args=["export", "--layer", "items", "--kind", "lifts",
                                 str(tmp_path / "x.csv")])
    assert result.exit_code != 0 and "lifts" in result.output
    result = runner.invoke(args=["export", "--layer", "items", str(tmp_path / "x.txt")])
    assert result.exit_code != 0 and "--format" in result.output


# --- Export, then import into an empty database -----------------------------------------------

ROUND_TRIP_FIELDS = {
    "streets": ("code", "name_zh", "name_en"),
    "communities": ("code", "name", "street_code", "year_built", "building_area_m2",
                    "households", "building_count", "is_pilot"),
    "items": ("community_code", "kind", "title", "status", "progress_pct", "quantity", "unit",
              "planned_start", "planned_end"),
}


def _comparable(session, layer: str) -> dict:
    """What an import carries, keyed so that two databases can be compared."""
    found = {}
    for values, geometry, _ in expected_layer(session, layer).values():
        kept = {name: values[name] for name in ROUND_TRIP_FIELDS[layer]}
        key = values["code"] if layer != "items" else (
            values["community_code"], values["kind"], values["title"])
        found.setdefault(key, []).append((kept, geometry))
    return found


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_into_an_empty_database_gives_the_same_data(
        session, empty_db_url, fmt):
    from geo import gisfiles
    from renovation import importing
    from renovation.db import Database, migrate

    target = Database(empty_db_url)
    try:
        migrate(target.engine)
        with target.session() as fresh:
            for layer in exporting.LAYERS:
                exported = exporting.export(session, layer, fmt)
                found = importing.read_import_file(
                    exported.data, filename=exported.filename, layer=layer,
                    crs="4326" if fmt in ("csv", "xlsx") else None, limits=gisfiles.Limits())
                plan = importing.check_import(fresh, found, layer=layer,
                                              filename=exported.filename)
                assert plan.report.ok, [p.message for p in plan.report.errors][:5]
                importing.apply_import(fresh, plan)
                fresh.commit()
            for layer in exporting.LAYERS:
                before, after = _comparable(session, layer), _comparable(fresh, layer)
                assert set(after) == set(before), layer
                for key, rows in before.items():
                    assert len(after[key]) == len(rows), (layer, key)
                    for (values, geometry), (got, got_geometry) in zip(
                            sorted(rows, key=repr), sorted(after[key], key=repr), strict=True):
                        assert_same_values(got, values, (fmt, layer, key))
                        assert_same_geometry(got_geometry, geometry, (fmt, layer, key))
    finally:
        target.dispose()

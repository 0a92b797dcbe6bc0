"""Importing streets, communities and items from GIS files, from the web and ``flask import``.

Each format in each coordinate system it can carry lands where it should, to a centimetre,
on both backends; GCJ-02 input matches :func:`geo.gcj02.gcj02_to_wgs84` on the real
community points of ``data/``; bad files get a clear 4xx and leave the database as it was
(row counts and a checksum of every street, community and item); a re-import updates by
code; streets are found by spatial join. Fixture files are built in temporary folders.
Messages are read in English (``BABEL_DEFAULT_LOCALE`` here, the ``lang`` cookie on the web).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
import shapely
import shapely.affinity
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, Polygon, box, mapping
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from geo import gcj02, gisfiles
from geo.spatialdb import bbox_filter
from renovation import importing, summaries
from renovation.demo import DATA_DIR, DEMO_PASSWORD, read_streets
from renovation.errors import DomainError
from renovation.models import Community, DataSource, RenovationItem, Street

GEOD = Geod(ellps="WGS84")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="token" value="([^"]+)"')
LIMIT_BYTES = 2 * 1024 * 1024
STREETS = {s.code: s for s in read_streets()}
LAOSHAN, BAJIAO = "110107002000", "110107003000"


def square_at(point, half_deg: float = 0.0003):
    return box(point.x - half_deg, point.y - half_deg, point.x + half_deg, point.y + half_deg)


#: A footprint well inside 老山 street, one inside 八角, one in no street at all.
IN_LAOSHAN = square_at(STREETS[LAOSHAN].label_point)
IN_BAJIAO = square_at(STREETS[BAJIAO].label_point)
NOWHERE = square_at(Point(117.5, 40.8))


@pytest.fixture
def app_config(app_config):
    # The app-wide upload limit is set below the import's own, which must win for /import.
    return {**app_config, "GIS_IMPORT_MAX_BYTES": LIMIT_BYTES, "MAX_CONTENT_LENGTH": 2**20,
            "BABEL_DEFAULT_LOCALE": "en"}


# --- Building files -------------------------------------------------------------------------

def metres(a, b) -> float:
    """How far apart two geometries' vertices are, in metres: the largest distance from a
    vertex of either to the nearest vertex of the other (so their order does not matter)."""
    ours, theirs = shapely.get_coordinates(a), shapely.get_coordinates(b)

    def farthest(points, others) -> float:
        worst = 0.0
        for x, y in points:
            _fwd, _back, dist = GEOD.inv(np.full(len(others), x), np.full(len(others), y),
                                         others[:, 0], others[:, 1])
            worst = max(worst, float(np.min(dist)))
        return worst

    return max(farthest(ours, theirs), farthest(theirs, ours))


def project(geometry, crs):
    """`geometry` (WGS84) as a file in `crs` holds it: EPSG, or GCJ-02 lon/lat."""
    if crs == "gcj02":
        return gcj02.geometry_to_gcj02(geometry)
    if crs in (4326, 4490):
        return geometry
    transformer = Transformer.from_crs(4326, crs, always_xy=True)
    return shapely.transform(geometry, lambda c: np.column_stack(
        transformer.transform(c[:, 0], c[:, 1])))


def gdal_file(rows: list[dict], geometries, crs, driver: str, folder: Path, *,
              prj: bool = True) -> bytes:
    """A file written by GDAL: GCJ-02 is declared as WGS84, as AMap exports do."""
    declared = 4326 if crs == "gcj02" else crs
    data = gpd.GeoDataFrame(rows, geometry=list(geometries), crs=declared)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"GPKG": "gpkg", "GeoJSON": "geojson", "KML": "kml", "ESRI Shapefile": "shp"}
    path = folder / f"layer.{suffix[driver]}"
    data.to_file(path, driver=driver)
    if driver != "ESRI Shapefile":
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(folder.glob("layer.*")):
            if part.suffix != ".prj" or prj:
                archive.write(part, part.name)
    return buffer.getvalue()


def table_file(rows: list[dict], geometries, kind: str, *, xy: str = "lonlat") -> bytes:
    """A CSV or XLSX table: points as two columns (lon/lat, or x/y), else WKT."""
    header = list(rows[0])
    if xy == "wkt":
        header.append("wkt")
        values = [[*row.values(), g.wkt] for row, g in zip(rows, geometries, strict=True)]
    else:
        names = ["lon", "lat"] if xy == "lonlat" else ["x", "y"]
        header += names
        values = [[*row.values(), g.x, g.y] for row, g in zip(rows, geometries, strict=True)]
    if kind == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(values)
        return out.getvalue().encode("utf-8-sig")
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in values:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class Case:
    format: str
    crs: object  # an EPSG code or "gcj02"
    code: str
    expected: object  # the WGS84 geometry the import must give
    data: bytes
    declared: bool  # whether the file says its CRS (else --crs is needed)

    @property
    def crs_option(self) -> str | None:
        return None if self.declared else str(self.crs)


EPSG_AND_GCJ = (4326, 4490, 3857, 4548, 2436, "gcj02")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> list[Case]:
    """One small file per format and coordinate system it can carry; built once for both
    backends. Polygons where the format has them; lon/lat tables hold centre points."""
    folder = tmp_path_factory.mktemp("matrix")
    centre = STREETS[LAOSHAN].label_point
    cases = []
    for n, crs in enumerate(EPSG_AND_GCJ):
        footprint = square_at(Point(centre.x - 0.004 + 0.0016 * n, centre.y + 0.003), 0.0005)
        for driver, name in (("GeoJSON", "geojson"), ("GPKG", "gpkg"),
                             ("ESRI Shapefile", "shp")):
            code = f"T-{name}-{crs}"
            data = gdal_file([{"code": code, "name": code}], [project(footprint, crs)], crs,
                             driver, folder / code)
            cases.append(Case(name, crs, code, footprint, data, crs != "gcj02"))
        if crs in (4326, "gcj02"):  # KML is WGS84 by definition; GCJ-02 as AMap writes it
            code = f"T-kml-{crs}"
            data = gdal_file([{"code": code, "name": code}], [project(footprint, crs)], crs,
                             "KML", folder / code)
            cases.append(Case("kml", crs, code, footprint, data, crs != "gcj02"))
        point = Point(footprint.centroid.x, footprint.centroid.y - 0.0015)
        lonlat = crs in (4326, 4490, "gcj02")
        for kind in ("csv", "xlsx"):
            code = f"T-{kind}-{crs}"
            if kind == "csv" and not lonlat:
                data = table_file([{"code": code, "name": code}], [project(footprint, crs)],
                                  kind, xy="wkt")
                cases.append(Case(kind, crs, code, footprint, data, False))
            else:
                data = table_file([{"code": code, "name": code}], [project(point, crs)], kind,
                                  xy="lonlat" if lonlat else "xy")
                cases.append(Case(kind, crs, code, point, data, False))
    return cases


# --- Helpers --------------------------------------------------------------------------------

def snapshot(session) -> tuple:
    """Row counts and a checksum of every street, community and item, geometries included."""
    session.rollback()
    digest = hashlib.sha256()
    counts = []
    for model in (Street, Community, RenovationItem):
        rows = session.execute(sa.select(model.__table__).order_by(model.id)).all()
        counts.append(len(rows))
        for row in rows:
            digest.update(repr([value.data if hasattr(value, "data") else value
                                for value in row]).encode())
    return tuple(counts), digest.hexdigest()


def run(app, data: bytes, filename: str, layer: str, crs=None, *, dry_run: bool = False):
    """The service as the CLI and the web call it, committed unless it is a dry run."""
    with app.test_request_context("/?lang=en"):
        database = app.extensions["gengxin.db"]
        with database.session() as session:
            report = importing.run_import(session, data, filename=filename, layer=layer,
                                          crs=crs, dry_run=dry_run)
            if report.applied:
                session.commit()
            return report


def by_code(session, model, code):
    session.expire_all()
    return session.scalar(sa.select(model).where(model.code == code))


def messages(report) -> str:
    return "\n".join(f"{p.number} {p.code} {'E' if p.is_error else 'W'} {p.message}"
                     for p in report.problems)


def csrf_token(client) -> str:
    return CSRF.search(client.get("/login").get_data(as_text=True)).group(1)


def sign_in(client, username: str | None) -> None:
    client.set_cookie("lang", "en")
    if username is None:
        return
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302


def post_import(client, data: bytes, filename: str, layer: str = "communities",
                crs: str = "auto", *, token: bool = True):
    form = {"file": FileStorage(io.BytesIO(data), filename,
                                content_type="application/octet-stream"),
            "layer": layer, "crs": crs}
    if crs not in importing_crs_choices():
        form.update(crs="other", crs_other=crs)
    if token:
        form["csrf_token"] = csrf_token(client)
    # Encoded in memory: the test client would spool a big body to a file it never closes.
    boundary, body = encode_multipart(form)
    return client.post("/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def importing_crs_choices():
    from renovation.web.gis import CRS_CHOICES

    return CRS_CHOICES


def pending_files(app) -> list[str]:
    folder = Path(app.instance_path) / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def communities_file(features: list[tuple[str, object]], tmp_path, *, street=None,
                     driver="GPKG", name="f") -> bytes:
    rows = [{"code": code, "name": f"导入{code}", **({"street_code": street} if street else {})}
            for code, _geometry in features]
    return gdal_file(rows, [g for _code, g in features], 4326, driver, tmp_path / name)


# --- Coordinates ----------------------------------------------------------------------------

def test_each_format_in_each_crs_lands_to_a_centimetre(app, app_session, matrix):
    assert {c.format for c in matrix} == {"geojson", "gpkg", "shp", "kml", "csv", "xlsx"}
    for case in matrix:
        report = run(app, case.data, f"{case.code}.{case.format}", "communities",
                     case.crs_option)
        assert report.ok and report.new == 1, (case.code, messages(report))
        assert report.assigned_streets == 1
        community = by_code(app_session, Community, case.code)
        assert community.street.code == LAOSHAN
        assert community.data_source == DataSource.IMPORTED
        stored = to_shape(community.footprint if case.expected.geom_type == "Polygon"
                          else community.location)
        assert metres(stored, case.expected) < 0.01, case.code
        if case.declared:  # the file's CRS was found, not guessed
            assert report.declared_crs is not None, case.code


def test_gcj02_community_points_match_the_exact_inverse(app, app_session):
    """The 54 GCJ-02 points of Vonng/adcode (data/), imported as community centres."""
    data = (DATA_DIR / "shijingshan-communities.csv").read_bytes()
    before = {c.code: (c.footprint, c.data_source) for c in
              app_session.scalars(sa.select(Community))}
    refused = None
    try:
        run(app, data, "communities.csv", "communities")
    except DomainError as error:
        refused = str(error.message)
    assert refused and "coordinate system" in refused  # a CSV says nothing of its CRS

    report = run(app, data, "communities.csv", "communities", "gcj02")
    assert report.ok, messages(report)
    assert report.new == 0 and report.updated == 149  # "…居委会" names, and the points
    # 南路东 lies 9 m outside its street in the source: a warning, not a refusal.
    assert [p.code for p in report.warnings if "outside its street" in p.message] \
        == ["110107004002"]
    with open(DATA_DIR / "shijingshan-communities.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    checked = 0
    app_session.expire_all()
    for row in rows:
        community = by_code(app_session, Community, row["code"])
        assert community.name == row["name"]
        assert community.street.code == row["street_code"]
        # A points layer sets the centre only: the generated footprint stays, marked so.
        assert (community.footprint, community.data_source) == before[row["code"]]
        if not row["lon_gcj02"]:
            continue
        lon, lat = gcj02.gcj02_to_wgs84(float(row["lon_gcj02"]), float(row["lat_gcj02"]))
        location = to_shape(community.location)
        assert GEOD.inv(location.x, location.y, lon, lat)[2] < 0.01, row["code"]
        assert GEOD.inv(location.x, location.y, float(row["lon_gcj02"]),
                        float(row["lat_gcj02"]))[2] > 300  # and the shift was applied
        checked += 1
    assert checked == 54
    again = run(app, data, "communities.csv", "communities", "gcj02")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 149)


# --- Bad files ------------------------------------------------------------------------------

def bad_files(tmp_path) -> list[tuple[str, bytes, str, int, str]]:
    """(what, data, filename, expected status, words of the message)."""
    no_prj = _without(communities_file([("X1", IN_LAOSHAN)], tmp_path, driver="ESRI Shapefile",
                                       name="noprj"), ".prj")
    broken = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "X2", "name": "好的"},
         "geometry": mapping(IN_LAOSHAN)},
        {"type": "Feature", "properties": {"code": "X3", "name": "坏的"},
         "geometry": {"type": "Polygon", "coordinates": [[[116.2, 39.9], [116.21, 39.9]]]}},
    ]}).encode()
    lines = communities_file([("X4", LineString(IN_LAOSHAN.exterior.coords))], tmp_path,
                             name="lines")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("a.shp", bytes(30 * 1024 * 1024))
        archive.writestr("a.shx", b"")
        archive.writestr("a.dbf", b"")
    return [
        ("corrupt zip", b"PK\x03\x04" + bytes(range(256)) * 20, "parcels.zip", 400, "damaged"),
        ("shapefile without .prj", no_prj, "parcels.zip", 400, "coordinate system"),
        ("broken geometry", broken, "broken.geojson", 422, "cannot be read"),
        ("wrong geometry type", lines, "lines.gpkg", 422, "Wrong geometry type"),
        ("empty file", b"", "empty.geojson", 400, "empty"),
        ("just over the limit", b"{" + b" " * LIMIT_BYTES + b"}", "big.geojson", 413, "MB"),
        ("far larger than the limit", b"x" * (6 * LIMIT_BYTES), "huge.gpkg", 413, "MB"),
        ("zip bomb", bomb.getvalue(), "bomb.zip", 400, "unpacks"),
        ("text pretending to be a GeoPackage", b"Not a GeoPackage at all.\n", "fake.gpkg", 400,
         "GeoPackage"),
    ]


def _without(data: bytes, suffix: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            if not member.filename.endswith(suffix):
                target.writestr(member, source.read(member))
    return out.getvalue()


def test_bad_files_get_a_clear_error_and_change_nothing(app, client, app_session, tmp_path):
    sign_in(client, "planner")
    before = snapshot(app_session)
    for what, data, filename, status, words in bad_files(tmp_path):
        response = post_import(client, data, filename)
        html = response.get_data(as_text=True)
        assert response.status_code == status, (what, html[-1500:])
        assert words in html, (what, html[-1500:])
        assert 'id="import-apply"' not in html, what
        assert snapshot(app_session) == before, what
    assert pending_files(app) == []


def test_cli_refuses_bad_files_and_an_import_failing_midway_changes_nothing(
        app, app_session, tmp_path, monkeypatch):
    runner = app.test_cli_runner()
    before = snapshot(app_session)
    for what, data, filename, _status, _words in bad_files(tmp_path):
        path = tmp_path / "cli" / filename
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        result = runner.invoke(args=["import", str(path), "--layer", "communities"])
        assert result.exit_code == 1, (what, result.output)
        assert "Error" in result.output, what
    assert snapshot(app_session) == before

    # All or nothing: the third of three communities fails while being written.
    data = communities_file([("M1", IN_LAOSHAN), ("M2", IN_BAJIAO),
                             ("M3", square_at(STREETS[BAJIAO].label_point, 0.0001))], tmp_path)
    path = tmp_path / "three.gpkg"
    path.write_bytes(data)
    written = []
    monkeypatch.setattr(importing, "WRITE_BATCH", 1)  # one row per bulk write

    def failing_on_third(original):
        def write(connection, rows, now):
            written.extend(row["code"] for row in rows)
            if len(written) == 3:
                raise RuntimeError("disk full")
            original(connection, rows, now)
        return write

    for name in ("_insert_sqlite", "_insert_postgres"):
        monkeypatch.setattr(importing, name, failing_on_third(getattr(importing, name)))
    result = runner.invoke(args=["import", str(path), "--layer", "communities"])
    assert result.exit_code != 0 and written == ["M1", "M2", "M3"]
    assert snapshot(app_session) == before


# --- Re-import, spatial join, items, streets ------------------------------------------------

def test_reimport_updates_by_code_without_duplicates(app, app_session, tmp_path):
    moved = square_at(Point(IN_BAJIAO.centroid.x + 0.002, IN_BAJIAO.centroid.y))
    first = communities_file([("R1", IN_LAOSHAN), ("R2", IN_BAJIAO), ("R3", moved)], tmp_path,
                             name="first")
    report = run(app, first, "first.gpkg", "communities")
    assert (report.new, report.updated, report.unchanged) == (3, 0, 0), messages(report)
    counts = snapshot(app_session)[0]

    again = run(app, first, "first.gpkg", "communities")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    rows = [{"code": "R1", "name": "改名的社区"}, {"code": "R2", "name": "导入R2"},
            {"code": "R3", "name": "导入R3"}]
    changed = gdal_file(rows, [IN_LAOSHAN, IN_BAJIAO, square_at(moved.centroid, 0.0002)], 4326,
                        "GeoJSON", tmp_path / "changed")
    report = run(app, changed, "changed.geojson", "communities")
    assert (report.new, report.updated, report.unchanged) == (0, 2, 1), messages(report)
    assert snapshot(app_session)[0] == counts
    assert by_code(app_session, Community, "R1").name == "改名的社区"
    r3 = by_code(app_session, Community, "R3")
    assert metres(to_shape(r3.footprint), square_at(moved.centroid, 0.0002)) < 0.01
    assert to_shape(r3.footprint).contains(to_shape(r3.location))
    assert "changed.geojson" in r3.source_note


def test_streets_are_assigned_by_spatial_join_and_checked_when_named(app, app_session,
                                                                    tmp_path):
    data = communities_file([("S1", IN_LAOSHAN), ("S2", IN_BAJIAO), ("S3", NOWHERE)], tmp_path,
                            name="join")
    report = run(app, data, "join.gpkg", "communities", dry_run=True)
    assert [(p.code, p.is_error) for p in report.problems if "no street" in p.message] \
        == [("S3", True)]
    assert not report.ok and report.assigned_streets == 2
    with pytest.raises(DomainError):
        importing.apply_import(None, importing.ImportPlan(report, [], "join.gpkg"))

    named = communities_file([("S1", IN_LAOSHAN), ("S2", IN_BAJIAO)], tmp_path, street=LAOSHAN,
                             name="named")
    report = run(app, named, "named.gpkg", "communities", dry_run=True)
    assert [p.code for p in report.errors] == ["S2"]
    assert "outside its street" in report.errors[0].message

    x, y = IN_LAOSHAN.centroid.x + 0.003, IN_LAOSHAN.centroid.y
    bow_tie = Polygon([(x, y), (x + 0.001, y + 0.001), (x + 0.001, y), (x, y + 0.001)])
    overlapping = square_at(Point(IN_LAOSHAN.centroid.x + 0.0002, IN_LAOSHAN.centroid.y))
    report = run(app, communities_file([("S1", IN_LAOSHAN), ("S2", IN_BAJIAO),
                                        ("S4", bow_tie), ("S5", overlapping)], tmp_path,
                                       name="ok"), "ok.gpkg", "communities")
    assert report.ok and report.new == 4 and report.assigned_streets == 4, messages(report)
    warnings = {p.code: p.message for p in report.warnings}
    assert "repaired" in warnings["S4"] and "Overlaps number 1 (S1)" in warnings["S5"]
    assert by_code(app_session, Community, "S1").street.code == LAOSHAN
    assert by_code(app_session, Community, "S2").street.code == BAJIAO
    repaired = to_shape(by_code(app_session, Community, "S4").footprint)
    assert repaired.is_valid and len(repaired.geoms) == 2


def test_streets_then_items_with_their_checks(app, app_session, tmp_path):
    street = box(117.0, 40.5, 117.01, 40.51)
    data = gdal_file([{"code": "990000000001", "name": "测试街道", "name_en": "Test"}],
                     [project(street, 3857)], 3857, "GPKG", tmp_path / "street")
    report = run(app, data, "street.gpkg", "streets")
    assert report.ok and report.new == 1, messages(report)
    stored = by_code(app_session, Street, "990000000001")
    assert metres(to_shape(stored.boundary).geoms[0], street) < 0.01
    assert stored.data_source == DataSource.IMPORTED
    points = gdal_file([{"code": "990000000002", "name": "点"}], [Point(117.0, 40.5)], 4326,
                       "GeoJSON", tmp_path / "points")
    report = run(app, points, "points.geojson", "streets", dry_run=True)
    assert "Wrong geometry type" in report.errors[0].message

    footprint = box(117.002, 40.502, 117.004, 40.504)
    run(app, communities_file([("I1", footprint)], tmp_path, name="i1"), "i1.gpkg",
        "communities")
    assert by_code(app_session, Community, "I1").street.code == "990000000001"
    rows = [
        {"community_code": "I1", "kind": "lift_retrofit", "title": "1号楼加装电梯",
         "status": "design", "progress": 10},
        {"community_code": "I1", "kind": "雨污水管线改造", "title": "雨污水管线更换"},
        {"community_code": "I1", "kind": "parking", "title": "停车位", "quantity": 12},
    ]
    geometries = [Point(117.003, 40.503), LineString([(117.0025, 40.503), (117.0035, 40.503)]),
                  box(117.0022, 40.5022, 117.0026, 40.5026)]
    data = gdal_file(rows, geometries, 4326, "GeoJSON", tmp_path / "items")
    report = run(app, data, "items.geojson", "items")
    assert (report.new, report.updated, report.unchanged) == (3, 0, 0), messages(report)
    community = by_code(app_session, Community, "I1")
    items = {item.kind: item for item in community.items}
    assert sorted(items) == ["drainage", "lift_retrofit", "parking"]
    assert (items["lift_retrofit"].status.value, items["lift_retrofit"].progress_pct) \
        == ("design", 10)
    assert items["parking"].quantity == 12
    report = run(app, data, "items.geojson", "items")
    assert (report.new, report.updated, report.unchanged) == (0, 0, 3)
    assert len(by_code(app_session, Community, "I1").items) == 3

    bad_rows = [
        {"community_code": "I1", "kind": "lift_retrofit", "title": "面状电梯"},
        {"community_code": "I1", "kind": "flying_cars", "title": "未知"},
        {"community_code": "NOPE", "kind": "parking", "title": "无社区"},
        {"community_code": "I1", "kind": "parking", "title": "停车位", "quantity": -1},
        {"community_code": "I1", "kind": "lift_retrofit", "title": None},
    ]
    bad = gdal_file(bad_rows, [footprint, Point(117.003, 40.503), footprint, footprint,
                               Point(117.003, 40.503)], 4326, "GeoJSON", tmp_path / "bad")
    report = run(app, bad, "bad.geojson", "items", dry_run=True)
    text = messages(report)
    assert [p.number for p in report.errors] == [1, 2, 3, 4, 5], text
    for words in ("Wrong geometry type", "Unknown item kind", "no community with the code",
                  "quantity must be between", "title is missing"):
        assert words in text


# --- The command line -----------------------------------------------------------------------

def test_cli_dry_run_changes_nothing_and_import_applies(app, app_session, tmp_path):
    path = tmp_path / "c.zip"
    path.write_bytes(communities_file([("C1", IN_LAOSHAN), ("C2", IN_BAJIAO)], tmp_path,
                                      driver="ESRI Shapefile", name="cli"))
    runner = app.test_cli_runner()
    before = snapshot(app_session)
    result = runner.invoke(args=["import", str(path), "--layer", "communities", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "new 2, updated 0, unchanged 0" in result.output
    assert "EPSG:4326" in result.output and "Dry run" in result.output
    assert snapshot(app_session) == before

    result = runner.invoke(args=["import", str(path), "--layer", "communities", "--crs",
                                 "EPSG:4326"])
    assert result.exit_code == 0, result.output
    assert "Imported: 2 new, 0 updated, 0 unchanged." in result.output
    assert by_code(app_session, Community, "C2").street.code == BAJIAO

    result = runner.invoke(args=["import", str(path), "--layer", "roads"])
    assert result.exit_code == 2
    result = runner.invoke(args=["import", str(path), "--layer", "items", "--crs", "mars2"])
    assert result.exit_code == 1 and "Unknown coordinate system" in result.output


# --- The web --------------------------------------------------------------------------------

def test_only_planners_and_admins_may_import(app):
    for username in (None, "resident", "official-laoshan", "moderator"):
        client = app.test_client()
        sign_in(client, username)
        for method, url in (("GET", "/import"), ("POST", "/import"),
                            ("POST", "/import/apply")):
            data = {"csrf_token": csrf_token(client)} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            if username is None:
                assert response.status_code == 302 and "/login" in response.headers["Location"]
            else:
                assert response.status_code == 403, (username, method, url)


def test_planner_previews_then_applies_and_admin_may_too(app, client, app_session, tmp_path):
    sign_in(client, "admin")
    assert client.get("/import").status_code == 200
    sign_in(client, "planner")
    form = client.get("/import").get_data(as_text=True)
    assert 'name="csrf_token"' in form and 'value="gcj02"' in form
    existing = app_session.scalar(sa.select(Community).where(Community.footprint.is_not(None))
                                  .order_by(Community.code))
    overlapping = square_at(to_shape(existing.location), 0.0002)
    data = communities_file([("W1", IN_LAOSHAN), ("W2", overlapping)], tmp_path, name="web")
    before = snapshot(app_session)

    assert post_import(client, data, "web.gpkg", token=False).status_code == 400  # CSRF
    response = post_import(client, data, "web.gpkg", crs="4326")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[-2000:]
    assert 'data-count="new">2<' in html and "EPSG:4326" in html
    assert 'data-severity="warning"' in html and existing.code in html  # the overlap
    assert snapshot(app_session) == before
    token = TOKEN.search(html).group(1)

    other = app.test_client()
    sign_in(other, "admin")  # someone else's preview is not theirs to apply
    response = other.post("/import/apply", data={"token": token,
                                                 "csrf_token": csrf_token(other)})
    assert response.status_code == 410
    response = client.post("/import/apply", data={"token": token,
                                                  "csrf_token": csrf_token(client)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[-2000:]
    assert "Imported: 2 new, 0 updated, 0 unchanged." in html
    assert by_code(app_session, Community, "W1").street.code == LAOSHAN
    assert snapshot(app_session)[0][1] == before[0][1] + 2
    response = client.post("/import/apply", data={"token": token,
                                                  "csrf_token": csrf_token(client)})
    assert response.status_code == 410  # applied once only
    assert pending_files(app) == []


def test_apply_checks_the_file_again_against_the_database_as_it_is_now(app, client,
                                                                      app_session, tmp_path):
    run(app, communities_file([("Q1", IN_LAOSHAN)], tmp_path, name="q1"), "q1.gpkg",
        "communities")
    items = gdal_file([{"community_code": "Q1", "kind": "lift_retrofit", "title": "电梯"}],
                      [IN_LAOSHAN.centroid], 4326, "GeoJSON", tmp_path / "items")
    sign_in(client, "planner")
    html = post_import(client, items, "items.geojson", "items").get_data(as_text=True)
    token = TOKEN.search(html).group(1)
    app_session.delete(by_code(app_session, Community, "Q1"))  # meanwhile, someone else
    app_session.commit()
    before = snapshot(app_session)
    response = client.post("/import/apply", data={"token": token,
                                                  "csrf_token": csrf_token(client)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "no community with the code Q1" in html and 'id="import-apply"' not in html
    assert snapshot(app_session) == before and pending_files(app) == []


# --- Bulk: thousands of features, written by COPY / executemany -------------------------------

BULK_LIMITS = gisfiles.Limits(max_bytes=50 * 2**20, max_features=10_000)


def generated_communities(count: int, street: str = LAOSHAN, *, seed: int = 7):
    """`count` footprints of 12–40 vertices on a grid inside `street`, none overlapping, with
    every attribute a community layer has: (rows, geometries)."""
    rng = np.random.default_rng(seed)
    boundary = STREETS[street].boundary
    minx, miny, maxx, maxy = boundary.bounds
    rows, geometries = [], []
    for x in np.arange(minx, maxx, 0.0003):
        for y in np.arange(miny, maxy, 0.0003):
            vertices = int(rng.integers(12, 41))
            angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
            radii = rng.uniform(0.00006, 0.00012, vertices)
            footprint = Polygon(np.column_stack([x + radii * np.cos(angles),
                                                 y + radii * np.sin(angles)]))
            if not boundary.contains(footprint):
                continue
            number = len(rows)
            rows.append({"code": f"B{number:05d}", "name": f"批量<{number}>&小区",
                         "street_code": street, "year_built": 1960 + number % 40,
                         "building_area_m2": round(float(rng.uniform(1e3, 9e4)), 2),
                         "households": int(rng.integers(20, 2000)),
                         "is_pilot": number % 5 == 0})
            geometries.append(footprint)
            if len(rows) == count:
                return rows, geometries
    raise AssertionError(f"only {len(rows)} footprints fit in {street}")


def bulk_run(app, data: bytes, filename: str = "bulk.gpkg", *, dry_run: bool = False):
    with app.test_request_context("/?lang=en"):
        with app.extensions["gengxin.db"].session() as session:
            report = importing.run_import(session, data, filename=filename,
                                          layer="communities", dry_run=dry_run,
                                          limits=BULK_LIMITS)
            if report.applied:
                session.commit()
            return report


def triggers_and_indexes(session) -> list:
    """The triggers (enabled or not) and indexes of the communities table."""
    session.rollback()
    if session.get_bind().dialect.name == "sqlite":
        query = ("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'communities' "
                 "AND type IN ('trigger', 'index') ORDER BY name")
    else:
        query = ("SELECT 'index', indexname, indexdef FROM pg_indexes WHERE tablename = "
                 "'communities' UNION ALL SELECT 'trigger', tgname, tgenabled::text "
                 "FROM pg_trigger WHERE tgrelid = 'communities'::regclass ORDER BY 2")
    return [tuple(row) for row in session.execute(sa.text(query))]


def stored_communities(session, codes) -> dict:
    session.expire_all()
    return {c.code: c for c in session.scalars(sa.select(Community)
                                               .where(Community.code.in_(codes)))}


@pytest.mark.parametrize("bulk_load", [False, True], ids=["triggers", "bulk-load"])
def test_thousands_of_features_round_trip_exactly_and_keep_summaries_exact(
        app, app_session, tmp_path, monkeypatch, bulk_load):
    # Bulk load (summary triggers suspended, summaries rebuilt, GiST built anew) from 1,000
    # rows; otherwise the triggers keep the summaries row by row.
    monkeypatch.setattr(importing, "BULK_LOAD_ROWS", 1_000 if bulk_load else 10**9)
    rows, footprints = generated_communities(2_500)
    data = gdal_file(rows, footprints, 4326, "GPKG", tmp_path / "bulk")
    schema = triggers_and_indexes(app_session)
    report = bulk_run(app, data)
    assert report.ok and (report.new, report.updated) == (2_500, 0), messages(report)
    # Whatever a bulk load sets aside comes back as it was, and the spatial index has
    # every new footprint.
    assert triggers_and_indexes(app_session) == schema
    table = Community.__table__
    indexed = app_session.scalars(sa.select(table.c.code).where(bbox_filter(
        app_session.get_bind(), table, table.c.footprint,
        STREETS[LAOSHAN].boundary.bounds))).all()
    assert {row["code"] for row in rows} <= set(indexed)
    # Only overlaps with the demo's generated footprints, none among the file's own.
    assert all("already in the database" in p.message for p in report.warnings), \
        messages(report)

    stored = stored_communities(app_session, [r["code"] for r in rows])
    street = by_code(app_session, Street, LAOSHAN)
    for row, footprint in zip(rows, footprints, strict=True):
        community = stored[row["code"]]
        shape = to_shape(community.footprint)
        # Exactly the file's coordinates: COPY and executemany lose nothing.
        assert shape.equals_exact(shapely.MultiPolygon([footprint]), 0), row["code"]
        assert shape.contains(to_shape(community.location))
        assert (community.name, community.street_id, community.year_built,
                community.building_area_m2, community.households, community.is_pilot) \
            == (row["name"], street.id, row["year_built"], row["building_area_m2"],
                row["households"], row["is_pilot"])
        assert (community.data_source, community.is_district_pilot) \
            == (DataSource.IMPORTED, False)
        assert community.source_note.startswith("Footprint imported from bulk.gpkg on ")
    assert summaries.check(app_session) == []

    # Again with a tenth changed: those are updated in bulk, the rest left as they were.
    changed_rows = [dict(row, name=f"改{row['name']}") if n % 10 == 0 else row
                    for n, row in enumerate(rows)]
    moved = [shapely.affinity.translate(f, 0.00001) if n % 20 == 0 else f
             for n, f in enumerate(footprints)]
    before = {code: c.updated_at for code, c in stored.items()}
    data = gdal_file(changed_rows, moved, 4326, "GPKG", tmp_path / "again")
    report = bulk_run(app, data, "again.gpkg")
    assert report.ok and (report.new, report.updated, report.unchanged) == (0, 250, 2_250), \
        messages(report)
    stored = stored_communities(app_session, [r["code"] for r in rows])
    for n, (row, footprint) in enumerate(zip(changed_rows, moved, strict=True)):
        community = stored[row["code"]]
        assert community.name == row["name"]
        assert to_shape(community.footprint).equals_exact(shapely.MultiPolygon([footprint]), 0)
        assert to_shape(community.footprint).contains(to_shape(community.location))
        assert "again.gpkg" in community.source_note if n % 20 == 0 \
            else "bulk.gpkg" in community.source_note
        assert (community.updated_at != before[row["code"]]) == (n % 10 == 0)
    assert summaries.check(app_session) == []


def test_one_bad_feature_among_thousands_refuses_them_all(app, app_session, tmp_path):
    rows, footprints = generated_communities(3_000)
    # Exactly collinear (binary fractions): a polygon with no area, which cannot be repaired.
    bad = Polygon([(116.1875, 39.875), (116.1953125, 39.87890625), (116.203125, 39.8828125)])
    rows[1_234] = dict(rows[1_234], street_code="110107999000")
    footprints[2_345] = bad
    rows[2_999] = dict(rows[2_999], households="很多")
    before = snapshot(app_session)
    report = bulk_run(app, gdal_file(rows, footprints, 4326, "GPKG", tmp_path / "bad"))
    assert not report.ok and not report.applied
    assert [(p.number, p.code) for p in report.errors] == [
        (1_235, "B01234"), (2_346, "B02345"), (3_000, "B02999")]
    text = messages(report)
    assert "no street with the code or name 110107999000" in text
    assert "cannot be repaired" in text and "households must be a number, not 很多" in text
    with pytest.raises(DomainError) as refused:
        with app.test_request_context("/?lang=en"):
            with app.extensions["gengxin.db"].session() as session:
                gisfile = importing.read_import_file(
                    gdal_file(rows, footprints, 4326, "GPKG", tmp_path / "bad2"),
                    filename="bad.gpkg", layer="communities", limits=BULK_LIMITS)
                plan = importing.check_import(session, gisfile, layer="communities")
                importing.apply_import(session, plan)
    assert refused.value.status == 422
    assert snapshot(app_session) == before


def test_cli_limits_can_be_raised_for_a_city_sized_file(app, app_session, tmp_path):
    rows, footprints = generated_communities(30)
    path = tmp_path / "city.gpkg"
    path.write_bytes(gdal_file(rows, footprints, 4326, "GPKG", tmp_path / "city"))
    app.config["GIS_IMPORT_MAX_FEATURES"] = 20
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", str(path), "--layer", "communities"])
    assert result.exit_code == 1 and "at most 20 can be imported" in result.output
    result = runner.invoke(args=["import", str(path), "--layer", "communities",
                                 "--max-features", "30", "--max-mb", "1"])
    assert result.exit_code == 0, result.output
    assert "Imported: 30 new, 0 updated, 0 unchanged." in result.output
    assert len(stored_communities(app_session, [r["code"] for r in rows])) == 30

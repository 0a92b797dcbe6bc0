"""Reading GIS files: formats recognised by content, coordinates into EPSG:4326, bad files refused.

Every fixture file is built here in ``tmp_path`` with geopandas, pyogrio, zipfile or plain
text; none is committed. The database side (and the coordinate matrix on both backends)
is in ``tests/renovation/test_import.py``.
"""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import openpyxl
import pytest
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Point, Polygon, box

from geo import gcj02
from geo.files import UnsafeFile, ZipLimits, check_zip
from geo.gisfiles import (
    GCJ02,
    GisFileError,
    Limits,
    detect_format,
    parse_crs,
    read_gis_file,
    read_gis_path,
    repair_geometry,
)

GEOD = Geod(ellps="WGS84")
#: Two 100 m squares and a point in Shijingshan (老山), in WGS84.
SQUARE = box(116.2200, 39.9000, 116.2212, 39.9009)
POINT = Point(116.2250, 39.9050)
SQUARE_2 = box(116.2250, 39.9050, 116.2262, 39.9059)


def frame(geometries=(SQUARE, SQUARE_2), crs=4326, **columns) -> gpd.GeoDataFrame:
    columns = columns or {"code": [f"C{i}" for i in range(len(geometries))],
                          "name": [f"社区{i}" for i in range(len(geometries))]}
    return gpd.GeoDataFrame(columns, geometry=list(geometries), crs=crs)


def to_bytes(data: gpd.GeoDataFrame, driver: str, tmp_path, *, prj: bool = True,
             **kwargs) -> bytes:
    """`data` written by GDAL; a Shapefile comes zipped (without its .prj if `prj` is False)."""
    suffix = {"GPKG": "gpkg", "GeoJSON": "geojson", "KML": "kml",
              "ESRI Shapefile": "shp"}[driver]
    path = tmp_path / f"layer.{suffix}"
    data.to_file(path, driver=driver, **kwargs)
    if driver != "ESRI Shapefile":
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in tmp_path.glob("layer.*"):
            if part.suffix != ".prj" or prj:
                archive.write(part, f"folder/{part.name}")
    return buffer.getvalue()


def metres(a, b) -> float:
    """The largest distance between matching vertices of two geometries, in metres."""
    # Normalised first: a Shapefile stores rings clockwise, so the vertices come in another order.
    ours = shapely.get_coordinates(shapely.normalize(a))
    theirs = shapely.get_coordinates(shapely.normalize(b))
    assert ours.shape == theirs.shape
    return float(max(GEOD.inv(x1, y1, x2, y2)[2]
                     for (x1, y1), (x2, y2) in zip(ours, theirs, strict=True)))


def to_crs(geometry, epsg: int):
    transformer = Transformer.from_crs(4326, epsg, always_xy=True)
    return shapely.transform(geometry, lambda c: __import__("numpy").column_stack(
        transformer.transform(c[:, 0], c[:, 1])))


# --- Formats and coordinates ----------------------------------------------------------------

# The full matrix of formats and coordinate systems runs through the database in
# tests/renovation/test_import.py; here one of each kind of declaration.
@pytest.mark.parametrize(("driver", "epsg"), [("GeoJSON", 4326), ("GPKG", 4548),
                                              ("GeoJSON", 3857), ("ESRI Shapefile", 2436),
                                              ("ESRI Shapefile", 4490)])
def test_declared_crs_converts_to_wgs84_to_a_millimetre(tmp_path, driver, epsg):
    source = frame()
    data = to_bytes(source.to_crs(epsg), driver, tmp_path)
    found = read_gis_file(data, filename="anything.bin")
    assert found.frame.crs.to_epsg() == 4326
    # GDAL declares WGS84 in GeoJSON as OGC:CRS84: the same, longitude first.
    assert found.declared_crs.equals(CRS.from_epsg(epsg), ignore_axis_order=True)
    for ours, theirs in zip(found.frame.geometry, source.geometry, strict=True):
        assert metres(ours, theirs) < 0.001


def test_gcj02_is_the_users_choice_and_uses_the_exact_inverse(tmp_path):
    shifted = frame([gcj02.geometry_to_gcj02(SQUARE), gcj02.geometry_to_gcj02(POINT)])
    data = to_bytes(shifted, "GeoJSON", tmp_path)
    as_wgs84 = read_gis_file(data)  # the file claims WGS84, as AMap exports do
    assert metres(as_wgs84.frame.geometry[1], POINT) > 300
    found = read_gis_file(data, crs=GCJ02)
    assert found.source_crs_label == "GCJ-02" and found.notes == []
    assert metres(found.frame.geometry[0], SQUARE) < 0.001
    assert metres(found.frame.geometry[1], POINT) < 0.001


def test_gcj02_reference_point_tiananmen():
    text = "name,lng,lat\n天安门,116.39759,39.908776\n"
    found = read_gis_file(text.encode(), crs=GCJ02)
    point = found.frame.geometry[0]
    assert (round(point.x, 6), round(point.y, 6)) == (116.391349, 39.907375)


def test_gcj02_refuses_projected_files(tmp_path):
    data = to_bytes(frame().to_crs(3857), "GPKG", tmp_path)
    with pytest.raises(GisFileError) as caught:
        read_gis_file(data, crs=GCJ02)
    assert caught.value.reason == "gcj02_projected"


def test_kml_is_wgs84_and_z_is_dropped(tmp_path):
    data = to_bytes(frame([shapely.force_3d(SQUARE), POINT]), "KML", tmp_path)
    assert detect_format(data, "x.txt") == "kml"
    found = read_gis_file(data)
    assert found.declared_crs.to_epsg() == 4326
    assert not shapely.has_z(found.frame.geometry).any()
    assert ("z_dropped", {}) in found.notes
    assert metres(found.frame.geometry[0], SQUARE) < 0.001
    assert list(found.frame["Name"]) == ["社区0", "社区1"]


def test_kmz_reads_its_kml(tmp_path):
    kml = to_bytes(frame(), "KML", tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", kml)
    found = read_gis_file(buffer.getvalue())
    assert found.format == "kmz" and len(found.frame) == 2


def test_csv_with_lonlat_needs_a_crs_and_counts_rows():
    text = "\ufeff标题行\n编码,名称,经度,纬度\nA,甲,116.225,39.905\nB,乙,,\nC,丙,116.3,abc\n"
    data = text.encode("utf-8")
    with pytest.raises(GisFileError) as caught:
        read_gis_file(data)
    assert caught.value.reason == "no_crs"
    found = read_gis_file(data, crs=parse_crs("4326"))
    assert found.format == "csv" and found.numbering == "row"
    assert found.numbers == [3, 4, 5]
    assert metres(found.frame.geometry[0], POINT) < 0.001
    assert found.frame.geometry[1] is None and 1 not in found.unreadable
    assert 2 in found.unreadable
    assert list(found.frame.columns) == ["编码", "名称", "geometry"]


def test_csv_in_gbk_with_wkt_and_ewkt_srid():
    square_3857 = to_crs(SQUARE, 3857)
    text = f'code;name;WKT\nA;老山;"SRID=3857;{square_3857.wkt}"\n'
    found = read_gis_file(text.encode("gb18030"))
    assert found.declared_crs.to_epsg() == 3857
    assert found.frame["name"][0] == "老山"
    assert metres(found.frame.geometry[0], SQUARE) < 0.001


def test_xlsx_with_lonlat_columns(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["code", "name", "lon_gcj02", "lat_gcj02"])
    lon, lat = gcj02.wgs84_to_gcj02(POINT.x, POINT.y)
    sheet.append([110107001001, "电科院社区", lon, lat])
    path = tmp_path / "points.xlsx"
    book.save(path)
    found = read_gis_file(path.read_bytes(), crs=GCJ02)
    assert found.format == "xlsx" and found.numbers == [2]
    assert found.frame["code"][0] == 110107001001
    assert metres(found.frame.geometry[0], POINT) < 0.001


def test_shapefile_in_gbk_without_cpg_is_read_as_gbk(tmp_path):
    path = tmp_path / "layer.shp"
    frame().to_file(path, driver="ESRI Shapefile", encoding="GB18030")
    (tmp_path / "layer.cpg").unlink(missing_ok=True)
    dbf = bytearray((tmp_path / "layer.dbf").read_bytes())
    dbf[29] = 0  # no language id either: what many Chinese desktop tools write
    (tmp_path / "layer.dbf").write_bytes(bytes(dbf))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in tmp_path.glob("layer.*"):
            archive.write(part, part.name)
    found = read_gis_file(buffer.getvalue())
    assert list(found.frame["name"]) == ["社区0", "社区1"]


def test_several_layers_need_a_choice(tmp_path):
    path = tmp_path / "two.gpkg"
    frame().to_file(path, layer="communities", driver="GPKG")
    frame().to_file(path, layer="other", driver="GPKG")
    with pytest.raises(GisFileError) as caught:
        read_gis_file(path.read_bytes())
    assert caught.value.reason == "several_layers"
    found = read_gis_file(path.read_bytes(), layer="communities")
    assert found.layer == "communities" and found.notes[0][0] == "layer_chosen"


# --- Bad files ------------------------------------------------------------------------------

def test_broken_geojson_geometry_is_reported_per_feature():
    document = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "A"},
         "geometry": {"type": "Polygon", "coordinates": [[[116.2, 39.9], [116.3, 39.9]]]}},
        {"type": "Feature", "properties": {"code": "B"},
         "geometry": {"type": "Point", "coordinates": "here"}},
        {"type": "Feature", "properties": {"code": "C"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "D"}, "geometry": shapely.geometry.mapping(
            POINT)},
    ]}
    found = read_gis_file(json.dumps(document).encode())
    assert sorted(found.unreadable) == [0, 1]
    assert "4" in found.unreadable[0]  # a linear ring needs at least 4 coordinates
    assert found.frame.geometry[2] is None and 2 not in found.unreadable
    assert found.frame.geometry[3].equals(POINT)


@pytest.mark.parametrize(("data", "filename", "reason"), [
    (b"", "empty.geojson", "empty"),
    (b"  \n ", "blank.csv", "empty"),
    (b"PK\x03\x04 this is no zip at all", "parcels.zip", "damaged"),
    (b"This is not a GeoPackage, only some text.", "footprints.gpkg", "not_gis"),
    (b"SQLite format 3\x00" + bytes(200), "plain.gpkg", "not_gis"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "old.xls", "old_excel"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "map.png", "not_gis"),
    (b'{"type": "FeatureCollection", "features": [', "cut.geojson", "damaged"),
    (b'{"type": "FeatureCollection", "features": []}', "none.geojson", "no_features"),
    (b'{"hello": "world"}', "other.json", "not_gis"),
    (b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaa">]><kml>&a;</kml>', "x.kml",
     "doctype"),
    (b'<?xml version="1.0"?><gpx version="1.1"></gpx>', "track.gpx", "not_gis"),
    (b'<kml><Document><NetworkLink><Link><href>http://10.0.0.1/x.kml</href></Link>'
     b'</NetworkLink></Document></kml>', "linked.kml", "network_link"),
    (b"code,name\nA,B\n", "table.csv", "no_geometry_columns"),
])
def test_bad_files_are_refused_with_a_reason(data, filename, reason):
    with pytest.raises(GisFileError) as caught:
        read_gis_file(data, filename=filename, crs=parse_crs("4326"))
    assert caught.value.reason == reason


def test_text_named_gpkg_says_what_it_claimed():
    with pytest.raises(GisFileError) as caught:
        read_gis_file(b"just text", filename="footprints.gpkg")
    assert caught.value.params == {"found": "text", "claimed": "gpkg"}


def test_shapefile_without_prj_needs_a_crs(tmp_path):
    data = to_bytes(frame().to_crs(4548), "ESRI Shapefile", tmp_path, prj=False)
    with pytest.raises(GisFileError) as caught:
        read_gis_file(data)
    assert caught.value.reason == "no_crs"
    found = read_gis_file(data, crs=parse_crs("EPSG:4548"))
    assert metres(found.frame.geometry[0], SQUARE) < 0.001


def test_shapefile_without_dbf_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.shp", b"\x00" * 100)
        archive.writestr("a.shx", b"\x00" * 100)
    with pytest.raises(GisFileError) as caught:
        read_gis_file(buffer.getvalue())
    assert caught.value.reason == "missing_member" and caught.value.params["member"] == "a.dbf"


def zip_bomb() -> bytes:
    """A small zip whose .shp claims (and holds) 50 MB of zeros: a 1000-to-1 ratio."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("bomb.shp", bytes(50 * 1024 * 1024))
        archive.writestr("bomb.shx", b"")
        archive.writestr("bomb.dbf", b"")
    return buffer.getvalue()


def test_zip_bomb_is_refused_before_unpacking():
    data = zip_bomb()
    assert len(data) < 100_000
    with pytest.raises(GisFileError) as caught:
        read_gis_file(data)
    assert caught.value.reason == "zip_bomb"
    with pytest.raises(UnsafeFile):
        check_zip(data, ZipLimits(max_compression_ratio=10_000, max_unzipped_bytes=10_000_000))


def test_size_and_feature_limits():
    text = "lon,lat\n" + "116.2,39.9\n" * 11
    with pytest.raises(GisFileError) as caught:
        read_gis_file(text.encode(), crs=parse_crs("4326"), limits=Limits(max_features=10))
    assert caught.value.reason == "too_many_features" and caught.value.params["count"] == 11
    with pytest.raises(GisFileError) as caught:
        read_gis_file(text.encode(), crs=parse_crs("4326"), limits=Limits(max_bytes=50))
    assert caught.value.reason == "too_large"


def test_projected_numbers_called_lonlat_are_refused():
    text = "x,y\n431583.8,4418810.2\n"
    with pytest.raises(GisFileError) as caught:
        read_gis_file(text.encode(), crs=parse_crs("4326"))
    assert caught.value.reason == "out_of_range"
    found = read_gis_file(text.encode(), crs=parse_crs("2436"))
    assert found.frame.geometry[0].distance(Point(116.2, 39.9)) < 1e-6


def test_repair_keeps_the_type_or_refuses():
    bow_tie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    fixed, outcome = repair_geometry(bow_tie)
    assert outcome == "repaired" and fixed.is_valid and fixed.geom_type == "MultiPolygon"
    assert repair_geometry(SQUARE) == (SQUARE, "valid")
    assert repair_geometry(Polygon([(0, 0), (1, 0), (2, 0), (0, 0)]))[1] == "collapsed"


def test_workbook_with_a_dtd_behind_a_long_prolog_is_refused(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["lon", "lat"])
    book.active.append([116.2, 39.9])
    path = tmp_path / "good.xlsx"
    book.save(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                content = (b'<?xml version="1.0"?>' + b"<!-- pad -->" * 2000
                           + b'<!DOCTYPE x [<!ENTITY a "aaaaaaaa">]>'
                           + content.split(b"?>", 1)[-1])
            target.writestr(member, content)
    assert len(read_gis_file(path.read_bytes(), crs=parse_crs("4326")).frame) == 1
    with pytest.raises(GisFileError) as caught:
        read_gis_file(buffer.getvalue(), crs=parse_crs("4326"))
    assert caught.value.reason == "doctype"


def test_a_geopackage_on_disk_is_read_in_place_as_its_bytes_would_be(tmp_path):
    data = frame().to_crs(4548)  # projected, so the conversion runs too
    path = tmp_path / "in-place" / "communities.gpkg"
    path.parent.mkdir()
    path.write_bytes(to_bytes(data, "GPKG", tmp_path))
    from_disk = read_gis_path(path)
    from_bytes = read_gis_file(path.read_bytes(), filename=path.name)
    assert from_disk.format == "gpkg" and from_disk.source_crs_label.startswith("EPSG:4548")
    assert list(from_disk.frame["code"]) == list(from_bytes.frame["code"]) == ["C0", "C1"]
    assert all(a.equals_exact(b, 0) for a, b in zip(from_disk.frame.geometry,
                                                    from_bytes.frame.geometry, strict=True))
    assert from_disk.frame.geometry[0].equals_exact(SQUARE, 1e-8)
    # The limits hold as for an upload, and other formats are read as bytes.
    with pytest.raises(GisFileError) as refused:
        read_gis_path(path, limits=Limits(max_features=1))
    assert refused.value.reason == "too_many_features"
    with pytest.raises(GisFileError) as refused:
        read_gis_path(path, limits=Limits(max_bytes=1000))
    assert refused.value.reason == "too_large"
    text = tmp_path / "named.gpkg"
    text.write_text("code,lon,lat\nA,116.2,39.9\n")
    with pytest.raises(GisFileError) as refused:
        read_gis_path(text)
    assert (refused.value.reason, refused.value.params) == ("not_gis", {"found": "text",
                                                                        "claimed": "gpkg"})
    csv_file = tmp_path / "points.csv"
    csv_file.write_text("code,lon,lat\nA,116.2,39.9\n")
    assert read_gis_path(csv_file, crs=parse_crs("4326")).frame.geometry[0] == Point(116.2, 39.9)

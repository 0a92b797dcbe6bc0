"""Real OGC API – Features clients against a live server read what the database holds.

OWSLib (what QGIS plug-ins and scripts use) and GDAL's OAPIF driver through pyogrio
(what QGIS itself uses). GDAL runs in a child process: pyogrio holds the GIL while
GDAL fetches the pages, which would stall the server thread living in this process.
The server's own log is watched too: every request a client made must have succeeded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import shapely
import sqlalchemy as sa
from flask import request
from geoalchemy2.shape import to_shape
from owslib.ogcapi.features import Features
from shapely.geometry import box

from renovation.models import Community, RenovationItem, Street

MODELS = {"streets": (Street, "boundary"), "communities": (Community, "footprint"),
          "items": (RenovationItem, "geometry")}
WEST_BOX = (116.14, 39.90, 116.20, 39.94)
#: Small pages, so that GDAL has to follow several next links in every collection.
PAGE_SIZES = {"streets": 4, "communities": 40, "items": 150}

GDAL_READER = r"""
import json, sys, warnings
import pyogrio

out = []
for job in json.load(sys.stdin):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if job["what"] == "layers":
            result = [[str(v) for v in row] for row in pyogrio.list_layers(job["source"])]
        else:
            bbox = tuple(job["bbox"]) if job.get("bbox") else None
            options = dict(job.get("options", {}))
            where = options.pop("where", None)
            df = pyogrio.read_dataframe(job["source"], layer=job["layer"], fid_as_index=True,
                                        bbox=bbox, where=where, **options)
            result = {
                "ids": [int(i) for i in df.index],
                "crs": df.crs.to_string() if df.crs is not None else None,
                "wkb": [None if g is None else g.wkb_hex for g in df.geometry],
                "records": json.loads(df.drop(columns="geometry").to_json(
                    orient="records", date_format="iso", force_ascii=False)),
            }
    out.append({"result": result,
                "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]})
json.dump(out, sys.stdout)
"""


def run_gdal(jobs: list[dict]) -> list:
    """Run `jobs` through pyogrio in a child process; fail on any error or warning."""
    done = subprocess.run([sys.executable, "-c", GDAL_READER], input=json.dumps(jobs),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    warnings = [w for r in results for w in r["warnings"]]
    assert not warnings, warnings
    return [r["result"] for r in results]


def record_requests(app) -> list[tuple[int, str]]:
    """(status, path with query) of every request the app answers from now on."""
    seen: list[tuple[int, str]] = []

    @app.after_request
    def remember(response):
        seen.append((response.status_code, request.full_path))
        return response

    return seen


def db_rows(session, collection: str) -> dict[int, tuple]:
    """id → (geometry, the row) of every feature of `collection`."""
    model, column = MODELS[collection]
    return {row[0]: (to_shape(row[1]), row[2]) for row in session.execute(
        sa.select(model.id, getattr(model, column), model).order_by(model.id))}


def intersecting(rows: dict[int, tuple], bbox) -> list[int]:
    return sorted(i for i, (geometry, _) in rows.items() if geometry.intersects(box(*bbox)))


def assert_same_geometries(wkb: list[str], ids: list[int], rows: dict[int, tuple]) -> None:
    for feature_id, geometry in zip(ids, shapely.from_wkb(wkb), strict=True):
        stored = rows[feature_id][0]
        assert shapely.get_type_id(geometry) == shapely.get_type_id(stored), feature_id
        assert geometry.equals_exact(stored, 1e-6), feature_id


def test_owslib_reads_landing_conformance_collections_and_features(app, live_server,
                                                                   app_session):
    log = record_requests(app)
    api = Features(live_server + "/ogc")
    assert {"service-desc", "conformance", "data"} <= {link["rel"] for link in api.links}
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in \
        api.conformance()["conformsTo"]
    assert api.api()["openapi"] == "3.0.3"
    assert api.feature_collections() == ["streets", "communities", "items"]
    for name in ("streets", "communities", "items"):
        rows = db_rows(app_session, name)
        assert api.collection(name)["id"] == name
        assert set(api.collection_queryables(name)["properties"]) <= set(
            api.collection_schema(name)["properties"]["properties"]["properties"])
        page = api.collection_items(name, limit=5)
        assert [f["id"] for f in page["features"]] == list(rows)[:5]
        assert page["numberMatched"] == len(rows) and page["numberReturned"] == 5
        in_box = api.collection_items(name, bbox=list(WEST_BOX), limit=1000)
        assert [f["id"] for f in in_box["features"]] == intersecting(rows, WEST_BOX)
        first = page["features"][0]
        one = api.collection_item(name, str(first["id"]))
        assert (one["id"], one["properties"], one["geometry"]) == (
            first["id"], first["properties"], first["geometry"])
    assert intersecting(db_rows(app_session, "communities"), WEST_BOX)
    assert log and all(status == 200 for status, _ in log), [e for e in log if e[0] != 200]


def test_gdal_reads_every_collection_completely_by_pages_and_by_bbox(app, live_server,
                                                                     app_session):
    log = record_requests(app)
    source = f"OAPIF:{live_server}/ogc"
    jobs = [{"what": "layers", "source": source}]
    for name, page_size in PAGE_SIZES.items():
        options = {"PAGE_SIZE": page_size}
        jobs.append({"what": "read", "source": source, "layer": name, "options": options})
        jobs.append({"what": "read", "source": source, "layer": name, "options": options,
                     "bbox": WEST_BOX})
    # CGCS2000 on request: GDAL asks with crs= and bbox-crs= in latitude/longitude order.
    jobs.append({"what": "read", "source": source, "layer": "communities", "bbox": WEST_BOX,
                 "options": {"CRS": "EPSG:4490"}})
    # An attribute filter on a queryable goes to the server as ?kind=...
    jobs.append({"what": "read", "source": source, "layer": "items",
                 "options": {"where": "kind = 'lift_retrofit'"}})
    layers, *reads = run_gdal(jobs)
    assert layers == [["streets", "MultiPolygon"], ["communities", "MultiPolygon"],
                      ["items", "Unknown"]]

    for name in PAGE_SIZES:
        rows = db_rows(app_session, name)
        everything, in_box = reads.pop(0), reads.pop(0)
        assert everything["crs"] == "OGC:CRS84"
        assert everything["ids"] == list(rows)
        assert_same_geometries(everything["wkb"], everything["ids"], rows)
        assert in_box["ids"] == intersecting(rows, WEST_BOX)
        assert 0 < len(in_box["ids"]) < len(rows) or name == "streets"
        pairs = list(zip(everything["ids"], everything["records"], strict=True))
        for feature_id, record in pairs[::37]:  # a sample of rows
            stored = rows[feature_id][1]
            if name == "items":
                assert (record["kind"], record["status"], record["progress"],
                        record["planned_end"][:10]) == (stored.kind, stored.status.value,
                                                        stored.progress_pct,
                                                        stored.planned_end.isoformat())
            else:
                assert record["code"] == stored.code
                assert record["name"] == (stored.name if name == "communities"
                                          else stored.name_zh)
            if name == "communities":
                assert record["is_pilot"] is stored.is_pilot
                assert record["year_built"] == stored.year_built

    cgcs2000 = reads.pop(0)
    rows = db_rows(app_session, "communities")
    assert cgcs2000["crs"] == "EPSG:4490"
    assert cgcs2000["ids"] == intersecting(rows, WEST_BOX)
    assert_same_geometries(cgcs2000["wkb"], cgcs2000["ids"], rows)  # GDAL put lon/lat back

    lifts = reads.pop(0)
    assert lifts["ids"] == [i for i, (_, item) in db_rows(app_session, "items").items()
                            if item.kind == "lift_retrofit"]

    assert all(status == 200 for status, _ in log), [e for e in log if e[0] != 200]
    paths = [path for _, path in log]
    assert any(p.startswith("/ogc/collections/items/items?") and "kind=lift_retrofit" in p
               for p in paths)
    for name, page_size in PAGE_SIZES.items():
        # The reading requests (not GDAL's first sample) name the CRS; those with bbox are apart.
        pages = [p for p in paths if p.startswith(f"/ogc/collections/{name}/items?")
                 and f"limit={page_size}" in p and "crs=" in p and "bbox" not in p]
        assert len(pages) == -(-len(db_rows(app_session, name)) // page_size), name
        assert f"/ogc/collections/{name}/schema?" in paths
    assert any("bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490" in p
               and "crs=http://www.opengis.net/def/crs/EPSG/0/4490" in p for p in paths)

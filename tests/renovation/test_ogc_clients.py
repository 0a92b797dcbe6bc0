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

from renovation import moderation
from renovation.models import (
    Community,
    ModerationDecision,
    RenovationItem,
    SessionComment,
    Street,
    User,
    Visibility,
)

MODELS = {"streets": (Street, "boundary"), "communities": (Community, "footprint"),
          "items": (RenovationItem, "geometry"), "comments": (SessionComment, "location")}
#: What the public may see of each collection: of comments, the shown ones with a pin.
PUBLIC = {"comments": (SessionComment.location.is_not(None),
                       SessionComment.visibility == Visibility.VISIBLE)}
WEST_BOX = (116.14, 39.90, 116.20, 39.94)
#: Small pages, so that GDAL has to follow several next links in every collection.
PAGE_SIZES = {"streets": 4, "communities": 40, "items": 150, "comments": 2}

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
        sa.select(model.id, getattr(model, column), model).where(*PUBLIC.get(collection, ()))
        .order_by(model.id))}


def hide_a_comment(session) -> int:
    """Hide the first pinned comment through moderation, as a moderator would; its id."""
    moderator = session.scalar(sa.select(User).where(User.username == "moderator"))
    hidden = session.scalar(sa.select(SessionComment.id).where(
        SessionComment.location.is_not(None)).order_by(SessionComment.id))
    moderation.decide(session, moderator, hidden, ModerationDecision.HIDE, "测试")
    session.commit()
    return hidden


def box_of_some(rows: dict[int, tuple]) -> tuple[float, float, float, float]:
    """A box around the western half of the points in `rows`, edges between points."""
    lons = sorted({geometry.x for geometry, _ in rows.values()})
    lats = [geometry.y for geometry, _ in rows.values()]
    middle = len(lons) // 2
    return (lons[0] - 0.001, min(lats) - 0.001, (lons[middle - 1] + lons[middle]) / 2,
            max(lats) + 0.001)


def intersecting(rows: dict[int, tuple], bbox) -> list[int]:
    return sorted(i for i, (geometry, _) in rows.items() if geometry.intersects(box(*bbox)))


def assert_same_geometries(wkb: list[str], ids: list[int], rows: dict[int, tuple]) -> None:
    for feature_id, geometry in zip(ids, shapely.from_wkb(wkb), strict=True):
        stored = rows[feature_id][0]
        assert shapely.get_type_id(geometry) == shapely.get_type_id(stored), feature_id
        assert geometry.equals_exact(stored, 1e-6), feature_id


def test_owslib_reads_landing_conformance_collections_and_features(app, live_server,
                                                                   app_session):
    hidden = hide_a_comment(app_session)
    log = record_requests(app)
    api = Features(live_server + "/ogc")
    assert {"service-desc", "conformance", "data"} <= {link["rel"] for link in api.links}
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in \
        api.conformance()["conformsTo"]
    assert api.api()["openapi"] == "3.0.3"
    assert api.feature_collections() == list(MODELS)
    for name in MODELS:
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
        everything = api.collection_items(name, limit=1000)
        assert [f["id"] for f in everything["features"]] == list(rows)
    comments = db_rows(app_session, "comments")
    assert hidden not in comments and len(comments) >= 4
    some = box_of_some(comments)
    in_box = api.collection_items("comments", bbox=list(some), limit=1000)
    assert [f["id"] for f in in_box["features"]] == intersecting(comments, some)
    assert 0 < len(in_box["features"]) < len(comments)
    session_id = comments[next(iter(comments))][1].session_id
    by_session = api.collection_items("comments", session=session_id, limit=1000)
    assert [f["id"] for f in by_session["features"]] == [
        i for i, (_, c) in comments.items() if c.session_id == session_id]
    first = by_session["features"][0]
    assert first["properties"]["text"] == comments[first["id"]][1].body
    assert intersecting(db_rows(app_session, "communities"), WEST_BOX)
    assert log and all(status == 200 for status, _ in log), [e for e in log if e[0] != 200]


def test_gdal_reads_every_collection_completely_by_pages_and_by_bbox(app, live_server,
                                                                     app_session):
    hidden = hide_a_comment(app_session)
    comments = db_rows(app_session, "comments")
    some = box_of_some(comments)
    session_id = comments[next(iter(comments))][1].session_id
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
    # The comments: some of the pins by bbox, in CGCS2000, and one session's by its id.
    jobs.append({"what": "read", "source": source, "layer": "comments", "bbox": some,
                 "options": {"CRS": "EPSG:4490", "PAGE_SIZE": 2}})
    jobs.append({"what": "read", "source": source, "layer": "comments",
                 "options": {"where": f"session = {session_id}"}})
    layers, *reads = run_gdal(jobs)
    assert layers == [["streets", "MultiPolygon"], ["communities", "MultiPolygon"],
                      ["items", "Unknown"], ["comments", "Point"]]

    for name in PAGE_SIZES:
        rows = db_rows(app_session, name)
        everything, in_box = reads.pop(0), reads.pop(0)
        assert everything["crs"] == "OGC:CRS84"
        assert everything["ids"] == list(rows)
        assert_same_geometries(everything["wkb"], everything["ids"], rows)
        assert in_box["ids"] == intersecting(rows, WEST_BOX)
        assert 0 < len(in_box["ids"]) < len(rows) or name in ("streets", "comments")
        pairs = list(zip(everything["ids"], everything["records"], strict=True))
        for feature_id, record in pairs[::37]:  # a sample of rows
            stored = rows[feature_id][1]
            if name == "comments":
                assert (record["text"], record["session"]) == (stored.body, stored.session_id)
                assert record["author_kind"] in ("resident", "official", "attendee",
                                                 "facilitator")
                assert record["created_at"][:19] == stored.created_at.isoformat()[:19]
                continue
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

    pins_in_box, one_session = reads.pop(0), reads.pop(0)
    assert hidden not in comments
    assert pins_in_box["crs"] == "EPSG:4490"
    assert pins_in_box["ids"] == intersecting(comments, some)
    assert 0 < len(pins_in_box["ids"]) < len(comments)
    assert_same_geometries(pins_in_box["wkb"], pins_in_box["ids"], comments)
    assert one_session["ids"] == [i for i, (_, c) in comments.items()
                                  if c.session_id == session_id]

    assert all(status == 200 for status, _ in log), [e for e in log if e[0] != 200]
    paths = [path for _, path in log]
    assert any(p.startswith("/ogc/collections/items/items?") and "kind=lift_retrofit" in p
               for p in paths)
    assert any(p.startswith("/ogc/collections/comments/items?") and f"session={session_id}" in p
               for p in paths)
    for name, page_size in PAGE_SIZES.items():
        # The reading requests (not GDAL's first sample) name the CRS; those with bbox are apart.
        pages = [p for p in paths if p.startswith(f"/ogc/collections/{name}/items?")
                 and f"limit={page_size}" in p and "crs=" in p and "bbox" not in p]
        assert len(pages) == -(-len(db_rows(app_session, name)) // page_size), name
        assert f"/ogc/collections/{name}/schema?" in paths
    assert any("bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490" in p
               and "crs=http://www.opengis.net/def/crs/EPSG/0/4490" in p for p in paths)

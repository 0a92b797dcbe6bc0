"""OGC API – Features under /ogc: every resource, link, filter and refusal, on both backends.

Expected answers are worked out here from the database, independently of the app's
SQL: ids with a plain query, bounding-box matches with shapely from the stored
geometries. Every JSON document is checked against the schema the server's own
OpenAPI document gives for it, so the document cannot drift from the answers.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry
from referencing.jsonschema import DRAFT4
from shapely.geometry import box, shape

from geo.ogcapi import parse_datetime
from renovation import moderation
from renovation.comments import CommentInput, post_comment, support_counts
from renovation.models import (
    Community,
    ModerationDecision,
    OpenSpaceSession,
    RenovationItem,
    SessionComment,
    SessionTopic,
    Street,
    User,
    Visibility,
)
from renovation.ogc_collections import COLLECTIONS, COMMUNITIES, FeatureQuery
from renovation.progress import progress_by

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
MODELS = {"streets": (Street, "boundary"), "communities": (Community, "footprint"),
          "items": (RenovationItem, "geometry"), "comments": (SessionComment, "location")}
COLLECTION_IDS = ["streets", "communities", "items", "comments"]
#: What the public may see of each collection: of comments, the shown ones with a pin.
PUBLIC = {"comments": (SessionComment.location.is_not(None),
                       SessionComment.visibility == Visibility.VISIBLE)}
#: The column the datetime parameter filters on; streets have none.
TIMES = {"communities": Community.updated_at, "items": RenovationItem.updated_at,
         "comments": SessionComment.created_at}
#: A box in western Shijingshan holding some, not all, communities and items (lon/lat).
WEST_BOX = (116.14, 39.90, 116.20, 39.94)
EMPTY_BOX = (100.0, 30.0, 100.1, 30.1)
DISTRICT_BOX = (115.9, 39.8, 116.4, 40.1)
GRAZE = 1e-7


# --- Helpers ----------------------------------------------------------------------------------

def relative(href: str) -> str:
    """A link's href as the test client wants it: path and query."""
    parts = urlsplit(href)
    assert parts.scheme == "http" and parts.netloc == "localhost", href
    return parts.path + (f"?{parts.query}" if parts.query else "")


def get(client, path: str, *, mimetype: str = "application/json", **params):
    """GET `path` with query `params` (bbox_crs for bbox-crs); it must be a 200 of `mimetype`."""
    query = urlencode({{"bbox_crs": "bbox-crs"}.get(k, k): v for k, v in params.items()})
    response = client.get(f"{path}?{query}" if query else path)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, (path, params, body[:400])
    assert response.mimetype == mimetype, (path, params, response.mimetype)
    return response


def get_json(client, path: str, mimetype: str = "application/json", **params) -> dict:
    return json.loads(get(client, path, mimetype=mimetype, **params).get_data())


def get_features(client, collection: str, **params) -> dict:
    return get_json(client, f"/ogc/collections/{collection}/items", "application/geo+json",
                    **params)


def ids(body: dict) -> list[int]:
    return [f["id"] for f in body["features"]]


def links_by_rel(body: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for link in body["links"]:
        assert link["href"].startswith("http://localhost/ogc"), link
        found.setdefault(link["rel"], []).append(link)
    return found


def one_link(body: dict, rel: str, type_: str) -> dict:
    matching = [lk for lk in links_by_rel(body).get(rel, []) if lk.get("type") == type_]
    assert len(matching) == 1, (rel, type_, body["links"])
    return matching[0]


def db_ids(session, collection: str, *where) -> list[int]:
    model, _ = MODELS[collection]
    query = sa.select(model.id)
    if model is SessionComment:
        query = query.join(OpenSpaceSession, SessionComment.session).join(
            Community, OpenSpaceSession.community)
    if model is RenovationItem:
        query = query.join(Community, RenovationItem.community)
    if model is not Street:
        query = query.join(Street, Community.street)
    where = (*PUBLIC.get(collection, ()), *where)
    return list(session.scalars(query.where(*where).order_by(model.id)))


def db_shapes(session, collection: str) -> dict[int, object]:
    model, column = MODELS[collection]
    geometry = getattr(model, column)
    return {i: to_shape(g) for i, g in session.execute(
        sa.select(model.id, geometry).where(geometry.is_not(None),
                                            *PUBLIC.get(collection, ())))}


def intersecting(shapes: dict[int, object], bbox) -> set[int]:
    """Ids whose geometry intersects `bbox`; fails if the answer hangs on a hair's breadth."""
    minx, miny, maxx, maxy = bbox
    inner = box(minx + GRAZE, miny + GRAZE, maxx - GRAZE, maxy - GRAZE)
    outer = box(minx - GRAZE, miny - GRAZE, maxx + GRAZE, maxy + GRAZE)
    certain = {i for i, g in shapes.items() if g.intersects(inner)}
    possible = {i for i, g in shapes.items() if g.intersects(outer)}
    assert certain == possible, f"{bbox} grazes {possible - certain}: pick another box"
    return certain


def utc(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC; SQLite hands back UTC without an offset."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


class Spec:
    """The server's OpenAPI document, to check answers against what it promises."""

    def __init__(self, client):
        self.document = get_json(client, "/ogc/api",
                                 "application/vnd.oai.openapi+json")
        validate_spec(self.document)
        self.registry = Registry().with_resource("urn:ogc", DRAFT4.create_resource(self.document))

    def check(self, path: str, body: dict, mimetype: str) -> None:
        pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in
                           ("paths", path, "get", "responses", "200", "content", mimetype,
                            "schema"))
        validator = OAS30Validator({"$ref": f"urn:ogc#/{pointer}"}, registry=self.registry,
                                   format_checker=oas30_format_checker)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, (path, errors[:5])


# --- Landing page, conformance, API, collections ----------------------------------------------

def test_landing_page_links_lead_to_working_resources(client):
    landing = get_json(client, "/ogc")
    assert get_json(client, "/ogc/") == landing
    assert landing["title"] and landing["description"]
    by_rel = links_by_rel(landing)
    assert {"self", "alternate", "service-desc", "service-doc", "conformance",
            "data"} <= set(by_rel)
    for link in landing["links"]:
        response = client.get(relative(link["href"]))
        assert response.status_code == 200, link
        assert response.content_type.replace("; charset=utf-8", "") == link["type"], link
    conformance = get_json(client, relative(one_link(landing, "conformance", "application/json")
                                            ["href"]))
    assert set(conformance["conformsTo"]) == {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"}
    spec = Spec(client)
    assert spec.document["servers"] == [{"url": "http://localhost/ogc"}]
    for name in COLLECTION_IDS:
        parameters = spec.document["paths"][f"/collections/{name}/items"]["get"]["parameters"]
        assert {"$ref": "#/components/parameters/limit"} in parameters
    assert spec.document["components"]["parameters"]["limit"]["schema"] == {
        "type": "integer", "minimum": 1, "maximum": 1000, "default": 10}

    # The format follows f, else the Accept header; JSON when nothing says.
    assert client.get("/ogc", headers={"Accept": "text/html"}).mimetype == "text/html"
    assert client.get("/ogc?f=json", headers={"Accept": "text/html"}).mimetype == \
        "application/json"
    assert client.get("/ogc", headers={"Accept": "image/png"}).mimetype == "application/json"
    assert client.get("/ogc/collections/items/items",
                      headers={"Accept": "application/json"}).mimetype == "application/geo+json"


def test_collections_describe_extent_crs_schema_and_queryables(client, app_session):
    spec = Spec(client)
    collections = get_json(client, "/ogc/collections")
    assert {"self", "alternate"} <= set(links_by_rel(collections))
    assert [c["id"] for c in collections["collections"]] == COLLECTION_IDS
    for entry in collections["collections"]:
        name = entry["id"]
        assert get_json(client, f"/ogc/collections/{name}") == entry
        assert entry["itemType"] == "feature"
        assert entry["crs"] == [CRS84, EPSG4326, CGCS2000]
        assert entry["storageCrs"] == CRS84
        shapes = db_shapes(app_session, name)
        bounds = [min(g.bounds[0] for g in shapes.values()),
                  min(g.bounds[1] for g in shapes.values()),
                  max(g.bounds[2] for g in shapes.values()),
                  max(g.bounds[3] for g in shapes.values())]
        assert entry["extent"]["spatial"]["crs"] == CRS84
        assert entry["extent"]["spatial"]["bbox"][0] == pytest.approx(bounds, abs=1e-9)
        if name not in TIMES:
            assert "temporal" not in entry["extent"]
        else:
            first, last = app_session.execute(
                sa.select(sa.func.min(TIMES[name]), sa.func.max(TIMES[name]))
                .where(*PUBLIC.get(name, ()))).one()
            interval = [dt.datetime.fromisoformat(v) for v in
                        entry["extent"]["temporal"]["interval"][0]]
            assert interval == [utc(first), utc(last)]

        items_link = one_link(entry, "items", "application/geo+json")
        page = get_json(client, relative(items_link["href"]), "application/geo+json")
        spec.check(f"/collections/{name}/items", page, "application/geo+json")
        assert page["numberReturned"] == min(10, page["numberMatched"])  # the default limit

        schema = get_json(client, relative(one_link(entry, "describedby",
                                                    "application/schema+json")["href"]),
                          "application/schema+json")
        validator = OAS30Validator(schema, format_checker=oas30_format_checker)
        for feature in page["features"]:
            assert not list(validator.iter_errors(feature)), feature
            assert list(feature["properties"]) == list(schema["properties"]["properties"]
                                                       ["properties"])
        queryables = get_json(
            client, relative(one_link(entry, "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                                      "application/schema+json")["href"]),
            "application/schema+json")
        assert queryables["type"] == "object" and queryables["properties"]
        inline = {p["name"] for p in
                  spec.document["paths"][f"/collections/{name}/items"]["get"]["parameters"]
                  if "name" in p}  # the filters, and for streets datetime, said to do nothing
        assert set(queryables["properties"]) == inline - {"datetime"}


# --- Paging -----------------------------------------------------------------------------------

def test_next_links_page_through_every_feature_once(client, app_session):
    for collection, limit in (("streets", 4), ("communities", 60), ("items", 250),
                              ("comments", 3)):
        assert_pages_through(client, app_session, collection, limit)


def assert_pages_through(client, app_session, collection: str, limit: int) -> None:
    expected = db_ids(app_session, collection)
    body = get_features(client, collection, limit=limit)
    seen, pages, offset = [], 0, 0
    while True:
        pages += 1
        assert body["numberMatched"] == len(expected)
        assert body["numberReturned"] == len(body["features"]) <= limit
        dt.datetime.fromisoformat(body["timeStamp"])
        by_rel = links_by_rel(body)
        assert by_rel["self"][0]["type"] == "application/geo+json"
        assert by_rel["alternate"][0]["type"] == "text/html"
        if offset:
            prev = dict(parse_qsl(urlsplit(one_link(body, "prev", "application/geo+json")
                                           ["href"]).query))
            assert int(prev["offset"]) == max(offset - limit, 0)
        else:
            assert "prev" not in by_rel
        seen += ids(body)
        offset += len(body["features"])
        if "next" not in by_rel:
            break
        body = get_json(client, relative(one_link(body, "next", "application/geo+json")["href"]),
                        mimetype="application/geo+json")
    assert seen == expected, collection
    assert pages == -(-len(expected) // limit)

    # Past the end: an empty page, with a way back and no way on.
    beyond = get_features(client, collection, limit=limit, offset=len(expected) + 5)
    assert beyond["features"] == [] and beyond["numberMatched"] == len(expected)
    assert "next" not in links_by_rel(beyond) and "prev" in links_by_rel(beyond)


def test_limit_defaults_to_10_and_large_limits_are_clamped(client, app_session):
    expected = db_ids(app_session, "items")
    assert ids(get_features(client, "items")) == expected[:10]
    body = get_features(client, "items", limit=5000)
    assert ids(body) == expected[:1000]
    # The page size used is the maximum, 1000: the way back says so.
    beyond = get_features(client, "items", limit=5000, offset=1500)
    prev = dict(parse_qsl(urlsplit(one_link(beyond, "prev", "application/geo+json")
                                   ["href"]).query))
    assert (prev["limit"], prev["offset"]) == ("1000", "500")
    assert ids(get_features(client, "items", limit="0" * 30 + "7")) == expected[:7]


# --- Filters ----------------------------------------------------------------------------------

def test_bbox_in_crs84_and_in_lat_lon_crss_matches_shapely(client, app_session):
    spec = Spec(client)
    for collection in COLLECTION_IDS:
        shapes = db_shapes(app_session, collection)
        minx, miny, maxx, maxy = WEST_BOX
        expected = sorted(intersecting(shapes, WEST_BOX))
        body = get_features(client, collection, bbox=f"{minx},{miny},{maxx},{maxy}", limit=1000)
        spec.check(f"/collections/{collection}/items", body, "application/geo+json")
        assert ids(body) == expected, collection
        assert body["numberMatched"] == len(expected)
        for crs in (EPSG4326, CGCS2000):  # latitude first, as those CRSs define
            swapped = get_features(client, collection, bbox=f"{miny},{minx},{maxy},{maxx}",
                                   bbox_crs=crs, limit=1000)
            assert ids(swapped) == expected, (collection, crs)
        as_crs84 = get_features(client, collection, bbox=f"{minx},{miny},{maxx},{maxy}",
                                bbox_crs=CRS84, limit=1000)
        with_heights = get_features(client, collection,
                                    bbox=f"{minx},{miny},-10,{maxx},{maxy},500", limit=1000)
        assert ids(as_crs84) == ids(with_heights) == expected
        for bbox in (EMPTY_BOX, DISTRICT_BOX):
            found = get_features(client, collection, bbox=",".join(map(str, bbox)), limit=1000)
            assert ids(found) == sorted(intersecting(shapes, bbox)), (collection, bbox)
        # Across the antimeridian: two boxes, neither near Beijing.
        assert ids(get_features(client, collection, bbox="170,-10,-170,10")) == []
    west = intersecting(db_shapes(app_session, "communities"), WEST_BOX)
    assert 0 < len(west) < len(db_ids(app_session, "communities"))


def test_property_filters_keep_the_equal_features(client, app_session):
    street = app_session.scalars(sa.select(Street).order_by(Street.code).offset(1)).first()
    body = get_features(client, "communities", street_code=street.code, limit=1000)
    assert ids(body) == db_ids(app_session, "communities", Street.code == street.code)
    assert {f["properties"]["street_code"] for f in body["features"]} == {street.code}
    pilots = get_features(client, "communities", is_pilot="true", limit=1000)
    assert ids(pilots) == db_ids(app_session, "communities", Community.is_pilot)
    assert len(ids(pilots)) == 9
    assert ids(get_features(client, "communities", is_pilot="0", limit=1000)) == db_ids(
        app_session, "communities", sa.not_(Community.is_pilot))
    assert ids(get_features(client, "streets", code=street.code)) == [street.id]

    kind, status, street_code = app_session.execute(  # the commonest combination
        sa.select(RenovationItem.kind, RenovationItem.status, Street.code)
        .join(Community, RenovationItem.community).join(Street, Community.street)
        .group_by(RenovationItem.kind, RenovationItem.status, Street.code)
        .order_by(sa.func.count().desc(), RenovationItem.kind).limit(1)).one()
    lifts = get_features(client, "items", kind=kind, status=status.value,
                         street_code=street_code, limit=1000)
    expected = db_ids(app_session, "items", RenovationItem.kind == kind,
                      RenovationItem.status == status, Street.code == street_code)
    assert ids(lifts) == expected and len(expected) > 1
    one = lifts["features"][0]["properties"]
    assert ids(get_features(client, "items", community_code=one["community_code"],
                            limit=1000)) == db_ids(app_session, "items",
                                                   Community.code == one["community_code"])
    # Filters and the next link keep each other.
    paged = get_features(client, "items", kind="lift_retrofit", limit=5)
    follow = get_json(client, relative(one_link(paged, "next", "application/geo+json")["href"]),
                      "application/geo+json")
    assert ids(paged) + ids(follow) == db_ids(app_session, "items",
                                              RenovationItem.kind == "lift_retrofit")[:10]
    assert ids(get_features(client, "items", kind="lift_retrofit", bbox="100,30,100.1,30.1")) == []


def test_datetime_filters_on_update_time(client, app_session):
    item_ids = db_ids(app_session, "items")
    a, b, c = item_ids[:3]
    times = {a: dt.datetime(2001, 1, 1, tzinfo=dt.UTC),
             b: dt.datetime(2001, 6, 1, 12, tzinfo=dt.UTC),
             c: dt.datetime(2001, 12, 31, 23, 59, 59, tzinfo=dt.UTC)}
    for item_id, moment in times.items():
        app_session.execute(sa.update(RenovationItem).where(RenovationItem.id == item_id)
                            .values(updated_at=moment))
    community_id = db_ids(app_session, "communities")[5]
    app_session.execute(sa.update(Community).where(Community.id == community_id)
                        .values(updated_at=dt.datetime(2001, 3, 3, tzinfo=dt.UTC)))
    app_session.commit()

    def matching(value: str, collection: str = "items") -> list[int]:
        return ids(get_features(client, collection, datetime=value, limit=1000))

    assert matching("2001-06-01T12:00:00Z") == [b]
    assert matching("2001-06-01T20:00:00+08:00") == [b]
    assert matching("2001-06-01T12:00:00.000001Z") == []
    assert matching("2001-01-01T00:00:00Z/2001-06-30T00:00:00Z") == [a, b]
    assert matching("../2002-01-01T00:00:00Z") == [a, b, c]
    assert matching("/2002-01-01T00:00:00Z") == [a, b, c]
    assert matching("2001-12-31") == [c]
    assert matching("2001-01-02/..") == [i for i in item_ids if i != a]
    assert matching("2001-03-03", "communities") == [community_id]
    # Streets have no update time: the filter is accepted and keeps them all.
    assert matching("2001-03-03", "streets") == db_ids(app_session, "streets")
    updated = get_json(client, f"/ogc/collections/items/items/{c}", "application/geo+json")
    assert updated["properties"]["updated_at"] == "2001-12-31T23:59:59Z"


# --- CRS --------------------------------------------------------------------------------------

def test_crs_4490_and_4326_give_latitude_first_with_content_crs(client, app_session):
    default = get(client, "/ogc/collections/communities/items", mimetype="application/geo+json",
                  limit=20)
    assert default.headers["Content-Crs"] == f"<{CRS84}>"
    default_body = json.loads(default.get_data())
    shapes = db_shapes(app_session, "communities")
    for feature in default_body["features"]:  # CRS84 is the stored longitude/latitude
        assert shape(feature["geometry"]).equals_exact(shapes[feature["id"]], 1e-6)
    for crs in (CGCS2000, EPSG4326):
        response = get(client, "/ogc/collections/communities/items",
                       mimetype="application/geo+json", limit=20, crs=crs)
        assert response.headers["Content-Crs"] == f"<{crs}>"
        body = json.loads(response.get_data())
        assert ids(body) == ids(default_body)
        for mine, theirs in zip(body["features"], default_body["features"], strict=True):
            assert mine["properties"] == theirs["properties"]
            assert mine["geometry"]["coordinates"] == [
                [[[y, x] for x, y in ring] for ring in polygon]
                for polygon in theirs["geometry"]["coordinates"]]
        follow = links_by_rel(body)["next"][0]["href"]
        assert dict(parse_qsl(urlsplit(follow).query))["crs"] == crs

    item = db_ids(app_session, "items", RenovationItem.kind == "lift_retrofit")[0]
    point = get(client, f"/ogc/collections/items/items/{item}", mimetype="application/geo+json",
                crs=CGCS2000)
    assert point.headers["Content-Crs"] == f"<{CGCS2000}>"
    lon, lat = to_shape(app_session.get(RenovationItem, item).geometry).coords[0]
    assert json.loads(point.get_data())["geometry"]["coordinates"] == [lat, lon]


# --- Refusals ---------------------------------------------------------------------------------

BAD_REQUESTS = [
    ("/ogc/collections/items/items?bbox=116,39.8,116.4", 400),
    ("/ogc/collections/items/items?bbox=a,b,c,d", 400),
    ("/ogc/collections/items/items?bbox=116,39.8,116.4,40.1,3", 400),
    ("/ogc/collections/items/items?bbox=", 400),
    ("/ogc/collections/items/items?bbox=116,95,116.4,96", 400),
    ("/ogc/collections/items/items?bbox=116,40,116.4,39", 400),
    ("/ogc/collections/items/items?bbox=nan,39,116,40", 400),
    ("/ogc/collections/items/items?bbox=39.8,116,40.1,116.4&bbox-crs=EPSG:4326", 400),
    ("/ogc/collections/items/items?limit=abc", 400),
    ("/ogc/collections/items/items?limit=-1", 400),
    ("/ogc/collections/items/items?limit=0", 400),
    ("/ogc/collections/items/items?limit=1.5", 400),
    ("/ogc/collections/items/items?limit=%C2%B2", 400),
    ("/ogc/collections/items/items?offset=-5", 400),
    ("/ogc/collections/items/items?offset=" + "9" * 40, 400),
    ("/ogc/collections/items/items?crs=unknown", 400),
    ("/ogc/collections/items/items?crs=http://www.opengis.net/def/crs/EPSG/0/3857", 400),
    ("/ogc/collections/items/items/1?crs=EPSG:4490", 400),
    ("/ogc/collections/items/items?datetime=garbage", 400),
    ("/ogc/collections/items/items?datetime=2026-13-01", 400),
    ("/ogc/collections/items/items?datetime=2026-01-01T00:00:00", 400),  # no offset
    ("/ogc/collections/items/items?datetime=2026-01-01T", 400),
    ("/ogc/collections/items/items?datetime=2026-02-01/2026-01-01", 400),
    ("/ogc/collections/items/items?kind=rocket", 400),
    ("/ogc/collections/items/items?status=done", 400),
    ("/ogc/collections/items/items?street_code=" + "1" * 65, 400),
    ("/ogc/collections/communities/items?is_pilot=maybe", 400),
    ("/ogc/collections/communities/items?kind=lift_retrofit", 400),  # not a communities filter
    ("/ogc/collections/comments/items?session=abc", 400),
    ("/ogc/collections/comments/items?session=0", 400),
    ("/ogc/collections/comments/items?session=-1", 400),
    ("/ogc/collections/comments/items?session=2147483648", 400),
    ("/ogc/collections/comments/items?session=" + "9" * 40, 400),
    ("/ogc/collections/comments/items?session=%EF%BC%91", 400),  # a full-width digit one
    ("/ogc/collections/comments/items?kind=lift_retrofit", 400),
    ("/ogc/collections/items/items?session=1", 400),  # not an items filter
    ("/ogc/collections/comments/items/999999", 404),
    ("/ogc/collections/items/items?colour=red", 400),
    ("/ogc/collections/items/items?limit=1&limit=2", 400),
    ("/ogc/collections/items/items?f=xml", 400),
    ("/ogc/collections/items/items?kind=lift%00", 400),
    ("/ogc/collections/items/items?na%00me=1", 400),
    ("/ogc/collections?bbox=1,2,3,4", 400),
    ("/ogc/collections/items/schema?f=geojson", 400),
    ("/ogc/collections/nothing", 404),
    ("/ogc/collections/nothing/items", 404),
    ("/ogc/collections/%00/items", 400),
    ("/ogc/collections/items/items/0", 404),
    ("/ogc/collections/items/items/999999", 404),
    ("/ogc/collections/items/items/" + "9" * 40, 404),
    ("/ogc/collections/items/items/-1", 404),
    ("/ogc/collections/items/items/1.0", 404),
    ("/ogc/collections/items/items/%EF%BC%91", 404),  # a full-width digit one
    ("/ogc/collections/items/items/1/more", 404),
    ("/ogc/nothing/here", 404),
]


def test_bad_requests_are_ogc_exceptions_never_500(client):
    for path, status in BAD_REQUESTS:
        response = client.get(path)
        assert response.status_code == status, (path, response.get_data(as_text=True)[:300])
        assert response.mimetype == "application/json", path
        body = response.get_json()
        assert set(body) == {"code", "description"}, path
        assert body["code"] == {400: "InvalidParameterValue", 404: "NotFound"}[status], path
        assert body["description"], path
    english = client.get("/ogc/collections/items/items?limit=abc&lang=en").get_json()
    assert english["description"] == "Parameter limit: must be a whole number from 1."
    page = client.get("/ogc/collections/items/items?limit=abc&f=html")
    assert page.status_code == 400 and page.mimetype == "text/html"
    page = client.get("/ogc/collections/items/schema?f=html")
    assert page.status_code == 400 and page.mimetype == "text/html"
    page = client.get("/ogc/collections/nothing", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html"


# --- HTML -------------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>"


def test_html_pages_render_page_links_and_escape_hostile_names(client, app_session):
    community = app_session.scalars(
        sa.select(Community).where(Community.items.any()).order_by(Community.id)).first()
    community.name = HOSTILE
    street = app_session.get(Street, community.street_id)
    street.name_zh = HOSTILE
    app_session.commit()
    item = community.items[0]
    pages = {
        "/ogc": "/ogc/collections/items?f=html",
        "/ogc/conformance": "conf/crs",
        "/ogc/api": "/collections/items/items/{featureId}",
        "/ogc/collections": "/ogc/collections/communities/items?f=html",
        "/ogc/collections/communities": "/ogc/collections/communities/items?f=html",
        f"/ogc/collections/communities/items?code={community.code}": "&lt;script&gt;",
        f"/ogc/collections/items/items?community_code={community.code}": "&lt;script&gt;",
        f"/ogc/collections/communities/items/{community.id}": "&lt;script&gt;",
        f"/ogc/collections/streets/items/{street.id}": "&lt;script&gt;",
        f"/ogc/collections/items/items/{item.id}": "&lt;script&gt;",
    }
    for path, fragment in pages.items():
        response = client.get(path + ("&" if "?" in path else "?") + "f=html")
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and response.mimetype == "text/html", path
        assert fragment in html, (path, fragment)
        assert "<script" not in html, path  # no scripts at all, injected or ours
        assert "'nonce-" in response.headers["Content-Security-Policy"]
    # Paging in HTML: the links carry the filters and stay HTML.
    html = client.get("/ogc/collections/items/items?f=html&limit=7&kind=lift_retrofit"
                      ).get_data(as_text=True)
    assert 'rel="next" href="http://localhost/ogc/collections/items/items?kind=lift_retrofit' \
           '&amp;f=html&amp;limit=7&amp;offset=7"' in html
    html = client.get("/ogc/collections/items/items?f=html&limit=7&offset=7").get_data(as_text=True)
    assert 'rel="prev"' in html and 'rel="next"' in html


def test_features_carry_the_pages_figures(client, app_session):
    """The same progress roll-up as the pages, the stored attributes, the feature's own page."""
    progress = progress_by(app_session, Community.id)
    body = get_features(client, "communities", limit=1000)
    community = app_session.get(Community, body["features"][0]["id"])
    for feature in body["features"]:
        expected = progress.get(feature["id"])
        assert feature["properties"]["progress"] == (expected.percent if expected else None)
        assert feature["properties"]["items"] == (expected.items if expected else 0)
    first = body["features"][0]["properties"]
    assert (first["code"], first["name"], first["year_built"], first["households"]) == (
        community.code, community.name, community.year_built, community.households)
    single = get_json(client, f"/ogc/collections/communities/items/{community.id}",
                      "application/geo+json")
    assert single["properties"] == first
    assert {"self", "alternate", "collection"} <= set(links_by_rel(single))
    Spec(client).check("/collections/communities/items/{featureId}", single,
                       "application/geo+json")


# --- Pinned comments --------------------------------------------------------------------------

def users_named(db, *usernames: str) -> list[User]:
    return [db.scalar(sa.select(User).where(User.username == name)) for name in usernames]


def open_session(db) -> OpenSpaceSession:
    return db.scalar(sa.select(OpenSpaceSession).where(OpenSpaceSession.status == "open")
                     .order_by(OpenSpaceSession.id))


def a_pin(db, community_id: int) -> tuple[float, float]:
    """Where a shown comment of the community is pinned: a place pins are allowed."""
    location = db.scalar(sa.select(SessionComment.location)
                         .join(OpenSpaceSession, SessionComment.session)
                         .where(OpenSpaceSession.community_id == community_id,
                                SessionComment.location.is_not(None))
                         .order_by(SessionComment.id))
    return to_shape(location).coords[0]


def between_pins(shapes: dict[int, object]) -> tuple[float, float, float, float]:
    """A box around the western half of the pins, its east edge halfway between two pins."""
    lons = sorted({g.x for g in shapes.values()})
    lats = [g.y for g in shapes.values()]
    middle = len(lons) // 2
    return (lons[0] - 0.001, min(lats) - 0.001, (lons[middle - 1] + lons[middle]) / 2,
            max(lats) + 0.001)


def expected_author_kind(comment: SessionComment) -> str:
    if comment.is_official:
        return "official"
    if comment.speaker_name is not None:
        return "attendee"
    return "facilitator" if comment.author_id == comment.session.facilitator_id else "resident"


def test_comments_are_the_shown_pins_with_what_the_session_page_shows(client, app_session):
    spec = Spec(client)
    public = db_ids(app_session, "comments")
    everything = list(app_session.scalars(sa.select(SessionComment.id)))
    assert len(public) >= 5 and set(public) < set(everything)  # replies without pins stay out
    response = get(client, "/ogc/collections/comments/items", mimetype="application/geo+json",
                   limit=1000)
    body = json.loads(response.get_data())
    spec.check("/collections/comments/items", body, "application/geo+json")
    assert ids(body) == public and body["numberMatched"] == len(public)
    supports = support_counts(app_session, public)
    kinds = set()
    for feature in body["features"]:
        comment = app_session.get(SessionComment, feature["id"])
        props = feature["properties"]
        kinds.add(props["author_kind"])
        assert props == {
            "session": comment.session_id, "session_title": comment.session.title,
            "community_code": comment.session.community.code,
            "community_name": comment.session.community.name,
            "street_code": comment.session.community.street.code,
            "topic_title": app_session.get(SessionTopic, comment.topic_id).title,
            "text": comment.body, "author_kind": expected_author_kind(comment),
            "author_kind_name": props["author_kind_name"],
            "supports": supports.get(comment.id, 0),
            "created_at": props["created_at"], "updated_at": props["created_at"]}
        assert dt.datetime.fromisoformat(props["created_at"]) == utc(comment.created_at)
        assert shape(feature["geometry"]).equals_exact(to_shape(comment.location), 1e-6)
    assert {"resident", "attendee"} <= kinds
    assert any(f["properties"]["supports"] > 1 for f in body["features"])
    # Who said it is not published: no names of authors, of attendees, of accounts.
    raw = response.get_data(as_text=True)
    authors = app_session.scalars(sa.select(User).distinct().join(
        SessionComment, SessionComment.author_id == User.id))
    for person in authors:
        assert person.display_name not in raw
    for speaker in app_session.scalars(sa.select(SessionComment.speaker_name)
                                       .where(SessionComment.speaker_name.is_not(None))):
        assert speaker not in raw
    assert "username" not in raw and "speaker" not in raw

    # Hidden by flags (pending a moderator): gone from pages, counts, single features, boxes.
    target, other = public[0], public[1]
    for reporter in users_named(app_session, "planner", "official-bajiao", "official-laoshan"):
        moderation.flag_comment(app_session, reporter, target, "广告", flags_to_hide=3)
    app_session.commit()
    assert app_session.get(SessionComment, target).visibility is Visibility.PENDING
    point = to_shape(app_session.get(SessionComment, target).location)
    around = f"{point.x - 1e-4},{point.y - 1e-4},{point.x + 1e-4},{point.y + 1e-4}"

    def shown(**params) -> list[int]:
        return ids(get_features(client, "comments", limit=1000, **params))

    assert shown() == db_ids(app_session, "comments") == public[1:]
    assert target not in shown(bbox=around)
    assert target not in shown(session=str(app_session.get(SessionComment, target).session_id))
    assert client.get(f"/ogc/collections/comments/items/{target}").status_code == 404
    # Hidden by a moderator: the same.
    moderator, = users_named(app_session, "moderator")
    moderation.decide(app_session, moderator, other, ModerationDecision.HIDE, "人身攻击")
    app_session.commit()
    assert shown() == db_ids(app_session, "comments") == public[2:]
    assert client.get(f"/ogc/collections/comments/items/{other}?f=html").status_code == 404
    # Restored: back again.
    moderation.decide(app_session, moderator, target, ModerationDecision.RESTORE, "不违规")
    app_session.commit()
    assert shown() == [target, *public[2:]]
    assert get_json(client, f"/ogc/collections/comments/items/{target}",
                    "application/geo+json")["id"] == target

    # A new comment shows once it is pinned, never without its pin.
    session_ = open_session(app_session)
    resident, = users_named(app_session, "resident")
    lon, lat = a_pin(app_session, session_.community_id)
    plain = post_comment(app_session, resident, session_.id,
                         CommentInput(session_.topics[0].id, "没有定位的意见"))
    pinned = post_comment(app_session, resident, session_.id,
                          CommentInput(session_.topics[0].id, "有定位的意见", lon=lon, lat=lat))
    app_session.commit()
    now = shown()
    assert pinned.id in now and plain.id not in now
    assert now == db_ids(app_session, "comments")
    extent = get_json(client, "/ogc/collections/comments")["extent"]
    interval = [dt.datetime.fromisoformat(v) for v in extent["temporal"]["interval"][0]]
    assert interval[1] == utc(app_session.get(SessionComment, pinned.id).created_at)


def test_comments_filter_by_street_community_session_bbox_and_time(client, app_session):
    public = db_ids(app_session, "comments")
    sessions_ = sorted({app_session.get(SessionComment, i).session_id for i in public})
    assert len(sessions_) >= 2
    for session_id in sessions_:
        body = get_features(client, "comments", session=str(session_id), limit=1000)
        assert ids(body) == db_ids(app_session, "comments",
                                   SessionComment.session_id == session_id)
        assert {f["properties"]["session"] for f in body["features"]} == {session_id}
    paged = get_features(client, "comments", session=str(sessions_[-1]), limit=2)
    follow = get_json(client, relative(one_link(paged, "next", "application/geo+json")["href"]),
                      "application/geo+json")
    assert ids(paged) + ids(follow) == db_ids(
        app_session, "comments", SessionComment.session_id == sessions_[-1])[:4]
    community, street = app_session.execute(
        sa.select(Community.code, Street.code).join(Street, Community.street)
        .where(Community.is_district_pilot)).one()
    assert ids(get_features(client, "comments", community_code=community, limit=1000)) == \
        db_ids(app_session, "comments", Community.code == community) == public
    assert ids(get_features(client, "comments", street_code=street, limit=1000)) == public
    other_street = app_session.scalar(sa.select(Street.code).where(Street.code != street))
    assert ids(get_features(client, "comments", street_code=other_street)) == []
    assert ids(get_features(client, "comments", session="2147483647")) == []

    # The box goes through the pins' spatial index, then exactly; in lat/lon CRSs too.
    shapes = db_shapes(app_session, "comments")
    west = between_pins(shapes)
    expected = sorted(intersecting(shapes, west))
    assert 0 < len(expected) < len(public)
    minx, miny, maxx, maxy = west
    body = get_features(client, "comments", bbox=f"{minx},{miny},{maxx},{maxy}")
    assert ids(body) == expected and body["numberMatched"] == len(expected)
    swapped = get_features(client, "comments", bbox=f"{miny},{minx},{maxy},{maxx}",
                           bbox_crs=CGCS2000, crs=CGCS2000, limit=1000)
    assert ids(swapped) == expected
    for feature in swapped["features"]:
        lon, lat = shapes[feature["id"]].coords[0]
        assert feature["geometry"]["coordinates"] == pytest.approx([lat, lon], abs=1e-9)
    assert ids(get_features(client, "comments", bbox=f"{minx},{miny},{maxx},{maxy}",
                            session=str(sessions_[0]), limit=1000)) == sorted(
        set(expected) & set(db_ids(app_session, "comments",
                                   SessionComment.session_id == sessions_[0])))

    # datetime filters on created_at.
    a, b = public[:2]
    for comment_id, moment in ((a, dt.datetime(2001, 1, 1, tzinfo=dt.UTC)),
                               (b, dt.datetime(2001, 6, 1, 12, tzinfo=dt.UTC))):
        app_session.execute(sa.update(SessionComment).where(SessionComment.id == comment_id)
                            .values(created_at=moment))
    app_session.commit()

    def matching(value: str) -> list[int]:
        return ids(get_features(client, "comments", datetime=value, limit=1000))

    assert matching("2001-06-01T20:00:00+08:00") == [b]
    assert matching("../2001-12-31T00:00:00Z") == [a, b]
    assert matching("2001-01-02/..") == [i for i in public if i != a]
    one = get_json(client, f"/ogc/collections/comments/items/{b}", "application/geo+json")
    assert one["properties"]["created_at"] == one["properties"]["updated_at"] == \
        "2001-06-01T12:00:00Z"
    api = Spec(client).document
    datetime = next(p for p in api["paths"]["/collections/comments/items"]["get"]["parameters"]
                    if p.get("name") == "datetime")
    assert "created_at" in datetime["description"]


def test_comment_text_is_plain_in_json_and_escaped_in_html(client, app_session):
    session_ = open_session(app_session)
    resident, = users_named(app_session, "resident")
    lon, lat = a_pin(app_session, session_.community_id)
    hostile = post_comment(app_session, resident, session_.id,
                           CommentInput(session_.topics[0].id, HOSTILE + " & <b>", lon=lon,
                                        lat=lat))
    app_session.commit()
    one = get_json(client, f"/ogc/collections/comments/items/{hostile.id}",
                   "application/geo+json")
    assert one["properties"]["text"] == HOSTILE + " & <b>"
    for path in (f"/ogc/collections/comments/items?session={session_.id}&limit=1000&f=html",
                 f"/ogc/collections/comments/items/{hostile.id}?f=html",
                 "/ogc/collections/comments?f=html"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and response.mimetype == "text/html", path
        assert "<script" not in html and "<b>" not in html, path
        if "collections/comments/items" in path:
            assert "&lt;script&gt;" in html and "&amp; &lt;b&gt;" in html, path


# --- Pages as GeoJSON text (the path GIS software pages through) ------------------------------

HOSTILE_JSON = 'say "hi"\\ </script><b>\n\t\u2028 引号\'s \x01'


def page_features(page) -> list[dict]:
    return json.loads(f"[{page.features_json}]")


def test_pages_as_text_hold_the_same_features_as_the_dictionaries(app_session):
    """Whatever writes a page's text (the database, on PostGIS, for the communities), it
    holds exactly what the dictionaries hold: hostile names, missing footprints and
    figures, times with and without microseconds, both languages, every filter."""
    street = app_session.scalars(sa.select(Street).order_by(Street.code)).first()
    street.name_zh, street.name_en = HOSTILE_JSON, HOSTILE_JSON[::-1]
    communities = app_session.scalars(sa.select(Community).where(Community.street == street)
                                      .order_by(Community.id)).all()
    first, second, third = communities[:3]
    first.name, first.code = HOSTILE_JSON, "C-\"hostile\"\\"
    first.updated_at = dt.datetime(2026, 3, 1, 8, 30, 15, tzinfo=dt.UTC)
    second.updated_at = dt.datetime(2026, 3, 1, 8, 30, 15, 120, tzinfo=dt.UTC)
    second.footprint = None
    third.year_built = third.households = third.building_count = None
    third.building_area_m2 = 12345.678
    app_session.execute(sa.delete(RenovationItem).where(RenovationItem.community_id == third.id))
    app_session.commit()

    today = dt.datetime.now(dt.UTC)
    queries = [
        FeatureQuery(),
        FeatureQuery(bboxes=(WEST_BOX,)),
        FeatureQuery(bboxes=((116.19, 39.90, 180.0, 39.94), (-180.0, 39.90, -179.0, 39.94))),
        FeatureQuery(filters=(("street_code", street.code),)),
        FeatureQuery(filters=(("is_pilot", True), ("street_code", street.code))),
        FeatureQuery(interval=parse_datetime(f"../{today.date().isoformat()}")),
        FeatureQuery(interval=parse_datetime("2026-03-01T08:30:15Z/2026-03-01T08:30:16Z")),
        FeatureQuery(bboxes=(EMPTY_BOX,)),
    ]
    for collection in COLLECTIONS.values():
        for query in queries:
            if any(name not in collection.queryables for name, _ in query.filters):
                continue
            for limit, offset, lang in ((1000, 0, "zh"), (1000, 0, "en"), (7, 3, "zh")):
                page = collection.page(app_session, query, limit=limit, offset=offset,
                                       lang=lang)
                expected = collection.features(app_session, query, limit=limit,
                                               offset=offset, lang=lang)
                assert page_features(page) == expected, (collection.id, query, limit, lang)
                assert page.returned == len(expected)
                assert page.matched == collection.count(app_session, query)
    # The case the comparison above must have met.
    features = {f["id"]: f for f in page_features(
        COMMUNITIES.page(app_session, FeatureQuery(filters=(("street_code", street.code),)),
                         limit=1000))}
    assert features[first.id]["properties"]["name"] == HOSTILE_JSON
    assert features[first.id]["properties"]["street_name"] == HOSTILE_JSON
    assert features[first.id]["properties"]["updated_at"] == "2026-03-01T08:30:15Z"
    assert features[second.id]["properties"]["updated_at"] == "2026-03-01T08:30:15.000120Z"
    assert features[second.id]["geometry"] is None
    assert (features[third.id]["properties"]["progress"],
            features[third.id]["properties"]["items"]) == (None, 0)
    assert features[third.id]["properties"]["building_area_m2"] == 12345.678


def test_communities_progress_is_the_pages_to_the_last_digit(app_session):
    """Weighted sums that fall on a rounding tie, and a kind the catalogue does not know
    (it weighs 1), give the same figure as renovation.progress."""
    community = app_session.scalars(sa.select(Community).order_by(Community.id)).first()
    app_session.execute(sa.delete(RenovationItem).where(
        RenovationItem.community_id == community.id))
    # lift_retrofit weighs 5, stairwell 1: (5·12 + 1·13) / 6 and friends, some ties among them.
    for kind, progress in (("lift_retrofit", 12), ("stairwell", 13), ("stairwell", 35),
                           ("drainage", 1), ("not_in_the_catalogue", 50)):
        app_session.add(RenovationItem(community=community, kind=kind, title="t",
                                       progress_pct=progress))
    app_session.commit()
    expected = progress_by(app_session, Community.id)[community.id]
    found = page_features(COMMUNITIES.page(app_session, FeatureQuery(), limit=1))[0]
    assert found["id"] == community.id
    assert (found["properties"]["progress"], found["properties"]["items"]) == (
        expected.percent, expected.items)
    for progress in range(0, 101):  # every figure one more item can make
        item = RenovationItem(community=community, kind="stairwell", title="t",
                              progress_pct=progress)
        app_session.add(item)
        app_session.flush()
        expected = progress_by(app_session, Community.id)[community.id]
        found = page_features(COMMUNITIES.page(app_session, FeatureQuery(), limit=1))[0]
        assert found["properties"]["progress"] == expected.percent, progress
        app_session.delete(item)
        app_session.flush()
    app_session.rollback()


def test_number_matched_is_counted_only_when_the_page_cannot_tell():
    """A short page that is not past the end holds the last match: no COUNT is run
    (no session is even needed); a full page or one past the end is counted."""
    query = FeatureQuery()
    assert COMMUNITIES.matched(None, query, limit=10, offset=0, returned=3) == 3
    assert COMMUNITIES.matched(None, query, limit=10, offset=20, returned=4) == 24
    assert COMMUNITIES.matched(None, query, limit=10, offset=0, returned=0) == 0
    with pytest.raises(AttributeError):  # these need the count, hence a session
        COMMUNITIES.matched(None, query, limit=10, offset=0, returned=10)
    with pytest.raises(AttributeError):
        COMMUNITIES.matched(None, query, limit=10, offset=20, returned=0)


def test_paging_edges_report_the_full_count(client, app_session):
    """Pages that end exactly at the last match, one short of it, or past it."""
    everything = db_ids(app_session, "communities")
    total = len(everything)
    exact = get_features(client, "communities", limit=total)
    assert (exact["numberReturned"], exact["numberMatched"]) == (total, total)
    assert "next" not in links_by_rel(exact)
    short = get_features(client, "communities", limit=total - 1)
    assert (short["numberReturned"], short["numberMatched"]) == (total - 1, total)
    last = get_json(client, relative(one_link(short, "next", "application/geo+json")["href"]),
                    "application/geo+json")
    assert ids(last) == everything[-1:] and last["numberMatched"] == total
    assert "next" not in links_by_rel(last)
    beyond = get_features(client, "communities", offset=total + 5)
    assert (beyond["numberReturned"], beyond["numberMatched"]) == (0, total)
    # The text path and the CRS path (dictionaries) agree on a lat/lon CRS too.
    crs84 = get_features(client, "communities", limit=5, bbox=",".join(map(str, WEST_BOX)))
    latlon = get_features(client, "communities", limit=5, crs=EPSG4326,
                          bbox=",".join(map(str, WEST_BOX)))
    assert ids(crs84) == ids(latlon) and crs84["numberMatched"] == latlon["numberMatched"]
    assert [f["properties"] for f in crs84["features"]] == [
        f["properties"] for f in latlon["features"]]
    Spec(client).check("/collections/communities/items", crs84, "application/geo+json")

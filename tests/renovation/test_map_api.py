"""The maps' GeoJSON endpoints: what is in view, as points or footprints, filtered, in GCJ-02.

Expected answers are worked out here, independently of the app's SQL, from the
geometries in the database with shapely: a feature is in view when the bounding
box of its geometry meets the requested box (the index test both backends use).
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlencode

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.geometry import shape

from geo import gcj02
from geo.bbox import decimals_for_zoom
from renovation.catalogue import BY_CODE
from renovation.models import Community, RenovationItem, Street
from renovation.progress import NO_ITEMS, colour_for, progress_by

DISTRICT_BOX = (115.9, 39.8, 116.4, 40.1)
EMPTY_BOX = (100.0, 30.0, 100.1, 30.1)  # western Sichuan: nothing of Shijingshan
#: SpatiaLite's R*Tree keeps boxes as 32-bit floats, rounded outwards (~1e-5 degrees here).
INDEX_SLACK = 2e-5


# --- Helpers ----------------------------------------------------------------------------------

def get_geojson(client, path: str, **params):
    query = urlencode({k: (",".join(map(str, v)) if isinstance(v, tuple) else v)
                       for k, v in params.items() if v is not None})
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200, (path, params, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/geo+json"
    body = response.get_json(force=True)
    assert body["type"] == "FeatureCollection"
    assert isinstance(body["truncated"], bool)
    return body


def communities(client, bbox, **params):
    return get_geojson(client, "/api/map/communities", bbox=bbox, **params)


def items(client, bbox, **params):
    return get_geojson(client, "/api/map/items", bbox=bbox, **params)


def ids(body) -> set[int]:
    found = [f["id"] for f in body["features"]]
    assert len(found) == len(set(found)), "a feature came twice"
    assert all(f["properties"]["id"] == f["id"] for f in body["features"])
    return set(found)


def bbox_meets(bounds, bbox, slack: float = 0.0) -> bool:
    minx, miny, maxx, maxy = bounds
    return (minx <= bbox[2] + slack and maxx >= bbox[0] - slack
            and miny <= bbox[3] + slack and maxy >= bbox[1] - slack)


def expected_in_view(geometries: dict[int, object], bbox) -> set[int]:
    """Ids whose geometry's box meets `bbox`; fails if the answer depends on index rounding."""
    certain = {i for i, g in geometries.items() if bbox_meets(g.bounds, bbox, -INDEX_SLACK)}
    possible = {i for i, g in geometries.items() if bbox_meets(g.bounds, bbox, INDEX_SLACK)}
    assert certain == possible, f"test box {bbox} grazes {possible - certain}: pick another"
    return certain


@pytest.fixture
def footprints(app_session) -> dict[int, object]:
    return {cid: to_shape(fp) for cid, fp in app_session.execute(
        sa.select(Community.id, Community.footprint).where(Community.footprint.is_not(None)))}


@pytest.fixture
def item_geometries(app_session) -> dict[int, object]:
    return {iid: to_shape(g) for iid, g in app_session.execute(
        sa.select(RenovationItem.id, RenovationItem.geometry)
        .where(RenovationItem.geometry.is_not(None)))}


def street_by_name(session, name_zh: str) -> Street:
    return session.scalars(sa.select(Street).where(Street.name_zh == name_zh)).one()


def view_boxes(session) -> dict[str, tuple[float, float, float, float]]:
    """Boxes to look through: the district, one street, a small view, nowhere."""
    laoshan = to_shape(street_by_name(session, "老山街道").boundary)
    pilot = to_shape(session.scalars(sa.select(Community.location)
                                     .where(Community.is_district_pilot)).one())
    return {
        "district": DISTRICT_BOX,
        "street": tuple(round(v, 4) for v in laoshan.bounds),
        "small": (round(pilot.x - 0.008, 4), round(pilot.y - 0.006, 4),
                  round(pilot.x + 0.008, 4), round(pilot.y + 0.006, 4)),
        "empty": EMPTY_BOX,
    }


# --- Communities in view ----------------------------------------------------------------------

@pytest.mark.parametrize("zoom", [12, 15])
def test_communities_are_those_whose_footprint_box_meets_the_view(client, app_session,
                                                                  footprints, zoom):
    boxes = view_boxes(app_session)
    for name, bbox in boxes.items():
        body = communities(client, bbox, zoom=zoom)
        expected = expected_in_view(footprints, bbox)
        assert ids(body) == expected, name
        assert body["truncated"] is False
    assert expected_in_view(footprints, boxes["district"]) == set(footprints)
    assert expected_in_view(footprints, boxes["empty"]) == set()
    assert 0 < len(expected_in_view(footprints, boxes["small"])) < len(footprints) / 4
    laoshan = street_by_name(app_session, "老山街道")
    in_street = expected_in_view(footprints, boxes["street"])
    own = set(app_session.scalars(sa.select(Community.id)
                                  .where(Community.street_id == laoshan.id)))
    assert own <= in_street < set(footprints)


def test_a_view_between_communities_is_empty(client, footprints):
    # A box in the district that no footprint's box reaches, found from the data.
    minx, miny, maxx, maxy = 116.10, 39.88, 116.26, 39.98
    for x in np.arange(minx, maxx, 0.002):
        for y in np.arange(miny, maxy, 0.002):
            bbox = (round(float(x), 4), round(float(y), 4),
                    round(float(x) + 0.001, 4), round(float(y) + 0.001, 4))
            if not any(bbox_meets(g.bounds, bbox, 3 * INDEX_SLACK) for g in footprints.values()):
                assert communities(client, bbox, zoom=16)["features"] == []
                return
    pytest.fail("no empty spot in the district: the demo data changed")


@pytest.mark.parametrize("zoom,kind", [(0, "point"), (12, "point"), (13, "point"),
                                       (14, "area"), (17, "area"), (30, "area"),
                                       (None, "area")])
def test_below_zoom_14_communities_are_points_else_footprints(client, app_session, footprints,
                                                              zoom, kind):
    bbox = view_boxes(app_session)["small"]
    body = communities(client, bbox, zoom=zoom)
    assert body["features"]
    locations = {cid: to_shape(loc) for cid, loc in app_session.execute(
        sa.select(Community.id, Community.location).where(Community.id.in_(ids(body))))}
    for feature in body["features"]:
        geometry = shape(feature["geometry"])
        if kind == "point":
            assert feature["geometry"]["type"] == "Point"
            # Rounded to the decimals the zoom can show: half a unit on each axis.
            assert geometry.distance(locations[feature["id"]]) <= \
                0.5 * 10 ** -decimals_for_zoom(zoom) * math.sqrt(2) + 1e-12
        else:
            assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
            footprint = footprints[feature["id"]]
            assert geometry.is_valid
            assert geometry.hausdorff_distance(footprint) < 1e-4
            assert abs(geometry.area - footprint.area) < 0.1 * footprint.area


def test_pilots_gives_exactly_the_nine_pilots(client, app_session):
    pilots = set(app_session.scalars(sa.select(Community.id).where(Community.is_pilot)))
    assert len(pilots) == 9
    for zoom in (12, 16):
        body = communities(client, DISTRICT_BOX, zoom=zoom, pilots=1)
        assert ids(body) == pilots
        assert all(f["properties"]["pilot"] is True for f in body["features"])
        assert {f["geometry"]["type"] for f in body["features"]} == {"Point"}


def test_pilots_in_a_small_view(client, app_session, footprints):
    bbox = view_boxes(app_session)["small"]
    pilots = set(app_session.scalars(sa.select(Community.id).where(Community.is_pilot)))
    body = communities(client, bbox, zoom=12, pilots=1)
    assert ids(body) == expected_in_view(footprints, bbox) & pilots
    assert ids(body)  # the district pilot is in the middle of it


def test_properties_carry_progress_and_its_colour(client, app_session):
    body = communities(client, DISTRICT_BOX, zoom=12)
    progress = progress_by(app_session, Community.id)
    rows = {c.id: c for c in app_session.scalars(
        sa.select(Community).options(sa.orm.selectinload(Community.street)))}
    percents = []
    for feature in body["features"]:
        props = feature["properties"]
        community = rows[feature["id"]]
        expected = progress.get(community.id, NO_ITEMS).percent
        assert props["progress"] == expected
        assert props["fill"] == colour_for(expected)
        assert props["name"] == community.name
        assert props["code"] == community.code
        assert props["street_code"] == community.street.code
        assert props["pilot"] == community.is_pilot
        assert props["url"] == f"/communities/{community.id}"
        percents.append(expected)
    assert None in percents and any(p is not None for p in percents)
    assert len({f["properties"]["fill"] for f in body["features"]}) >= 3


@pytest.mark.parametrize("street_name", ["老山街道", "鲁谷街道"])
def test_street_filter(client, app_session, footprints, street_name):
    street = street_by_name(app_session, street_name)
    own = set(app_session.scalars(sa.select(Community.id)
                                  .where(Community.street_id == street.id)))
    body = communities(client, DISTRICT_BOX, zoom=12, street=street.code)
    assert ids(body) == own
    assert {f["properties"]["street_code"] for f in body["features"]} == {street.code}
    bbox = view_boxes(app_session)["small"]
    body = communities(client, bbox, zoom=15, street=street.code)
    assert ids(body) == own & expected_in_view(footprints, bbox)


def test_unknown_street_gives_nothing(client):
    assert communities(client, DISTRICT_BOX, street="999999999999")["features"] == []


# --- Items in view ----------------------------------------------------------------------------

def test_lift_retrofits_only_and_all_of_them(client, app_session, item_geometries):
    lifts = set(app_session.scalars(sa.select(RenovationItem.id)
                                    .where(RenovationItem.kind == "lift_retrofit")))
    assert lifts
    body = items(client, DISTRICT_BOX, zoom=12, kind="lift_retrofit")
    assert ids(body) == lifts
    assert {f["properties"]["kind"] for f in body["features"]} == {"lift_retrofit"}
    bbox = view_boxes(app_session)["small"]
    body = items(client, bbox, zoom=15, kind="lift_retrofit")
    expected = expected_in_view({i: item_geometries[i] for i in lifts}, bbox)
    assert ids(body) == expected
    assert len(expected) < len(lifts)


def test_several_kinds(client, app_session):
    kinds = ("lift_retrofit", "drainage", "parking")
    expected = set(app_session.scalars(sa.select(RenovationItem.id)
                                       .where(RenovationItem.kind.in_(kinds))))
    body = items(client, DISTRICT_BOX, zoom=14, kind=",".join(kinds))
    assert ids(body) == expected
    assert {f["properties"]["kind"] for f in body["features"]} == set(kinds)
    geometry_types = {f["properties"]["kind"]: set() for f in body["features"]}
    for f in body["features"]:
        geometry_types[f["properties"]["kind"]].add(f["geometry"]["type"])
    assert geometry_types["lift_retrofit"] == {"Point"}
    assert geometry_types["drainage"] <= {"LineString", "MultiLineString"}
    assert geometry_types["parking"] <= {"Polygon", "MultiPolygon"}


def test_all_items_in_view_without_kind(client, app_session, item_geometries):
    bbox = view_boxes(app_session)["small"]
    assert ids(items(client, bbox, zoom=15)) == expected_in_view(item_geometries, bbox)
    assert items(client, EMPTY_BOX, zoom=15)["features"] == []


def test_items_of_one_community(client, app_session):
    pilot = app_session.scalars(sa.select(Community).where(Community.is_district_pilot)).one()
    own = {i.id: i for i in pilot.items}
    assert own
    body = items(client, DISTRICT_BOX, zoom=16, community=pilot.id)
    assert ids(body) == set(own)
    for feature in body["features"]:
        props = feature["properties"]
        item = own[feature["id"]]
        assert props["community_id"] == pilot.id
        assert props["title"] == item.title
        assert props["kind"] == item.kind
        assert props["status"] == item.status.value
        assert props["progress"] == item.progress_pct
        assert props["url"] == f"/communities/{pilot.id}#item-{item.id}"
    lifts = {i for i, item in own.items() if item.kind == "lift_retrofit"}
    body = items(client, DISTRICT_BOX, zoom=16, community=pilot.id, kind="lift_retrofit")
    assert ids(body) == lifts


def test_a_community_without_items_has_none(client, app_session):
    lonely = app_session.scalars(sa.select(Community.id).where(~Community.items.any())
                                 .order_by(Community.id)).first()
    assert items(client, DISTRICT_BOX, community=lonely)["features"] == []


# --- GCJ-02 display ---------------------------------------------------------------------------

def gcj_box(bbox):
    (minx, maxx), (miny, maxy) = gcj02.wgs84_to_gcj02([bbox[0], bbox[2]], [bbox[1], bbox[3]])
    return tuple(float(v) for v in (minx, miny, maxx, maxy))


def test_gcj02_display_shifts_points_by_the_gcj02_offset(client, app_session):
    bbox = view_boxes(app_session)["small"]
    wgs = {f["id"]: f for f in communities(client, bbox, zoom=12)["features"]}
    gcj = {f["id"]: f for f in communities(client, gcj_box(bbox), zoom=12,
                                           display="gcj02")["features"]}
    assert wgs and set(wgs) <= set(gcj)
    for cid, feature in wgs.items():
        lon, lat = feature["geometry"]["coordinates"]
        expected = gcj02.wgs84_to_gcj02(lon, lat)
        shifted = gcj[cid]["geometry"]["coordinates"]
        assert shifted == pytest.approx(expected, abs=1e-7)
        # Beijing's offset is hundreds of metres: the shift must be visible.
        assert math.dist(shifted, (lon, lat)) > 0.001
        assert gcj[cid]["properties"] == feature["properties"]


def test_gcj02_display_shifts_footprints_and_items(client, app_session):
    bbox = view_boxes(app_session)["small"]
    for endpoint in (communities, items):
        wgs = {f["id"]: f for f in endpoint(client, bbox, zoom=17)["features"]}
        gcj = {f["id"]: f for f in endpoint(client, gcj_box(bbox), zoom=17,
                                            display="gcj02")["features"]}
        assert wgs and set(wgs) <= set(gcj)
        for fid, feature in wgs.items():
            assert gcj[fid]["geometry"]["type"] == feature["geometry"]["type"]
            got = shapely.get_coordinates(shape(gcj[fid]["geometry"]))
            lon, lat = shapely.get_coordinates(shape(feature["geometry"])).T
            want = np.column_stack(gcj02.wgs84_to_gcj02(lon, lat))
            assert got.shape == want.shape
            assert np.abs(got - want).max() < 1e-7


def test_a_gcj02_box_selects_what_the_equivalent_wgs84_box_does(client, app_session,
                                                                footprints):
    boxes = view_boxes(app_session)
    for name in ("district", "empty"):
        bbox = boxes[name]
        wgs = ids(communities(client, bbox, zoom=12))
        gcj = ids(communities(client, gcj_box(bbox), zoom=12, display="gcj02"))
        assert gcj == wgs, name
    # The app pads a GCJ-02 view by 0.01 degrees (the corner conversion is not exact
    # for a whole box), so a small view may bring a few neighbours along, never less.
    for name in ("street", "small"):
        bbox = boxes[name]
        wgs = ids(communities(client, bbox, zoom=15))
        gcj = ids(communities(client, gcj_box(bbox), zoom=15, display="gcj02"))
        padded = (bbox[0] - 0.011, bbox[1] - 0.011, bbox[2] + 0.011, bbox[3] + 0.011)
        assert wgs <= gcj <= {i for i, g in footprints.items() if bbox_meets(g.bounds, padded)}


# --- Limits -----------------------------------------------------------------------------------

def test_limit_cuts_the_list_and_says_so(app_config, request):
    app_config["MAX_FEATURES_PER_REQUEST"] = 5
    client = request.getfixturevalue("client")
    session = request.getfixturevalue("app_session")
    body = communities(client, DISTRICT_BOX, zoom=12)
    assert len(body["features"]) == 5
    assert body["truncated"] is True
    first_five = sorted(session.scalars(sa.select(Community.id)))[:5]
    assert [f["id"] for f in body["features"]] == first_five
    body = items(client, DISTRICT_BOX, zoom=12, kind="lift_retrofit")
    assert len(body["features"]) == 5 and body["truncated"] is True
    # Exactly at the limit is not truncated.
    body = communities(client, DISTRICT_BOX, zoom=12, pilots=1,
                       street=street_by_name(session, "老山街道").code)
    assert len(body["features"]) == 1 and body["truncated"] is False


def test_responses_are_not_cached(client):
    response = client.get("/api/map/communities?" + urlencode({"bbox": "116,39.8,116.4,40.1"}))
    assert response.headers["Cache-Control"] == "no-store"


# --- Bad input --------------------------------------------------------------------------------

B = "116.0,39.8,116.4,40.1"
BAD_REQUESTS = [
    # (endpoint, query, a word the English message must contain)
    ("communities", "zoom=12", "bbox"),
    ("communities", "bbox=", "bbox"),
    ("communities", "bbox=116,39.8,116.4", "bbox"),
    ("communities", "bbox=116,39.8,116.4,40.1,3", "bbox"),
    ("communities", "bbox=a,b,c,d", "bbox"),
    ("communities", "bbox=116,39.8,116.4,abc", "bbox"),
    ("communities", "bbox=nan,39.8,116.4,40.1", "bbox"),
    ("communities", "bbox=116,39.8,inf,40.1", "bbox"),
    ("communities", "bbox=-inf,39.8,116.4,40.1", "bbox"),
    ("communities", "bbox=116.4,39.8,116.0,40.1", "bbox"),
    ("communities", "bbox=116,40.1,116.4,39.8", "bbox"),
    ("communities", "bbox=116,39.8,116.4,95", "bbox"),
    ("communities", "bbox=-200,39.8,116.4,40.1", "bbox"),
    ("communities", f"bbox={B}&zoom=-1", "zoom"),
    ("communities", f"bbox={B}&zoom=abc", "zoom"),
    ("communities", f"bbox={B}&zoom=99", "zoom"),
    ("communities", f"bbox={B}&zoom=31", "zoom"),
    ("communities", f"bbox={B}&zoom=1.5", "zoom"),
    ("communities", f"bbox={B}&zoom=", "zoom"),
    ("communities", f"bbox={B}&zoom=%C2%B2", "zoom"),  # '²'.isdigit() is True
    ("communities", f"bbox={B}&zoom=%D9%A3", "zoom"),  # an Arabic-Indic 3
    ("communities", f"bbox={B}&display=foo", "display"),
    ("communities", f"bbox={B}&display=GCJ02", "display"),
    ("items", "zoom=12", "bbox"),
    ("items", "bbox=116,39.8,116.4", "bbox"),
    ("items", f"bbox={B}&zoom=abc", "zoom"),
    ("items", f"bbox={B}&display=foo", "display"),
    ("items", f"bbox={B}&kind=unknown", "unknown"),
    ("items", f"bbox={B}&kind=lift_retrofit,bogus", "bogus"),
    ("items", f"bbox={B}&community=x", "community"),
    ("items", f"bbox={B}&community=-3", "community"),
    ("items", f"bbox={B}&community=1.0", "community"),
    ("items", f"bbox={B}&community=%C2%B2", "community"),
    ("items", f"bbox={B}&community=0", "community"),
    ("items", f"bbox={B}&community=99999999999999999999", "community"),
]


@pytest.mark.parametrize("endpoint,query,word", BAD_REQUESTS)
def test_bad_input_is_a_400_that_says_what_is_wrong(client, endpoint, query, word):
    response = client.get(f"/api/map/{endpoint}?{query}&lang=en")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == 400
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert word in message, message


@pytest.mark.parametrize("query", ["bbox=a,b,c,d", f"bbox={B}&zoom=99", f"bbox={B}&display=foo",
                                   "zoom=3"])
def test_bad_input_message_is_chinese_by_default(translated_client, query):
    client = translated_client
    message = client.get(f"/api/map/communities?{query}").get_json()["error"]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


def test_the_item_kinds_of_the_catalogue_are_all_accepted(client):
    for code in BY_CODE:
        items(client, EMPTY_BOX, kind=code)


# --- Coordinates no finer than the zoom can show ---------------------------------------------

def decimals_of(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


@pytest.mark.parametrize("zoom", [12, 15, 17])
def test_coordinates_carry_the_decimals_of_the_zoom(client, zoom):
    body = communities(client, DISTRICT_BOX, zoom=zoom, lean=1)
    coordinates = shapely.get_coordinates(
        [shape(f["geometry"]) for f in body["features"]]).ravel()
    assert len(coordinates) > 100
    assert max(decimals_of(float(v)) for v in coordinates) == decimals_for_zoom(zoom)


# --- Lean features for the maps, and the popup fetched on click -------------------------------

def test_lean_features_carry_what_drawing_needs_and_draw_as_the_full_ones(client):
    for zoom in (12, 15):
        full = {f["id"]: f for f in communities(client, DISTRICT_BOX, zoom=zoom)["features"]}
        lean = communities(client, DISTRICT_BOX, zoom=zoom, lean=1)
        assert ids(lean) == set(full)
        assert lean["detail"] == "/api/map/communities/{id}"
        drawing = ("fill", "stroke", "stroke_width", "dash", "radius", "point_stroke",
                   "point_stroke_width")
        for feature in lean["features"]:
            props = feature["properties"]
            assert set(props) == {"id", "label", "s"}
            assert props["label"] == full[feature["id"]]["properties"]["label"]
            style = lean["styles"][props["s"]]
            assert {k: style[k] for k in drawing} == \
                {k: full[feature["id"]]["properties"][k] for k in drawing}
            assert shape(feature["geometry"]).equals_exact(
                shape(full[feature["id"]]["geometry"]), 1e-9)


def test_lean_answers_are_a_fraction_of_the_full_ones(client):
    full = client.get(f"/api/map/communities?bbox={B}&zoom=12").get_data()
    lean = client.get(f"/api/map/communities?bbox={B}&zoom=12&lean=1").get_data()
    assert len(lean) < len(full) / 3


def test_the_detail_of_a_community_is_its_popup(client, app_session):
    full = {f["id"]: f["properties"]
            for f in communities(client, DISTRICT_BOX, zoom=15)["features"]}
    for community_id in sorted(full)[::15]:
        response = client.get(f"/api/map/communities/{community_id}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        body = response.get_json()
        assert body["id"] == community_id
        for key in ("title", "rows", "url", "link_text", "label", "name", "progress", "pilot"):
            assert body["properties"][key] == full[community_id][key], key


def test_the_detail_follows_the_filters_of_the_map(client, app_session):
    pilot = app_session.scalars(sa.select(Community).where(Community.is_district_pilot)).one()
    lifts = [i for i in pilot.items if i.kind == "lift_retrofit"]
    assert lifts and len(lifts) < len(pilot.items)
    lean = communities(client, DISTRICT_BOX, zoom=15, lean=1, kind="lift_retrofit")
    assert lean["detail"] == "/api/map/communities/{id}?kind=lift_retrofit"
    body = client.get(lean["detail"].replace("{id}", str(pilot.id)) + "&lang=en").get_json()
    expected = progress_by(app_session, Community.id, where=[
        Community.id == pilot.id, RenovationItem.kind == "lift_retrofit"])[pilot.id]
    assert body["properties"]["progress"] == expected.percent
    assert dict(body["properties"]["rows"])["Items"].startswith(f"{len(lifts)}, ")


def test_the_detail_gives_hostile_names_exactly(client, app_session):
    from tests.factories import community_square, make_community

    street = app_session.scalars(sa.select(Street).order_by(Street.id)).first()
    name = "<img src=x onerror=alert(1)>${alert(2)}`</script>\u2028社区"
    community = make_community(app_session, street, footprint=community_square(0, 7), name=name)
    app_session.commit()
    body = client.get(f"/api/map/communities/{community.id}").get_json()
    assert body["properties"]["title"] == name
    assert body["properties"]["name"] == name
    lean = communities(client, community_square(0, 7).bounds, zoom=15, lean=1)
    label = next(f["properties"]["label"] for f in lean["features"] if f["id"] == community.id)
    assert label.startswith(name + " · ")


@pytest.mark.parametrize("path,status", [
    ("/api/map/communities/999999", 404), ("/api/map/communities/2147483647", 404),
    ("/api/map/communities/0", 400), ("/api/map/communities/-4", 400),
    ("/api/map/communities/1.5", 400), ("/api/map/communities/abc", 400),
    ("/api/map/communities/%C2%B2", 400), ("/api/map/communities/99999999999999999999", 400),
    ("/api/map/communities/1?kind=bogus", 400), ("/api/map/communities/1?built_from=x", 400),
])
def test_bad_or_unknown_details_are_clear_4xx(client, path, status):
    response = client.get(path + ("&" if "?" in path else "?") + "lang=en")
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_an_unknown_detail_says_so_in_chinese_by_default(translated_client):
    message = translated_client.get("/api/map/communities/999999").get_json()["error"]["message"]
    assert "999999" in message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


# --- Streets and cells instead of dots when a view holds too many ----------------------------

def expected_street_figures(session, *, kind: str | None = None) -> dict[str, dict]:
    """Per street code: communities, items, done and weighted progress, summed here in Python."""
    out = {}
    for street in session.scalars(sa.select(Street)):
        items = [i for c in street.communities for i in c.items if kind in (None, i.kind)]
        weights = [BY_CODE[i.kind].weight for i in items]
        weighted = sum(w * i.progress_pct for w, i in zip(weights, items, strict=True))
        out[street.code] = {
            "communities": len(street.communities) if kind is None else
            sum(any(i.kind == kind for i in c.items) for c in street.communities),
            "items": len(items),
            "done": sum(i.status.value in ("completed", "accepted") for i in items),
            "percent": round(weighted / sum(weights), 1) if weights else None,
            "weighted": weighted, "weights": sum(weights)}
    return out


def area_figures(feature) -> dict:
    rows = dict(feature["properties"]["rows"])
    items, done = (int(v) for v in re.fullmatch(r"(\d+), (\d+) done", rows["Items"]).groups())
    return {"communities": int(rows["Communities"]), "items": items, "done": done,
            "progress": rows["Progress"]}


def percent_shown(percent) -> str:
    return "not in the programme" if percent is None else f"{percent:.0f}%"


@pytest.fixture
def few_dots(monkeypatch):
    from renovation import mapdata

    monkeypatch.setattr(mapdata, "MAX_DOTS", 40)
    return mapdata


def test_a_crowded_view_shows_streets_with_their_exact_figures(client, app_session, few_dots):
    body = communities(client, DISTRICT_BOX, zoom=13, lean=1, lang="en")
    assert body["aggregated"] is True and body["truncated"] is False
    expected = expected_street_figures(app_session)
    streets = {s.code: s for s in app_session.scalars(sa.select(Street))}
    by_code = {f["properties"]["url"].rsplit("/", 1)[1]: f for f in body["features"]}
    assert set(by_code) == set(expected)
    for code, feature in by_code.items():
        props, want = feature["properties"], expected[code]
        assert props["area"] == "street" and props["count"] == want["communities"]
        assert props["title"] == streets[code].name_en
        assert area_figures(feature) == {"communities": want["communities"],
                                         "items": want["items"], "done": want["done"],
                                         "progress": percent_shown(want["percent"])}
        assert props["fill"] == colour_for(want["percent"])
        assert props["url"] == f"/streets/{code}"
        label_point = to_shape(streets[code].label_point)
        assert shape(feature["geometry"]).distance(label_point) < 1e-5


def test_street_figures_equal_the_district_pages(client, app_session, few_dots):
    """The map's figures and the district page's table come from the same sums."""
    from renovation import overview

    rows = {r.street.code: r for r in overview.district_overview(app_session).streets}
    body = communities(client, DISTRICT_BOX, zoom=13, lean=1, lang="en")
    assert len(body["features"]) == len(rows) == 9
    for feature in body["features"]:
        row = rows[feature["properties"]["url"].rsplit("/", 1)[1]]
        figures = area_figures(feature)
        assert figures["communities"] == row.communities
        assert figures["items"] == row.progress.items
        assert figures["done"] == row.progress.done
        assert figures["progress"] == percent_shown(row.progress.percent)


def test_a_view_with_fewer_dots_than_the_limit_keeps_its_dots(client, few_dots):
    few_dots.MAX_DOTS = 149  # the demo district has exactly 149 communities
    body = communities(client, DISTRICT_BOX, zoom=12, lean=1)
    assert "aggregated" not in body and len(body["features"]) == 149
    few_dots.MAX_DOTS = 148
    assert communities(client, DISTRICT_BOX, zoom=12, lean=1)["aggregated"] is True


def test_streets_are_never_shown_for_footprints(client, few_dots):
    body = communities(client, DISTRICT_BOX, zoom=14, lean=1)
    assert "aggregated" not in body
    assert {f["geometry"]["type"] for f in body["features"]} <= {"Polygon", "MultiPolygon"}


def test_filtered_street_figures_are_those_of_the_chosen_items(client, app_session, few_dots):
    body = communities(client, DISTRICT_BOX, zoom=13, kind="lift_retrofit", lang="en")
    assert body["aggregated"] is True
    expected = expected_street_figures(app_session, kind="lift_retrofit")
    shown = {f["properties"]["url"].rsplit("/", 1)[1]: area_figures(f) for f in body["features"]}
    assert shown == {code: {"communities": e["communities"], "items": e["items"],
                            "done": e["done"], "progress": percent_shown(e["percent"])}
                     for code, e in expected.items() if e["communities"]}


@pytest.mark.parametrize("zoom", [5, 9, 10])
def test_crowded_streets_become_cells_that_add_up(client, app_session, few_dots, zoom):
    body = communities(client, DISTRICT_BOX, zoom=zoom, lean=1, lang="en")
    assert body["aggregated"] is True
    features = body["features"]
    cells = [f for f in features if f["properties"]["area"] == "cell"]
    assert cells and all(f["properties"]["zoom_in"] for f in cells)
    assert all(f["properties"]["area"] == "street" for f in features if f not in cells)
    expected = expected_street_figures(app_session)
    assert sum(f["properties"]["count"] for f in features) == \
        sum(e["communities"] for e in expected.values()) == 149
    assert sum(area_figures(f)["items"] for f in features) == \
        sum(e["items"] for e in expected.values())
    assert sum(area_figures(f)["done"] for f in features) == \
        sum(e["done"] for e in expected.values())
    # Cells are one grid square wide: what they hold lies within it.
    cell = few_dots.CELL_PIXELS * 360 / (256 * 2 ** zoom)
    assert len(features) <= math.ceil(0.6 / cell + 1) * math.ceil(0.3 / cell + 1)
    if zoom == 5:  # the whole district in one cell: its progress is the district's
        assert len(features) == 1
        weighted = sum(e["weighted"] for e in expected.values())
        weights = sum(e["weights"] for e in expected.values())
        assert area_figures(cells[0])["progress"] == percent_shown(round(weighted / weights, 1))
        assert cells[0]["properties"]["title"] == "9 streets"


def test_pilot_stars_wait_for_a_closer_view_when_the_view_is_crowded(client, few_dots):
    body = communities(client, DISTRICT_BOX, zoom=12, pilots=1, lean=1)
    assert body["features"] == [] and body["truncated"] is True
    assert len(communities(client, DISTRICT_BOX, zoom=14, pilots=1, lean=1)["features"]) == 9
    few_dots.MAX_DOTS = 149  # the dots are back: so are the 9 stars
    assert len(communities(client, DISTRICT_BOX, zoom=12, pilots=1, lean=1)["features"]) == 9


# --- gzip -------------------------------------------------------------------------------------

def test_views_are_gzipped_for_clients_that_accept_it(client):
    import gzip

    plain = client.get(f"/api/map/communities?bbox={B}&zoom=15&lean=1")
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = client.get(f"/api/map/communities?bbox={B}&zoom=15&lean=1",
                        headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Content-Type"] == plain.headers["Content-Type"]
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data()) / 3
    refused = client.get(f"/api/map/communities?bbox={B}&zoom=15",
                         headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers

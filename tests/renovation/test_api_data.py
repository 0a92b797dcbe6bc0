"""The JSON API for streets, communities, item lists, the catalogue and the token's user.

Expected answers come from the database (read here with plain queries and shapely) and
from the services the pages use (:mod:`renovation.progress`, :mod:`renovation.overview`),
never from the API's own code. Every response is checked against the schema the OpenAPI
document gives for its path, method and status. Messages are checked in English.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from playwright.sync_api import expect
from referencing import Registry
from referencing.jsonschema import DRAFT4
from shapely.geometry import shape

from factories import make_community, make_item, make_street
from renovation import accounts, openapi, overview
from renovation.catalogue import KINDS, Tier
from renovation.models import Community, RenovationItem, Street, User
from renovation.progress import NO_ITEMS, progress_by, total_progress
from renovation.status import PROGRESS_RANGE, Status
from renovation.web import api_sessions
from renovation.workflow import ALLOWED_MOVES

SPEC = openapi.build_document()
_SPEC_URI = "urn:gengxin:openapi"
_REGISTRY = Registry().with_resource(_SPEC_URI, DRAFT4.create_resource(SPEC))
LAOSHAN = "110107002000"
STATIC = Path(__file__).resolve().parents[2] / "static"


# --- Helpers ----------------------------------------------------------------------------------

def _pointer(*parts) -> str:
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def operation_of(url: str) -> tuple[str, str]:
    """The document's path template for a request path under /api."""
    path = urlsplit(url).path.removeprefix("/api")
    for template in SPEC["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template, "get"
    raise AssertionError(f"{path} is not in the document")


def assert_documented(response, path: str, method: str = "get"):
    """The status and media type are documented for the operation and the body matches."""
    responses = SPEC["paths"][path][method]["responses"]
    code = str(response.status_code)
    assert code in responses, f"{method.upper()} {path} answered {code}, not documented"
    assert response.mimetype in responses[code]["content"], (path, code, response.mimetype)
    body = json.loads(response.get_data())
    ref = f"{_SPEC_URI}#/" + _pointer("paths", path, method, "responses", code, "content",
                                      response.mimetype, "schema")
    validator = OAS30Validator({"$ref": ref}, registry=_REGISTRY,
                               format_checker=oas30_format_checker)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, f"{method.upper()} {path} {code} breaks its schema: {errors[:5]}"
    return body


def get(client, url: str, expect: int = 200, **query):
    """GET `url` (English), check it against the document, return the body."""
    response = client.get(url, query_string={"lang": "en", **query})
    assert response.status_code == expect, (url, query, response.get_data(as_text=True)[:300])
    return assert_documented(response, operation_of(url)[0])


def assert_error(client, url: str, expect: int, field: str | None = None, **query) -> dict:
    error = get(client, url, expect, **query)["error"]
    assert error["status"] == expect and set(error) <= {"status", "message", "details"}
    if field:
        assert error["details"] == {"fields": [field]}, error
        assert field in error["message"]
    return error


def walk(client, url: str, **query) -> list[dict]:
    """Every page of a list, following `next` from the first; the rows in order."""
    key = url.rsplit("/", 1)[-1]
    body = get(client, url, **query)
    total, rows, seen_offsets = body["total"], [], []
    while True:
        assert body["total"] == total
        seen_offsets.append(body["offset"])
        rows.extend(body[key])
        if body["links"]["next"] is None:
            break
        next_url = body["links"]["next"]
        assert urlsplit(next_url).path == url
        args = {k: v[0] for k, v in parse_qs(urlsplit(next_url).query).items()}
        body = get(client, url, **args)
        assert body["links"]["prev"] is not None
    assert seen_offsets == list(range(0, max(total, 1), body["limit"]))[:len(seen_offsets)]
    assert len(rows) == total
    return rows


def bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def user(session, username: str) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


def is_overdue(item: RenovationItem, today: dt.date) -> bool:
    return (item.planned_end is not None and item.planned_end < today
            and item.status not in (Status.COMPLETED, Status.ACCEPTED))


@pytest.fixture
def communities(app_session) -> list[Community]:
    return list(app_session.scalars(sa.select(Community).order_by(Community.code)))


@pytest.fixture
def items(app_session) -> list[RenovationItem]:
    return list(app_session.scalars(sa.select(RenovationItem).order_by(RenovationItem.id)))


# --- Streets ----------------------------------------------------------------------------------

def test_streets_are_those_of_the_database_with_the_pages_figures(client, app_session):
    body = get(client, "/api/streets")
    streets = app_session.scalars(sa.select(Street).order_by(Street.code)).all()
    assert [s["code"] for s in body["streets"]] == [s.code for s in streets]
    progress = progress_by(app_session, Community.street_id)
    for found, street in zip(body["streets"], streets, strict=True):
        members = app_session.scalars(sa.select(Community)
                                      .where(Community.street_id == street.id)).all()
        p = progress.get(street.id, NO_ITEMS)
        assert found["name"] == street.name_en and found["name_zh"] == street.name_zh
        assert (found["progress"], found["items"], found["done"], found["overdue"]) == (
            p.percent, p.items, p.done, p.overdue)
        assert found["communities"] == len(members)
        assert found["communities_in_programme"] == sum(bool(c.items) for c in members)
        assert found["building_area_m2"] == pytest.approx(
            sum(c.building_area_m2 or 0 for c in members))
        assert found["data_source"] == street.data_source
        assert found["links"] == {"self": f"/api/streets/{street.code}",
                                  "html": f"/streets/{street.code}",
                                  "communities": f"/api/communities?street={street.code}",
                                  "items": f"/api/items?street={street.code}"}


def test_a_street_reads_as_in_the_list_and_its_boundary_on_request(client, app_session):
    listed = {s["code"]: s for s in get(client, "/api/streets")["streets"]}
    body = get(client, f"/api/streets/{LAOSHAN}")
    assert body == listed[LAOSHAN]
    for flag in ("1", "true"):
        with_boundary = get(client, f"/api/streets/{LAOSHAN}", geometry=flag)
        boundary = with_boundary.pop("boundary")
        assert with_boundary == body
        stored = to_shape(app_session.scalar(sa.select(Street.boundary)
                                             .where(Street.code == LAOSHAN)))
        assert boundary["type"] == "MultiPolygon"
        assert shape(boundary).equals_exact(stored, 1e-6)
    assert "boundary" not in get(client, f"/api/streets/{LAOSHAN}", geometry="0")


def test_street_names_follow_the_language(client):
    body = client.get(f"/api/streets/{LAOSHAN}?lang=zh").get_json()
    assert body["name"] == body["name_zh"] == "老山街道"


@pytest.mark.parametrize("code", ["nope", "9" * 300, "'; DROP TABLE streets; --", "1101070020"])
def test_an_unknown_street_is_a_json_404(client, code):
    assert_error(client, f"/api/streets/{code}", 404)


# --- Communities ------------------------------------------------------------------------------

def expected_community(c: Community, progress) -> dict:
    location = to_shape(c.location) if c.location is not None else None
    return {
        "id": c.id, "code": c.code, "name": c.name, "street_code": c.street.code,
        "street_name": c.street.name_en, "progress": progress.percent, "items": progress.items,
        "done": progress.done, "overdue": progress.overdue, "year_built": c.year_built,
        "building_area_m2": c.building_area_m2, "households": c.households,
        "building_count": c.building_count, "is_pilot": c.is_pilot,
        "is_district_pilot": c.is_district_pilot, "data_source": c.data_source,
        "location": [location.x, location.y] if location is not None else None,
        "links": {"self": f"/api/communities/{c.id}", "html": f"/communities/{c.id}",
                  "items": f"/api/items?community={c.id}"},
    }


def test_walking_all_pages_gives_every_community_once_as_in_the_database(
        client, app_session, communities):
    rows = walk(client, "/api/communities", limit=7)
    assert [r["id"] for r in rows] == [c.id for c in communities]  # code order, each once
    progress = progress_by(app_session, Community.id)
    for row, community in zip(rows, communities, strict=True):
        assert row == expected_community(community, progress.get(community.id, NO_ITEMS))


def test_paging_arithmetic_and_links(client, communities):
    total = len(communities)
    body = get(client, "/api/communities", limit=10, offset=20, street=LAOSHAN)
    assert body["offset"] == 20 and body["limit"] == 10 and body["communities"] == []
    first = get(client, "/api/communities", limit=5, street=LAOSHAN, pilot="1")
    assert first["links"]["prev"] is None
    assert get(client, "/api/communities", limit=5)["links"]["next"] == \
        "/api/communities?lang=en&limit=5&offset=5"
    last = get(client, "/api/communities", limit=50, offset=total - 1)
    assert len(last["communities"]) == 1 and last["links"]["next"] is None
    assert last["links"]["prev"] == f"/api/communities?lang=en&limit=50&offset={total - 51}"
    beyond = get(client, "/api/communities", offset=10**9)
    assert beyond["communities"] == [] and beyond["total"] == total
    assert get(client, "/api/communities")["limit"] == 100


def test_next_links_keep_the_filters(client):
    body = get(client, "/api/communities", limit=1, street=LAOSHAN, pilot="false",
               in_programme="true", year_built_from=1900, q="社区")
    query = parse_qs(urlsplit(body["links"]["next"]).query)
    assert query == {"street": [LAOSHAN], "pilot": ["0"], "in_programme": ["1"],
                     "year_built_from": ["1900"], "q": ["社区"], "lang": ["en"],
                     "limit": ["1"], "offset": ["1"]}


NOTHING = object()  # the filter is meant to select no community


@pytest.mark.parametrize("query, keep", [
    ({"street": LAOSHAN}, lambda c: c.street.code == LAOSHAN),
    ({"pilot": "1"}, lambda c: c.is_pilot),
    ({"pilot": "0"}, lambda c: not c.is_pilot),
    ({"in_programme": "1"}, lambda c: bool(c.items)),
    ({"in_programme": "false"}, lambda c: not c.items),
    ({"year_built_from": "1980"}, lambda c: c.year_built is not None and c.year_built >= 1980),
    ({"year_built_to": "1980"}, lambda c: c.year_built is not None and c.year_built <= 1980),
    ({"year_built_from": "1970", "year_built_to": "1985", "street": LAOSHAN},
     lambda c: 1970 <= (c.year_built or 0) <= 1985 and c.street.code == LAOSHAN),
    ({"year_built_from": "1990", "year_built_to": "1980"}, NOTHING),
    ({"q": "路"}, lambda c: "路" in c.name),
    ({"q": "110107002"}, lambda c: "110107002" in c.code),
    ({"q": "%"}, NOTHING),  # LIKE's wildcards are text like any other
    ({"q": "_"}, NOTHING),
    ({"street": "nope"}, NOTHING),
    ({"street": ""}, lambda c: True),  # as on the maps: an empty street is no filter
])
def test_community_filters(client, communities, query, keep):
    expected = [] if keep is NOTHING else [c.id for c in communities if keep(c)]
    assert keep is NOTHING or expected, "pick a filter that selects something"
    assert [r["id"] for r in walk(client, "/api/communities", limit=40, **query)] == expected


def test_text_search_ignores_case(client, app_session):
    street = app_session.scalar(sa.select(Street).where(Street.code == LAOSHAN))
    community = make_community(app_session, street, name="Yuquan Garden 玉泉花园")
    app_session.commit()
    for text in ("yuquan garden", "YUQUAN", "玉泉花园"):
        found = [r["id"] for r in walk(client, "/api/communities", q=text)]
        assert community.id in found


def test_a_community_with_its_footprint_and_items(client, app_session):
    community = app_session.scalar(sa.select(Community).where(Community.items.any())
                                   .order_by(Community.code))
    body = get(client, f"/api/communities/{community.id}")
    footprint, item_list = body.pop("footprint"), body.pop("item_list")
    assert body.pop("source_note") == community.source_note
    assert dt.datetime.fromisoformat(body.pop("updated_at")).tzinfo is not None
    progress = total_progress(app_session, where=[Community.id == community.id])
    assert progress == overview.community_progress(app_session, community)
    assert body == expected_community(community, progress)
    assert shape(footprint).equals_exact(to_shape(community.footprint), 1e-6)
    today = dt.date.today()
    assert item_list == [{
        "id": i.id, "kind": i.kind, "kind_name": next(k.name_en for k in KINDS
                                                      if k.code == i.kind),
        "title": i.title, "status": i.status.value, "status_label": i.status.label("en"),
        "progress": i.progress_pct, "planned_end": i.planned_end.isoformat(),
        "is_overdue": is_overdue(i, today),
        "links": {"self": f"/api/items/{i.id}", "html": f"/items/{i.id}"},
    } for i in sorted(community.items, key=lambda i: i.id)]


def test_what_a_community_may_lack_is_null(client, app_session):
    street = make_street(app_session)
    community = make_community(app_session, street, year_built=None, building_area_m2=None,
                               location=None, source_note=None)
    community.footprint = None
    app_session.commit()
    body = get(client, f"/api/communities/{community.id}")
    assert body["footprint"] is None and body["location"] is None
    assert body["year_built"] is None and body["building_area_m2"] is None
    assert body["progress"] is None and body["items"] == 0 and body["item_list"] == []
    listed = get(client, "/api/communities", street=street.code)["communities"]
    assert [c["id"] for c in listed] == [community.id] and listed[0]["location"] is None
    assert get(client, f"/api/streets/{street.code}")["building_area_m2"] == 0


@pytest.mark.parametrize("path", ["/api/communities/0", "/api/communities/999999",
                                  "/api/communities/99999999999999999999",
                                  "/api/communities/-1", "/api/communities/abc",
                                  "/api/nothing-here"])
def test_unknown_communities_and_addresses_are_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.get_json()["error"]["status"] == 404


# --- Items ------------------------------------------------------------------------------------

def test_walking_all_items_gives_each_once_as_get_item_does(client, items):
    rows = walk(client, "/api/items", limit=250)
    assert [r["id"] for r in rows] == [i.id for i in items]
    for row in rows[::37]:
        assert row == get(client, f"/api/items/{row['id']}")


@pytest.mark.parametrize("query, keep", [
    ({"street": LAOSHAN}, lambda i, today: i.community.street.code == LAOSHAN),
    ({"kind": "lift_retrofit"}, lambda i, today: i.kind == "lift_retrofit"),
    ({"status": "construction"}, lambda i, today: i.status is Status.CONSTRUCTION),
    ({"overdue": "1"}, lambda i, today: is_overdue(i, today)),
    ({"overdue": "0"}, lambda i, today: not is_overdue(i, today)),
    ({"street": LAOSHAN, "kind": "drainage", "overdue": "false"},
     lambda i, today: (i.community.street.code == LAOSHAN and i.kind == "drainage"
                       and not is_overdue(i, today))),
    ({"street": "nope"}, lambda i, today: False),
    ({"community": "999999"}, lambda i, today: False),
])
def test_item_filters(client, items, query, keep):
    today = dt.date.today()
    expected = [i.id for i in items if keep(i, today)]
    found = walk(client, "/api/items", limit=500, **query)
    assert [r["id"] for r in found] == expected


def test_items_of_one_community(client, app_session):
    community = app_session.scalar(sa.select(Community).where(Community.items.any())
                                   .order_by(Community.code.desc()))
    found = walk(client, "/api/items", community=str(community.id))
    assert [r["id"] for r in found] == sorted(i.id for i in community.items)
    assert {r["community_id"] for r in found} == {community.id}


def test_an_item_without_a_planned_end_is_never_overdue(client, app_session):
    street = make_street(app_session)
    community = make_community(app_session, street)
    item = make_item(app_session, community, planned_end=None)
    app_session.commit()
    assert [r["id"] for r in walk(client, "/api/items", street=street.code,
                                  overdue="0")] == [item.id]
    assert walk(client, "/api/items", street=street.code, overdue="1") == []
    summary = get(client, f"/api/communities/{community.id}")["item_list"]
    assert summary[0]["planned_end"] is None and summary[0]["is_overdue"] is False


# --- Bad parameters ---------------------------------------------------------------------------

@pytest.mark.parametrize("url, name, value", [
    ("/api/communities", "limit", "0"),
    ("/api/communities", "limit", "1001"),
    ("/api/communities", "limit", "ten"),
    ("/api/communities", "limit", "-5"),
    ("/api/communities", "limit", "²"),
    ("/api/communities", "offset", "-1"),
    ("/api/communities", "offset", "99999999999999999999"),
    ("/api/communities", "pilot", "yes"),
    ("/api/communities", "pilot", ""),
    ("/api/communities", "in_programme", "2"),
    ("/api/communities", "year_built_from", "nineteen"),
    ("/api/communities", "year_built_to", "10000"),
    ("/api/communities", "q", "x" * 101),
    ("/api/items", "kind", "flying"),
    ("/api/items", "kind", ""),
    ("/api/items", "status", "done"),
    ("/api/items", "community", "0"),
    ("/api/items", "community", "abc"),
    ("/api/items", "overdue", "maybe"),
    ("/api/items", "limit", "1e3"),
    ("/api/streets/110107002000", "geometry", "2"),
])
def test_bad_parameters_are_a_400_naming_them(client, url, name, value):
    assert_error(client, url, 400, name, **{name: value})


@pytest.mark.parametrize("url", ["/api/streets", "/api/communities", "/api/items",
                                 "/api/catalogue", "/api/me", "/api/docs",
                                 f"/api/streets/{LAOSHAN}", "/api/communities/1"])
def test_a_nul_anywhere_is_a_400(client, url):
    response = client.get(url, query_string={"q": "a\x00b", "lang": "en"})
    assert response.status_code == 400 and "NUL" in response.get_json()["error"]["message"]


def test_bad_parameter_messages_are_chinese_by_default(client):
    error = client.get("/api/items?kind=flying").get_json()["error"]
    assert error["message"] != "Unknown item kind: flying." and "flying" in error["message"]


# --- The catalogue and the token's user ---------------------------------------------------

def test_the_catalogue_is_the_catalogue_and_the_workflow(client):
    body = get(client, "/api/catalogue")
    assert [t["code"] for t in body["tiers"]] == [t.value for t in Tier]
    assert [(k["code"], k["tier"], k["name_en"], k["name_zh"], k["unit"], k["weight"],
             k["geometry_type"], k["colour"]) for k in body["kinds"]] == [
        (k.code, k.tier.value, k.name_en, k.name_zh, k.unit_en, k.weight, k.geometry, k.colour)
        for k in KINDS]
    assert [s["code"] for s in body["statuses"]] == [s.value for s in Status]
    for status in body["statuses"]:
        s = Status(status["code"])
        assert set(status["allowed_next"]) == {n.value for n in ALLOWED_MOVES[s]}
        assert (status["progress_min"], status["progress_max"]) == PROGRESS_RANGE[s]
        assert status["label"] == s.label("en") and status["is_done"] == s.is_done
    assert next(s for s in body["statuses"] if s["code"] == "accepted")["allowed_next"] == []


@pytest.mark.parametrize("username, street_code, has_community", [
    ("admin", None, False), ("official-laoshan", LAOSHAN, False),
    ("planner", None, False), ("resident", None, True)])
def test_me_is_the_tokens_user(client, app_session, username, street_code, has_community):
    account = user(app_session, username)
    token = accounts.issue_token(app_session, account)
    app_session.commit()
    response = client.get("/api/me", headers=bearer(token))
    assert response.status_code == 200
    body = assert_documented(response, "/me")
    assert body == {"username": username, "display_name": account.display_name,
                    "role": account.role.value, "street_code": street_code,
                    "community_id": account.community_id}
    assert (body["community_id"] is not None) == has_community


@pytest.mark.parametrize("header, challenge", [
    ({}, 'Bearer realm="gengxin"'),
    ({"Authorization": "Bearer gx_not-a-token"},
     'Bearer realm="gengxin", error="invalid_token"'),
    ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 'Bearer realm="gengxin"'),
])
def test_me_without_a_live_token_is_401_with_a_challenge(client, header, challenge):
    response = client.get("/api/me?lang=en", headers=header)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert "token" in assert_documented(response, "/me")["error"]["message"]


def test_a_revoked_token_is_401(client, app_session):
    admin = user(app_session, "admin")
    token = accounts.issue_token(app_session, admin)
    accounts.revoke_tokens(app_session, admin)
    app_session.commit()
    assert client.get("/api/me", headers=bearer(token)).status_code == 401


def test_the_session_cookie_does_not_make_a_me(client):
    from renovation.demo import DEMO_PASSWORD

    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/login", data={"csrf_token": csrf, "username": "admin",
                                "password": DEMO_PASSWORD})
    assert client.get("/api/me").status_code == 401


def test_a_405_names_the_allowed_methods(client):
    response = client.post("/api/streets")
    assert response.status_code == 405 and response.mimetype == "application/json"
    assert response.headers.get("Allow") == "GET, HEAD, OPTIONS"


# --- The document -----------------------------------------------------------------------------

def test_the_served_document_is_valid_and_the_built_one(client):
    response = client.get("/api/openapi.json")
    assert response.get_json() == SPEC
    validate_spec(SPEC)
    assert SPEC["servers"] == [{"url": "/api"}]
    scheme = SPEC["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert SPEC["paths"]["/me"]["get"]["security"] == [{"bearerAuth": []}]


def test_every_route_under_api_is_documented(app):
    """Whatever blueprint adds a route under /api, the document must describe it."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    documented = {(path, method) for path, item in SPEC["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert routes == documented


def test_every_operation_documents_its_refusals_and_has_a_tag():
    tags = {tag["name"] for tag in SPEC["tags"]}
    ids = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            assert "400" in operation["responses"], (path, method)
            assert ("{" in path) <= ("404" in operation["responses"]), (path, method)
            if operation.get("security"):
                assert "401" in operation["responses"], (path, method)
            assert set(operation["tags"]) <= tags and operation["tags"]
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"]["$ref"] in (
                        "#/components/schemas/Error", "#/components/schemas/Conflict")
    assert len(ids) == len(set(ids))


def test_the_sessions_api_joins_the_document(monkeypatch):
    operation = openapi.operation("listSessions", "Sessions", {"200": {
        "description": "The sessions.",
        "content": {"application/json": {"schema": openapi.ref("SessionList")}}}},
        tags=["sessions"])
    monkeypatch.setattr(api_sessions, "OPENAPI_PATHS", {"/sessions": {"get": operation}})
    monkeypatch.setattr(api_sessions, "OPENAPI_SCHEMAS", {"SessionList": {"type": "array"}})
    document = openapi.build_document()
    validate_spec(document)
    assert document["paths"]["/sessions"]["get"]["operationId"] == "listSessions"
    assert document["components"]["schemas"]["SessionList"] == {"type": "array"}
    assert {"name": "sessions"} in document["tags"]
    monkeypatch.setattr(api_sessions, "OPENAPI_SCHEMAS", {"Item": {"type": "object"}})
    with pytest.raises(ValueError, match="schemas defined twice: Item"):
        openapi.build_document()


# --- The browsable document -------------------------------------------------------------------

class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.urls.append(attrs["src"])
            else:
                self.inline_scripts += 1
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_the_docs_page_loads_only_local_files_that_exist(client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src 'self' 'nonce-" in response.headers["Content-Security-Policy"]
    parser = _Assets()
    parser.feed(response.get_data(as_text=True))
    assert parser.inline_scripts == 0
    assert {"/static/vendor/swagger-ui/swagger-ui-bundle.js",
            "/static/vendor/swagger-ui/swagger-ui.css", "/static/js/api-docs.js"} <= \
        set(parser.urls)
    for url in parser.urls:
        assert url.startswith("/static/"), url
        assert (STATIC / url.removeprefix("/static/")).is_file(), url
        with client.get(url) as asset:  # a file response: close it
            assert asset.status_code == 200
    assert 'data-spec-url="/api/openapi.json"' in response.get_data(as_text=True)
    licence = (STATIC / "vendor" / "swagger-ui" / "LICENSE").read_text()
    assert "Apache License" in licence


@pytest.mark.browser
def test_swagger_ui_renders_every_operation_from_the_local_server(browser, live_server):
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{live_server}/api/docs")
        # Swagger UI shows an operation under each of its tags.
        operations = sum(len(operation["tags"]) for item in SPEC["paths"].values()
                         for operation in item.values())
        # Not wait_for_function: it evaluates a string, which the page's CSP forbids.
        expect(page.locator(".opblock")).to_have_count(operations)
        assert page.locator(".info .title").inner_text().startswith("gengxin")
        page.locator("#operations-streets-listStreets .opblock-summary").click()
        page.wait_for_selector("#operations-streets-listStreets .responses-table")
        assert page.locator(".btn.authorize").count() == 1
    finally:
        context.close()
    host = urlsplit(live_server).netloc
    assert [u for u in requests if urlsplit(u).netloc != host
            and not u.startswith(("data:", "blob:"))] == []
    assert errors == []


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_exports_are_in_the_api_with_the_same_filters(client, app_session, fmt):
    import csv as csvlib
    import io
    import json

    response = client.get(f"/api/exports/communities?format={fmt}&street=110107002000")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    codes = sorted(app_session.scalars(
        sa.select(Community.code).join(Community.street).where(
            Community.street.has(code="110107002000"))))
    if fmt == "geojson":
        found = sorted(f["properties"]["code"] for f in json.loads(response.data)["features"])
    else:
        rows = csvlib.DictReader(io.StringIO(response.data.decode("utf-8-sig")))
        found = sorted(row["code"] for row in rows)
    assert found == codes
    assert client.get("/api/exports/planets?format=csv").status_code == 404
    assert client.get("/api/exports/items?format=pdf").status_code == 400

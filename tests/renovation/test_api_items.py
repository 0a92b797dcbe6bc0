"""The JSON API for items: shapes, changes with versions, every refusal, the OpenAPI document.

Every response a test gets is checked against the schema the OpenAPI document gives for
its path, method, status and media type, so the document cannot drift from the API.
Messages are checked in English (``?lang=en``): the Chinese ones are being translated.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry
from referencing.jsonschema import DRAFT4
from shapely.geometry import shape

from factories import make_community, make_item
from renovation import accounts, openapi
from renovation.catalogue import BY_CODE
from renovation.models import ChangePhoto, Community, ItemChange, RenovationItem, Role, Street, User
from renovation.progress import progress_by, total_progress, weight_of_kind
from renovation.status import Status

SPEC = openapi.build_document()
_SPEC_URI = "urn:gengxin:openapi"
_REGISTRY = Registry().with_resource(_SPEC_URI, DRAFT4.create_resource(SPEC))
ITEM_PATH, HISTORY_PATH = "/items/{item_id}", "/items/{item_id}/history"
LAOSHAN = "110107002000"
DISTRICT_BOX = "115.9,39.8,116.4,40.1"


# --- Helpers ----------------------------------------------------------------------------------

def _pointer(*parts) -> str:
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def assert_documented(response, path: str, method: str = "get"):
    """The response's status and media type are documented for the operation, and its body
    matches the schema documented for them (with $refs resolved); return the body."""
    responses = SPEC["paths"][path][method]["responses"]
    code = str(response.status_code)
    assert code in responses, f"{method.upper()} {path} answered {code}, not documented"
    content = responses[code]["content"]
    assert response.mimetype in content, (path, method, code, response.mimetype)
    body = json.loads(response.get_data())
    ref = f"{_SPEC_URI}#/" + _pointer("paths", path, method, "responses", code, "content",
                                      response.mimetype, "schema")
    validator = OAS30Validator({"$ref": ref}, registry=_REGISTRY,
                               format_checker=oas30_format_checker)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, f"{method.upper()} {path} {code} breaks its schema: {errors[:5]}"
    return body


def assert_error(response, status: int, *fragments: str, path: str = ITEM_PATH,
                 method: str = "patch") -> dict:
    """A JSON error with `status` whose message names each of `fragments`."""
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json"
    body = assert_documented(response, path, method)
    error = body["error"]
    assert error["status"] == status
    assert set(error) <= {"status", "message", "details"}
    for fragment in fragments:
        assert fragment.lower() in error["message"].lower(), (fragment, error["message"])
    return error


def user(session, username: str) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


def bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def get(client, path: str, **query):
    return client.get(path, query_string={"lang": "en", **query})


def patch(client, item_id: int, body, token: str | None = None, **kwargs):
    """PATCH /api/items/<id>: `body` as JSON, or as it is when it is str or bytes."""
    if isinstance(body, str | bytes):
        kwargs.setdefault("content_type", "application/json")
        kwargs["data"] = body
    else:
        kwargs["json"] = body
    return client.patch(f"/api/items/{item_id}", query_string={"lang": "en"},
                        headers={**bearer(token), **kwargs.pop("headers", {})}, **kwargs)


def state(session, item_id: int) -> tuple:
    """What a refused request must leave as it was: version, status, progress, history rows."""
    session.expire_all()
    version, status, progress = session.execute(
        sa.select(RenovationItem.version, RenovationItem.status, RenovationItem.progress_pct)
        .where(RenovationItem.id == item_id)).one()
    changes = session.scalar(sa.select(sa.func.count()).select_from(ItemChange)
                             .where(ItemChange.item_id == item_id))
    return version, status, progress, changes


# --- Fixtures ---------------------------------------------------------------------------------

@pytest.fixture
def item(app_session) -> RenovationItem:
    """A lift retrofit in design (20 %) in a community of its own in 老山街道."""
    street = app_session.scalar(sa.select(Street).where(Street.code == LAOSHAN))
    community = make_community(app_session, street)
    item = make_item(app_session, community, status=Status.DESIGN, progress_pct=20,
                     kind="lift_retrofit", title="3号楼加装电梯", quantity=2.0, unit="部",
                     planned_start=dt.date(2026, 3, 1))
    app_session.commit()  # the app's requests use their own connections
    return item


@pytest.fixture
def tokens(app_session) -> dict[str, str]:
    """A live API token per demo role, an official of another street, and a revoked one."""
    admin = user(app_session, "admin")
    revoked = accounts.issue_token(app_session, admin, "revoked")
    accounts.revoke_tokens(app_session, admin)
    other = app_session.scalar(sa.select(User).join(Street, User.street).where(
        User.role == Role.OFFICIAL, Street.code != LAOSHAN).order_by(User.username))
    names = {"admin": "admin", "official": "official-laoshan", "other-official": other.username,
             "planner": "planner", "moderator": "moderator", "resident": "resident"}
    found = {who: accounts.issue_token(app_session, user(app_session, username))
             for who, username in names.items()}
    found["revoked"] = revoked
    app_session.commit()
    return found


# --- Reading ----------------------------------------------------------------------------------

def test_an_item_reads_as_documented_with_the_database_values(client, app_session, item):
    response = get(client, f"/api/items/{item.id}")
    assert response.status_code == 200
    body = assert_documented(response, ITEM_PATH)
    assert set(body) == set(SPEC["components"]["schemas"]["Item"]["properties"])
    community = app_session.get(Community, item.community_id)
    assert body["id"] == item.id and body["community_id"] == community.id
    assert body["community_name"] == community.name and body["street_code"] == LAOSHAN
    assert (body["kind"], body["kind_name"]) == ("lift_retrofit", "Lift retrofit")
    assert (body["status"], body["status_label"], body["progress"]) == ("design", "Design", 20)
    assert (body["quantity"], body["unit"], body["title"]) == (2.0, "部", "3号楼加装电梯")
    assert (body["planned_start"], body["planned_end"]) == ("2026-03-01", "2030-01-01")
    assert body["actual_start"] is None and body["actual_end"] is None
    assert body["version"] == 1
    assert dt.datetime.fromisoformat(body["updated_at"]).utcoffset() is not None
    assert shape(body["geometry"]).equals(to_shape(item.geometry))
    assert body["allowed_next_statuses"] == ["consulting", "construction", "suspended"]
    assert client.get(body["url"]).status_code == 200


def test_names_follow_the_language(client, item):
    body = client.get(f"/api/items/{item.id}").get_json()  # Chinese by default
    assert (body["status_label"], body["kind_name"]) == ("设计中", "加装电梯")


def test_demo_items_read_as_documented_whatever_their_kind(client, app_session):
    """One item of every kind and status the demo has: geometry types, nulls, units."""
    picked = app_session.execute(
        sa.select(sa.func.min(RenovationItem.id)).group_by(RenovationItem.kind,
                                                           RenovationItem.status)).scalars()
    for item_id in picked:
        body = assert_documented(get(client, f"/api/items/{item_id}"), ITEM_PATH)
        assert body["kind_name"] == BY_CODE[body["kind"]].name_en


@pytest.mark.parametrize("item_id", ["0", "999999", str(2**31), "99999999999999999999"])
@pytest.mark.parametrize("suffix", ["", "/history"])
def test_unknown_items_are_a_json_404_naming_the_number(client, item_id, suffix):
    response = get(client, f"/api/items/{item_id}{suffix}")
    assert_error(response, 404, item_id, path=ITEM_PATH + suffix, method="get")


@pytest.mark.parametrize("path", ["/api/items/-1", "/api/items/abc", "/api/items/1.5/history"])
def test_ids_that_are_not_numbers_are_a_json_404(client, path):
    response = get(client, path)
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_history_is_newest_first_with_authors_and_photos(client, app_session, item, tokens):
    first = patch(client, item.id, {"version": 1, "progress": 30, "note": "图纸过审"},
                  tokens["official"])
    second = patch(client, item.id, {"version": 2, "status": "construction", "progress": 35,
                                     "date": "2026-05-20"}, tokens["admin"])
    assert (first.status_code, second.status_code) == (200, 200)
    photo = ChangePhoto(change_id=first.get_json()["change_id"], stored_name="a" * 32 + ".jpg",
                        content_type="image/jpeg", size_bytes=1000, width=40, height=30)
    app_session.add(photo)
    app_session.commit()

    response = get(client, f"/api/items/{item.id}/history")
    assert response.status_code == 200
    body = assert_documented(response, HISTORY_PATH)
    assert body["item_id"] == item.id
    newest, oldest = body["changes"]
    assert set(newest) == set(SPEC["components"]["schemas"]["Change"]["properties"])
    assert (newest["id"], oldest["id"]) == (second.get_json()["change_id"],
                                            first.get_json()["change_id"])
    assert newest["user"] == {"username": "admin", "display_name": "系统管理员"}
    assert oldest["user"]["username"] == "official-laoshan"
    assert (oldest["status_before"], oldest["status_after"]) == ("design", "design")
    assert (oldest["progress_before"], oldest["progress_after"]) == (20, 30)
    assert (newest["status_before"], newest["status_after"]) == ("design", "construction")
    assert (newest["progress_before"], newest["progress_after"]) == (30, 35)
    assert (oldest["note"], newest["note"]) == ("图纸过审", "")
    assert (oldest["version_after"], newest["version_after"]) == (2, 3)
    assert newest["effective_date"] == "2026-05-20"
    assert {oldest["source"], newest["source"]} == {"api"}
    assert oldest["photos"] == [f"/photos/{photo.id}"] and newest["photos"] == []
    for change in body["changes"]:
        assert dt.datetime.fromisoformat(change["changed_at"]).utcoffset() is not None


def test_an_item_without_changes_has_an_empty_history(client, item):
    body = assert_documented(get(client, f"/api/items/{item.id}/history"), HISTORY_PATH)
    assert body == {"item_id": item.id, "changes": []}


# --- Changing ---------------------------------------------------------------------------------

def _street_weights(session, street_id: int) -> float:
    return float(session.scalar(
        sa.select(sa.func.sum(weight_of_kind())).select_from(RenovationItem)
        .join(Community, RenovationItem.community).where(Community.street_id == street_id)))


def test_a_change_moves_the_item_writes_history_and_moves_progress(client, app_session, item,
                                                                   tokens):
    street_id = app_session.get(Community, item.community_id).street_id
    in_street = [Community.street_id == street_id]
    street_before = total_progress(app_session, where=in_street).percent
    district_before = total_progress(app_session).percent

    response = patch(client, item.id, {"version": 1, "status": "construction", "progress": 45,
                                       "note": "脚手架已搭好", "date": "2026-05-02"},
                     tokens["official"])

    assert response.status_code == 200, response.get_data()
    body = assert_documented(response, ITEM_PATH, "patch")
    assert (body["status"], body["progress"], body["version"]) == ("construction", 45, 2)
    assert body["actual_start"] == "2026-05-02"  # work starts on site the day it is reported
    assert body["allowed_next_statuses"] == ["design", "completed", "suspended"]
    fresh = get(client, f"/api/items/{item.id}").get_json()
    assert {**fresh, "change_id": body["change_id"]} == body

    app_session.expire_all()
    change = app_session.get(ItemChange, body["change_id"])
    assert change.item_id == item.id and change.user.username == "official-laoshan"
    assert (change.source, change.note, change.version_after) == ("api", "脚手架已搭好", 2)
    assert (change.status_before, change.status_after) == (Status.DESIGN, Status.CONSTRUCTION)
    assert (change.progress_before, change.progress_after) == (20, 45)
    assert change.effective_date == dt.date(2026, 5, 2)
    assert state(app_session, item.id) == (2, Status.CONSTRUCTION, 45, 1)

    # The roll-ups read the items, so they move at once: the community has only this item,
    # the street and the district move by its weight.
    assert progress_by(app_session, Community.id)[item.community_id].percent == 45
    weight = BY_CODE["lift_retrofit"].weight
    street_after = total_progress(app_session, where=in_street).percent
    assert street_after == pytest.approx(
        street_before + weight * 25 / _street_weights(app_session, street_id), abs=0.1)
    assert street_after > street_before
    assert total_progress(app_session).percent >= district_before


def test_a_change_costs_three_statements_and_no_large_geometry(client, app, item, tokens):
    """The item with its place and the token's user, the UPDATE, the history row: no more.

    Every API change runs this path, so a query added to it (a lazy load of the community,
    a second read of the item, a reload for the answer) shows here.
    """
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    engine = app.extensions["gengxin.db"].engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = patch(client, item.id, {"version": 1, "progress": 30, "note": "三条"},
                         tokens["official"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    assert response.status_code == 200, response.get_data()
    kinds = [" ".join(s.split()[:3]) for s in statements]
    assert len(statements) == 3, kinds
    assert statements[0].startswith("SELECT renovation_items.")
    assert "JOIN api_tokens" in statements[0] and "JOIN users" in statements[0]
    assert statements[1].startswith("UPDATE renovation_items")
    assert statements[2].startswith("INSERT INTO item_changes")
    assert not any("footprint" in s or "boundary" in s for s in statements)


def test_a_note_alone_is_a_change_with_a_new_version(client, app_session, item, tokens):
    response = patch(client, item.id, {"version": 1, "note": "居民意见已汇总"}, tokens["official"])
    assert response.status_code == 200
    body = assert_documented(response, ITEM_PATH, "patch")
    # Every accepted change moves the version on, or a second client still holding version 1
    # would overwrite the note's context unnoticed (and two history rows would share it).
    assert body["version"] == 2
    assert state(app_session, item.id) == (2, Status.DESIGN, 20, 1)
    stale = patch(client, item.id, {"version": 1, "note": "again"}, tokens["official"])
    assert_error(stale, 409, "version")


def test_null_fields_keep_their_value(client, app_session, item, tokens):
    response = patch(client, item.id, {"version": 1, "status": None, "progress": 25,
                                       "note": None, "date": None}, tokens["official"])
    assert response.status_code == 200
    assert state(app_session, item.id) == (2, Status.DESIGN, 25, 1)


def test_a_stale_version_is_409_with_the_current_item(client, app_session, item, tokens):
    assert patch(client, item.id, {"version": 1, "progress": 30}, tokens["official"]) \
        .status_code == 200
    before = state(app_session, item.id)

    response = patch(client, item.id, {"version": 1, "progress": 35}, tokens["admin"])

    error = assert_error(response, 409, "your version 1", "now 2")
    assert error["status"] == 409
    current = response.get_json()["current"]
    assert current == get(client, f"/api/items/{item.id}").get_json()
    assert (current["version"], current["progress"]) == (2, 30)
    assert state(app_session, item.id) == before


def test_admins_change_items_of_every_street(client, app_session, tokens):
    first_items = app_session.execute(
        sa.select(Street.code, sa.func.min(RenovationItem.id)).select_from(RenovationItem)
        .join(Community, RenovationItem.community).join(Street, Community.street)
        .group_by(Street.code)).all()
    assert len(first_items) == 9
    for code, item_id in first_items:
        version = get(client, f"/api/items/{item_id}").get_json()["version"]
        response = patch(client, item_id, {"version": version, "note": f"检查 {code}"},
                         tokens["admin"])
        assert response.status_code == 200, (code, response.get_data())


# --- Who may change: the role matrix --------------------------------------------------------

@pytest.mark.parametrize("who, status, message", [
    ("admin", 200, None),
    ("official", 200, None),
    ("other-official", 403, "another street"),
    ("planner", 403, "role"),
    ("moderator", 403, "role"),
    ("resident", 403, "role"),
    (None, 401, "API token"),
    ("revoked", 401, "revoked"),
])
def test_who_may_change_an_item(client, app_session, item, tokens, who, status, message):
    before = state(app_session, item.id)
    response = patch(client, item.id, {"version": 1, "progress": 33, "note": "matrix"},
                     tokens.get(who))
    if status == 200:
        assert response.status_code == 200
        assert_documented(response, ITEM_PATH, "patch")
        assert state(app_session, item.id) == (2, Status.DESIGN, 33, 1)
        return
    assert_error(response, status, message)
    assert state(app_session, item.id) == before
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header, invalid_token", [
    ("Bearer gx_not-a-token", True), ("Bearer ", True), ("Bearer " + "x" * 500, True),
    ("Basic YWRtaW46Z2VuZ3hpbi1kZW1v", False), ("", False),
])
def test_anything_but_a_live_token_is_401(client, app_session, item, header, invalid_token):
    before = state(app_session, item.id)
    response = patch(client, item.id, {"version": 1, "progress": 33},
                     headers={"Authorization": header} if header else {})
    assert_error(response, 401)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert ('error="invalid_token"' in challenge) is invalid_token
    assert state(app_session, item.id) == before


def test_the_session_cookie_does_not_authenticate_the_api(client, app_session, item):
    from renovation.demo import DEMO_PASSWORD

    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    signed_in = client.post("/login", data={"csrf_token": csrf, "username": "official-laoshan",
                                            "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    assert client.get("/my/items").status_code == 200  # the cookie works on the pages
    response = patch(client, item.id, {"version": 1, "progress": 33})
    assert_error(response, 401)
    assert state(app_session, item.id)[3] == 0


def test_a_deactivated_users_token_is_refused(client, app_session, item, tokens):
    user(app_session, "official-laoshan").is_active = False
    app_session.commit()
    response = patch(client, item.id, {"version": 1, "progress": 33}, tokens["official"])
    assert_error(response, 401)


def test_refusals_come_before_the_body_is_read(client, app_session, item, tokens):
    """Someone who may not change the item learns that, whatever they send."""
    assert_error(patch(client, item.id, b"not json", tokens["planner"]), 403)
    assert_error(patch(client, item.id, b"not json"), 401)


def test_unknown_items_are_404_for_changes_too(client, tokens):
    assert_error(patch(client, 999_999, {"version": 1, "progress": 5}, tokens["admin"]), 404,
                 "999999")


# --- Bad input changes nothing ----------------------------------------------------------------

BAD_BODIES = [
    # (body: a dict sent as JSON, or str/bytes sent as they are), words the message must have,
    # the field details must name (None: no details)
    ({"version": 1, "status": "flying"}, ["status", "flying"], "status"),
    ({"version": 1, "status": 5}, ["status", "5"], "status"),
    ({"version": 1, "status": "accepted"}, ["cannot move", "design", "accepted"], None),
    ({"version": 1, "progress": 150}, ["progress", "150"], "progress"),
    ({"version": 1, "progress": -1}, ["progress", "-1"], "progress"),
    ({"version": 1, "progress": "abc"}, ["progress", "abc"], "progress"),
    ({"version": 1, "progress": "50"}, ["progress", "50"], "progress"),
    ({"version": 1, "progress": True}, ["progress", "true"], "progress"),
    ({"version": 1, "progress": 25.5}, ["progress", "25.5"], "progress"),
    ({"version": 1, "progress": 10**400}, ["progress"], "progress"),
    ({"version": 1, "progress": 80}, ["80", "does not fit", "design"], None),
    ({"progress": 30}, ["version"], "version"),
    ({"version": None, "progress": 30}, ["version"], "version"),
    ({"version": "x", "progress": 30}, ["version"], "version"),
    ({"version": "1", "progress": 30}, ["version"], "version"),
    ({"version": True, "progress": 30}, ["version"], "version"),
    ({"version": 1.5, "progress": 30}, ["version"], "version"),
    ({"version": 0, "progress": 30}, ["version"], "version"),
    ({"version": 2**31, "progress": 30}, ["version"], "version"),
    ({"version": 1, "note": "长" * 5000}, ["note", "too long"], None),
    ({"version": 1, "note": 42}, ["note"], "note"),
    ({"version": 1, "note": "a\x00b"}, ["NUL"], "note"),
    ({"version": 1, "note": "   "}, ["Nothing to change"], None),
    ({"version": 1}, ["Nothing to change"], None),
    ({"version": 1, "progress": 30, "date": "yesterday"}, ["date", "2026-05-31"], "date"),
    ({"version": 1, "progress": 30, "date": "2026-02-30"}, ["date"], "date"),
    ({"version": 1, "progress": 30, "date": "20260501"}, ["date"], "date"),
    ({"version": 1, "progress": 30, "date": "2099-01-01"}, ["2099-01-01", "not possible"], None),
    ({"version": 1, "progress": 30, "colour": "red", "by": "x"}, ["colour", "by"],
     ["colour", "by"]),
    ({"version": 1, "progress": 30, "user_id": 1}, ["user_id"], ["user_id"]),
    ([{"version": 1, "progress": 30}], ["object"], None),
    ('"just text"', ["object"], None),
    ("null", ["object"], None),
    ('{"version": 1, "progress": 30', ["JSON"], None),
    ('{"version": 1, "progress": NaN}', ["JSON"], None),
    ("", ["JSON"], None),
    (b"\xff\xfe{", ["JSON"], None),
    ("[" * 100_000 + "]" * 100_000, ["JSON"], None),
    ('{"version": 1, "note": "\\ud800"}', ["Unicode"], "note"),
]


@pytest.mark.parametrize("body, words, fields", BAD_BODIES,
                         ids=[f"bad{i}" for i in range(len(BAD_BODIES))])
def test_bad_changes_are_400_naming_the_problem_and_change_nothing(client, app_session, item,
                                                                   tokens, body, words, fields):
    before = state(app_session, item.id)
    response = patch(client, item.id, body, tokens["official"])
    error = assert_error(response, 400, *words)
    if fields is not None:
        expected = fields if isinstance(fields, list) else [fields]
        assert sorted(error["details"]["fields"]) == sorted(expected)
    assert state(app_session, item.id) == before


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x",
                                          "application/xml"])
def test_a_body_that_is_not_declared_json_is_415(client, app_session, item, tokens,
                                                 content_type):
    before = state(app_session, item.id)
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.patch(f"/api/items/{item.id}?lang=en", data='{"version": 1, "progress": 30}',
                            headers={**bearer(tokens["official"]), **headers})
    assert_error(response, 415, "application/json")
    assert state(app_session, item.id) == before


def test_json_with_a_charset_is_json(client, app_session, item, tokens):
    response = patch(client, item.id, '{"version": 1, "progress": 30}', tokens["official"],
                     content_type="application/json; charset=utf-8")
    assert response.status_code == 200


# --- The OpenAPI document ---------------------------------------------------------------------

def test_the_openapi_document_is_served_and_valid(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    served = response.get_json()
    assert served == SPEC
    validate_spec(served)
    assert served["openapi"] == "3.0.3" and served["servers"] == [{"url": "/api"}]
    assert assert_documented(response, "/openapi.json") == SPEC


def test_every_operation_documents_its_refusals():
    expected = {
        (ITEM_PATH, "get"): {"200", "400", "404"},
        (ITEM_PATH, "patch"): {"200", "400", "401", "403", "404", "409", "413", "415"},
        (HISTORY_PATH, "get"): {"200", "400", "404"},
        ("/map/communities", "get"): {"200", "400"},
        ("/map/items", "get"): {"200", "400"},
        ("/openapi.json", "get"): {"200", "400"},
    }
    found = {(path, method): set(operation["responses"])
             for path, item in SPEC["paths"].items() for method, operation in item.items()}
    # Other parts of the API document their own operations (test_api_data.py checks that
    # every route under /api is documented); here, the item and map operations.
    assert {key: found.get(key) for key in expected} == expected
    ids = [op["operationId"] for item in SPEC["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    patch_operation = SPEC["paths"][ITEM_PATH]["patch"]
    assert patch_operation["security"] == [{"bearerAuth": []}]
    assert SPEC["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    change_fields = SPEC["components"]["schemas"]["ChangeRequest"]["properties"]
    from renovation.web.api_items import CHANGE_FIELDS

    assert set(change_fields) == set(CHANGE_FIELDS)


def test_the_server_url_follows_where_the_app_is_mounted(client):
    response = client.get("/api/openapi.json", environ_overrides={"SCRIPT_NAME": "/gengxin"})
    assert response.get_json()["servers"] == [{"url": "/gengxin/api"}]


@pytest.mark.parametrize("path, query", [
    ("/map/communities", {"bbox": DISTRICT_BOX}),
    ("/map/communities", {"bbox": DISTRICT_BOX, "zoom": "11"}),
    ("/map/communities", {"bbox": DISTRICT_BOX, "pilots": "1", "display": "gcj02"}),
    ("/map/communities", {"bbox": DISTRICT_BOX, "street": LAOSHAN, "zoom": "15"}),
    ("/map/items", {"bbox": DISTRICT_BOX}),
    ("/map/items", {"bbox": DISTRICT_BOX, "zoom": "16", "kind": "lift_retrofit,parking"}),
    ("/map/items", {"bbox": "1,2,3", "zoom": "16"}),
    ("/map/items", {"bbox": DISTRICT_BOX, "kind": "flying"}),
    ("/map/communities", {"bbox": DISTRICT_BOX, "zoom": "99"}),
])
def test_map_responses_match_the_document(client, path, query):
    response = get(client, "/api" + path, **query)
    body = assert_documented(response, path)
    if response.status_code == 200:
        assert body["features"], "pick a view with features in it"

"""The JSON API of sessions, comments, supports, flags and ratings: the same rules as the pages,
and every answer as the OpenAPI document describes it (status, media type, body schema)."""

from __future__ import annotations

import json

import pytest
from geoalchemy2.shape import to_shape
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry
from referencing.jsonschema import DRAFT4
from test_comments import FAR_DEG, eastmost
from test_sessions import new_session, pilot, user

from renovation import accounts, openapi, ratings
from renovation.models import SessionComment, SessionStatus, Visibility
from renovation.web import api_sessions

SPEC = openapi.build_document()
_URI = "urn:gengxin:openapi"
_REGISTRY = Registry().with_resource(_URI, DRAFT4.create_resource(SPEC))


def documented(response, path: str, method: str = "get") -> dict:
    """The response's status and media type are documented for the operation and its body
    fits the schema documented for them; return the body."""
    responses = SPEC["paths"][path][method]["responses"]
    code = str(response.status_code)
    assert code in responses, (method, path, code, response.get_data()[:300])
    assert response.mimetype in responses[code]["content"], (path, code, response.mimetype)
    body = json.loads(response.get_data())
    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in (
        "paths", path, method, "responses", code, "content", response.mimetype, "schema"))
    validator = OAS30Validator({"$ref": f"{_URI}#/{pointer}"}, registry=_REGISTRY,
                               format_checker=oas30_format_checker)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, (method, path, code, errors[:5])
    return body


@pytest.fixture
def tokens(app_session) -> dict[str, str]:
    names = ("planner", "moderator", "official-laoshan", "official-bajiao", "resident",
             "resident-2", "resident-3", "resident-bajiao-1")
    found = {name: accounts.issue_token(app_session, user(app_session, name)) for name in names}
    app_session.commit()
    return found


def call(client, method: str, path: str, token: str | None = None, body=None, **query):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs = {"json": body} if body is not None else {}
    return client.open(path, method=method, headers=headers,
                       query_string={"lang": "en", **query}, **kwargs)


def test_the_document_describes_every_route_of_the_blueprint(app):
    validate_spec(SPEC)
    assert set(api_sessions.OPENAPI_PATHS) <= set(SPEC["paths"])
    assert set(api_sessions.OPENAPI_SCHEMAS) <= set(SPEC["components"]["schemas"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api_sessions."):
            path = rule.rule.removeprefix("/api")
            for name in ("session_id", "comment_id", "item_id"):
                path = path.replace(f"<int:{name}>", "{" + name + "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in SPEC["paths"][path], (method, path)


def test_sessions_through_the_api(client, app_session, tokens):
    community = pilot(app_session)
    lift = next(i for i in community.items if i.kind == "lift_retrofit")
    body = {"community_id": community.id, "title": "加装电梯讨论会",
            "starts_at": "2026-12-05T19:00:00+08:00", "place": "居委会",
            "facilitator_id": user(app_session, "moderator").id,
            "topics": [{"title": "3号楼电梯", "item_ids": [lift.id]}]}
    anonymous = call(client, "POST", "/api/sessions", body=body)
    documented(anonymous, "/sessions", "post")
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["WWW-Authenticate"]
    for who in ("resident", "moderator", "official-bajiao"):
        assert documented(call(client, "POST", "/api/sessions", tokens[who], body),
                          "/sessions", "post")["error"]["status"] == 403
    for bad, status in [({**body, "colour": "red"}, 400), ({**body, "starts_at": "tomorrow"}, 400),
                        ({**body, "starts_at": "2026-12-05T19:00:00"}, 400),
                        ({**body, "topics": [{"title": "x", "votes": 3}]}, 400)]:
        assert call(client, "POST", "/api/sessions", tokens["planner"], bad).status_code == status
    wrong_type = client.post("/api/sessions", data="title=x", content_type="text/plain",
                             headers={"Authorization": f"Bearer {tokens['planner']}"})
    assert documented(wrong_type, "/sessions", "post")["error"]["status"] == 415
    created = documented(call(client, "POST", "/api/sessions", tokens["planner"], body),
                         "/sessions", "post")
    assert created["status"] == "upcoming" and created["starts_at"] == "2026-12-05T11:00:00+00:00"
    assert created["topics"][0]["item_ids"] == [lift.id] and created["minutes"] is None
    sid = created["id"]
    topic = call(client, "POST", f"/api/sessions/{sid}/topics", tokens["moderator"],
                 {"title": "下水管线", "kind": "drainage"})
    assert len(documented(topic, "/sessions/{session_id}/topics", "post")["topics"]) == 2
    opened = call(client, "POST", f"/api/sessions/{sid}/open", tokens["moderator"])
    assert documented(opened, "/sessions/{session_id}/open", "post")["status"] == "open"
    again = call(client, "POST", f"/api/sessions/{sid}/open", tokens["moderator"])
    assert documented(again, "/sessions/{session_id}/open", "post")["error"]["status"] == 409
    closed = call(client, "POST", f"/api/sessions/{sid}/close", tokens["official-laoshan"], {
        "summary": "纪要", "attendees": 30, "outcomes": [
            {"text": "先装电梯", "changed_item_ids": [lift.id]},
            {"text": "新增车位", "new_items": [{"kind": "parking", "title": "东侧车位"}]}]})
    minutes = documented(closed, "/sessions/{session_id}/close", "post")["minutes"]
    assert [[(i["effect"], i["title"]) for i in o["items"]] for o in minutes["outcomes"]] == [
        [("changed", lift.title)], [("created", "东侧车位")]]
    listed = documented(call(client, "GET", "/api/sessions", community=community.id,
                             status="closed"), "/sessions")
    assert sid in [s["id"] for s in listed["sessions"]]
    assert {s["status"] for s in listed["sessions"]} == {"closed"}
    for query in ({"community": "0"}, {"status": "ongoing"}):
        assert documented(call(client, "GET", "/api/sessions", **query),
                          "/sessions")["error"]["status"] == 400
    assert documented(call(client, "GET", f"/api/sessions/{sid + 1000}"),
                      "/sessions/{session_id}")["error"]["status"] == 404


def test_comments_supports_flags_and_moderation_through_the_api(app_config, request):
    app_config["SESSION_FLAGS_TO_HIDE"] = 2
    client, app_session = request.getfixturevalue("client"), request.getfixturevalue(
        "app_session")
    tokens = request.getfixturevalue("tokens")
    s = new_session(app_session)
    inside = to_shape(pilot(app_session).footprint).representative_point()
    edge = eastmost(app_session)
    app_session.commit()
    path = f"/api/sessions/{s.id}/comments"
    doc = "/sessions/{session_id}/comments"
    text = "<img src=x onerror=alert(1)> 下水道返水"
    outsider = call(client, "POST", path, tokens["resident-bajiao-1"],
                    {"topic_id": s.topics[0].id, "text": text})
    assert documented(outsider, doc, "post")["error"]["status"] == 403
    far = call(client, "POST", path, tokens["resident"], {
        "topic_id": s.topics[0].id, "text": text, "lon": edge.x + FAR_DEG, "lat": edge.y})
    assert "m away" in documented(far, doc, "post")["error"]["message"]
    posted = documented(call(client, "POST", path, tokens["resident"], {
        "topic_id": s.topics[0].id, "text": text, "lon": inside.x, "lat": inside.y}), doc, "post")
    assert posted["text"] == text and posted["location"] == pytest.approx([inside.x, inside.y])
    reply = documented(call(client, "POST", path, tokens["official-laoshan"], {
        "topic_id": s.topics[0].id, "text": "已安排疏通。", "parent_id": posted["id"]}),
        doc, "post")
    assert (reply["depth"], reply["is_official"]) == (1, True)
    support = f"/api/comments/{posted['id']}/support"
    assert documented(call(client, "POST", support, tokens["resident-2"]),
                      "/comments/{comment_id}/support", "post")["supports"] == 1
    assert documented(call(client, "POST", support, tokens["resident-2"]),
                      "/comments/{comment_id}/support", "post")["error"]["status"] == 409
    listed = documented(call(client, "GET", path, sort="time"), doc)
    assert [(c["id"], c["depth"], c["supports"]) for c in listed["comments"]] == [
        (posted["id"], 0, 1), (reply["id"], 1, 0)]
    bbox = f"{inside.x - 0.01},{inside.y - 0.01},{inside.x + 0.01},{inside.y + 0.01}"
    pins = call(client, "GET", f"/api/sessions/{s.id}/pins", bbox=bbox)
    pins_body = documented(pins, "/sessions/{session_id}/pins")
    assert [f["properties"]["title"] for f in pins_body["features"]] == [text]

    flags = f"/api/comments/{posted['id']}/flags"
    first = call(client, "POST", flags, tokens["resident-3"], {"reason": "广告"})
    assert documented(first, "/comments/{comment_id}/flags", "post")["visibility"] == "visible"
    second = call(client, "POST", flags, tokens["official-bajiao"])  # no body: no reason
    assert documented(second, "/comments/{comment_id}/flags", "post")["visibility"] == "pending"
    hidden = documented(call(client, "GET", path), doc)["comments"][0]
    assert (hidden["visibility"], hidden["text"]) == ("pending", None)
    assert documented(call(client, "GET", f"/api/sessions/{s.id}/pins", bbox=bbox),
                      "/sessions/{session_id}/pins")["features"] == []
    queue = call(client, "GET", "/api/moderation/queue", tokens["moderator"])
    entry, = documented(queue, "/moderation/queue")["comments"]
    assert entry["comment"]["text"] == text and [f["reason"] for f in entry["flags"]] == [
        "广告", ""]
    assert documented(call(client, "GET", "/api/moderation/queue", tokens["resident"]),
                      "/moderation/queue")["error"]["status"] == 403
    as_moderator = documented(call(client, "GET", path, tokens["moderator"]), doc)
    assert as_moderator["comments"][0]["text"] == text
    moderate = f"/api/comments/{posted['id']}/moderation"
    assert documented(call(client, "POST", moderate, tokens["resident"],
                           {"decision": "restore", "reason": "x"}),
                      "/comments/{comment_id}/moderation", "post")["error"]["status"] == 403
    decided = call(client, "POST", moderate, tokens["moderator"],
                   {"decision": "hide", "reason": "含有不实信息"})
    assert documented(decided, "/comments/{comment_id}/moderation", "post")["visibility"] == \
        "hidden"
    app_session.expire_all()
    kept = app_session.get(SessionComment, posted["id"])
    assert (kept.visibility, kept.body) == (Visibility.HIDDEN, text)


def test_ratings_and_satisfaction_through_the_api(client, app_session, tokens):
    community = pilot(app_session)
    finished = ratings.finished_items(app_session, community.id)
    unrated = next(i for i in finished if i.id not in ratings.own_ratings(
        app_session, user(app_session, "resident"), [i.id for i in finished]))
    unfinished = next(i for i in community.items if not i.status.is_done)
    path, doc = f"/api/items/{unrated.id}/ratings", "/items/{item_id}/ratings"
    rated = documented(call(client, "POST", path, tokens["resident"],
                            {"score": 4, "comment": "不错"}), doc, "post")
    assert (rated["score"], rated["comment"], rated["item_id"]) == (4, "不错", unrated.id)
    for token, body, status in [(tokens["resident"], {"score": 5}, 409),
                                (tokens["resident-bajiao-1"], {"score": 5}, 403),
                                (tokens["official-laoshan"], {"score": 5}, 403),
                                (tokens["resident-2"], {"score": 6}, 400),
                                (tokens["resident-2"], {"score": "5", "stars": 5}, 400),
                                (None, {"score": 5}, 401)]:
        refused = documented(call(client, "POST", path, token, body), doc, "post")
        assert refused["error"]["status"] == status, (body, refused)
    not_done = call(client, "POST", f"/api/items/{unfinished.id}/ratings", tokens["resident"],
                    {"score": 5})
    assert documented(not_done, doc, "post")["error"]["status"] == 409
    listed = documented(call(client, "GET", path), doc)
    assert listed["satisfaction"]["count"] == len(listed["ratings"]) >= 1
    overview = documented(call(client, "GET", "/api/satisfaction"), "/satisfaction")
    by_street = ratings.satisfaction_by_street(app_session)
    figures = {s["street_code"]: s["satisfaction"] for s in overview["streets"]}
    for street, figure in ratings.street_rows(app_session):
        assert figures[street.code] == (None if figure is None else
                                        {"mean": figure[0], "count": figure[1]})
    assert sum(f[1] for f in by_street.values()) == overview["district"]["count"]


def test_api_posts_count_against_the_same_limits(app_config, request):
    app_config["SESSION_POSTS_PER_ACCOUNT"] = 1
    client, app_session = request.getfixturevalue("client"), request.getfixturevalue(
        "app_session")
    tokens = request.getfixturevalue("tokens")
    s = new_session(app_session)
    app_session.commit()
    path = f"/api/sessions/{s.id}/comments"
    body = {"topic_id": s.topics[0].id, "text": "一句话"}
    assert call(client, "POST", path, tokens["resident"], body).status_code == 201
    limited = call(client, "POST", path, tokens["resident"], body)
    assert "posting too fast" in documented(limited, "/sessions/{session_id}/comments",
                                            "post")["error"]["message"]
    assert limited.status_code == 429
    assert call(client, "POST", path, tokens["resident-2"], body).status_code == 201
    assert s.status is SessionStatus.OPEN

"""Every write route of the app refuses those who may not write, whatever route is added later.

The routes are read from the app's URL map, so a new POST/PATCH/PUT/DELETE route
is checked here without anyone remembering to add it. Session routes take writes
from residents, moderators and planners by design; their per-role rules are tested
in test_sessions*.py and test_comments.py, and here only against anonymous users.
"""

import re

import pytest
import sqlalchemy as sa

from renovation.demo import DEMO_PASSWORD
from renovation.models import ItemChange, RenovationItem

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
#: Routes anyone may post to: signing in and out, one's own password, joining with a code.
SELF_SERVICE = {"auth.login", "auth.logout", "auth.change_password", "sessions.join"}
EDITOR_ROUTES = {"items.change", "spreadsheets.upload", "api_items.change_item",
                 "gis.import_file", "gis.import_apply"}


def is_session_route(endpoint: str) -> bool:
    return endpoint.split(".")[0] in ("sessions", "api_sessions")


def write_routes(app):
    return sorted((rule.endpoint, rule.rule, sorted(rule.methods & WRITE_METHODS))
                  for rule in app.url_map.iter_rules() if rule.methods & WRITE_METHODS)


def url_for_rule(rule: str, ids: int) -> str:
    # Any number fits every <int:...> converter; street codes and formats get real values.
    url = re.sub(r"<int:[a-z_]+>", str(ids), rule)
    return url.replace("<code>", "110107002000").replace("<format>", "csv")


def snapshot(session):
    session.expire_all()
    return (session.scalar(sa.select(sa.func.count()).select_from(ItemChange)),
            session.scalar(sa.select(sa.func.sum(RenovationItem.version))))


def test_the_write_routes_are_the_known_ones(app):
    endpoints = {endpoint for endpoint, _, _ in write_routes(app)
                 if not is_session_route(endpoint)}
    assert endpoints == (SELF_SERVICE - {"sessions.join"}) | EDITOR_ROUTES, endpoints


@pytest.mark.parametrize("username", [None, "resident", "moderator", "planner"])
def test_no_write_route_lets_a_non_editor_change_items(app, client, app_session, username):
    item_id = app_session.scalar(sa.select(sa.func.min(RenovationItem.id)))
    token = ""
    if username:
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        client.post("/login", data={"csrf_token": token, "username": username,
                                    "password": DEMO_PASSWORD})
    before = snapshot(app_session)
    for endpoint, rule, methods in write_routes(app):
        if endpoint in SELF_SERVICE or (username and is_session_route(endpoint)):
            continue
        if username == "planner" and endpoint.startswith("gis.import"):
            continue  # planners import GIS data: tested in test_import.py
        for method in methods:
            response = client.open(url_for_rule(rule, item_id), method=method,
                                   data={"csrf_token": token, "version": "1", "progress": "1"})
            assert response.status_code in (302, 400, 401, 403, 404, 415), (
                endpoint, method, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]
    assert snapshot(app_session) == before

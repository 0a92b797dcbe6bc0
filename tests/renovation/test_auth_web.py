"""Signing in and out, passwords, CSRF, and who may change an item through the pages."""

import re

import pytest
import sqlalchemy as sa

from renovation import accounts
from renovation.demo import DEMO_PASSWORD
from renovation.models import Community, ItemChange, RenovationItem, Street, User
from renovation.status import Status

ROLES = ["admin", "planner", "moderator", "resident", "official-laoshan", "official-bajiao"]


def csrf_token(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username, password=DEMO_PASSWORD):
    return client.post("/login", data={"csrf_token": csrf_token(client), "username": username,
                                       "password": password, "next": "/my/items"})


def laoshan_item(session) -> RenovationItem:
    return session.scalar(
        sa.select(RenovationItem).join(Community).join(Street)
        .where(Street.code == "110107002000", RenovationItem.status == Status.CONSTRUCTION)
        .order_by(RenovationItem.id))


def test_sign_in_with_the_right_password_only(client):
    response = sign_in(client, "official-laoshan", "wrong password")
    assert response.status_code == 401
    assert client.get("/my/items").status_code == 302
    response = sign_in(client, "official-laoshan")
    assert response.status_code == 302 and response.headers["Location"] == "/my/items"
    assert client.get("/my/items").status_code == 200


def test_the_session_cookie_is_httponly_and_samesite(client):
    sign_in(client, "planner")
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_sign_out_needs_a_post_with_csrf(client):
    sign_in(client, "planner")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/my/items").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/my/items")})
    assert client.get("/my/items").status_code == 302


def test_sign_in_refuses_open_redirects(client):
    response = client.post("/login", data={"csrf_token": csrf_token(client),
                                           "username": "planner", "password": DEMO_PASSWORD,
                                           "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


def test_repeated_failures_are_throttled(client):
    for _ in range(10):
        sign_in(client, "admin", "not the password")
    response = sign_in(client, "admin")  # even the right password waits now
    assert response.status_code == 429


def test_changing_the_password_ends_other_sessions(app, client):
    other = app.test_client()
    sign_in(client, "official-laoshan")
    sign_in(other, "official-laoshan")
    token = csrf_token(client, "/account/password")
    response = client.post("/account/password", data={
        "csrf_token": token, "current_password": DEMO_PASSWORD,
        "new_password": "a much better one", "new_password_again": "a much better one"})
    assert response.status_code == 302
    assert client.get("/my/items").status_code == 200
    assert other.get("/my/items").status_code == 302
    assert sign_in(other, "official-laoshan", "a much better one").status_code == 302


@pytest.mark.parametrize("current, new, again, status", [
    ("wrong", "a much better one", "a much better one", 403),
    (DEMO_PASSWORD, "short", "short", 400),
    (DEMO_PASSWORD, "a much better one", "a different one!!", 400)])
def test_bad_password_changes_are_refused(client, current, new, again, status):
    sign_in(client, "planner")
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account/password"), "current_password": current,
        "new_password": new, "new_password_again": again})
    assert response.status_code == status
    client.post("/logout", data={"csrf_token": csrf_token(client, "/my/items")})
    assert sign_in(client, "planner").status_code == 302


def test_tokens_identify_and_can_be_revoked(app_session):
    planner = app_session.scalar(sa.select(User).where(User.username == "planner"))
    token = accounts.issue_token(app_session, planner, "script")
    assert accounts.user_for_token(app_session, token) is planner
    assert accounts.user_for_token(app_session, token + "x") is None
    assert accounts.revoke_tokens(app_session, planner) == 1
    assert accounts.user_for_token(app_session, token) is None


@pytest.mark.parametrize("username, expected", [
    (None, 401), ("admin", 302), ("official-laoshan", 302), ("official-bajiao", 403),
    ("planner", 403), ("moderator", 403), ("resident", 403)])
def test_who_may_change_an_item_through_the_page(client, app_session, username, expected):
    item = laoshan_item(app_session)
    before = (item.status, item.progress_pct, item.version)
    if username:
        sign_in(client, username)
        token = csrf_token(client, f"/items/{item.id}")
    else:
        token = csrf_token(client)
    response = client.post(f"/items/{item.id}/change", data={
        "csrf_token": token, "version": item.version, "progress": item.progress_pct + 1})
    assert response.status_code == expected
    app_session.expire_all()
    changes = app_session.scalar(sa.select(sa.func.count()).select_from(ItemChange)
                                 .where(ItemChange.item_id == item.id))
    after = app_session.get(RenovationItem, item.id)
    if expected == 302:
        assert after.progress_pct == before[1] + 1 and changes == 1
    else:
        assert (after.status, after.progress_pct, after.version) == before and changes == 0


def test_a_change_without_csrf_is_refused(client, app_session):
    item = laoshan_item(app_session)
    sign_in(client, "official-laoshan")
    response = client.post(f"/items/{item.id}/change", data={"version": item.version,
                                                             "progress": 50})
    assert response.status_code == 400
    app_session.expire_all()
    assert app_session.get(RenovationItem, item.id).version == item.version


def test_a_stale_form_gets_409_and_the_current_state(client, app_session):
    item = laoshan_item(app_session)
    sign_in(client, "official-laoshan")
    token = csrf_token(client, f"/items/{item.id}")
    first = client.post(f"/items/{item.id}/change", data={
        "csrf_token": token, "version": item.version, "progress": 61})
    assert first.status_code == 302
    second = client.post(f"/items/{item.id}/change", data={
        "csrf_token": token, "version": item.version, "progress": 62})
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert "61%" in html and f'name="version" value="{item.version + 1}"' in html


@pytest.mark.parametrize("form, message", [
    ({"status": "flying"}, "flying"), ({"progress": "150"}, "150"),
    ({"progress": "abc"}, "abc"), ({"date": "yesterday"}, "2026-05-31"),
    ({"version": ""}, "version"), ({"note": "a\x00b"}, "NUL")])
def test_bad_forms_get_a_clear_400(client, app_session, form, message):
    item = laoshan_item(app_session)
    sign_in(client, "official-laoshan")
    data = {"csrf_token": csrf_token(client, f"/items/{item.id}"), "version": item.version,
            "progress": 50}
    data.update(form)
    response = client.post(f"/items/{item.id}/change", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_the_worklist_shows_only_the_officials_street(client, app_session):
    sign_in(client, "official-laoshan")
    html = client.get("/my/items?status=construction").get_data(as_text=True)
    ids = {int(i) for i in re.findall(r'id="item-(\d+)"', html)}
    expected = set(app_session.scalars(
        sa.select(RenovationItem.id).join(Community).join(Street)
        .where(Street.code == "110107002000", RenovationItem.status == Status.CONSTRUCTION)))
    assert ids == expected and ids


def test_the_map_views_leave_the_signed_in_session_alone(client, app_session):
    """The map's JSON and the items' API neither read nor write the session cookie: a
    signed-in official moving a map stays signed in, with no cookie or Vary: Cookie on the
    answers."""
    assert sign_in(client, "official-laoshan").status_code == 302
    item_id = app_session.scalar(sa.select(sa.func.min(RenovationItem.id)))
    for path in ("/api/map/communities?bbox=116.1,39.85,116.25,39.95&zoom=15&lean=1",
                 "/api/map/items?bbox=116.1,39.85,116.25,39.95&zoom=16",
                 f"/api/items/{item_id}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
    assert client.get("/my/items").status_code == 200

"""Open-space sessions: who creates and runs them, topics, the forward-only status, the minutes
with their outcomes, resident accounts (by a facilitator, by invite code), the pages, the
schema (a spatial index on the pins) and the demo's sessions.

The helpers at the top are shared with the other session test modules.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from factories import make_community
from renovation import accounts, sessions
from renovation.demo import DEMO_PASSWORD
from renovation.errors import DomainError
from renovation.models import (
    Community,
    ItemRating,
    OpenSpaceSession,
    OutcomeEffect,
    RenovationItem,
    Role,
    SessionComment,
    SessionStatus,
    Street,
    User,
)
from renovation.sessions import OutcomeInput, TopicInput

START = dt.datetime(2026, 12, 5, 11, 0, tzinfo=dt.UTC)


# --- Shared helpers ---------------------------------------------------------------------------

def user(db, username: str) -> User:
    return db.scalar(sa.select(User).where(User.username == username))


def pilot(db) -> Community:
    """老山东里北社区, the district pilot, where the demo resident lives."""
    return db.scalar(sa.select(Community).where(Community.is_district_pilot))


def new_session(db, *, status: SessionStatus = SessionStatus.OPEN, community=None,
                topics=None) -> OpenSpaceSession:
    """A session in the pilot announced by the planner, run by the demo moderator."""
    community = community or pilot(db)
    created = sessions.create_session(
        db, user(db, "planner"), community.id, title="测试讨论会", starts_at=START,
        place="居委会会议室", facilitator_id=user(db, "moderator").id,
        topics=topics or [TopicInput("加装电梯", "lift_retrofit"),
                          TopicInput("下水管线", "drainage")])
    if status is not SessionStatus.UPCOMING:
        sessions.open_session(db, user(db, "moderator"), created.id)
    if status is SessionStatus.CLOSED:
        sessions.close_session(db, user(db, "moderator"), created.id, summary="会议纪要",
                               attendees=12)
    return created


def csrf_token(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username: str) -> str:
    """Sign `client` in; return a CSRF token for its forms."""
    response = client.post("/login", data={"csrf_token": csrf_token(client),
                                           "username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, username
    return csrf_token(client, "/sessions")


# --- Creating and running ---------------------------------------------------------------------

def test_who_may_create_a_session(session):
    community = pilot(session)
    for username, allowed in [("planner", True), ("admin", True), ("official-laoshan", True),
                              ("official-bajiao", False), ("moderator", False),
                              ("resident", False)]:
        values = {"title": "楼道清理", "starts_at": START, "place": "广场",
                  "topics": [TopicInput("楼道", "stairwell")]}
        if allowed:
            created = sessions.create_session(session, user(session, username), community.id,
                                              **values)
            assert created.status is SessionStatus.UPCOMING
            assert created.facilitator_id == user(session, username).id  # default: creator
        else:
            with pytest.raises(DomainError) as refused:
                sessions.create_session(session, user(session, username), community.id,
                                        **values)
            assert refused.value.status == 403, username


def test_a_session_moves_only_forward_and_records_its_minutes(session):
    items = pilot(session).items
    lift = next(i for i in items if i.kind == "lift_retrofit")
    drain = next(i for i in items if i.kind == "drainage")
    created = new_session(session, status=SessionStatus.UPCOMING,
                          topics=[TopicInput("3号楼加装电梯", item_ids=(lift.id,))])
    moderator, official = user(session, "moderator"), user(session, "official-laoshan")
    assert [i.id for i in created.topics[0].items] == [lift.id]
    assert created.topics[0].kind is None
    with pytest.raises(DomainError, match="cannot move") as refused:
        sessions.close_session(session, moderator, created.id, summary="x", attendees=1)
    assert refused.value.status == 409
    sessions.open_session(session, moderator, created.id)
    with pytest.raises(DomainError, match="cannot move"):
        sessions.open_session(session, moderator, created.id)
    closed = sessions.close_session(
        session, official, created.id, summary="居民与各部门面对面交流。\r\n形成两项共识。",
        attendees=86, outcomes=[
            OutcomeInput("按单元征询，先行加装电梯。", changed_item_ids=(lift.id,)),
            OutcomeInput("更换雨污水管线，新增一处检查井。", changed_item_ids=(drain.id,),
                         new_items=(("drainage", "4号楼检查井"),))])
    assert closed.status is SessionStatus.CLOSED and closed.closed_by_id == official.id
    assert closed.summary == "居民与各部门面对面交流。\n形成两项共识。"  # \r\n counted once
    assert closed.attendees == 86 and closed.closed_at is not None
    first, second = closed.outcomes
    assert [(link.item_id, link.effect) for link in first.links] == [
        (lift.id, OutcomeEffect.CHANGED)]
    effects = {link.item.title: link.effect for link in second.links}
    assert effects == {drain.title: OutcomeEffect.CHANGED, "4号楼检查井": OutcomeEffect.CREATED}
    new_item = next(link.item for link in second.links if link.effect is OutcomeEffect.CREATED)
    assert new_item.community_id == created.community_id and new_item.geometry is None
    # After closing: outcomes may be added, topics may not; nothing reopens.
    sessions.add_outcome(session, moderator, created.id, OutcomeInput("补充：设置临时停车点。"))
    assert [o.position for o in closed.outcomes] == [0, 1, 2]
    with pytest.raises(DomainError, match="closed"):
        sessions.add_topic(session, moderator, created.id, TopicInput("停车", "parking"))
    with pytest.raises(DomainError, match="cannot move"):
        sessions.open_session(session, moderator, created.id)


def test_running_a_session_is_for_its_facilitator_and_the_districts_staff(session):
    created = new_session(session, status=SessionStatus.UPCOMING)
    for username in ("resident", "official-bajiao"):
        with pytest.raises(DomainError) as refused:
            sessions.open_session(session, user(session, username), created.id)
        assert refused.value.status == 403
    with pytest.raises(DomainError) as refused:
        sessions.open_session(session, None, created.id)
    assert refused.value.status == 401
    # Only the street's officials (and admins) create items through an outcome; the
    # facilitator (a moderator) may record outcomes but not new items.
    sessions.open_session(session, user(session, "moderator"), created.id)
    with pytest.raises(DomainError) as refused:
        sessions.close_session(session, user(session, "moderator"), created.id, summary="纪要",
                               attendees=3, outcomes=[OutcomeInput("新增", new_items=(
                                   ("parking", "东侧路侧停车"),))])
    assert refused.value.status == 403


def test_topics_and_session_fields_are_checked(session):
    created = new_session(session, status=SessionStatus.UPCOMING)
    moderator = user(session, "moderator")
    for topic, message in [(TopicInput("没有类别也没有项目"), "Tie the topic"),
                           (TopicInput("未知类别", "spaceport"), "Unknown item kind"),
                           (TopicInput("  ", "parking"), "empty"),
                           (TopicInput("x" * 201, "parking"), "too long"),
                           (TopicInput("不存在的项目", item_ids=(-1,)), "not items of")]:
        with pytest.raises(DomainError, match=message):
            sessions.add_topic(session, moderator, created.id, topic)
    fine = {"title": "讨论会", "starts_at": START, "place": "广场", "facilitator_id": None}
    for field, value, message in [
            ("title", "", "empty"), ("place", "x" * 201, "too long"), ("title", "a\x00b", "NUL"),
            ("starts_at", dt.datetime(2026, 12, 5, 19, 0), "time zone"),
            ("starts_at", dt.datetime(1900, 1, 1, tzinfo=dt.UTC), "not possible"),
            ("facilitator_id", user(session, "resident").id, "facilitator")]:
        with pytest.raises(DomainError, match=message):
            sessions.create_session(session, user(session, "planner"), pilot(session).id,
                                    **{**fine, field: value})


def test_topics_tie_only_to_items_of_the_sessions_community(session):
    other = session.scalar(sa.select(RenovationItem).join(Community)
                           .where(~Community.is_district_pilot).order_by(RenovationItem.id))
    created = new_session(session, status=SessionStatus.UPCOMING)
    with pytest.raises(DomainError, match="not items of"):
        sessions.add_topic(session, user(session, "moderator"), created.id,
                           TopicInput("别处的电梯", item_ids=(other.id,)))
    with pytest.raises(DomainError, match="Add at least one topic"):
        empty = sessions.create_session(session, user(session, "planner"), pilot(session).id,
                                        title="空", starts_at=START, place="广场")
        sessions.open_session(session, user(session, "planner"), empty.id)


def test_sessions_are_listed_upcoming_first(session):
    community = make_community(session, session.scalar(sa.select(Street).order_by(Street.id)))
    made = {}
    for name, status, days in [("closed-old", SessionStatus.CLOSED, -30),
                               ("open", SessionStatus.OPEN, -1),
                               ("upcoming-later", SessionStatus.UPCOMING, 20),
                               ("closed-recent", SessionStatus.CLOSED, -5),
                               ("upcoming-soon", SessionStatus.UPCOMING, 3)]:
        s = new_session(session, status=status, community=community)
        s.title, s.starts_at = name, START + dt.timedelta(days=days)
        made[name] = s
    session.flush()
    titles = [s.title for s in sessions.list_sessions(session, community_id=community.id)]
    assert titles == ["upcoming-soon", "upcoming-later", "open", "closed-recent", "closed-old"]
    assert [s.title for s in sessions.list_sessions(session, community_id=community.id,
                                                    status=SessionStatus.OPEN)] == ["open"]


# --- Resident accounts ------------------------------------------------------------------------

def test_a_facilitator_opens_resident_accounts_bound_to_the_community(session):
    community = pilot(session)
    made = sessions.create_resident(session, user(session, "moderator"), community.id,
                                    username="wang.ayi", password="a long password",
                                    display_name="王阿姨")
    assert (made.role, made.community_id, made.display_name) == (Role.RESIDENT, community.id,
                                                                 "王阿姨")
    assert accounts.authenticate(session, "wang.ayi", "a long password") is made
    elsewhere = session.scalar(sa.select(Community).where(Community.id != community.id)
                               .order_by(Community.id))
    for username in ("moderator", "resident", "official-bajiao"):
        with pytest.raises(DomainError) as refused:  # the moderator runs no session there
            sessions.create_resident(session, user(session, username), elsewhere.id,
                                     username="li.shifu", password="a long password")
        assert refused.value.status == 403


def test_an_invite_code_opens_accounts_until_it_expires_or_is_used_up(session):
    community = pilot(session)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    invite, code = sessions.create_invite(session, user(session, "official-laoshan"),
                                          community.id, days=7, max_uses=2, now=now)
    assert re.fullmatch(r"[A-Z2-9]{10}", code) and invite.code_hash != code
    typed = " " + code[:5].lower() + "-" + code[5:] + " "  # as a resident might type it
    joined = sessions.join_with_invite(session, typed, username="zhang.daye",
                                       password="a long password", display_name="张大爷",
                                       now=now)
    assert (joined.role, joined.community_id) == (Role.RESIDENT, community.id)
    with pytest.raises(DomainError, match="taken"):
        sessions.join_with_invite(session, code, username="zhang.daye",
                                  password="a long password", now=now)
    sessions.join_with_invite(session, code, username="liu.nvshi", password="a long password",
                              now=now)
    for attempt, when in [(code, now), ("WRONGCODE2", now)]:  # used up; unknown
        with pytest.raises(sessions.InvalidInvite):
            sessions.join_with_invite(session, attempt, username="chen.xiansheng",
                                      password="a long password", now=when)
    _, fresh = sessions.create_invite(session, user(session, "moderator"), community.id,
                                      days=7, now=now)
    with pytest.raises(sessions.InvalidInvite, match="expired"):
        sessions.join_with_invite(session, fresh, username="chen.xiansheng",
                                  password="a long password", now=now + dt.timedelta(days=8))


def test_joining_through_the_page_signs_the_resident_in(app, client, app_session):
    community = pilot(app_session)
    _, code = sessions.create_invite(app_session, user(app_session, "moderator"), community.id)
    app_session.commit()
    token = csrf_token(client, "/join")
    bad = client.post("/join?lang=en", data={"csrf_token": token, "code": "NOTACODE22",
                                     "username": "new.resident", "password": "a long password",
                                     "password_again": "a long password"})
    assert bad.status_code == 400 and "invite code" in bad.get_data(as_text=True)
    response = client.post("/join", data={
        "csrf_token": token, "code": code, "username": "new.resident", "display_name": "新居民",
        "password": "a long password", "password_again": "a long password"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/communities/{community.id}")
    page = client.get(f"/communities/{community.id}").get_data(as_text=True)
    assert "new.resident" in page  # signed in: the user menu names the account


def test_wrong_invite_codes_are_throttled_per_address(app_config, request):
    app_config["SESSION_JOIN_FAILURES_PER_ADDRESS"] = 2
    client = request.getfixturevalue("client")
    token = csrf_token(client, "/join")
    data = {"csrf_token": token, "code": "NOTACODE22", "username": "guess.er",
            "password": "a long password", "password_again": "a long password"}
    assert [client.post("/join", data=data).status_code for _ in range(3)] == [400, 400, 429]


# --- Pages ------------------------------------------------------------------------------------

def test_the_pages_list_sessions_and_a_planner_creates_one(app, client, app_session):
    community = pilot(app_session)
    district = client.get("/sessions").get_data(as_text=True)
    demo_ids = [s.id for s in sessions.list_sessions(app_session)]
    assert [int(i) for i in re.findall(r'id="session-(\d+)"', district)] == demo_ids
    page = client.get(f"/communities/{community.id}").get_data(as_text=True)
    block = page[page.index('id="community-sessions"'):]
    assert [int(i) for i in re.findall(r'id="session-(\d+)"', block)] == demo_ids

    assert client.get(f"/communities/{community.id}/sessions/new").status_code == 302
    token = sign_in(client, "planner")
    form = {"csrf_token": token, "title": "停车与充电桩讨论会", "starts_at": "2026-12-20T19:00",
            "place": "居委会", "facilitator": str(user(app_session, "moderator").id),
            "topic-0-title": "路侧停车", "topic-0-kind": "parking",
            "topic-1-title": "", "topic-2-title": "充电桩", "topic-2-kind": "ev_charging"}
    refused = client.post(f"/communities/{community.id}/sessions", data={**form, "place": ""})
    assert refused.status_code == 400
    assert "停车与充电桩讨论会" in refused.get_data(as_text=True)  # what was typed stays
    response = client.post(f"/communities/{community.id}/sessions", data=form)
    assert response.status_code == 302
    created = app_session.scalar(sa.select(OpenSpaceSession).order_by(
        OpenSpaceSession.id.desc()))
    assert created.title == "停车与充电桩讨论会"
    assert sessions.aware(created.starts_at) == dt.datetime(2026, 12, 20, 11, 0, tzinfo=dt.UTC)
    assert [(t.title, t.kind) for t in created.topics] == [("路侧停车", "parking"),
                                                          ("充电桩", "ev_charging")]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and 'id="open-session"' in page.get_data(as_text=True)


def test_closing_through_the_page_records_minutes_and_keeps_a_refused_summary(
        client, app_session):
    created = new_session(app_session)
    lift = next(i for i in pilot(app_session).items if i.kind == "lift_retrofit")
    app_session.commit()
    token = sign_in(client, "moderator")
    path = f"/sessions/{created.id}/close"
    refused = client.post(path, data={"csrf_token": token, "summary": "长长的纪要",
                                      "attendees": "many"})
    assert refused.status_code == 400 and "长长的纪要" in refused.get_data(as_text=True)
    response = client.post(path, data={
        "csrf_token": token, "summary": "纪要", "attendees": "40",
        "outcome-0-text": "先装电梯", "outcome-0-changed": [str(lift.id)],
        "outcome-1-text": ""})
    assert response.status_code == 302
    app_session.expire_all()
    closed = app_session.get(OpenSpaceSession, created.id)
    assert (closed.status, closed.attendees) == (SessionStatus.CLOSED, 40)
    assert [(o.text, [link.item_id for link in o.links]) for o in closed.outcomes] == [
        ("先装电梯", [lift.id])]
    html = client.get(f"/sessions/{created.id}").get_data(as_text=True)
    assert 'id="minutes"' in html and f"/items/{lift.id}" in html


# --- Schema and demo --------------------------------------------------------------------------

def test_comment_pins_have_a_spatial_index(session):
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        indexed = session.scalar(sa.text(
            "SELECT spatial_index_enabled FROM geometry_columns "
            "WHERE f_table_name = 'session_comments' AND f_geometry_column = 'location'"))
        assert indexed == 1
    else:
        assert session.scalar(sa.text(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'session_comments' "
            "AND indexdef ILIKE '%gist%location%'")) == 1


def test_the_demo_has_three_sessions_in_the_pilot_and_ratings_of_finished_work(session):
    community = pilot(session)
    found = sessions.list_sessions(session)
    assert {s.community_id for s in found} == {community.id}
    assert [s.status for s in found] == [SessionStatus.UPCOMING, SessionStatus.OPEN,
                                         SessionStatus.CLOSED]
    closed = found[2]
    assert closed.summary and closed.attendees and closed.outcomes
    assert all(o.links for o in closed.outcomes)
    assert sessions.aware(closed.starts_at).astimezone(
        dt.timezone(dt.timedelta(hours=8))).date() == dt.date(2019, 10, 16)
    comments = session.scalars(sa.select(SessionComment).where(
        SessionComment.session_id == found[1].id)).all()
    assert len(comments) >= 5 and any(c.parent_id for c in comments)
    assert any(c.is_official for c in comments) and any(c.speaker_name for c in comments)
    footprint = to_shape(community.footprint)
    pins = [to_shape(c.location) for c in session.scalars(sa.select(SessionComment).where(
        SessionComment.location.is_not(None)))]
    assert pins and all(footprint.contains(p) for p in pins)
    rated = session.execute(sa.select(RenovationItem.status, User.community_id,
                                      RenovationItem.community_id)
                            .select_from(ItemRating).join(RenovationItem, ItemRating.item)
                            .join(User, User.id == ItemRating.user_id)).all()
    assert len(rated) > 20
    assert all(status.is_done and home == at for status, home, at in rated)


#: The session routes anyone may post to: opening one's own account with an invite code.
OPEN_WRITES = {"sessions.join"}


def session_write_routes(app) -> list[tuple[str, str, list[str]]]:
    return sorted((rule.endpoint, rule.rule, sorted(rule.methods & {"POST", "PATCH", "PUT",
                                                                     "DELETE"}))
                  for rule in app.url_map.iter_rules()
                  if rule.endpoint.split(".")[0] in ("sessions", "api_sessions")
                  and rule.methods & {"POST", "PATCH", "PUT", "DELETE"})


def test_every_session_write_route_needs_a_signed_in_user(app, client, app_session):
    """Whatever route is added later: pages send the anonymous to sign in, the API says 401,
    and nothing is written. Who may do what once signed in is tested route by route above
    and in test_comments, test_moderation, test_ratings and test_sessions_api."""
    routes = session_write_routes(app)
    assert len(routes) >= 20
    counts = [sa.select(sa.func.count()).select_from(table) for table in (
        OpenSpaceSession, SessionComment, ItemRating, User)]
    before = [app_session.scalar(q) for q in counts]
    token = csrf_token(client)
    for endpoint, rule, methods in routes:
        if endpoint in OPEN_WRITES:
            continue
        path = re.sub(r"<int:\w+>", "1", rule)
        for method in methods:
            response = client.open(path, method=method, data={"csrf_token": token})
            if rule.startswith("/api/"):
                assert response.status_code == 401, (endpoint, response.status_code)
            else:
                assert response.status_code == 302, (endpoint, response.status_code)
                assert response.headers["Location"].startswith("/login"), endpoint
    app_session.expire_all()
    assert [app_session.scalar(q) for q in counts] == before

"""Comments in sessions: who may post, pins (inside, near, far), replies and their depth,
supports (once), sorting, officials' answers, spoken comments typed in by the facilitator,
bounds on the text, the text kept as written, and the rate limits of posting.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.geometry import Point
from test_sessions import new_session, pilot, sign_in, user

from geo import gcj02
from renovation import comments, sessions
from renovation.comments import CommentInput, post_comment, support_comment
from renovation.errors import DomainError
from renovation.models import CommentSupport, SessionComment, SessionStatus

#: About 51 m and 510 m of longitude at Beijing's latitude.
NEAR_DEG, FAR_DEG = 0.0006, 0.006


def eastmost(session) -> Point:
    """The footprint's easternmost vertex: a point east of it is that far from the footprint."""
    footprint = to_shape(pilot(session).footprint)
    return max((Point(xy) for polygon in footprint.geoms for xy in polygon.exterior.coords),
               key=lambda p: p.x)


def test_pins_inside_or_near_the_community_are_taken_and_far_ones_refused(session):
    s = new_session(session)
    resident, topic = user(session, "resident"), s.topics[0].id
    inside = to_shape(pilot(session).footprint).representative_point()
    edge = eastmost(session)
    assert comments.distance_to_footprint_m(session, s.community_id, inside.x, inside.y) == 0
    near = comments.distance_to_footprint_m(session, s.community_id, edge.x + NEAR_DEG, edge.y)
    assert 45 < near < 55  # metres, measured on the ellipsoid by the database
    for lon, lat in [(inside.x, inside.y), (edge.x + NEAR_DEG, edge.y)]:
        posted = post_comment(session, resident, s.id, CommentInput(topic, "这里有问题", lon=lon,
                                                                    lat=lat))
        point = to_shape(posted.location)
        assert (point.x, point.y) == pytest.approx((lon, lat), abs=1e-9)
    with pytest.raises(DomainError, match=r"The pin is 5\d\d m away from 老山东里北社区"):
        post_comment(session, resident, s.id, CommentInput(topic, "太远了", lon=edge.x + FAR_DEG,
                                                           lat=edge.y))
    for lon, lat, message in [(edge.x, None, "both"), (float("nan"), 39.9, "not valid"),
                              (200.0, 39.9, "not valid"), ("east", 39.9, "not valid")]:
        with pytest.raises(DomainError, match=message):
            post_comment(session, resident, s.id, CommentInput(topic, "坏坐标", lon=lon, lat=lat))
    pins, truncated = comments.pins(session, s.id)
    assert len(pins) == 2 and not truncated
    assert comments.pins(session, s.id, bbox=(0, 0, 1, 1)) == ([], False)


def test_a_pin_set_on_an_amap_base_map_is_stored_in_wgs84(session):
    s = new_session(session)
    inside = to_shape(pilot(session).footprint).representative_point()
    shown = [float(v) for v in gcj02.wgs84_to_gcj02(inside.x, inside.y)]  # where AMap draws it
    lon, lat = comments.pin_from_display(*shown, "gcj02")
    assert (lon, lat) == pytest.approx((inside.x, inside.y), abs=1e-6)
    posted = post_comment(session, user(session, "resident"), s.id,
                          CommentInput(s.topics[0].id, "高德地图上点的", lon=lon, lat=lat))
    assert to_shape(posted.location).distance(inside) < 1e-6


def test_who_may_comment_and_when(session):
    s = new_session(session, status=SessionStatus.UPCOMING)
    topic = s.topics[0].id
    with pytest.raises(DomainError, match="not opened") as refused:
        post_comment(session, user(session, "resident"), s.id, CommentInput(topic, "早了"))
    assert refused.value.status == 409
    sessions.open_session(session, user(session, "moderator"), s.id)
    for username in ("official-bajiao", "resident-bajiao-1"):  # another street, community
        with pytest.raises(DomainError, match="Only residents of") as refused:
            post_comment(session, user(session, username), s.id, CommentInput(topic, "外人"))
        assert refused.value.status == 403
    with pytest.raises(DomainError) as refused:
        post_comment(session, None, s.id, CommentInput(topic, "匿名"))
    assert refused.value.status == 401
    said = post_comment(session, user(session, "resident"), s.id, CommentInput(topic, "要电梯"))
    answer = post_comment(session, user(session, "official-laoshan"), s.id,
                          CommentInput(topic, "按单元征询意见。", parent_id=said.id))
    planner = post_comment(session, user(session, "planner"), s.id,
                           CommentInput(topic, "规划上可行。"))
    own = post_comment(session, user(session, "moderator"), s.id,
                       CommentInput(topic, "请大家按话题发言。"))
    assert (said.is_official, answer.is_official, planner.is_official, own.is_official) == (
        False, True, True, False)
    # A spoken comment: typed by the facilitator, under the attendee's name.
    spoken = post_comment(session, user(session, "moderator"), s.id,
                          CommentInput(topic, "我腿脚不好。", speaker_name="  赵   奶奶 "))
    assert (spoken.speaker_name, spoken.author_id, spoken.is_official) == (
        "赵 奶奶", user(session, "moderator").id, False)
    with pytest.raises(DomainError, match="facilitator") as refused:
        post_comment(session, user(session, "resident"), s.id,
                     CommentInput(topic, "冒名", speaker_name="别人"))
    assert refused.value.status == 403
    # After the session, officials may still answer; residents may not post.
    sessions.close_session(session, user(session, "moderator"), s.id, summary="纪要",
                           attendees=5)
    late = post_comment(session, user(session, "official-laoshan"), s.id,
                        CommentInput(topic, "已列入计划。", parent_id=said.id))
    assert late.is_official
    for username, parent in [("resident", None), ("resident", said.id),
                             ("official-laoshan", None)]:
        with pytest.raises(DomainError, match="closed"):
            post_comment(session, user(session, username), s.id,
                         CommentInput(topic, "会后", parent_id=parent))


def test_replies_go_two_levels_deep_under_the_same_topic(session):
    s = new_session(session)
    resident, official = user(session, "resident"), user(session, "official-laoshan")
    first, second = s.topics[0].id, s.topics[1].id
    root = post_comment(session, resident, s.id, CommentInput(first, "问题"))
    reply = post_comment(session, official, s.id, CommentInput(first, "答复", parent_id=root.id))
    deeper = post_comment(session, resident, s.id, CommentInput(first, "追问",
                                                                parent_id=reply.id))
    assert (root.depth, reply.depth, deeper.depth) == (0, 1, 2)
    with pytest.raises(DomainError, match="at most 2 levels"):
        post_comment(session, official, s.id, CommentInput(first, "再答", parent_id=deeper.id))
    with pytest.raises(DomainError, match="same topic"):
        post_comment(session, official, s.id, CommentInput(second, "串题", parent_id=root.id))
    with pytest.raises(sa.exc.IntegrityError):  # the database holds the limit too
        with session.begin_nested():
            session.add(SessionComment(session_id=s.id, topic_id=first, parent_id=deeper.id,
                                       depth=3, author_id=resident.id, body="x"))


def test_supports_once_per_resident_and_the_two_sorts(session):
    s = new_session(session)
    topic = s.topics[0].id
    authors = [user(session, name) for name in ("resident", "resident-2", "resident-3")]
    older, newer, newest = [post_comment(session, a, s.id, CommentInput(topic, text))
                            for a, text in zip(authors, ["一", "二", "三"], strict=True)]
    supporters = [user(session, name) for name in ("resident", "resident-4", "resident-5")]
    for supporter in supporters:
        support_comment(session, supporter, newer.id)
    support_comment(session, supporters[1], newest.id)
    with pytest.raises(DomainError, match="already support") as refused:
        support_comment(session, supporters[0], newer.id)
    assert refused.value.status == 409
    with pytest.raises(DomainError, match="your own"):
        support_comment(session, authors[0], older.id)
    for username in ("official-laoshan", "resident-bajiao-1"):
        with pytest.raises(DomainError) as refused:
            support_comment(session, user(session, username), older.id)
        assert refused.value.status == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(CommentSupport)
                          .where(CommentSupport.comment_id == newer.id)) == 3
    by_support = comments.threads(session, s.id, sort="support", viewer=supporters[1])[topic]
    assert [(n.comment.id, n.supports) for n in by_support] == [
        (newer.id, 3), (newest.id, 1), (older.id, 0)]
    assert [n.supported for n in by_support] == [True, True, False]
    by_time = comments.threads(session, s.id, sort="time")[topic]
    assert [n.comment.id for n in by_time] == [newest.id, newer.id, older.id]
    with pytest.raises(DomainError, match="Sort by"):
        comments.threads(session, s.id, sort="loudest")


def test_comment_text_is_bounded_and_kept_as_written(database, session):
    s = new_session(session)
    resident, topic = user(session, "resident"), s.topics[0].id
    written = "<b>粗体</b> ${x} `y` 'q' \"dq\"\r\n第二行"
    posted = post_comment(session, resident, s.id, CommentInput(topic, written))
    assert posted.body == written.replace("\r\n", "\n")
    longest = post_comment(session, resident, s.id, CommentInput(topic, "长" * 1999 + "\r\n"))
    assert len(longest.body) == 1999
    for text, message in [("x" * 2001, "too long"), (" \n ", "empty"), ("a\x00b", "NUL"),
                          ("\ud800", "not valid Unicode"), (42, "must be text")]:
        with pytest.raises(DomainError, match=message):
            post_comment(session, resident, s.id, CommentInput(topic, text))
    session.commit()
    with pytest.raises(sa.exc.DatabaseError, match="kept as written"):
        with database.engine.begin() as conn:
            conn.execute(sa.update(SessionComment).where(SessionComment.id == posted.id)
                         .values(body="改过的"))


# --- Through the pages ------------------------------------------------------------------------

def test_a_resident_comments_with_a_pin_and_a_refused_pin_keeps_the_text(client, app_session):
    s = new_session(app_session)
    edge = eastmost(app_session)
    app_session.commit()
    token = sign_in(client, "resident")
    path = f"/sessions/{s.id}/comments"
    far = client.post(path, data={"csrf_token": token, "topic": s.topics[1].id,
                                  "text": "3号楼后面的下水道返水", "lon": edge.x + FAR_DEG,
                                  "lat": edge.y})
    html = far.get_data(as_text=True)
    assert far.status_code == 400 and 'id="comment-error"' in html
    assert "3号楼后面的下水道返水</textarea>" in html  # nothing typed is lost
    response = client.post(path, data={"csrf_token": token, "topic": s.topics[1].id,
                                       "text": "3号楼后面的下水道返水", "lon": edge.x + NEAR_DEG,
                                       "lat": edge.y, "display": "wgs84"})
    assert response.status_code == 302 and "#comment-" in response.headers["Location"]
    posted = app_session.scalar(sa.select(SessionComment).order_by(SessionComment.id.desc()))
    assert posted.topic_id == s.topics[1].id and posted.location is not None
    pins = client.get(f"/api/sessions/{s.id}/pins", query_string={
        "bbox": f"{edge.x - 0.01},{edge.y - 0.01},{edge.x + 0.01},{edge.y + 0.01}",
        "topic": s.topics[1].id}).get_json()
    assert [f["properties"]["title"] for f in pins["features"]] == ["3号楼后面的下水道返水"]
    assert pins["features"][0]["properties"]["url"] == f"/sessions/{s.id}#comment-{posted.id}"
    page = client.get(f"/sessions/{s.id}").get_data(as_text=True)
    assert f'id="comment-{posted.id}"' in page


def test_posting_is_rate_limited_per_account_and_per_address(app_config, request):
    app_config.update(SESSION_POSTS_PER_ACCOUNT=2, SESSION_POSTS_PER_ADDRESS=3)
    app_session = request.getfixturevalue("app_session")
    app = request.getfixturevalue("app")
    s = new_session(app_session)
    app_session.commit()
    first, second = app.test_client(), app.test_client()
    tokens = {first: sign_in(first, "resident"), second: sign_in(second, "resident-2")}

    def post(client):
        return client.post(f"/sessions/{s.id}/comments", data={
            "csrf_token": tokens[client], "topic": s.topics[0].id, "text": "说一句"})

    assert [post(first).status_code for _ in range(3)] == [302, 302, 429]
    refused = first.post(f"/sessions/{s.id}/comments?lang=en", data={
        "csrf_token": tokens[first], "topic": s.topics[0].id, "text": "说一句"})
    assert "posting too fast" in refused.get_data(as_text=True)
    assert post(second).status_code == 302  # another account, the same address: 3rd post
    assert post(second).status_code == 429  # the address's fill
    assert app_session.scalar(sa.select(sa.func.count()).select_from(SessionComment)
                              .where(SessionComment.session_id == s.id)) == 3


def test_the_comments_csv_neutralises_formulas(client, app_session):
    s = new_session(app_session)
    resident = user(app_session, "resident")
    comments.post_comment(app_session, resident, s.id, CommentInput(
        s.topics[0].id, '=HYPERLINK("http://evil.example","点我")'))
    app_session.commit()
    sign_in(client, "moderator")
    response = client.get(f"/sessions/{s.id}/comments.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    assert "'=HYPERLINK(" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    assert app_session.scalar(sa.select(sa.func.count()).select_from(SessionComment)
                              .where(SessionComment.session_id == s.id)) == 1

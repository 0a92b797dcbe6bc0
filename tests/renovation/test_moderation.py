"""Moderation: flags from anyone signed in, hidden after the configured number, the moderators'
queue, hiding and restoring with a reason, and the original text always kept."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from test_sessions import new_session, sign_in, user

from renovation import comments, moderation
from renovation.comments import CommentInput, post_comment
from renovation.errors import DomainError
from renovation.models import (
    CommentFlag,
    ModerationAction,
    ModerationDecision,
    SessionComment,
    Visibility,
)

ORIGINAL = "这条评论会被举报。"


@pytest.fixture
def flagged(session):
    """A comment by the demo resident in an open session."""
    s = new_session(session)
    return post_comment(session, user(session, "resident"), s.id,
                        CommentInput(s.topics[0].id, ORIGINAL))


def test_enough_flags_hide_a_comment_until_a_moderator_restores_it(database, session, flagged):
    reporters = [user(session, name) for name in ("resident-2", "official-bajiao", "planner")]
    moderation.flag_comment(session, reporters[0], flagged.id, "广告", flags_to_hide=3)
    moderation.flag_comment(session, reporters[1], flagged.id, flags_to_hide=3)
    assert flagged.visibility is Visibility.VISIBLE
    with pytest.raises(DomainError, match="already flagged") as refused:
        moderation.flag_comment(session, reporters[0], flagged.id, flags_to_hide=3)
    assert refused.value.status == 409
    with pytest.raises(DomainError, match="your own"):
        moderation.flag_comment(session, user(session, "resident"), flagged.id, flags_to_hide=3)
    with pytest.raises(DomainError) as refused:
        moderation.flag_comment(session, None, flagged.id, flags_to_hide=3)
    assert refused.value.status == 401
    moderation.flag_comment(session, reporters[2], flagged.id, "人身攻击", flags_to_hide=3)
    assert flagged.visibility is Visibility.PENDING
    # Hidden from the map and from replies, but still in its thread with its text kept.
    assert comments.pins(session, flagged.session_id)[0] == []
    node = comments.threads(session, flagged.session_id)[flagged.topic_id][0]
    assert not node.is_visible and node.comment.body == ORIGINAL
    with pytest.raises(DomainError, match="hidden"):
        post_comment(session, user(session, "official-laoshan"), flagged.session_id,
                     CommentInput(flagged.topic_id, "答复", parent_id=flagged.id))

    moderator = user(session, "moderator")
    entry, = moderation.queue(session, moderator)
    assert entry.comment.id == flagged.id
    assert [f.reason for f in entry.flags] == ["广告", "", "人身攻击"]
    for who in ("resident", "official-laoshan", "planner"):
        with pytest.raises(DomainError) as refused:
            moderation.queue(session, user(session, who))
        assert refused.value.status == 403
    with pytest.raises(DomainError, match="empty"):
        moderation.decide(session, moderator, flagged.id, "restore", "  ")
    moderation.decide(session, moderator, flagged.id, ModerationDecision.RESTORE, "不违规")
    assert flagged.visibility is Visibility.VISIBLE
    assert moderation.queue(session, moderator) == []
    assert session.scalar(sa.select(sa.func.count()).select_from(CommentFlag).where(
        CommentFlag.comment_id == flagged.id, ~CommentFlag.resolved)) == 0
    # The old flags are settled: it takes three new ones to hide it again.
    moderation.flag_comment(session, user(session, "resident-3"), flagged.id, flags_to_hide=3)
    assert flagged.visibility is Visibility.VISIBLE
    assert [e.comment.id for e in moderation.queue(session, moderator)] == [flagged.id]
    session.commit()
    action = session.scalar(sa.select(ModerationAction))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with database.engine.begin() as conn:
            conn.execute(sa.update(ModerationAction).where(ModerationAction.id == action.id)
                         .values(reason="改写"))


def test_moderators_hide_and_restore_with_a_reason_and_the_text_is_kept(session, flagged):
    moderator, admin = user(session, "moderator"), user(session, "admin")
    for who in ("resident-2", "official-laoshan", "planner"):
        with pytest.raises(DomainError) as refused:
            moderation.decide(session, user(session, who), flagged.id, "hide", "不行")
        assert refused.value.status == 403
    moderation.decide(session, moderator, flagged.id, "hide", "含有个人电话号码")
    assert flagged.visibility is Visibility.HIDDEN
    with pytest.raises(DomainError, match="already hidden"):
        moderation.decide(session, admin, flagged.id, "hide", "再隐藏")
    with pytest.raises(DomainError, match="already hidden"):
        moderation.flag_comment(session, user(session, "resident-2"), flagged.id)
    assert [c.id for c in moderation.recently_hidden(session, moderator)] == [flagged.id]
    moderation.decide(session, admin, flagged.id, "restore", "电话已核实为社区公开电话")
    with pytest.raises(DomainError, match="Decide hide or restore"):
        moderation.decide(session, admin, flagged.id, "delete", "删除")
    history = moderation.history(session, flagged.id)
    assert [(a.decision, a.reason, a.moderator.username) for a in history] == [
        (ModerationDecision.HIDE, "含有个人电话号码", "moderator"),
        (ModerationDecision.RESTORE, "电话已核实为社区公开电话", "admin")]
    session.expire_all()
    assert session.get(SessionComment, flagged.id).body == ORIGINAL


def test_the_threshold_is_configurable_and_the_pages_show_the_queue(app_config, request):
    app_config["SESSION_FLAGS_TO_HIDE"] = 1
    app_session, client = request.getfixturevalue("app_session"), request.getfixturevalue(
        "client")
    s = new_session(app_session)
    comment = post_comment(app_session, user(app_session, "resident"), s.id,
                           CommentInput(s.topics[0].id, ORIGINAL))
    app_session.commit()
    token = sign_in(client, "official-bajiao")  # anyone signed in may report
    response = client.post(f"/comments/{comment.id}/flag", data={"csrf_token": token,
                                                                 "reason": "<b>spam</b>"})
    assert response.status_code == 302
    app_session.expire_all()
    assert app_session.get(SessionComment, comment.id).visibility is Visibility.PENDING
    page = client.get(f"/sessions/{s.id}").get_data(as_text=True)
    assert ORIGINAL not in page and f'id="comment-{comment.id}"' in page
    assert client.get("/moderation").status_code == 403

    moderator = request.getfixturevalue("app").test_client()
    token = sign_in(moderator, "moderator")
    queue = moderator.get("/moderation").get_data(as_text=True)
    assert f'id="queued-{comment.id}"' in queue and ORIGINAL in queue
    assert "&lt;b&gt;spam&lt;/b&gt;" in queue and "<b>spam" not in queue
    assert ORIGINAL in moderator.get(f"/sessions/{s.id}").get_data(as_text=True)
    no_reason = moderator.post(f"/comments/{comment.id}/moderate",
                               data={"csrf_token": token, "decision": "hide", "reason": ""})
    assert no_reason.status_code == 400
    hidden = moderator.post(f"/comments/{comment.id}/moderate", data={
        "csrf_token": token, "decision": "hide", "reason": "广告", "next": "/moderation"})
    assert (hidden.status_code, hidden.headers["Location"]) == (302, "/moderation")
    app_session.expire_all()
    assert app_session.get(SessionComment, comment.id).visibility is Visibility.HIDDEN
    assert f'id="hidden-{comment.id}"' in moderator.get("/moderation").get_data(as_text=True)

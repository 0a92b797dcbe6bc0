"""Moderation of session comments: flags from anyone signed in, hiding after enough flags,
and moderators' decisions with their reasons.

A comment's text is never changed or deleted (the database refuses it): moderation only
decides whether it is shown. Each decision is a :class:`~renovation.models.ModerationAction`
row that is never rewritten, and it resolves the flags that led to it, so a restored comment
is hidden again only by new flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from renovation.comments import get_comment
from renovation.errors import DomainError
from renovation.models import (
    CommentFlag,
    ModerationAction,
    ModerationDecision,
    OpenSpaceSession,
    Role,
    SessionComment,
    User,
    Visibility,
)
from renovation.sessions import Forbidden, plain_text, require_user

#: How many open flags hide a comment until a moderator decides (config SESSION_FLAGS_TO_HIDE).
DEFAULT_FLAGS_TO_HIDE = 3
MAX_REASON_LENGTH = 500
MODERATOR_ROLES = (Role.MODERATOR, Role.ADMIN)


def is_moderator(user: User | None) -> bool:
    return user is not None and user.is_active and user.role in MODERATOR_ROLES


def flag_comment(db: Session, user: User | None, comment_id: int, reason: str = "", *,
                 flags_to_hide: int = DEFAULT_FLAGS_TO_HIDE) -> CommentFlag:
    """Flag a comment, once per person; the `flags_to_hide`-th open flag hides it."""
    require_user(user)
    comment = get_comment(db, comment_id)
    reason = plain_text(reason, _l("The reason"), MAX_REASON_LENGTH, required=False) or ""
    if comment.visibility is Visibility.HIDDEN:
        raise DomainError(_l("A moderator has already hidden this comment."), status=409)
    if comment.author_id == user.id and comment.speaker_name is None:
        raise DomainError(_l("You cannot flag your own comment."))
    flag = CommentFlag(comment_id=comment.id, user_id=user.id, reason=reason)
    try:
        with db.begin_nested():  # one flag per person, even when two requests race
            db.add(flag)
    except sa.exc.IntegrityError:
        raise DomainError(_l("You have already flagged this comment."), status=409) from None
    open_flags = db.scalar(sa.select(sa.func.count()).select_from(CommentFlag).where(
        CommentFlag.comment_id == comment.id, sa.not_(CommentFlag.resolved)))
    if comment.visibility is Visibility.VISIBLE and open_flags >= max(1, flags_to_hide):
        comment.visibility = Visibility.PENDING
    db.flush()
    return flag


def decide(db: Session, user: User | None, comment_id: int, decision: ModerationDecision | str,
           reason: str) -> ModerationAction:
    """A moderator hides or restores a comment, with a reason; open flags are resolved."""
    require_user(user)
    if not is_moderator(user):
        raise Forbidden(_l("Only moderators may hide or restore comments."))
    try:
        decision = ModerationDecision(decision)
    except ValueError:
        raise DomainError(_l("Decide hide or restore.")) from None
    comment = get_comment(db, comment_id)
    reason = plain_text(reason, _l("The reason"), MAX_REASON_LENGTH)
    after = Visibility.HIDDEN if decision is ModerationDecision.HIDE else Visibility.VISIBLE
    if comment.visibility is after:
        raise DomainError(_l("The comment is already %(state)s.", state=after.value),
                          status=409)
    comment.visibility = after
    db.execute(sa.update(CommentFlag).where(CommentFlag.comment_id == comment.id,
                                            sa.not_(CommentFlag.resolved))
               .values(resolved=True))
    action = ModerationAction(comment_id=comment.id, moderator_id=user.id, decision=decision,
                              reason=reason)
    db.add(action)
    db.flush()
    return action


@dataclass(frozen=True)
class QueueEntry:
    comment: SessionComment
    session: OpenSpaceSession
    flags: list[CommentFlag]  # the open ones, oldest first


def queue(db: Session, user: User | None, *, limit: int = 200) -> list[QueueEntry]:
    """What waits for a moderator: comments hidden by flags first, then those flagged but
    still shown, each with its open flags; oldest first."""
    require_user(user)
    if not is_moderator(user):
        raise Forbidden(_l("Only moderators may see the moderation queue."))
    has_open_flags = sa.exists().where(CommentFlag.comment_id == SessionComment.id,
                                       sa.not_(CommentFlag.resolved))
    pending_first = sa.case((SessionComment.visibility == Visibility.PENDING.value, 0), else_=1)
    comments = list(db.scalars(
        sa.select(SessionComment)
        .where(sa.or_(SessionComment.visibility == Visibility.PENDING,
                      sa.and_(SessionComment.visibility == Visibility.VISIBLE, has_open_flags)))
        .options(selectinload(SessionComment.author), selectinload(SessionComment.session)
                 .selectinload(OpenSpaceSession.community))
        .order_by(pending_first, SessionComment.id).limit(limit)))
    flags: dict[int, list[CommentFlag]] = {}
    if comments:
        for flag in db.scalars(sa.select(CommentFlag).options(selectinload(CommentFlag.user))
                               .where(CommentFlag.comment_id.in_([c.id for c in comments]),
                                      sa.not_(CommentFlag.resolved))
                               .order_by(CommentFlag.id)):
            flags.setdefault(flag.comment_id, []).append(flag)
    return [QueueEntry(c, c.session, flags.get(c.id, [])) for c in comments]


def recently_hidden(db: Session, user: User | None, *, limit: int = 50) -> list[SessionComment]:
    """Comments moderators hid, latest first: a moderator may restore them."""
    if not is_moderator(user):
        raise Forbidden(_l("Only moderators may see the moderation queue."))
    return list(db.scalars(
        sa.select(SessionComment).where(SessionComment.visibility == Visibility.HIDDEN)
        .options(selectinload(SessionComment.author), selectinload(SessionComment.session)
                 .selectinload(OpenSpaceSession.community))
        .order_by(SessionComment.id.desc()).limit(limit)))


def history(db: Session, comment_id: int) -> list[ModerationAction]:
    """The decisions on a comment, oldest first."""
    return list(db.scalars(sa.select(ModerationAction)
                           .options(selectinload(ModerationAction.moderator))
                           .where(ModerationAction.comment_id == comment_id)
                           .order_by(ModerationAction.id)))

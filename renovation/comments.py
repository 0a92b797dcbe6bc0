"""Comments in open-space sessions: posting (optionally pinned to the map), replies, supports,
and reading them back as threads or as map pins.

Who may comment is decided from the database: the residents of the session's community, the
officials who answer for it (their answers are marked official) and the session's facilitator,
who types in what attendees said aloud, each under the attendee's name, with the record of who
typed it. A pin must lie on the community's footprint or within :data:`PIN_MAX_DISTANCE_M` of
it; the distance is measured in the database on the ellipsoid.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from geoalchemy2 import Geography
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session, selectinload

from geo import gcj02
from geo.spatialdb import as_geojson, bbox_filter, is_sqlite
from renovation.errors import DomainError, NotFound
from renovation.models import (
    SRID,
    CommentFlag,
    CommentSupport,
    Community,
    OpenSpaceSession,
    SessionComment,
    SessionStatus,
    User,
    Visibility,
)
from renovation.overview import MAX_ID
from renovation.sessions import (
    Forbidden,
    aware,
    can_run,
    get_session,
    is_resident_of,
    plain_text,
    require_user,
    speaks_for_the_district,
)

MAX_COMMENT_LENGTH = 2000
MAX_SPEAKER_LENGTH = 100
#: A comment answers a comment, a reply answers that, and there it stops: threads stay
#: readable on a phone.
MAX_DEPTH = 2
#: How far outside the community's footprint a pin may lie: a drain in the lane behind
#: the last building still belongs to the community.
PIN_MAX_DISTANCE_M = 100
SORTS = ("support", "time")


@dataclass(frozen=True)
class CommentInput:
    """What someone posts: text under a topic, perhaps a reply, a pin or a speaker's name.

    `lon`, `lat` are WGS84 degrees; `speaker_name` is for the facilitator typing in what an
    attendee said.
    """

    topic_id: int
    text: str
    parent_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    speaker_name: str | None = None


def pin_from_display(lon, lat, display_crs: str = "wgs84") -> tuple[float, float]:
    """The pin in WGS84, from where it was set on a map drawn in `display_crs`."""
    lon, lat = _coordinate(lon, -180, 180), _coordinate(lat, -90, 90)
    if display_crs == "gcj02":
        x, y = gcj02.gcj02_to_wgs84(lon, lat)
        return round(float(x), 7), round(float(y), 7)
    return lon, lat


def _coordinate(value, low: float, high: float) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DomainError(_l("The pin's position is not valid.")) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise DomainError(_l("The pin's position is not valid."))
    return number


def distance_to_footprint_m(db: Session, community_id: int, lon: float, lat: float
                            ) -> float | None:
    """Metres from (lon, lat) to the community's footprint, 0 inside; None without one."""
    if is_sqlite(db.get_bind()):
        point = sa.func.MakePoint(lon, lat, SRID)
        # SpatiaLite's third argument measures on the ellipsoid, in metres.
        distance = sa.func.ST_Distance(Community.footprint, point, 1)
    else:
        point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), SRID)
        distance = sa.func.ST_Distance(sa.cast(Community.footprint, Geography(srid=SRID)),
                                       sa.cast(point, Geography(srid=SRID)))
    value = db.scalar(sa.select(distance).where(Community.id == community_id,
                                                Community.footprint.is_not(None)))
    return None if value is None else float(value)


def check_pin(db: Session, community: Community, lon: float, lat: float) -> None:
    """Refuse a pin that is not on the community or near it, saying how far off it is."""
    distance = distance_to_footprint_m(db, community.id, lon, lat)
    if distance is None:
        raise DomainError(_l("%(community)s has no outline on the map yet, so comments cannot "
                             "be pinned there. Post the comment without a pin.",
                             community=community.name))
    if distance > PIN_MAX_DISTANCE_M:
        raise DomainError(_l("The pin is %(m)d m away from %(community)s. Put it on the "
                             "community or at most %(max)d m from it.",
                             m=round(distance), community=community.name,
                             max=PIN_MAX_DISTANCE_M))


def get_comment(db: Session, comment_id: int) -> SessionComment:
    comment = db.get(SessionComment, comment_id) if 0 < comment_id <= MAX_ID else None
    if comment is None:
        raise NotFound(_l("There is no comment number %(id)s.", id=comment_id))
    return comment


def _may_post(user: User, session_: OpenSpaceSession, *, is_reply: bool) -> None:
    community = session_.community
    official = speaks_for_the_district(user, community)
    if not (official or is_resident_of(user, community.id) or can_run(user, session_)):
        raise Forbidden(_l("Only residents of %(community)s, its officials and the session's "
                           "facilitator may comment here.", community=community.name))
    if session_.status is SessionStatus.UPCOMING:
        raise DomainError(_l("The session has not opened for comments yet."), status=409)
    # After the session, officials may still answer what was said; nobody starts anew.
    if session_.status is SessionStatus.CLOSED and not (official and is_reply):
        raise DomainError(_l("The session is closed: it takes no more comments."), status=409)


def post_comment(db: Session, user: User | None, session_id: int,
                 comment: CommentInput) -> SessionComment:
    """Post a comment or reply in a session; the caller commits.

    Raises
    ------
    DomainError (401, 403, 404, 409, 400) with a message safe to show.
    """
    require_user(user)
    session_ = get_session(db, session_id)
    _may_post(user, session_, is_reply=comment.parent_id is not None)
    topic = next((t for t in session_.topics if t.id == comment.topic_id), None)
    if topic is None:
        raise DomainError(_l("Choose one of this session's topics."))
    body = plain_text(comment.text, _l("The comment"), MAX_COMMENT_LENGTH)
    speaker = plain_text(comment.speaker_name, _l("The speaker's name"), MAX_SPEAKER_LENGTH,
                         required=False, single_line=True)
    if speaker is not None and not can_run(user, session_):
        raise Forbidden(_l("Only the session's facilitator may post on behalf of an "
                           "attendee."))
    depth, parent_id = 0, None
    if comment.parent_id is not None:
        parent = get_comment(db, comment.parent_id)
        if parent.session_id != session_.id or parent.topic_id != topic.id:
            raise DomainError(_l("A reply goes under the same topic as the comment it "
                                 "answers."))
        if parent.visibility is not Visibility.VISIBLE:
            raise DomainError(_l("This comment is hidden; it cannot be answered."), status=409)
        if parent.depth >= MAX_DEPTH:
            raise DomainError(_l("Replies go at most %(n)d levels deep: answer the comment "
                                 "further up instead.", n=MAX_DEPTH))
        depth, parent_id = parent.depth + 1, parent.id
    location = None
    if (comment.lon is None) != (comment.lat is None):
        raise DomainError(_l("A pin needs both its longitude and its latitude."))
    if comment.lon is not None:
        lon, lat = _coordinate(comment.lon, -180, 180), _coordinate(comment.lat, -90, 90)
        check_pin(db, session_.community, lon, lat)
        location = from_shape(Point(lon, lat), srid=SRID)
    posted = SessionComment(
        session_id=session_.id, topic_id=topic.id, parent_id=parent_id, depth=depth,
        author_id=user.id, speaker_name=speaker, body=body, location=location,
        is_official=speaker is None and speaks_for_the_district(user, session_.community))
    db.add(posted)
    db.flush()
    return posted


# --- Supports -------------------------------------------------------------------------------

def support_comment(db: Session, user: User | None, comment_id: int) -> CommentSupport:
    """Support a comment: residents of the community, once each, while the session is open."""
    require_user(user)
    comment = get_comment(db, comment_id)
    session_ = get_session(db, comment.session_id)
    if not is_resident_of(user, session_.community_id):
        raise Forbidden(_l("Only residents of %(community)s may support its comments.",
                           community=session_.community.name))
    if session_.status is not SessionStatus.OPEN:
        raise DomainError(_l("Comments can be supported only while the session is open."),
                          status=409)
    if comment.visibility is not Visibility.VISIBLE:
        raise DomainError(_l("This comment is hidden; it cannot be supported."), status=409)
    if comment.author_id == user.id and comment.speaker_name is None:
        raise DomainError(_l("You cannot support your own comment."))
    support = CommentSupport(comment_id=comment.id, user_id=user.id)
    try:
        with db.begin_nested():  # the primary key refuses a second support, even a racing one
            db.add(support)
    except sa.exc.IntegrityError:
        raise DomainError(_l("You already support this comment."), status=409) from None
    return support


def support_counts(db: Session, comment_ids) -> dict[int, int]:
    ids = list(comment_ids)
    if not ids:
        return {}
    return dict(db.execute(sa.select(CommentSupport.comment_id, sa.func.count())
                           .where(CommentSupport.comment_id.in_(ids))
                           .group_by(CommentSupport.comment_id)).all())


# --- Reading --------------------------------------------------------------------------------

@dataclass
class CommentNode:
    """A comment in a thread, with what the page needs to show it."""

    comment: SessionComment
    supports: int = 0
    supported: bool = False  # by the viewer
    flagged: bool = False  # by the viewer
    replies: list[CommentNode] = field(default_factory=list)

    @property
    def is_visible(self) -> bool:
        return self.comment.visibility is Visibility.VISIBLE


def threads(db: Session, session_id: int, *, sort: str = "support",
            viewer: User | None = None) -> dict[int, list[CommentNode]]:
    """The session's comments as threads, by topic id.

    Top-level comments come most supported first (`sort` "support") or newest first
    ("time"); replies follow in the order they were made. Hidden comments are in the
    threads too, so their replies keep their place; the page decides what to show of them.
    """
    if sort not in SORTS:
        raise DomainError(_l("Sort by one of: %(names)s.", names=", ".join(SORTS)))
    comments = list(db.scalars(
        sa.select(SessionComment).where(SessionComment.session_id == session_id)
        .options(selectinload(SessionComment.author)).order_by(SessionComment.id)))
    counts = support_counts(db, [c.id for c in comments])
    supported: set[int] = set()
    flagged: set[int] = set()
    if viewer is not None and comments:
        ids = [c.id for c in comments]
        supported = set(db.scalars(sa.select(CommentSupport.comment_id).where(
            CommentSupport.user_id == viewer.id, CommentSupport.comment_id.in_(ids))))
        flagged = set(db.scalars(sa.select(CommentFlag.comment_id).where(
            CommentFlag.user_id == viewer.id, CommentFlag.comment_id.in_(ids))))
    nodes = {c.id: CommentNode(c, counts.get(c.id, 0), c.id in supported, c.id in flagged)
             for c in comments}
    by_topic: dict[int, list[CommentNode]] = {}
    for comment in comments:  # in id order, so replies come in the order they were made
        node = nodes[comment.id]
        if comment.parent_id is None:
            by_topic.setdefault(comment.topic_id, []).append(node)
        else:
            nodes[comment.parent_id].replies.append(node)
    for roots in by_topic.values():
        if sort == "support":
            roots.sort(key=lambda n: (-n.supports, aware(n.comment.created_at), n.comment.id))
        else:
            roots.sort(key=lambda n: (aware(n.comment.created_at), n.comment.id),
                       reverse=True)
    return by_topic


@dataclass(frozen=True)
class Pin:
    id: int
    topic_id: int
    body: str
    author_name: str
    speaker_name: str | None
    is_official: bool
    created_at: dt.datetime
    geometry: dict


def pins(db: Session, session_id: int, *, topic_id: int | None = None, bbox=None,
         limit: int = 5000) -> tuple[list[Pin], bool]:
    """The shown comments of a session that carry a pin, in `bbox` if given, and whether
    `limit` cut the list short. The box goes through the spatial index."""
    bind = db.get_bind()
    query = (sa.select(SessionComment.id, SessionComment.topic_id, SessionComment.body,
                       User.display_name, SessionComment.speaker_name,
                       SessionComment.is_official, SessionComment.created_at,
                       as_geojson(bind, SessionComment.location, 6))
             .join(User, SessionComment.author)
             .where(SessionComment.session_id == session_id,
                    SessionComment.location.is_not(None),
                    SessionComment.visibility == Visibility.VISIBLE)
             .order_by(SessionComment.id).limit(limit + 1))
    if topic_id is not None:
        query = query.where(SessionComment.topic_id == topic_id)
    if bbox is not None:
        table = SessionComment.__table__
        query = query.where(bbox_filter(bind, table, table.c.location, bbox))
    rows = db.execute(query).all()
    return ([Pin(*row[:7], geometry=json.loads(row[7])) for row in rows[:limit]],
            len(rows) > limit)

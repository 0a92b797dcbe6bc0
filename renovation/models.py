"""The data model: streets, communities and their renovation items.

Geometries are stored in EPSG:4326 (WGS84 longitude/latitude; CGCS2000 data
equals it to well under a metre) with a spatial index on both backends.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from renovation.status import Status

SRID = 4326

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class DataSource:
    """Where a geometry came from; a generated one must never pass for a survey."""

    GENERATED = "generated"  # drawn by the demo generator: plausible, not real
    IMPORTED = "imported"  # from a user's GIS file
    OFFICIAL = "official"  # published boundaries (e.g. the street outlines)

    ALL = (GENERATED, IMPORTED, OFFICIAL)


class Role(enum.StrEnum):
    """What a user may do; officials are bound to a street, residents to a community."""

    ADMIN = "admin"
    PLANNER = "planner"
    OFFICIAL = "official"
    MODERATOR = "moderator"
    RESIDENT = "resident"


def _enum(enum_class, name: str) -> sa.Enum:
    """A portable enum column: a short string with a CHECK constraint, on both backends."""
    return sa.Enum(enum_class, native_enum=False, length=20, validate_strings=True,
                   values_callable=lambda members: [m.value for m in members],
                   create_constraint=True, name=name)


class Street(Base):
    """A street (街道, subdistrict): the unit an official is responsible for."""

    __tablename__ = "streets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    boundary = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True),
                             nullable=False)
    label_point = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=True)
    data_source: Mapped[str] = mapped_column(sa.String(20), default=DataSource.OFFICIAL)

    communities: Mapped[list[Community]] = relationship(back_populates="street",
                                                        order_by="Community.code")

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh

    def __repr__(self) -> str:
        return f"<Street {self.code} {self.name_zh}>"


class Community(Base):
    """A community (社区) or compound (小区) in the programme, with its footprint."""

    __tablename__ = "communities"
    __table_args__ = (
        sa.CheckConstraint("building_area_m2 IS NULL OR building_area_m2 >= 0", name="area"),
        sa.CheckConstraint("households IS NULL OR households >= 0", name="households"),
        sa.CheckConstraint("building_count IS NULL OR building_count >= 0", name="buildings"),
        # The communities built in some years, read from the index alone (dashboard filters).
        sa.Index("ix_communities_year_built", "year_built", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("streets.id", ondelete="RESTRICT"),
                                           index=True)
    footprint = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True),
                              nullable=True)
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=True)
    year_built: Mapped[int | None]
    building_area_m2: Mapped[float | None]
    households: Mapped[int | None]
    building_count: Mapped[int | None]
    is_pilot: Mapped[bool] = mapped_column(default=False, index=True)
    is_district_pilot: Mapped[bool] = mapped_column(default=False)
    data_source: Mapped[str] = mapped_column(sa.String(20), default=DataSource.IMPORTED)
    source_note: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)

    street: Mapped[Street] = relationship(back_populates="communities")
    items: Mapped[list[RenovationItem]] = relationship(back_populates="community",
                                                       order_by="RenovationItem.id")

    def __repr__(self) -> str:
        return f"<Community {self.code} {self.name}>"


class RenovationItem(Base):
    """One thing to renovate in a community: a lift, a sewer run, a parking area."""

    __tablename__ = "renovation_items"
    __table_args__ = (
        sa.CheckConstraint("progress_pct BETWEEN 0 AND 100", name="progress"),
        sa.CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity"),
        # What a filtered dashboard sums, so that it reads an index alone, not the wide rows
        # with their geometry: by kind and status (those filters select a range), and by
        # community (every other filter reads it all, in the order it groups by).
        sa.Index("ix_renovation_items_kind_status_figures", "kind", "status", "community_id",
                 "progress_pct", "planned_end", "actual_end", "id"),
        sa.Index("ix_renovation_items_community_figures", "community_id", "kind", "status",
                 "progress_pct", "planned_end", "actual_end", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(200))
    geometry = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=True), nullable=True)
    status: Mapped[Status] = mapped_column(_enum(Status, "status"), default=Status.PLANNED)
    progress_pct: Mapped[int] = mapped_column(default=0)
    quantity: Mapped[float | None]
    unit: Mapped[str | None] = mapped_column(sa.String(20))
    planned_start: Mapped[dt.date | None]
    planned_end: Mapped[dt.date | None] = mapped_column(index=True)
    actual_start: Mapped[dt.date | None]
    actual_end: Mapped[dt.date | None]
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow,
                                                    onupdate=utcnow)

    community: Mapped[Community] = relationship(back_populates="items")

    # SQLAlchemy adds "AND version = :old" to every UPDATE and bumps it, so an edit
    # based on a stale copy fails instead of overwriting someone else's change.
    __mapper_args__ = {"version_id_col": version}

    def is_overdue(self, today: dt.date) -> bool:
        return (self.planned_end is not None and self.planned_end < today
                and not self.status.is_done)

    def __repr__(self) -> str:
        return f"<RenovationItem {self.id} {self.kind} {self.status}>"


class User(Base):
    """Someone who signs in. The password is stored only as a salted hash."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("role != 'official' OR street_id IS NOT NULL", name="official_street"),
        sa.CheckConstraint("role != 'resident' OR community_id IS NOT NULL",
                           name="resident_community"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    street_id: Mapped[int | None] = mapped_column(sa.ForeignKey("streets.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(sa.ForeignKey("communities.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Changing the password moves this on and so ends every other session of the user.
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    street: Mapped[Street | None] = relationship()
    community: Mapped[Community | None] = relationship()

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(Base):
    """A bearer token for scripts; only its SHA-256 is stored, so a leaked table leaks nothing."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    user: Mapped[User] = relationship()


class ItemChange(Base):
    """One accepted change of an item: who, when, before, after, why. Never updated or deleted.

    The database refuses UPDATE and DELETE on this table (a trigger on both backends).
    """

    __tablename__ = "item_changes"
    __table_args__ = (
        sa.CheckConstraint("progress_before BETWEEN 0 AND 100", name="progress_before"),
        sa.CheckConstraint("progress_after BETWEEN 0 AND 100", name="progress_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("renovation_items.id", ondelete="RESTRICT"),
                                         index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    changed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow,
                                                    index=True)
    effective_date: Mapped[dt.date]  # the day the change happened on site
    status_before: Mapped[Status] = mapped_column(_enum(Status, "status_before"))
    status_after: Mapped[Status] = mapped_column(_enum(Status, "status_after"))
    progress_before: Mapped[int]
    progress_after: Mapped[int]
    note: Mapped[str] = mapped_column(sa.Text, default="")
    version_after: Mapped[int]  # the item's version this change produced
    source: Mapped[str] = mapped_column(sa.String(20))  # web, api, spreadsheet

    item: Mapped[RenovationItem] = relationship()
    user: Mapped[User] = relationship()
    photos: Mapped[list[ChangePhoto]] = relationship(back_populates="change",
                                                     order_by="ChangePhoto.id")


class ChangePhoto(Base):
    """A photo attached to a change, stored re-encoded under the instance folder."""

    __tablename__ = "change_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(sa.ForeignKey("item_changes.id"), index=True)
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]

    change: Mapped[ItemChange] = relationship(back_populates="photos")


# --- Open-space sessions ---
# 开放空间讨论会: sessions per community with topics, residents' comments (optionally pinned
# to the map), supports, flags and moderation, the minutes with their outcomes, and residents'
# ratings of finished items (效果共评). The services are renovation.sessions, .comments,
# .moderation and .ratings.


class SessionStatus(enum.StrEnum):
    """Where a session stands; it only moves forward (see renovation.sessions.ALLOWED_MOVES)."""

    UPCOMING = "upcoming"  # 即将召开: announced, not yet open for comments
    OPEN = "open"  # 征集意见中: residents comment, support, reply
    CLOSED = "closed"  # 已结束: the minutes are recorded


class Visibility(enum.StrEnum):
    """Whether a comment is shown; the text itself is never changed or deleted."""

    VISIBLE = "visible"
    PENDING = "pending"  # hidden by enough flags until a moderator decides
    HIDDEN = "hidden"  # hidden by a moderator


class OutcomeEffect(enum.StrEnum):
    CREATED = "created"  # the session's outcome created the item
    CHANGED = "changed"  # the session's outcome changed the item


class ModerationDecision(enum.StrEnum):
    HIDE = "hide"
    RESTORE = "restore"


session_topic_items = sa.Table(
    "session_topic_items", Base.metadata,
    sa.Column("topic_id", sa.ForeignKey("session_topics.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("item_id", sa.ForeignKey("renovation_items.id", ondelete="CASCADE"),
              primary_key=True, index=True),
)


class OpenSpaceSession(Base):
    """An open-space session (开放空间讨论会) of one community."""

    __tablename__ = "open_space_sessions"
    __table_args__ = (
        sa.CheckConstraint("attendees IS NULL OR attendees >= 0", name="attendees"),
        sa.CheckConstraint("status != 'closed' OR closed_at IS NOT NULL", name="closed_at"),
        sa.Index("ix_open_space_sessions_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    place: Mapped[str] = mapped_column(sa.String(200))
    facilitator_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[SessionStatus] = mapped_column(_enum(SessionStatus, "session_status"),
                                                  default=SessionStatus.UPCOMING)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    opened_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The minutes, written when the session closes.
    summary: Mapped[str | None] = mapped_column(sa.Text)
    attendees: Mapped[int | None]

    community: Mapped[Community] = relationship()
    facilitator: Mapped[User] = relationship(foreign_keys=[facilitator_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    topics: Mapped[list[SessionTopic]] = relationship(back_populates="session",
                                                      order_by="SessionTopic.position")
    outcomes: Mapped[list[SessionOutcome]] = relationship(back_populates="session",
                                                          order_by="SessionOutcome.position")

    def __repr__(self) -> str:
        return f"<OpenSpaceSession {self.id} {self.status}>"


class SessionTopic(Base):
    """A topic of a session, tied to an item kind or to specific items (or both)."""

    __tablename__ = "session_topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("open_space_sessions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str | None] = mapped_column(sa.String(32))

    session: Mapped[OpenSpaceSession] = relationship(back_populates="topics")
    items: Mapped[list[RenovationItem]] = relationship(secondary=session_topic_items,
                                                       order_by="RenovationItem.id")


class SessionOutcome(Base):
    """One outcome in a session's minutes, linked to the items it created or changed."""

    __tablename__ = "session_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("open_space_sessions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(sa.Text)

    session: Mapped[OpenSpaceSession] = relationship(back_populates="outcomes")
    links: Mapped[list[OutcomeItem]] = relationship(back_populates="outcome",
                                                    order_by="OutcomeItem.item_id")


class OutcomeItem(Base):
    """An item an outcome created or changed."""

    __tablename__ = "session_outcome_items"

    outcome_id: Mapped[int] = mapped_column(
        sa.ForeignKey("session_outcomes.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("renovation_items.id", ondelete="CASCADE"), primary_key=True, index=True)
    effect: Mapped[OutcomeEffect] = mapped_column(_enum(OutcomeEffect, "effect"))

    outcome: Mapped[SessionOutcome] = relationship(back_populates="links")
    item: Mapped[RenovationItem] = relationship()


class SessionComment(Base):
    """A comment under a topic, or a reply to one. Its text is never changed (a trigger
    refuses it): moderation only changes whether it is shown."""

    __tablename__ = "session_comments"
    __table_args__ = (
        sa.CheckConstraint("depth BETWEEN 0 AND 2", name="depth"),
        sa.CheckConstraint("length(body) BETWEEN 1 AND 2000", name="body_length"),
        sa.CheckConstraint("(depth = 0) = (parent_id IS NULL)", name="parent_depth"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("open_space_sessions.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(
        sa.ForeignKey("session_topics.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("session_comments.id", ondelete="CASCADE"), index=True)
    depth: Mapped[int] = mapped_column(default=0)
    # Who posted it: the resident, or the facilitator who typed a spoken comment in.
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # The attendee who said it at the session, when the facilitator typed it in.
    speaker_name: Mapped[str | None] = mapped_column(sa.String(100))
    is_official: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(sa.Text)
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=True)
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility, "visibility"),
                                                   default=Visibility.VISIBLE, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    session: Mapped[OpenSpaceSession] = relationship()
    topic: Mapped[SessionTopic] = relationship()
    author: Mapped[User] = relationship()
    parent: Mapped[SessionComment | None] = relationship(remote_side=[id])


class CommentSupport(Base):
    """A resident's support (+1) of a comment: one per resident per comment."""

    __tablename__ = "comment_supports"

    comment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("session_comments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True,
                                         index=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class CommentFlag(Base):
    """Someone's report that a comment should not be shown; resolved by a moderator's decision."""

    __tablename__ = "comment_flags"
    __table_args__ = (sa.UniqueConstraint("comment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("session_comments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    resolved: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()


class ModerationAction(Base):
    """A moderator's decision on a comment, with the reason. Never updated or deleted."""

    __tablename__ = "moderation_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("session_comments.id", ondelete="CASCADE"), index=True)
    moderator_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    decision: Mapped[ModerationDecision] = mapped_column(_enum(ModerationDecision, "decision"))
    reason: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    moderator: Mapped[User] = relationship()


class CommunityInvite(Base):
    """An invite code with which residents open their own account in a community.

    Only the code's SHA-256 is stored; the code is shown once, to whoever made it.
    """

    __tablename__ = "community_invites"
    __table_args__ = (sa.CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        sa.ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    max_uses: Mapped[int]
    uses: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    community: Mapped[Community] = relationship()


class ItemRating(Base):
    """A resident's rating of a finished item (效果共评): 1 to 5, once per resident and item."""

    __tablename__ = "item_ratings"
    __table_args__ = (
        sa.UniqueConstraint("item_id", "user_id"),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        sa.CheckConstraint("comment IS NULL OR length(comment) <= 2000", name="comment_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("renovation_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    item: Mapped[RenovationItem] = relationship()


# --- Summary tables ---
# Running totals kept exact by database triggers on every write (migration 0004), so the
# dashboard and the maps read a few rows instead of summing 1.2 million items. What each
# column holds, and how to rebuild or check them: renovation.summaries.


class ItemKindWeight(Base):
    """Each catalogue kind's effort weight, in the database for the triggers to read.

    Kept equal to :data:`renovation.catalogue.KINDS` (a test checks it; rebuilding the
    summaries rewrites it). A kind missing here weighs 1, as in :mod:`renovation.progress`.
    """

    __tablename__ = "item_kinds"

    kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    weight: Mapped[int]


def _count(**kwargs):
    return mapped_column(sa.Integer, nullable=False, server_default="0", **kwargs)


def _big(**kwargs):
    return mapped_column(sa.BigInteger, nullable=False, server_default="0", **kwargs)


def _area(**kwargs):
    return mapped_column(sa.Double, nullable=False, server_default="0", **kwargs)


class CommunitySummary(Base):
    """One row per community: its items rolled up (see renovation.summaries)."""

    __tablename__ = "community_summaries"

    community_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    street_id: Mapped[int] = mapped_column(index=True)
    is_pilot: Mapped[bool] = mapped_column(server_default=sa.false())
    building_area_m2: Mapped[float | None]
    items: Mapped[int] = _count()
    weight_sum: Mapped[int] = _big()
    weighted_progress_sum: Mapped[int] = _big()
    done_items: Mapped[int] = _count()


class _StreetSums:
    """The sums a street keeps and the district adds up (columns of both tables)."""

    communities: Mapped[int] = _count()
    communities_in_programme: Mapped[int] = _count()
    communities_renovated: Mapped[int] = _count()
    communities_without_area: Mapped[int] = _count()
    items: Mapped[int] = _count()
    weight_sum: Mapped[int] = _big()
    weighted_progress_sum: Mapped[int] = _big()
    done_items: Mapped[int] = _count()
    building_area_m2: Mapped[float] = _area()
    programme_area_m2: Mapped[float] = _area()
    renovated_area_m2: Mapped[float] = _area()
    pilot_communities: Mapped[int] = _count()
    pilot_communities_in_programme: Mapped[int] = _count()
    pilot_items: Mapped[int] = _count()
    pilot_weight_sum: Mapped[int] = _big()
    pilot_weighted_progress_sum: Mapped[int] = _big()
    pilot_done_items: Mapped[int] = _count()


class StreetSummary(_StreetSums, Base):
    """One row per street: its communities and their items rolled up."""

    __tablename__ = "street_summaries"

    street_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: weighted_progress_sum / weight_sum (None without items), unrounded, computed by the
    #: database; indexed, so the top and bottom streets are read without the others.
    percent_complete: Mapped[float | None] = mapped_column(
        sa.Double, sa.Computed("(CASE WHEN items > 0 THEN CAST(weighted_progress_sum AS "
                               "DOUBLE PRECISION) / weight_sum END)", persisted=True),
        index=True)


class DistrictSummary(_StreetSums, Base):
    """The district's totals spread over 16 rows (street id % 16): the sums of
    :class:`StreetSummary` and how many streets there are, with items or not."""

    __tablename__ = "district_summaries"

    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    streets: Mapped[int] = _count()
    streets_in_programme: Mapped[int] = _count()


class KindSummary(Base):
    """The whole programme's items of a kind, spread over shards (item id % 16) so that
    concurrent writers seldom wait on the same row: a kind's figures are its shards' sum."""

    __tablename__ = "kind_summaries"

    kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    items: Mapped[int] = _count()
    weight_sum: Mapped[int] = _big()
    weighted_progress_sum: Mapped[int] = _big()
    done_items: Mapped[int] = _count()
    planned_items: Mapped[int] = _count()
    consulting_items: Mapped[int] = _count()
    design_items: Mapped[int] = _count()
    construction_items: Mapped[int] = _count()
    completed_items: Mapped[int] = _count()
    accepted_items: Mapped[int] = _count()
    suspended_items: Mapped[int] = _count()


class CompletionMonth(Base):
    """Done items with an actual end, by the month ("2024-05") of that end, sharded like
    :class:`KindSummary`."""

    __tablename__ = "completion_months"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    items: Mapped[int] = _count()


class DeadlineSummary(Base):
    """Items not done that have a planned end, by kind, pilot community or not, and planned
    end: the overdue items on a day are the months before it (:class:`DeadlineMonth`) and
    the rows of its month before it, without scanning the items."""

    __tablename__ = "deadline_summaries"

    kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    is_pilot: Mapped[bool] = mapped_column(primary_key=True)
    planned_end: Mapped[dt.date] = mapped_column(primary_key=True, index=True)
    items: Mapped[int] = _count()


class DeadlineMonth(Base):
    """:class:`DeadlineSummary` by the month ("2024-05") of the planned end."""

    __tablename__ = "deadline_months"

    kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    is_pilot: Mapped[bool] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True, index=True)
    items: Mapped[int] = _count()


class StreetDeadlineMonth(Base):
    """A street's items not done that have a planned end, by the month of that end: the
    street's overdue items on a day are its months before that day's month, then its items
    due in that month before the day (the partial index below), without the other items."""

    __tablename__ = "street_deadline_months"
    __table_args__ = (
        # The months before this one for every street, read from the index alone.
        sa.Index("ix_street_deadline_months_month", "month", "street_id", "items"),
    )

    street_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    items: Mapped[int] = _count()


# Filters the summaries cannot answer (overdue on a given day, completions without an
# actual end) read the items through these partial indexes.
_NOT_DONE = "status NOT IN ('completed', 'accepted')"
_DONE_WITHOUT_END = "actual_end IS NULL AND status IN ('completed', 'accepted')"
# Items not done by community and planned end: a community's overdue items are an
# index-only range (the pilots' overdue items, the streets shown in the comparison).
sa.Index("ix_renovation_items_open_deadlines", RenovationItem.community_id,
         RenovationItem.planned_end,
         postgresql_where=sa.text(_NOT_DONE), sqlite_where=sa.text(_NOT_DONE))
sa.Index("ix_renovation_items_done_without_end", RenovationItem.id,
         postgresql_where=sa.text(_DONE_WITHOUT_END), sqlite_where=sa.text(_DONE_WITHOUT_END))
# Items not done by planned end: this month's overdue items of every street, a short range.
sa.Index("ix_renovation_items_open_by_end", RenovationItem.planned_end,
         RenovationItem.community_id,
         postgresql_where=sa.text(_NOT_DONE), sqlite_where=sa.text(_NOT_DONE))

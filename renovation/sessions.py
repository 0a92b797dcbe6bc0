"""Open-space sessions (开放空间讨论会): creating them, their topics, opening and closing them
with the minutes, and the resident accounts of a community.

Planners, admins and the officials of the community's street create sessions; they and the
session's facilitator run them. A session only moves forward: upcoming → open → closed
(:data:`ALLOWED_MOVES`). Residents are bound to one community; their accounts are made by
whoever runs sessions there, or by residents themselves with an invite code (no SMS).

Every rule is decided here from the database, never from a request, so the pages and the
JSON API share them. Text from users is kept as plain text (:func:`plain_text`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import folium
import sqlalchemy as sa
from branca.element import MacroElement
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from folium.elements import JSCSSMixin
from jinja2 import Template
from shapely.geometry import mapping, shape
from sqlalchemy.orm import Session, selectinload

from geo import gcj02
from geo.maps import (
    BboxGeoJson,
    Legend,
    MapScript,
    StaticGeoJson,
    add_basemap,
    escape_for_folium,
    script_json,
)
from renovation import accounts
from renovation.catalogue import BY_CODE
from renovation.errors import DomainError, NotFound
from renovation.maps import MapSettings
from renovation.models import (
    Community,
    CommunityInvite,
    OpenSpaceSession,
    OutcomeEffect,
    OutcomeItem,
    RenovationItem,
    Role,
    SessionOutcome,
    SessionStatus,
    SessionTopic,
    User,
    utcnow,
)
from renovation.overview import MAX_ID

S = SessionStatus
#: Which status may follow which: a session is announced, opened, then closed for good.
ALLOWED_MOVES: dict[SessionStatus, frozenset[SessionStatus]] = {
    S.UPCOMING: frozenset({S.OPEN}),
    S.OPEN: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
MAX_TITLE_LENGTH = 200
MAX_PLACE_LENGTH = 200
MAX_SUMMARY_LENGTH = 10_000
MAX_OUTCOME_LENGTH = 2000
MAX_ATTENDEES = 100_000
MAX_TOPICS = 30
#: Invite codes: 10 characters that cannot be mistaken for one another when read aloud or
#: copied from a notice board (no 0/O, 1/I/L): 32**10, about 10**15 codes.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 10
INVITE_DAYS = 30
INVITE_MAX_USES = 500
STAFF_ROLES = (Role.ADMIN, Role.PLANNER, Role.OFFICIAL, Role.MODERATOR)


class Forbidden(DomainError):
    status = 403


# --- Plain text -----------------------------------------------------------------------------

def plain_text(value, name, max_length: int, *, required: bool = True,
               single_line: bool = False) -> str | None:
    """`value` as text the database stores and every page shows as written, or a DomainError.

    Line breaks become ``\\n`` (a browser sends ``\\r\\n``, which would count twice against
    the limit); with `single_line` all runs of white space become one space. NUL and lone
    surrogates cannot be stored (PostgreSQL) and are refused. Nothing is escaped here:
    escaping belongs to where the text is shown.

    Parameters
    ----------
    name : str
        What the text is, for messages ("The comment").
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError(_l("%(name)s must be text.", name=name))
    if "\x00" in value:
        raise DomainError(_l("The request contains a NUL character."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DomainError(_l("The request contains text that is not valid Unicode.")) from None
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = " ".join(value.split()) if single_line else value.strip()
    if not value:
        if required:
            raise DomainError(_l("%(name)s is empty.", name=name))
        return None
    if len(value) > max_length:
        raise DomainError(_l("%(name)s is too long (at most %(n)d characters).", name=name,
                             n=max_length))
    return value


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """`value` with its UTC offset (SQLite hands back stored UTC times without one)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


# --- Who may do what ------------------------------------------------------------------------

def _active(user: User | None) -> bool:
    return user is not None and user.is_active


def require_user(user: User | None) -> User:
    if not _active(user):
        raise DomainError(_l("Please sign in first."), status=401)
    return user


def speaks_for_the_district(user: User | None, community: Community) -> bool:
    """Admins, planners and the officials of the community's street: their answers are
    official, and they may create and run sessions in the community."""
    if not _active(user):
        return False
    if user.role in (Role.ADMIN, Role.PLANNER):
        return True
    return user.role is Role.OFFICIAL and user.street_id == community.street_id


def can_create_session(user: User | None, community: Community) -> bool:
    return speaks_for_the_district(user, community)


def can_run(user: User | None, session_: OpenSpaceSession) -> bool:
    """Whoever may create sessions in the community, and the session's facilitator."""
    if not _active(user):
        return False
    return user.id == session_.facilitator_id or can_create_session(user, session_.community)


def is_resident_of(user: User | None, community_id: int) -> bool:
    return _active(user) and user.role is Role.RESIDENT and user.community_id == community_id


def can_manage_residents(db: Session, user: User | None, community: Community) -> bool:
    """Who may open resident accounts and invite codes: those who may create sessions in
    the community, and the facilitators of its sessions."""
    if can_create_session(user, community):
        return True
    return _active(user) and db.scalar(
        sa.select(OpenSpaceSession.id).where(OpenSpaceSession.community_id == community.id,
                                             OpenSpaceSession.facilitator_id == user.id)
        .limit(1)) is not None


def _require_run(user: User | None, session_: OpenSpaceSession) -> User:
    require_user(user)
    if not can_run(user, session_):
        raise Forbidden(_l("Only the session's facilitator, the officials of its street and "
                           "planners may run this session."))
    return user


# --- Reading --------------------------------------------------------------------------------

def get_community(db: Session, community_id: int) -> Community:
    community = db.get(Community, community_id) if 0 < community_id <= MAX_ID else None
    if community is None:
        raise NotFound(_l("There is no community number %(id)s.", id=community_id))
    return community


def get_session(db: Session, session_id: int) -> OpenSpaceSession:
    found = None
    if 0 < session_id <= MAX_ID:
        found = db.scalar(
            sa.select(OpenSpaceSession).where(OpenSpaceSession.id == session_id)
            .options(selectinload(OpenSpaceSession.topics).selectinload(SessionTopic.items),
                     selectinload(OpenSpaceSession.outcomes).selectinload(SessionOutcome.links)
                     .selectinload(OutcomeItem.item),
                     selectinload(OpenSpaceSession.community).selectinload(Community.street),
                     selectinload(OpenSpaceSession.facilitator)))
    if found is None:
        raise NotFound(_l("There is no session number %(id)s.", id=session_id))
    return found


def _status_rank():
    return sa.case({S.UPCOMING.value: 0, S.OPEN.value: 1}, value=OpenSpaceSession.status,
                   else_=2)


def list_sessions(db: Session, *, community_id: int | None = None,
                  status: SessionStatus | None = None, limit: int = 500
                  ) -> list[OpenSpaceSession]:
    """Sessions, upcoming first (soonest first), then open, then closed (latest first)."""
    upcoming_start = sa.case((OpenSpaceSession.status == S.UPCOMING.value,
                              OpenSpaceSession.starts_at))
    query = (sa.select(OpenSpaceSession)
             .options(selectinload(OpenSpaceSession.community).selectinload(Community.street),
                      selectinload(OpenSpaceSession.topics))
             .order_by(_status_rank(), upcoming_start, OpenSpaceSession.starts_at.desc(),
                       OpenSpaceSession.id.desc())
             .limit(limit))
    if community_id is not None:
        query = query.where(OpenSpaceSession.community_id == community_id)
    if status is not None:
        query = query.where(OpenSpaceSession.status == status)
    return list(db.scalars(query))


def facilitator_choices(db: Session) -> list[User]:
    """The active staff accounts a session can name as its facilitator."""
    return list(db.scalars(sa.select(User).where(User.is_active, User.role.in_(STAFF_ROLES))
                           .order_by(User.role, User.username)))


# --- Creating and running -------------------------------------------------------------------

@dataclass(frozen=True)
class TopicInput:
    """A topic: a title tied to an item kind, to items of the community, or to both."""

    title: str
    kind: str | None = None
    item_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class OutcomeInput:
    """One outcome of the minutes and the items it created or changed.

    `new_items` are (kind, title) pairs of items the outcome creates in the community;
    only those who may change the community's items (its street's officials, admins) may.
    """

    text: str
    created_item_ids: tuple[int, ...] = ()
    changed_item_ids: tuple[int, ...] = ()
    new_items: tuple[tuple[str, str], ...] = field(default=())


def _community_items(db: Session, community: Community, item_ids) -> list[RenovationItem]:
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        return []
    items = list(db.scalars(sa.select(RenovationItem).where(
        RenovationItem.id.in_([i for i in ids if 0 < i <= MAX_ID]),
        RenovationItem.community_id == community.id).order_by(RenovationItem.id)))
    missing = sorted(set(ids) - {item.id for item in items})
    if missing:
        raise DomainError(_l("Item(s) %(ids)s are not items of %(community)s.",
                             ids=", ".join(str(i) for i in missing[:10]),
                             community=community.name))
    return items


def _checked_kind(kind: str | None) -> str | None:
    if kind in (None, ""):
        return None
    if kind not in BY_CODE:
        raise DomainError(_l("Unknown item kind: %(kinds)s.", kinds=str(kind)[:40]))
    return kind


def _new_topic(db: Session, session_: OpenSpaceSession, topic: TopicInput,
               position: int) -> SessionTopic:
    title = plain_text(topic.title, _l("The topic"), MAX_TITLE_LENGTH, single_line=True)
    kind = _checked_kind(topic.kind)
    items = _community_items(db, session_.community, topic.item_ids)
    if kind is None and not items:
        raise DomainError(_l("Tie the topic %(title)s to an item kind or to items of the "
                             "community.", title=title))
    return SessionTopic(session=session_, title=title, kind=kind, items=items,
                        position=position)


def create_session(db: Session, user: User | None, community_id: int, *, title: str,
                   starts_at: dt.datetime, place: str, facilitator_id: int | None = None,
                   topics: list[TopicInput] | tuple = ()) -> OpenSpaceSession:
    """Announce a session in a community; it starts as upcoming. The caller commits.

    Raises
    ------
    DomainError (401, 403, 404, 400)
    """
    require_user(user)
    community = get_community(db, community_id)
    if not can_create_session(user, community):
        raise Forbidden(_l("Only planners and the officials of this community's street may "
                           "create its sessions."))
    title = plain_text(title, _l("The title"), MAX_TITLE_LENGTH, single_line=True)
    place = plain_text(place, _l("The place"), MAX_PLACE_LENGTH, single_line=True)
    if not isinstance(starts_at, dt.datetime) or starts_at.tzinfo is None:
        raise DomainError(_l("The start time needs a date, a time and its time zone."))
    if not dt.datetime(2000, 1, 1, tzinfo=dt.UTC) <= starts_at <= \
            dt.datetime(2100, 1, 1, tzinfo=dt.UTC):
        raise DomainError(_l("The start time is not possible for a session."))
    facilitator = user if facilitator_id is None else (
        db.get(User, facilitator_id) if 0 < facilitator_id <= MAX_ID else None)
    if facilitator is None or not facilitator.is_active or facilitator.role not in STAFF_ROLES:
        raise DomainError(_l("The facilitator must be an active staff account (admin, "
                             "planner, official or moderator)."))
    if len(topics) > MAX_TOPICS:
        raise DomainError(_l("A session has at most %(n)d topics.", n=MAX_TOPICS))
    session_ = OpenSpaceSession(community=community, title=title, starts_at=starts_at,
                                place=place, facilitator=facilitator, created_by=user,
                                status=S.UPCOMING)
    db.add(session_)
    for position, topic in enumerate(topics):
        db.add(_new_topic(db, session_, topic, position))
    db.flush()
    return session_


def add_topic(db: Session, user: User | None, session_id: int, topic: TopicInput
              ) -> SessionTopic:
    """Add a topic to a session that has not closed."""
    session_ = get_session(db, session_id)
    _require_run(user, session_)
    if session_.status is S.CLOSED:
        raise DomainError(_l("The session is closed: its topics can no longer change."),
                          status=409)
    if len(session_.topics) >= MAX_TOPICS:
        raise DomainError(_l("A session has at most %(n)d topics.", n=MAX_TOPICS))
    position = max((t.position for t in session_.topics), default=-1) + 1
    new = _new_topic(db, session_, topic, position)
    db.add(new)
    db.flush()
    return new


def _move(session_: OpenSpaceSession, after: SessionStatus) -> None:
    if after not in ALLOWED_MOVES[session_.status]:
        raise DomainError(_l("A session cannot move from %(before)s to %(after)s.",
                             before=session_.status.value, after=after.value), status=409)
    session_.status = after


def open_session(db: Session, user: User | None, session_id: int) -> OpenSpaceSession:
    """Open an upcoming session for comments."""
    session_ = get_session(db, session_id)
    _require_run(user, session_)
    if not session_.topics:
        raise DomainError(_l("Add at least one topic before opening the session."))
    _move(session_, S.OPEN)
    session_.opened_at = utcnow()
    db.flush()
    return session_


def close_session(db: Session, user: User | None, session_id: int, *, summary: str,
                  attendees: int | None, outcomes: list[OutcomeInput] | tuple = ()
                  ) -> OpenSpaceSession:
    """Close an open session and record its minutes: summary, attendees and outcomes."""
    session_ = get_session(db, session_id)
    _require_run(user, session_)
    summary = plain_text(summary, _l("The summary"), MAX_SUMMARY_LENGTH)
    if attendees is not None and (isinstance(attendees, bool) or not isinstance(attendees, int)
                                  or not 0 <= attendees <= MAX_ATTENDEES):
        raise DomainError(_l("The number of attendees must be a whole number from 0 to "
                             "%(n)d.", n=MAX_ATTENDEES))
    _move(session_, S.CLOSED)
    session_.summary, session_.attendees = summary, attendees
    session_.closed_at, session_.closed_by = utcnow(), user
    for outcome in outcomes:
        _record_outcome(db, user, session_, outcome)
    db.flush()
    return session_


def add_outcome(db: Session, user: User | None, session_id: int,
                outcome: OutcomeInput) -> SessionOutcome:
    """Add an outcome to the minutes of a closed session."""
    session_ = get_session(db, session_id)
    _require_run(user, session_)
    if session_.status is not S.CLOSED:
        raise DomainError(_l("Outcomes are part of the minutes: close the session first."),
                          status=409)
    recorded = _record_outcome(db, user, session_, outcome)
    db.flush()
    return recorded


def _record_outcome(db: Session, user: User, session_: OpenSpaceSession,
                    outcome: OutcomeInput) -> SessionOutcome:
    from renovation import workflow

    text = plain_text(outcome.text, _l("The outcome"), MAX_OUTCOME_LENGTH)
    community = session_.community
    created = _community_items(db, community, outcome.created_item_ids)
    changed = _community_items(db, community, outcome.changed_item_ids)
    if {i.id for i in created} & {i.id for i in changed}:
        raise DomainError(_l("An item is either created or changed by an outcome, not both."))
    for kind, title in outcome.new_items:
        # The rule of who may change a community's items is workflow's; it reads only
        # the item's community, which is all a new item has yet.
        if not workflow.can_edit(user, SimpleNamespace(community=community)):
            raise Forbidden(_l("Only the officials of this community's street may create its "
                               "renovation items."))
        kind = _checked_kind(kind)
        if kind is None:
            raise DomainError(_l("A new item needs its kind."))
        item = RenovationItem(community=community, kind=kind, title=plain_text(
            title, _l("The item's title"), MAX_TITLE_LENGTH, single_line=True))
        db.add(item)
        created.append(item)
    db.flush()
    position = max((o.position for o in session_.outcomes), default=-1) + 1
    recorded = SessionOutcome(session=session_, text=text, position=position)
    recorded.links = ([OutcomeItem(item=i, effect=OutcomeEffect.CREATED) for i in created]
                      + [OutcomeItem(item=i, effect=OutcomeEffect.CHANGED) for i in changed])
    db.add(recorded)
    return recorded


# --- Resident accounts ----------------------------------------------------------------------

def _require_manage_residents(db: Session, user: User | None, community: Community) -> None:
    require_user(user)
    if not can_manage_residents(db, user, community):
        raise Forbidden(_l("Only those who run this community's sessions may open resident "
                           "accounts for it."))


def create_resident(db: Session, user: User | None, community_id: int, *, username: str,
                    password: str, display_name: str = "") -> User:
    """Open a resident's account in `community_id`, on behalf of the resident."""
    community = get_community(db, community_id)
    _require_manage_residents(db, user, community)
    display = plain_text(display_name, _l("The name"), 100, required=False,
                         single_line=True) or ""
    return accounts.create_user(db, username, password, Role.RESIDENT, display_name=display,
                                community_id=community.id)


def _code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalise_invite_code(code: str) -> str:
    """What a resident typed, as the code: case, spaces and dashes do not matter."""
    return "".join(ch for ch in str(code).upper() if ch.isalnum())[:40]


def create_invite(db: Session, user: User | None, community_id: int, *,
                  days: int = INVITE_DAYS, max_uses: int = INVITE_MAX_USES,
                  now: dt.datetime | None = None) -> tuple[CommunityInvite, str]:
    """Make an invite code for the community; return it with the code, shown this once."""
    community = get_community(db, community_id)
    _require_manage_residents(db, user, community)
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    now = now or utcnow()
    invite = CommunityInvite(community=community, code_hash=_code_digest(code),
                             created_by_id=user.id, created_at=now,
                             expires_at=now + dt.timedelta(days=days), max_uses=max_uses)
    db.add(invite)
    db.flush()
    return invite, code


def join_with_invite(db: Session, code: str, *, username: str, password: str,
                     display_name: str = "", now: dt.datetime | None = None) -> User:
    """Open one's own resident account with an invite code.

    Raises
    ------
    DomainError
        400 when the code is not valid, used up or expired (the same message for each,
        so the answer tells a guesser nothing), or when the account cannot be made.
    """
    now = now or utcnow()
    invite = db.scalar(sa.select(CommunityInvite).where(
        CommunityInvite.code_hash == _code_digest(normalise_invite_code(code)))
        .with_for_update())
    if (invite is None or invite.revoked_at is not None or aware(invite.expires_at) <= now
            or invite.uses >= invite.max_uses):
        raise InvalidInvite(_l("This invite code is not valid, or it has expired. Ask your "
                               "community for a new one."))
    display = plain_text(display_name, _l("The name"), 100, required=False,
                         single_line=True) or ""
    user = accounts.create_user(db, username, password, Role.RESIDENT, display_name=display,
                                community_id=invite.community_id)
    invite.uses += 1
    db.flush()
    return user


class InvalidInvite(DomainError):
    """A code that opens nothing; the web layer counts these against the address."""


# --- The session map ------------------------------------------------------------------------

#: Colours of the topics' pins, in topic order (ColorBrewer Dark2, then Set1).
TOPIC_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                 "#e41a1c", "#377eb8", "#4daf4a")


def topic_colour(index: int) -> str:
    return TOPIC_COLOURS[index % len(TOPIC_COLOURS)]


class PinPicker(JSCSSMixin, MacroElement):
    """Tapping the map sets the comment form's hidden longitude and latitude fields.

    The fields and the status line are found by id; ``static/js/session-map.js`` draws
    the chosen spot and writes its position with ``textContent``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        GengxinSessionMap.pinPicker({{ this._parent.get_name() }}, {{ this.options_json }});
        {% endmacro %}
    """)

    def __init__(self, script_url: str, *, lon_id: str = "pin-lon", lat_id: str = "pin-lat",
                 status_id: str = "pin-status", clear_id: str = "pin-clear"):
        super().__init__()
        self._name = "PinPicker"
        self.default_js = [("gengxin-session-map", script_url)]
        self.options_json = script_json({"lonId": lon_id, "latId": lat_id,
                                         "statusId": status_id, "clearId": clear_id})


def build_session_map(footprint: dict | None, community_name: str, bounds,
                      topics: list[tuple[int, str]], pins_url: Callable[[int], str],
                      settings: MapSettings, *, picker_url: str | None = None) -> folium.Map:
    """The session's map: the community's outline and a layer of pins per topic.

    Parameters
    ----------
    topics : list of (topic id, title)
        Each gets a layer, named after the topic, whose pins come from ``pins_url(id)``.
    picker_url : str, optional
        The address of ``session-map.js``: with it, tapping the map sets the pin of the
        comment form (:class:`PinPicker`).
    """
    minx, miny, maxx, maxy = bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=16, tiles=None,
                   control_scale=True, min_zoom=3, max_zoom=19, zoom_control=True,
                   zoom_snap=0.25)
    display_crs = add_basemap(m, settings.basemap, key=settings.basemap_key)
    MapScript(settings.script_url).add_to(m)
    if footprint is not None:
        geometry = footprint
        if display_crs == "gcj02":
            geometry = mapping(gcj02.geometry_to_gcj02(shape(footprint)))
        StaticGeoJson({"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": geometry, "properties": {"label": community_name}}]},
            _("Footprint"), labels=False, css_class="gx-footprint", color="#1a237e",
            weight=2.5, fit_bounds=True).add_to(m)
    for index, (topic_id, title) in enumerate(topics):
        url = pins_url(topic_id)
        if display_crs != "wgs84":
            url += ("&" if "?" in url else "?") + f"display={display_crs}"
        # Leaflet's layer control writes layer names with innerHTML: the name is escaped.
        BboxGeoJson(url, escape_for_folium(f"{index + 1}. {title}"), min_zoom=0,
                    css_class=f"gx-pin gx-pin-topic-{topic_id}", fill_opacity=0.9).add_to(m)
    Legend(_("Topics"), [(topic_colour(i), f"{i + 1}. {title}")
                         for i, (_id, title) in enumerate(topics)],
           position="bottomleft", open=True).add_to(m)
    if picker_url:
        PinPicker(picker_url).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m

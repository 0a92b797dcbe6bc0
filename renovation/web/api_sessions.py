"""The JSON API for sessions, comments, supports, flags and ratings.

Reading is public, as on the pages; writing needs ``Authorization: Bearer <token>`` and
is allowed to exactly whom the pages allow it: both call the same services
(:mod:`renovation.sessions`, :mod:`renovation.comments`, :mod:`renovation.moderation`,
:mod:`renovation.ratings`), and posting is rate-limited the same way. Text is returned as
plain JSON strings: whoever shows it escapes it for where it goes.

:data:`OPENAPI_PATHS` and :data:`OPENAPI_SCHEMAS` document all of it; renovation.openapi
merges them into ``/api/openapi.json``.
"""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from geoalchemy2.shape import to_shape

from renovation import comments, moderation, openapi, ratings, sessions, workflow
from renovation.catalogue import BY_CODE, KINDS
from renovation.errors import DomainError
from renovation.i18n import locale_code
from renovation.models import OpenSpaceSession, SessionComment, SessionStatus, User
from renovation.overview import MAX_ID
from renovation.web import api_items, api_map, db_session, whole_number
from renovation.web.auth import current_user
from renovation.web.features import display_geometry
from renovation.web.sessions import flags_to_hide, parse_sort, posting_allowance

bp = Blueprint("api_sessions", __name__, url_prefix="/api")
bp.after_request(api_items._challenge)  # a 401 names the Bearer scheme (RFC 6750)

#: Characters of a comment shown in a map tooltip, and in a popup.
LABEL_LENGTH, POPUP_LENGTH = 60, 300


# --- Representations ----------------------------------------------------------------------

_iso = api_items._iso_datetime


def _person(user: User) -> dict:
    return {"display_name": user.display_name}


def topic_json(topic, lang: str) -> dict:
    kind = BY_CODE.get(topic.kind) if topic.kind else None
    return {"id": topic.id, "title": topic.title, "kind": topic.kind,
            "kind_name": kind.name(lang) if kind else None,
            "item_ids": [item.id for item in topic.items]}


def session_json(s: OpenSpaceSession, lang: str) -> dict:
    """A session (schema ``SessionSummary``; ``SessionDetail`` adds the minutes)."""
    community = s.community
    return {
        "id": s.id, "community_id": community.id, "community_name": community.name,
        "street_code": community.street.code, "title": s.title,
        "starts_at": _iso(s.starts_at), "place": s.place, "status": s.status.value,
        "facilitator": _person(s.facilitator),
        "topics": [topic_json(t, lang) for t in s.topics],
        "url": url_for("sessions.session_page", session_id=s.id),
    }


def session_detail_json(s: OpenSpaceSession, lang: str) -> dict:
    minutes = None
    if s.status is SessionStatus.CLOSED:
        minutes = {"summary": s.summary or "", "attendees": s.attendees,
                   "closed_at": _iso(s.closed_at),
                   "outcomes": [{"id": o.id, "text": o.text, "items": [
                       {"item_id": link.item_id, "title": link.item.title,
                        "effect": link.effect.value} for link in o.links]}
                       for o in s.outcomes]}
    return {**session_json(s, lang), "opened_at": _iso(s.opened_at), "minutes": minutes}


def comment_json(node: comments.CommentNode, *, show_hidden: bool = False) -> dict:
    """A comment (schema ``SessionComment``): hidden text is null except for moderators."""
    c: SessionComment = node.comment
    point = to_shape(c.location) if c.location is not None else None
    shown = node.is_visible or show_hidden
    return {
        "id": c.id, "session_id": c.session_id, "topic_id": c.topic_id,
        "parent_id": c.parent_id, "depth": c.depth,
        "author": _person(c.author) if not c.speaker_name else {"display_name": c.speaker_name},
        "typed_by": _person(c.author) if c.speaker_name else None,
        "is_official": c.is_official, "text": c.body if shown else None,
        "visibility": c.visibility.value, "created_at": _iso(c.created_at),
        "location": [point.x, point.y] if point else None, "supports": node.supports,
    }


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def pin_feature(pin: comments.Pin, session_id: int, topic_index: dict[int, int],
                topic_titles: dict[int, str], display_crs: str) -> dict:
    """A pinned comment as a map feature; every value is plain text for textContent."""
    index = topic_index.get(pin.topic_id, 0)
    name = pin.speaker_name or pin.author_name
    rows = [[_("Topic"), f"{index + 1}. {topic_titles.get(pin.topic_id, '')}"],
            [_("By"), name + (" · " + _("Official answer") if pin.is_official else "")],
            [_("Time"), format_datetime(pin.created_at, "yyyy-MM-dd HH:mm")]]
    colour = sessions.topic_colour(index)
    return {
        "type": "Feature", "id": pin.id,
        "geometry": display_geometry(pin.geometry, display_crs),
        "properties": {
            "id": pin.id, "topic_id": pin.topic_id, "pin": True,
            "label": _shorten(pin.body, LABEL_LENGTH), "title": _shorten(pin.body, POPUP_LENGTH),
            "rows": rows, "url": url_for("sessions.session_page", session_id=session_id,
                                         _anchor=f"comment-{pin.id}"),
            "link_text": _("Open the comment"), "fill": colour, "radius": 8,
            "point_stroke": "#ffffff", "point_stroke_width": 2,
        },
    }


# --- Reading the request ------------------------------------------------------------------

def _body(allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    """The JSON object of the request with only `allowed` fields, `required` ones present."""
    if request.mimetype != "application/json":
        raise DomainError(_("Send the body as JSON with the header "
                            "Content-Type: application/json."), status=415)
    try:
        body = json.loads(request.get_data(cache=False), parse_constant=api_items._not_json)
    except (ValueError, RecursionError):
        raise DomainError(_("The body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise DomainError(_("The body must be a JSON object."))
    unknown = [str(name)[:40] for name in body if name not in allowed]
    if unknown:
        raise DomainError(_("Unknown field(s): %(names)s. Allowed: %(allowed)s.",
                            names=", ".join(unknown[:10]), allowed=", ".join(allowed)),
                          details={"fields": unknown[:10]})
    missing = [name for name in required if body.get(name) is None]
    if missing:
        raise DomainError(_("Missing field(s): %(names)s.", names=", ".join(missing)),
                          details={"fields": missing})
    return body


def _id(value, field: str) -> int:
    number = api_items._whole(value)
    if number is None or not 0 < number <= MAX_ID:
        raise DomainError(_("%(field)s must be a whole number from 1 to %(max)d.",
                            field=field, max=MAX_ID), details={"fields": [field]})
    return number


def _ids(value, field: str) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 500:
        raise DomainError(_("%(field)s must be a list of ids.", field=field),
                          details={"fields": [field]})
    return tuple(_id(v, field) for v in value)


def _string(value, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DomainError(_("%(field)s must be text.", field=field), details={"fields": [field]})
    return value


def _number(value, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DomainError(_("%(field)s must be a number.", field=field),
                          details={"fields": [field]})
    return value


def _query_id(name: str) -> int | None:
    text = request.args.get(name)
    if text is None:
        return None
    number = whole_number(text, maximum=MAX_ID)
    if not number:
        raise DomainError(_("%(field)s must be a whole number from 1 to %(max)d.", field=name,
                            max=MAX_ID))
    return number


def _topic_input(body: dict) -> sessions.TopicInput:
    return sessions.TopicInput(_string(body.get("title"), "title") or "",
                               _string(body.get("kind"), "kind"),
                               _ids(body.get("item_ids"), "item_ids"))


_TOPIC_FIELDS = ("title", "kind", "item_ids")
_OUTCOME_FIELDS = ("text", "created_item_ids", "changed_item_ids", "new_items")


def _outcome_input(body) -> sessions.OutcomeInput:
    if not isinstance(body, dict) or set(body) - set(_OUTCOME_FIELDS):
        raise DomainError(_("An outcome is an object with: %(allowed)s.",
                            allowed=", ".join(_OUTCOME_FIELDS)), details={"fields": ["outcomes"]})
    new_items = body.get("new_items")
    new_items = [] if new_items is None else new_items  # null or absent: none
    if not isinstance(new_items, list) or not all(
            isinstance(n, dict) and set(n) == {"kind", "title"} for n in new_items):
        raise DomainError(_("new_items must be a list of objects with kind and title."),
                          details={"fields": ["new_items"]})
    return sessions.OutcomeInput(
        _string(body.get("text"), "text") or "", _ids(body.get("created_item_ids"),
                                                      "created_item_ids"),
        _ids(body.get("changed_item_ids"), "changed_item_ids"),
        tuple((_string(n["kind"], "kind") or "", _string(n["title"], "title") or "")
              for n in new_items))


def _created(body: dict):
    return jsonify(body), 201


# --- Sessions -----------------------------------------------------------------------------

@bp.get("/sessions")
def list_sessions():
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in SessionStatus}:
        raise DomainError(_("status must be one of: %(names)s.",
                            names=", ".join(s.value for s in SessionStatus)))
    found = sessions.list_sessions(db_session(), community_id=_query_id("community"),
                                   status=SessionStatus(status) if status else None)
    lang = locale_code()
    return jsonify({"sessions": [session_json(s, lang) for s in found]})


@bp.post("/sessions")
def create_session():
    user = api_items._token_user()
    body = _body(("community_id", "title", "starts_at", "place", "facilitator_id", "topics"),
                 ("community_id", "title", "starts_at", "place"))
    starts_at = _string(body["starts_at"], "starts_at")
    try:
        starts = dt.datetime.fromisoformat(starts_at)
    except ValueError:
        starts = None
    # astimezone() overflows for the first and last days of the calendar: such a time is
    # refused here like any other impossible one.
    if starts is None or starts.tzinfo is None or not 1900 <= starts.year <= 2200:
        raise DomainError(_("starts_at must be an ISO 8601 time with its UTC offset, e.g. "
                            "2026-12-05T19:00:00+08:00."), details={"fields": ["starts_at"]})
    topics = body.get("topics")
    topics = [] if topics is None else topics  # null or absent: none; an object is refused
    if not isinstance(topics, list) or not all(isinstance(t, dict) and not
                                               set(t) - set(_TOPIC_FIELDS) for t in topics):
        raise DomainError(_("topics must be a list of objects with: %(allowed)s.",
                            allowed=", ".join(_TOPIC_FIELDS)), details={"fields": ["topics"]})
    db = db_session()
    created = sessions.create_session(
        db, user, _id(body["community_id"], "community_id"),
        title=_string(body["title"], "title"), starts_at=starts.astimezone(dt.UTC),
        place=_string(body["place"], "place"),
        facilitator_id=(None if body.get("facilitator_id") is None
                        else _id(body["facilitator_id"], "facilitator_id")),
        topics=[_topic_input(t) for t in topics])
    db.commit()
    return _created(session_detail_json(sessions.get_session(db, created.id), locale_code()))


@bp.get("/sessions/<int:session_id>")
def get_session(session_id: int):
    return jsonify(session_detail_json(sessions.get_session(db_session(), session_id),
                                       locale_code()))


def _after(session_id: int, status: int = 200):
    db = db_session()
    db.commit()
    db.expire_all()
    return jsonify(session_detail_json(sessions.get_session(db, session_id),
                                       locale_code())), status


@bp.post("/sessions/<int:session_id>/topics")
def add_topic(session_id: int):
    user = api_items._token_user()
    topic = _topic_input(_body(_TOPIC_FIELDS, ("title",)))
    sessions.add_topic(db_session(), user, session_id, topic)
    return _after(session_id, 201)


@bp.post("/sessions/<int:session_id>/open")
def open_session(session_id: int):
    sessions.open_session(db_session(), api_items._token_user(), session_id)
    return _after(session_id)


@bp.post("/sessions/<int:session_id>/close")
def close_session(session_id: int):
    user = api_items._token_user()
    body = _body(("summary", "attendees", "outcomes"), ("summary",))
    attendees = body.get("attendees")
    if attendees is not None:
        attendees = api_items._whole(attendees)
        if attendees is None:
            raise DomainError(_("attendees must be a whole number."),
                              details={"fields": ["attendees"]})
    outcomes = body.get("outcomes") or []
    if not isinstance(outcomes, list):
        raise DomainError(_("outcomes must be a list."), details={"fields": ["outcomes"]})
    sessions.close_session(db_session(), user, session_id,
                           summary=_string(body["summary"], "summary"), attendees=attendees,
                           outcomes=[_outcome_input(o) for o in outcomes])
    return _after(session_id)


@bp.post("/sessions/<int:session_id>/outcomes")
def add_outcome(session_id: int):
    user = api_items._token_user()
    outcome = _outcome_input(_body(_OUTCOME_FIELDS, ("text",)))
    sessions.add_outcome(db_session(), user, session_id, outcome)
    return _after(session_id, 201)


# --- Comments -----------------------------------------------------------------------------

def _flat(nodes, show_hidden: bool):
    for node in nodes:
        yield comment_json(node, show_hidden=show_hidden)
        yield from _flat(node.replies, show_hidden)


@bp.get("/sessions/<int:session_id>/comments")
def list_comments(session_id: int):
    db = db_session()
    session_ = sessions.get_session(db, session_id)
    sort = parse_sort(request.args.get("sort"))
    user = current_user()
    threads = comments.threads(db, session_.id, sort=sort, viewer=user)
    show_hidden = moderation.is_moderator(user)
    return jsonify({"session_id": session_.id, "sort": sort, "comments": [
        c for topic in session_.topics for c in _flat(threads.get(topic.id, []), show_hidden)]})


@bp.post("/sessions/<int:session_id>/comments")
def post_comment(session_id: int):
    user = api_items._token_user()
    record = posting_allowance(user)
    body = _body(("topic_id", "text", "parent_id", "lon", "lat", "speaker_name"),
                 ("topic_id", "text"))
    db = db_session()
    posted = comments.post_comment(db, user, session_id, comments.CommentInput(
        topic_id=_id(body["topic_id"], "topic_id"), text=_string(body["text"], "text"),
        parent_id=None if body.get("parent_id") is None else _id(body["parent_id"],
                                                                   "parent_id"),
        lon=_number(body.get("lon"), "lon"), lat=_number(body.get("lat"), "lat"),
        speaker_name=_string(body.get("speaker_name"), "speaker_name")))
    db.commit()
    record()
    return _created(comment_json(comments.CommentNode(posted)))


@bp.get("/sessions/<int:session_id>/pins")
def session_pins(session_id: int):
    bbox, _zoom, display_crs = api_map._view_arguments()
    db = db_session()
    session_ = sessions.get_session(db, session_id)
    topic_id = _query_id("topic")
    found, truncated = comments.pins(db, session_.id, topic_id=topic_id, bbox=bbox,
                                     limit=current_app.config["MAX_FEATURES_PER_REQUEST"])
    index = {t.id: i for i, t in enumerate(session_.topics)}
    titles = {t.id: t.title for t in session_.topics}
    return api_map._collection(
        [pin_feature(p, session_.id, index, titles, display_crs) for p in found], truncated)


@bp.post("/comments/<int:comment_id>/support")
def support(comment_id: int):
    user = api_items._token_user()
    db = db_session()
    comments.support_comment(db, user, comment_id)
    db.commit()
    count = comments.support_counts(db, [comment_id]).get(comment_id, 0)
    return _created({"comment_id": comment_id, "supports": count})


@bp.post("/comments/<int:comment_id>/flags")
def flag(comment_id: int):
    user = api_items._token_user()
    record = posting_allowance(user)
    body = _body(("reason",)) if request.get_data(cache=True) else {}
    db = db_session()
    moderation.flag_comment(db, user, comment_id, _string(body.get("reason"), "reason") or "",
                            flags_to_hide=flags_to_hide())
    db.commit()
    record()
    comment = comments.get_comment(db, comment_id)
    return _created({"comment_id": comment.id, "visibility": comment.visibility.value})


@bp.post("/comments/<int:comment_id>/moderation")
def moderate(comment_id: int):
    user = api_items._token_user()
    body = _body(("decision", "reason"), ("decision", "reason"))
    db = db_session()
    moderation.decide(db, user, comment_id, _string(body["decision"], "decision"),
                      _string(body["reason"], "reason"))
    db.commit()
    comment = comments.get_comment(db, comment_id)
    node = comments.CommentNode(comment, comments.support_counts(db, [comment.id])
                                .get(comment.id, 0))
    return jsonify(comment_json(node, show_hidden=True))


@bp.get("/moderation/queue")
def moderation_queue():
    user = api_items._token_user()
    entries = moderation.queue(db_session(), user)
    return jsonify({"threshold": flags_to_hide(), "comments": [{
        "comment": comment_json(comments.CommentNode(e.comment), show_hidden=True),
        "session_title": e.session.title,
        "flags": [{"reason": f.reason, "created_at": _iso(f.created_at),
                   "by": _person(f.user)} for f in e.flags]} for e in entries]})


# --- Ratings ------------------------------------------------------------------------------

def _satisfaction(value) -> dict | None:
    return None if value is None else {"mean": value[0], "count": value[1]}


def rating_json(rating) -> dict:
    """A rating (schema ``Rating``): anonymous, as on the pages."""
    return {"id": rating.id, "item_id": rating.item_id, "score": rating.score,
            "comment": rating.comment, "created_at": _iso(rating.created_at)}


@bp.get("/items/<int:item_id>/ratings")
def item_ratings(item_id: int):
    db = db_session()
    item = workflow.get_item(db, item_id)
    return jsonify({"item_id": item.id, "status": item.status.value,
                    "satisfaction": _satisfaction(ratings.satisfaction_by_item(
                        db, community_id=item.community_id).get(item.id)),
                    "ratings": [rating_json(r) for r in ratings.ratings_of_item(db, item.id)]})


@bp.post("/items/<int:item_id>/ratings")
def rate_item(item_id: int):
    user = api_items._token_user()
    record = posting_allowance(user)
    body = _body(("score", "comment"), ("score",))
    score = api_items._whole(body["score"])
    db = db_session()
    rating = ratings.rate_item(db, user, item_id, score if score is not None else body["score"],
                               _string(body.get("comment"), "comment"))
    db.commit()
    record()
    return _created(rating_json(rating))


@bp.get("/satisfaction")
def satisfaction():
    db = db_session()
    lang = locale_code()
    return jsonify({
        "district": _satisfaction(ratings.satisfaction_of(db)),
        "streets": [{"street_code": street.code, "name": street.name(lang),
                     "satisfaction": _satisfaction(figure)}
                    for street, figure in ratings.street_rows(db)],
        "communities": [{"community_id": c.id, "name": c.name, "street_code": c.street.code,
                         "satisfaction": _satisfaction(figure)}
                        for c, figure in ratings.community_rows(db)],
    })


# --- The OpenAPI document -----------------------------------------------------------------
# The limits come from the services that enforce them, so the document cannot drift.

_ref, _nullable = openapi.ref, openapi.nullable
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_IDS = {"type": "array", "maxItems": 500, "items": _ID}
_COUNT = {"type": "integer", "minimum": 0}
_DATE_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with the UTC "
                                                                        "offset."}
_TEXT = {"type": "string", "description": "Plain text as written: escape it where you show it."}
_PERSON = {"type": "object", "required": ["display_name"],
           "properties": {"display_name": {"type": "string"}}}
_KIND = {"type": "string", "enum": [kind.code for kind in KINDS]}
_SESSION_STATUS = {"type": "string", "enum": [s.value for s in SessionStatus],
                   "description": "upcoming 即将召开 → open 征集意见中 → closed 已结束."}
_SATISFACTION = {"type": "object", "required": ["mean", "count"], "properties": {
    "mean": {"type": "number", "minimum": ratings.MIN_SCORE, "maximum": ratings.MAX_SCORE,
             "description": "The mean score, 1 (poor) to 5 (very good)."},
    "count": {"type": "integer", "minimum": 1, "description": "How many ratings."}}}


def _object(required: list[str], properties: dict, **extra) -> dict:
    schema = {"type": "object", "properties": properties, **extra}
    return {**schema, "required": required} if required else schema


def _request(required: list[str], properties: dict, **extra) -> dict:
    """A request body: exactly these fields (an unknown one is refused with 400)."""
    return _object(required, properties, additionalProperties=False, **extra)


_TOPIC_CREATE = _request(["title"], {
    "title": {"type": "string", "minLength": 1, "maxLength": sessions.MAX_TITLE_LENGTH},
    "kind": _nullable(_KIND),
    "item_ids": _nullable({**_IDS, "description": "Items of the session's community; "
                                                  "null or absent: none."})},
    description="A topic is tied to an item kind, to items of the community, or both.",
    example={"title": "3号楼加装电梯", "kind": "lift_retrofit", "item_ids": []})
_OUTCOME_CREATE = _request(["text"], {
    "text": {"type": "string", "minLength": 1, "maxLength": sessions.MAX_OUTCOME_LENGTH},
    # Optional lists: null or absent mean none.
    "created_item_ids": _nullable(_IDS), "changed_item_ids": _nullable(_IDS),
    "new_items": {"type": "array", "nullable": True, "maxItems": 20,
                  "description": "Items the outcome creates "
                  "(only officials of the street and admins may).", "items": _request(
                      ["kind", "title"], {"kind": _KIND, "title": {
                          "type": "string", "minLength": 1,
                          "maxLength": sessions.MAX_TITLE_LENGTH}})}})
_SESSION_SUMMARY = _object(
    ["id", "community_id", "community_name", "street_code", "title", "starts_at", "place",
     "status", "facilitator", "topics", "url"], {
        "id": _ID, "community_id": _ID, "community_name": {"type": "string"},
        "street_code": {"type": "string"}, "title": _TEXT, "starts_at": _DATE_TIME,
        "place": _TEXT, "status": _SESSION_STATUS, "facilitator": _PERSON,
        "topics": {"type": "array", "items": _ref("SessionTopic")},
        "url": {"type": "string", "description": "The session's page."}})

_MINUTES = _object(["summary", "attendees", "closed_at", "outcomes"], {
    "summary": _TEXT, "attendees": _nullable(_COUNT), "closed_at": _DATE_TIME,
    "outcomes": {"type": "array", "items": _object(["id", "text", "items"], {
        "id": _ID, "text": _TEXT, "items": {"type": "array", "items": _object(
            ["item_id", "title", "effect"], {
                "item_id": _ID, "title": {"type": "string"},
                "effect": {"type": "string", "enum": ["created", "changed"]}})}})}})

OPENAPI_SCHEMAS: dict = {
    "SessionTopic": _object(["id", "title", "kind", "kind_name", "item_ids"], {
        "id": _ID, "title": _TEXT, "kind": _nullable(_KIND),
        "kind_name": _nullable({"type": "string"}),
        "item_ids": {"type": "array", "items": _ID}}),
    "SessionSummary": _SESSION_SUMMARY,
    "SessionDetail": {"allOf": [_ref("SessionSummary"), _object(["opened_at", "minutes"], {
        "opened_at": _nullable(_DATE_TIME),
        "minutes": _nullable(_MINUTES)})]},
    "SessionMinutes": _MINUTES,
    "SessionList": _object(["sessions"], {"sessions": {
        "type": "array", "items": _ref("SessionSummary"),
        "description": "Upcoming first (soonest first), then open, then closed."}}),
    "SessionCreate": _request(["community_id", "title", "starts_at", "place"], {
        "community_id": _ID,
        "title": {"type": "string", "minLength": 1, "maxLength": sessions.MAX_TITLE_LENGTH},
        "starts_at": {**_DATE_TIME, "example": "2026-12-05T19:00:00+08:00"},
        "place": {"type": "string", "minLength": 1, "maxLength": sessions.MAX_PLACE_LENGTH},
        "facilitator_id": _nullable({**_ID, "description": "A staff account; default: you."}),
        "topics": {"type": "array", "nullable": True, "maxItems": sessions.MAX_TOPICS,
                   "items": _ref("SessionTopicCreate")}}),
    "SessionTopicCreate": _TOPIC_CREATE,
    "SessionClose": _request(["summary"], {
        "summary": {"type": "string", "minLength": 1,
                    "maxLength": sessions.MAX_SUMMARY_LENGTH},
        "attendees": _nullable({"type": "integer", "minimum": 0,
                                "maximum": sessions.MAX_ATTENDEES}),
        "outcomes": {"type": "array", "maxItems": 50, "items": _ref("SessionOutcomeCreate")}}),
    "SessionOutcomeCreate": _OUTCOME_CREATE,
    "SessionComment": _object(
        ["id", "session_id", "topic_id", "parent_id", "depth", "author", "typed_by",
         "is_official", "text", "visibility", "created_at", "location", "supports"], {
            "id": _ID, "session_id": _ID, "topic_id": _ID, "parent_id": _nullable(_ID),
            "depth": {"type": "integer", "minimum": 0, "maximum": comments.MAX_DEPTH},
            "author": {**_PERSON, "description": "Who said it: the resident, the official, or "
                                                 "the attendee the facilitator typed it for."},
            "typed_by": _nullable({**_PERSON, "description": "The facilitator who typed in "
                                                             "what an attendee said."}),
            "is_official": {"type": "boolean", "description": "An official's answer."},
            "text": _nullable({**_TEXT, "description": "Null while the comment is hidden "
                                                       "(moderators see it)."}),
            "visibility": {"type": "string", "enum": ["visible", "pending", "hidden"],
                           "description": "pending: hidden by flags until a moderator "
                                          "decides; hidden: by a moderator."},
            "created_at": _DATE_TIME,
            "location": _nullable({"type": "array", "minItems": 2, "maxItems": 2,
                                   "items": {"type": "number"},
                                   "description": "The pin, [longitude, latitude] in WGS84."}),
            "supports": _COUNT}),
    "SessionCommentList": _object(["session_id", "sort", "comments"], {
        "session_id": _ID, "sort": {"type": "string", "enum": list(comments.SORTS)},
        "comments": {"type": "array", "items": _ref("SessionComment"),
                     "description": "Topic by topic, each thread followed by its replies "
                                    "(parent_id, depth)."}}),
    "SessionCommentCreate": _request(["topic_id", "text"], {
        "topic_id": _ID,
        "text": {"type": "string", "minLength": 1, "maxLength": comments.MAX_COMMENT_LENGTH},
        "parent_id": _nullable({**_ID, "description": "The comment this replies to (at most "
                                f"{comments.MAX_DEPTH} levels deep)."}),
        "lon": _nullable({"type": "number", "minimum": -180, "maximum": 180}),
        "lat": _nullable({"type": "number", "minimum": -90, "maximum": 90,
                          "description": "With lon, a pin in WGS84; it must lie on the "
                                         "community or within "
                                         f"{comments.PIN_MAX_DISTANCE_M} m of it."}),
        "speaker_name": _nullable({"type": "string", "maxLength": comments.MAX_SPEAKER_LENGTH,
                                   "description": "Facilitators: the attendee who said it."})},
        example={"topic_id": 1, "text": "3号楼后面的下水道经常返水。", "lon": 116.21,
                 "lat": 39.91}),
    "SessionSupport": _object(["comment_id", "supports"], {"comment_id": _ID,
                                                            "supports": _COUNT}),
    "SessionFlagCreate": _request([], {"reason": _nullable(
        {"type": "string", "maxLength": moderation.MAX_REASON_LENGTH})}),
    "SessionFlagged": _object(["comment_id", "visibility"], {
        "comment_id": _ID, "visibility": {"type": "string",
                                          "enum": ["visible", "pending", "hidden"]}}),
    "SessionModeration": _request(["decision", "reason"], {
        "decision": {"type": "string", "enum": ["hide", "restore"]},
        "reason": {"type": "string", "minLength": 1,
                   "maxLength": moderation.MAX_REASON_LENGTH}}),
    "SessionModerationQueue": _object(["threshold", "comments"], {
        "threshold": {"type": "integer", "minimum": 1,
                      "description": "Open flags that hide a comment."},
        "comments": {"type": "array", "items": _object(["comment", "session_title", "flags"], {
            "comment": _ref("SessionComment"), "session_title": {"type": "string"},
            "flags": {"type": "array", "items": _object(["reason", "created_at", "by"], {
                "reason": _TEXT, "created_at": _DATE_TIME, "by": _PERSON})}})}}),
    "Rating": _object(["id", "item_id", "score", "comment", "created_at"], {
        "id": _ID, "item_id": _ID,
        "score": {"type": "integer", "minimum": ratings.MIN_SCORE,
                  "maximum": ratings.MAX_SCORE},
        "comment": _nullable(_TEXT), "created_at": _DATE_TIME}),
    "RatingCreate": _request(["score"], {
        "score": {"type": "integer", "minimum": ratings.MIN_SCORE,
                  "maximum": ratings.MAX_SCORE},
        "comment": _nullable({"type": "string",
                              "maxLength": ratings.MAX_RATING_COMMENT_LENGTH})},
        example={"score": 5, "comment": "电梯运行平稳。"}),
    "ItemRatings": _object(["item_id", "status", "satisfaction", "ratings"], {
        "item_id": _ID, "status": _ref("Status"),
        "satisfaction": _nullable(_SATISFACTION),
        "ratings": {"type": "array", "items": _ref("Rating"), "description": "Latest first."}}),
    "Satisfaction": _SATISFACTION,
    "SatisfactionOverview": _object(["district", "streets", "communities"], {
        "district": _nullable(_SATISFACTION),
        "streets": {"type": "array", "items": _object(
            ["street_code", "name", "satisfaction"], {
                "street_code": {"type": "string"}, "name": {"type": "string"},
                "satisfaction": _nullable(_SATISFACTION)})},
        "communities": {"type": "array", "description": "Communities with ratings.",
                        "items": _object(["community_id", "name", "street_code",
                                          "satisfaction"], {
                            "community_id": _ID, "name": {"type": "string"},
                            "street_code": {"type": "string"},
                            "satisfaction": _ref("Satisfaction")})}}),
    "SessionPins": _object(["type", "features", "truncated"], {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "truncated": {"type": "boolean"},
        "features": {"type": "array", "items": _object(
            ["type", "id", "geometry", "properties"], {
                "type": {"type": "string", "enum": ["Feature"]}, "id": _ID,
                "geometry": _ref("Geometry"),
                "properties": _object(["id", "topic_id", "label", "title", "rows", "url"], {
                    "id": _ID, "topic_id": _ID, "pin": {"type": "boolean"},
                    "label": _TEXT, "title": _TEXT,
                    "rows": {"type": "array", "items": {"type": "array",
                                                        "items": {"type": "string"}}},
                    "url": {"type": "string"}, "link_text": {"type": "string"},
                    "fill": {"type": "string"}, "radius": {"type": "number"},
                    "point_stroke": {"type": "string"},
                    "point_stroke_width": {"type": "number"}})})}}),
}


def _json(schema: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": _ref(schema)}}}


_SESSION_ID = {"name": "session_id", "in": "path", "required": True,
               "description": "The session's number.", "schema": _ID, "example": 1}
_COMMENT_ID = {"name": "comment_id", "in": "path", "required": True,
               "description": "The comment's number.", "schema": _ID, "example": 1}
_ITEM_ID = {"$ref": "#/components/parameters/ItemId"}
_NOT_FOUND = openapi.error_response("There is no such session, comment or item.")
_WRITE_ERRORS = {
    "400": openapi.error_response("The body is not valid, or the rule it breaks (the message "
                                  "says which) refuses it. Nothing changed."),
    "401": openapi.error_response(
        "No API token, or one that is not valid or has been revoked.",
        headers={"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}),
    "403": openapi.error_response("The token's user may not do this (the same rules as the "
                                  "pages)."),
    "404": _NOT_FOUND,
    "409": openapi.error_response("Not in this state: the session is not open, the comment is "
                                  "hidden, or it was done already."),
    "415": openapi.error_response("The body is not sent as application/json."),
}
_RATE_LIMITED = openapi.error_response("Too many posts lately from this account or address: "
                                       "wait and try again.")


def _write(operation_id: str, summary: str, ok: dict, *, body: str | None = None,
           body_required: bool = True, parameters=(), tags=("sessions",),
           limited: bool = False) -> dict:
    responses = {**_WRITE_ERRORS, **ok}
    if limited:
        responses["429"] = _RATE_LIMITED
    if body is None:
        responses.pop("415")
    extra = {} if body is None else {"requestBody": {"required": body_required, "content": {
        "application/json": {"schema": _ref(body)}}}}
    return openapi.operation(operation_id, summary, responses, parameters=list(parameters),
                             tags=list(tags), security=[{"bearerAuth": []}], **extra)


def _read(operation_id: str, summary: str, ok: dict, *, parameters=(), tags=("sessions",),
          not_found: bool = True) -> dict:
    responses = {**ok, **({"404": _NOT_FOUND} if not_found else {})}
    return openapi.operation(operation_id, summary, responses, parameters=list(parameters),
                             tags=list(tags))


_SORT = {"name": "sort", "in": "query", "required": False,
         "description": "support: most supported threads first (the default); time: newest "
                        "first. Replies always follow in the order they were made.",
         "schema": {"type": "string", "enum": list(comments.SORTS), "default": "support"}}

OPENAPI_PATHS: dict = {
    "/sessions": {
        "get": _read("listSessions", "Open-space sessions, upcoming first",
                     {"200": _json("SessionList", "The sessions.")}, not_found=False,
                     parameters=[
                         {"name": "community", "in": "query", "required": False,
                          "description": "Only this community's sessions.", "schema": _ID},
                         {"name": "status", "in": "query", "required": False,
                          "schema": _SESSION_STATUS}]),
        "post": _write("createSession", "Announce a session in a community (planners, admins, "
                       "the officials of its street)",
                       {"201": _json("SessionDetail", "The new session, upcoming.")},
                       body="SessionCreate"),
    },
    "/sessions/{session_id}": {
        "get": _read("getSession", "A session with its topics and, once closed, its minutes",
                     {"200": _json("SessionDetail", "The session.")},
                     parameters=[_SESSION_ID]),
    },
    "/sessions/{session_id}/topics": {
        "post": _write("addSessionTopic", "Add a topic to a session that has not closed",
                       {"201": _json("SessionDetail", "The session with the new topic.")},
                       body="SessionTopicCreate", parameters=[_SESSION_ID]),
    },
    "/sessions/{session_id}/open": {
        "post": _write("openSession", "Open an upcoming session for comments",
                       {"200": _json("SessionDetail", "The session, open.")},
                       parameters=[_SESSION_ID]),
    },
    "/sessions/{session_id}/close": {
        "post": _write("closeSession", "Close an open session with its minutes and outcomes",
                       {"200": _json("SessionDetail", "The session, closed.")},
                       body="SessionClose", parameters=[_SESSION_ID]),
    },
    "/sessions/{session_id}/outcomes": {
        "post": _write("addSessionOutcome", "Add an outcome to a closed session's minutes",
                       {"201": _json("SessionDetail", "The session with the new outcome.")},
                       body="SessionOutcomeCreate", parameters=[_SESSION_ID]),
    },
    "/sessions/{session_id}/comments": {
        "get": _read("listSessionComments", "A session's comments as threads, topic by topic",
                     {"200": _json("SessionCommentList", "The comments.")},
                     parameters=[_SESSION_ID, _SORT], tags=("comments",)),
        "post": _write("postSessionComment", "Comment under a topic, reply, or pin a comment "
                       "to the map (residents of the community, its officials, the "
                       "facilitator)",
                       {"201": _json("SessionComment", "The comment.")},
                       body="SessionCommentCreate", parameters=[_SESSION_ID],
                       tags=("comments",), limited=True),
    },
    "/sessions/{session_id}/pins": {
        "get": _read("getSessionPins", "The session's pinned comments in a map view",
                     {"200": {"description": "The pins in view, as GeoJSON.",
                              "content": {"application/geo+json": {
                                  "schema": _ref("SessionPins")}}}},
                     parameters=[_SESSION_ID, {"$ref": "#/components/parameters/Bbox"},
                                 {"$ref": "#/components/parameters/Zoom"},
                                 {"$ref": "#/components/parameters/Display"},
                                 {"name": "topic", "in": "query", "required": False,
                                  "description": "Only this topic's pins.", "schema": _ID}],
                     tags=("comments", "map")),
    },
    "/comments/{comment_id}/support": {
        "post": _write("supportComment", "Support a comment (residents of the community, "
                       "once each, while the session is open)",
                       {"201": _json("SessionSupport", "The comment's supports now.")},
                       parameters=[_COMMENT_ID], tags=("comments",)),
    },
    "/comments/{comment_id}/flags": {
        "post": _write("flagComment", "Flag a comment for the moderators (anyone signed in, "
                       "once each); enough open flags hide it until a moderator decides",
                       {"201": _json("SessionFlagged", "The comment's visibility now.")},
                       body="SessionFlagCreate", body_required=False, parameters=[_COMMENT_ID],
                       tags=("moderation",), limited=True),
    },
    "/comments/{comment_id}/moderation": {
        "post": _write("moderateComment", "Hide or restore a comment, with a reason "
                       "(moderators); its text is kept",
                       {"200": _json("SessionComment", "The comment.")},
                       body="SessionModeration", parameters=[_COMMENT_ID],
                       tags=("moderation",)),
    },
    "/moderation/queue": {
        "get": openapi.operation(
            "getModerationQueue", "Comments waiting for a moderator, with their flags",
            {"200": _json("SessionModerationQueue", "The queue."),
             "401": _WRITE_ERRORS["401"], "403": _WRITE_ERRORS["403"]},
            tags=["moderation"], security=[{"bearerAuth": []}]),
    },
    "/items/{item_id}/ratings": {
        "get": _read("listItemRatings", "Residents' ratings of an item and its satisfaction",
                     {"200": _json("ItemRatings", "The ratings.")}, parameters=[_ITEM_ID],
                     tags=("ratings",)),
        "post": _write("rateItem", "Rate a finished item 1-5 (residents of its community, "
                       "once each)",
                       {"201": _json("Rating", "The rating.")}, body="RatingCreate",
                       parameters=[_ITEM_ID], tags=("ratings",), limited=True),
    },
    "/satisfaction": {
        "get": _read("getSatisfaction", "Satisfaction of the district, each street and each "
                     "rated community",
                     {"200": _json("SatisfactionOverview", "The figures.")},
                     tags=("ratings",), not_found=False),
    },
}

"""Open-space sessions (开放空间讨论会): sessions, comments, moderation and ratings pages.

The views parse the form, call one service of :mod:`renovation.sessions`,
:mod:`renovation.comments`, :mod:`renovation.moderation` or :mod:`renovation.ratings`, and
render; the rules live in those services, which the JSON API (``api_sessions``) calls too.
Posting (comments, flags, ratings) is rate-limited per account and per address here, in the
web layer, because the counts live in the server's memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import to_user_timezone, to_utc

from geo.maps import BASEMAP_TILES
from renovation import comments, moderation, overview, ratings, sessions, workflow
from renovation.catalogue import BY_CODE, KINDS
from renovation.errors import DomainError
from renovation.i18n import locale_code
from renovation.models import ModerationDecision, Role, SessionComment, SessionStatus, User
from renovation.ratelimit import SlidingWindow
from renovation.spreadsheet import safe_text
from renovation.web import db_session, pages, whole_number
from renovation.web.auth import current_user, login_required, safe_next, sign_in

bp = Blueprint("sessions", __name__)

#: Settings of this blueprint and their defaults; an app may set them in its config.
DEFAULTS = {
    "SESSION_FLAGS_TO_HIDE": 3,  # open flags that hide a comment until a moderator decides
    "SESSION_POSTS_PER_ACCOUNT": 10,  # posts a resident may make per window
    # Posts per address per window: high, because a session's room shares one Wi-Fi address.
    "SESSION_POSTS_PER_ADDRESS": 120,
    "SESSION_POST_WINDOW_S": 600,
    "SESSION_JOIN_FAILURES_PER_ADDRESS": 20,  # wrong invite codes per address per 15 minutes
}
OUTCOME_ROWS = 3  # outcome rows in the closing form; more can be added after closing
TOPIC_ROWS = 4  # topic rows in the new-session form; more can be added later


@bp.record_once
def _set_up(state) -> None:
    app = state.app
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    window = app.config["SESSION_POST_WINDOW_S"]
    app.extensions["gengxin.session_posts"] = (
        SlidingWindow(app.config["SESSION_POSTS_PER_ACCOUNT"], window),
        SlidingWindow(app.config["SESSION_POSTS_PER_ADDRESS"], window))
    app.extensions["gengxin.invite_failures"] = SlidingWindow(
        app.config["SESSION_JOIN_FAILURES_PER_ADDRESS"], 15 * 60)


# --- Helpers shared with the JSON API -------------------------------------------------------

def posting_allowance(user: User) -> Callable[[], None]:
    """Refuse with 429 when the account or the address has posted its fill lately; else
    return the function that counts one more post (call it once the post is saved).

    Residents are counted per account and per address; staff (who type in what a whole
    room said) per address only.
    """
    by_account, by_address = current_app.extensions["gengxin.session_posts"]
    keys = [(by_address, request.remote_addr or "")]
    if user.role is Role.RESIDENT:
        keys.append((by_account, str(user.id)))
    if any(limiter.is_exceeded(key) for limiter, key in keys):
        minutes = max(1, round(current_app.config["SESSION_POST_WINDOW_S"] / 60))
        raise DomainError(_("You are posting too fast. Please wait %(n)d minutes and try "
                            "again.", n=minutes), status=429)

    def record() -> None:
        for limiter, key in keys:
            limiter.record(key)

    return record


def flags_to_hide() -> int:
    return int(current_app.config["SESSION_FLAGS_TO_HIDE"])


def parse_sort(value: str | None) -> str:
    sort = value or "support"
    if sort not in comments.SORTS:
        raise DomainError(_("Sort by one of: %(names)s.", names=", ".join(comments.SORTS)))
    return sort


def _whole(value: str | None, *, required: bool = False, what: str = "") -> int | None:
    if value in (None, "") and not required:
        return None
    number = whole_number((value or "").strip())
    if number is None:
        raise DomainError(_("%(what)s must be a whole number.", what=what or _("The number")))
    return number


def _ids(values: list[str]) -> tuple[int, ...]:
    return tuple(n for n in (whole_number(v) for v in values) if n)


def _local_start(text: str | None) -> dt.datetime:
    """A start time typed in the page's time zone (a datetime-local field), in UTC."""
    try:
        naive = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise DomainError(_("The start time must look like 2026-12-05 19:00.")) from None
    if naive.tzinfo is not None:
        return naive.astimezone(dt.UTC)
    return to_utc(naive).replace(tzinfo=dt.UTC)


def _back_to(session_id: int, anchor: str | None = None) -> str:
    return url_for("sessions.session_page", session_id=session_id, _anchor=anchor)


# --- The district's sessions ----------------------------------------------------------------

@bp.get("/sessions")
def district_sessions():
    found = sessions.list_sessions(db_session())
    return render_template("sessions/list.html", sessions=found, statuses=list(SessionStatus))


@dataclass(frozen=True)
class CommunityBlock:
    """What the community page shows of its sessions and ratings."""

    sessions: list
    satisfaction: ratings.Satisfaction | None
    can_create: bool
    can_manage_residents: bool


@bp.app_template_global("session_block")
def session_block(community) -> CommunityBlock:
    """For ``templates/sessions/_community.html``, which the community page includes: the
    block needs no change to that page's view."""
    db, user = db_session(), current_user()
    return CommunityBlock(sessions.list_sessions(db, community_id=community.id),
                          ratings.satisfaction_of_community(db, community.id),
                          sessions.can_create_session(user, community),
                          sessions.can_manage_residents(db, user, community))


# --- Creating a session ---------------------------------------------------------------------

def _new_session_page(community_id: int, *, error: str | None = None, status: int = 200,
                      form=None):
    db = db_session()
    community = sessions.get_community(db, community_id)
    user = current_user()
    if not sessions.can_create_session(user, community):
        raise sessions.Forbidden(_("Only planners and the officials of this community's "
                                   "street may create its sessions."))
    return render_template("sessions/new.html", community=community, kinds=KINDS,
                           facilitators=sessions.facilitator_choices(db),
                           items=overview.get_community(db, community_id).items,
                           topic_rows=TOPIC_ROWS, error=error, form=form or {},
                           lang=locale_code()), status


@bp.get("/communities/<int:community_id>/sessions/new")
@login_required
def new_session(community_id: int):
    return _new_session_page(community_id)


@bp.post("/communities/<int:community_id>/sessions")
@login_required
def create_session(community_id: int):
    db = db_session()
    form = request.form
    try:
        topics = [sessions.TopicInput(form.get(f"topic-{i}-title", ""),
                                      form.get(f"topic-{i}-kind") or None,
                                      _ids(form.getlist(f"topic-{i}-items")))
                  for i in range(TOPIC_ROWS)
                  if form.get(f"topic-{i}-title", "").strip()]
        created = sessions.create_session(
            db, current_user(), community_id, title=form.get("title", ""),
            starts_at=_local_start(form.get("starts_at")), place=form.get("place", ""),
            facilitator_id=_whole(form.get("facilitator"), what=_("The facilitator")),
            topics=topics)
    except DomainError as error:
        db.rollback()
        if error.status in (401, 403, 404):
            raise
        return _new_session_page(community_id, error=str(error.message), status=error.status,
                                 form=form)
    db.commit()
    flash(_("The session is announced. Open it for comments when it starts."))
    return redirect(_back_to(created.id))


# --- A session's page -----------------------------------------------------------------------

def _pins_url(session_id: int) -> Callable[[int], str]:
    return lambda topic_id: url_for("api_sessions.session_pins", session_id=session_id,
                                    topic=topic_id)


def _session_map(db, session_, *, picker: bool) -> dict[str, str]:
    from shapely.geometry import shape

    community = session_.community
    footprint = overview.footprint_geojson(db, community)
    bounds = shape(footprint).bounds if footprint else pages.SHIJINGSHAN_BOUNDS
    m = sessions.build_session_map(
        footprint, community.name, bounds, [(t.id, t.title) for t in session_.topics],
        _pins_url(session_.id), pages._settings(),
        picker_url=url_for("static", filename="js/session-map.js") if picker else None)
    return pages._render_map(m)


def _session_page(session_id: int, *, error: str | None = None, error_at: str = "",
                  status: int = 200, form=None):
    db = db_session()
    session_ = sessions.get_session(db, session_id)
    user = current_user()
    sort = parse_sort(request.args.get("sort"))
    community = session_.community
    official = sessions.speaks_for_the_district(user, community)
    resident = sessions.is_resident_of(user, community.id)
    runs = sessions.can_run(user, session_)
    is_open = session_.status is SessionStatus.OPEN
    can_comment = is_open and (resident or official or runs)
    return render_template(
        "sessions/session.html", s=session_, community=community,
        threads=comments.threads(db, session_.id, sort=sort, viewer=user), sort=sort,
        kinds=BY_CODE, all_kinds=KINDS, items=community.items, statuses=SessionStatus,
        map=_session_map(db, session_, picker=can_comment),
        can_comment=can_comment,
        can_reply=can_comment or (official and session_.status is SessionStatus.CLOSED),
        can_support=is_open and resident, can_run=runs, is_official=official,
        is_moderator=moderation.is_moderator(user),
        max_depth=comments.MAX_DEPTH, max_length=comments.MAX_COMMENT_LENGTH,
        outcome_rows=OUTCOME_ROWS, error=error, error_at=error_at, form=form or {},
        display_crs=_display_crs(), topic_colour=sessions.topic_colour,
        lang=locale_code()), status


def _display_crs() -> str:
    """The CRS the map is drawn in, which a pin set on it comes in (GCJ-02 for AMap)."""
    basemap = current_app.config["BASEMAP"]
    return "wgs84" if basemap == "none" else BASEMAP_TILES[basemap][3]


@bp.get("/sessions/<int:session_id>")
def session_page(session_id: int):
    return _session_page(session_id)


def _rerender_or_raise(session_id: int, error: DomainError, where: str):
    """Show a refusal beside the form it concerns, keeping what was typed (a resident on a
    phone must not lose a long comment); sign-in and permission errors go to the error page."""
    db_session().rollback()
    if error.status in (401, 403, 404, 429):
        raise error
    return _session_page(session_id, error=str(error.message), error_at=where,
                         status=error.status, form=request.form)


@bp.post("/sessions/<int:session_id>/comments")
@login_required
def post_comment(session_id: int):
    user = current_user()
    record = posting_allowance(user)
    form = request.form
    db = db_session()
    parent_id = _whole(form.get("parent"), what=_("The comment answered"))
    where = f"reply-{parent_id}" if parent_id else "comment"
    try:
        lon = lat = None
        if form.get("lon") or form.get("lat"):
            lon, lat = comments.pin_from_display(form.get("lon"), form.get("lat"),
                                                 form.get("display", "wgs84"))
        posted = comments.post_comment(db, user, session_id, comments.CommentInput(
            topic_id=_whole(form.get("topic"), required=True, what=_("The topic")),
            text=form.get("text", ""), parent_id=parent_id, lon=lon, lat=lat,
            speaker_name=form.get("speaker") or None))
    except DomainError as error:
        return _rerender_or_raise(session_id, error, where)
    db.commit()
    record()
    flash(_("Your comment is posted."))
    return redirect(_back_to(session_id, f"comment-{posted.id}"))


@bp.post("/comments/<int:comment_id>/support")
@login_required
def support(comment_id: int):
    db = db_session()
    comment = comments.get_comment(db, comment_id)
    comments.support_comment(db, current_user(), comment_id)
    db.commit()
    flash(_("Thank you for your support."))
    return redirect(_back_to(comment.session_id, f"comment-{comment_id}"))


@bp.post("/comments/<int:comment_id>/flag")
@login_required
def flag(comment_id: int):
    user = current_user()
    record = posting_allowance(user)
    db = db_session()
    comment = comments.get_comment(db, comment_id)
    moderation.flag_comment(db, user, comment_id, request.form.get("reason", ""),
                            flags_to_hide=flags_to_hide())
    db.commit()
    record()
    flash(_("Thank you: a moderator will look at this comment."))
    return redirect(_back_to(comment.session_id, f"comment-{comment_id}"))


# --- Running a session ----------------------------------------------------------------------

@bp.post("/sessions/<int:session_id>/topics")
@login_required
def add_topic(session_id: int):
    db = db_session()
    form = request.form
    try:
        sessions.add_topic(db, current_user(), session_id, sessions.TopicInput(
            form.get("title", ""), form.get("kind") or None, _ids(form.getlist("items"))))
    except DomainError as error:
        return _rerender_or_raise(session_id, error, "topic")
    db.commit()
    flash(_("The topic is added."))
    return redirect(_back_to(session_id, "topics"))


@bp.post("/sessions/<int:session_id>/open")
@login_required
def open_session(session_id: int):
    db = db_session()
    try:
        sessions.open_session(db, current_user(), session_id)
    except DomainError as error:
        return _rerender_or_raise(session_id, error, "run")
    db.commit()
    flash(_("The session is open for comments."))
    return redirect(_back_to(session_id))


def _outcome(form, prefix: str) -> sessions.OutcomeInput | None:
    text = form.get(f"{prefix}text", "")
    kind, title = form.get(f"{prefix}new-kind", ""), form.get(f"{prefix}new-title", "")
    created = _ids(form.getlist(f"{prefix}created"))
    changed = _ids(form.getlist(f"{prefix}changed"))
    if not (text.strip() or created or changed or title.strip()):
        return None  # an empty row of the form
    return sessions.OutcomeInput(text, created, changed,
                                 ((kind, title),) if title.strip() or kind else ())


@bp.post("/sessions/<int:session_id>/close")
@login_required
def close_session(session_id: int):
    db = db_session()
    form = request.form
    try:
        outcomes = [o for o in (_outcome(form, f"outcome-{i}-") for i in range(OUTCOME_ROWS))
                    if o is not None]
        sessions.close_session(db, current_user(), session_id, summary=form.get("summary", ""),
                               attendees=_whole(form.get("attendees"),
                                                what=_("The number of attendees")),
                               outcomes=outcomes)
    except DomainError as error:
        return _rerender_or_raise(session_id, error, "close")
    db.commit()
    flash(_("The session is closed and its minutes are recorded."))
    return redirect(_back_to(session_id, "minutes"))


@bp.post("/sessions/<int:session_id>/outcomes")
@login_required
def add_outcome(session_id: int):
    db = db_session()
    try:
        outcome = _outcome(request.form, "")
        if outcome is None:
            raise DomainError(_("Describe the outcome."))
        sessions.add_outcome(db, current_user(), session_id, outcome)
    except DomainError as error:
        return _rerender_or_raise(session_id, error, "outcome")
    db.commit()
    flash(_("The outcome is added to the minutes."))
    return redirect(_back_to(session_id, "minutes"))


@bp.get("/sessions/<int:session_id>/comments.csv")
@login_required
def comments_csv(session_id: int):
    """Every comment of the session, hidden ones too, for writing the minutes."""
    db = db_session()
    session_ = sessions.get_session(db, session_id)
    user = current_user()
    if not (sessions.can_run(user, session_) or moderation.is_moderator(user)):
        raise sessions.Forbidden(_("Only those who run the session and moderators may "
                                   "download its comments."))
    topics = {t.id: t.title for t in session_.topics}
    rows = [_comment_row(node, topics) for roots in comments.threads(
        db, session_id, sort="time").values() for node in _walk(roots)]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("Comment"), _("Answers"), _("Topic"), _("Time"), _("Name"),
                     _("Typed in by"), _("Official"), _("Supports"), _("Shown"),
                     _("Longitude"), _("Latitude"), _("Text")])
    writer.writerows([[safe_text(value) for value in row] for row in rows])
    response = current_app.response_class(out.getvalue().encode("utf-8-sig"),
                                          mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=session-{session_id}-comments.csv")
    response.headers["Cache-Control"] = "no-store"
    return response


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node.replies)


def _comment_row(node: comments.CommentNode, topics: dict[int, str]) -> list:
    from geoalchemy2.shape import to_shape

    c: SessionComment = node.comment
    point = to_shape(c.location) if c.location is not None else None
    created = to_user_timezone(c.created_at)  # naive (SQLite) is taken as UTC
    return [c.id, c.parent_id or "", topics.get(c.topic_id, ""),
            created.strftime("%Y-%m-%d %H:%M"), c.speaker_name or c.author.display_name,
            c.author.display_name if c.speaker_name else "", "1" if c.is_official else "",
            node.supports, c.visibility.value, point.x if point else "",
            point.y if point else "", c.body]


# --- Moderation -----------------------------------------------------------------------------

@bp.get("/moderation")
@login_required
def moderation_queue():
    db = db_session()
    user = current_user()
    return render_template("sessions/moderation.html", entries=moderation.queue(db, user),
                           hidden=moderation.recently_hidden(db, user),
                           threshold=flags_to_hide())


@bp.post("/comments/<int:comment_id>/moderate")
@login_required
def moderate(comment_id: int):
    db = db_session()
    action = moderation.decide(db, current_user(), comment_id,
                               request.form.get("decision", ""),
                               request.form.get("reason", ""))
    comment = comments.get_comment(db, comment_id)
    db.commit()
    flash(_("Comment hidden.") if action.decision is ModerationDecision.HIDE
          else _("Comment restored."))
    return redirect(safe_next(request.form.get("next"),
                              _back_to(comment.session_id, f"comment-{comment_id}")))


# --- Ratings (效果共评) ----------------------------------------------------------------------

def _ratings_page(community_id: int, *, error: str | None = None, error_item: int | None = None,
                  status: int = 200, form=None):
    db = db_session()
    community = overview.get_community(db, community_id)
    user = current_user()
    finished = ratings.finished_items(db, community_id)
    return render_template(
        "sessions/ratings.html", community=community, items=finished, kinds=BY_CODE,
        by_item=ratings.satisfaction_by_item(db, community_id=community_id),
        overall=ratings.satisfaction_of_community(db, community_id),
        own=ratings.own_ratings(db, user, [i.id for i in finished]),
        notes={i.id: [r for r in ratings.ratings_of_item(db, i.id, limit=20) if r.comment]
               for i in finished},
        may_rate=sessions.is_resident_of(user, community_id),
        max_length=ratings.MAX_RATING_COMMENT_LENGTH, error=error, error_item=error_item,
        form=form or {}, lang=locale_code()), status


@bp.get("/communities/<int:community_id>/ratings")
def community_ratings(community_id: int):
    return _ratings_page(community_id)


@bp.post("/items/<int:item_id>/rating")
@login_required
def rate(item_id: int):
    user = current_user()
    record = posting_allowance(user)
    db = db_session()
    item = workflow.get_item(db, item_id)
    community_id = item.community_id
    try:
        ratings.rate_item(db, user, item_id, request.form.get("score", ""),
                          request.form.get("comment") or None)
    except DomainError as error:
        db.rollback()
        if error.status in (401, 403, 404):
            raise
        return _ratings_page(community_id, error=str(error.message), error_item=item_id,
                             status=error.status, form=request.form)
    db.commit()
    record()
    flash(_("Thank you for your rating."))
    return redirect(url_for("sessions.community_ratings", community_id=community_id,
                            _anchor=f"item-{item_id}"))


@bp.get("/satisfaction")
def satisfaction():
    db = db_session()
    return render_template("sessions/satisfaction.html", streets=ratings.street_rows(db),
                           communities=ratings.community_rows(db),
                           overall=ratings.satisfaction_of(db), lang=locale_code())


# --- Resident accounts ----------------------------------------------------------------------

def _residents_page(community_id: int, *, error: str | None = None, status: int = 200,
                    form=None, code: str | None = None, invite=None):
    db = db_session()
    community = sessions.get_community(db, community_id)
    user = current_user()
    if not sessions.can_manage_residents(db, user, community):
        raise sessions.Forbidden(_("Only those who run this community's sessions may open "
                                   "resident accounts for it."))
    response = current_app.make_response((render_template(
        "sessions/residents.html", community=community, error=error, form=form or {},
        code=code, invite=invite, invite_days=sessions.INVITE_DAYS,
        min_password=sessions.accounts.MIN_PASSWORD_LENGTH), status))
    response.headers["Cache-Control"] = "no-store"  # it may show an invite code
    return response


@bp.get("/communities/<int:community_id>/residents")
@login_required
def residents(community_id: int):
    return _residents_page(community_id)


@bp.post("/communities/<int:community_id>/residents")
@login_required
def create_resident(community_id: int):
    db = db_session()
    form = request.form
    try:
        created = sessions.create_resident(
            db, current_user(), community_id, username=form.get("username", "").strip(),
            password=form.get("password", ""), display_name=form.get("display_name", ""))
    except DomainError as error:
        db.rollback()
        if error.status in (401, 403, 404):
            raise
        return _residents_page(community_id, error=str(error.message), status=error.status,
                               form=form)
    db.commit()
    flash(_("The account %(name)s is ready. Give the resident the username and the password.",
            name=created.username))
    return redirect(url_for("sessions.residents", community_id=community_id))


@bp.post("/communities/<int:community_id>/invites")
@login_required
def create_invite(community_id: int):
    db = db_session()
    invite, code = sessions.create_invite(db, current_user(), community_id)
    db.commit()
    return _residents_page(community_id, code=code, invite=invite)


@bp.route("/join", methods=["GET", "POST"])
def join():
    if request.method == "GET":
        return render_template("sessions/join.html", form={},
                               min_password=sessions.accounts.MIN_PASSWORD_LENGTH)
    failures = current_app.extensions["gengxin.invite_failures"]
    address = request.remote_addr or ""
    if failures.is_exceeded(address):
        raise DomainError(_("Too many wrong invite codes. Please wait 15 minutes and try "
                            "again."), status=429)
    form = request.form
    db = db_session()
    try:
        if form.get("password", "") != form.get("password_again", ""):
            raise DomainError(_("The two passwords differ."))
        user = sessions.join_with_invite(
            db, form.get("code", ""), username=form.get("username", "").strip(),
            password=form.get("password", ""), display_name=form.get("display_name", ""))
    except DomainError as error:
        db.rollback()
        if isinstance(error, sessions.InvalidInvite):
            failures.record(address)
        return render_template("sessions/join.html", form=form, error=str(error.message),
                               min_password=sessions.accounts.MIN_PASSWORD_LENGTH), error.status
    db.commit()
    sign_in(user)  # signed in at once, as after the sign-in form
    flash(_("Welcome! Your account is ready."))
    return redirect(url_for("pages.community", community_id=user.community_id,
                            _anchor="sessions"))

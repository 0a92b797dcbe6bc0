"""Signing in and out, changing the password, and who the current user is.

The user comes from the signed session cookie (pages) or from an
``Authorization: Bearer`` token (the JSON API), never from a form field.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _

from renovation import accounts
from renovation.errors import DomainError
from renovation.models import Role, User
from renovation.ratelimit import SlidingWindow
from renovation.web import db_session

bp = Blueprint("auth", __name__)

#: Failed sign-ins allowed within 15 minutes per username, and per address (higher: a
#: street office's PCs often share one address).
FAILURES_PER_USERNAME, FAILURES_PER_ADDRESS, FAILURE_WINDOW_S = 10, 50, 15 * 60


def current_user() -> User | None:
    """The signed-in user of this request, loaded once."""
    if "user" not in g:
        g.user = _load_user()
    return g.user


def _load_user() -> User | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":  # the scheme name is case-insensitive (RFC 7235)
        return accounts.user_for_token(db_session(), credentials.strip())
    if request.path.startswith("/api/"):
        return None  # the API takes tokens only, so the cookie cannot be ridden cross-site
    user_id, epoch = session.get("uid"), session.get("epoch")
    if not isinstance(user_id, int):
        return None
    user = db_session().get(User, user_id)
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return user


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            if request.path.startswith("/api/"):
                raise DomainError(_("Sign in or send an API token."), status=401)
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def roles_required(*roles: Role):
    """Only users with one of `roles` get through; others get 403 with the reason."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user().role not in roles:
                raise DomainError(_("Your role may not do this."), status=403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` if it is a path inside this app, else `default` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


def sign_in(user: User) -> None:
    """Start a fresh session for `user` (a new cookie, so no earlier session is reused)."""
    session.clear()
    session.permanent = True
    session["uid"], session["epoch"] = user.id, user.session_epoch


def _limiters() -> list[tuple[SlidingWindow, str]]:
    by_user, by_address = current_app.extensions["gengxin.login_failures"]
    username = request.form.get("username", "").strip().lower()[:64]
    return [(by_user, username), (by_address, request.remote_addr or "")]


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url)
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:200]
    limiters = _limiters()
    if any(limiter.is_exceeded(key) for limiter, key in limiters):
        raise DomainError(_("Too many failed sign-ins. Please wait 15 minutes and try again."),
                          status=429)
    user = accounts.authenticate(db_session(), username, password)
    if user is None:
        for limiter, key in limiters:
            limiter.record(key)
        return render_template("auth/login.html", next=next_url, username=username,
                               error=_("Wrong username or password.")), 401
    sign_in(user)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("pages.district"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    if request.method == "GET":
        return render_template("auth/password.html")
    user = current_user()
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password_again", ""):
        return render_template("auth/password.html",
                               error=_("The two new passwords differ.")), 400
    try:
        accounts.change_password(db_session(), user, request.form.get("current_password", ""),
                                 new)
    except DomainError as error:
        return render_template("auth/password.html", error=str(error.message)), error.status
    db_session().commit()
    session["epoch"] = user.session_epoch
    flash(_("Your password has been changed. Other sessions are signed out."))
    return redirect(url_for("pages.district"))


#: Paths whose requests never read the cookie's signed-in user: the map's public JSON, asked
#: for at every move of a map, and the items' API, which takes bearer tokens only.
WITHOUT_SESSION = ("/api/map/", "/api/items/")


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, left unopened for :data:`WITHOUT_SESSION`: checking
    the cookie's signature there would be work for nothing, on the busiest requests."""

    def open_session(self, app, request):
        if request.path.startswith(WITHOUT_SESSION):
            return self.make_null_session(app)  # reads as empty; nothing is saved
        return super().open_session(app, request)


def init_app(app) -> None:
    app.session_interface = SessionInterface()
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", 12 * 3600)
    app.extensions["gengxin.login_failures"] = (
        SlidingWindow(FAILURES_PER_USERNAME, FAILURE_WINDOW_S),
        SlidingWindow(FAILURES_PER_ADDRESS, FAILURE_WINDOW_S))

    @app.context_processor
    def user_in_templates():
        return {"current_user": current_user()}

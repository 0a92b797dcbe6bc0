"""The web layer: blueprints that parse a request, call one service and render.

A request gets one database session, opened on first use and closed when the
request ends; a failed request rolls it back.
"""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session


def db_session() -> Session:
    """The session of the current request."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["gengxin.db"].session()
    return g.db_session


def discard_session() -> None:
    """Roll back and forget the request's session (used by the error handler)."""
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def close_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()

"""The web layer: blueprints that parse a request, call one service and render.

A request gets one database session, opened on first use and closed when the
request ends; a failed request rolls it back. Views that only read plain queries (the
map's) take a connection outside a transaction instead (:func:`db_reader`).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.orm import Session

_WHOLE_NUMBER = re.compile(r"[0-9]{1,10}")


def whole_number(text: str | None, *, maximum: int = 2**31 - 1) -> int | None:
    """`text` as an int if it is ASCII digits within 0..maximum, else None.

    ``str.isdigit`` would accept '²' or Arabic digits, which ``int`` then refuses.
    """
    if text is None or not _WHOLE_NUMBER.fullmatch(text):
        return None
    number = int(text)
    return number if number <= maximum else None


def db_session() -> Session:
    """The session of the current request."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["gengxin.db"].session()
    return g.db_session


def db_reader() -> sa.Connection:
    """The request's connection for views that only read, outside a transaction.

    A map view is one query, answered in a millisecond or two: an ORM session around it,
    or a BEGIN before it and a ROLLBACK after it, would cost a good part of that again.
    """
    if "db_reader" not in g:
        engine = current_app.extensions["gengxin.db"].engine
        g.db_reader = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return g.db_reader


def discard_session() -> None:
    """Roll back and forget the request's session (used by the error handler)."""
    session = g.pop("db_session", None)
    g.pop("user", None)  # loaded through that session: load again if needed
    if session is not None:
        session.rollback()
        session.close()
    _close_reader()


def close_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
    _close_reader()


def _close_reader() -> None:
    reader = g.pop("db_reader", None)
    if reader is not None:
        reader.close()

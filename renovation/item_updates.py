"""One change of one item in four SQL statements, without the ORM: the JSON API's write path.

Pages and spreadsheets change items through :func:`renovation.workflow.change_item`, whose
ORM unit of work also attaches photos. API clients send many small changes, and at a
national programme's rate the ORM's bookkeeping cost three times the CPU the database spent
(``bench/status_updates``). This path applies the same rules of :mod:`renovation.workflow`
(who may change what, the allowed moves, progress that fits the status, the version the
change is based on) and writes the same two rows, with SQLAlchemy Core:

1. the item with its community's name and street, and the token's user
   (:func:`author_and_item`);
2. ``UPDATE ... WHERE id = :id AND version = :version``, which bumps the version;
3. ``INSERT`` of the history row.

The UPDATE is conditional, as the ORM's version counter makes it: if another change
committed since the item was read, no row matches, nothing is written and
:class:`~renovation.workflow.Conflict` is raised. The caller commits.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from renovation import accounts, workflow
from renovation.errors import DomainError, NotFound
from renovation.models import ApiToken, Community, ItemChange, RenovationItem, Street, User, utcnow

_ITEM = RenovationItem.__table__
_CHANGE = ItemChange.__table__

#: The item's own columns and what an answer says of its place.
_ITEM_WITH_PLACE = (
    sa.select(*_ITEM.c, Community.name.label("community_name"),
              Community.street_id.label("street_id"), Street.code.label("street_code"))
    .join(Community, Community.id == _ITEM.c.community_id)
    .join(Street, Street.id == Community.street_id)
    .where(_ITEM.c.id == sa.bindparam("item_id")))

#: The same with the author: the live token's active user, outer-joined so that a
#: missing one still returns the item.
_AUTHOR_AND_ITEM = (
    _ITEM_WITH_PLACE.add_columns(User.id.label("author_id"), User.role.label("author_role"),
                                 User.street_id.label("author_street_id"))
    .outerjoin(ApiToken, sa.and_(ApiToken.token_hash == sa.bindparam("token_hash"),
                                 ApiToken.revoked_at.is_(None)))
    .outerjoin(User, sa.and_(User.id == ApiToken.user_id, User.is_active.is_(True))))

_UPDATE = (
    _ITEM.update()
    .where(_ITEM.c.id == sa.bindparam("item_id"), _ITEM.c.version == sa.bindparam("based_on"))
    .values(status=sa.bindparam("status"), progress_pct=sa.bindparam("progress_pct"),
            actual_start=sa.bindparam("actual_start"), actual_end=sa.bindparam("actual_end"),
            updated_at=sa.bindparam("updated_at"), version=_ITEM.c.version + 1)
    .returning(_ITEM.c.version))

_INSERT_CHANGE = _CHANGE.insert().returning(_CHANGE.c.id)


class Applied(NamedTuple):
    """What a change wrote: the item's new fields and the history row's id."""

    change_id: int
    fields: dict


def item_with_place(connection: sa.Connection, item_id: int) -> sa.Row:
    """The item's columns with ``community_name``, ``street_id`` and ``street_code``."""
    row = None
    if 0 < item_id < 2**31:
        row = connection.execute(_ITEM_WITH_PLACE, {"item_id": item_id}).first()
    if row is None:
        raise NotFound(_l("There is no item number %(id)s.", id=item_id))
    return row


def author_and_item(connection: sa.Connection, token: str, item_id: int
                    ) -> tuple[accounts.TokenUser, sa.Row]:
    """The token's user and the item (as :func:`item_with_place` reads it), in one query.

    Raises 401 if the token is not live, before 404 if there is no such item.
    """
    digest = accounts.token_digest(token)
    row = None
    if digest is not None and 0 < item_id < 2**31:
        row = connection.execute(_AUTHOR_AND_ITEM,
                                 {"token_hash": digest, "item_id": item_id}).first()
    if row is None or row.author_id is None:
        if row is None and digest is not None and accounts.token_user(connection, token):
            raise NotFound(_l("There is no item number %(id)s.", id=item_id))
        raise DomainError(_l("The API token is not valid or has been revoked."), status=401)
    return accounts.TokenUser(row.author_id, row.author_role, row.author_street_id, True), row


def apply_change(connection: sa.Connection, user, item: sa.Row,
                 request: workflow.ChangeRequest, *, source: str = "api",
                 today: dt.date | None = None) -> Applied:
    """Apply `request` to `item` (from :func:`author_and_item`) and record it.

    Raises
    ------
    Forbidden (403), Conflict (409, with ``item`` None: the caller reads the current
    state), DomainError (400)
    """
    workflow.require_edit_in(user, item.street_id)
    workflow.require_version(item, request)
    status_after, progress_after, day = workflow.checked_change(
        item, request, today or dt.date.today())
    fields = {"status": status_after, "progress_pct": progress_after,
              **workflow.dates_after(item, status_after, day), "updated_at": utcnow()}
    version = connection.execute(
        _UPDATE, {"item_id": item.id, "based_on": item.version, **fields}).scalar()
    if version is None:
        raise workflow.Conflict(_l("Someone changed this item at the same moment. Look at the "
                                   "current state and try again."), None)
    change_id = connection.execute(_INSERT_CHANGE, {
        "item_id": item.id, "user_id": user.id, "changed_at": fields["updated_at"],
        "effective_date": day, "status_before": item.status, "status_after": status_after,
        "progress_before": item.progress_pct, "progress_after": progress_after,
        "note": request.note.strip(), "version_after": version, "source": source}).scalar()
    return Applied(change_id, {**fields, "version": version})

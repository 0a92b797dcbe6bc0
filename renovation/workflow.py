"""The status workflow of renovation items, and the one way to change an item.

Every change goes through :func:`change_item`: it checks who may change the item
(decided from the database, never from the request), that the move is in
:data:`ALLOWED_MOVES`, that the progress fits the status, and that the change is
based on the item's current version; then it updates the item and writes exactly
one :class:`~renovation.models.ItemChange` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from renovation.errors import DomainError, NotFound
from renovation.models import (
    Community,
    ItemChange,
    RenovationItem,
    Role,
    Street,
    User,
    utcnow,
)
from renovation.status import PROGRESS_RANGE, Status

S = Status
#: Which status may follow which. Staying in a status (to update progress or add a
#: note) is always allowed. Accepted is final; a completed item may be reopened
#: when defects show up; a suspended item resumes where the work can pick up.
ALLOWED_MOVES: dict[Status, frozenset[Status]] = {
    S.PLANNED: frozenset({S.CONSULTING, S.SUSPENDED}),
    S.CONSULTING: frozenset({S.PLANNED, S.DESIGN, S.SUSPENDED}),
    S.DESIGN: frozenset({S.CONSULTING, S.CONSTRUCTION, S.SUSPENDED}),
    S.CONSTRUCTION: frozenset({S.DESIGN, S.COMPLETED, S.SUSPENDED}),
    S.COMPLETED: frozenset({S.CONSTRUCTION, S.ACCEPTED}),
    S.ACCEPTED: frozenset(),
    S.SUSPENDED: frozenset({S.PLANNED, S.CONSULTING, S.DESIGN, S.CONSTRUCTION}),
}
MAX_NOTE_LENGTH = 2000
SOURCES = ("web", "api", "spreadsheet")


class Conflict(DomainError):
    """The change was based on an old version of the item; `item` is the current state."""

    status = 409

    def __init__(self, message, item: RenovationItem):
        super().__init__(message)
        self.item = item


class Forbidden(DomainError):
    status = 403


def is_move_allowed(before: Status, after: Status) -> bool:
    return before == after or after in ALLOWED_MOVES[before]


def next_statuses(status: Status) -> list[Status]:
    """The statuses an item in `status` may move to, in the normal order."""
    return [s for s in Status if s in ALLOWED_MOVES[status]]


def may_edit_street(user, street_id: int | None) -> bool:
    """Admins edit everything; an official only items of communities in their own street.

    `user` is a :class:`~renovation.models.User` or anything with its ``role``,
    ``street_id`` and ``is_active`` (the API's :class:`~renovation.accounts.TokenUser`).
    """
    if user is None or not user.is_active:
        return False
    if user.role is Role.ADMIN:
        return True
    return user.role is Role.OFFICIAL and street_id == user.street_id


def can_edit(user: User | None, item: RenovationItem) -> bool:
    return may_edit_street(user, item.community.street_id)


def require_edit_in(user, street_id: int | None) -> None:
    """Raise 401 or 403, saying why, unless `user` may change items of the street."""
    if user is None:
        raise DomainError(_l("Please sign in first."), status=401)
    if not may_edit_street(user, street_id):
        if user.role is Role.OFFICIAL:
            raise Forbidden(_l("This item belongs to another street; you may change only "
                               "items in your own street."))
        raise Forbidden(_l("Your role may not change renovation items."))


def require_edit(user: User | None, item: RenovationItem) -> None:
    require_edit_in(user, item.community.street_id if user is not None else None)


@dataclass(frozen=True)
class ChangeRequest:
    """What someone asks to change; every field but `version` may be left out."""

    version: int
    status: Status | None = None
    progress: int | None = None
    note: str = ""
    effective_date: dt.date | None = None


def parse_status(value) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise DomainError(_l("Unknown status: %(value)s. Use one of: %(names)s.",
                             value=str(value)[:40], names=", ".join(Status))) from None


def parse_progress(value) -> int:
    shown = str(value)[:40]
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DomainError(_l("Progress must be a number from 0 to 100, not %(value)s.",
                             value=shown)) from None
    if not (0 <= number <= 100) or number != int(number):
        raise DomainError(_l("Progress must be a whole number from 0 to 100, not %(value)s.",
                             value=shown))
    return int(number)


def parse_version(value) -> int:
    if isinstance(value, bool) or value in (None, ""):
        raise DomainError(_l("Say which version of the item your change is based on."))
    try:
        number = int(str(value))
    except ValueError:
        raise DomainError(_l("The version must be a whole number.")) from None
    if not 0 < number < 2**31:
        raise DomainError(_l("The version must be a whole number."))
    return number


def get_item(session: Session, item_id: int, *, for_update: bool = False) -> RenovationItem:
    if not 0 < item_id < 2**31:
        raise NotFound(_l("There is no item number %(id)s.", id=item_id))
    item = session.get(RenovationItem, item_id, with_for_update=for_update)
    if item is None:
        raise NotFound(_l("There is no item number %(id)s.", id=item_id))
    return item


#: What deciding on a change and answering it need besides the item: its community's name
#: and street, the street's code. Loaded in the item's own query, without the footprint
#: and the street's boundary (large geometries no change looks at).
_WITH_PLACE = (joinedload(RenovationItem.community)
               .load_only(Community.name, Community.street_id)
               .joinedload(Community.street).load_only(Street.code),)


def get_item_to_change(session: Session, item_id: int, *, fresh: bool = False
                       ) -> RenovationItem:
    """The item with what a change looks at, in one query; `fresh` reads it again.

    The caller keeps the returned object while it works: the session holds loaded objects
    only weakly, and :func:`change_item` finds this one again without a query.
    """
    if not 0 < item_id < 2**31:
        raise NotFound(_l("There is no item number %(id)s.", id=item_id))
    item = session.get(RenovationItem, item_id, options=_WITH_PLACE, populate_existing=fresh)
    if item is None:
        raise NotFound(_l("There is no item number %(id)s.", id=item_id))
    return item


def checked_change(item, request: ChangeRequest, today: dt.date) -> tuple[Status, int, dt.date]:
    """The status, progress and date the change leads to, or a DomainError saying why not.

    `item` is the item as it is now: anything with its ``status`` and ``progress_pct``.
    """
    after = request.status or item.status
    if not is_move_allowed(item.status, after):
        allowed = ", ".join(str(s.lazy_label()) for s in next_statuses(item.status)) or "—"
        raise DomainError(_l("An item cannot move from %(before)s to %(after)s. "
                             "Allowed next: %(allowed)s.", before=item.status.lazy_label(),
                             after=after.lazy_label(), allowed=allowed))
    low, high = PROGRESS_RANGE[after]
    if request.progress is not None:
        progress = request.progress
    elif after == item.status:
        progress = item.progress_pct
    else:
        progress = min(max(item.progress_pct, low), high)
    if not low <= progress <= high:
        raise DomainError(_l("Progress %(progress)s%% does not fit the status %(status)s "
                             "(%(low)s–%(high)s%%).", progress=progress, status=after.lazy_label(),
                             low=low, high=high))
    if "\x00" in request.note:
        raise DomainError(_l("The request contains a NUL character."))
    if len(request.note) > MAX_NOTE_LENGTH:
        raise DomainError(_l("The note is too long (at most %(n)d characters).",
                             n=MAX_NOTE_LENGTH))
    day = request.effective_date or today
    if day > today + dt.timedelta(days=1) or day < dt.date(1990, 1, 1):
        raise DomainError(_l("The date %(day)s is not possible for a change.",
                             day=day.isoformat()))
    if after == item.status and progress == item.progress_pct and not request.note.strip():
        raise DomainError(_l("Nothing to change: give a new status, a new progress or a note."))
    return after, progress, day


def require_version(item, request: ChangeRequest) -> None:
    """Conflict (409) unless the change is based on the item's current version."""
    if request.version != item.version:
        raise Conflict(_l("Someone changed this item since you loaded it (your version "
                          "%(yours)s, now %(now)s). Look at the current state and try again.",
                          yours=request.version, now=item.version), item)


def dates_after(item, status_after: Status, day: dt.date) -> dict:
    """The item's actual start and end once it moves to `status_after` on `day`.

    Work starts the first time an item reaches construction; it ends when the item
    becomes done, and an end date goes when work is reopened.
    """
    actual_start, actual_end = item.actual_start, item.actual_end
    if status_after is Status.CONSTRUCTION and actual_start is None:
        actual_start = day
    if status_after.is_done and not item.status.is_done:
        actual_end = day
    if not status_after.is_done:
        actual_end = None
    return {"actual_start": actual_start, "actual_end": actual_end}


def check_change(session: Session, user: User | None, item: RenovationItem,
                 request: ChangeRequest, *, today: dt.date | None = None) -> None:
    """Raise the DomainError the change would meet, without changing anything."""
    require_edit(user, item)
    require_version(item, request)
    checked_change(item, request, today or dt.date.today())


def change_item(session: Session, user: User | None, item_id: int, request: ChangeRequest, *,
                source: str = "web", today: dt.date | None = None) -> ItemChange:
    """Apply `request` to the item and record it; the caller commits.

    Raises
    ------
    NotFound, Forbidden (403), Conflict (409), DomainError (400)
    """
    today = today or dt.date.today()
    item = get_item(session, item_id)
    check_change(session, user, item, request, today=today)
    status_before, progress_before = item.status, item.progress_pct
    status_after, progress_after, day = checked_change(item, request, today)
    for name, value in dates_after(item, status_after, day).items():
        if getattr(item, name) != value:  # only what changes: the UPDATE names no more
            setattr(item, name, value)
    item.status, item.progress_pct = status_after, progress_after
    # Always touch the row, so that a note-only change also bumps the version: every
    # accepted change then has its own version, and a replayed edit is stale.
    item.updated_at = utcnow()
    # One flush writes both: the UPDATE first (the history row refers to the item), and it
    # says "WHERE version = <the version we read>"; if another change committed in between,
    # no row matches, SQLAlchemy raises StaleDataError and the history row is not written.
    # SQLAlchemy's version counter adds one, hence version_after.
    change = ItemChange(item_id=item.id, user_id=user.id, effective_date=day,
                        status_before=status_before, status_after=status_after,
                        progress_before=progress_before, progress_after=progress_after,
                        note=request.note.strip(), version_after=item.version + 1,
                        source=source)
    session.add(change)
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        current = get_item_to_change(session, item_id, fresh=True)
        raise Conflict(_l("Someone changed this item at the same moment. Look at the current "
                          "state and try again."), current) from None
    return change


def item_street_id(session: Session, item: RenovationItem) -> int:
    return session.get(Community, item.community_id).street_id


def attach_photos(session: Session, change: ItemChange, prepared: list, folder) -> list:
    """Store the prepared photos and link them to `change`; return the files written.

    The caller deletes the returned files if the transaction then fails.
    """
    from renovation import photos
    from renovation.models import ChangePhoto

    written = []
    try:
        for photo in prepared:
            name = photos.write(folder, photo)
            written.append(folder / name)
            session.add(ChangePhoto(change=change, stored_name=name, content_type="image/jpeg",
                                    size_bytes=photo.size_bytes, width=photo.width,
                                    height=photo.height))
        session.flush()
    except Exception:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def history_of(session: Session, item_id: int) -> list[ItemChange]:
    """The item's changes, newest first, with their authors and photos."""
    import sqlalchemy as sa
    from sqlalchemy.orm import selectinload

    return list(session.scalars(
        sa.select(ItemChange).where(ItemChange.item_id == item_id)
        .options(selectinload(ItemChange.user), selectinload(ItemChange.photos))
        .order_by(ItemChange.id.desc())))

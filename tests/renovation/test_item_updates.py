"""The API's Core write path (renovation.item_updates) against the ORM's change_item.

Both must decide and write exactly alike: the same refusals, the same item afterwards and
the same history row, for every pair of statuses and for items with and without dates.
"""

import datetime as dt

import pytest
import sqlalchemy as sa

from factories import make_community, make_item
from renovation import accounts, item_updates, workflow
from renovation.errors import DomainError
from renovation.models import ItemChange, RenovationItem, Role, User
from renovation.status import PROGRESS_RANGE, Status
from renovation.workflow import ChangeRequest

TODAY = dt.date(2026, 6, 1)
ITEM_FIELDS = ("status", "progress_pct", "actual_start", "actual_end", "version")
CHANGE_FIELDS = ("user_id", "effective_date", "status_before", "status_after",
                 "progress_before", "progress_after", "note", "version_after")


def _user(session, username) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


def _state(session, item_id) -> tuple:
    session.expire_all()
    item = session.get(RenovationItem, item_id)
    change = session.scalar(sa.select(ItemChange).where(ItemChange.item_id == item_id)
                            .order_by(ItemChange.id.desc()).limit(1))
    return (tuple(getattr(item, f) for f in ITEM_FIELDS),
            tuple(getattr(change, f) for f in CHANGE_FIELDS) if change else None)


def _outcome(change, *args, **kwargs) -> str:
    """'ok', or the refusal's type and message."""
    try:
        change(*args, **kwargs)
    except DomainError as error:
        return f"{type(error).__name__}: {error}"
    return "ok"


def _twins(session, community, **fields) -> tuple[int, int]:
    return tuple(make_item(session, community, **fields).id for _ in range(2))


def _core_change(session, token, item_id, request):
    user, item = item_updates.author_and_item(session.connection(), token, item_id)
    item_updates.apply_change(session.connection(), user, item, request, source="api",
                              today=TODAY)


CASES = [
    # (status before, progress before, actual start, actual end)
    *((status, PROGRESS_RANGE[status][0], None, None) for status in Status),
    (Status.CONSTRUCTION, 60, dt.date(2025, 3, 1), None),
    (Status.COMPLETED, 100, dt.date(2025, 3, 1), dt.date(2026, 1, 5)),
    (Status.SUSPENDED, 30, dt.date(2025, 3, 1), None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].value}-{c[1]}-{bool(c[2])}")
def test_the_core_path_decides_and_writes_as_the_orm_does(session, case):
    status, progress, started, ended = case
    official = _user(session, "official-laoshan")
    token = accounts.issue_token(session, official, "test")
    community = make_community(session, official.street)
    requests = [ChangeRequest(version=1, status=after, note=" 核对 ", effective_date=TODAY)
                for after in Status]
    requests += [ChangeRequest(version=1, progress=progress), ChangeRequest(version=1),
                 ChangeRequest(version=1, progress=min(progress + 5, 100), note="进度"),
                 ChangeRequest(version=2, note="旧版本"),
                 ChangeRequest(version=1, note="x", effective_date=TODAY + dt.timedelta(9))]
    compared = 0
    for request in requests:
        orm_id, core_id = _twins(session, community, status=status, progress_pct=progress,
                                 actual_start=started, actual_end=ended)
        session.commit()
        orm = _outcome(workflow.change_item, session, official, orm_id, request,
                       source="api", today=TODAY)
        session.commit()
        assert _outcome(_core_change, session, token, core_id, request) == orm, request
        session.commit()
        assert _state(session, core_id) == _state(session, orm_id), request
        compared += orm == "ok"
    assert compared >= 2  # some changes were accepted, not only refused


def test_another_streets_official_is_refused_before_anything_is_written(session):
    official = _user(session, "official-laoshan")
    other = session.scalar(sa.select(User).where(User.role == Role.OFFICIAL,
                                                 User.street_id != official.street_id))
    token = accounts.issue_token(session, other, "test")
    item = make_item(session, make_community(session, official.street))
    session.commit()
    user, row = item_updates.author_and_item(session.connection(), token, item.id)
    with pytest.raises(workflow.Forbidden):
        item_updates.apply_change(session.connection(), user, row,
                                  ChangeRequest(version=1, progress=5), today=TODAY)
    session.rollback()
    assert _state(session, item.id) == (((Status.PLANNED, 0, None, None, 1)), None)


@pytest.mark.parametrize("live_token", [True, False])
def test_a_bad_token_is_401_before_a_missing_item_is_404(session, live_token):
    official = _user(session, "official-laoshan")
    token = accounts.issue_token(session, official, "test") if live_token else "gx_nothing"
    with pytest.raises(DomainError) as refused:
        item_updates.author_and_item(session.connection(), token, 2**31 - 1)
    assert refused.value.status == (404 if live_token else 401)


def test_a_lost_race_writes_nothing_and_is_a_conflict(session):
    """The UPDATE names the version read: a change committed in between makes it match
    no row, and no history row is written."""
    official = _user(session, "official-laoshan")
    token = accounts.issue_token(session, official, "test")
    item = make_item(session, make_community(session, official.street),
                     status=Status.DESIGN, progress_pct=20)
    session.commit()
    user, row = item_updates.author_and_item(session.connection(), token, item.id)
    items = RenovationItem.__table__
    session.execute(items.update().where(items.c.id == item.id)
                    .values(version=items.c.version + 1))
    with pytest.raises(workflow.Conflict):
        item_updates.apply_change(session.connection(), user, row,
                                  ChangeRequest(version=1, progress=30), today=TODAY)
    session.commit()
    assert _state(session, item.id) == ((Status.DESIGN, 20, None, None, 2), None)

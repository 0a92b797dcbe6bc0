"""The status workflow: allowed moves, progress ranges, jurisdiction, versions, history."""

import datetime as dt

import pytest
import sqlalchemy as sa

from factories import make_community, make_item
from renovation import workflow
from renovation.errors import DomainError
from renovation.models import ItemChange, Role, User
from renovation.status import PROGRESS_RANGE, Status
from renovation.workflow import ALLOWED_MOVES, ChangeRequest, Conflict, Forbidden, change_item

TODAY = dt.date(2026, 6, 1)


def user(session, username) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


@pytest.fixture
def laoshan_item(session):
    """An item under construction in 老山街道, whose official is official-laoshan."""
    official = user(session, "official-laoshan")
    community = make_community(session, official.street)
    return make_item(session, community, status=Status.CONSTRUCTION, progress_pct=40)


def history_count(session, item) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(ItemChange)
                          .where(ItemChange.item_id == item.id))


def test_the_move_table_is_closed_and_accepted_is_final():
    assert set(ALLOWED_MOVES) == set(Status)
    assert ALLOWED_MOVES[Status.ACCEPTED] == frozenset()
    for before, afters in ALLOWED_MOVES.items():
        assert before not in afters
    # The normal course of a project is possible from start to end.
    course = [Status.PLANNED, Status.CONSULTING, Status.DESIGN, Status.CONSTRUCTION,
              Status.COMPLETED, Status.ACCEPTED]
    assert all(b in ALLOWED_MOVES[a] for a, b in zip(course, course[1:], strict=False))


@pytest.mark.parametrize("before", list(Status))
@pytest.mark.parametrize("after", list(Status))
def test_every_move_is_decided_by_the_table(session, before, after):
    official = user(session, "official-laoshan")
    community = make_community(session, official.street)
    low, high = PROGRESS_RANGE[before]
    item = make_item(session, community, status=before, progress_pct=low)
    request = ChangeRequest(version=item.version, status=after, note="检查")
    if workflow.is_move_allowed(before, after):
        change = change_item(session, official, item.id, request, today=TODAY)
        assert (change.status_before, change.status_after) == (before, after)
        assert PROGRESS_RANGE[after][0] <= item.progress_pct <= PROGRESS_RANGE[after][1]
    else:
        with pytest.raises(DomainError, match="cannot move"):
            change_item(session, official, item.id, request, today=TODAY)
        assert item.status is before


def test_a_change_writes_one_history_row_with_before_and_after(session, laoshan_item):
    official = user(session, "official-laoshan")
    change = change_item(session, official, laoshan_item.id,
                         ChangeRequest(version=1, status=Status.COMPLETED, note="竣工",
                                       effective_date=TODAY), today=TODAY)
    assert history_count(session, laoshan_item) == 1
    assert (change.status_before, change.progress_before) == (Status.CONSTRUCTION, 40)
    assert (change.status_after, change.progress_after) == (Status.COMPLETED, 100)
    assert change.user_id == official.id and change.note == "竣工"
    assert change.version_after == laoshan_item.version == 2
    assert laoshan_item.actual_end == TODAY


def test_history_rows_cannot_be_rewritten_or_erased(database, laoshan_item, session):
    official = user(session, "official-laoshan")
    change = change_item(session, official, laoshan_item.id,
                         ChangeRequest(version=1, progress=60), today=TODAY)
    session.commit()
    for statement in (sa.update(ItemChange).where(ItemChange.id == change.id).values(note="x"),
                      sa.delete(ItemChange).where(ItemChange.id == change.id)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with database.engine.begin() as conn:
                conn.execute(statement)


def test_a_stale_version_is_a_conflict_with_the_current_state(session, laoshan_item):
    official = user(session, "official-laoshan")
    change_item(session, official, laoshan_item.id, ChangeRequest(version=1, progress=50),
                today=TODAY)
    with pytest.raises(Conflict) as conflict:
        change_item(session, official, laoshan_item.id, ChangeRequest(version=1, progress=70),
                    today=TODAY)
    assert conflict.value.status == 409
    assert conflict.value.item.progress_pct == 50 and conflict.value.item.version == 2
    assert history_count(session, laoshan_item) == 1


@pytest.mark.parametrize("username, allowed", [
    ("admin", True), ("official-laoshan", True), ("official-bajiao", False),
    ("planner", False), ("moderator", False), ("resident", False)])
def test_jurisdiction_comes_from_the_database(session, laoshan_item, username, allowed):
    who = user(session, username)
    request = ChangeRequest(version=1, progress=55)
    if allowed:
        change_item(session, who, laoshan_item.id, request, today=TODAY)
        assert laoshan_item.progress_pct == 55
    else:
        with pytest.raises(Forbidden):
            change_item(session, who, laoshan_item.id, request, today=TODAY)
        assert laoshan_item.progress_pct == 40 and history_count(session, laoshan_item) == 0


def test_anonymous_changes_are_refused(session, laoshan_item):
    with pytest.raises(DomainError) as error:
        change_item(session, None, laoshan_item.id, ChangeRequest(version=1, progress=55))
    assert error.value.status == 401


def test_an_inactive_official_may_not_change(session, laoshan_item):
    official = user(session, "official-laoshan")
    official.is_active = False
    with pytest.raises(Forbidden):
        change_item(session, official, laoshan_item.id, ChangeRequest(version=1, progress=55))


@pytest.mark.parametrize("request_args, message", [
    ({"progress": 100}, "does not fit"),
    ({"status": Status.COMPLETED, "progress": 80}, "does not fit"),
    ({"note": "x" * 2001}, "too long"),
    ({"note": "a\x00b", "progress": 50}, "NUL"),
    ({"effective_date": dt.date(2030, 1, 1), "progress": 50}, "not possible"),
    ({}, "Nothing to change"),
])
def test_bad_changes_are_refused_and_change_nothing(session, laoshan_item, request_args,
                                                    message):
    official = user(session, "official-laoshan")
    with pytest.raises(DomainError, match=message):
        change_item(session, official, laoshan_item.id, ChangeRequest(version=1, **request_args),
                    today=TODAY)
    assert (laoshan_item.status, laoshan_item.progress_pct, laoshan_item.version) == \
        (Status.CONSTRUCTION, 40, 1)


@pytest.mark.parametrize("value", ["150", "-1", "abc", "", None, True, "50.5", "nan", 10**400,
                                   "1e400"])
def test_progress_must_be_a_whole_percentage(value):
    with pytest.raises(DomainError, match="Progress must be") as error:
        workflow.parse_progress(value)
    assert str(value)[:10] in str(error.value)


@pytest.mark.parametrize("value", ["flying", "", "PLANNED ", None])
def test_unknown_statuses_are_named(value):
    with pytest.raises(DomainError, match="Unknown status"):
        workflow.parse_status(value)


def test_unknown_items_are_404(session):
    for item_id in (0, 10**12, 999_999):
        with pytest.raises(DomainError) as error:
            workflow.get_item(session, item_id)
        assert error.value.status == 404


def test_other_roles_exist_with_their_binding(session):
    roles = {u.role for u in session.scalars(sa.select(User))}
    assert roles == set(Role)
    assert all(u.street_id for u in session.scalars(sa.select(User).where(
        User.role == Role.OFFICIAL)))


def test_a_change_that_loses_the_race_writes_nothing(database, session, laoshan_item):
    """Both requests read version 1; the other one commits first. Ours must then fail at
    the UPDATE ("WHERE version = 1" matches nothing) and write no history row."""
    official = user(session, "official-laoshan")
    session.commit()
    item = workflow.get_item_to_change(session, laoshan_item.id)  # ours has read version 1
    with database.session() as other:
        change_item(other, user(other, "admin"), item.id,
                    ChangeRequest(version=1, progress=45, note="first"), today=TODAY)
        other.commit()

    with pytest.raises(Conflict, match="same moment") as conflict:
        change_item(session, official, item.id,
                    ChangeRequest(version=1, progress=70, note="second"), today=TODAY)
    current = conflict.value.item
    assert (current.version, current.progress_pct) == (2, 45)  # read again, as it is now
    assert current.community.street.code == official.street.code
    session.rollback()
    notes = session.scalars(sa.select(ItemChange.note).where(ItemChange.item_id == item.id))
    assert list(notes) == ["first"]


def test_the_item_to_change_comes_with_its_place_in_one_query(database, session,
                                                               laoshan_item):
    """What deciding on a change and answering it read, without the large geometries."""
    session.commit()
    item_id, street_code = laoshan_item.id, laoshan_item.community.street.code
    statements = []
    sa.event.listen(database.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: statements.append(statement))
    with database.session() as fresh:
        item = workflow.get_item_to_change(fresh, item_id)
        assert (item.community.name, item.community.street.code) == \
            (laoshan_item.community.name, street_code)
        workflow.require_edit(user(fresh, "official-laoshan"), item)
    reads = [s for s in statements if "renovation_items" in s]
    assert len(reads) == 1, statements
    assert "footprint" not in reads[0] and "boundary" not in reads[0]


def test_every_accepted_change_has_the_version_it_made(session, laoshan_item):
    official = user(session, "official-laoshan")
    versions = []
    for n, progress in enumerate((45, 50, 55), start=1):
        change = change_item(session, official, laoshan_item.id,
                             ChangeRequest(version=n, progress=progress), today=TODAY)
        versions.append((change.version_after, laoshan_item.version))
    assert versions == [(2, 2), (3, 3), (4, 4)]

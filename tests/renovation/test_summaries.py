"""The summary tables equal a fresh computation after every kind of write, on both backends:
ORM, raw SQL, bulk inserts, moves between communities and streets, deletes, and a bulk load
with the triggers suspended followed by a rebuild."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from factories import make_community, make_item, make_street
from renovation import summaries
from renovation.catalogue import KINDS
from renovation.models import (
    Community,
    CommunitySummary,
    KindSummary,
    RenovationItem,
    Street,
    StreetSummary,
)
from renovation.status import Status


def assert_exact(session):
    session.flush()
    assert summaries.check(session) == []


def test_the_kinds_weights_in_the_database_are_the_catalogues(session):
    weights = dict(session.execute(sa.text("SELECT kind, weight FROM item_kinds")).all())
    assert weights == {k.code: k.weight for k in KINDS}


def test_the_demo_data_is_summed_exactly(session):
    assert_exact(session)
    total = session.execute(sa.select(sa.func.sum(StreetSummary.items),
                                      sa.func.sum(StreetSummary.communities))).one()
    assert total == (session.scalar(sa.select(sa.func.count(RenovationItem.id))),
                     session.scalar(sa.select(sa.func.count(Community.id))))


def test_check_finds_a_wrong_figure(session):
    """So that the tests below can fail."""
    street_id = session.scalar(sa.select(Street.id).limit(1))
    session.execute(sa.update(StreetSummary).where(StreetSummary.street_id == street_id)
                    .values(done_items=StreetSummary.done_items + 1))
    session.execute(sa.text("DELETE FROM kind_summaries WHERE kind = 'lift_retrofit'"))
    found = summaries.check(session)
    assert any(f"street_summaries['{street_id}'].done_items" in d for d in found)
    assert any(d.startswith("kind_summaries['lift_retrofit', ") and ": missing" in d
               for d in found)


@pytest.fixture
def place(session):
    """Two streets, three communities (one a pilot, one without area), a few items."""
    north, south = make_street(session, 0), make_street(session, 1)
    a = make_community(session, north, building_area_m2=12000.5)
    b = make_community(session, north, is_pilot=True, building_area_m2=None)
    c = make_community(session, south, building_area_m2=8000.25)
    items = [make_item(session, a, kind="lift_retrofit", progress_pct=40,
                       status=Status.CONSTRUCTION),
             make_item(session, a, kind="stairwell", progress_pct=100, status=Status.COMPLETED,
                       actual_end=dt.date(2026, 3, 4)),
             make_item(session, b, kind="drainage", progress_pct=10, status=Status.DESIGN,
                       planned_end=dt.date(2025, 1, 1))]
    assert_exact(session)
    return {"north": north, "south": south, "a": a, "b": b, "c": c, "items": items}


def test_a_new_street_and_community_are_summed_with_nothing(session, place):
    summary = session.get(StreetSummary, place["south"].id)
    assert (summary.communities, summary.communities_in_programme, summary.items) == (1, 0, 0)
    assert summary.building_area_m2 == pytest.approx(8000.25)
    north = session.get(StreetSummary, place["north"].id)
    assert (north.communities, north.communities_in_programme, north.items,
            north.weight_sum, north.weighted_progress_sum, north.done_items) == (
        2, 2, 3, 5 + 1 + 4, 5 * 40 + 100 + 4 * 10, 1)
    assert (north.pilot_communities, north.pilot_items, north.communities_without_area) == (
        1, 1, 1)


@pytest.mark.parametrize("change", [
    "status", "progress", "kind", "planned_end", "actual_end", "to_community_elsewhere",
    "completed_and_back", "delete_item", "insert_item"])
def test_each_change_of_an_item_through_the_orm(session, place, change):
    lift, stairwell, drain = place["items"]
    if change == "status":
        lift.status, lift.progress_pct, lift.actual_end = (Status.COMPLETED, 100,
                                                           dt.date(2026, 5, 1))
    elif change == "progress":
        drain.progress_pct = 55
    elif change == "kind":
        drain.kind = "parking"
    elif change == "planned_end":
        drain.planned_end = dt.date(2024, 2, 2)
    elif change == "actual_end":
        stairwell.actual_end = dt.date(2025, 12, 31)
    elif change == "to_community_elsewhere":
        lift.community = place["c"]
    elif change == "completed_and_back":
        stairwell.status, stairwell.progress_pct = Status.CONSTRUCTION, 70
    elif change == "delete_item":
        session.delete(stairwell)
    elif change == "insert_item":
        make_item(session, place["c"], kind="unknown_kind", progress_pct=30,
                  status=Status.CONSULTING, planned_end=None)
    assert_exact(session)


@pytest.mark.parametrize("change", ["to_another_street", "becomes_pilot", "area", "delete",
                                    "insert"])
def test_each_change_of_a_community(session, place, change):
    a = place["a"]
    if change == "to_another_street":
        a.street = place["south"]
    elif change == "becomes_pilot":
        a.is_pilot = True
    elif change == "area":
        a.building_area_m2 = None
    elif change == "delete":
        for item in list(a.items):
            session.delete(item)
        session.flush()
        session.delete(a)
    elif change == "insert":
        fresh = make_community(session, place["south"], building_area_m2=500.0)
        make_item(session, fresh, kind="gas", status=Status.ACCEPTED, progress_pct=100,
                  actual_end=dt.date(2026, 1, 2))
    assert_exact(session)


def test_deleting_a_community_deletes_its_items_by_cascade(session, place):
    """The database's ON DELETE CASCADE, which the ORM never sees."""
    session.flush()
    session.execute(sa.delete(Community).where(Community.id == place["a"].id))
    assert_exact(session)
    assert session.get(CommunitySummary, place["a"].id) is None


def test_a_street_inserted_and_deleted(session, place):
    street = make_street(session, 5)
    assert_exact(session)
    session.delete(street)
    assert_exact(session)
    assert session.get(StreetSummary, street.id) is None


def test_raw_sql_and_bulk_writes(session, place):
    session.flush()
    session.execute(sa.text("UPDATE renovation_items SET status = 'accepted', progress_pct = 100, "
                            "actual_end = '2026-02-03'"))
    assert_exact(session)
    community_id = place["c"].id
    session.execute(sa.insert(RenovationItem), [
        {"community_id": community_id, "kind": kind, "title": kind, "status": status,
         "progress_pct": pct, "planned_end": dt.date(2026, 1, 1 + n), "version": 1,
         "updated_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}
        for n, (kind, status, pct) in enumerate([("road", Status.PLANNED, 0),
                                                 ("power", Status.SUSPENDED, 20),
                                                 ("road", Status.CONSTRUCTION, 60)])])
    assert_exact(session)
    session.execute(sa.text("UPDATE communities SET street_id = :s"),
                    {"s": place["south"].id})
    assert_exact(session)
    session.execute(sa.text("DELETE FROM renovation_items WHERE kind = 'road'"))
    assert_exact(session)


def test_a_change_through_the_workflow_keeps_the_summaries(session, place):
    """The real write path: a status change with its history row (the workflow)."""
    from renovation import workflow
    from renovation.models import Role, User

    admin = session.scalar(sa.select(User).where(User.role == Role.ADMIN).limit(1))
    lift = place["items"][0]
    session.commit()
    workflow.change_item(session, admin, lift.id, workflow.ChangeRequest(
        status=Status.COMPLETED, progress=100, note="done", version=lift.version),
        source="api")
    session.commit()
    assert_exact(session)
    summary = session.get(CommunitySummary, place["a"].id)
    assert (summary.items, summary.done_items) == (2, 2)


def test_a_bulk_load_with_the_triggers_suspended_then_rebuilt(session, place):
    session.flush()
    before = session.scalar(sa.select(sa.func.count()).select_from(KindSummary)
                            .where(KindSummary.kind == "road"))
    connection = session.connection()
    with summaries.suspended(connection):
        connection.execute(sa.text(
            "INSERT INTO renovation_items (community_id, kind, title, status, progress_pct, "
            "version, updated_at) SELECT id, 'road', 'paving', 'construction', 50, 1, "
            "CURRENT_TIMESTAMP FROM communities"))
        # Nothing is summed while suspended: the loader's rows are not counted yet.
        assert connection.scalar(sa.text(
            "SELECT COUNT(*) FROM kind_summaries WHERE kind = 'road'")) == before
        assert summaries.check(session) != []
    assert_exact(session)
    # The triggers are back: the next write is summed again.
    make_item(session, place["c"], kind="road", progress_pct=5)
    assert_exact(session)


def _deadlines(session, kind):
    return sorted(session.execute(sa.text(
        "SELECT is_pilot, planned_end, items FROM deadline_summaries WHERE kind = :k"),
        {"k": kind}).all(), key=repr)


def test_a_pilot_flag_changed_or_a_community_deleted_in_sql_moves_its_deadlines(session, place):
    """The overdue items are summed per pilot flag: the community's open items follow it."""
    b = place["b"].id
    make_item(session, place["b"], kind="pilot_test", status=Status.PLANNED,
              planned_end=dt.date(2025, 1, 1))
    make_item(session, place["b"], kind="pilot_test", status=Status.DESIGN,
              planned_end=dt.date(2025, 1, 1))
    make_item(session, place["b"], kind="pilot_test", status=Status.ACCEPTED, progress_pct=100,
              planned_end=dt.date(2025, 1, 1), actual_end=dt.date(2025, 1, 1))
    assert_exact(session)
    assert [(bool(p), n) for p, _day, n in _deadlines(session, "pilot_test")] == [(True, 2)]
    session.execute(sa.text("UPDATE communities SET is_pilot = :f WHERE id = :b"),
                    {"f": False, "b": b})
    assert_exact(session)
    assert [(bool(p), n) for p, _day, n in _deadlines(session, "pilot_test")] == [(False, 2)]
    session.execute(sa.text("UPDATE communities SET is_pilot = :t"), {"t": True})
    assert_exact(session)
    session.execute(sa.text("DELETE FROM communities WHERE id = :b"), {"b": b})
    assert_exact(session)
    assert _deadlines(session, "pilot_test") == []


@pytest.mark.parametrize("backend", ["postgis"])  # SQLite has one writer at a time anyway
def test_writers_of_the_same_kind_do_not_wait_on_one_row(database, backend, session, place):
    """The kinds' and months' sums are sharded: two open transactions completing items of
    the same kind in the same month (in different communities, streets, shards and months
    due) both get through."""
    first = place["items"][0]
    second = make_item(session, place["c"], kind=first.kind, status=Status.CONSTRUCTION,
                       planned_end=dt.date(2031, 3, 1))
    while second.id % summaries.SHARDS == first.id % summaries.SHARDS:
        second = make_item(session, place["c"], kind=first.kind, status=Status.CONSTRUCTION,
                           planned_end=dt.date(2031, 3, 1))
    session.commit()
    done = ("UPDATE renovation_items SET status = 'completed', progress_pct = 100, "
            "actual_end = :day WHERE id = :id")
    with database.engine.connect() as one, database.engine.connect() as two:
        one.execute(sa.text(done), {"id": first.id, "day": dt.date(2026, 5, 4)})
        two.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        two.execute(sa.text(done), {"id": second.id, "day": dt.date(2026, 5, 4)})
        one.commit()
        two.commit()
    with database.session() as fresh:
        assert summaries.check(fresh) == []


def _street_deadlines(session, street_id):
    return sorted(session.execute(sa.text(
        "SELECT month, items FROM street_deadline_months WHERE street_id = :s"),
        {"s": street_id}).all())


@pytest.mark.parametrize("path", ["orm", "sql"])
def test_a_community_moved_or_deleted_takes_its_open_items_between_streets(session, place,
                                                                          path):
    """A street's overdue items are summed per month: a community's open items follow it
    to another street and leave with it; done items and items without a deadline never
    count."""
    a, north, south = place["a"], place["north"].id, place["south"].id
    make_item(session, a, kind="road", status=Status.DESIGN, planned_end=dt.date(2024, 7, 9))
    make_item(session, a, kind="gas", status=Status.ACCEPTED, progress_pct=100,
              planned_end=dt.date(2024, 7, 1), actual_end=dt.date(2024, 7, 1))
    make_item(session, a, kind="power", status=Status.PLANNED, planned_end=None)
    assert_exact(session)
    assert ("2024-07", 1) in _street_deadlines(session, north)
    assert _street_deadlines(session, south) == []
    if path == "orm":
        a.street = place["south"]
    else:
        session.execute(sa.text("UPDATE communities SET street_id = :s WHERE id = :a"),
                        {"s": south, "a": a.id})
    assert_exact(session)
    assert ("2024-07", 1) in _street_deadlines(session, south)
    assert "2024-07" not in dict(_street_deadlines(session, north))
    session.execute(sa.text("DELETE FROM communities WHERE id = :a"), {"a": a.id})
    assert_exact(session)
    assert _street_deadlines(session, south) == []

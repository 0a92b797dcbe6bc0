"""Progress rolls up from items to community, street and district, weighted by kind."""

import datetime as dt

import pytest
import sqlalchemy as sa

from factories import make_community, make_item, make_street
from renovation.catalogue import BY_CODE
from renovation.models import Community, RenovationItem
from renovation.progress import (
    NOT_IN_PROGRAMME_COLOUR,
    PROGRESS_CLASSES,
    colour_for,
    progress_by,
    total_progress,
)
from renovation.status import Status

TODAY = dt.date(2026, 6, 1)


def weighted(pairs):
    """The documented formula, by hand: sum(weight x progress) / sum(weight)."""
    total = sum(BY_CODE[kind].weight for kind, _ in pairs)
    return round(sum(BY_CODE[kind].weight * p for kind, p in pairs) / total, 1)


@pytest.fixture
def two_streets(session):
    a, b = make_street(session, 0), make_street(session, 1)
    a1 = make_community(session, a)
    a2 = make_community(session, a)
    b1 = make_community(session, b)
    empty = make_community(session, b)
    make_item(session, a1, kind="lift_retrofit", status=Status.CONSTRUCTION, progress_pct=50)
    make_item(session, a1, kind="stairwell", status=Status.COMPLETED, progress_pct=100)
    make_item(session, a2, kind="drainage", status=Status.DESIGN, progress_pct=20,
              planned_end=TODAY - dt.timedelta(days=1))
    make_item(session, b1, kind="parking", status=Status.ACCEPTED, progress_pct=100,
              planned_end=TODAY - dt.timedelta(days=30))
    make_item(session, b1, kind="access_control", status=Status.PLANNED, progress_pct=0,
              planned_end=TODAY)
    session.flush()
    return {"a": a, "b": b, "a1": a1, "a2": a2, "b1": b1, "empty": empty}


def test_community_progress_is_the_weighted_mean_of_its_items(session, two_streets):
    by_community = progress_by(session, Community.id, today=TODAY)
    a1 = by_community[two_streets["a1"].id]
    assert a1.percent == weighted([("lift_retrofit", 50), ("stairwell", 100)])
    assert (a1.items, a1.done, a1.overdue) == (2, 1, 0)
    assert by_community[two_streets["a2"].id].overdue == 1


def test_a_community_without_items_is_not_in_the_programme(session, two_streets):
    by_community = progress_by(session, Community.id, today=TODAY)
    assert two_streets["empty"].id not in by_community
    progress = total_progress(session, today=TODAY,
                              where=[Community.id == two_streets["empty"].id])
    assert progress.percent is None and not progress.in_programme


def test_street_progress_weighs_items_not_communities(session, two_streets):
    by_street = progress_by(session, Community.street_id, today=TODAY)
    a = by_street[two_streets["a"].id]
    assert a.percent == weighted([("lift_retrofit", 50), ("stairwell", 100), ("drainage", 20)])
    # Not the mean of the two communities' figures:
    a1 = weighted([("lift_retrofit", 50), ("stairwell", 100)])
    assert a.percent != round((a1 + 20) / 2, 1)
    b = by_street[two_streets["b"].id]
    assert b.percent == weighted([("parking", 100), ("access_control", 0)])
    # An accepted item past its planned end is done, not overdue; one due today is not overdue.
    assert b.overdue == 0 and b.done == 1


def test_district_is_the_same_formula_over_everything(session, two_streets):
    ids = [two_streets[k].id for k in ("a", "b")]
    district = total_progress(session, today=TODAY, where=[Community.street_id.in_(ids)])
    assert district.percent == weighted([("lift_retrofit", 50), ("stairwell", 100),
                                         ("drainage", 20), ("parking", 100),
                                         ("access_control", 0)])
    assert (district.items, district.done, district.overdue) == (5, 2, 1)


def test_progress_follows_an_update_at_once(session, two_streets):
    item = session.scalar(sa.select(RenovationItem).where(
        RenovationItem.community_id == two_streets["a2"].id))
    item.status, item.progress_pct = Status.COMPLETED, 100
    session.flush()
    assert progress_by(session, Community.id, today=TODAY)[two_streets["a2"].id].percent == 100


def test_demo_district_figure_matches_a_python_recomputation(session):
    items = session.execute(sa.select(RenovationItem.kind, RenovationItem.progress_pct)).all()
    assert total_progress(session).percent == weighted(items)


@pytest.mark.parametrize("percent, expected", [
    (None, NOT_IN_PROGRAMME_COLOUR), (0, PROGRESS_CLASSES[0][1]), (19.9, PROGRESS_CLASSES[0][1]),
    (20, PROGRESS_CLASSES[1][1]), (79.9, PROGRESS_CLASSES[3][1]), (80, PROGRESS_CLASSES[4][1]),
    (100, PROGRESS_CLASSES[4][1])])
def test_colour_classes(percent, expected):
    assert colour_for(percent) == expected

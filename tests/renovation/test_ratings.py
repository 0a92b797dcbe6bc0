"""Residents rate finished work (效果共评): 1 to 5, once each, only finished items, only their
own community; satisfaction per item, community and street, on the pages."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from test_sessions import sign_in, user

from factories import make_community, make_item
from renovation import accounts, ratings
from renovation.errors import DomainError
from renovation.models import Community, ItemRating, RenovationItem, Street
from renovation.status import Status


@pytest.fixture
def items(session):
    """A community of 老山街道 with a completed, an accepted and a planned item, and two of its
    residents; and a resident of a neighbouring community in the same street."""
    street = session.scalar(sa.select(Street).where(Street.code == "110107002000"))
    community = make_community(session, street)
    neighbour = make_community(session, street)
    made = {status: make_item(session, community, status=status,
                              progress_pct=100 if status.is_done else 0)
            for status in (Status.COMPLETED, Status.ACCEPTED, Status.PLANNED)}
    people = [accounts.create_user(session, f"rater-{i}", "a long password", "resident",
                                   community_id=c.id)
              for i, c in enumerate([community, community, neighbour])]
    return made, people, community


def test_residents_rate_their_own_finished_items_once_from_1_to_5(session, items):
    made, (first, second, neighbour), _ = items
    done, accepted, planned = made[Status.COMPLETED], made[Status.ACCEPTED], made[Status.PLANNED]
    rating = ratings.rate_item(session, first, done.id, 5, "  电梯很好用 \r\n")
    assert (rating.score, rating.comment) == (5, "电梯很好用")
    ratings.rate_item(session, first, accepted.id, "4", "")
    ratings.rate_item(session, second, done.id, 2)
    with pytest.raises(DomainError, match="already rated") as refused:
        ratings.rate_item(session, first, done.id, 3)
    assert refused.value.status == 409
    with pytest.raises(DomainError, match="finished") as refused:
        ratings.rate_item(session, first, planned.id, 4)
    assert refused.value.status == 409
    for who in (neighbour, user(session, "official-laoshan"), user(session, "resident")):
        with pytest.raises(DomainError, match="Only residents of") as refused:
            ratings.rate_item(session, who, done.id, 4)
        assert refused.value.status == 403
    with pytest.raises(DomainError) as refused:
        ratings.rate_item(session, None, done.id, 4)
    assert refused.value.status == 401
    for score in (0, 6, 4.5, "５", True, None, "four"):
        with pytest.raises(DomainError, match="whole number from 1 to 5"):
            ratings.rate_item(session, second, accepted.id, score)
    with pytest.raises(DomainError, match="too long"):
        ratings.rate_item(session, second, accepted.id, 3, "长" * 2001)
    with pytest.raises(sa.exc.IntegrityError):  # the database holds the range too
        with session.begin_nested():
            session.add(ItemRating(item_id=accepted.id, user_id=second.id, score=9))
    assert ratings.satisfaction_by_item(session, community_id=done.community_id) == {
        done.id: (3.5, 2), accepted.id: (4.0, 1)}


def test_satisfaction_rolls_up_over_all_ratings_never_a_mean_of_means(session, items):
    made, (first, second, _), community = items
    before_street = ratings.satisfaction_by_street(session)
    before_community = ratings.satisfaction_by_community(session)
    ratings.rate_item(session, first, made[Status.COMPLETED].id, 5)
    ratings.rate_item(session, second, made[Status.COMPLETED].id, 4)
    ratings.rate_item(session, first, made[Status.ACCEPTED].id, 1)
    assert ratings.satisfaction_of_community(session, community.id) == (3.33, 3)
    assert ratings.satisfaction_by_community(session)[community.id] == (3.33, 3)
    assert set(before_community) == set(ratings.satisfaction_by_community(session)) - {
        community.id}
    by_street = ratings.satisfaction_by_street(session)
    scores = session.execute(sa.select(Community.street_id, ItemRating.score)
                             .join(RenovationItem, ItemRating.item)
                             .join(Community, RenovationItem.community)).all()
    for street_id, (mean, count) in by_street.items():
        own = [score for sid, score in scores if sid == street_id]
        assert (mean, count) == (round(sum(own) / len(own), 2), len(own))
    street_id = community.street_id
    assert by_street[street_id][1] == before_street.get(street_id, (0, 0))[1] + 3
    assert all(isinstance(k, int) and isinstance(m, float) and isinstance(c, int)
               for k, (m, c) in by_street.items())


def test_the_rating_pages(client, app_session):
    pilot = app_session.scalar(sa.select(Community).where(Community.is_district_pilot))
    finished = ratings.finished_items(app_session, pilot.id)
    rated = set(ratings.own_ratings(app_session, user(app_session, "resident"),
                                    [i.id for i in finished]))
    item = next(i for i in finished if i.id not in rated)
    page = client.get(f"/communities/{pilot.id}/ratings").get_data(as_text=True)
    assert [f'id="item-{i.id}"' in page for i in finished] == [True] * len(finished)
    assert "gx-rating-form" not in page  # nobody signed in
    token = sign_in(client, "resident")
    assert client.post(f"/items/{item.id}/rating", data={
        "csrf_token": token, "score": "7"}).status_code == 400
    response = client.post(f"/items/{item.id}/rating", data={
        "csrf_token": token, "score": "5", "comment": "<script>x</script>好"})
    assert response.status_code == 302
    page = client.get(f"/communities/{pilot.id}/ratings").get_data(as_text=True)
    assert "&lt;script&gt;x&lt;/script&gt;好" in page and "<script>x" not in page
    assert client.post(f"/items/{item.id}/rating", data={
        "csrf_token": token, "score": "4"}).status_code == 409
    district = client.get("/satisfaction").get_data(as_text=True)
    for street, figure in ratings.street_rows(app_session):
        assert street.name_zh in district
        if figure:
            assert f"{figure[0]:.1f}" in district
    community_page = client.get(f"/communities/{pilot.id}").get_data(as_text=True)
    mean, count = ratings.satisfaction_of_community(app_session, pilot.id)
    assert f"{mean:.1f}" in community_page

"""Residents rate finished work (效果共评): 1 to 5 with an optional comment, and the
satisfaction figures rolled up per item, community and street.

Only residents of the item's community rate it, once each, and only when the item is
completed or accepted. Satisfaction is the mean score and the number of ratings; the
means are computed in the database over all ratings below a level (never a mean of means).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from renovation import workflow
from renovation.errors import DomainError
from renovation.models import Community, ItemRating, RenovationItem, Street, User
from renovation.progress import DONE_STATUSES
from renovation.sessions import Forbidden, is_resident_of, plain_text, require_user

MIN_SCORE, MAX_SCORE = 1, 5
MAX_RATING_COMMENT_LENGTH = 2000

#: (mean score, number of ratings)
Satisfaction = tuple[float, int]


def can_rate(user: User | None, item: RenovationItem) -> bool:
    return is_resident_of(user, item.community_id) and item.status.is_done


def parse_score(value) -> int:
    """A whole score from 1 to 5, from a number or the text of a form field."""
    if isinstance(value, str) and value.strip() in {str(n) for n in range(MIN_SCORE,
                                                                          MAX_SCORE + 1)}:
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not \
            MIN_SCORE <= value <= MAX_SCORE:
        raise DomainError(_l("The score must be a whole number from %(low)d to %(high)d.",
                             low=MIN_SCORE, high=MAX_SCORE))
    return value


def rate_item(db: Session, user: User | None, item_id: int, score, comment: str | None = None
              ) -> ItemRating:
    """Record a resident's rating of a finished item; the caller commits.

    Raises
    ------
    DomainError (401, 403, 404, 409, 400)
    """
    require_user(user)
    item = workflow.get_item(db, item_id)
    if not is_resident_of(user, item.community_id):
        raise Forbidden(_l("Only residents of %(community)s may rate its items.",
                           community=item.community.name))
    if not item.status.is_done:
        raise DomainError(_l("Only finished items (completed or accepted) can be rated."),
                          status=409)
    rating = ItemRating(item_id=item.id, user_id=user.id, score=parse_score(score),
                        comment=plain_text(comment, _l("The comment"),
                                           MAX_RATING_COMMENT_LENGTH, required=False))
    try:
        with db.begin_nested():  # the unique key refuses a second rating, even a racing one
            db.add(rating)
    except sa.exc.IntegrityError:
        raise DomainError(_l("You have already rated this item."), status=409) from None
    return rating


def ratings_of_item(db: Session, item_id: int, *, limit: int = 500) -> list[ItemRating]:
    """The item's ratings, latest first."""
    return list(db.scalars(sa.select(ItemRating).where(ItemRating.item_id == item_id)
                           .order_by(ItemRating.id.desc()).limit(limit)))


def own_ratings(db: Session, user: User | None, item_ids) -> dict[int, ItemRating]:
    ids = list(item_ids)
    if user is None or not ids:
        return {}
    return {r.item_id: r for r in db.scalars(sa.select(ItemRating).where(
        ItemRating.user_id == user.id, ItemRating.item_id.in_(ids)))}


def _satisfaction(mean, count) -> Satisfaction:
    return round(float(mean), 2), int(count)


def _grouped(db: Session, key, *where) -> dict[int, Satisfaction]:
    query = (sa.select(key, sa.func.avg(ItemRating.score), sa.func.count(ItemRating.id))
             .select_from(ItemRating).join(RenovationItem, ItemRating.item)
             .join(Community, RenovationItem.community).where(*where).group_by(key))
    return {row[0]: _satisfaction(*row[1:]) for row in db.execute(query)}


def satisfaction_by_item(db: Session, *, community_id: int | None = None
                         ) -> dict[int, Satisfaction]:
    """{item id: (mean, count)} of the rated items (of one community if given)."""
    where = [] if community_id is None else [RenovationItem.community_id == community_id]
    return _grouped(db, RenovationItem.id, *where)


def satisfaction_by_community(db: Session, *, street_id: int | None = None
                              ) -> dict[int, Satisfaction]:
    """{community id: (mean, count)} of the communities with ratings (of one street if given)."""
    where = [] if street_id is None else [Community.street_id == street_id]
    return _grouped(db, Community.id, *where)


def satisfaction_by_street(session: Session) -> dict[int, Satisfaction]:
    """{street id: (mean, count)} of the streets with ratings, for the street comparison."""
    return _grouped(session, Community.street_id)


def satisfaction_of(db: Session, *where) -> Satisfaction | None:
    """(mean, count) of all ratings matching `where` (the district by default); None if none."""
    mean, count = db.execute(
        sa.select(sa.func.avg(ItemRating.score), sa.func.count(ItemRating.id))
        .select_from(ItemRating).join(RenovationItem, ItemRating.item)
        .join(Community, RenovationItem.community).where(*where)).one()
    return _satisfaction(mean, count) if count else None


def satisfaction_of_community(db: Session, community_id: int) -> Satisfaction | None:
    return satisfaction_of(db, Community.id == community_id)


def finished_items(db: Session, community_id: int) -> list[RenovationItem]:
    """The community's completed and accepted items: those its residents may rate."""
    return list(db.scalars(sa.select(RenovationItem).where(
        RenovationItem.community_id == community_id,
        RenovationItem.status.in_(DONE_STATUSES)).order_by(RenovationItem.id)))


def street_rows(db: Session) -> list[tuple[Street, Satisfaction | None]]:
    """Every street, in code order, with its satisfaction (None before any rating)."""
    figures = satisfaction_by_street(db)
    return [(street, figures.get(street.id))
            for street in db.scalars(sa.select(Street).order_by(Street.code))]


def community_rows(db: Session, *, street_id: int | None = None
                   ) -> list[tuple[Community, Satisfaction]]:
    """The communities with ratings, in code order, with their satisfaction."""
    figures = satisfaction_by_community(db, street_id=street_id)
    if not figures:
        return []
    communities = db.scalars(sa.select(Community).where(Community.id.in_(list(figures)))
                             .options(selectinload(Community.street))
                             .order_by(Community.code))
    return [(community, figures[community.id]) for community in communities]


#: A rating of 4 or 5 counts as satisfied: the satisfaction rate (满意率) the district
#: reports for the 12345 hotline is the share of satisfied answers, not a mean score.
SATISFIED_FROM = 4


def satisfaction_rates(session: Session, filters, level: str) -> dict:
    """The dashboard's satisfaction source: % of ratings of 4 or 5, by street or community.

    Keys are street ids (``level == "street"``) or community ids, and ``None`` for the
    total of everything `filters` selects; rows without ratings are left out.
    """
    key = Community.street_id if level == "street" else Community.id
    satisfied = sa.func.sum(sa.case((ItemRating.score >= SATISFIED_FROM, 1), else_=0))

    def counts(*columns):
        return (sa.select(*columns, satisfied, sa.func.count(ItemRating.id))
                .select_from(ItemRating).join(RenovationItem, ItemRating.item)
                .join(Community, RenovationItem.community).where(*filters.item_clauses()))

    rates = {group: round(100.0 * good / total, 1)
             for group, good, total in session.execute(counts(key).group_by(key)) if total}
    good, total = session.execute(counts()).one()
    if total:
        rates[None] = round(100.0 * good / total, 1)
    return rates

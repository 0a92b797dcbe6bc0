"""How far the renovation has got, rolled up from items to community, street and district.

Progress at every level is the share of the work done: the mean of the items'
progress (0-100 %) weighted by their kind's effort weight from the catalogue
(a lift retrofit 5, a sewer run 4, a stairwell clearing 1). The same formula runs
over all items below the level, never as a mean of means, so a street's figure
is not pulled about by communities with one or two small items. A community
with no items is not in the programme and has no progress (``None``).

The sums run in the database with one GROUP BY, on both backends. The summary tables
(:mod:`renovation.summaries`) keep the same two sums per community, street and kind, so
the unfiltered dashboard and the maps read them instead of the items.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from renovation.catalogue import KINDS
from renovation.models import Community, RenovationItem
from renovation.status import Status

#: Progress classes for maps and legends: (lower bound %, colour). ColorBrewer YlGn.
PROGRESS_CLASSES = ((0, "#ffffcc"), (20, "#c2e699"), (40, "#78c679"), (60, "#31a354"),
                    (80, "#006837"))
NOT_IN_PROGRAMME_COLOUR = "#d9d9d9"
DONE_STATUSES = (Status.COMPLETED, Status.ACCEPTED)


@dataclass(frozen=True)
class Progress:
    """Progress of a group of items."""

    percent: float | None  # weighted, 0-100; None when there are no items
    items: int
    done: int
    overdue: int

    @property
    def in_programme(self) -> bool:
        return self.items > 0


NO_ITEMS = Progress(None, 0, 0, 0)


def weight_of_kind():
    """SQL CASE giving each item its kind's weight (unknown kinds weigh 1)."""
    return sa.case({k.code: k.weight for k in KINDS}, value=RenovationItem.kind, else_=1)


def _aggregates(today: dt.date):
    weight = weight_of_kind()
    done = RenovationItem.status.in_(DONE_STATUSES)
    overdue = sa.and_(RenovationItem.planned_end < today, sa.not_(done))
    return (
        sa.func.sum(weight * RenovationItem.progress_pct),
        sa.func.sum(weight),
        sa.func.count(RenovationItem.id),
        sa.func.sum(sa.case((done, 1), else_=0)),
        sa.func.sum(sa.case((overdue, 1), else_=0)),
    )


def _progress(weighted, weights, items, done, overdue) -> Progress:
    if not items:
        return NO_ITEMS
    return Progress(round(float(weighted) / float(weights), 1), int(items), int(done or 0),
                    int(overdue or 0))


def progress_by(session: Session, key, *, today: dt.date | None = None,
                where=()) -> dict[object, Progress]:
    """Progress of the items grouped by `key` (a column reachable from items and communities).

    Parameters
    ----------
    key : column
        ``Community.id``, ``Community.street_id``, ``RenovationItem.kind`` ...
    today : date
        The day against which items are overdue (default: today).
    where : iterable of clauses
        Extra filters on items or communities.
    """
    today = today or dt.date.today()
    query = (sa.select(key, *_aggregates(today))
             .select_from(RenovationItem).join(Community, RenovationItem.community)
             .where(*where).group_by(key))
    return {row[0]: _progress(*row[1:]) for row in session.execute(query)}


def total_progress(session: Session, *, today: dt.date | None = None, where=()) -> Progress:
    """Progress of all items matching `where` (the whole district by default)."""
    today = today or dt.date.today()
    query = (sa.select(*_aggregates(today)).select_from(RenovationItem)
             .join(Community, RenovationItem.community).where(*where))
    return _progress(*session.execute(query).one())


def colour_for(percent: float | None) -> str:
    """The map colour of a progress figure; grey when not in the programme."""
    if percent is None:
        return NOT_IN_PROGRAMME_COLOUR
    colour = PROGRESS_CLASSES[0][1]
    for lower, class_colour in PROGRESS_CLASSES:
        if percent >= lower:
            colour = class_colour
    return colour


def legend_rows(not_in_programme: str) -> list[tuple[str, str]]:
    """(colour, text) rows for a progress legend, highest class first."""
    bounds = [lower for lower, _ in PROGRESS_CLASSES] + [100]
    rows = [(colour, f"{bounds[i]}–{bounds[i + 1]}%")
            for i, (_, colour) in enumerate(PROGRESS_CLASSES)]
    return rows[::-1] + [(NOT_IN_PROGRAMME_COLOUR, not_in_programme)]

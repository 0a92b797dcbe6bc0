"""The planners' dashboard: the figures of the programme, by street, kind, status and month.

Every figure is over what the :class:`~renovation.filters.Filters` select, and every
progress figure comes from :mod:`renovation.progress` (the weighted roll-up), so the
dashboard, the maps and the exports agree. Each chart's numbers are also a
:class:`Table`, which the page shows under the chart and offers as CSV.

The street comparison (对标检视找差距) ranks the streets by their share of work done;
its satisfaction column comes from a :data:`SatisfactionSource`, which answers
nothing until residents can rate finished work (效果共评). With thousands of streets the
page shows the top and the bottom ones, and the CSV every street.

The unfiltered district view reads the summary tables (:mod:`renovation.summaries`,
kept exact by triggers), so it costs about the same at 170,000 communities as at 100:
"overdue", which depends on the day, comes from the deadline summaries (whole months
before this one, then this month's days, split by pilot flag), the ranking's top and
bottom streets from an index on each street's exact percent, and each street's overdue
items from its deadline months before this one plus its items due this month before
today. Filtered views and a street's own page sum the items they select in the database,
in two passes over them (:class:`_Selection`) rather than one per figure.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import cached_property
from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from renovation.catalogue import BY_CODE, KINDS, ItemKind
from renovation.errors import DomainError, NotFound
from renovation.filters import Filters
from renovation.models import (
    Community,
    CommunitySummary,
    CompletionMonth,
    DeadlineMonth,
    DeadlineSummary,
    DistrictSummary,
    ItemChange,
    KindSummary,
    RenovationItem,
    Street,
    StreetDeadlineMonth,
    StreetSummary,
)
from renovation.overview import CommunityRow, DistrictOverview, StreetRow, get_street
from renovation.progress import (
    DONE_STATUSES,
    NO_ITEMS,
    Progress,
    progress_by,
    total_progress,
)
from renovation.status import Status

STREET, COMMUNITY = "street", "community"

#: Average satisfaction (0-100 %) by row key (a street or community id), and ``None``
#: for the total row; called with (session, filters, level), level "street" or
#: "community". A missing key shows "—".
SatisfactionSource = Callable[[Session, Filters, str], dict]


def no_ratings(session: Session, filters: Filters, level: str) -> dict:
    """The satisfaction source until residents can rate: no figures at all."""
    return {}


# --- The comparison table ---------------------------------------------------------------------

@dataclass(frozen=True)
class ComparisonRow:
    """One street (or one community of a street) in the comparison, or the total row."""

    key: int | None  # street or community id; None for the total
    code: str
    name_zh: str
    name_en: str
    communities: int  # communities selected
    communities_in_programme: int  # of which with selected items
    progress: Progress
    satisfaction: float | None = None
    rank: int | None = None  # 1 = furthest ahead; None for the total and rows without items

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


@dataclass(frozen=True)
class Comparison:
    level: str  # "street" or "community"
    rows: list[ComparisonRow]  # ranked; only the top and the bottom ones when `hidden`
    total: ComparisonRow
    hidden: int = 0  # rows ranked between the top and the bottom ones, left out
    ranked: int | None = None  # rows with a rank, shown or not

    @property
    def is_cut(self) -> bool:
        return self.hidden > 0

    @property
    def cut_at(self) -> int | None:
        """Index in `rows` where the hidden rows would be."""
        return SHOWN_AT_EACH_END if self.hidden else None


#: Streets shown at each end of the district's comparison when there are many; the CSV
#: holds them all. A planner looks at the leaders and the laggards, not 10,000 rows.
SHOWN_AT_EACH_END = 10


def rank_rows(rows: list[ComparisonRow]) -> list[ComparisonRow]:
    """Rows by % complete, highest first (ties share a rank, "1, 2, 2, 4"); no items last.

    >>> p = lambda pct: Progress(pct, 1, 0, 0)
    >>> rows = [ComparisonRow(i, c, c, c, 1, 1, p(v)) for i, (c, v) in
    ...         enumerate([("b", 50.0), ("a", 70.0), ("c", 50.0), ("d", None)])]
    >>> [(r.code, r.rank) for r in rank_rows(rows)]
    [('a', 1), ('b', 2), ('c', 2), ('d', None)]
    """
    rated = sorted((r for r in rows if r.progress.percent is not None),
                   key=lambda r: (-r.progress.percent, r.code))
    ranked, previous, rank = [], None, 0
    for position, row in enumerate(rated, start=1):
        if row.progress.percent != previous:
            rank, previous = position, row.progress.percent
        ranked.append(_with(row, rank=rank))
    unrated = sorted((r for r in rows if r.progress.percent is None), key=lambda r: r.code)
    return ranked + [_with(r, rank=None) for r in unrated]


def _with(row: ComparisonRow, **changes) -> ComparisonRow:
    return replace(row, **changes)


def _community_counts(session: Session, key, filters: Filters, today: dt.date) -> dict:
    """{key: (communities selected, of which with selected items, building area m²)}."""
    in_programme = filters.has_matching_items(today)
    query = (sa.select(key, sa.func.count(Community.id),
                       sa.func.sum(sa.case((in_programme, 1), else_=0)),
                       sa.func.sum(Community.building_area_m2))
             .select_from(Community).where(*filters.community_clauses(today)).group_by(key))
    return {row[0]: (int(row[1]), int(row[2] or 0), float(row[3] or 0.0))
            for row in session.execute(query)}


def street_rows(session: Session, filters: Filters, *, today: dt.date | None = None,
                satisfaction: SatisfactionSource = no_ratings) -> list[ComparisonRow]:
    """Every street (or the filtered one) with the figures of what the filters select."""
    today = today or dt.date.today()
    progress = progress_by(session, Community.street_id, today=today,
                           where=filters.item_clauses(today))
    counts = _community_counts(session, Community.street_id, filters, today)
    rated = satisfaction(session, filters, STREET)
    query = sa.select(Street).order_by(Street.code)
    if filters.street:
        query = query.where(Street.code == filters.street)
    return [ComparisonRow(s.id, s.code, s.name_zh, s.name_en,
                          *counts.get(s.id, (0, 0, 0.0))[:2],
                          progress.get(s.id, NO_ITEMS), rated.get(s.id))
            for s in session.scalars(query)]


def community_rows(session: Session, filters: Filters, *, today: dt.date | None = None,
                   satisfaction: SatisfactionSource = no_ratings) -> list[ComparisonRow]:
    """The communities the filters select (one street's, usually), each with its figures."""
    today = today or dt.date.today()
    progress = progress_by(session, Community.id, today=today, where=filters.item_clauses(today))
    rated = satisfaction(session, filters, COMMUNITY)
    in_programme = filters.has_matching_items(today)
    rows = session.execute(
        sa.select(Community.id, Community.code, Community.name, in_programme)
        .where(*filters.community_clauses(today)).order_by(Community.code)).all()
    return [ComparisonRow(cid, code, name, name, 1, int(bool(has_items)),
                          progress.get(cid, NO_ITEMS), rated.get(cid))
            for cid, code, name, has_items in rows]


def comparison(session: Session, filters: Filters, *, today: dt.date | None = None,
               satisfaction: SatisfactionSource = no_ratings, full: bool = False) -> Comparison:
    """The comparison table: streets, or a street's communities when a street is chosen.

    Unless `full`, a district with many streets keeps only the :data:`SHOWN_AT_EACH_END`
    first and last ranked streets (the others are counted in ``hidden``).
    """
    today = today or dt.date.today()
    if uses_summaries(filters):
        return _street_comparison_from_summaries(session, filters, today, satisfaction, full)
    level = COMMUNITY if filters.street else STREET
    rates = satisfaction(session, filters, level)  # asked once, for the rows and the total

    def rated(*_args) -> dict:
        return rates

    rows_of = community_rows if filters.street else street_rows
    rows = rows_of(session, filters, today=today, satisfaction=rated)
    total = ComparisonRow(
        None, "", "", "", sum(r.communities for r in rows),
        sum(r.communities_in_programme for r in rows),
        total_progress(session, today=today, where=filters.item_clauses(today)),
        rates.get(None))
    ranked = rank_rows(rows)
    return _cut(Comparison(level, ranked, total,
                           ranked=sum(1 for r in ranked if r.rank is not None)), full)


def _cut(c: Comparison, full: bool) -> Comparison:
    """The top and bottom ranked rows only, when there are many and not `full`."""
    n = SHOWN_AT_EACH_END
    if full or c.level != STREET or len(c.rows) <= 2 * n + 5:
        return c
    rated = [r for r in c.rows if r.rank is not None]
    shown = c.rows[:n] + [r for r in rated[-n:] if r not in c.rows[:n]]
    return replace(c, rows=shown, hidden=len(c.rows) - len(shown))


# --- The unfiltered district, from the summary tables ------------------------------------------

def uses_summaries(filters: Filters) -> bool:
    """Whether the summary tables answer these filters: only the unfiltered district.

    They hold no split by kind, status, year built or due day; a street's own figures are
    a few hundred items, summed directly.
    """
    return filters.is_empty


def _not_done():
    return RenovationItem.status.not_in(DONE_STATUSES)


def _overdue_by_street(session: Session, today: dt.date, street_ids=None) -> dict:
    """{street id: items overdue on `today`}: the street's deadline months before this
    month (street_deadline_months), then its items due this month before today, read through
    the partial index on the open items' planned end (at most a month of deadlines)."""
    month_start = today.replace(day=1)
    m, cs = StreetDeadlineMonth, CommunitySummary
    months = (sa.select(m.street_id, sa.func.sum(m.items))
              .where(m.month < month_start.strftime("%Y-%m")).group_by(m.street_id))
    # Each item's street looked up by its community's key (a join would read every
    # community); the same condition as the partial index ix_renovation_items_open_by_end.
    street = (sa.select(cs.street_id).where(cs.community_id == RenovationItem.community_id)
              .scalar_subquery().label("street_id"))
    days = (sa.select(street, sa.func.count()).select_from(RenovationItem)
            .where(sa.text("renovation_items.status NOT IN ('completed', 'accepted')"),
                   RenovationItem.planned_end >= month_start, RenovationItem.planned_end < today)
            .group_by(street))
    if street_ids is not None:
        months = months.where(m.street_id.in_(street_ids))
        days = days.where(RenovationItem.community_id.in_(
            sa.select(cs.community_id).where(cs.street_id.in_(street_ids))))
    found: dict = {}
    for street_id, n in session.execute(sa.union_all(months, days)):
        found[street_id] = found.get(street_id, 0) + int(n)
    return found


def _percent(weighted, weights) -> float | None:
    return round(float(weighted) / float(weights), 1) if weights else None


@dataclass(frozen=True)
class _Totals:
    """The district's sums over street_summaries."""

    communities: int
    in_programme: int
    renovated: int
    without_area: int
    items: int
    done: int
    weights: int
    weighted: int
    area_m2: float
    programme_m2: float
    renovated_m2: float
    pilot_communities: int
    pilot_in_programme: int
    pilot_items: int
    pilot_done: int
    pilot_weights: int
    pilot_weighted: int
    streets: int
    streets_in_programme: int


class _District:
    """The unfiltered district's sums, each read once per page from the summary tables."""

    def __init__(self, session: Session, today: dt.date):
        self.session, self.today = session, today

    @cached_property
    def totals(self) -> _Totals:
        return _district_totals(self.session)

    @cached_property
    def kinds(self) -> list:
        """Each kind with items: its shards summed (rows with KindSummary's column names)."""
        k = KindSummary
        sums = [sa.func.sum(getattr(k, name)).label(name) for name in _KIND_COLUMNS]
        rows = self.session.execute(sa.select(k.kind, *sums).group_by(k.kind)
                                    .having(sa.func.sum(k.items) > 0))
        return [SimpleNamespace(kind=kind, **{n: int(v) for n, v in
                                              zip(_KIND_COLUMNS, values, strict=True)})
                for kind, *values in rows]

    @cached_property
    def _late(self) -> dict[tuple[str, bool], int]:
        """{(kind, is_pilot): items overdue today}: whole months before this one, then the
        days of this month before today (a few thousand rows, not one per item)."""
        month_start = self.today.replace(day=1)
        found: dict[tuple[str, bool], int] = {}
        d, m = DeadlineSummary, DeadlineMonth
        both = sa.union_all(  # one round trip
            sa.select(m.kind, m.is_pilot, sa.func.sum(m.items))
            .where(m.month < month_start.strftime("%Y-%m")).group_by(m.kind, m.is_pilot),
            sa.select(d.kind, d.is_pilot, sa.func.sum(d.items))
            .where(d.planned_end >= month_start, d.planned_end < self.today)
            .group_by(d.kind, d.is_pilot))
        for kind, is_pilot, n in self.session.execute(both):
            key = (kind, bool(is_pilot))
            found[key] = found.get(key, 0) + int(n)
        return found

    @property
    def late_by_kind(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for (kind, _pilot), n in self._late.items():
            found[kind] = found.get(kind, 0) + n
        return found

    @property
    def late(self) -> int:
        return sum(self._late.values())

    @property
    def pilot_late(self) -> int:
        return sum(n for (_kind, is_pilot), n in self._late.items() if is_pilot)


_KIND_COLUMNS = ("items", "weight_sum", "weighted_progress_sum", "done_items",
                 *(f"{s.value}_items" for s in Status))


def _district_totals(session: Session) -> _Totals:
    s = DistrictSummary
    columns = (s.communities, s.communities_in_programme, s.communities_renovated,
               s.communities_without_area, s.items, s.done_items, s.weight_sum,
               s.weighted_progress_sum, s.building_area_m2, s.programme_area_m2,
               s.renovated_area_m2, s.pilot_communities, s.pilot_communities_in_programme,
               s.pilot_items, s.pilot_done_items, s.pilot_weight_sum,
               s.pilot_weighted_progress_sum, s.streets, s.streets_in_programme)
    row = session.execute(sa.select(*(sa.func.coalesce(sa.func.sum(c), 0)
                                      for c in columns))).one()
    return _Totals(*[float(v) if isinstance(c.type, sa.Double) else int(v)
                     for c, v in zip(columns, row, strict=True)])


#: A street's share of work done as the database computes it (IEEE doubles, as Python
#: does), indexed.
_RATIO = StreetSummary.percent_complete
#: Wider than half a rounding step (0.05 percentage points): every street whose rounded
#: percent equals a given one lies within this of that percent's ratio.
_BAND = 0.06


def _ranked(rows) -> list[tuple[int, float, str, int]]:
    """[(rank, percent, code, street id)] of (street id, code, ratio) rows, by percent
    (rounded as Progress rounds it) then code; equal percents share a rank."""
    rated = sorted(((round(x, 1), code, sid) for sid, code, x in rows),
                   key=lambda r: (-r[0], r[1]))
    ranked, previous, rank = [], None, 0
    for position, (percent, code, sid) in enumerate(rated, start=1):
        if percent != previous:
            rank, previous = position, percent
        ranked.append((rank, percent, code, sid))
    return ranked


def _quick_ranking(session: Session, district: _District, include: int | None):
    """The top and bottom streets and their ranks through the ratio's index, reading a few
    dozen street rows rather than all of them; None when there are too few rated streets
    for the cut (the caller then ranks them all).

    Rounding to 0.1 makes ties the index does not see; so each end reads every street
    within two :data:`_BAND` of its n-th ratio, which holds all the streets sharing the
    n-th percent, and ranks those exactly.
    """
    n = SHOWN_AT_EACH_END
    s = StreetSummary
    n_streets, n_rated = district.totals.streets, district.totals.streets_in_programme
    if n_rated < 2 * n + 5:
        return None

    def edge(order):
        """The n-th ratio from one end (n rated streets at least: there is one)."""
        return (sa.select(_RATIO).where(_RATIO.is_not(None)).order_by(order)
                .offset(n - 1).limit(1).scalar_subquery())

    def near(where, order):
        return session.execute(sa.select(s.street_id, Street.code, _RATIO)
                               .join(Street, Street.id == s.street_id)
                               .where(where).order_by(order)).all()

    # The n-th street's percent is its ratio rounded, so within half a step of it; a
    # street with the same percent lies within a step of the ratio: two steps' margin.
    top = _ranked(near(_RATIO >= edge(_RATIO.desc()) - 2 * _BAND, _RATIO.desc()))[:n]
    lowest = near(_RATIO <= edge(_RATIO.asc()) + 2 * _BAND, _RATIO.asc())
    bottom = _ranked(lowest)[-n:]
    # A street's rank is 1 + the streets with a higher percent: all but those at or
    # below it, which are all among `lowest`.
    percents = sorted(round(x, 1) for _sid, _code, x in lowest)
    ranks = {sid: rank for rank, _p, _c, sid in top}
    for _rank, percent, _code, sid in bottom:
        at_or_below = sum(1 for p in percents if p <= percent)
        ranks[sid] = 1 + n_rated - at_or_below
    shown = [(p, code, sid) for _r, p, code, sid in top + bottom]
    if include is not None and include not in ranks:
        shown.append(_include(session, include, n_rated, ranks))
    return shown, ranks, n_streets, n_rated


def _include(session: Session, street_id: int, n_rated: int, ranks: dict) -> tuple:
    """(percent, code, id) of one more street, its rank put in `ranks`."""
    code, x = session.execute(sa.select(Street.code, _RATIO)
                              .join(StreetSummary, StreetSummary.street_id == Street.id)
                              .where(Street.id == street_id)).one()
    if x is None:
        return (None, code, street_id)
    percent = round(x, 1)
    above = session.scalar(sa.select(sa.func.count()).select_from(StreetSummary)
                           .where(_RATIO > percent + _BAND))
    band = session.scalars(sa.select(_RATIO).where(_RATIO > percent,
                                                   _RATIO <= percent + _BAND)).all()
    ranks[street_id] = 1 + above + sum(1 for y in band if round(y, 1) > percent)
    return (percent, code, street_id)


def _street_comparison_from_summaries(session: Session, filters: Filters, today: dt.date,
                                      satisfaction: SatisfactionSource, full: bool,
                                      district: _District | None = None,
                                      include: Collection[int] = ()) -> Comparison:
    """The streets ranked from street_summaries; details only for the streets shown.

    The database divides the sums in IEEE doubles, as Python does, so rounding its ratio
    here gives exactly the percent :mod:`renovation.progress` gives. The streets of
    `include` are shown too, wherever they rank (for their reports): one through the
    index, more by ranking every street, which costs one query however many they are.
    """
    district = district or _District(session, today)
    s = StreetSummary
    details = (s.street_id, Street.name_zh, Street.name_en, s.communities,
               s.communities_in_programme, s.items, s.done_items)
    include = set(include)
    quick = not full and len(include) <= 1
    found = _quick_ranking(session, district, next(iter(include), None)) if quick else None
    if found is not None:
        shown, ranks, n_streets, n_rated = found
        ids = [sid for _p, _c, sid in shown]
        about = {r[0]: r[1:] for r in session.execute(
            sa.select(*details).join(Street, Street.id == s.street_id)
            .where(s.street_id.in_(ids)))}
        late = _overdue_by_street(session, today, ids)
    else:
        # Every street in one read: its code and ratio to rank it, its figures to show it.
        found = session.execute(sa.select(Street.code, _RATIO, *details)
                                .join(Street, Street.id == s.street_id)).all()
        about = {r[2]: r[3:] for r in found}
        rated = _ranked([(sid, code, x) for code, x, sid, *_ in found if x is not None])
        ranks = {sid: rank for rank, _p, _c, sid in rated}
        rated = [(p, code, sid) for _rank, p, code, sid in rated]
        unrated = sorted((None, code, sid) for code, x, sid, *_ in found if x is None)
        ordered = rated + unrated
        n = SHOWN_AT_EACH_END
        if full or len(ordered) <= 2 * n + 5:
            shown = ordered
        else:
            shown = ordered[:n] + [r for r in rated[-n:] if r not in ordered[:n]]
            shown += [r for r in ordered if r[2] in include and r not in shown]
        n_streets, n_rated = len(ordered), len(rated)
        late = _overdue_by_street(session, today,
                                  None if len(shown) == n_streets else [r[2] for r in shown])
    rates = satisfaction(session, filters, STREET)
    rows = []
    for percent, code, sid in shown:
        zh, en, communities, in_programme, items, done = about[sid]
        progress = (Progress(percent, items, done, int(late.get(sid, 0))) if items
                    else NO_ITEMS)
        rows.append(ComparisonRow(sid, code, zh, en, communities, in_programme, progress,
                                  rates.get(sid), ranks.get(sid)))
    t = district.totals
    total = ComparisonRow(
        None, "", "", "", t.communities, t.in_programme,
        Progress(_percent(t.weighted, t.weights), t.items, t.done, district.late)
        if t.items else NO_ITEMS, rates.get(None))
    return Comparison(STREET, rows, total, hidden=n_streets - len(shown), ranked=n_rated)


# --- The other figures ------------------------------------------------------------------------

@dataclass(frozen=True)
class KindRow:
    code: str
    kind: ItemKind | None  # None for a kind the catalogue does not know
    progress: Progress

    def name(self, locale: str) -> str:
        return self.kind.name(locale) if self.kind else self.code


@dataclass(frozen=True)
class StatusRow:
    status: Status
    items: int


@dataclass(frozen=True)
class MonthRow:
    month: str  # "2024-05"
    completed: int
    cumulative: int


@dataclass(frozen=True)
class PilotRow:
    is_pilot: bool
    communities: int
    communities_in_programme: int
    progress: Progress


@dataclass(frozen=True)
class Area:
    """Building area (m²) of the selected communities."""

    total_m2: float  # all selected communities
    programme_m2: float  # those with selected items
    renovated_m2: float  # those whose selected items are all done
    communities_in_programme: int
    communities_renovated: int
    communities_without_area: int  # in the programme, with no building area recorded

    @property
    def renovated_share(self) -> float | None:
        if not self.programme_m2:
            return None
        return round(100.0 * self.renovated_m2 / self.programme_m2, 1)


def progress_by_kind(session: Session, filters: Filters, *,
                     today: dt.date | None = None) -> list[KindRow]:
    """Progress of each item kind that has selected items, in catalogue order."""
    today = today or dt.date.today()
    if uses_summaries(filters):
        return _kinds_from_summaries(_District(session, today))
    found = progress_by(session, RenovationItem.kind, today=today,
                        where=filters.item_clauses(today))
    return _kind_rows(found)


def _kinds_from_summaries(district: _District) -> list[KindRow]:
    late = district.late_by_kind
    return _kind_rows({k.kind: Progress(_percent(k.weighted_progress_sum, k.weight_sum), k.items,
                                        k.done_items, late.get(k.kind, 0))
                       for k in district.kinds})


def _kind_rows(found: dict) -> list[KindRow]:
    order = [k.code for k in KINDS] + sorted(set(found) - set(BY_CODE))
    return [KindRow(code, BY_CODE.get(code), found[code]) for code in order if code in found]


def items_by_status(session: Session, filters: Filters, *,
                    today: dt.date | None = None) -> list[StatusRow]:
    """How many selected items are in each status (every status, in workflow order)."""
    today = today or dt.date.today()
    if uses_summaries(filters):
        return _statuses_from_summaries(_District(session, today))
    counts = dict(session.execute(
        sa.select(RenovationItem.status, sa.func.count(RenovationItem.id))
        .join(Community, RenovationItem.community)
        .where(*filters.item_clauses(today)).group_by(RenovationItem.status)).all())
    return [StatusRow(s, int(counts.get(s, 0))) for s in Status]


def _statuses_from_summaries(district: _District) -> list[StatusRow]:
    return [StatusRow(s, sum(getattr(k, f"{s.value}_items") for k in district.kinds))
            for s in Status]


def completion_date():
    """SQL: the day a done item was done.

    Its actual end; where that is missing (e.g. imported items), the day of the last
    recorded change that moved it from not done to done.
    """
    from_history = (sa.select(sa.func.max(ItemChange.effective_date))
                    .where(ItemChange.item_id == RenovationItem.id,
                           ItemChange.status_after.in_(DONE_STATUSES),
                           ItemChange.status_before.not_in(DONE_STATUSES))
                    .correlate(RenovationItem).scalar_subquery())
    return sa.func.coalesce(RenovationItem.actual_end, from_history)


def _month_of(bind, day):
    if bind.dialect.name == "sqlite":
        return sa.func.strftime("%Y-%m", day)  # dates are stored as ISO text
    return sa.func.to_char(day, "YYYY-MM")


def completions_by_month(session: Session, filters: Filters, *,
                         today: dt.date | None = None) -> list[MonthRow]:
    """Selected items done per month, every month from the first to the last, and the total.

    Done items whose day is not known are left out.
    """
    today = today or dt.date.today()
    if uses_summaries(filters):
        counts = _months_from_summaries(session)
    else:
        month = _month_of(session.get_bind(), completion_date()).label("month")
        counts = dict(session.execute(
            sa.select(month, sa.func.count(RenovationItem.id))
            .join(Community, RenovationItem.community)
            .where(RenovationItem.status.in_(DONE_STATUSES), *filters.item_clauses(today))
            .group_by(month)).all())
    return _month_rows(counts)


def _month_rows(counts: dict) -> list[MonthRow]:
    counts.pop(None, None)
    if not counts:
        return []
    rows, cumulative = [], 0
    for name in _months(min(counts), max(counts)):
        completed = int(counts.get(name, 0))
        cumulative += completed
        rows.append(MonthRow(name, completed, cumulative))
    return rows


def _months_from_summaries(session: Session) -> dict:
    """{month: done items}: those with an actual end from the summaries, the few without
    one (imported) from their history, through a partial index."""
    # The same condition as the partial index ix_renovation_items_done_without_end.
    without_end = sa.text("renovation_items.actual_end IS NULL "
                          "AND renovation_items.status IN ('completed', 'accepted')")
    month = _month_of(session.get_bind(), completion_date()).label("month")
    counts: dict = {}
    for name, n in session.execute(sa.union_all(  # one round trip
            sa.select(CompletionMonth.month, sa.func.sum(CompletionMonth.items))
            .group_by(CompletionMonth.month).having(sa.func.sum(CompletionMonth.items) > 0),
            sa.select(month, sa.func.count(RenovationItem.id))
            .where(without_end).group_by(month))):
        counts[name] = counts.get(name, 0) + int(n)
    return counts


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    names = []
    while f"{year:04d}-{month:02d}" <= last:
        names.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return names


def pilots_and_the_rest(session: Session, filters: Filters, *,
                        today: dt.date | None = None) -> list[PilotRow]:
    """The pilot communities against all the others (each group only if selected)."""
    today = today or dt.date.today()
    if uses_summaries(filters):
        return _pilots_from_summaries(_District(session, today))
    progress = progress_by(session, Community.is_pilot, today=today,
                           where=filters.item_clauses(today))
    counts = _community_counts(session, Community.is_pilot, filters, today)
    return [PilotRow(is_pilot, *counts[is_pilot][:2], progress.get(is_pilot, NO_ITEMS))
            for is_pilot in (True, False) if is_pilot in counts]


def _pilots_from_summaries(district: _District) -> list[PilotRow]:
    t = district.totals
    pilot_late, late = district.pilot_late, district.late

    def progress(items, done, weights, weighted, overdue) -> Progress:
        return Progress(_percent(weighted, weights), items, done, overdue) if items else NO_ITEMS

    groups = [PilotRow(True, t.pilot_communities, t.pilot_in_programme,
                       progress(t.pilot_items, t.pilot_done, t.pilot_weights, t.pilot_weighted,
                                pilot_late)),
              PilotRow(False, t.communities - t.pilot_communities,
                       t.in_programme - t.pilot_in_programme,
                       progress(t.items - t.pilot_items, t.done - t.pilot_done,
                                t.weights - t.pilot_weights, t.weighted - t.pilot_weighted,
                                late - pilot_late))]
    return [g for g in groups if g.communities]


def building_area(session: Session, filters: Filters, *, today: dt.date | None = None) -> Area:
    """Building area renovated (communities whose selected items are all done) and in total."""
    today = today or dt.date.today()
    if uses_summaries(filters):
        return _area_from_summaries(_District(session, today))
    done = sa.func.sum(sa.case((RenovationItem.status.in_(DONE_STATUSES), 1), else_=0))
    per_community = (
        sa.select(RenovationItem.community_id.label("community_id"),
                  sa.func.count(RenovationItem.id).label("item_count"), done.label("done"))
        .join(Community, RenovationItem.community)
        .where(*filters.item_clauses(today))
        .group_by(RenovationItem.community_id).subquery())
    is_renovated = per_community.c.item_count == per_community.c.done
    area = Community.building_area_m2
    programme = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(area), 0.0),
                  sa.func.coalesce(sa.func.sum(sa.case((is_renovated, area), else_=0.0)), 0.0),
                  sa.func.count(Community.id),
                  sa.func.coalesce(sa.func.sum(sa.case((is_renovated, 1), else_=0)), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((area.is_(None), 1), else_=0)), 0))
        .join(per_community, per_community.c.community_id == Community.id)).one()
    total = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(area), 0.0))
                           .where(*filters.community_clauses(today)))
    return Area(float(total), float(programme[0]), float(programme[1]), int(programme[2]),
                int(programme[3]), int(programme[4]))


def _area_from_summaries(district: _District) -> Area:
    t = district.totals
    return Area(t.area_m2, t.programme_m2, t.renovated_m2, t.in_programme, t.renovated,
                t.without_area)


# --- The whole dashboard ----------------------------------------------------------------------

def _without_jit(session: Session) -> None:
    """PostgreSQL: no JIT compilation for the rest of this transaction. The dashboard's few
    aggregates look costly to the planner (correlated history look-ups it never runs, a
    partial index it cannot size), which would then spend a few hundred milliseconds
    compiling queries that run in a few."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL jit = off"))


@dataclass(frozen=True)
class Dashboard:
    filters: Filters
    today: dt.date
    street: Street | None  # the street chosen, if any
    comparison: Comparison
    kinds: list[KindRow]
    statuses: list[StatusRow]
    months: list[MonthRow]
    pilots: list[PilotRow]
    area: Area

    @property
    def progress(self) -> Progress:
        return self.comparison.total.progress


def build_dashboard(session: Session, filters: Filters, *, today: dt.date | None = None,
                    satisfaction: SatisfactionSource = no_ratings,
                    full_comparison: bool = False) -> Dashboard:
    """Every figure of the dashboard for what `filters` select.

    The comparison keeps only the first and last streets of a long list unless
    `full_comparison` (for its CSV).

    Raises
    ------
    NotFound
        When the filters name a street that does not exist.
    """
    today = today or dt.date.today()
    _without_jit(session)
    if uses_summaries(filters):
        district = _District(session, today)
        return Dashboard(
            filters=filters, today=today, street=None,
            comparison=_street_comparison_from_summaries(session, filters, today, satisfaction,
                                                         full_comparison, district),
            kinds=_kinds_from_summaries(district), statuses=_statuses_from_summaries(district),
            months=_month_rows(_months_from_summaries(session)),
            pilots=_pilots_from_summaries(district), area=_area_from_summaries(district))
    street = get_street(session, filters.street) if filters.street else None
    return _Selection(session, filters, today).dashboard(street, satisfaction, full_comparison)


# --- Filtered views: every figure from two passes over the selected items -----------------------

class _Selection:
    """The figures of what `filters` select, summed in two queries instead of one per figure.

    The first groups the selected items by community, then the communities by street and
    pilot flag (or keeps them, for one street's page): the comparison, the pilots, the
    building area and the totals all add up those rows. The second groups the selected
    items by kind, status and month of completion: the kinds, statuses and months. Each
    figure equals what the one-figure functions above compute (a test checks it).
    """

    def __init__(self, session: Session, filters: Filters, today: dt.date):
        self.session, self.filters, self.today = session, filters, today

    def _items(self, *columns):
        """SELECT `columns` FROM the selected items, joined to their communities' summaries
        (narrow rows) for the street and pilot filters, to the communities for the years."""
        f = self.filters
        query = sa.select(*columns).select_from(RenovationItem)
        cs = CommunitySummary
        if f.street or f.pilot_only:
            query = query.join(cs, cs.community_id == RenovationItem.community_id)
        years = self._built()
        if years is not None:
            query = query.where(RenovationItem.community_id.in_(years))
        return query.where(*self._community_clauses(), *f.item_own_clauses(self.today))

    def _community_clauses(self) -> list:
        """The street and pilot filters, as clauses on the communities' summaries."""
        f, cs = self.filters, CommunitySummary
        clauses = []
        if f.street:
            clauses.append(cs.street_id.in_(sa.select(Street.id).where(Street.code == f.street)))
        if f.pilot_only:
            clauses.append(cs.is_pilot.is_(True))
        return clauses

    def _built(self):
        """SELECT the ids of the communities built in the years asked (read from the index on
        year built, not the wide rows), or None without a year filter."""
        f = self.filters
        if f.built_from is None and f.built_to is None:
            return None
        years = sa.select(Community.id)
        if f.built_from is not None:
            years = years.where(Community.year_built >= f.built_from)
        if f.built_to is not None:
            years = years.where(Community.year_built <= f.built_to)
        return years

    def _sums(self):
        weight = _weight_literals()
        done = RenovationItem.status.in_(DONE_STATUSES)
        late = sa.and_(RenovationItem.planned_end < self.today, sa.not_(done))
        return (sa.func.count().label("item_count"),
                sa.func.sum(weight).label("weights"),
                sa.func.sum(weight * RenovationItem.progress_pct).label("weighted"),
                sa.func.sum(sa.case((done, 1), else_=0)).label("done"),
                sa.func.sum(sa.case((late, 1), else_=0)).label("late"))

    def _rows(self, query) -> list:
        """The rows of a query of plain columns, without the ORM's per-row work (thousands
        of streets)."""
        return self.session.connection().execute(query).all()

    def _groups(self, by_community: bool) -> list[tuple]:
        """[(key, is_pilot, sums in _Group's order)] of the selected communities, key the
        street id (or the community id), from their selected items' sums per community."""
        f, cs = self.filters, CommunitySummary
        pc = (self._items(RenovationItem.community_id.label("community_id"), *self._sums())
              .group_by(RenovationItem.community_id).subquery()).c
        area = cs.building_area_m2
        has = pc.item_count.is_not(None)
        renovated = sa.and_(has, pc.item_count == pc.done)
        key = cs.community_id if by_community else cs.street_id

        def whole(total):  # integers, not the arbitrary-precision numbers of SUM(BIGINT)
            return sa.cast(sa.func.coalesce(total, 0), sa.BigInteger)

        def metres(total):
            return sa.func.coalesce(total, 0.0)

        query = (sa.select(key, cs.is_pilot, sa.func.count(), sa.func.count(pc.item_count),
                           whole(sa.func.sum(pc.item_count)), whole(sa.func.sum(pc.weights)),
                           whole(sa.func.sum(pc.weighted)), whole(sa.func.sum(pc.done)),
                           whole(sa.func.sum(pc.late)), metres(sa.func.sum(area)),
                           metres(sa.func.sum(sa.case((has, area)))),
                           metres(sa.func.sum(sa.case((renovated, area)))),
                           whole(sa.func.sum(sa.case((renovated, 1), else_=0))),
                           whole(sa.func.sum(sa.case((sa.and_(has, area.is_(None)), 1),
                                                     else_=0))))
                 .select_from(cs)
                 .join(pc.community_id.table, pc.community_id == cs.community_id,
                       isouter=not f.selects_items))
        years = self._built()
        if years is not None:
            query = query.where(cs.community_id.in_(years))
        query = query.where(*self._community_clauses()).group_by(key, cs.is_pilot)
        return [(row[0], bool(row[1]), row[2:]) for row in self._rows(query)]

    def _by_kind_status_month(self) -> list:
        done = RenovationItem.status.in_(DONE_STATUSES)
        month = sa.case((done, _month_of(self.session.get_bind(), completion_date()))
                        ).label("month")
        query = (self._items(RenovationItem.kind, RenovationItem.status, month, *self._sums())
                 .group_by(RenovationItem.kind, RenovationItem.status, month))
        return self._rows(query)

    def dashboard(self, street: Street | None, satisfaction: SatisfactionSource,
                  full: bool) -> Dashboard:
        f, session = self.filters, self.session
        groups = self._groups(by_community=street is not None)
        level = COMMUNITY if street is not None else STREET
        rates = satisfaction(session, f, level)
        by_key: dict = {}  # key: its sums (a street's pilots and others added up)
        for key, _pilot, sums in groups:
            by_key[key] = tuple(map(operator.add, by_key[key], sums)) if key in by_key else sums
        everything = _Group(*_column_sums(sums for _k, _p, sums in groups))
        pilots = {flag: _Group(*_column_sums(sums for _k, p, sums in groups if p == flag))
                  for flag in (True, False)}
        total = ComparisonRow(None, "", "", "", everything.communities, everything.in_programme,
                              everything.progress, rates.get(None))
        if street is not None:
            names = session.execute(
                sa.select(Community.id, Community.code, Community.name)
                .where(Community.id.in_(list(by_key)) if by_key else sa.false())).all()
            rows = rank_rows([ComparisonRow(cid, code, name, name, 1, by_key[cid][1],
                                            _Group(*by_key[cid]).progress, rates.get(cid))
                              for cid, code, name in names])
            board_comparison = Comparison(level, rows, total,
                                          ranked=sum(1 for r in rows if r.rank is not None))
        else:
            board_comparison = self._street_comparison(by_key, total, rates, full)
        kinds, statuses, months = {}, dict.fromkeys(Status, 0), {}
        for kind, status, month, *sums in self._by_kind_status_month():
            kinds[kind] = _column_sums([kinds.get(kind, (0,) * 5), sums])
            statuses[Status(status)] += int(sums[0])
            if month is not None:
                months[month] = months.get(month, 0) + int(sums[0])
        return Dashboard(
            filters=f, today=self.today, street=street, comparison=board_comparison,
            kinds=_kind_rows({kind: _Group(0, 0, *sums).progress
                              for kind, sums in kinds.items()}),
            statuses=[StatusRow(s, n) for s, n in statuses.items()],
            months=_month_rows(months),
            pilots=[PilotRow(flag, pilots[flag].communities, pilots[flag].in_programme,
                             pilots[flag].progress)
                    for flag in (True, False) if pilots[flag].communities],
            area=everything.area)

    def _street_comparison(self, by_key: dict, total: ComparisonRow, rates: dict,
                           full: bool) -> Comparison:
        """Every street ranked (as :func:`rank_rows` ranks them), rows made only for the
        streets shown: the first and last ones unless `full`."""
        query = sa.select(Street.id, Street.code)
        if self.filters.street:
            query = query.where(Street.code == self.filters.street)
        codes = dict(self._rows(query))
        # by_key's sums: communities, in programme, items, weights, weighted, ... (_Group)
        rated = _ranked([(sid, codes[sid], sums[4] / sums[3]) for sid, sums in by_key.items()
                         if sums[2] and sid in codes])
        ranks = {sid: rank for rank, _p, _c, sid in rated}
        ordered = [sid for _r, _p, _c, sid in rated] + sorted(
            (sid for sid in codes if sid not in ranks), key=codes.get)
        n = SHOWN_AT_EACH_END
        shown = ordered
        if not full and len(ordered) > 2 * n + 5:
            shown = ordered[:n] + [sid for _r, _p, _c, sid in rated[-n:]
                                   if sid not in ordered[:n]]
        names = sa.select(Street.id, Street.name_zh, Street.name_en)
        if len(shown) < len(ordered):
            names = names.where(Street.id.in_(shown))
        about = {sid: (zh, en) for sid, zh, en in self.session.execute(names)}
        empty = _Group()
        rows = []
        for sid in shown:
            sums = _Group(*by_key[sid]) if sid in by_key else empty
            rows.append(ComparisonRow(sid, codes[sid], *about[sid], *sums.counts, sums.progress,
                                      rates.get(sid), ranks.get(sid)))
        return Comparison(STREET, rows, total, hidden=len(ordered) - len(shown),
                          ranked=len(rated))


def _weight_literals():
    """SQL: each item's kind's weight, as :func:`~renovation.progress.weight_of_kind`, with
    the catalogue's codes and weights written into the statement: 50 fewer parameters, so
    the driver keeps the statement's parsed form instead of splitting it on every request."""
    return sa.case(*((RenovationItem.kind == sa.literal_column(f"'{k.code}'"),
                      sa.literal_column(str(int(k.weight)))) for k in KINDS),
                   else_=sa.literal_column("1"))


def _column_sums(rows, width: int = 12) -> list:
    """Each column's sum: [sum of the first values, sum of the second values, ...]."""
    columns = list(zip(*rows, strict=True))
    return [sum(column) for column in columns] if columns else [0] * width


@dataclass(frozen=True)
class _Group:
    """Sums over some selected communities and their selected items."""

    communities: int = 0
    in_programme: int = 0
    items: int = 0
    weights: int = 0
    weighted: int = 0
    done: int = 0
    late: int = 0
    area_m2: float = 0.0
    programme_m2: float = 0.0
    renovated_m2: float = 0.0
    renovated: int = 0
    without_area: int = 0

    def __add__(self, other: _Group) -> _Group:
        return _Group(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def values(self) -> tuple:
        return (self.communities, self.in_programme, self.items, self.weights, self.weighted,
                self.done, self.late, self.area_m2, self.programme_m2, self.renovated_m2,
                self.renovated, self.without_area)

    @property
    def counts(self) -> tuple[int, int]:
        return int(self.communities), int(self.in_programme)

    @property
    def progress(self) -> Progress:
        if not self.items:
            return NO_ITEMS
        return Progress(round(float(self.weighted) / float(self.weights), 1), int(self.items),
                        int(self.done), int(self.late))

    @property
    def area(self) -> Area:
        return Area(float(self.area_m2), float(self.programme_m2), float(self.renovated_m2),
                    int(self.in_programme), int(self.renovated), int(self.without_area))


# --- The chart tables (shown under each chart and downloaded as CSV) ---------------------------

@dataclass(frozen=True)
class Table:
    name: str
    title: str
    headers: list[str]
    rows: list[list]  # numbers stay numbers; None is "no figure"


TABLES = ("comparison", "kinds", "statuses", "months", "pilots", "area")


def _pct(progress: Progress) -> float | None:
    return progress.percent


def table(dashboard: Dashboard, name: str, locale: str) -> Table:
    """The numbers behind one chart of `dashboard`, with headers in `locale`'s language."""
    if name == "comparison":
        c = dashboard.comparison
        place = _l("Street") if c.level == STREET else _l("Community")
        headers = [_l("Rank"), _l("Code"), place, _l("Communities"),
                   _l("Communities in the programme"), _l("Items"), _l("Done"),
                   _l("Percent complete"), _l("Overdue"), _l("Satisfaction")]
        english = locale.startswith("en")  # as ComparisonRow.name, once for every row
        rows = [[r.rank, r.code, r.name_en if english else r.name_zh, r.communities,
                 r.communities_in_programme, r.progress.items, r.progress.done,
                 r.progress.percent, r.progress.overdue, r.satisfaction] for r in c.rows]
        t = c.total
        rows.append(["", "", str(_l("Total")), t.communities, t.communities_in_programme,
                     t.progress.items, t.progress.done, _pct(t.progress), t.progress.overdue,
                     t.satisfaction])
        title = _l("Street comparison") if c.level == STREET else _l("Community comparison")
        return Table(name, str(title), [str(h) for h in headers], rows)
    if name == "kinds":
        headers = [_l("Kind code"), _l("Kind"), _l("Items"), _l("Done"), _l("Percent complete"),
                   _l("Overdue")]
        rows = [[k.code, k.name(locale), k.progress.items, k.progress.done, _pct(k.progress),
                 k.progress.overdue] for k in dashboard.kinds]
        return Table(name, str(_l("Progress by item kind")), [str(h) for h in headers], rows)
    if name == "statuses":
        headers = [_l("Status code"), _l("Status"), _l("Items")]
        rows = [[s.status.value, s.status.label(locale), s.items] for s in dashboard.statuses]
        return Table(name, str(_l("Items by status")), [str(h) for h in headers], rows)
    if name == "months":
        headers = [_l("Month"), _l("Items completed"), _l("Items completed to date")]
        rows = [[m.month, m.completed, m.cumulative] for m in dashboard.months]
        return Table(name, str(_l("Completions per month")), [str(h) for h in headers], rows)
    if name == "pilots":
        headers = [_l("Group"), _l("Communities"), _l("Communities in the programme"),
                   _l("Items"), _l("Done"), _l("Percent complete"), _l("Overdue")]
        rows = [[str(_l("Pilot communities") if p.is_pilot else _l("Other communities")),
                 p.communities, p.communities_in_programme, p.progress.items, p.progress.done,
                 _pct(p.progress), p.progress.overdue] for p in dashboard.pilots]
        return Table(name, str(_l("Pilot communities and the rest")), [str(h) for h in headers],
                     rows)
    if name == "area":
        a = dashboard.area
        headers = [_l("Figure"), _l("Building area (m²)"), _l("Communities")]
        rows = [[str(_l("All selected communities")), round(a.total_m2, 1), None],
                [str(_l("In the renovation programme")), round(a.programme_m2, 1),
                 a.communities_in_programme],
                [str(_l("Renovated (all items done)")), round(a.renovated_m2, 1),
                 a.communities_renovated]]
        return Table(name, str(_l("Building area renovated")), [str(h) for h in headers], rows)
    raise NotFound(_l("There is no table called %(name)s.", name=name[:40]))


# --- The map pages' tables with filters -------------------------------------------------------

def district_overview(session: Session, filters: Filters, *,
                      today: dt.date | None = None) -> DistrictOverview:
    """What the district page shows (see :func:`renovation.overview.district_overview`),
    for what `filters` select."""
    today = today or dt.date.today()
    progress = progress_by(session, Community.street_id, today=today,
                           where=filters.item_clauses(today))
    counts = _community_counts(session, Community.street_id, filters, today)
    query = sa.select(Street).order_by(Street.code)
    if filters.street:
        query = query.where(Street.code == filters.street)
    rows = [StreetRow(s, progress.get(s.id, NO_ITEMS), *counts.get(s.id, (0, 0, 0.0)))
            for s in session.scalars(query)]
    pilots = session.scalars(
        sa.select(Community).where(Community.is_pilot, *filters.community_clauses(today))
        .order_by(Community.code).options(selectinload(Community.street))).all()
    return DistrictOverview(
        streets=rows,
        progress=total_progress(session, today=today, where=filters.item_clauses(today)),
        communities=sum(r.communities for r in rows),
        communities_in_programme=sum(r.communities_in_programme for r in rows),
        building_area_m2=sum(r.building_area_m2 for r in rows),
        pilots=list(pilots))


def street_communities(session: Session, street: Street, filters: Filters, *,
                       today: dt.date | None = None) -> list[CommunityRow]:
    """The street's communities the filters select, with the progress of selected items."""
    today = today or dt.date.today()
    filters = filters.but(street=street.code)
    progress = progress_by(session, Community.id, today=today, where=filters.item_clauses(today))
    communities = session.scalars(sa.select(Community).where(*filters.community_clauses(today))
                                  .order_by(Community.code)).all()
    return [CommunityRow(c, progress.get(c.id, NO_ITEMS)) for c in communities]


# --- The printable street report --------------------------------------------------------------

@dataclass(frozen=True)
class ReportCommunity:
    id: int
    code: str
    name: str
    is_pilot: bool
    progress: Progress
    footprint: object | None  # shapely geometry, EPSG:4326
    location: object | None


@dataclass(frozen=True)
class OverdueItem:
    id: int
    kind: str
    title: str
    status: Status
    progress_pct: int
    planned_end: dt.date
    community_id: int
    community_name: str
    days_overdue: int


@dataclass(frozen=True)
class StreetReport:
    street: Street
    filters: Filters
    today: dt.date
    boundary: object  # shapely geometry, EPSG:4326
    row: ComparisonRow  # the street, ranked among the streets
    streets_ranked: int
    district: ComparisonRow  # the district total, for comparison
    area: Area
    communities: list[ReportCommunity]
    overdue: list[OverdueItem]


def street_report(session: Session, code: str, filters: Filters | None = None, *,
                  today: dt.date | None = None,
                  satisfaction: SatisfactionSource = no_ratings) -> StreetReport:
    """One street's page of the report: figures against the other streets, map, overdue items.

    Raises
    ------
    NotFound
        When there is no street `code`.
    """
    street = get_street(session, code)
    return street_reports(session, [street.code], filters, today=today,
                          satisfaction=satisfaction)[0]


#: A street code starts with its division's: 2 digits a province, 4 a city, 6 a district.
_DIVISION_CODE = re.compile(r"[0-9]{2,12}")


def streets_for_report(session: Session, *, within: str | None = None,
                       codes: Collection[str] = (), limit: int) -> tuple[list[str], int]:
    """The codes of the streets a report prints, the first `limit` by code, and how many
    streets the choice holds: those whose code starts with the division code `within`
    (``110107``: Shijingshan District), those of `codes`, or, with neither, all of them.

    Raises
    ------
    DomainError
        (400) when `within` is not a division code; NotFound when a code of `codes`
        names no street.
    """
    query = sa.select(Street.code)
    if within is not None:
        if not _DIVISION_CODE.fullmatch(within):
            raise DomainError(_l("district must be the digits that start street codes, "
                                 "e.g. 110107."))
        query = query.where(Street.code.startswith(within, autoescape=True))
    if codes:
        codes = list(dict.fromkeys(codes))
        found = set(session.scalars(sa.select(Street.code).where(Street.code.in_(codes))))
        missing = [code for code in codes if code not in found]
        if missing:
            raise NotFound(_l("There is no street with code %(code)s.", code=missing[0][:40]))
        query = query.where(Street.code.in_(codes))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    return list(session.scalars(query.order_by(Street.code).limit(limit))), total


def street_reports(session: Session, codes: Collection[str], filters: Filters | None = None, *,
                   today: dt.date | None = None,
                   satisfaction: SatisfactionSource = no_ratings) -> list[StreetReport]:
    """The report's pages of the streets `codes` (those that exist), in code order.

    The queries do not grow with the streets: each figure is asked once for all of them
    and grouped by street, so a city's hundred pages cost about what one page does.
    """
    from geoalchemy2.shape import to_shape

    today = today or dt.date.today()
    _without_jit(session)
    filters = (filters or Filters()).but(street=None)
    streets = session.scalars(sa.select(Street).where(Street.code.in_(list(codes)))
                              .order_by(Street.code)).all()
    if not streets:
        return []
    ids = [street.id for street in streets]
    if uses_summaries(filters):
        ranking = _street_comparison_from_summaries(session, filters, today, satisfaction,
                                                    False, include=ids)
    else:
        ranking = comparison(session, filters, today=today, satisfaction=satisfaction,
                             full=True)
    ranked = {r.key: r for r in ranking.rows}
    in_streets = Community.street_id.in_(ids)
    progress = progress_by(session, Community.id, today=today,
                           where=[in_streets, *filters.item_clauses(today)])
    communities: dict[int, list[ReportCommunity]] = {sid: [] for sid in ids}
    for cid, sid, code, name, is_pilot, footprint, location in session.execute(
            sa.select(Community.id, Community.street_id, Community.code, Community.name,
                      Community.is_pilot, Community.footprint, Community.location)
            .where(in_streets, *filters.community_clauses(today)).order_by(Community.code)):
        communities[sid].append(ReportCommunity(
            cid, code, name, is_pilot, progress.get(cid, NO_ITEMS),
            to_shape(footprint) if footprint is not None else None,
            to_shape(location) if location is not None else None))
    overdue: dict[int, list[OverdueItem]] = {sid: [] for sid in ids}
    for sid, *values in session.execute(
            sa.select(Community.street_id, RenovationItem.id, RenovationItem.kind,
                      RenovationItem.title, RenovationItem.status, RenovationItem.progress_pct,
                      RenovationItem.planned_end, Community.id, Community.name)
            .join(Community, RenovationItem.community)
            .where(in_streets, *filters.but(overdue_only=True).item_clauses(today))
            .order_by(RenovationItem.planned_end, Community.code, RenovationItem.id)):
        overdue[sid].append(OverdueItem(*values, days_overdue=(today - values[5]).days))
    areas = _building_areas_by_street(session, filters, ids, today)
    return [StreetReport(street, filters.but(street=street.code), today,
                         to_shape(street.boundary), ranked[street.id], ranking.ranked,
                         ranking.total, areas[street.id], communities[street.id],
                         overdue[street.id])
            for street in streets]


def _building_areas_by_street(session: Session, filters: Filters, ids: list[int],
                              today: dt.date) -> dict[int, Area]:
    """:func:`building_area` of each of the streets `ids`, in two queries for all of them."""
    in_streets = Community.street_id.in_(ids)
    done = sa.func.sum(sa.case((RenovationItem.status.in_(DONE_STATUSES), 1), else_=0))
    per_community = (
        sa.select(RenovationItem.community_id.label("community_id"),
                  sa.func.count(RenovationItem.id).label("item_count"), done.label("done"))
        .join(Community, RenovationItem.community)
        .where(in_streets, *filters.item_clauses(today))
        .group_by(RenovationItem.community_id).subquery())
    is_renovated = per_community.c.item_count == per_community.c.done
    area = Community.building_area_m2
    programme = {row[0]: row[1:] for row in session.execute(
        sa.select(Community.street_id, sa.func.coalesce(sa.func.sum(area), 0.0),
                  sa.func.coalesce(sa.func.sum(sa.case((is_renovated, area), else_=0.0)), 0.0),
                  sa.func.count(Community.id),
                  sa.func.coalesce(sa.func.sum(sa.case((is_renovated, 1), else_=0)), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((area.is_(None), 1), else_=0)), 0))
        .join(per_community, per_community.c.community_id == Community.id)
        .group_by(Community.street_id))}
    totals = dict(session.execute(
        sa.select(Community.street_id, sa.func.coalesce(sa.func.sum(area), 0.0))
        .where(in_streets, *filters.community_clauses(today))
        .group_by(Community.street_id)).all())
    areas = {}
    for sid in ids:
        in_programme, renovated, n_programme, n_renovated, without = (
            programme.get(sid) or (0.0, 0.0, 0, 0, 0))
        areas[sid] = Area(float(totals.get(sid) or 0.0), float(in_programme), float(renovated),
                          int(n_programme), int(n_renovated), int(without))
    return areas

"""The planners' dashboard: the figures of the programme, by street, kind, status and month.

Every figure is over what the :class:`~renovation.filters.Filters` select, and every
progress figure comes from :mod:`renovation.progress` (the weighted roll-up), so the
dashboard, the maps and the exports agree. Each chart's numbers are also a
:class:`Table`, which the page shows under the chart and offers as CSV.

The street comparison (对标检视找差距) ranks the streets by their share of work done;
its satisfaction column comes from a :data:`SatisfactionSource`, which answers
nothing until residents can rate finished work (效果共评).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from renovation.catalogue import BY_CODE, KINDS, ItemKind
from renovation.errors import NotFound
from renovation.filters import Filters
from renovation.models import Community, ItemChange, RenovationItem, Street
from renovation.overview import CommunityRow, DistrictOverview, StreetRow, get_street
from renovation.progress import DONE_STATUSES, NO_ITEMS, Progress, progress_by, total_progress
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
    rows: list[ComparisonRow]  # ranked
    total: ComparisonRow


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
               satisfaction: SatisfactionSource = no_ratings) -> Comparison:
    """The comparison table: streets, or a street's communities when a street is chosen."""
    today = today or dt.date.today()
    if filters.street:
        level = COMMUNITY
        rows = community_rows(session, filters, today=today, satisfaction=satisfaction)
    else:
        level = STREET
        rows = street_rows(session, filters, today=today, satisfaction=satisfaction)
    total = ComparisonRow(
        None, "", "", "", sum(r.communities for r in rows),
        sum(r.communities_in_programme for r in rows),
        total_progress(session, today=today, where=filters.item_clauses(today)),
        satisfaction(session, filters, level).get(None))
    return Comparison(level, rank_rows(rows), total)


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
    found = progress_by(session, RenovationItem.kind, today=today,
                        where=filters.item_clauses(today))
    order = [k.code for k in KINDS] + sorted(set(found) - set(BY_CODE))
    return [KindRow(code, BY_CODE.get(code), found[code]) for code in order if code in found]


def items_by_status(session: Session, filters: Filters, *,
                    today: dt.date | None = None) -> list[StatusRow]:
    """How many selected items are in each status (every status, in workflow order)."""
    today = today or dt.date.today()
    counts = dict(session.execute(
        sa.select(RenovationItem.status, sa.func.count(RenovationItem.id))
        .join(Community, RenovationItem.community)
        .where(*filters.item_clauses(today)).group_by(RenovationItem.status)).all())
    return [StatusRow(s, int(counts.get(s, 0))) for s in Status]


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
    month = _month_of(session.get_bind(), completion_date()).label("month")
    counts = dict(session.execute(
        sa.select(month, sa.func.count(RenovationItem.id))
        .join(Community, RenovationItem.community)
        .where(RenovationItem.status.in_(DONE_STATUSES), *filters.item_clauses(today))
        .group_by(month)).all())
    counts.pop(None, None)
    if not counts:
        return []
    rows, cumulative = [], 0
    for name in _months(min(counts), max(counts)):
        completed = int(counts.get(name, 0))
        cumulative += completed
        rows.append(MonthRow(name, completed, cumulative))
    return rows


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
    progress = progress_by(session, Community.is_pilot, today=today,
                           where=filters.item_clauses(today))
    counts = _community_counts(session, Community.is_pilot, filters, today)
    return [PilotRow(is_pilot, *counts[is_pilot][:2], progress.get(is_pilot, NO_ITEMS))
            for is_pilot in (True, False) if is_pilot in counts]


def building_area(session: Session, filters: Filters, *, today: dt.date | None = None) -> Area:
    """Building area renovated (communities whose selected items are all done) and in total."""
    today = today or dt.date.today()
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


# --- The whole dashboard ----------------------------------------------------------------------

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
                    satisfaction: SatisfactionSource = no_ratings) -> Dashboard:
    """Every figure of the dashboard for what `filters` select.

    Raises
    ------
    NotFound
        When the filters name a street that does not exist.
    """
    today = today or dt.date.today()
    street = get_street(session, filters.street) if filters.street else None
    return Dashboard(
        filters=filters, today=today, street=street,
        comparison=comparison(session, filters, today=today, satisfaction=satisfaction),
        kinds=progress_by_kind(session, filters, today=today),
        statuses=items_by_status(session, filters, today=today),
        months=completions_by_month(session, filters, today=today),
        pilots=pilots_and_the_rest(session, filters, today=today),
        area=building_area(session, filters, today=today))


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
        rows = [[r.rank, r.code, r.name(locale), r.communities, r.communities_in_programme,
                 r.progress.items, r.progress.done, _pct(r.progress), r.progress.overdue,
                 r.satisfaction] for r in c.rows]
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
    from geoalchemy2.shape import to_shape

    today = today or dt.date.today()
    street = get_street(session, code)
    filters = (filters or Filters()).but(street=None)
    ranking = comparison(session, filters, today=today, satisfaction=satisfaction)
    row = next(r for r in ranking.rows if r.key == street.id)
    own = filters.but(street=street.code)
    rows = {r.key: r for r in community_rows(session, own, today=today)}
    shapes = session.execute(
        sa.select(Community.id, Community.is_pilot, Community.footprint, Community.location)
        .where(Community.id.in_(list(rows)) if rows else sa.false())
        .order_by(Community.code)).all()
    communities = [
        ReportCommunity(cid, rows[cid].code, rows[cid].name_zh, is_pilot, rows[cid].progress,
                        to_shape(footprint) if footprint is not None else None,
                        to_shape(location) if location is not None else None)
        for cid, is_pilot, footprint, location in shapes]
    late = own.but(overdue_only=True)
    overdue = [
        OverdueItem(*values, days_overdue=(today - values[5]).days)
        for values in session.execute(
            sa.select(RenovationItem.id, RenovationItem.kind, RenovationItem.title,
                      RenovationItem.status, RenovationItem.progress_pct,
                      RenovationItem.planned_end, Community.id, Community.name)
            .join(Community, RenovationItem.community)
            .where(*late.item_clauses(today))
            .order_by(RenovationItem.planned_end, Community.code, RenovationItem.id))]
    return StreetReport(street, own, today, to_shape(street.boundary), row,
                        sum(1 for r in ranking.rows if r.rank is not None), ranking.total,
                        building_area(session, own, today=today), communities, overdue)

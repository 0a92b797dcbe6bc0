"""Streets, communities and items as the JSON API lists them: filtered, paged, in a stable order.

Progress and the street figures come from :mod:`renovation.progress` and
:mod:`renovation.overview`, the same functions the pages use, so the API and the pages
cannot disagree. A filter naming a street or community that does not exist narrows the
list to nothing, as a filter on any other value does.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session, contains_eager, defer

from geo.spatialdb import as_geojson
from renovation import overview
from renovation.models import Community, RenovationItem, Street
from renovation.overview import StreetRow
from renovation.progress import DONE_STATUSES, NO_ITEMS, Progress, progress_by
from renovation.status import Status

#: Rows per page when the caller does not say, and the most one page may hold.
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
#: The longest text a search may have, and the latest year a filter may name.
MAX_SEARCH_TEXT, MAX_YEAR = 100, 9999
#: Digits kept in GeoJSON coordinates: 1e-6 degrees is about 0.1 m.
GEOJSON_DECIMALS = 6


@dataclass(frozen=True)
class Page:
    """One page of a list: `rows` from `offset` on, of `total` matching rows."""

    rows: list
    total: int
    limit: int
    offset: int

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total


@dataclass(frozen=True)
class CommunityFilters:
    """What a list of communities is narrowed to; None (or "") leaves a filter out."""

    street_code: str | None = None
    is_pilot: bool | None = None
    in_programme: bool | None = None
    year_built_from: int | None = None
    year_built_to: int | None = None
    text: str = ""


@dataclass(frozen=True)
class ItemFilters:
    """What a list of items is narrowed to; None leaves a filter out."""

    street_code: str | None = None
    community_id: int | None = None
    kind: str | None = None
    status: Status | None = None
    is_overdue: bool | None = None


@dataclass(frozen=True)
class CommunitySummary:
    """A community with its progress and its location as (longitude, latitude)."""

    community: Community
    progress: Progress
    location: tuple[float, float] | None


@dataclass(frozen=True)
class CommunityDetail:
    """A community with its progress, footprint (GeoJSON geometry) and items (by id)."""

    summary: CommunitySummary
    footprint: dict | None
    items: list[RenovationItem] = field(default_factory=list)


#: What lists need of a community's street: not its boundary, which is large.
_STREET_NAMES = (Street.code, Street.name_zh, Street.name_en)


# --- Streets ----------------------------------------------------------------------------------

def list_streets(session: Session, *, today: dt.date | None = None) -> list[StreetRow]:
    """Every street with its progress and figures, in code order (as the district page)."""
    return overview.district_overview(session, today=today).streets


def get_street_row(session: Session, code: str, *, today: dt.date | None = None) -> StreetRow:
    """The street with `code` and its figures; :class:`~renovation.errors.NotFound` if none."""
    street = overview.get_street(session, code)
    return next(row for row in list_streets(session, today=today) if row.street.id == street.id)


def street_boundary(session: Session, street: Street) -> dict:
    """The street's boundary as a GeoJSON geometry."""
    text = session.scalar(sa.select(as_geojson(session.get_bind(), Street.boundary,
                                               GEOJSON_DECIMALS))
                          .where(Street.id == street.id))
    return json.loads(text)


# --- Communities ------------------------------------------------------------------------------

def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _community_conditions(filters: CommunityFilters) -> list:
    conditions = []
    if filters.street_code is not None:
        conditions.append(Street.code == filters.street_code)
    if filters.is_pilot is not None:
        conditions.append(Community.is_pilot.is_(filters.is_pilot))
    if filters.in_programme is not None:
        # IN, not a correlated EXISTS: SQLite 3.51.0-3.51.1 (in pysqlite3-binary 0.5.4) turns
        # EXISTS into a join and then applies OFFSET before the filter, so pages go wrong.
        has_items = Community.id.in_(sa.select(RenovationItem.community_id))
        conditions.append(has_items if filters.in_programme else sa.not_(has_items))
    if filters.year_built_from is not None:
        conditions.append(Community.year_built >= filters.year_built_from)
    if filters.year_built_to is not None:
        conditions.append(Community.year_built <= filters.year_built_to)
    if filters.text:
        pattern = _like_pattern(filters.text)
        conditions.append(sa.or_(Community.name.ilike(pattern, escape="\\"),
                                 Community.code.ilike(pattern, escape="\\")))
    return conditions


def _location(community: Community) -> tuple[float, float] | None:
    if community.location is None:
        return None
    point = to_shape(community.location)
    return point.x, point.y


def _summaries(session: Session, communities: list[Community], today: dt.date | None
               ) -> list[CommunitySummary]:
    ids = [c.id for c in communities]
    by_id = progress_by(session, Community.id, today=today,
                        where=[Community.id.in_(ids)]) if ids else {}
    return [CommunitySummary(c, by_id.get(c.id, NO_ITEMS), _location(c)) for c in communities]


def list_communities(session: Session, filters: CommunityFilters, *, limit: int = DEFAULT_LIMIT,
                     offset: int = 0, today: dt.date | None = None) -> Page:
    """The communities matching `filters`, in code order, `limit` of them from `offset`.

    Returns
    -------
    Page
        Of :class:`CommunitySummary`, with the total number matching.
    """
    query = (sa.select(Community).join(Street, Community.street)
             .where(*_community_conditions(filters)))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    communities = session.scalars(
        query.options(contains_eager(Community.street).load_only(*_STREET_NAMES),
                      defer(Community.footprint))
        .order_by(Community.code, Community.id).limit(limit).offset(offset)).all()
    return Page(_summaries(session, list(communities), today), total, limit, offset)


def get_community_detail(session: Session, community_id: int, *,
                         today: dt.date | None = None) -> CommunityDetail:
    """The community with its progress, footprint and items; NotFound if there is none."""
    community = overview.get_community(session, community_id)
    progress = overview.community_progress(session, community, today=today)
    return CommunityDetail(CommunitySummary(community, progress, _location(community)),
                           overview.footprint_geojson(session, community),
                           list(community.items))


# --- Items ------------------------------------------------------------------------------------

def _item_conditions(filters: ItemFilters, today: dt.date) -> list:
    conditions = []
    if filters.street_code is not None:
        conditions.append(Street.code == filters.street_code)
    if filters.community_id is not None:
        conditions.append(RenovationItem.community_id == filters.community_id)
    if filters.kind is not None:
        conditions.append(RenovationItem.kind == filters.kind)
    if filters.status is not None:
        conditions.append(RenovationItem.status == filters.status)
    if filters.is_overdue is not None:
        # The same rule as RenovationItem.is_overdue and the progress roll-up.
        overdue = sa.and_(RenovationItem.planned_end.is_not(None),
                          RenovationItem.planned_end < today,
                          RenovationItem.status.not_in(DONE_STATUSES))
        conditions.append(overdue if filters.is_overdue else sa.not_(overdue))
    return conditions


def list_items(session: Session, filters: ItemFilters, *, limit: int = DEFAULT_LIMIT,
               offset: int = 0, today: dt.date | None = None) -> Page:
    """The items matching `filters`, by id, `limit` of them from `offset`.

    Each item comes with its community and street loaded. Returns a :class:`Page` of
    :class:`~renovation.models.RenovationItem`.
    """
    today = today or dt.date.today()
    query = (sa.select(RenovationItem).join(Community, RenovationItem.community)
             .join(Street, Community.street).where(*_item_conditions(filters, today)))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    community = contains_eager(RenovationItem.community)
    items = session.scalars(
        query.options(community.defer(Community.footprint),
                      community.contains_eager(Community.street).load_only(*_STREET_NAMES))
        .order_by(RenovationItem.id).limit(limit).offset(offset)).all()
    return Page(list(items), total, limit, offset)

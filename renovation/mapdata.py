"""Features in view for the maps: communities and items inside a bounding box.

The spatial filter runs in the database through the spatial index on both
backends (:func:`geo.spatialdb.bbox_filter`); geometry is simplified to what the
zoom can show and written as GeoJSON by the database, with no more decimals than
the zoom can show. Where a view would hold more dots than a map can show (a city
or the country at small scale), :func:`areas_in_view` gives one point per street,
or per grid cell of streets, with exact figures instead.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from geo.bbox import BBox, decimals_for_zoom, tolerance_for_zoom
from geo.spatialdb import as_geojson, bbox_filter, simplified
from renovation.filters import Filters
from renovation.models import Community, RenovationItem, Street
from renovation.progress import DONE_STATUSES, NO_ITEMS, Progress, progress_by, weight_of_kind
from renovation.status import Status

#: What the functions here query through: a request's session, or, for the map's views,
#: a plain connection (see :func:`renovation.web.db_reader`); they only run Core queries.
Reader = Session | sa.Connection


def _bind(db: Reader):
    """The engine or connection whose dialect writes the query."""
    return db if isinstance(db, sa.Connection) else db.get_bind()


def _connection(db: Reader) -> sa.Connection:
    return db if isinstance(db, sa.Connection) else db.connection()


@dataclass(frozen=True)
class CommunityInView:
    id: int
    code: str
    name: str
    street_code: str
    street_name_zh: str
    street_name_en: str
    is_pilot: bool
    is_district_pilot: bool
    data_source: str
    geometry: dict
    progress: Progress


@dataclass(frozen=True)
class ItemInView:
    id: int
    kind: str
    title: str
    status: Status
    progress_pct: int
    community_id: int
    community_name: str
    planned_end: dt.date | None
    geometry: dict


_COMMUNITY_SUMMARIES = sa.table(
    "community_summaries", sa.column("community_id"), sa.column("items"),
    sa.column("weight_sum"), sa.column("weighted_progress_sum"), sa.column("done_items"))


def _community_query(bind, columns, bbox: BBox, *, zoom: int | None, pilots_only: bool,
                     as_points: bool, filters: Filters, today: dt.date):
    table = Community.__table__
    if pilots_only or as_points:
        shape = as_geojson(bind, Community.location, decimals_for_zoom(zoom))
    else:
        shape = as_geojson(bind, simplified(bind, Community.footprint, tolerance_for_zoom(zoom)),
                           decimals_for_zoom(zoom))
    query = (sa.select(*columns, shape)
             .where(bbox_filter(bind, table, table.c.footprint, bbox),
                    *filters.community_clauses(today))
             .order_by(Community.id))
    if pilots_only:
        query = query.where(Community.is_pilot, Community.location.is_not(None))
    return query


def _progress_in_view(session: Reader, bbox: BBox, filters: Filters,
                      today: dt.date) -> dict[int, Progress]:
    """Progress of every community meeting `bbox`: the same box, not a list of ids, so a
    thousand ids never travel to the database and back."""
    table = Community.__table__
    return progress_by(session, Community.id, today=today,
                       where=[bbox_filter(_bind(session), table, table.c.footprint, bbox),
                              *filters.item_clauses(today)])


def communities_in_view(session: Reader, bbox: BBox, *, zoom: int | None = None,
                        limit: int = 5000, pilots_only: bool = False, as_points: bool = False,
                        street_code: str | None = None, filters: Filters | None = None,
                        today: dt.date | None = None) -> tuple[list[CommunityInView], bool]:
    """Communities whose footprint meets `bbox`, and whether `limit` cut the list short.

    With `as_points` (small scales, where a compound is a speck) or `pilots_only`
    (for markers) the geometry is the community's centre point, else its footprint.
    `filters` select the communities and the items their progress is of.
    """
    today = today or dt.date.today()
    filters = filters or Filters()
    if street_code:
        filters = filters.but(street=street_code)
    bind = _bind(session)
    query = _community_query(
        bind, (Community.id, Community.code, Community.name, Street.code, Street.name_zh,
               Street.name_en, Community.is_pilot, Community.is_district_pilot,
               Community.data_source), bbox, zoom=zoom, pilots_only=pilots_only,
        as_points=as_points, filters=filters, today=today)
    rows = session.execute(query.join(Street, Community.street).limit(limit + 1)).all()
    truncated = len(rows) > limit
    rows = rows[:limit]
    progress = _progress_in_view(session, bbox, filters, today) if rows else {}
    found = [CommunityInView(*row[:9], geometry=json.loads(row[9]),
                             progress=progress.get(row[0], NO_ITEMS))
             for row in rows if row[9]]
    return found, truncated


class LeanCommunity(NamedTuple):
    """What drawing a community needs; its geometry is the database's GeoJSON text.

    A named tuple: a view of a few hundred is made in a fraction of a dataclass's time.
    """

    id: int
    name: str
    is_pilot: bool
    data_source: str
    geometry: str
    percent: float | None


def lean_communities_in_view(session: Reader, bbox: BBox, *, zoom: int | None = None,
                             limit: int = 5000, pilots_only: bool = False,
                             as_points: bool = False, filters: Filters | None = None,
                             today: dt.date | None = None) -> tuple[list[LeanCommunity], bool]:
    """:func:`communities_in_view` with only what drawing needs, as fast as it can be.

    Unfiltered, the progress comes from the trigger-kept ``community_summaries`` in the
    same query, a statement built once per shape and run on the session's connection
    (what the maps ask for as they move); with filters it is summed over the items
    they select.
    """
    filters = filters or Filters()
    if filters.is_empty and _has_table(session, "community_summaries"):
        return _summarised_lean_communities(session, bbox, zoom, limit, pilots_only, as_points)
    today = today or dt.date.today()
    bind = _bind(session)
    query = _community_query(bind, [Community.id, Community.name, Community.is_pilot,
                                    Community.data_source], bbox, zoom=zoom,
                             pilots_only=pilots_only, as_points=as_points, filters=filters,
                             today=today)
    rows = session.execute(query.limit(limit + 1)).all()
    truncated = len(rows) > limit
    rows = rows[:limit]
    progress = _progress_in_view(session, bbox, filters, today) if rows else {}
    found = [LeanCommunity(*row[:4], row[4], progress.get(row[0], NO_ITEMS).percent)
             for row in rows if row[4]]
    return found, truncated


def _summarised_lean_communities(session: Reader, bbox: BBox, zoom: int | None, limit: int,
                                 pilots_only: bool, as_points: bool):
    tolerance = 0.0 if pilots_only or as_points else tolerance_for_zoom(zoom)
    query = _summarised_lean_query(_bind(session), pilots_only=pilots_only,
                                   as_points=as_points, simplify=tolerance > 0)
    minx, miny, maxx, maxy = bbox
    rows = _connection(session).execute(query, {
        "minx": float(minx), "miny": float(miny), "maxx": float(maxx), "maxy": float(maxy),
        "decimals": decimals_for_zoom(zoom), "tolerance": tolerance, "limit": limit + 1,
    }).all()
    truncated = len(rows) > limit
    found = [LeanCommunity(cid, name, is_pilot, source, geometry, _percent(weighted, weights))
             for cid, name, is_pilot, source, weighted, weights, geometry in rows[:limit]
             if geometry]
    return found, truncated


_SUMMARISED_LEAN_QUERIES: dict = {}


def _summarised_lean_query(bind, *, pilots_only: bool, as_points: bool, simplify: bool):
    """The unfiltered lean query of one shape for `bind`'s dialect, built once: building
    and compiling it again for every view would cost more than the database's answer.
    Its box, decimals, tolerance and limit are bound parameters."""
    key = (bind.dialect.name, pilots_only, as_points, simplify)
    query = _SUMMARISED_LEAN_QUERIES.get(key)
    if query is not None:
        return query
    table = Community.__table__
    decimals = sa.bindparam("decimals", type_=sa.Integer)
    if pilots_only or as_points:
        shape = as_geojson(bind, Community.location, decimals)
    elif simplify:
        shape = as_geojson(bind, simplified(bind, Community.footprint,
                                            sa.bindparam("tolerance", type_=sa.Float)),
                           decimals)
    else:
        shape = as_geojson(bind, Community.footprint, decimals)
    box = tuple(sa.bindparam(name, type_=sa.Float) for name in ("minx", "miny", "maxx", "maxy"))
    s = _COMMUNITY_SUMMARIES.c
    query = (sa.select(Community.id, Community.name, Community.is_pilot,
                       Community.data_source, s.weighted_progress_sum, s.weight_sum, shape)
             .outerjoin(_COMMUNITY_SUMMARIES, s.community_id == Community.id)
             .where(bbox_filter(bind, table, table.c.footprint, box))
             .order_by(Community.id).limit(sa.bindparam("limit", type_=sa.Integer)))
    if pilots_only:
        query = query.where(Community.is_pilot, Community.location.is_not(None))
    _SUMMARISED_LEAN_QUERIES[key] = query
    return query


def items_in_view(session: Reader, bbox: BBox, *, zoom: int | None = None, limit: int = 5000,
                  kinds: list[str] | None = None, community_id: int | None = None,
                  filters: Filters | None = None,
                  today: dt.date | None = None) -> tuple[list[ItemInView], bool]:
    """Renovation items whose geometry meets `bbox`, optionally of some kinds or one community.

    `filters` select the items further (see :mod:`renovation.filters`).
    """
    today = today or dt.date.today()
    filters = filters or Filters()
    bind = _bind(session)
    table = RenovationItem.__table__
    shape = as_geojson(bind, simplified(bind, RenovationItem.geometry, tolerance_for_zoom(zoom)),
                       decimals_for_zoom(zoom))
    query = (sa.select(RenovationItem.id, RenovationItem.kind, RenovationItem.title,
                       RenovationItem.status, RenovationItem.progress_pct,
                       RenovationItem.community_id, Community.name, RenovationItem.planned_end,
                       shape)
             .join(Community, RenovationItem.community)
             .where(bbox_filter(bind, table, table.c.geometry, bbox))
             .order_by(RenovationItem.id).limit(limit + 1))
    if kinds:
        query = query.where(RenovationItem.kind.in_(kinds))
    if community_id is not None:
        query = query.where(RenovationItem.community_id == community_id)
    query = query.where(*filters.item_clauses(today))
    rows = session.execute(query).all()
    truncated = len(rows) > limit
    items = [ItemInView(*row[:8], geometry=json.loads(row[8])) for row in rows[:limit] if row[8]]
    return items, truncated


# --- Small scales: streets and grid cells instead of thousands of dots ----------------------

#: More community dots than this in one view is a blur: the view shows streets instead.
MAX_DOTS = 1500
#: Side of a grid cell on screen, in pixels: streets closer than this are drawn as one.
CELL_PIXELS = 48


@dataclass(frozen=True)
class AreaInView:
    """A street, or a grid cell of streets, drawn as one point when dots would be too many.

    The figures are those of the whole street (all its communities and items, not
    only those inside the view), summed over the streets of a cell, so they equal
    the dashboard's. ``percent`` is the weighted progress, rounded as
    :mod:`renovation.progress` rounds it.
    """

    key: str  # "s<street id>" or "c<zoom>_<column>_<row>"
    is_street: bool
    lon: float
    lat: float
    streets: int
    communities: int
    items: int
    done: int
    percent: float | None
    street_code: str | None = None
    name_zh: str | None = None
    name_en: str | None = None


def count_in_view(session: Reader, bbox: BBox, *, filters: Filters | None = None,
                  today: dt.date | None = None, cap: int = MAX_DOTS) -> int:
    """Communities whose footprint box meets `bbox`, counted up to ``cap + 1``."""
    today = today or dt.date.today()
    filters = filters or Filters()
    bind = _bind(session)
    table = Community.__table__
    inner = (sa.select(Community.id)
             .where(bbox_filter(bind, table, table.c.footprint, bbox),
                    *filters.community_clauses(today))
             .limit(cap + 1).subquery())
    return session.scalar(sa.select(sa.func.count()).select_from(inner))


def _has_table(session: Reader, name: str) -> bool:
    """Whether a trigger-kept summary table (migration 0004) exists in this database."""
    bind = _bind(session)
    key = (str(bind.engine.url), name)
    if key not in _KNOWN_TABLES:
        if not sa.inspect(bind).has_table(name):
            return False  # asked again next time: a migration may add it while we run
        _KNOWN_TABLES.add(key)
    return True


_KNOWN_TABLES: set = set()
_STREET_SUMMARIES = sa.table(
    "street_summaries", sa.column("street_id"), sa.column("communities"), sa.column("items"),
    sa.column("weight_sum"), sa.column("weighted_progress_sum"), sa.column("done_items"))


def _percent(weighted, weights) -> float | None:
    # The formula of renovation.progress: sum(weight × progress) / sum(weight), 1 decimal.
    if not weights:
        return None
    return round(float(weighted) / float(weights), 1)


def _street_figures(session: Reader, streets, filters: Filters,
                    today: dt.date) -> dict[int, tuple[int, int, int, float, float]]:
    """street id → (communities, items, done, weighted progress sum, weight sum).

    `streets` is a subquery of street ids: the ids never travel as a list of values.
    """
    communities = dict(session.execute(
        sa.select(Community.street_id, sa.func.count(Community.id))
        .where(Community.street_id.in_(streets), *filters.community_clauses(today))
        .group_by(Community.street_id)).all())
    weight = weight_of_kind()
    sums = {row[0]: row[1:] for row in session.execute(
        sa.select(Community.street_id, sa.func.count(RenovationItem.id),
                  sa.func.sum(sa.case((RenovationItem.status.in_(DONE_STATUSES), 1), else_=0)),
                  sa.func.sum(weight * RenovationItem.progress_pct), sa.func.sum(weight))
        .select_from(RenovationItem).join(Community, RenovationItem.community)
        .where(Community.street_id.in_(streets), *filters.item_clauses(today))
        .group_by(Community.street_id))}
    return {sid: (n, *(sums.get(sid) or (0, 0, 0, 0))) for sid, n in communities.items()}


def _streets_in_view(session: Reader, bbox: BBox, filters: Filters, today: dt.date):
    """(id, code, name_zh, name_en, x, y, figures) of the streets meeting `bbox` that hold
    a selected community. Unfiltered, the figures come from ``street_summaries`` in the
    same query; filtered, they are summed over what the filters select."""
    bind = _bind(session)
    table = Street.__table__
    point = sa.func.coalesce(Street.label_point, sa.func.ST_PointOnSurface(Street.boundary))
    columns = [Street.id, Street.code, Street.name_zh, Street.name_en,
               sa.func.ST_X(point), sa.func.ST_Y(point)]
    where = [bbox_filter(bind, table, table.c.boundary, bbox)]
    if filters.street:
        where.append(Street.code == filters.street)
    if filters.is_empty and _has_table(session, "street_summaries"):
        s = _STREET_SUMMARIES.c
        rows = session.execute(
            sa.select(*columns, s.communities, s["items"], s.done_items,
                      s.weighted_progress_sum, s.weight_sum)
            .join(_STREET_SUMMARIES, s.street_id == Street.id)
            .where(*where, s.communities > 0)).all()
        return [(*row[:6], tuple(row[6:])) for row in rows]
    rows = session.execute(sa.select(*columns).where(*where)).all()
    figures = _street_figures(session, sa.select(Street.id).where(*where), filters, today)
    return [(*row, figures[row[0]]) for row in rows if figures.get(row[0], (0,))[0]]


def crowded_streets(session: Reader, bbox: BBox, *, filters: Filters | None = None,
                    today: dt.date | None = None) -> list | None:
    """The streets in view (for :func:`areas_in_view`) if the view holds more than
    :data:`MAX_DOTS` communities, else None: dots it is.

    Unfiltered, the communities counted are those of the streets meeting the view,
    summed from ``street_summaries`` by the query that finds the streets anyway
    (a few more than those meeting the view at its edges); filtered, those meeting
    the view, counted up to the limit.
    """
    today = today or dt.date.today()
    filters = filters or Filters()
    if filters.is_empty and _has_table(session, "street_summaries"):
        streets = _streets_in_view(session, bbox, filters, today)
        return streets if sum(s[6][0] for s in streets) > MAX_DOTS else None
    if count_in_view(session, bbox, filters=filters, today=today) <= MAX_DOTS:
        return None
    return _streets_in_view(session, bbox, filters, today)


def areas_in_view(session: Reader, bbox: BBox, zoom: int, *, filters: Filters | None = None,
                  today: dt.date | None = None, streets: list | None = None
                  ) -> list[AreaInView]:
    """The streets whose boundary meets `bbox`, gathered into grid cells where they crowd.

    Each street is a point (its label point, else a point on its boundary) with its
    figures; streets without a selected community are left out. Streets are put in
    square cells :data:`CELL_PIXELS` wide at `zoom`: a cell holding one street shows
    that street, a cell holding several shows them as one point at the mean of their
    points, with their figures summed. So a view holds at most one point per cell,
    and the figures of any set of points add up to those of their streets.
    `streets` are those :func:`crowded_streets` found, if it was asked first.
    """
    today = today or dt.date.today()
    filters = filters or Filters()
    if streets is None:
        streets = _streets_in_view(session, bbox, filters, today)
    cell = CELL_PIXELS * 360.0 / (256 * 2 ** zoom)
    cells: dict[tuple[int, int], list] = {}
    for street in streets:
        cells.setdefault((math.floor(street[4] / cell), math.floor(street[5] / cell)),
                         []).append(street)
    areas = []
    for (col, row), members in sorted(cells.items()):
        if len(members) == 1:
            sid, code, name_zh, name_en, x, y, figures = members[0]
            areas.append(AreaInView(f"s{sid}", True, round(x, 5), round(y, 5), 1,
                                    *_totals([figures]), street_code=code,
                                    name_zh=name_zh, name_en=name_en))
        else:
            areas.append(AreaInView(
                f"c{zoom}_{col}_{row}", False,
                round(sum(m[4] for m in members) / len(members), 5),
                round(sum(m[5] for m in members) / len(members), 5), len(members),
                *_totals([m[6] for m in members])))
    return areas


def _totals(figures: list[tuple]) -> tuple[int, int, int, float | None]:
    communities = sum(int(f[0]) for f in figures)
    items = sum(int(f[1]) for f in figures)
    done = sum(int(f[2] or 0) for f in figures)
    weighted = sum(float(f[3] or 0) for f in figures)
    weights = sum(float(f[4] or 0) for f in figures)
    return communities, items, done, _percent(weighted, weights)


def community_in_view(session: Reader, community_id: int, *, filters: Filters | None = None,
                      today: dt.date | None = None) -> CommunityInView | None:
    """One community as the maps describe it (its popup), or None if there is none.

    Its progress is that of the items `filters` select, as on the map it was clicked on.
    """
    today = today or dt.date.today()
    filters = filters or Filters()
    row = session.execute(
        sa.select(Community.id, Community.code, Community.name, Street.code, Street.name_zh,
                  Street.name_en, Community.is_pilot, Community.is_district_pilot,
                  Community.data_source)
        .join(Street, Community.street).where(Community.id == community_id)).first()
    if row is None:
        return None
    progress = progress_by(session, Community.id, today=today,
                           where=[Community.id == community_id, *filters.item_clauses(today)])
    return CommunityInView(*row, geometry={}, progress=progress.get(community_id, NO_ITEMS))


def street_outlines(session: Reader, bbox: BBox | None = None, *,
                    tolerance_deg: float = 0.0) -> dict:
    """Street outlines meeting `bbox` (all when None) as a FeatureCollection.

    The same features as :func:`renovation.overview.streets_geojson`, for a street's
    page: its neighbours, not the 10,000 streets of a national programme.
    """
    bind = _bind(session)
    table = Street.__table__
    query = (sa.select(Street.id, Street.code, Street.name_zh, Street.name_en,
                       as_geojson(bind, simplified(bind, Street.boundary, tolerance_deg), 5),
                       as_geojson(bind, Street.label_point, 5))
             .order_by(Street.code))
    if bbox is not None:
        query = query.where(bbox_filter(bind, table, table.c.boundary, bbox))
    features = []
    for street_id, code, name_zh, name_en, boundary, label in session.execute(query):
        features.append({
            "type": "Feature", "id": street_id, "geometry": json.loads(boundary),
            "properties": {"code": code, "name_zh": name_zh, "name_en": name_en,
                           "label_point": json.loads(label)["coordinates"] if label else None}})
    return {"type": "FeatureCollection", "features": features}


def street_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count(Street.id)))


def street_bounds(session: Reader, street_id: int) -> BBox:
    """(minx, miny, maxx, maxy) of a street's boundary."""
    boundary = session.scalar(sa.select(as_geojson(_bind(session), Street.boundary, 6))
                              .where(Street.id == street_id))
    coordinates = [c for polygon in json.loads(boundary)["coordinates"]
                   for ring in polygon for c in ring]
    xs, ys = [c[0] for c in coordinates], [c[1] for c in coordinates]
    return min(xs), min(ys), max(xs), max(ys)

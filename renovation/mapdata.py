"""Features in view for the maps: communities and items inside a bounding box.

The spatial filter runs in the database through the spatial index on both
backends (:func:`geo.spatialdb.bbox_filter`); geometry is simplified to what the
zoom can show and written as GeoJSON by the database.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from geo.bbox import BBox, tolerance_for_zoom
from geo.spatialdb import as_geojson, bbox_filter, simplified
from renovation.filters import Filters
from renovation.models import Community, RenovationItem, Street
from renovation.progress import NO_ITEMS, Progress, progress_by
from renovation.status import Status


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


def _decimals(zoom: int | None) -> int:
    return 6 if zoom is None or zoom >= 15 else 5


def communities_in_view(session: Session, bbox: BBox, *, zoom: int | None = None,
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
    bind = session.get_bind()
    table = Community.__table__
    if pilots_only or as_points:
        shape = as_geojson(bind, Community.location, 6)
    else:
        shape = as_geojson(bind, simplified(bind, Community.footprint, tolerance_for_zoom(zoom)),
                           _decimals(zoom))
    query = (sa.select(Community.id, Community.code, Community.name, Street.code,
                       Street.name_zh, Street.name_en, Community.is_pilot,
                       Community.is_district_pilot, Community.data_source, shape)
             .join(Street, Community.street)
             .where(bbox_filter(bind, table, table.c.footprint, bbox))
             .order_by(Community.id).limit(limit + 1))
    if pilots_only:
        query = query.where(Community.is_pilot, Community.location.is_not(None))
    if street_code:
        query = query.where(Street.code == street_code)
    query = query.where(*filters.community_clauses(today))
    rows = session.execute(query).all()
    truncated = len(rows) > limit
    rows = rows[:limit]
    progress = progress_by(session, Community.id, today=today,
                           where=[Community.id.in_([row[0] for row in rows]),
                                  *filters.item_clauses(today)]) if rows else {}
    found = [CommunityInView(*row[:9], geometry=json.loads(row[9]),
                             progress=progress.get(row[0], NO_ITEMS))
             for row in rows if row[9]]
    return found, truncated


def items_in_view(session: Session, bbox: BBox, *, zoom: int | None = None, limit: int = 5000,
                  kinds: list[str] | None = None, community_id: int | None = None,
                  filters: Filters | None = None,
                  today: dt.date | None = None) -> tuple[list[ItemInView], bool]:
    """Renovation items whose geometry meets `bbox`, optionally of some kinds or one community.

    `filters` select the items further (see :mod:`renovation.filters`).
    """
    today = today or dt.date.today()
    filters = filters or Filters()
    bind = session.get_bind()
    table = RenovationItem.__table__
    shape = as_geojson(bind, simplified(bind, RenovationItem.geometry, tolerance_for_zoom(zoom)),
                       _decimals(zoom))
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

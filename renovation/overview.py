"""What the district, street and community pages show: figures read from the database."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, defer, selectinload

from geo.spatialdb import as_geojson, simplified
from renovation.errors import NotFound
from renovation.models import Community, RenovationItem, Street, StreetSummary
from renovation.progress import DONE_STATUSES, NO_ITEMS, Progress, progress_by, total_progress


@dataclass(frozen=True)
class StreetRef:
    """What a list needs of a street: not its boundary, and not an ORM object (12,000 of
    those take longer to load than the page's queries)."""

    id: int
    code: str
    name_zh: str
    name_en: str
    data_source: str

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


@dataclass(frozen=True)
class StreetRow:
    street: Street | StreetRef
    progress: Progress
    communities: int
    communities_in_programme: int
    building_area_m2: float


@dataclass(frozen=True)
class CommunityRow:
    community: Community
    progress: Progress


@dataclass(frozen=True)
class DistrictOverview:
    streets: list[StreetRow]
    progress: Progress
    communities: int
    communities_in_programme: int
    building_area_m2: float
    pilots: list[Community]
    #: How many pilots there are, when `pilots` holds only the first of them.
    pilot_count: int | None = None

    @property
    def pilots_total(self) -> int:
        return len(self.pilots) if self.pilot_count is None else self.pilot_count


def district_overview(session: Session, *, today: dt.date | None = None,
                      pilot_limit: int | None = None) -> DistrictOverview:
    """Every street with its progress, and the district's totals.

    The sums come from the summary tables the triggers keep (renovation.summaries), so the
    page costs the same for 9 streets or 12,000; only the overdue counts, which depend on
    the day, are counted from the items not done (a partial index holds just those).
    """
    today = today or dt.date.today()
    overdue = dict(session.execute(
        sa.select(Community.street_id, sa.func.count())
        .select_from(RenovationItem).join(Community, RenovationItem.community)
        .where(RenovationItem.planned_end < today,
               RenovationItem.status.not_in(DONE_STATUSES))
        .group_by(Community.street_id)).all())
    query = (sa.select(Street.id, Street.code, Street.name_zh, Street.name_en,
                       Street.data_source, StreetSummary.items, StreetSummary.weight_sum,
                       StreetSummary.weighted_progress_sum, StreetSummary.done_items,
                       StreetSummary.communities, StreetSummary.communities_in_programme,
                       StreetSummary.building_area_m2)
             .outerjoin(StreetSummary, StreetSummary.street_id == Street.id)
             .order_by(Street.code))
    rows = []
    for (id_, code, name_zh, name_en, source, items, weights, weighted, done, communities,
         in_programme, area) in session.execute(query):
        progress = (Progress(round(weighted / weights, 1), items, done, overdue.get(id_, 0))
                    if items else NO_ITEMS)
        rows.append(StreetRow(StreetRef(id_, code, name_zh, name_en, source), progress,
                              communities or 0, in_programme or 0, float(area or 0.0)))
    pilots_query = (sa.select(Community).where(Community.is_pilot).order_by(Community.code)
                    .options(selectinload(Community.street), defer(Community.footprint)))
    pilot_count = session.scalar(sa.select(sa.func.count()).where(Community.is_pilot))
    pilots = session.scalars(pilots_query.limit(pilot_limit)).all()
    return DistrictOverview(
        streets=rows,
        progress=_sum_progress([r.progress for r in rows], session),
        communities=sum(r.communities for r in rows),
        communities_in_programme=sum(r.communities_in_programme for r in rows),
        building_area_m2=sum(r.building_area_m2 for r in rows),
        pilots=list(pilots),
        pilot_count=pilot_count,
    )


def _sum_progress(parts: list[Progress], session: Session) -> Progress:
    """The district's progress from the street summaries' weighted sums, not their percents."""
    sums = session.execute(sa.select(
        sa.func.sum(StreetSummary.weighted_progress_sum), sa.func.sum(StreetSummary.weight_sum),
        sa.func.sum(StreetSummary.items), sa.func.sum(StreetSummary.done_items))).one()
    weighted, weights, items, done = sums
    if not items:
        return NO_ITEMS
    return Progress(round(float(weighted) / float(weights), 1), int(items), int(done or 0),
                    sum(p.overdue for p in parts))


def get_street(session: Session, code: str) -> Street:
    street = session.scalar(sa.select(Street).where(Street.code == code))
    if street is None:
        raise NotFound(_l("There is no street with code %(code)s.", code=code))
    return street


def street_communities(session: Session, street: Street, *,
                       today: dt.date | None = None) -> list[CommunityRow]:
    """The street's communities with their progress, in code order."""
    by_community = progress_by(session, Community.id, today=today,
                               where=[Community.street_id == street.id])
    communities = session.scalars(sa.select(Community).where(Community.street_id == street.id)
                                  .order_by(Community.code)).all()
    return [CommunityRow(c, by_community.get(c.id, NO_ITEMS)) for c in communities]


#: Ids are 32-bit integers in both databases; a larger number names nothing.
MAX_ID = 2**31 - 1


def get_community(session: Session, community_id: int) -> Community:
    if not 0 < community_id <= MAX_ID:
        raise NotFound(_l("There is no community number %(id)s.", id=community_id))
    community = session.scalar(
        sa.select(Community).where(Community.id == community_id)
        .options(selectinload(Community.street), selectinload(Community.items)))
    if community is None:
        raise NotFound(_l("There is no community number %(id)s.", id=community_id))
    return community


def community_progress(session: Session, community: Community, *,
                       today: dt.date | None = None) -> Progress:
    return total_progress(session, today=today, where=[Community.id == community.id])


def streets_geojson(session: Session, *, tolerance_deg: float = 0.0) -> dict:
    """The streets as a GeoJSON FeatureCollection (for outlines drawn in the page)."""
    bind = session.get_bind()
    rows = session.execute(
        sa.select(Street.id, Street.code, Street.name_zh, Street.name_en,
                  as_geojson(bind, simplified(bind, Street.boundary, tolerance_deg), 5),
                  as_geojson(bind, Street.label_point, 5))
        .order_by(Street.code)).all()
    features = []
    for street_id, code, name_zh, name_en, boundary, label in rows:
        label_point = json.loads(label)["coordinates"] if label else None
        features.append({
            "type": "Feature", "id": street_id,
            "geometry": json.loads(boundary),
            "properties": {"code": code, "name_zh": name_zh, "name_en": name_en,
                           "label_point": label_point},
        })
    return {"type": "FeatureCollection", "features": features}


def district_bounds(session: Session) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) of all streets, or None when there are none."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        query = sa.select(sa.func.MbrMinX(sa.func.Extent(Street.boundary)),
                          sa.func.MbrMinY(sa.func.Extent(Street.boundary)),
                          sa.func.MbrMaxX(sa.func.Extent(Street.boundary)),
                          sa.func.MbrMaxY(sa.func.Extent(Street.boundary)))
    else:
        extent = sa.func.ST_Extent(Street.boundary)
        query = sa.select(sa.func.ST_XMin(extent), sa.func.ST_YMin(extent),
                          sa.func.ST_XMax(extent), sa.func.ST_YMax(extent))
    row = session.execute(query).one()
    return None if row[0] is None else tuple(float(v) for v in row)


def total_progress_of_street(session: Session, street: Street, *,
                             today: dt.date | None = None) -> Progress:
    return total_progress(session, today=today, where=[Community.street_id == street.id])


def footprint_geojson(session: Session, community: Community) -> dict | None:
    """The community's footprint as a GeoJSON geometry, or None if it has none."""
    text = session.scalar(sa.select(as_geojson(session.get_bind(), Community.footprint, 6))
                          .where(Community.id == community.id))
    return json.loads(text) if text else None

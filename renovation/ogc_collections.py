"""The collections the OGC API – Features endpoint serves: streets, communities, items and
the residents' pinned comments.

Each collection says which properties its features carry, which of them can be
filtered with a query parameter of the same name, and how to read them from the
database. Everything selective runs in SQL on both backends: the bounding box
through the spatial index (:func:`geo.spatialdb.bbox_filter`) and then an exact
``ST_Intersects``, the property and time filters, the count (``numberMatched``)
and the page (``ORDER BY id LIMIT OFFSET``). Features come out as GeoJSON
dictionaries in CRS84, written by the database; the web layer changes their CRS
and adds links. Nothing here touches a Flask request.

For the JSON answer in CRS84, the common case and the one GIS software pages
through, :meth:`Collection.page` hands back the features as GeoJSON text ready to
send: geometries are never parsed into Python, and ``numberMatched`` is counted
only when the page itself cannot tell it (a short page ends the selection). On
PostGIS the communities, the largest collection, come from one statement built
once per query shape: the database writes each feature's text but for its progress
figure, which is rounded here exactly as the pages round it.

A collection may have a ``scope``: conditions every feature meets, whatever the
client asks. The comments collection uses it to serve only what the public sees
(shown, not hidden by flags or a moderator, and pinned); it applies to counts,
pages, single features and the extent alike.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from geo.ogcapi import (
    CONFORMANCE,
    CRS84,
    GEOJSON,
    HTML,
    JSON,
    OPENAPI_JSON,
    SCHEMA_JSON,
    BBox,
    Interval,
    OgcApiError,
    epsg_uri,
    exception_schema,
    openapi_parameters,
    rfc3339,
)
from geo.spatialdb import as_geojson, bbox_filter, envelope, is_sqlite
from renovation.catalogue import BY_CODE, KINDS
from renovation.comments import support_counts
from renovation.models import (
    Community,
    OpenSpaceSession,
    RenovationItem,
    SessionComment,
    SessionTopic,
    Street,
    Visibility,
)
from renovation.overview import MAX_ID
from renovation.progress import NO_ITEMS, progress_by
from renovation.status import Status

#: The CRSs features can be asked for in; the first is where they are stored.
CRSS = (CRS84, epsg_uri(4326), epsg_uri(4490))
STORAGE_CRS = CRS84
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
#: Longest value a text filter takes: codes are far shorter.
MAX_FILTER_LENGTH = 64
#: Six decimals of a degree are about 0.1 m: what the data holds.
DECIMALS = 6
_TRUE, _FALSE = ("true", "1"), ("false", "0")


@dataclass(frozen=True)
class Property:
    """One property of a collection's features, as an OpenAPI 3.0 schema can say it."""

    name: str
    type: str  # string, integer, number or boolean
    description: str
    format: str | None = None  # date or date-time
    nullable: bool = False
    enum: tuple[str, ...] | None = None

    def schema(self) -> dict:
        found = {"type": self.type, "description": self.description}
        if self.format:
            found["format"] = self.format
        if self.enum:
            found["enum"] = [*self.enum, *([None] if self.nullable else [])]
        if self.nullable:
            found["nullable"] = True
        return found


@dataclass(frozen=True)
class Queryable:
    """A property the items can be filtered on: ``?name=value`` keeps the equal ones."""

    name: str
    column: object  # the SQL expression compared
    type: str  # string, integer (an id: 1 to MAX_ID) or boolean
    description: str
    enum: tuple[str, ...] | None = None

    def parse(self, text: str):
        """The value of the filter, checked; raise :class:`OgcApiError` if it cannot match."""
        if self.type == "boolean":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise OgcApiError(self.name, "must be true or false")
        if self.type == "integer":
            if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))
                    and 0 < int(text) <= MAX_ID):
                raise OgcApiError(self.name, f"must be a whole number from 1 to {MAX_ID}")
            return int(text)
        if self.enum is not None and text not in self.enum:
            raise OgcApiError(self.name, "must be one of " + ", ".join(self.enum))
        if len(text) > MAX_FILTER_LENGTH:
            raise OgcApiError(self.name, f"is longer than {MAX_FILTER_LENGTH} characters")
        return text

    def schema(self) -> dict:
        found = {"type": self.type, "description": self.description}
        if self.enum:
            found["enum"] = list(self.enum)
        if self.type == "integer":
            found.update(minimum=1, maximum=MAX_ID)
        return found


@dataclass(frozen=True)
class FeatureQuery:
    """What a client asked for: boxes in CRS84, a time interval, property filters."""

    bboxes: tuple[BBox, ...] = ()
    interval: Interval | None = None
    filters: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Page:
    """One page of features as GeoJSON text: the members of ``features``, comma-separated."""

    features_json: str
    returned: int
    matched: int


def to_json(value) -> str:
    """Compact JSON as the OGC API answers are written (UTF-8, not escaped to ASCII)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Extent:
    bbox: BBox | None
    interval: tuple[dt.datetime, dt.datetime] | None


@dataclass(frozen=True)
class Collection:
    """A feature collection: its metadata, its properties and how to read it."""

    id: str
    title: object  # lazy strings: in the reader's language when shown
    description: object
    model: type
    geometry_column: str
    temporal: object | None  # the column datetime filters on, if any
    properties: tuple[Property, ...]
    queryables: dict[str, Queryable]
    html_columns: tuple[str, ...]
    joins: tuple = field(default=())  # (entity, onclause) pairs reaching the filter columns
    # Conditions on the model's own columns every feature meets, whatever is asked.
    scope: tuple = field(default=())
    temporal_property: str = "updated_at"  # the property holding `temporal`'s value

    @property
    def property_names(self) -> list[str]:
        return [p.name for p in self.properties]

    # --- SQL ------------------------------------------------------------------------------------

    def _joined(self, statement):
        for entity, onclause in self.joins:
            statement = statement.join(entity, onclause)
        return statement

    def _where(self, bind, query: FeatureQuery) -> list:
        table = self.model.__table__
        column = table.c[self.geometry_column]
        clauses = list(self.scope)
        if query.bboxes:
            # The index narrows to boxes that meet the box; ST_Intersects keeps the shapes that do.
            clauses.append(sa.or_(*(
                sa.and_(bbox_filter(bind, table, column, box), _intersects(bind, column, box))
                for box in query.bboxes)))
        if query.interval is not None and self.temporal is not None:
            # SQLite keeps UTC wall time without an offset: compare in UTC on both backends.
            if query.interval.start is not None:
                clauses.append(self.temporal >= query.interval.start.astimezone(dt.UTC))
            if query.interval.end is not None:
                clauses.append(self.temporal <= query.interval.end.astimezone(dt.UTC))
        for name, value in query.filters:
            clauses.append(self.queryables[name].column == value)
        return clauses

    def count(self, session: Session, query: FeatureQuery) -> int:
        """How many features match `query` (``numberMatched``)."""
        statement = self._joined(sa.select(sa.func.count(self.model.id)).select_from(self.model))
        return session.execute(statement.where(*self._where(session.get_bind(), query))).scalar()

    def features(self, session: Session, query: FeatureQuery, *, limit: int, offset: int = 0,
                 lang: str = "zh") -> list[dict]:
        """One page of the features matching `query`, in id order."""
        return self._features(session, self._rows(session, query, limit, offset), lang)

    def _rows(self, session: Session, query: FeatureQuery, limit: int, offset: int) -> list:
        bind = session.get_bind()
        statement = (self._select(bind).where(*self._where(bind, query))
                     .order_by(self.model.id).limit(limit).offset(offset))
        return session.execute(statement).all()

    def matched(self, session: Session, query: FeatureQuery, *, limit: int, offset: int,
                returned: int) -> int:
        """``numberMatched`` for a page of `returned` features: counted only when needed.

        A page shorter than `limit` that is not past the end holds the last match,
        so the count is ``offset + returned``; only a full page (or an empty one
        beyond the end) needs the ``COUNT``, which on a large selection costs more
        than the page.
        """
        if returned < limit and (returned > 0 or offset == 0):
            return offset + returned
        return self.count(session, query)

    def page(self, session: Session, query: FeatureQuery, *, limit: int, offset: int = 0,
             lang: str = "zh") -> Page:
        """One page of the features matching `query` in CRS84, as GeoJSON text.

        The geometries go in as the database wrote them; only the properties are
        written here.
        """
        rows = self._rows(session, query, limit, offset)
        properties = self._properties(session, rows, lang)
        text = ",".join(f'{{"type":"Feature","id":{row[0]},"geometry":{row[1] or "null"},'
                        f'"properties":{to_json(props)}}}'
                        for row, props in zip(rows, properties, strict=True))
        matched = self.matched(session, query, limit=limit, offset=offset, returned=len(rows))
        return Page(text, len(rows), matched)

    def feature(self, session: Session, feature_id: int, lang: str = "zh") -> dict | None:
        """The feature `feature_id`, or None."""
        statement = self._select(session.get_bind()).where(self.model.id == feature_id,
                                                           *self.scope)
        found = self._features(session, session.execute(statement).all(), lang)
        return found[0] if found else None

    def extent(self, session: Session) -> Extent:
        """The box around all geometries and the span of the update times."""
        bind = session.get_bind()
        column = getattr(self.model, self.geometry_column)
        # Per geometry, exactly: PostGIS's ST_Extent works on float4 boxes, a few metres out.
        if is_sqlite(bind):
            edges = (sa.func.MbrMinX, sa.func.MbrMinY, sa.func.MbrMaxX, sa.func.MbrMaxY)
        else:
            edges = (sa.func.ST_XMin, sa.func.ST_YMin, sa.func.ST_XMax, sa.func.ST_YMax)
        corners = (sa.func.min(edges[0](column)), sa.func.min(edges[1](column)),
                   sa.func.max(edges[2](column)), sa.func.max(edges[3](column)))
        bbox = session.execute(sa.select(*corners).where(*self.scope)).one()
        interval = None
        if self.temporal is not None:
            interval = session.execute(
                sa.select(sa.func.min(self.temporal), sa.func.max(self.temporal))
                .where(*self.scope)).one()
        return Extent(None if bbox[0] is None else tuple(float(v) for v in bbox),
                      None if interval is None or interval[0] is None else tuple(interval))

    def _select(self, bind):
        geometry = as_geojson(bind, getattr(self.model, self.geometry_column), DECIMALS)
        return self._joined(sa.select(self.model.id, geometry, *self._columns())
                            .select_from(self.model))

    def _features(self, session: Session, rows, lang: str) -> list[dict]:
        properties = self._properties(session, rows, lang)
        return [{"type": "Feature", "id": row[0],
                 "geometry": json.loads(row[1]) if row[1] else None,
                 "properties": props} for row, props in zip(rows, properties, strict=True)]

    # Each collection fills these two in.
    def _columns(self) -> list:
        raise NotImplementedError

    def _properties(self, session: Session, rows, lang: str) -> list[dict]:
        raise NotImplementedError


def _intersects(bind, column, box: BBox):
    """Exact intersection with `box`: PostGIS answers a boolean, SpatiaLite 1, 0 or -1."""
    test = sa.func.ST_Intersects(column, envelope(bind, box))
    return test == 1 if is_sqlite(bind) else test


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _number(value) -> float | None:
    return float(value) if value is not None else None


class StreetCollection(Collection):
    def _columns(self) -> list:
        return [Street.code, Street.name_zh, Street.name_en, Street.data_source]

    def _properties(self, session: Session, rows, lang: str) -> list[dict]:
        ids = [row[0] for row in rows]
        progress = progress_by(session, Community.street_id,
                               where=[Community.street_id.in_(ids)]) if ids else {}
        counts = (sa.select(Community.street_id, sa.func.count(Community.id))
                  .where(Community.street_id.in_(ids)).group_by(Community.street_id))
        communities = dict(session.execute(counts).all()) if ids else {}
        found = []
        for street_id, _geometry, code, name_zh, name_en, data_source in rows:
            street_progress = progress.get(street_id, NO_ITEMS)
            found.append({"code": code, "name": name_zh, "name_en": name_en,
                          "communities": int(communities.get(street_id, 0)),
                          "progress": street_progress.percent, "items": street_progress.items,
                          "data_source": data_source})
        return found


class CommunityCollection(Collection):
    def _columns(self) -> list:
        return [Community.code, Community.name, Street.code, Street.name_zh, Street.name_en,
                Community.year_built, Community.building_area_m2, Community.households,
                Community.building_count, Community.is_pilot, Community.data_source,
                Community.updated_at]

    def _properties(self, session: Session, rows, lang: str) -> list[dict]:
        ids = [row[0] for row in rows]
        progress = progress_by(session, Community.id,
                               where=[Community.id.in_(ids)]) if ids else {}
        found = []
        for (community_id, _geometry, code, name, street_code, street_zh, street_en, year_built,
             area, households, buildings, is_pilot, data_source, updated_at) in rows:
            community_progress = progress.get(community_id, NO_ITEMS)
            found.append({
                "code": code, "name": name, "street_code": street_code,
                "street_name": street_en if lang == "en" else street_zh,
                "progress": community_progress.percent, "items": community_progress.items,
                "year_built": year_built, "building_area_m2": _number(area),
                "households": households, "building_count": buildings,
                "is_pilot": bool(is_pilot), "data_source": data_source,
                "updated_at": rfc3339(updated_at)})
        return found

    def page(self, session: Session, query: FeatureQuery, *, limit: int, offset: int = 0,
             lang: str = "zh") -> Page:
        """On PostGIS, one statement: the database writes each feature but its progress.

        Progress is rounded here from the database's weighted sums, as
        :func:`renovation.progress.progress_by` rounds it, so the figure is the
        pages' to the last digit; splicing it in is all the per-feature work.
        """
        bind = session.get_bind()
        if is_sqlite(bind):
            return super().page(session, query, limit=limit, offset=offset, lang=lang)
        statement = _community_page_statement(
            len(query.bboxes), query.interval is not None and query.interval.start is not None,
            query.interval is not None and query.interval.end is not None,
            tuple(name for name, _ in query.filters), "en" if lang == "en" else "zh")
        rows = session.execute(statement, _parameters(query, limit=limit, offset=offset)).all()
        features = []
        for community_id, geometry, head, tail, weighted, weights, items in rows:
            percent = round(float(weighted) / float(weights), 1) if items else None
            features.append(f'{{"type":"Feature","id":{community_id},"geometry":'
                            f'{geometry or "null"},"properties":{head[:-1]}, "progress" : '
                            f'{to_json(percent)}, "items" : {items}, {tail[1:]}}}')
        matched = self.matched(session, query, limit=limit, offset=offset, returned=len(rows))
        return Page(",".join(features), len(rows), matched)


# --- The communities' page on PostGIS: one statement per query shape, values bound ------------

#: The catalogue's effort weights as :func:`renovation.progress.weight_of_kind` gives them
#: (an unknown kind weighs 1); the codes are plain identifiers, safe inside SQL text.
KIND_WEIGHTS = {kind.code: int(kind.weight) for kind in KINDS}
if not all(code.isidentifier() for code in KIND_WEIGHTS):
    raise ValueError("kind codes must be plain identifiers: they are written into SQL text")
_STATEMENTS: dict[tuple, sa.Select] = {}
_STATEMENTS_LOCK = threading.Lock()


def _parameters(query: FeatureQuery, *, limit: int, offset: int) -> dict:
    """The values of a statement from :func:`_community_page_statement` for `query`."""
    values: dict[str, object] = {"page_limit": limit, "page_offset": offset}
    for i, box in enumerate(query.bboxes):
        values.update(zip((f"minx{i}", f"miny{i}", f"maxx{i}", f"maxy{i}"), box, strict=True))
    if query.interval is not None:
        if query.interval.start is not None:
            values["start"] = query.interval.start.astimezone(dt.UTC)
        if query.interval.end is not None:
            values["end"] = query.interval.end.astimezone(dt.UTC)
    values.update({f"filter_{name}": value for name, value in query.filters})
    return values


def _key(name: str):
    """A JSON key as SQL text: our own constant names, never a client's."""
    return sa.literal_column(f"'{name}'")


def _json_object(*pairs) -> sa.ColumnElement:
    """``json_build_object(...)::text`` of (key, SQL value) pairs."""
    return sa.cast(sa.func.json_build_object(*(part for key, value in pairs
                                               for part in (_key(key), value))), sa.Text)


def _rfc3339_sql(column) -> sa.ColumnElement:
    """`column` (timestamptz) as :func:`geo.ogcapi.rfc3339` writes it: UTC, ``Z``,
    microseconds only when there are any."""
    utc = sa.func.timezone(sa.literal_column("'UTC'"), column)
    seconds = sa.func.to_char(utc, sa.literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS'"))
    fraction = sa.case((sa.func.date_trunc(sa.literal_column("'second'"), column) == column,
                        sa.literal_column("''")),
                       else_=sa.func.to_char(utc, sa.literal_column("'.US'")))
    return seconds.concat(fraction).concat(sa.literal_column("'Z'"))


def _community_page_statement(boxes: int, start: bool, end: bool, filters: tuple[str, ...],
                              lang: str) -> sa.Select:
    """The page statement for a query of this shape, built once and kept: building
    SQLAlchemy expressions costs more per request than running them."""
    key = (boxes, start, end, filters, lang)
    with _STATEMENTS_LOCK:
        if key in _STATEMENTS:
            return _STATEMENTS[key]
    footprint = Community.footprint
    where = []
    if boxes:
        envelopes = [sa.func.ST_MakeEnvelope(*(sa.bindparam(f"{edge}{i}", type_=sa.Float)
                                               for edge in ("minx", "miny", "maxx", "maxy")),
                                             4326) for i in range(boxes)]
        where.append(sa.or_(*(sa.and_(footprint.op("&&")(e), sa.func.ST_Intersects(footprint, e))
                              for e in envelopes)))
    timestamp = sa.DateTime(timezone=True)
    if start:
        where.append(Community.updated_at >= sa.bindparam("start", type_=timestamp))
    if end:
        where.append(Community.updated_at <= sa.bindparam("end", type_=timestamp))
    for name in filters:
        column = COMMUNITIES.queryables[name].column
        where.append(column == sa.bindparam(f"filter_{name}", type_=column.type))
    page = (sa.select(Community.id).select_from(Community).join(Street, Community.street)
            .where(*COMMUNITIES.scope, *where).order_by(Community.id)
            .limit(sa.bindparam("page_limit", type_=sa.Integer))
            .offset(sa.bindparam("page_offset", type_=sa.Integer)).subquery("page"))
    # The weight looked up in a JSON object: a CASE over every kind, twice per item, costs
    # more than the rest of the statement on a page of 1,000 communities.
    weights = sa.literal_column(f"'{to_json(KIND_WEIGHTS)}'::jsonb")
    weight = sa.func.coalesce(sa.cast(weights.op("->>")(RenovationItem.kind), sa.Integer),
                              sa.literal_column("1"))
    progress = (sa.select(
        sa.func.sum(weight * RenovationItem.progress_pct).label("weighted"),
        sa.func.sum(weight).label("weights"),
        sa.func.count(RenovationItem.id).label("item_count"))
        .where(RenovationItem.community_id == Community.id).lateral("progress"))
    head = _json_object(("code", Community.code), ("name", Community.name),
                        ("street_code", Street.code),
                        ("street_name", Street.name_en if lang == "en" else Street.name_zh))
    tail = _json_object(("year_built", Community.year_built),
                        ("building_area_m2", Community.building_area_m2),
                        ("households", Community.households),
                        ("building_count", Community.building_count),
                        ("is_pilot", Community.is_pilot), ("data_source", Community.data_source),
                        ("updated_at", _rfc3339_sql(Community.updated_at)))
    statement = (sa.select(Community.id, sa.func.ST_AsGeoJSON(footprint, DECIMALS), head, tail,
                           progress.c.weighted, progress.c.weights, progress.c.item_count)
                 .select_from(page).join(Community, Community.id == page.c.id)
                 .join(Street, Community.street).join(progress, sa.true())
                 .order_by(Community.id))
    with _STATEMENTS_LOCK:
        return _STATEMENTS.setdefault(key, statement)


class ItemCollection(Collection):
    def _columns(self) -> list:
        return [Community.code, Community.name, Street.code, RenovationItem.kind,
                RenovationItem.title, RenovationItem.status, RenovationItem.progress_pct,
                RenovationItem.quantity, RenovationItem.unit, RenovationItem.planned_start,
                RenovationItem.planned_end, RenovationItem.actual_start, RenovationItem.actual_end,
                RenovationItem.version, RenovationItem.updated_at]

    def _properties(self, session: Session, rows, lang: str) -> list[dict]:
        found = []
        for (_id, _geometry, community_code, community_name, street_code, kind, title, status,
             progress, quantity, unit, planned_start, planned_end, actual_start, actual_end,
             version, updated_at) in rows:
            item_kind = BY_CODE.get(kind)
            found.append({
                "community_code": community_code, "community_name": community_name,
                "street_code": street_code, "kind": kind,
                "kind_name": item_kind.name(lang) if item_kind else kind,
                "title": title, "status": status.value, "status_name": status.label(lang),
                "progress": progress, "quantity": _number(quantity), "unit": unit,
                "planned_start": _date(planned_start), "planned_end": _date(planned_end),
                "actual_start": _date(actual_start), "actual_end": _date(actual_end),
                "version": version, "updated_at": rfc3339(updated_at)})
        return found


class CommentCollection(Collection):
    """Residents' pinned comments as the public sees them: the text, where, in which session
    and topic, and what kind of author (never who: no names, no accounts)."""

    def _columns(self) -> list:
        # The speaker's name is never read: only whether there is one.
        return [SessionComment.session_id, OpenSpaceSession.title, Community.code,
                Community.name, Street.code, SessionTopic.title, SessionComment.body,
                SessionComment.is_official, SessionComment.speaker_name.is_not(None),
                SessionComment.author_id == OpenSpaceSession.facilitator_id,
                SessionComment.created_at]

    def _properties(self, session: Session, rows, lang: str) -> list[dict]:
        supports = support_counts(session, [row[0] for row in rows])
        found = []
        for (comment_id, _geometry, session_id, session_title, community_code, community_name,
             street_code, topic_title, body, is_official, typed_in, by_facilitator,
             created_at) in rows:
            kind = ("official" if is_official else "attendee" if typed_in
                    else "facilitator" if by_facilitator else "resident")
            found.append({
                "session": session_id, "session_title": session_title,
                "community_code": community_code, "community_name": community_name,
                "street_code": street_code, "topic_title": topic_title, "text": body,
                "author_kind": kind, "author_kind_name": str(AUTHOR_KINDS[kind]),
                "supports": int(supports.get(comment_id, 0)),
                # The text is never changed (the database refuses it): updated is created.
                "created_at": rfc3339(created_at), "updated_at": rfc3339(created_at)})
        return found


#: How the session page presents a comment's author, without saying who.
AUTHOR_KINDS = {
    "resident": _l("Resident"),
    "official": _l("Official answer"),
    "attendee": _l("Said at the session by an attendee"),
    "facilitator": _l("Facilitator"),
}
_KIND_CODES = tuple(kind.code for kind in KINDS)
_STATUSES = tuple(status.value for status in Status)
_UPDATED = Property("updated_at", "string", "When the record last changed (UTC); the "
                    "datetime parameter filters on it.", format="date-time")
_DATA_SOURCE = Property("data_source", "string", "Where the geometry came from: official, "
                        "imported, or generated for the demo (not surveyed).",
                        enum=("official", "imported", "generated"))
_STREET_CODE = "The street's 12-digit administrative code."

STREETS = StreetCollection(
    id="streets", title=_l("Streets"),
    description=_l("The streets (subdistricts) of the district with their boundaries and "
                   "the renovation progress of their communities."),
    model=Street, geometry_column="boundary", temporal=None,
    properties=(
        Property("code", "string", _STREET_CODE),
        Property("name", "string", "The street's name in Chinese."),
        Property("name_en", "string", "The street's name in English."),
        Property("communities", "integer", "How many communities of the street are recorded."),
        Property("progress", "number", "Per cent of the renovation work done in the street, "
                 "weighted by the effort of each kind of item; null when it has no items.",
                 nullable=True),
        Property("items", "integer", "How many renovation items the street has."),
        _DATA_SOURCE,
    ),
    queryables={"code": Queryable("code", Street.code, "string", _STREET_CODE)},
    html_columns=("code", "name", "name_en", "communities", "progress", "items"),
)

COMMUNITIES = CommunityCollection(
    id="communities", title=_l("Communities"),
    description=_l("Communities and residential compounds in the renovation programme, "
                   "with their footprints and how far their renovation has got."),
    model=Community, geometry_column="footprint", temporal=Community.updated_at,
    joins=((Street, Community.street),),
    properties=(
        Property("code", "string", "The community's code."),
        Property("name", "string", "The community's name."),
        Property("street_code", "string", _STREET_CODE),
        Property("street_name", "string", "The street's name in the language asked for (lang)."),
        Property("progress", "number", "Per cent of the renovation work done, weighted by the "
                 "effort of each kind of item; null when the community has no items (not in "
                 "the programme).", nullable=True),
        Property("items", "integer", "How many renovation items the community has."),
        Property("year_built", "integer", "The year the buildings were built.", nullable=True),
        Property("building_area_m2", "number", "Floor area of the buildings in square metres.",
                 nullable=True),
        Property("households", "integer", "Number of households.", nullable=True),
        Property("building_count", "integer", "Number of buildings.", nullable=True),
        Property("is_pilot", "boolean", "Whether the community is its street's pilot."),
        _DATA_SOURCE,
        _UPDATED,
    ),
    queryables={
        "code": Queryable("code", Community.code, "string", "The community's code."),
        "street_code": Queryable("street_code", Street.code, "string", _STREET_CODE),
        "is_pilot": Queryable("is_pilot", Community.is_pilot, "boolean",
                              "true: only pilot communities; false: only the others."),
    },
    html_columns=("code", "name", "street_name", "progress", "items", "is_pilot"),
)

ITEMS = ItemCollection(
    id="items", title=_l("Renovation items"),
    description=_l("Renovation items (lift retrofits, pipe runs, parking areas…) with their "
                   "kind, status and progress."),
    model=RenovationItem, geometry_column="geometry", temporal=RenovationItem.updated_at,
    joins=((Community, RenovationItem.community), (Street, Community.street)),
    properties=(
        Property("community_code", "string", "The code of the item's community."),
        Property("community_name", "string", "The name of the item's community."),
        Property("street_code", "string", _STREET_CODE),
        Property("kind", "string", "The kind of item, from the national three-tier "
                 "classification.", enum=_KIND_CODES),
        Property("kind_name", "string", "The kind's name in the language asked for (lang)."),
        Property("title", "string", "What the item is."),
        Property("status", "string", "Where the item stands.", enum=_STATUSES),
        Property("status_name", "string", "The status in the language asked for (lang)."),
        Property("progress", "integer", "Per cent done, 0 to 100."),
        Property("quantity", "number", "How much: metres of pipe, lifts, parking spaces…",
                 nullable=True),
        Property("unit", "string", "The unit of quantity.", nullable=True),
        Property("planned_start", "string", "Planned start.", format="date", nullable=True),
        Property("planned_end", "string", "Planned end.", format="date", nullable=True),
        Property("actual_start", "string", "Actual start.", format="date", nullable=True),
        Property("actual_end", "string", "Actual end.", format="date", nullable=True),
        Property("version", "integer", "Goes up by one with every change."),
        _UPDATED,
    ),
    queryables={
        "street_code": Queryable("street_code", Street.code, "string", _STREET_CODE),
        "community_code": Queryable("community_code", Community.code, "string",
                                    "The code of the item's community."),
        "kind": Queryable("kind", RenovationItem.kind, "string", "The kind of item.",
                          enum=_KIND_CODES),
        "status": Queryable("status", RenovationItem.status, "string", "The item's status.",
                            enum=_STATUSES),
    },
    html_columns=("community_name", "kind_name", "title", "status_name", "progress",
                  "planned_end"),
)

COMMENTS = CommentCollection(
    id="comments", title=_l("Pinned comments"),
    description=_l("What residents said in open-space sessions and pinned to the map, as "
                   "the session pages show it: comments hidden by flags or by a moderator "
                   "are left out."),
    model=SessionComment, geometry_column="location", temporal=SessionComment.created_at,
    temporal_property="created_at",
    joins=((OpenSpaceSession, SessionComment.session), (SessionTopic, SessionComment.topic),
           (Community, OpenSpaceSession.community), (Street, Community.street)),
    scope=(SessionComment.location.is_not(None),
           SessionComment.visibility == Visibility.VISIBLE),
    properties=(
        Property("session", "integer", "The id of the open-space session the comment was "
                 "made in."),
        Property("session_title", "string", "The session's title."),
        Property("community_code", "string", "The code of the session's community."),
        Property("community_name", "string", "The name of the session's community."),
        Property("street_code", "string", _STREET_CODE),
        Property("topic_title", "string", "The title of the topic the comment is under."),
        Property("text", "string", "The comment as its author wrote it: plain text, not "
                 "escaped (escape it before putting it into HTML)."),
        Property("author_kind", "string", "Who spoke, as the session page shows it: a "
                 "resident, an official answer, an attendee whose words the facilitator "
                 "typed in, or the facilitator. Never a name.", enum=tuple(AUTHOR_KINDS)),
        Property("author_kind_name", "string", "author_kind in the language asked for (lang)."),
        Property("supports", "integer", "How many residents support the comment."),
        Property("created_at", "string", "When the comment was posted (UTC); the datetime "
                 "parameter filters on it.", format="date-time"),
        Property("updated_at", "string", "The same as created_at: a comment's text is never "
                 "changed.", format="date-time"),
    ),
    queryables={
        "street_code": Queryable("street_code", Street.code, "string", _STREET_CODE),
        "community_code": Queryable("community_code", Community.code, "string",
                                    "The code of the session's community."),
        "session": Queryable("session", SessionComment.session_id, "integer",
                             "The id of the open-space session."),
    },
    html_columns=("session_title", "topic_title", "author_kind_name", "text", "supports",
                  "created_at"),
)

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (STREETS, COMMUNITIES, ITEMS, COMMENTS)}


# --- Schemas and the OpenAPI document -------------------------------------------------------------

def properties_schema(collection: Collection) -> dict:
    """The schema of a feature's ``properties`` (OpenAPI 3.0 dialect: ``nullable``)."""
    return {"type": "object", "required": collection.property_names,
            "properties": {p.name: p.schema() for p in collection.properties}}


_GEOMETRY = {"type": "object", "nullable": True, "required": ["type"],
             "description": "A GeoJSON geometry in the CRS of the Content-Crs header.",
             "properties": {"type": {"type": "string"},
                            "coordinates": {"type": "array", "items": {}},
                            "geometries": {"type": "array", "items": {"type": "object"}}}}


def feature_schema(collection: Collection, *, schema_id: str | None = None) -> dict:
    """The schema of one GeoJSON feature of `collection`.

    Served as the collection's ``describedby`` document: GDAL reads the field types
    from it (a date-time string becomes a DateTime field). It is an OpenAPI 3.0
    schema object, the same the OpenAPI document uses, so nullable properties say
    ``nullable: true`` with a single type.
    """
    found = {"title": str(collection.title), "type": "object",
             "required": ["type", "id", "geometry", "properties"],
             "properties": {"type": {"type": "string", "enum": ["Feature"]},
                            "id": {"type": "integer", "minimum": 1},
                            "geometry": _GEOMETRY,
                            "properties": properties_schema(collection)}}
    if schema_id:
        found = {"$id": schema_id, **found}
    return found


def queryables_schema(collection: Collection, schema_id: str) -> dict:
    """The queryables of `collection` as JSON Schema (OGC API – Features – Part 3 style)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id,
            "type": "object", "title": str(collection.title),
            "properties": {q.name: q.schema() for q in collection.queryables.values()},
            "additionalProperties": False}


_EXCEPTION = {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}


def _responses(content: dict[str, dict], *, not_found: bool = False) -> dict:
    responses = {"200": {"description": "OK", "content": content},
                 "400": {"description": "A query parameter is not valid.", "content": _EXCEPTION}}
    if not_found:
        responses["404"] = {"description": "No such resource.", "content": _EXCEPTION}
    return responses


def _operation(operation_id: str, summary: str, parameters: list, content: dict, *,
               not_found: bool = False, headers: dict | None = None) -> dict:
    responses = _responses(content, not_found=not_found)
    if headers:
        responses["200"]["headers"] = headers
    return {"get": {"operationId": operation_id, "summary": summary, "parameters": parameters,
                    "responses": responses}}


def openapi_document(server_url: str, title: str, description: str) -> dict:
    """The OpenAPI 3.0 document of the OGC API under `server_url` (service-desc)."""
    def ref(name: str) -> dict:
        return {"$ref": f"#/components/parameters/{name}"}

    common = [ref("f"), ref("lang")]
    json_or_html = {JSON: {"schema": {"type": "object"}}, HTML: {"schema": {"type": "string"}}}
    content_crs = {"Content-Crs": {"description": "The CRS of the coordinates, as <URI>.",
                                   "schema": {"type": "string"}}}
    paths = {
        "/": _operation("getLandingPage", "Landing page", common, json_or_html),
        "/conformance": _operation("getConformance", "Conformance classes", common,
                                   json_or_html),
        "/api": _operation("getApi", "This document", common,
                           {OPENAPI_JSON: {"schema": {"type": "object"}},
                            HTML: {"schema": {"type": "string"}}}),
        "/collections": _operation("getCollections", "The collections", common, json_or_html),
    }
    schemas = {"exception": exception_schema()}
    parameters = openapi_parameters(CRSS, limit_default=DEFAULT_LIMIT, limit_maximum=MAX_LIMIT)
    parameters["lang"] = {"name": "lang", "in": "query", "required": False,
                          "description": "The language of names and messages.",
                          "schema": {"type": "string", "enum": ["zh", "en"]}}
    for c in COLLECTIONS.values():
        base = f"/collections/{c.id}"
        schemas[f"{c.id}Feature"] = feature_schema(c)
        schemas[f"{c.id}FeatureCollection"] = {
            "type": "object", "required": ["type", "features"],
            "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                           "features": {"type": "array",
                                        "items": {"$ref": f"#/components/schemas/{c.id}Feature"}},
                           "numberMatched": {"type": "integer", "minimum": 0},
                           "numberReturned": {"type": "integer", "minimum": 0},
                           "timeStamp": {"type": "string", "format": "date-time"},
                           "links": {"type": "array", "items": {"type": "object"}}}}
        filters = [{"name": q.name, "in": "query", "required": False,
                    "description": q.description, "schema": q.schema()}
                   for q in c.queryables.values()]
        datetime = ref("datetime")
        if c.temporal is None:
            datetime = {**parameters["datetime"],
                        "description": f"The {c.id} have no update time: datetime is accepted "
                                       "and keeps every feature."}
        elif c.temporal_property != "updated_at":
            datetime = {**parameters["datetime"],
                        "description": parameters["datetime"]["description"]
                        + f" Filters the {c.id} on {c.temporal_property}."}
        items_parameters = [ref("bbox"), ref("bbox-crs"), datetime, ref("limit"),
                            ref("offset"), ref("crs"), *filters, *common]
        paths[base] = _operation(f"describe_{c.id}", f"The {c.id} collection", common,
                                 json_or_html, not_found=True)
        paths[f"{base}/items"] = _operation(
            f"get_{c.id}", f"Features of the {c.id} collection", items_parameters,
            {GEOJSON: {"schema": {"$ref": f"#/components/schemas/{c.id}FeatureCollection"}},
             HTML: {"schema": {"type": "string"}}}, headers=content_crs)
        paths[f"{base}/items/{{featureId}}"] = _operation(
            f"get_{c.id}_feature", f"One feature of the {c.id} collection",
            [ref("featureId"), ref("crs"), *common],
            {GEOJSON: {"schema": {"$ref": f"#/components/schemas/{c.id}Feature"}},
             HTML: {"schema": {"type": "string"}}}, not_found=True, headers=content_crs)
        paths[f"{base}/queryables"] = _operation(
            f"get_{c.id}_queryables", f"Properties of {c.id} to filter on", common,
            {SCHEMA_JSON: {"schema": {"type": "object"}}}, not_found=True)
        paths[f"{base}/schema"] = _operation(
            f"get_{c.id}_schema", f"The schema of a {c.id} feature", common,
            {SCHEMA_JSON: {"schema": {"type": "object"}}}, not_found=True)
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "description": description, "version": "1.0.0",
                 "license": {"name": "MIT"}},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"parameters": parameters, "schemas": schemas},
    }


def conformance_classes(names: Sequence[str] = ("core", "oas30", "html", "geojson", "crs")
                        ) -> list[str]:
    return [CONFORMANCE[name] for name in names]

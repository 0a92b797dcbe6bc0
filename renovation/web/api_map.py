"""GeoJSON of what is in view, fetched by the maps as they move (``/api/map/...``).

``/api/map/communities`` answers in one of three shapes, by zoom and density:
footprints from zoom 14; below it a dot per community, or, when the view holds
more than :data:`renovation.mapdata.MAX_DOTS` communities (a city, the country),
a point per street or per grid cell of streets with their figures
(``"aggregated": true``). With ``lean=1`` (what the maps ask for) a community
carries only what drawing needs: its id, tooltip text and a style key into the
collection's ``styles``; its popup comes from ``/api/map/communities/<id>`` when
clicked, so the bytes of a view do not grow with the text of its popups.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import json
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, request, url_for
from flask_babel import gettext as _

from geo import gcj02
from geo.bbox import pad, parse_bbox
from renovation import mapdata
from renovation.errors import DomainError, NotFound
from renovation.filters import Filters
from renovation.i18n import locale_code
from renovation.models import DataSource
from renovation.overview import MAX_ID
from renovation.progress import PROGRESS_CLASSES, colour_for
from renovation.web import db_reader, whole_number
from renovation.web.features import (
    PILOT_STROKE,
    community_feature,
    display_geometry,
    item_feature,
    percent_text,
)

bp = Blueprint("api_map", __name__, url_prefix="/api/map")

DISPLAY_CRSS = ("wgs84", "gcj02")
#: Below this zoom a compound is a few pixels wide: communities are drawn as dots.
FOOTPRINT_MIN_ZOOM = 14


def _view_arguments():
    """bbox (in EPSG:4326), zoom and display CRS from the query string, checked."""
    try:
        bbox = parse_bbox(request.args.get("bbox"))
    except ValueError as error:
        raise DomainError(
            _("The map view is not valid: %(reason)s.", reason=str(error))) from None
    zoom_text = request.args.get("zoom")
    zoom = None
    if zoom_text is not None:
        zoom = whole_number(zoom_text, maximum=30)
        if zoom is None:
            raise DomainError(_("zoom must be a whole number from 0 to 30."))
    display_crs = request.args.get("display", "wgs84")
    if display_crs not in DISPLAY_CRSS:
        raise DomainError(_("display must be one of: %(names)s.", names=", ".join(DISPLAY_CRSS)))
    if display_crs == "gcj02":
        # The view is drawn in GCJ-02; the data is in WGS84. The offset is under a
        # kilometre, so converting the corners and padding by 0.01 degrees covers it.
        (minx, maxx), (miny, maxy) = gcj02.gcj02_to_wgs84([bbox[0], bbox[2]], [bbox[1], bbox[3]])
        bbox = pad((float(minx), float(miny), float(maxx), float(maxy)), 0.01)
    return bbox, zoom, display_crs


def _collection(features: list[dict], truncated: bool, **members):
    body = {"type": "FeatureCollection", "features": features, "truncated": truncated,
            **members}
    response = current_app.response_class(
        current_app.json.dumps(body), mimetype="application/geo+json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/communities")
def communities():
    bbox, zoom, display_crs = _view_arguments()
    # street, kind, status, built_from, built_to, pilot, overdue: see renovation.filters
    filters = Filters.from_args(request.args)
    pilots_only = request.args.get("pilots") == "1"
    lean = request.args.get("lean") == "1"
    db = db_reader()
    as_points = zoom is not None and zoom < FOOTPRINT_MIN_ZOOM
    streets = mapdata.crowded_streets(db, bbox, filters=filters) if as_points else None
    if streets is not None:
        if pilots_only:  # the stars come back with the dots, closer in
            return _collection([], True, aggregated=True)
        areas = mapdata.areas_in_view(db, bbox, zoom, filters=filters, streets=streets)
        text = _AreaText()
        return _collection([_area_feature(a, text, display_crs) for a in areas], False,
                           aggregated=True)
    limit = current_app.config["MAX_FEATURES_PER_REQUEST"]
    if lean:
        found, truncated = mapdata.lean_communities_in_view(
            db, bbox, zoom=zoom, limit=limit, pilots_only=pilots_only,
            as_points=as_points, filters=filters)
        return _lean_collection(found, truncated, filters, display_crs)
    found, truncated = mapdata.communities_in_view(
        db, bbox, zoom=zoom, limit=limit, pilots_only=pilots_only, as_points=as_points,
        filters=filters)
    lang = locale_code()
    return _collection([community_feature(c, lang, display_crs) for c in found], truncated)


def _lean_collection(found: list[mapdata.LeanCommunity], truncated: bool, filters: Filters,
                     display_crs: str):
    """The FeatureCollection of lean communities, written as text around the database's
    GeoJSON geometries: parsing and writing them again would be most of the request's time.
    """
    detail = url_for("api_map.community", community_id=0)[:-1] + "{id}"
    if not filters.is_empty:
        detail += "?" + urlencode(filters.to_args())
    not_in_programme = None  # translated only if a community needs it
    parts = []
    for c in found:
        geometry = c.geometry
        if display_crs != "wgs84":
            geometry = json.dumps(display_geometry(json.loads(geometry), display_crs))
        if c.percent is not None:
            percent = f"{c.percent:.0f}%"
        else:
            percent = not_in_programme = not_in_programme or percent_text(None)
        label = _json_string(f"{c.name} · {percent}")
        parts.append(f'{{"type":"Feature","id":{c.id:d},"geometry":{geometry},'
                     f'"properties":{{"id":{c.id:d},"label":{label},"s":"{_style_key(c)}"}}}}')
    body = (f'{{"type":"FeatureCollection","truncated":{"true" if truncated else "false"},'
            f'"detail":{json.dumps(detail)},"styles":{_lean_styles_json()},'
            f'"features":[{",".join(parts)}]}}')
    response = current_app.response_class(body, mimetype="application/geo+json")
    response.headers["Cache-Control"] = "no-store"
    return response


_LOWER_BOUNDS = [lower for lower, _colour in PROGRESS_CLASSES]
#: A str as a JSON string (quotes, backslashes and control characters escaped), in C.
_json_string = json.encoder.encode_basestring


def _style_key(c: mapdata.LeanCommunity) -> str:
    """Progress class (0-4, or n: not in the programme), then p for a pilot, g generated."""
    percent = c.percent
    key = "n" if percent is None else str(bisect.bisect_right(_LOWER_BOUNDS, percent) - 1)
    generated = c.data_source == DataSource.GENERATED
    return key + ("p" if c.is_pilot else "") + ("g" if generated else "")


@functools.cache
def _lean_styles_json() -> str:
    """Every style a lean community may name: the drawing half of :func:`community_feature`."""
    return json.dumps(_lean_styles())


def _lean_styles() -> dict[str, dict]:
    styles = {}
    for key, percent in [("n", None)] + [(str(i), float(lower))
                                         for i, lower in enumerate(_LOWER_BOUNDS)]:
        for pilot in ("", "p"):
            for generated in ("", "g"):
                styles[key + pilot + generated] = {
                    "fill": colour_for(percent),
                    "stroke": PILOT_STROKE if pilot else "#555555",
                    "stroke_width": 3 if pilot else 1, "dash": "4 3" if generated else None,
                    "radius": 7 if pilot else 5,
                    "point_stroke": PILOT_STROKE if pilot else "#37474f",
                    "point_stroke_width": 2.5 if pilot else 1}
    return styles


class _AreaText:
    """The words of the streets' and cells' popups, translated once per request.

    ``gettext`` costs more than all the rest of a feature: a view of 800 cells would
    look every word up 800 times.
    """

    def __init__(self):
        self.lang = locale_code()
        self.communities, self.items, self.progress = _("Communities"), _("Items"), _("Progress")
        self.done = _("%(items)d, %(done)d done")  # no values: the template, filled below
        self.streets = _("%(n)d streets")
        self.open = _("Open the street page")
        self.not_in_programme = percent_text(None)
        self.street_url = url_for("pages.street", code="0")[:-1]

    def percent(self, percent: float | None) -> str:
        return self.not_in_programme if percent is None else f"{percent:.0f}%"


def _area_feature(area: mapdata.AreaInView, text: _AreaText, display_crs: str) -> dict:
    """A street or a cell of streets as one point: its figures as text, sized by communities."""
    percent = text.percent(area.percent)
    rows = [[text.communities, str(area.communities)],
            [text.items, text.done % {"items": area.items, "done": area.done}],
            [text.progress, percent]]
    if area.is_street:
        title = area.name_en if text.lang == "en" else area.name_zh
        url = text.street_url + quote(area.street_code, safe="")
    else:
        title = text.streets % {"n": area.streets}
        url = None
    point = {"type": "Point", "coordinates": [area.lon, area.lat]}
    return {"type": "Feature", "id": area.key,
            "geometry": display_geometry(point, display_crs),
            "properties": {"id": area.key, "area": "street" if area.is_street else "cell",
                           "count": area.communities, "label": f"{title} · {percent}",
                           "title": title, "rows": rows, "url": url,
                           "link_text": text.open if url else None,
                           "zoom_in": not area.is_street, "fill": colour_for(area.percent)}}


@bp.get("/communities/<community_id>")
def community(community_id: str):
    """What a community's popup shows, fetched when it is clicked (see ``lean=1``)."""
    number = whole_number(community_id, maximum=MAX_ID)
    if not number:
        raise DomainError(_("community must be a community number."))
    found = mapdata.community_in_view(db_reader(), number,
                                      filters=Filters.from_args(request.args).but(street=None))
    if found is None:
        raise NotFound(_("There is no community number %(id)s.", id=number))
    props = community_feature(found, locale_code(), "wgs84")["properties"]
    body = {"id": found.id, "properties": {
        k: props[k] for k in ("id", "name", "code", "street_code", "progress", "pilot",
                              "label", "title", "rows", "url", "link_text")}}
    response = current_app.response_class(current_app.json.dumps(body),
                                          mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/items")
def items():
    bbox, zoom, display_crs = _view_arguments()
    filters = Filters.from_args(request.args)  # kind=a,b and the other filters
    community = request.args.get("community")
    community_id = whole_number(community, maximum=MAX_ID) if community is not None else None
    if community is not None and not community_id:
        raise DomainError(_("community must be a community number."))
    found, truncated = mapdata.items_in_view(
        db_reader(), bbox, zoom=zoom, limit=current_app.config["MAX_FEATURES_PER_REQUEST"],
        community_id=community_id, filters=filters)
    lang, today = locale_code(), dt.date.today()
    return _collection([item_feature(i, lang, display_crs, today) for i in found], truncated)

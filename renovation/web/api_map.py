"""GeoJSON of what is in view, fetched by the maps as they move (``/api/map/...``)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, request
from flask_babel import gettext as _

from geo import gcj02
from geo.bbox import pad, parse_bbox
from renovation import mapdata
from renovation.errors import DomainError
from renovation.filters import Filters
from renovation.i18n import locale_code
from renovation.overview import MAX_ID
from renovation.web import db_session, whole_number
from renovation.web.features import community_feature, item_feature

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


def _collection(features: list[dict], truncated: bool):
    body = {"type": "FeatureCollection", "features": features, "truncated": truncated}
    response = current_app.response_class(
        current_app.json.dumps(body), mimetype="application/geo+json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/communities")
def communities():
    bbox, zoom, display_crs = _view_arguments()
    # street, kind, status, built_from, built_to, pilot, overdue: see renovation.filters
    found, truncated = mapdata.communities_in_view(
        db_session(), bbox, zoom=zoom, limit=current_app.config["MAX_FEATURES_PER_REQUEST"],
        pilots_only=request.args.get("pilots") == "1",
        as_points=zoom is not None and zoom < FOOTPRINT_MIN_ZOOM,
        filters=Filters.from_args(request.args))
    lang = locale_code()
    return _collection([community_feature(c, lang, display_crs) for c in found], truncated)


@bp.get("/items")
def items():
    bbox, zoom, display_crs = _view_arguments()
    filters = Filters.from_args(request.args)  # kind=a,b and the other filters
    community = request.args.get("community")
    community_id = whole_number(community, maximum=MAX_ID) if community is not None else None
    if community is not None and not community_id:
        raise DomainError(_("community must be a community number."))
    found, truncated = mapdata.items_in_view(
        db_session(), bbox, zoom=zoom, limit=current_app.config["MAX_FEATURES_PER_REQUEST"],
        community_id=community_id, filters=filters)
    lang, today = locale_code(), dt.date.today()
    return _collection([item_feature(i, lang, display_crs, today) for i in found], truncated)

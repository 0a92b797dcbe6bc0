"""The map pages: the district, a street, a community; and the language switch."""

from __future__ import annotations

import datetime as dt
import json

import folium
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from shapely.geometry import shape

from geo.assets import localize
from geo.bbox import pad
from geo.maps import StaticGeoJson, render_parts
from renovation import dashboard, mapdata, maps, overview
from renovation.catalogue import BY_CODE, KINDS
from renovation.compression import static_url
from renovation.errors import DomainError
from renovation.filters import Filters
from renovation.i18n import COOKIE, locale_code
from renovation.progress import total_progress
from renovation.security import nonce
from renovation.status import Status
from renovation.web import db_session
from renovation.web.auth import safe_next

bp = Blueprint("pages", __name__)

#: Street outlines are drawn at district scale: 1e-4 degrees (about 10 m) is plenty.
OUTLINE_TOLERANCE_DEG = 1e-4
SHIJINGSHAN_BOUNDS = (116.05, 39.85, 116.30, 40.00)
#: Up to this many streets the district page embeds their outlines and names and offers
#: them in the street filter; beyond (a city, the country) outlines would weigh megabytes,
#: and the map shows streets as points with their figures (api_map) instead.
MAX_EMBEDDED_STREETS = 300
#: Beyond MAX_EMBEDDED_STREETS, a street page outlines the streets within this many
#: degrees (about 2 km) of its own.
NEIGHBOURHOOD_DEG = 0.02
#: Rows of the district page's street table and pilot list; the rest are on the dashboard.
MAX_LISTED = 100


def _settings(filters: Filters | None = None) -> maps.MapSettings:
    return maps.MapSettings(
        lang=locale_code(), basemap=current_app.config["BASEMAP"],
        basemap_key=current_app.config["TIANDITU_KEY"],
        script_url=static_url("js/gengxin-map.js"),
        communities_url=url_for("api_map.communities"), items_url=url_for("api_map.items"),
        filters=filters.to_args() if filters else {})


def _render_map(m: folium.Map) -> dict[str, str]:
    return render_parts(m, nonce=nonce(),
                        localize=lambda e: localize(e, static_url))


@bp.get("/")
def district():
    session = db_session()
    filters = Filters.from_args(request.args)
    summary = (overview.district_overview(session, pilot_limit=MAX_LISTED) if filters.is_empty
               else dashboard.district_overview(session, filters))
    bounds = overview.district_bounds(session) or SHIJINGSHAN_BOUNDS
    many = len(summary.streets) > MAX_EMBEDDED_STREETS
    streets = ({"type": "FeatureCollection", "features": []} if many
               else overview.streets_geojson(session, tolerance_deg=OUTLINE_TOLERANCE_DEG))
    m = maps.build_district_map(streets, bounds, _settings(filters))
    if many:
        _fit_to(m, bounds)
    return render_template("pages/district.html", summary=summary, map=_render_map(m),
                           filters=filters, kinds=KINDS, statuses=list(Status),
                           street_choices=None if many else
                           [f["properties"] for f in streets["features"]],
                           max_listed=MAX_LISTED)


def _fit_to(m: folium.Map, bounds) -> None:
    """Open `m` on `bounds` when its street layer, which would have fitted it, is empty."""
    for child in m._children.values():
        if isinstance(child, StaticGeoJson):
            child.fit_to(bounds)
            return


@bp.get("/streets/<code>")
def street(code: str):
    session = db_session()
    street = overview.get_street(session, code)
    filters = Filters.from_args(request.args).but(street=None)  # the street is the page's
    if filters.is_empty:
        rows = overview.street_communities(session, street)
        progress = overview.total_progress_of_street(session, street)
    else:
        rows = dashboard.street_communities(session, street, filters)
        progress = total_progress(session, where=filters.but(street=code).item_clauses())
    bounds = mapdata.street_bounds(session, street.id)
    # The district's streets, or in a larger programme the neighbours' only; their
    # communities stay on the map, filtered like this street's.
    many = mapdata.street_count(session) > MAX_EMBEDDED_STREETS
    streets = mapdata.street_outlines(session, pad(bounds, NEIGHBOURHOOD_DEG) if many else None,
                                      tolerance_deg=OUTLINE_TOLERANCE_DEG)
    m = maps.build_street_map(streets, code, bounds, _settings(filters))
    return render_template("pages/street.html", street=street, rows=rows, progress=progress,
                           map=_render_map(m), filters=filters, kinds=KINDS,
                           statuses=list(Status))


@bp.get("/communities/<int:community_id>")
def community(community_id: int):
    session = db_session()
    community = overview.get_community(session, community_id)
    footprint = overview.footprint_geojson(session, community)
    bounds = shape(footprint).bounds if footprint else SHIJINGSHAN_BOUNDS
    present = {item.kind for item in community.items}
    kinds = [k for k in KINDS if k.code in present]
    m = maps.build_community_map(footprint, community.name, bounds, kinds, community.id,
                                 _settings(Filters.from_args(request.args).but(street=None)))
    return render_template("pages/community.html", community=community, kinds=BY_CODE,
                           progress=overview.community_progress(session, community),
                           today=dt.date.today(), map=_render_map(m))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code not in current_app.config["LANGUAGES"]:
        raise DomainError("zh / en")
    response = redirect(safe_next(request.args.get("next")))
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


@bp.app_template_filter("json_pretty")
def json_pretty(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)

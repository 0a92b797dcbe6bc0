"""The folium maps of the district, a street and a community.

Each builder takes data and URLs and returns a :class:`folium.Map`; the views only
render it. Footprints and items are not in the page: their layers fetch what is in
view from ``/api/map/...``. Only the few street outlines are embedded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import folium
from flask_babel import gettext as _
from shapely.geometry import mapping, shape

from geo import gcj02
from geo.maps import BboxGeoJson, Legend, MapScript, StaticGeoJson, add_basemap
from renovation.catalogue import KINDS, ItemKind
from renovation.progress import legend_rows
from renovation.status import STATUS_COLOURS, Status

DISTRICT_ZOOM = 12
ITEMS_MIN_ZOOM = 11


@dataclass(frozen=True)
class MapSettings:
    """What every map needs to know about its page and installation."""

    lang: str
    basemap: str  # none, osm, tianditu or amap
    basemap_key: str
    script_url: str  # static/js/gengxin-map.js
    communities_url: str  # /api/map/communities
    items_url: str  # /api/map/items
    #: The page's filters as query parameters (renovation.filters), passed on to every layer.
    filters: dict[str, str] = field(default_factory=dict)


def _with_query(url: str, **params) -> str:
    query = "&".join(f"{k}={quote(str(v), safe=',')}" for k, v in params.items()
                     if v not in (None, ""))
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + query


def _new_map(settings: MapSettings, bounds, zoom: int) -> tuple[folium.Map, str]:
    minx, miny, maxx, maxy = bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=zoom,
                   tiles=None, control_scale=True, min_zoom=3, max_zoom=19,
                   zoom_control=True, zoom_snap=0.25)
    display_crs = add_basemap(m, settings.basemap, key=settings.basemap_key)
    MapScript(settings.script_url).add_to(m)
    return m, display_crs


def _street_outlines(streets: dict, lang: str, display_crs: str, highlight: str | None) -> dict:
    features = []
    for feature in streets["features"]:
        props = feature["properties"]
        geometry, label_point = feature["geometry"], props["label_point"]
        if display_crs == "gcj02":
            geometry = mapping(gcj02.geometry_to_gcj02(shape(geometry)))
            if label_point:
                label_point = [float(v) for v in gcj02.wgs84_to_gcj02(*label_point)]
        name = props["name_en"] if lang == "en" else props["name_zh"]
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "label": name, "label_point": label_point,
            "highlight": highlight is None or props["code"] == highlight}})
    return {"type": "FeatureCollection", "features": features}


def _progress_legend(m: folium.Map) -> None:
    Legend(_("Renovation progress"), legend_rows(_("Not in the programme")),
           note=_("Dashed outline: footprint generated for the demo")).add_to(m)


def _status_legend(m: folium.Map, lang: str, *, open: bool = False) -> None:
    Legend(_("Item status"), [(STATUS_COLOURS[s], s.label(lang)) for s in Status],
           position="bottomleft", open=open).add_to(m)


def _item_layers(m: folium.Map, settings: MapSettings, kinds: list[ItemKind], *,
                 display_crs: str, community_id: int | None = None, show: bool = False,
                 min_zoom: int = ITEMS_MIN_ZOOM) -> None:
    filters = dict(settings.filters)
    chosen = filters.pop("kind", "").split(",")
    for kind in kinds:
        if chosen != [""] and kind.code not in chosen:
            continue  # the page shows only the kinds its filters choose
        url = _with_query(settings.items_url, kind=kind.code, community=community_id,
                          display=display_crs if display_crs != "wgs84" else None, **filters)
        BboxGeoJson(url, kind.name(settings.lang), min_zoom=min_zoom, show=show,
                    css_class=f"gx-item gx-item-{kind.code}").add_to(m)


def _community_layers(m: folium.Map, settings: MapSettings, display_crs: str) -> None:
    display = display_crs if display_crs != "wgs84" else None
    BboxGeoJson(_with_query(settings.communities_url, display=display, **settings.filters),
                _("Communities by progress"), css_class="gx-community").add_to(m)
    BboxGeoJson(_with_query(settings.communities_url, pilots=1, display=display,
                            **settings.filters),
                _("Pilot communities"), css_class="gx-pilot", point_style="star").add_to(m)


def build_district_map(streets: dict, bounds, settings: MapSettings) -> folium.Map:
    """The district: streets outlined and named, communities by progress, item layers."""
    m, display_crs = _new_map(settings, bounds, DISTRICT_ZOOM)
    StaticGeoJson(_street_outlines(streets, settings.lang, display_crs, None), _("Streets"),
                  css_class="gx-street", color="#1a237e", weight=2.5, fit_bounds=True).add_to(m)
    _community_layers(m, settings, display_crs)
    _item_layers(m, settings, list(KINDS), display_crs=display_crs)
    _progress_legend(m)
    _status_legend(m, settings.lang)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def build_street_map(streets: dict, street_code: str, bounds, settings: MapSettings
                     ) -> folium.Map:
    """One street: its outline, its neighbours faint, communities and items in view."""
    m, display_crs = _new_map(settings, bounds, 14)
    outlines = _street_outlines(streets, settings.lang, display_crs, street_code)
    own = {"type": "FeatureCollection",
           "features": [f for f in outlines["features"] if f["properties"]["highlight"]]}
    others = {"type": "FeatureCollection",
              "features": [f for f in outlines["features"] if not f["properties"]["highlight"]]}
    StaticGeoJson(others, _("Neighbouring streets"), css_class="gx-street-other",
                  color="#9fa8da", weight=1.5).add_to(m)
    StaticGeoJson(own, _("This street"), css_class="gx-street", color="#1a237e", weight=3,
                  fit_bounds=True).add_to(m)
    _community_layers(m, settings, display_crs)
    _item_layers(m, settings, list(KINDS), display_crs=display_crs)
    _progress_legend(m)
    _status_legend(m, settings.lang)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def build_community_map(footprint: dict | None, name: str, bounds, kinds: list[ItemKind],
                        community_id: int, settings: MapSettings) -> folium.Map:
    """One community: its footprint and every item on it, a layer per kind present."""
    m, display_crs = _new_map(settings, bounds, 16)
    if footprint is not None:
        geometry = footprint
        if display_crs == "gcj02":
            geometry = mapping(gcj02.geometry_to_gcj02(shape(footprint)))
        StaticGeoJson({"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": geometry, "properties": {"label": name}}]},
            _("Footprint"), labels=False, css_class="gx-footprint", color="#1a237e",
            weight=2.5, fit_bounds=True).add_to(m)
    _item_layers(m, settings, kinds, display_crs=display_crs, community_id=community_id,
                 show=True, min_zoom=0)
    _status_legend(m, settings.lang, open=True)
    folium.LayerControl(collapsed=True).add_to(m)
    return m

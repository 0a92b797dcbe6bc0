"""Leaflet map pieces for folium that are safe with untrusted text and work offline.

folium pastes tooltip text into JavaScript template strings and popup HTML into
``innerHTML``. The layers here never do: features carry plain-text properties
and ``static/js/gengxin-map.js`` builds tooltips and popups with ``textContent``.
Footprints are not embedded in the page; a :class:`BboxGeoJson` layer fetches
the features of the visible box from a URL each time the view moves, so the page
stays the same size however many features the database holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from html import escape

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from jinja2 import Template

#: Base maps: tile URL, attribution, subdomains, and the CRS the tiles are drawn in.
BASEMAP_TILES = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "&copy; OpenStreetMap contributors", "abc", "wgs84"),
    "tianditu": ("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                 "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                 "&TileMatrix={z}&TileRow={y}&TileCol={x}&tk={key}",
                 "&copy; 天地图 Tianditu", "01234567", "wgs84"),
    "amap": ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
             "&x={x}&y={y}&z={z}", "&copy; 高德地图 AMap", "1234", "gcj02"),
}
TIANDITU_LABELS = ("https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                   "&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                   "&TileMatrix={z}&TileRow={y}&TileCol={x}&tk={key}")


def escape_for_folium(text: object) -> str:
    """Escape `text` for anything folium pastes into HTML or a JavaScript template string.

    HTML-escapes it and turns the backtick, ``$`` and backslash into character
    references, so ``${...}`` cannot run and ``</script>`` cannot close the script.

    Examples
    --------
    >>> escape_for_folium("<b>${alert(1)}</b>`")
    '&lt;b&gt;&#36;{alert(1)}&lt;/b&gt;&#96;'
    """
    return (escape(str(text), quote=True)
            .replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;"))


def script_json(value: object) -> str:
    """Serialise `value` as JSON that is safe inside an inline ``<script>``.

    Examples
    --------
    >>> script_json({"name": "</script>"})
    '{"name": "\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


class MapScript(JSCSSMixin, MacroElement):
    """Loads ``gengxin-map.js``, the small library the layers below call."""

    _template = Template("")

    def __init__(self, url: str):
        super().__init__()
        self._name = "MapScript"
        self.default_js = [("gengxin-map", url)]


class BboxGeoJson(Layer):
    """A GeoJSON overlay whose features come from `url` for the visible box.

    The request is ``url?bbox=minx,miny,maxx,maxy&zoom=z`` (EPSG:4326, or the
    display CRS the URL asks for). Features are styled by their ``stroke``,
    ``fill`` and ``marker`` properties; ``label`` is the tooltip, ``title``,
    ``rows`` (pairs of label and value) and ``url`` make the popup, all as text.

    Parameters
    ----------
    url : str
        Endpoint answering GeoJSON FeatureCollections.
    name : str
        The layer's name in the layer control.
    min_zoom : int
        Below this zoom the layer is empty and makes no request.
    css_class : str
        Class given to each drawn path (styling and tests).
    show : bool
        Whether the layer is on at first.
    lean : bool
        Ask for lean features (``lean=1``): an endpoint that has them answers each
        feature's popup from the collection's ``detail`` URL when it is clicked, and
        features name a style of the collection's ``styles``; others ignore it.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GengxinMap.bboxLayer(
            {{ this._parent.get_name() }}, {{ this.options_json }});
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
    """)

    def __init__(self, url: str, name: str, *, min_zoom: int = 0, css_class: str = "",
                 show: bool = True, point_style: str = "circle", weight: float = 1.5,
                 fill_opacity: float = 0.6, lean: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "BboxGeoJson"
        self.options_json = script_json({
            "url": url, "minZoom": min_zoom, "className": css_class, "name": name,
            "pointStyle": point_style, "weight": weight, "fillOpacity": fill_opacity,
            "lean": lean,
        })


class StaticGeoJson(Layer):
    """A small GeoJSON overlay embedded in the page, e.g. a few administrative outlines.

    Features may carry ``label`` (shown permanently at ``label_point`` [lon, lat]
    when `labels` is true, else as a tooltip) and ``url``; text is set with
    ``textContent``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GengxinMap.staticLayer(
            {{ this._parent.get_name() }}, {{ this.data_json }}, {{ this.options_json }});
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
    """)

    def __init__(self, data: dict, name: str, *, labels: bool = True, css_class: str = "",
                 color: str = "#333", weight: float = 2.0, show: bool = True,
                 fit_bounds: bool = False):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "StaticGeoJson"
        self.data_json = script_json(data)
        self._options = {"labels": labels, "className": css_class, "color": color,
                         "weight": weight, "fitBounds": fit_bounds}
        self.options_json = script_json(self._options)

    def fit_to(self, bounds: tuple[float, float, float, float]) -> None:
        """Open the map on `bounds` (minx, miny, maxx, maxy) whatever the layer holds.

        For a layer left empty because its features would be too many to embed.
        """
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        self._options = {**self._options, "fitBounds": True,
                         "bounds": [[miny, minx], [maxy, maxx]]}
        self.options_json = script_json(self._options)


class Legend(MacroElement):
    """A legend in a map corner: a title and rows of colour swatch and text.

    It folds away (a ``<details>`` box); `open` says whether it starts open on a
    desktop. On a phone it always starts closed.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        GengxinMap.legend({{ this._parent.get_name() }}, {{ this.options_json }});
        {% endmacro %}
    """)

    def __init__(self, title: str, rows: Iterable[tuple[str, str]], *,
                 position: str = "bottomright", note: str = "", open: bool = True):
        super().__init__()
        self._name = "Legend"
        self.options_json = script_json({
            "title": title, "rows": [[colour, text] for colour, text in rows],
            "position": position, "note": note, "open": open})


def add_basemap(m: folium.Map, basemap: str, *, key: str = "") -> str:
    """Add the tiles of `basemap` ("none", "osm", "tianditu", "amap") to `m`.

    Returns the CRS in which geometries must be drawn to line up with the tiles:
    ``"wgs84"``, or ``"gcj02"`` for AMap (see :mod:`geo.gcj02`).
    """
    if basemap == "none":
        return "wgs84"
    url, attribution, subdomains, crs = BASEMAP_TILES[basemap]
    folium.TileLayer(url.replace("{key}", key), attr=attribution, subdomains=subdomains,
                     name=basemap, max_zoom=18, control=False).add_to(m)
    if basemap == "tianditu":
        folium.TileLayer(TIANDITU_LABELS.replace("{key}", key), attr=attribution,
                         subdomains=subdomains, name="tianditu-labels", overlay=True,
                         control=False).add_to(m)
    return crs


def basemap_hosts(basemap: str) -> list[str]:
    """The tile hosts `basemap` loads images from (for a Content-Security-Policy)."""
    if basemap == "none":
        return []
    url, _, subdomains, _ = BASEMAP_TILES[basemap]
    host = re.match(r"https://([^/]+)/", url).group(1)
    return ["https://" + host.replace("{s}", s) for s in subdomains]


_SCRIPT_TAG = re.compile(r"<script(?=[\s>])")


def render_parts(m: folium.Map, *, nonce: str | None = None,
                 localize: Callable[[Element], None] | None = None) -> dict[str, str]:
    """Render `m` into the three pieces a page template places itself.

    Returns ``{"header": ..., "html": ..., "script": ...}``: the ``<head>`` links and
    styles, the map's ``<div>``, and the script that builds it. With `nonce`, every
    ``<script>`` tag folium wrote gets it, so a Content-Security-Policy can forbid
    any other inline script.
    """
    if localize is not None:
        localize(m)
    figure = m.get_root()
    assert isinstance(figure, Figure)
    figure.render()
    parts = {"header": figure.header.render(), "html": figure.html.render(),
             "script": f"<script>{figure.script.render()}</script>"}
    if nonce:
        parts = {key: _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', value)
                 for key, value in parts.items()}
    return parts

"""Serve folium's JavaScript and CSS from our own ``static/vendor/`` copies instead of public CDNs.

Why this module exists: folium 0.20 writes ``<script>`` and ``<link>`` tags that
point at jsDelivr, cdnjs, code.jquery.com and netdna.bootstrapcdn.com, so a map
page stays blank on a network without internet (and those hosts are slow or
blocked in mainland China anyway). Each folium element declares its assets as
data, in the lists ``default_js`` and ``default_css`` of ``(name, url)`` pairs;
:func:`localize` gives every element of a map its own copies of those lists with
the CDN URLs swapped for local ones, taken from :data:`LOCAL_ASSETS`.

The class-level lists are shared by every map in the process (``Map.default_js``
is one module-level list), so they are never touched: folium's own
``add_js_link`` would change them for every later map.

Only the base map (Leaflet, jQuery, Bootstrap 5, Leaflet.awesome-markers,
Font Awesome, the glyphicons and rotate CSS) and ``folium.plugins.Fullscreen``
are vendored. Any other plugin with a CDN asset makes :func:`localize` raise,
so a missing copy shows up in a test rather than as a blank map in the field.
``static/vendor/README.md`` says where each file came from.

Tile layers are not assets: the tile URL lives in the map's JavaScript and the
base map itself still needs a reachable tile server.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

from branca.element import CssLink, Element, Figure, JavascriptLink

LOGGER = logging.getLogger(__name__)

__all__ = ["LOCAL_ASSETS", "external_urls", "is_external_url", "localize"]

# CDN URL as written in folium 0.20 -> path relative to ``static/``.
LOCAL_ASSETS: Mapping[str, str] = MappingProxyType(
    {
        # folium.Map.default_js
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "vendor/leaflet/leaflet.js",
        "https://code.jquery.com/jquery-3.7.1.min.js": "vendor/jquery/jquery.min.js",
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
            "vendor/bootstrap/js/bootstrap.bundle.min.js"
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (  # noqa: E501
            "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js"
        ),
        # folium.Map.default_css
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "vendor/leaflet/leaflet.css",
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": (
            "vendor/bootstrap/css/bootstrap.min.css"
        ),
        "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
            "vendor/bootstrap-glyphicons/css/bootstrap-glyphicons.css"
        ),
        "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
            "vendor/fontawesome-free/css/all.min.css"
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (  # noqa: E501
            "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css"
        ),
        "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css": (  # noqa: E501
            "vendor/folium/leaflet.awesome.rotate.min.css"
        ),
        # folium.plugins.Fullscreen. The npm package has no .min.js (jsDelivr minifies
        # on the fly), so the 8 kB source file stands in for it.
        "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js": (
            "vendor/leaflet.fullscreen/Control.FullScreen.js"
        ),
        "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css": (
            "vendor/leaflet.fullscreen/Control.FullScreen.css"
        ),
    }
)

_EXTERNAL_URL = re.compile(r"^(?:https?:)?//", re.IGNORECASE)

# A URL that leaves the site: http(s)://host or protocol-relative //host.
_URL_BODY = r"""(?:https?:)?//[^/\s"'<>()\\][^\s"'<>()\\]*"""
_EXTERNAL_IN_HTML = re.compile(
    r"""\b(?:src|href)\s*=\s*["']?(?P<attr>""" + _URL_BODY + r")"
    r"""|\burl\(\s*["']?(?P<css>""" + _URL_BODY + r")"
    r"""|@import\s+["'](?P<imp>""" + _URL_BODY + r")",
    re.IGNORECASE,
)


def is_external_url(url: str) -> bool:
    """Tell whether a URL points to another host (``http://``, ``https://`` or ``//host``).

    Parameters
    ----------
    url : str
        A URL as written in HTML or in an element's ``default_js`` / ``default_css``.

    Returns
    -------
    bool
        True for absolute http(s) and protocol-relative URLs, False for paths
        on this site and for ``data:`` URIs.

    Examples
    --------
    >>> is_external_url("https://code.jquery.com/jquery-3.7.1.min.js")
    True
    >>> is_external_url("//unpkg.com/leaflet")
    True
    >>> is_external_url("/static/vendor/jquery/jquery.min.js")
    False
    """
    return bool(_EXTERNAL_URL.match(url.strip()))


def localize(element: Element, static_url: Callable[[str], str]) -> Element:
    """Point every CDN asset of a folium element tree at our vendored copies.

    Walks ``element`` and all its children (``element._children``, recursively).
    Each element that declares ``default_js`` / ``default_css`` gets new lists set
    on the instance, with every external URL replaced by
    ``static_url(LOCAL_ASSETS[url])``; the class-level lists stay as they are,
    so maps built elsewhere in the process are not affected. Any ``JavascriptLink``
    or ``CssLink`` found in the tree (e.g. in a ``Figure`` header) is rewritten
    the same way. URLs that are already local are left alone, so calling it twice
    is harmless. If any asset has no local copy, nothing is changed.

    Call it after the last child has been added and before rendering: elements
    added later keep their CDN URLs.

    Parameters
    ----------
    element : branca.element.Element
        Usually a ``folium.Map``; its ``Figure`` (``m.get_root()``) works too.
    static_url : callable
        Takes a path relative to ``static/`` (e.g. ``"vendor/leaflet/leaflet.js"``)
        and returns the URL to put in the page, e.g. in a Flask view
        ``lambda path: url_for("static", filename=path)``.

    Returns
    -------
    branca.element.Element
        ``element`` itself, changed in place, for chaining.

    Raises
    ------
    ValueError
        If an element references an external URL that has no local copy; the
        message names the element class, the asset name and the URL.

    Examples
    --------
    >>> import folium
    >>> m = localize(folium.Map(), lambda path: "/static/" + path)
    >>> m.default_js[0]
    ('leaflet', '/static/vendor/leaflet/leaflet.js')
    >>> folium.Map.default_js[0][1]
    'https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js'
    """
    local_urls: set[str] | None = None  # computed only if an unknown external URL turns up

    def to_local(url: str, owner: Element, name: str) -> str:
        nonlocal local_urls
        if not is_external_url(url):
            return url
        path = LOCAL_ASSETS.get(url)
        if path is not None:
            return static_url(path)
        if local_urls is None:
            # static_url may return absolute URLs (url_for(..., _external=True)):
            # those come from an earlier localize() and are ours.
            local_urls = {static_url(p) for p in LOCAL_ASSETS.values()}
        if url in local_urls:
            return url
        raise ValueError(
            f"{type(owner).__name__} needs the external asset {name!r} ({url}), which has "
            "no local copy: vendor it under static/vendor/ and add it to geo.assets.LOCAL_ASSETS"
        )

    # Work out every change first, so that a missing asset leaves the tree untouched.
    changes: list[tuple[Element, str, object]] = []
    for node in _walk(element):
        for attr in ("default_js", "default_css"):
            links = getattr(node, attr, None)
            if links:
                local = [(name, to_local(url, node, name)) for name, url in links]
                changes.append((node, attr, local))
        if isinstance(node, (JavascriptLink, CssLink)):
            changes.append((node, "url", to_local(node.url, node, node.get_name())))
    for node, attr, value in changes:
        # Assigning on the instance shadows the shared class-level list.
        setattr(node, attr, value)
    LOGGER.debug("localized %d asset lists and links under %s", len(changes), element.get_name())
    return element


def _walk(element: Element) -> Iterator[Element]:
    """Yield ``element`` and its descendants, depth first, each once."""
    seen: set[int] = set()
    stack = [element]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        children = list(getattr(node, "_children", {}).values())
        if isinstance(node, Figure):
            # A Figure keeps its header, body and script as attributes, not children.
            children = [node.header, node.html, node.script, *children]
        stack.extend(reversed(children))


def external_urls(html: str) -> list[str]:
    """List the external URLs that rendered HTML loads or links to.

    Looks at ``src=`` and ``href=`` attributes, CSS ``url(...)`` and ``@import``
    in the markup as written, including HTML that folium places in JavaScript
    template strings (popups). HTML inside JSON-encoded strings (``href=\\"...``,
    as in tile-layer attributions) and URLs built by JavaScript (tile URL
    templates) are not seen. Plain ``<a href>`` links count too: they load
    nothing, so filter them out if outbound links are fine for your page.

    Parameters
    ----------
    html : str
        A rendered page, e.g. ``m.get_root().render()``.

    Returns
    -------
    list of str
        ``http(s)://`` and protocol-relative ``//host`` URLs, in order of first
        appearance, without duplicates; empty when the page is self-contained.

    Examples
    --------
    >>> external_urls('<script src="https://unpkg.com/leaflet"></script>'
    ...               '<style>b{background:url(//x.org/a.png)}</style>'
    ...               '<img src="/static/a.png"><img src="data:image/png;base64,AA==">')
    ['https://unpkg.com/leaflet', '//x.org/a.png']
    """
    found: dict[str, None] = {}
    for match in _EXTERNAL_IN_HTML.finditer(html):
        url = match.group("attr") or match.group("css") or match.group("imp")
        found.setdefault(url, None)
    return list(found)

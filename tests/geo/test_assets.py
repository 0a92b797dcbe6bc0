"""Folium maps render with vendored assets only: no CDN, nothing missing under static/."""

import re
from pathlib import Path

import folium
import pytest
from flask import Flask, url_for
from folium.elements import JSCSSMixin
from folium.plugins import Fullscreen, LocateControl

from geo.assets import LOCAL_ASSETS, external_urls, is_external_url, localize

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
VENDORED_CSS = sorted(VENDOR_DIR.rglob("*.css"))

# The url(...) values of a stylesheet, quoted or not.
CSS_URL = re.compile(r"""url\(\s*(["']?)(.*?)\1\s*\)""")
LOCAL_REF = re.compile(r"""\b(?:src|href)="(/static/[^"]+)\"""")

BEIJING = (39.9075, 116.3972)
COURTYARD = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "东四三条"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [116.4170, 39.9330],
                        [116.4200, 39.9330],
                        [116.4200, 39.9345],
                        [116.4170, 39.9345],
                        [116.4170, 39.9330],
                    ]
                ],
            },
        }
    ],
}


class UnvendoredWidget(JSCSSMixin):
    """A plugin-like element whose assets we have no copy of."""

    default_js = [("widget_js", "https://unpkg.com/leaflet-widget@1.0.0/widget.min.js")]
    default_css = [("widget_css", "//unpkg.com/leaflet-widget@1.0.0/widget.css")]


def make_map():
    m = folium.Map(location=BEIJING, zoom_start=14)
    folium.Marker(
        BEIJING,
        popup="天安门",
        icon=folium.Icon(color="red", icon="home", prefix="fa", angle=45),
    ).add_to(m)
    folium.Marker(BEIJING, icon=folium.Icon(icon="flag", prefix="glyphicon")).add_to(m)
    folium.GeoJson(COURTYARD, name="courtyards", tooltip=folium.GeoJsonTooltip(["name"])).add_to(m)
    folium.LayerControl().add_to(m)
    Fullscreen().add_to(m)
    return m


@pytest.fixture
def app():
    return Flask(__name__, static_folder=str(STATIC_DIR))


@pytest.fixture
def client(app):
    return app.test_client()


def test_rendered_map_loads_no_external_asset(app, client):
    m = make_map()
    with app.test_request_context():
        localize(m, lambda path: url_for("static", filename=path))
    html = m.get_root().render()

    assert external_urls(html) == []
    local = LOCAL_REF.findall(html)
    # Map defaults (4 js + 6 css) plus Fullscreen (1 js + 1 css).
    assert sorted(local) == sorted("/static/" + path for path in LOCAL_ASSETS.values())
    for url in local:
        assert (STATIC_DIR / url.removeprefix("/static/")).is_file(), url
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()


def test_localize_rewrites_instances_and_returns_the_element():
    m = make_map()

    assert localize(m, lambda path: "/static/" + path) is m

    assert m.default_js[0] == ("leaflet", "/static/vendor/leaflet/leaflet.js")
    fullscreen = next(c for c in m._children.values() if isinstance(c, Fullscreen))
    assert fullscreen.default_css == [
        ("Control.FullScreen.css", "/static/vendor/leaflet.fullscreen/Control.FullScreen.css")
    ]


def test_localize_twice_is_harmless():
    m = make_map()
    localize(m, lambda path: "http://gengxin.local/static/" + path)
    first = list(m.default_js)

    localize(m, lambda path: "http://gengxin.local/static/" + path)

    assert m.default_js == first


def test_localize_leaves_class_level_lists_alone():
    classes = (folium.Map, Fullscreen)
    before = {cls: (cls.default_js, list(cls.default_js), list(cls.default_css)) for cls in classes}

    localize(make_map(), lambda path: "/static/" + path)

    for cls, (js_list, js, css) in before.items():
        assert cls.default_js is js_list
        assert cls.default_js == js
        assert cls.default_css == css
    assert folium.Map.default_js[0] == (
        "leaflet",
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js",
    )
    untouched = folium.Map().get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in external_urls(untouched)


def test_localize_raises_for_an_asset_without_local_copy():
    m = folium.Map(location=BEIJING)
    m.add_child(UnvendoredWidget())

    with pytest.raises(
        ValueError, match=r"UnvendoredWidget.*'widget_js'.*https://unpkg\.com/leaflet-widget"
    ):
        localize(m, lambda path: "/static/" + path)


def test_localize_raises_for_a_protocol_relative_asset():
    m = folium.Map(location=BEIJING)
    widget = UnvendoredWidget()
    widget.default_js = []  # only the //unpkg.com stylesheet is left
    m.add_child(widget)

    with pytest.raises(ValueError, match=r"'widget_css' \(//unpkg\.com/"):
        localize(m, lambda path: "/static/" + path)


def test_localize_raises_for_a_folium_plugin_we_did_not_vendor():
    m = folium.Map(location=BEIJING)
    LocateControl().add_to(m)

    with pytest.raises(ValueError, match="LocateControl.*leaflet-locatecontrol"):
        localize(m, lambda path: "/static/" + path)


def test_localize_rewrites_links_in_the_figure_header():
    m = folium.Map(location=BEIJING)
    figure = m.get_root()
    figure.header.add_child(
        folium.CssLink(
            "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css"
        ),
        name="fa",
    )

    localize(figure, lambda path: "/static/" + path)

    assert external_urls(figure.render()) == []


@pytest.mark.parametrize(
    ("cls", "attr"),
    [
        (folium.Map, "default_js"),
        (folium.Map, "default_css"),
        (Fullscreen, "default_js"),
        (Fullscreen, "default_css"),
    ],
)
def test_every_folium_asset_we_rely_on_has_a_local_copy(cls, attr):
    # Fails on a folium upgrade that moves to new asset versions.
    for name, url in getattr(cls, attr):
        assert url in LOCAL_ASSETS, f"{cls.__name__} {name}: {url}"
        assert (STATIC_DIR / LOCAL_ASSETS[url]).is_file(), LOCAL_ASSETS[url]


def test_every_vendored_package_has_a_licence():
    packages = [p for p in VENDOR_DIR.iterdir() if p.is_dir()]
    assert packages
    for package in packages:
        assert list(package.glob("LICEN[CS]E*")), package.name


@pytest.mark.parametrize("css", VENDORED_CSS, ids=lambda p: str(p.relative_to(VENDOR_DIR)))
def test_vendored_css_references_existing_files(css):
    text = css.read_text(encoding="utf-8")
    for _, ref in CSS_URL.findall(text):
        if ref.startswith(("data:", "#")):  # inline images; leaflet.css has url(#default#VML)
            continue
        assert not is_external_url(ref), f"{css.name}: {ref}"
        target = (css.parent / ref.split("?")[0].split("#")[0]).resolve()
        assert target.is_file(), f"{css.name}: {ref}"


def test_vendored_css_files_are_found():
    assert len(VENDORED_CSS) == 8


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<script src="https://cdn.example.com/a.js"></script>', ["https://cdn.example.com/a.js"]),
        ("<link rel=stylesheet href=//cdn.example.com/a.css>", ["//cdn.example.com/a.css"]),
        (
            "<div style=\"background: url('http://x.example/b.png')\"></div>",
            ["http://x.example/b.png"],
        ),
        ('<style>@import "https://fonts.example/c.css";</style>', ["https://fonts.example/c.css"]),
        (
            '<img SRC="HTTPS://X.EXAMPLE/d.png"><img src="HTTPS://X.EXAMPLE/d.png">',
            ["HTTPS://X.EXAMPLE/d.png"],
        ),
        ('<script src="/static/vendor/leaflet/leaflet.js"></script>', []),
        ('<img src="data:image/png;base64,AAAA"><i style="background:url(images/x.png)"></i>', []),
        ('L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png")', []),
    ],
)
def test_external_urls(html, expected):
    assert external_urls(html) == expected


def test_external_urls_sees_html_in_a_popup():
    m = folium.Map(location=BEIJING)
    folium.Marker(BEIJING, popup='<img src="https://img.example/photo.jpg">').add_to(m)
    localize(m, lambda path: "/static/" + path)

    assert external_urls(m.get_root().render()) == ["https://img.example/photo.jpg"]


def test_localize_changes_nothing_when_an_asset_is_missing():
    m = make_map()
    m.add_child(UnvendoredWidget())

    with pytest.raises(ValueError):
        localize(m, lambda path: "/static/" + path)

    assert "default_js" not in vars(m)
    assert (
        external_urls(m.get_root().render()).count(
            "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
        )
        == 1
    )

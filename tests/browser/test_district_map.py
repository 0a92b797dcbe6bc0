"""The district map in a real browser: layers load from our own server, colours, labels, phones.

Expected counts come from the database (footprints read with shapely) for the exact
box each layer asked for, never from constants. Set GENGXIN_SCREENSHOTS=1 to keep
screenshots in /tmp/gengxin-shots/.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from renovation.catalogue import BY_CODE
from renovation.models import Community, RenovationItem, Street
from renovation.progress import NOT_IN_PROGRAMME_COLOUR, PROGRESS_CLASSES

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/gengxin-shots")
PROGRESS_COLOURS = {colour for _, colour in PROGRESS_CLASSES} | {NOT_IN_PROGRAMME_COLOUR}
#: SpatiaLite's R*Tree keeps boxes as 32-bit floats, rounded outwards (~1e-5 degrees here).
INDEX_SLACK = 2e-5
TIMEOUT_S = 10


class PageWatch:
    """Everything a page asked for, and everything that went wrong on it."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.pending: set = set()
        self.failed: list[tuple[str, str]] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("requestfinished", lambda r: self.pending.discard(r))
        page.on("requestfailed", self._failed)
        page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _request(self, request):
        self.requests.append(request.url)
        self.pending.add(request)

    def _failed(self, request):
        self.pending.discard(request)
        self.failed.append((request.url, request.failure or ""))

    def api_requests(self, path: str, **params) -> list[str]:
        """URLs requested of `path` whose query has `params` (None: must be absent)."""
        found = []
        for url in self.requests:
            parts = urlsplit(url)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == path and all(
                    (k not in query) if v is None else query.get(k) == v
                    for k, v in params.items()):
                found.append(url)
        return found

    def assert_clean(self, base_url: str):
        """Nothing loaded from elsewhere, nothing failed, no error in the console."""
        host = urlsplit(base_url).netloc
        foreign = [u for u in self.requests
                   if urlsplit(u).netloc != host and not u.startswith(("data:", "blob:"))]
        assert foreign == []
        # A view fetch superseded by a newer one is aborted on purpose (gengxin-map.js).
        failed = [(u, f) for u, f in self.failed
                  if not (urlsplit(u).path.startswith("/api/map/") and "ERR_ABORTED" in f)]
        assert failed == []
        assert self.errors == []


def view_of(url: str) -> tuple[tuple[float, ...], int]:
    query = parse_qs(urlsplit(url).query)
    bbox = tuple(float(v) for v in query["bbox"][0].split(","))
    return bbox, int(query["zoom"][0])


def meets(bounds, bbox, slack=0.0) -> bool:
    return (bounds[0] <= bbox[2] + slack and bounds[2] >= bbox[0] - slack
            and bounds[1] <= bbox[3] + slack and bounds[3] >= bbox[1] - slack)


def in_view_range(geometries: dict, bbox) -> tuple[int, int]:
    """(least, most) features in `bbox`: the two differ only by index rounding at the edge."""
    certain = sum(meets(g.bounds, bbox, -INDEX_SLACK) for g in geometries.values())
    possible = sum(meets(g.bounds, bbox, INDEX_SLACK) for g in geometries.values())
    return certain, possible


def wait_for_layer(page, watch: PageWatch, selector: str, path: str, params: dict,
                   expected_range) -> tuple[str, int]:
    """Wait until the layer's latest fetch is drawn: `selector` count within its range."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        urls = watch.api_requests(path, **params)
        count = page.locator(selector).count()
        if urls:
            low, high = expected_range(urls[-1])
            busy = any(urlsplit(r.url).path.startswith("/api/") for r in watch.pending)
            if not busy and low <= count <= high:
                return urls[-1], count
        if time.monotonic() > deadline:
            pytest.fail(f"{selector}: {count} drawn; requests {urls}; "
                        f"expected {expected_range(urls[-1]) if urls else '?'}")
        page.wait_for_timeout(100)


def new_page(browser, **context_options):
    context = browser.new_context(**context_options)
    context.set_default_timeout(TIMEOUT_S * 1000)
    page = context.new_page()
    return context, page, PageWatch(page)


def screenshot(page, name: str) -> None:
    if os.environ.get("GENGXIN_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name))


@pytest.fixture
def footprints(app_session) -> dict[int, object]:
    return {cid: to_shape(fp) for cid, fp in app_session.execute(
        sa.select(Community.id, Community.footprint).where(Community.footprint.is_not(None),
                                                           Community.location.is_not(None)))}


@pytest.fixture
def pilot_footprints(app_session, footprints) -> dict[int, object]:
    pilots = set(app_session.scalars(sa.select(Community.id).where(Community.is_pilot)))
    return {cid: g for cid, g in footprints.items() if cid in pilots}


def communities_drawn(page, watch, footprints):
    return wait_for_layer(page, watch, "path.gx-community", "/api/map/communities",
                          {"pilots": None, "street": None},
                          lambda url: in_view_range(footprints, view_of(url)[0]))


# --- Desktop ----------------------------------------------------------------------------------

def test_district_map_on_a_desktop(browser, live_server, app_session, footprints,
                                   pilot_footprints):
    context, page, watch = new_page(browser, viewport={"width": 1280, "height": 800})
    try:
        page.goto(live_server + "/")
        url, drawn = communities_drawn(page, watch, footprints)
        bbox, zoom = view_of(url)
        assert zoom < 14  # district scale: communities are dots
        assert drawn == len(footprints)  # the whole district is in view

        streets = app_session.scalars(sa.select(Street).order_by(Street.code)).all()
        assert page.locator("path.gx-street").count() == len(streets) == 9
        labels = page.locator(".gx-area-label").all_text_contents()
        assert sorted(labels) == sorted(s.name_zh for s in streets)

        fills = page.eval_on_selector_all("path.gx-community",
                                          "els => els.map(e => e.getAttribute('fill'))")
        assert set(fills) <= PROGRESS_COLOURS
        assert len(set(fills)) >= 3

        wait_for_layer(page, watch, ".gx-star", "/api/map/communities", {"pilots": "1"},
                       lambda url: in_view_range(pilot_footprints, view_of(url)[0]))
        assert page.locator(".gx-star").count() == len(pilot_footprints) == 9
        screenshot(page, "desktop-district.png")

        # Tick the lift retrofits in the layer control, then untick them.
        lifts_name = BY_CODE["lift_retrofit"].name("zh")
        assert lifts_name == "加装电梯"
        page.locator(".leaflet-control-layers").hover()
        page.locator(".leaflet-control-layers-expanded").wait_for()
        label = page.locator(".leaflet-control-layers-overlays label").filter(
            has_text=re.compile(rf"^\s*{lifts_name}\s*$"))
        assert label.count() == 1
        assert page.locator("path.gx-item-lift_retrofit").count() == 0
        label.locator("input").check()

        def lifts_in_view(url):
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                features = json.load(response)["features"]
            assert {f["properties"]["kind"] for f in features} <= {"lift_retrofit"}
            return len(features), len(features)

        url, lifts = wait_for_layer(page, watch, "path.gx-item-lift_retrofit", "/api/map/items",
                                    {"kind": "lift_retrofit"}, lifts_in_view)
        lift_geometries = {i: to_shape(g) for i, g in app_session.execute(
            sa.select(RenovationItem.id, RenovationItem.geometry)
            .where(RenovationItem.kind == "lift_retrofit"))}
        low, high = in_view_range(lift_geometries, view_of(url)[0])
        assert 0 < low <= lifts <= high
        assert page.locator("path.gx-item").count() == lifts  # no other kind came along

        label.locator("input").uncheck()
        page.wait_for_function(
            "() => document.querySelectorAll('path.gx-item-lift_retrofit').length === 0")
        assert page.locator("path.gx-community").count() == drawn
        watch.assert_clean(live_server)
    finally:
        context.close()


# --- Phone ------------------------------------------------------------------------------------

PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
#: A community dot nothing covers, the one nearest to a point given as fractions of the map.
FREE_DOT = """([fx, fy]) => {
    const map = document.querySelector('.folium-map').getBoundingClientRect();
    const px = map.left + map.width * fx, py = map.top + map.height * fy;
    const dots = [...document.querySelectorAll('path.gx-community')].map(el => {
        const r = el.getBoundingClientRect();
        return {el, x: r.left + r.width / 2, y: r.top + r.height / 2};
    }).filter(d => d.x > map.left + 20 && d.x < map.right - 20 &&
                   d.y > map.top + 20 && d.y < map.bottom - 20 &&
                   document.elementFromPoint(d.x, d.y) === d.el);
    dots.sort((a, b) => Math.hypot(a.x - px, a.y - py) - Math.hypot(b.x - px, b.y - py));
    return dots.length ? {x: dots[0].x, y: dots[0].y} : null;
}"""


def tap_a_community(page, app_session, where) -> Community:
    """Tap the free dot nearest `where`; check its popup; return the community it names."""
    target = page.evaluate(FREE_DOT, list(where))
    assert target, "no community dot is free to tap"
    page.touchscreen.tap(target["x"], target["y"])
    link = page.locator(".leaflet-popup-content a.gx-popup-link")
    link.wait_for()
    href = link.get_attribute("href")
    match = re.fullmatch(r"/communities/(\d+)", href)
    assert match, href
    community = app_session.get(Community, int(match.group(1)))
    title = page.locator(".leaflet-popup-content .gx-popup-title").text_content()
    assert title == community.name
    return community


def test_district_map_on_a_phone(browser, live_server, app_session, footprints):
    context, page, watch = new_page(browser, **PHONE)
    try:
        page.goto(live_server + "/")
        communities_drawn(page, watch, footprints)

        box = page.locator(".gx-map").bounding_box()
        leaflet = page.locator(".folium-map").bounding_box()
        panel = page.locator("aside.gx-panel").bounding_box()
        assert page.locator(".folium-map").is_visible()
        assert box["height"] > 200 and leaflet["height"] > 200
        assert leaflet["width"] == pytest.approx(375, abs=1)
        assert panel["y"] >= box["y"] + box["height"] - 1  # the panel comes below the map
        assert page.locator("aside.gx-panel #streets-table").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "phone-district.png")

        tap_a_community(page, app_session, (0.5, 0.5))
        watch.assert_clean(live_server)
    finally:
        context.close()


def test_a_tapped_popup_stays_open_on_a_phone(browser, live_server, app_session, footprints):
    context, page, watch = new_page(browser, **PHONE)
    try:
        page.goto(live_server + "/")
        communities_drawn(page, watch, footprints)
        # A dot near the top: its popup does not fit above it, so the map pans to show it.
        tap_a_community(page, app_session, (0.5, 0.15))
        page.wait_for_timeout(300)  # the auto-pan animation
        communities_drawn(page, watch, footprints)  # the view the pan asked for is drawn
        page.wait_for_timeout(200)
        assert page.locator(".leaflet-popup").count() == 1, "the popup closed by itself"
    finally:
        context.close()

"""Hostile names in a real browser: nothing runs, tooltips and popups show the text as written.

The payloads set ``window.__pwned`` instead of calling alert(), so a payload that
ran is caught even if it never opens a dialog; dialogs are watched too, and so are
Content-Security-Policy violations (a payload the escaping let through but the
policy blocked is still a bug).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon, Point, box
from shapely.ops import unary_union

from factories import make_community, make_item
from renovation.models import Community, Street

pytestmark = pytest.mark.browser

PWN = "window.__pwned=1"
STREET_NAME = (f"<img src=x onerror={PWN}>${{{PWN}}}`</script><script>{PWN}</script>"
               "\u2028")  # streets.name_zh is VARCHAR(100)
COMMUNITY_NAME = (f"\"><svg onload={PWN}>'-({PWN})-'<img src=x onerror={PWN}>${{{PWN}}}"
                  f"`;{PWN};`</script><script>{PWN}</script>\u2028社区")
ITEM_TITLE = (f"<b onmouseover={PWN}>1号楼</b>${{{PWN}}}`;{PWN};`"
              f"</script><script>{PWN}</script><!--<script>\u2029加装电梯")
TIMEOUT_S = 10

WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
FIND_FEATURE = """([cls, id]) => {
  const map = window[document.querySelector('.folium-map').id];
  let found = null;
  map.eachLayer(function (layer) {
    if (layer.feature && layer.feature.properties && layer.feature.properties.id === id &&
        layer._path && (layer.options.className || '').split(' ').includes(cls)) {
      found = layer;
    }
  });
  if (!found) { return null; }
  const r = found._path.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  return {x: x, y: y, free: document.elementFromPoint(x, y) === found._path};
}"""


def test_the_payloads_fit_their_columns():
    assert len(STREET_NAME) <= 100
    assert len(COMMUNITY_NAME) <= 200 and len(ITEM_TITLE) <= 200


@pytest.fixture
def hostile(app_session):
    """A street renamed; a community with a lift item in the freest spot of that street."""
    taken = unary_union([to_shape(fp) for fp in app_session.scalars(
        sa.select(Community.footprint).where(Community.footprint.is_not(None)))])
    streets = app_session.scalars(sa.select(Street).order_by(Street.code)).all()
    clearance, spot, street = max(
        (*free_spot(to_shape(s.boundary), taken, to_shape(s.label_point)), s) for s in streets)
    assert clearance > 0.003, "no free spot in any street: the demo data changed"
    street.name_zh = STREET_NAME
    footprint = MultiPolygon([box(spot.x - 0.0008, spot.y - 0.0008,
                                  spot.x + 0.0008, spot.y + 0.0008)])
    community = make_community(app_session, street, footprint=footprint, name=COMMUNITY_NAME)
    item = make_item(app_session, community, title=ITEM_TITLE)
    app_session.commit()
    return {"street": street, "community": community, "item": item}


def free_spot(outline, taken, label) -> tuple[float, Point]:
    """The point well inside `outline` farthest from every footprint and the street's label."""
    inner = outline.buffer(-0.003)
    minx, miny, maxx, maxy = inner.bounds
    best = (0.0, Point(minx, miny))
    steps = 40
    for i in range(steps + 1):
        for j in range(steps + 1):
            p = Point(minx + (maxx - minx) * i / steps, miny + (maxy - miny) * j / steps)
            if inner.contains(p):
                clearance = min(p.distance(taken), p.distance(label) / 2)
                best = max(best, (round(clearance, 6), p), key=lambda c: c[0])
    return best


class Watch:
    def __init__(self, page):
        self.requests, self.dialogs, self.errors = [], [], []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console: {m.text}"))

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def open_page(browser, live_server):
    contexts = []

    def open_(path: str):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_S * 1000)
        context.add_init_script(WATCH_CSP)
        contexts.append(context)
        page = context.new_page()
        watch = Watch(page)
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        return page, watch

    yield open_
    for context in contexts:
        context.close()


def assert_nothing_ran(page, watch, live_server):
    page.wait_for_timeout(200)  # let anything scheduled by a payload have its turn
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert watch.dialogs == []
    assert watch.errors == []
    assert page.evaluate("window.__cspViolations") == []
    host = urlsplit(live_server).netloc
    for url in watch.requests:
        parts = urlsplit(url)
        assert parts.netloc == host, url
        assert parts.path not in ("/x", "/x/"), url  # an <img src=x> came to life


def wait_for_feature(page, cls: str, feature_id: int) -> dict:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        found = page.evaluate(FIND_FEATURE, [cls, feature_id])
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"feature {feature_id} of .{cls} never drawn")
        page.wait_for_timeout(100)


def hover(page, where: dict) -> None:
    assert where["free"], "something covers the feature"
    page.mouse.move(where["x"], where["y"])
    page.locator(".leaflet-tooltip:not(.gx-area-label)").wait_for()


def test_district_map(open_page, live_server, hostile):
    page, watch = open_page("/")
    labels = page.locator(".gx-area-label").all_text_contents()
    assert STREET_NAME in labels
    table = page.locator("#streets-table a").all_text_contents()
    assert STREET_NAME in table

    community = hostile["community"]
    where = wait_for_feature(page, "gx-community", community.id)
    hover(page, where)
    tooltip = page.locator(".leaflet-tooltip:not(.gx-area-label)").text_content()
    assert tooltip.startswith(COMMUNITY_NAME + " · ")
    page.mouse.click(where["x"], where["y"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.locator(".gx-popup-title").text_content() == COMMUNITY_NAME
    assert STREET_NAME in popup.locator("td").all_text_contents()
    assert popup.locator("a.gx-popup-link").get_attribute("href") == \
        f"/communities/{community.id}"
    assert popup.locator("img, svg, script, b").count() == 0
    assert_nothing_ran(page, watch, live_server)


def test_street_page(open_page, live_server, hostile):
    street, community = hostile["street"], hostile["community"]
    page, watch = open_page(f"/streets/{street.code}")
    assert page.locator("h1").text_content().startswith(STREET_NAME)
    assert STREET_NAME in page.locator(".gx-area-label").all_text_contents()
    assert COMMUNITY_NAME in page.locator("#communities-table a").all_text_contents()
    assert page.title().startswith(STREET_NAME.strip())
    where = wait_for_feature(page, "gx-community", community.id)
    page.mouse.click(where["x"], where["y"])
    title = page.locator(".leaflet-popup-content .gx-popup-title")
    title.wait_for()
    assert title.text_content() == COMMUNITY_NAME
    assert_nothing_ran(page, watch, live_server)


def test_community_page(open_page, live_server, hostile):
    community, item = hostile["community"], hostile["item"]
    page, watch = open_page(f"/communities/{community.id}")
    assert page.locator("h1").text_content().strip().startswith(COMMUNITY_NAME.strip())
    assert page.locator(f"#item-{item.id} td").first.text_content().strip().startswith(
        ITEM_TITLE.strip())

    # The footprint's tooltip. The outline is drawn unfilled, so only its stroke
    # answers the mouse: hover the middle of its left edge.
    footprint = page.locator("path.gx-footprint")
    footprint.wait_for()
    rect = footprint.bounding_box()
    page.mouse.move(rect["x"] + 1.5, rect["y"] + rect["height"] / 2)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert tooltip.text_content() == COMMUNITY_NAME
    page.mouse.move(0, 0)

    where = wait_for_feature(page, "gx-item-lift_retrofit", item.id)
    assert where["free"]
    page.mouse.click(where["x"], where["y"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.locator(".gx-popup-title").text_content() == ITEM_TITLE
    assert COMMUNITY_NAME in popup.locator("td").all_text_contents()
    assert popup.locator("img, svg, script, b").count() == 0
    assert_nothing_ran(page, watch, live_server)

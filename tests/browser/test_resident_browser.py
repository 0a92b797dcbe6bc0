"""A resident on a phone (375 px, touch) signs in, writes a comment, taps the map to pin it,
posts it and finds it on the session's map, in the layer of its topic."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.geometry import Point
from test_hostile_text_browser import wait_for_feature

from renovation import sessions
from renovation.demo import DEMO_PASSWORD
from renovation.models import Community, SessionComment, SessionStatus

pytestmark = pytest.mark.browser
TEXT = "3号楼后面的下水道一下雨就返水，希望尽快更换管线。"
TO_PIXEL = """([lat, lon]) => {
  const div = document.querySelector('.folium-map');
  const point = window[div.id].latLngToContainerPoint([lat, lon]);
  const box = div.getBoundingClientRect();
  return {x: box.left + point.x, y: box.top + point.y};
}"""


def clear_spot(footprint, taken: list[Point]) -> Point:
    """A point well inside the footprint, as far as can be from the pins already there."""
    inner = footprint.buffer(-0.0002)
    minx, miny, maxx, maxy = inner.bounds
    grid = [Point(minx + (maxx - minx) * i / 12, miny + (maxy - miny) * j / 12)
            for i in range(13) for j in range(13)]
    return max((p for p in grid if inner.contains(p)),
               key=lambda p: min((p.distance(t) for t in taken), default=1))


def test_a_resident_pins_a_comment_on_a_phone_and_sees_it_on_the_map(browser, live_server,
                                                                      app_session):
    open_session = sessions.list_sessions(app_session, status=SessionStatus.OPEN)[0]
    topic = open_session.topics[1]
    community = app_session.get(Community, open_session.community_id)
    taken = [to_shape(c.location) for c in app_session.scalars(
        sa.select(SessionComment).where(SessionComment.location.is_not(None)))]
    spot = clear_spot(to_shape(community.footprint), taken)

    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{live_server}/login?next=/sessions/{open_session.id}")
        page.fill("#username", "resident")
        page.fill("#password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.locator("button[type=submit]").tap()
        assert page.url == f"{live_server}/sessions/{open_session.id}"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll

        page.select_option("#comment-topic", str(topic.id))
        page.fill("#comment-text", TEXT)
        page.locator("path.gx-footprint").wait_for(state="attached")
        where = page.evaluate(TO_PIXEL, [spot.y, spot.x])
        assert 0 < where["x"] < 375 and 0 < where["y"] < 740, where
        page.touchscreen.tap(where["x"], where["y"])
        page.wait_for_function("document.getElementById('pin-lon').value !== ''")
        lon, lat = (float(page.input_value(f"#pin-{name}")) for name in ("lon", "lat"))
        assert (lon, lat) == pytest.approx((spot.x, spot.y), abs=3e-5)  # within a pixel or two
        assert page.locator("path.gx-pin-new").count() == 1
        assert not page.locator("#pin-clear").is_hidden()

        with page.expect_navigation():
            page.locator("#comment-submit").tap()
        assert page.locator(".alert-success").is_visible()
        posted = app_session.scalar(sa.select(SessionComment).order_by(SessionComment.id.desc()))
        assert (posted.body, posted.topic_id) == (TEXT, topic.id)
        assert to_shape(posted.location).distance(Point(lon, lat)) < 1e-6
        assert page.locator(f"#comment-{posted.id} .gx-comment-text").text_content() == TEXT

        # Back at the comment (the page scrolled to it), the resident scrolls up to the map.
        wait_for_feature(page, f"gx-pin-topic-{topic.id}", posted.id)
        page.locator(".gx-session-map").scroll_into_view_if_needed()
        found = wait_for_feature(page, f"gx-pin-topic-{topic.id}", posted.id)
        assert found["free"], "something covers the pin"
        page.touchscreen.tap(found["x"], found["y"])
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert popup.locator(".gx-popup-title").text_content() == TEXT
        assert popup.locator("a.gx-popup-link").get_attribute("href") == \
            f"/sessions/{open_session.id}#comment-{posted.id}"
    finally:
        context.close()
    assert errors == []

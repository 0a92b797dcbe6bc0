"""The maps at national scale in a real browser: streets instead of dots, popups on demand, gzip.

A view holding more communities than a map can show draws one badge per street
(mapdata.MAX_DOTS is lowered here so the demo district counts as crowded). Lean
community features carry no popup text: it is fetched when a community is clicked.
Expected figures come from the database.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from renovation.models import Community, Street
from tests.browser.test_district_map import PHONE, communities_drawn, footprints, new_page

pytestmark = pytest.mark.browser

__all__ = ["footprints"]  # a fixture, imported to be used here

MAP_OF = "document.querySelector('.folium-map').id"


@pytest.fixture
def crowded(monkeypatch):
    from renovation import mapdata

    monkeypatch.setattr(mapdata, "MAX_DOTS", 40)


def set_view(page, lat: float, lon: float, zoom: int) -> None:
    page.evaluate("([lat, lon, zoom]) => window[document.querySelector('.folium-map').id]"
                  ".setView([lat, lon], zoom, {animate: false})", [lat, lon, zoom])


def test_a_crowded_district_shows_its_streets_with_their_figures(browser, live_server,
                                                                 app_session, crowded):
    streets = app_session.scalars(sa.select(Street).order_by(Street.code)).all()
    counts = dict(app_session.execute(sa.select(Community.street_id, sa.func.count())
                                      .group_by(Community.street_id)).all())
    context, page, watch = new_page(browser, viewport={"width": 1280, "height": 760})
    try:
        page.goto(live_server + "/")
        page.wait_for_load_state("networkidle")
        set_view(page, 39.91, 116.2, 13)  # street badges: no two streets share a cell
        page.wait_for_function(
            "() => document.querySelectorAll('.gx-area-street').length >= 9")
        page.wait_for_load_state("networkidle")
        badges = page.locator(".gx-area-street")
        assert badges.count() == len(streets) == 9
        assert sorted(int(t) for t in badges.all_text_contents()) == \
            sorted(counts[s.id] for s in streets)
        assert page.locator("path.gx-community").count() == 0
        assert page.locator(".gx-star").count() == 0  # the stars wait for the dots

        # A badge's popup names its street and links to its page.
        laoshan = next(s for s in streets if s.name_zh == "老山街道")
        badge = badges.filter(has_text=str(counts[laoshan.id]))
        for i in range(badge.count()):
            badge.nth(i).click(force=True)
            title = page.locator(".leaflet-popup-content .gx-popup-title")
            title.wait_for()
            if title.text_content() == laoshan.name_zh:
                break
        assert title.text_content() == laoshan.name_zh
        link = page.locator(".leaflet-popup-content a.gx-popup-link")
        assert link.get_attribute("href") == f"/streets/{laoshan.code}"

        # Closer in, the badges give way to footprints.
        set_view(page, 39.91, 116.2, 15)
        page.wait_for_function(
            "() => document.querySelectorAll('path.gx-community').length > 0 &&"
            " document.querySelectorAll('.gx-area').length === 0")
        watch.assert_clean(live_server)
    finally:
        context.close()


def test_a_cell_of_streets_zooms_in_when_clicked(browser, live_server, crowded):
    context, page, watch = new_page(browser, viewport={"width": 1280, "height": 760})
    try:
        page.goto(live_server + "/")
        page.wait_for_load_state("networkidle")
        set_view(page, 39.91, 116.2, 9)
        cell = page.locator(".gx-area-cell").first
        cell.wait_for()
        zoom = page.evaluate(f"window[{MAP_OF}].getZoom()")
        cell.click(force=True)
        page.wait_for_function(f"() => window[{MAP_OF}].getZoom() > {zoom}")
        assert page.locator(".leaflet-popup").count() == 0
        watch.assert_clean(live_server)
    finally:
        context.close()


def test_popups_are_fetched_on_click_in_the_chosen_language(browser, live_server, app_session,
                                                            footprints):
    context, page, watch = new_page(browser, **PHONE)
    try:
        page.goto(live_server + "/lang/en?next=/")
        communities_drawn(page, watch, footprints)
        assert watch.api_requests("/api/map/communities", lean="1")
        details = [u for u in watch.requests if "/api/map/communities/" in u]
        assert details == []  # nothing fetched for popups before a click
        target = page.evaluate("""() => {
            const map = document.querySelector('.folium-map').getBoundingClientRect();
            for (const el of document.querySelectorAll('path.gx-community')) {
                const r = el.getBoundingClientRect();
                const x = r.left + r.width / 2, y = r.top + r.height / 2;
                if (x > map.left + 30 && x < map.right - 30 && y > map.top + 150 &&
                    y < map.bottom - 30 && document.elementFromPoint(x, y) === el) {
                    return {x, y};
                }
            }
            return null;
        }""")
        assert target
        page.touchscreen.tap(target["x"], target["y"])
        link = page.locator(".leaflet-popup-content a.gx-popup-link")
        link.wait_for()
        community = app_session.get(Community, int(link.get_attribute("href").rsplit("/", 1)[1]))
        assert page.locator(".gx-popup-title").text_content() == community.name
        headers = page.locator(".leaflet-popup-content th").all_text_contents()
        assert "Street" in headers and "Progress" in headers
        assert community.street.name_en in page.locator(".leaflet-popup-content td") \
            .all_text_contents()
        details = [u for u in watch.requests if "/api/map/communities/" in u]
        assert len(details) == 1 and details[0].endswith(f"/api/map/communities/{community.id}")
        watch.assert_clean(live_server)
    finally:
        context.close()


def test_the_browser_gets_gzip(browser, live_server, footprints):
    context, page, watch = new_page(browser, viewport={"width": 1280, "height": 760})
    encodings = {}
    page.on("response", lambda r: encodings.__setitem__(
        r.url.split("?")[0].rsplit("/", 1)[-1], r.headers.get("content-encoding")))
    try:
        page.goto(live_server + "/")
        communities_drawn(page, watch, footprints)
        page.wait_for_load_state("networkidle")
        for name in ("", "leaflet.js", "gengxin-map.js", "app.css", "communities"):
            assert encodings.get(name) == "gzip", (name, encodings)
        assert encodings.get("layers.png") is None
    finally:
        context.close()

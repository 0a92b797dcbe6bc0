"""Base maps are configurable, and the map page does not grow with the communities."""

import re

import pytest
import sqlalchemy as sa
from shapely.geometry import MultiPolygon, box

from factories import make_community
from geo.assets import external_urls
from renovation.models import Street


def csp(response) -> str:
    return response.headers["Content-Security-Policy"]


def test_no_base_map_by_default_loads_nothing_from_outside(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert external_urls(html) == []
    assert "tileLayer" not in html
    assert re.search(r"img-src 'self' data:;", csp(response))


@pytest.mark.parametrize("basemap, host", [("osm", "https://tile.openstreetmap.org"),
                                           ("tianditu", "https://t0.tianditu.gov.cn"),
                                           ("amap", "https://webrd01.is.autonavi.com")])
def test_a_chosen_base_map_is_drawn_and_allowed(app_config, basemap, host):
    from server import create_app

    app_config.update(BASEMAP=basemap, TIANDITU_KEY="k123")
    app = create_app(app_config)
    try:
        response = app.test_client().get("/")
    finally:
        app.extensions["gengxin.db"].dispose()
    html = response.get_data(as_text=True)
    assert "tileLayer" in html
    assert host in csp(response)
    if basemap == "tianditu":
        assert "tk=k123" in html
    # AMap tiles are drawn in GCJ-02: the layers ask for shifted geometry.
    assert ("display=gcj02" in html) == (basemap == "amap")


def test_an_unknown_base_map_is_refused_at_start(app_config):
    from server import create_app

    app_config["BASEMAP"] = "googlemaps"
    with pytest.raises(ValueError, match="BASEMAP"):
        create_app(app_config)


def test_the_district_page_does_not_grow_with_the_communities(client, app_session):
    before = len(client.get("/").get_data())
    street = app_session.scalar(sa.select(Street).order_by(Street.code))
    for i in range(300):
        x, y = 116.0 + (i % 20) * 0.0005, 39.80 + (i // 20) * 0.0005
        make_community(app_session, street, footprint=MultiPolygon([box(x, y, x + 0.0003,
                                                                        y + 0.0003)]))
    app_session.commit()
    after = len(client.get("/").get_data())
    # Only the counts in the summary change; no footprint is embedded in the page.
    assert abs(after - before) < 100

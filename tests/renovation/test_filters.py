"""One set of filters from the URL: parsed and checked, and selecting the same things
on the maps, the map pages' tables, the dashboard and the exports.

Expected selections are worked out here in Python from every item and community read
from the database, never with the app's SQL clauses.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from htmltree import parse_html, squeeze
from renovation.catalogue import BY_CODE
from renovation.errors import DomainError
from renovation.filters import Filters
from renovation.models import Community, RenovationItem, Street
from renovation.status import Status

TODAY = dt.date.today()
DISTRICT_BOX = "115.9,39.8,116.4,40.1"
LAOSHAN = "110107002000"


# --- Parsing ----------------------------------------------------------------------------------

def test_the_query_string_becomes_filters_and_back():
    args = MultiDict([("street", " 110107002000 "), ("kind", "lift_retrofit,parking"),
                      ("kind", "drainage"), ("status", "design"), ("status", "construction"),
                      ("built_from", "1980"), ("built_to", "1995"), ("pilot", "1"),
                      ("overdue", "on")])
    filters = Filters.from_args(args)
    assert filters == Filters(street="110107002000",
                              kinds=("lift_retrofit", "parking", "drainage"),
                              statuses=(Status.DESIGN, Status.CONSTRUCTION), built_from=1980,
                              built_to=1995, pilot_only=True, overdue_only=True)
    assert Filters.from_args(MultiDict(filters.to_args())) == filters
    assert filters.to_args()["kind"] == "lift_retrofit,parking,drainage"
    assert Filters.from_args({}) == Filters() and Filters().is_empty
    assert Filters().to_args() == {}
    # An empty form (every field sent blank, boxes unticked) is no filter at all.
    blank = {"street": "", "kind": "", "status": "", "built_from": "", "built_to": "",
             "pilot": "0"}
    assert Filters.from_args(blank).is_empty
    assert Filters(overdue_only=True).selects_items and not Filters(pilot_only=True).selects_items


@pytest.mark.parametrize("args,word", [
    ({"kind": "lift"}, "lift"),
    ({"kind": "parking,bogus"}, "bogus"),
    ({"status": "done"}, "done"),
    ({"built_from": "19x0"}, "built_from"),
    ({"built_to": "99"}, "built_to"),
    ({"built_to": "３０００"}, "built_to"),  # full-width digits are not a year
    ({"built_from": "2000", "built_to": "1990"}, "built_from"),
    ({"pilot": "maybe"}, "pilot"),
    ({"overdue": "2"}, "overdue"),
    ({"street": "1" * 40}, "street"),
])
def test_bad_filters_are_refused_naming_the_parameter(args, word):
    with pytest.raises(DomainError) as caught:
        Filters.from_args(args)
    assert caught.value.status == 400
    assert word in str(caught.value.message)


# --- Selection, checked against Python --------------------------------------------------------

def is_overdue(item: RenovationItem) -> bool:
    return item.planned_end is not None and item.planned_end < TODAY and not item.status.is_done


def community_matches(community: Community, f: Filters) -> bool:
    year = community.year_built
    return ((not f.street or community.street.code == f.street)
            and (f.built_from is None or (year is not None and year >= f.built_from))
            and (f.built_to is None or (year is not None and year <= f.built_to))
            and (not f.pilot_only or community.is_pilot))


def item_matches(item: RenovationItem, f: Filters) -> bool:
    return (community_matches(item.community, f)
            and (not f.kinds or item.kind in f.kinds)
            and (not f.statuses or item.status in f.statuses)
            and (not f.overdue_only or is_overdue(item)))


def expected(session, f: Filters) -> tuple[set[int], set[int]]:
    """(item ids, community ids) the filters select, in Python."""
    communities = session.scalars(sa.select(Community).options(
        selectinload(Community.street), selectinload(Community.items))).all()
    items = {i.id for c in communities for i in c.items if item_matches(i, f)}
    chosen = {c.id for c in communities if community_matches(c, f)
              and (not f.selects_items or any(item_matches(i, f) for i in c.items))}
    return items, chosen


FILTERS = [
    Filters(street=LAOSHAN),
    Filters(kinds=("lift_retrofit", "drainage")),
    Filters(statuses=(Status.CONSTRUCTION, Status.SUSPENDED)),
    Filters(built_from=1980, built_to=1990),
    Filters(built_to=1975),
    Filters(pilot_only=True),
    Filters(overdue_only=True),
    Filters(street=LAOSHAN, kinds=("lift_retrofit",), overdue_only=True),
    Filters(built_from=1985, statuses=(Status.PLANNED, Status.DESIGN), pilot_only=False),
]


def test_sql_clauses_select_what_python_selects(session):
    for f in FILTERS:
        items, communities = expected(session, f)
        got_items = set(session.scalars(
            sa.select(RenovationItem.id).join(Community, RenovationItem.community)
            .where(*f.item_clauses(TODAY))))
        got_communities = set(session.scalars(
            sa.select(Community.id).where(*f.community_clauses(TODAY))))
        assert got_items == items, f
        assert got_communities == communities, f
        assert items, f"{f} selects nothing: the demo data changed, pick another filter"
    everything = expected(session, Filters())
    for f in FILTERS:
        assert expected(session, f)[0] < everything[0]


# --- The same selection everywhere ------------------------------------------------------------

def layer_urls(html: str) -> list[str]:
    """The URLs the page's bbox layers fetch from (the options folium wrote)."""
    return [json.loads(f'"{m}"') for m in re.findall(r'"url": "([^"]+)"', html)]


def test_maps_tables_dashboard_and_exports_agree(client, app_session):
    f = Filters(kinds=("lift_retrofit", "drainage", "parking"), built_from=1975,
                statuses=(Status.DESIGN, Status.CONSTRUCTION, Status.CONSULTING))
    query = f.to_args()
    items, communities = expected(app_session, f)
    assert 0 < len(items) < 200 and 0 < len(communities)

    # The map data endpoints.
    body = client.get("/api/map/items", query_string={"bbox": DISTRICT_BOX, **query}).get_json()
    assert {feature["id"] for feature in body["features"]} == items
    body = client.get("/api/map/communities",
                      query_string={"bbox": DISTRICT_BOX, "zoom": 15, **query}).get_json()
    assert {feature["id"] for feature in body["features"]} == communities

    # The exports.
    body = client.get("/export", query_string={"layer": "items", "format": "geojson", **query})
    assert {feat["properties"]["id"] for feat in body.get_json(force=True)["features"]} == items
    body = client.get("/export", query_string={"layer": "communities", "format": "geojson",
                                               **query}).get_json(force=True)
    codes = set(app_session.scalars(sa.select(Community.code)
                                    .where(Community.id.in_(communities))))
    assert {feat["properties"]["code"] for feat in body["features"]} == codes
    assert sum(feat["properties"]["items"] for feat in body["features"]) == len(items)

    # The dashboard's comparison: items per street.
    per_street: dict[str, int] = {}
    for item in app_session.scalars(sa.select(RenovationItem).where(
            RenovationItem.id.in_(items)).options(
            selectinload(RenovationItem.community).selectinload(Community.street))):
        per_street[item.community.street.code] = per_street.get(item.community.street.code,
                                                                 0) + 1
    doc = parse_html(client.get("/dashboard", query_string=query).get_data(as_text=True))
    for row in doc.find("table", id="comparison-table").find("tbody").find_all("tr"):
        done_of_items = squeeze(row.find_all("td")[3].text())
        assert int(done_of_items.split("/")[1]) == per_street.get(row.attrs["data-code"], 0)
    total = doc.find("table", id="comparison-table").find("tfoot").find_all("td")
    assert squeeze(total[2].text()).endswith(f"/{len(items)}")

    # The district page: its figures and the layer URLs its map fetches from.
    html = client.get("/", query_string=query).get_data(as_text=True)
    doc = parse_html(html)
    figures = doc.find("dl", cls="gx-figures").find_all("dd")
    assert squeeze(figures[1].text()) == str(len(items))
    urls = layer_urls(html)
    item_layers = [u for u in urls if urlsplit(u).path == "/api/map/items"]
    assert sorted(parse_qs(urlsplit(u).query)["kind"][0] for u in item_layers) == sorted(f.kinds)
    for url in urls:
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        if urlsplit(url).path == "/api/map/items":
            params["kind"] = query["kind"]  # each kind layer asks for its own kind
        assert {k: params[k] for k in query} == query, url

    # A street page: exactly the street's selected communities in its table.
    laoshan = app_session.scalars(sa.select(Street).where(Street.code == LAOSHAN)).one()
    doc = parse_html(client.get(f"/streets/{LAOSHAN}", query_string=query)
                     .get_data(as_text=True))
    links = doc.find("table", id="communities-table").find("tbody").find_all("a")
    own = set(app_session.scalars(sa.select(Community.id).where(
        Community.id.in_(communities), Community.street_id == laoshan.id)))
    assert {int(a.attrs["href"].rsplit("/", 1)[1]) for a in links} == own


def test_without_filters_the_pages_and_layers_are_as_before(client):
    html = client.get("/").get_data(as_text=True)
    urls = layer_urls(html)
    assert len([u for u in urls if u.startswith("/api/map/items?")]) == len(BY_CODE)
    assert all(set(parse_qs(urlsplit(u).query)) <= {"kind", "pilots"} for u in urls)


def test_map_api_refuses_bad_filters_naming_them(client):
    for query, word in [("kind=nope", "nope"), ("status=finished", "finished"),
                        ("built_from=abc", "built_from"), ("overdue=yes%21", "overdue")]:
        for path in ("/api/map/items", "/api/map/communities"):
            response = client.get(f"{path}?bbox={DISTRICT_BOX}&{query}&lang=en")
            assert response.status_code == 400, (path, query)
            assert word in response.get_json()["error"]["message"], (path, query)


def test_a_filter_value_cannot_break_out_of_the_layer_url(client):
    # The street code goes into the URLs the map script fetches; it must stay one value.
    html = client.get("/", query_string={"street": "x&kind=parking#"}).get_data(as_text=True)
    urls = layer_urls(html)
    assert urls
    for url in urls:
        params = parse_qs(urlsplit(url).query)
        assert params["street"] == ["x&kind=parking#"], url
        if urlsplit(url).path == "/api/map/communities":
            assert "kind" not in params, url
        else:
            assert len(params["kind"]) == 1, url

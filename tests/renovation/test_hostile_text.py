"""Names and titles that try to run script are shown as text, and the API returns them as stored.

Street, community and item names come from officials' spreadsheets, imported GIS
files and residents. Here every demo street gets a hostile Chinese and English
name, and nine hostile communities (pilots, so the district page lists them) with
one hostile item each are added to the first street. Every page that shows them is
then parsed: no element or script may come out of the text, and the text must
read back exactly as stored.
"""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from factories import community_square, make_community, make_item
from htmltree import Node, parse_html
from renovation.models import Street

LONG = ("</script><img src=x onerror=alert(1)>`${alert(1)}`\u2028" * 5)[:200]
HOSTILE = {
    "script": "<script>alert('x')</script>",
    "img": "\"><img src=x onerror=alert(1)>",
    "template": "${alert(1)}",
    "backtick": "`;alert(1);`",
    "close_script": "</script><script>alert(1)</script>",
    "line_separator": "石景山\u2028alert(1)\u2029//",
    "comment": "<!--<script>alert(1)//",
    "quotes": "'\";alert(1)//\\",
    "long": LONG,
}
#: streets.name_zh / name_en are VARCHAR(100), which PostgreSQL enforces.
STREET_NAME_LENGTH = 100
#: Around the factories' origin, where the hostile communities are.
HOSTILE_BOX = (116.99, 40.49, 117.02, 40.52)
#: A double-quoted JavaScript / JSON string literal.
STRING_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def test_the_payloads_are_what_they_claim():
    assert len(LONG) == 200
    assert len(HOSTILE) == 9  # one per demo street


# --- Arranging the hostile data ---------------------------------------------------------------

def street_name(payload: str) -> str:
    return payload[:STREET_NAME_LENGTH]


@pytest.fixture
def hostile(app_session):
    """Hostile names on every demo street and on nine new pilot communities and their items."""
    streets = app_session.scalars(sa.select(Street).order_by(Street.code)).all()
    assert len(streets) == len(HOSTILE)
    for street, payload in zip(streets, HOSTILE.values(), strict=True):
        street.name_zh = street_name(payload)
        street.name_en = street_name(payload)
    communities, items = [], []
    for i, payload in enumerate(HOSTILE.values()):
        community = make_community(app_session, streets[0], footprint=community_square(0, i),
                                   name=payload, is_pilot=True)
        communities.append(community)
        items.append(make_item(app_session, community, title=payload))
    app_session.commit()
    return {"streets": streets, "communities": communities, "items": items}


# --- What "safe" means for a page -------------------------------------------------------------

def assert_nothing_escapes(html: str, where: str) -> Node:
    """No markup or script made from the hostile text, in the raw page or its parsed tree."""
    lowered = html.lower()
    for fragment in ("<script>alert", "<img src=x", "<svg onload", "<!--<script>"):
        assert fragment not in lowered, (where, fragment)
    doc = parse_html(html)
    assert doc.find_all("img") == [] or all("onerror" not in n.attrs for n in doc.find_all("img"))
    handlers = [(n.tag, k) for n in doc.iter() for k in n.attrs if k.startswith("on")]
    assert handlers == [], where
    assert [n for n in doc.find_all("#comment") if "alert" in n.attrs["data"]] == [], where
    for script in doc.find_all("script"):
        code = script.text()
        assert "\u2028" not in code and "\u2029" not in code, where
        outside_strings = STRING_LITERAL.sub('""', code)
        for fragment in ("alert(", "`", "${", "<!--", "<"):
            assert fragment not in outside_strings, (where, fragment, outside_strings[:200])
        for literal in STRING_LITERAL.findall(code):
            assert "<" not in literal and ">" not in literal, (where, literal[:120])
    return doc


def script_strings(doc: Node) -> set[str]:
    """Every string literal of the page's inline scripts, decoded."""
    found = set()
    for script in doc.find_all("script"):
        for literal in STRING_LITERAL.findall(script.text()):
            try:
                found.add(json.loads(literal))
            except ValueError:
                pass
    return found


def get_page(client, path: str) -> tuple[str, Node]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    html = response.get_data(as_text=True)
    return html, assert_nothing_escapes(html, path)


# --- Pages ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_district_page(client, hostile, lang):
    _, doc = get_page(client, f"/?lang={lang}")
    names = [street_name(p) for p in HOSTILE.values()]
    links = doc.find("table", id="streets-table").find_all("a")
    assert [a.text() for a in links] == names
    assert [a.attrs["href"] for a in links] == [f"/streets/{s.code}" for s in hostile["streets"]]
    # The street outlines and their labels are embedded in the map script as JSON.
    assert set(names) <= script_strings(doc)
    pilots = {a.text() for a in doc.find("ul", cls="gx-pilots").find_all("a")}
    assert set(HOSTILE.values()) <= pilots


def test_street_pages(client, hostile):
    names = {street_name(p) for p in HOSTILE.values()}
    for street in hostile["streets"]:
        _, doc = get_page(client, f"/streets/{street.code}")
        assert doc.find("title").text().startswith(street.name_zh)
        assert doc.find("h1").own_text().strip() == street.name_zh.strip()
        assert doc.find("li", cls="active").text() == street.name_zh
        assert names <= script_strings(doc)  # own outline and the neighbours'
    _, doc = get_page(client, f"/streets/{hostile['streets'][0].code}")
    listed = [a.text() for a in doc.find("table", id="communities-table").find_all("a")]
    assert set(HOSTILE.values()) <= set(listed)


def test_community_pages(client, hostile):
    for community, item in zip(hostile["communities"], hostile["items"], strict=True):
        _, doc = get_page(client, f"/communities/{community.id}")
        assert doc.find("title").text().startswith(community.name)
        assert doc.find("h1").own_text().strip() == community.name.strip()
        crumbs = [li.text() for li in doc.find("ol", cls="breadcrumb").find_all("li")]
        assert crumbs[1:] == [hostile["streets"][0].name_zh, community.name]
        row = doc.find("tr", id=f"item-{item.id}")
        assert row.find("td").own_text().strip() == item.title.strip()
        # The footprint's tooltip text travels in the map script as JSON.
        assert community.name in script_strings(doc)


def test_english_community_page(client, hostile):
    community = hostile["communities"][0]
    _, doc = get_page(client, f"/communities/{community.id}?lang=en")
    crumbs = [li.text() for li in doc.find("ol", cls="breadcrumb").find_all("li")]
    assert crumbs[1:] == [hostile["streets"][0].name_en, community.name]


@pytest.mark.parametrize("payload", ["<svg onload=alert(1)>", "\"><img src=x onerror=alert(1)>",
                                     "${alert(1)}`"])
def test_error_page_shows_the_asked_code_as_text(client, payload):
    response = client.get(f"/streets/{payload}")
    assert response.status_code == 404
    assert_nothing_escapes(response.get_data(as_text=True), "404 page")
    response = client.get(f"/streets/{payload}", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert payload in response.get_json()["error"]["message"]


# --- The map API gives clients the real text --------------------------------------------------

@pytest.mark.parametrize("zoom", [12, 16])
def test_map_api_returns_the_names_exactly(client, hostile, zoom):
    bbox = ",".join(map(str, HOSTILE_BOX))
    response = client.get(f"/api/map/communities?bbox={bbox}&zoom={zoom}")
    assert response.status_code == 200
    features = {f["id"]: f["properties"] for f in json.loads(response.get_data())["features"]}
    street = hostile["streets"][0]
    for community in hostile["communities"]:
        props = features[community.id]
        assert props["name"] == community.name
        assert props["title"] == community.name
        assert props["label"].startswith(community.name + " · ")
        assert dict(props["rows"]).get(next(k for k, v in props["rows"] if v == street.name_zh)) \
            == street.name_zh

    response = client.get(f"/api/map/items?bbox={bbox}&zoom={zoom}")
    assert response.status_code == 200
    features = {f["id"]: f["properties"] for f in json.loads(response.get_data())["features"]}
    for community, item in zip(hostile["communities"], hostile["items"], strict=True):
        props = features[item.id]
        assert props["title"] == item.title
        assert [v for _, v in props["rows"] if v == community.name] == [community.name]


def test_map_api_in_english_returns_the_english_street_name(client, hostile):
    bbox = ",".join(map(str, HOSTILE_BOX))
    body = client.get(f"/api/map/communities?bbox={bbox}&zoom=12&lang=en").get_json(force=True)
    street = hostile["streets"][0]
    for feature in body["features"]:
        assert [v for _, v in feature["properties"]["rows"] if v == street.name_en]


def test_payloads_are_stored_as_given(app_session, hostile):
    """The database keeps the text as it came: escaping is the page's job, not storage's."""
    app_session.expire_all()
    for community, payload in zip(hostile["communities"], HOSTILE.values(), strict=True):
        app_session.refresh(community)
        assert community.name == payload

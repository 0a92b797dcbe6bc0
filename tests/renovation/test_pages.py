"""The district, street and community pages: right data, safe headers, errors, languages.

Page text is checked on data (street and community names, codes, progress
figures) and on structure, never on interface strings, which are being translated.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from geo.assets import external_urls
from htmltree import parse_html, squeeze
from renovation.models import Community, RenovationItem, Street
from renovation.progress import progress_by

CSP_NONCE = re.compile(r"script-src [^;]*'nonce-([A-Za-z0-9_\-+/=]+)'")


# --- Data read from the database --------------------------------------------------------------

def streets_in_db(session) -> list[Street]:
    return list(session.scalars(sa.select(Street).order_by(Street.code)))


def any_community_with_items(session) -> Community:
    return session.scalars(sa.select(Community).where(Community.items.any())
                           .order_by(Community.id)).first()


def page(client, path: str, **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code)
    assert response.mimetype == "text/html"
    return response, parse_html(response.get_data(as_text=True))


# --- The district page ------------------------------------------------------------------------

def test_district_page_lists_the_nine_streets_with_links(client, app_session):
    streets = streets_in_db(app_session)
    assert len(streets) == 9
    _, doc = page(client, "/")
    links = doc.find("table", id="streets-table").find("tbody").find_all("a")
    assert [(a.attrs["href"], squeeze(a.text())) for a in links] == [
        (f"/streets/{s.code}", s.name_zh) for s in streets]
    assert "老山街道" in [s.name_zh for s in streets]


def test_district_page_lists_the_pilots(client, app_session):
    pilots = app_session.scalars(sa.select(Community).where(Community.is_pilot)
                                 .order_by(Community.code)).all()
    assert len(pilots) == 9
    _, doc = page(client, "/")
    links = doc.find("ul", cls="gx-pilots").find_all("a")
    assert [(a.attrs["href"], a.text()) for a in links] == [
        (f"/communities/{c.id}", c.name) for c in pilots]
    assert "老山东里北社区" in [c.name for c in pilots]


# --- Street pages -----------------------------------------------------------------------------

def test_each_street_page_lists_exactly_its_communities_with_their_progress(client, app_session):
    progress = progress_by(app_session, Community.id)
    for street in streets_in_db(app_session):
        _, doc = page(client, f"/streets/{street.code}")
        assert squeeze(doc.find("h1").text()).startswith(street.name_zh)
        expected = app_session.scalars(sa.select(Community).where(Community.street_id == street.id)
                                       .order_by(Community.code)).all()
        rows = doc.find("table", id="communities-table").find("tbody").find_all("tr")
        assert len(rows) == len(expected) > 0, street.name_zh
        for row, community in zip(rows, expected, strict=True):
            link = row.find("a")
            assert (link.attrs["href"], link.text()) == (f"/communities/{community.id}",
                                                         community.name)
            cells = row.find_all("td")
            bars = row.find_all(cls="gx-progress")
            p = progress.get(community.id)
            if p is None:  # not in the programme: no items, no bar
                assert squeeze(cells[1].text()) == "0/0"
                assert bars == []
            else:
                assert squeeze(cells[1].text()) == f"{p.done}/{p.items}"
                assert len(bars) == 1
                assert bars[0].attrs["aria-valuenow"] == str(round(p.percent))
                assert squeeze(bars[0].find(cls="gx-progress-text").text()) == f"{p.percent:.0f}%"
            assert bool(row.find_all(cls="gx-star-inline")) == community.is_pilot


def test_street_page_shows_communities_of_other_streets_nowhere(client, app_session):
    streets = streets_in_db(app_session)
    laoshan = next(s for s in streets if s.name_zh == "老山街道")
    others = app_session.scalars(sa.select(Community.name)
                                 .where(Community.street_id != laoshan.id)).all()
    own = set(app_session.scalars(sa.select(Community.name)
                                  .where(Community.street_id == laoshan.id)).all())
    _, doc = page(client, f"/streets/{laoshan.code}")
    table_text = doc.find("table", id="communities-table").text()
    assert "老山东里北社区" in table_text
    assert not [name for name in others if name not in own and name in table_text]


# --- Community pages --------------------------------------------------------------------------

def test_community_page_lists_its_items(client, app_session):
    community = any_community_with_items(app_session)
    items = app_session.scalars(sa.select(RenovationItem)
                                .where(RenovationItem.community_id == community.id)
                                .order_by(RenovationItem.id)).all()
    assert items
    _, doc = page(client, f"/communities/{community.id}")
    assert squeeze(doc.find("h1").text()).startswith(community.name)
    breadcrumb = [squeeze(li.text()) for li in doc.find("ol", cls="breadcrumb").find_all("li")]
    assert breadcrumb[1:] == [community.street.name_zh, community.name]
    assert community.code in doc.find("dl", cls="gx-facts").text()
    rows = doc.find("table", id="items-table").find("tbody").find_all("tr")
    assert [row.attrs["id"] for row in rows] == [f"item-{i.id}" for i in items]
    for row, item in zip(rows, items, strict=True):
        cells = row.find_all("td")
        assert item.title in cells[0].text()
        assert squeeze(cells[1].text()) == item.status.label("zh")
        assert row.find(cls="gx-progress").attrs["aria-valuenow"] == str(item.progress_pct)


def test_district_pilot_page(client, app_session):
    pilot = app_session.scalars(sa.select(Community).where(Community.is_district_pilot)).one()
    assert pilot.name == "老山东里北社区"
    _, doc = page(client, f"/communities/{pilot.id}")
    assert pilot.name in doc.find("h1").text()
    assert doc.find("h1").find_all(cls="gx-badge-pilot")


def test_community_without_items_renders(client, app_session):
    community = app_session.scalars(sa.select(Community).where(~Community.items.any())
                                    .order_by(Community.id)).first()
    _, doc = page(client, f"/communities/{community.id}")
    assert doc.find_all("table", id="items-table") == []
    assert community.name in doc.find("h1").text()


# --- Errors -----------------------------------------------------------------------------------

NOT_FOUND = ["/streets/999999999999", "/communities/999999", "/communities/abc",
             "/communities/-1", "/communities/0", "/communities/99999999999999999999",
             "/no/such/page"]


@pytest.mark.parametrize("path", NOT_FOUND)
def test_unknown_pages_are_a_404_html_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    doc = parse_html(response.get_data(as_text=True))
    assert doc.find("html").attrs["lang"] == "zh-CN"
    assert squeeze(doc.find("h1").text()) == "404"
    assert doc.find("main").find_all("a", href="/")  # a way back to the district map


@pytest.mark.parametrize("path", NOT_FOUND)
def test_unknown_pages_answer_json_when_asked(client, path):
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == 404
    assert isinstance(error["message"], str) and error["message"]


def test_not_found_message_names_what_is_missing(client):
    error = client.get("/communities/999999",
                       headers={"Accept": "application/json"}).get_json()["error"]
    assert "999999" in error["message"]
    error = client.get("/streets/999999999999",
                       headers={"Accept": "application/json"}).get_json()["error"]
    assert "999999999999" in error["message"]


# --- Content-Security-Policy and self-contained pages ------------------------------------------

def all_page_paths(session) -> list[str]:
    street = streets_in_db(session)[0]
    community = any_community_with_items(session)
    return ["/", f"/streets/{street.code}", f"/communities/{community.id}",
            "/?lang=en", f"/communities/{community.id}?lang=en", "/communities/999999"]


def test_every_inline_script_carries_the_nonce_of_the_policy(client, app_session):
    seen_nonces = set()
    for path in all_page_paths(app_session):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        policy = response.headers.get("Content-Security-Policy", "")
        match = CSP_NONCE.search(policy)
        assert match, (path, policy)
        nonce = match.group(1)
        assert len(nonce) >= 16
        seen_nonces.add(nonce)
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "object-src 'none'" in policy
        doc = parse_html(response.get_data(as_text=True))
        scripts = doc.find_all("script")
        for script in scripts:
            if "src" not in script.attrs:
                assert script.attrs.get("nonce") == nonce, (path, script.text()[:80])
            else:
                assert not urlsplit(script.attrs["src"]).netloc, script.attrs["src"]
        if response.status_code == 200:
            assert any("src" not in s.attrs for s in scripts), path  # the map script is inline
        # No inline event handlers either: the policy would block them.
        handlers = [(n.tag, k) for n in doc.iter() for k in n.attrs if k.startswith("on")]
        assert handlers == [], path
    assert len(seen_nonces) == len(all_page_paths(app_session))  # a fresh nonce each time


def test_pages_load_nothing_from_outside(client, app_session):
    for path in all_page_paths(app_session):
        html = client.get(path).get_data(as_text=True)
        assert external_urls(html) == [], path
        doc = parse_html(html)
        for node in doc.iter():
            for attr in ("src", "href"):
                value = node.attrs.get(attr)
                if value is not None:
                    parts = urlsplit(value)
                    assert not parts.scheme and not parts.netloc, (path, node.tag, value)


# --- Languages --------------------------------------------------------------------------------

def html_lang(response) -> str:
    return parse_html(response.get_data(as_text=True)).find("html").attrs["lang"]


def test_chinese_is_the_default_language(client, app_session):
    street = streets_in_db(app_session)[0]
    response, doc = page(client, f"/streets/{street.code}")
    assert doc.find("html").attrs["lang"] == "zh-CN"
    assert street.name_zh in doc.find("h1").text()


def test_lang_query_switches_to_english_for_one_request(client, app_session):
    street = streets_in_db(app_session)[0]
    response, doc = page(client, f"/streets/{street.code}?lang=en")
    assert doc.find("html").attrs["lang"] == "en"
    assert street.name_en in doc.find("h1").text()
    assert html_lang(client.get("/")) == "zh-CN"  # nothing remembered


def test_language_switch_sets_the_cookie_and_goes_back(client, app_session):
    street = next(s for s in streets_in_db(app_session) if s.name_zh == "老山街道")
    path = f"/streets/{street.code}"
    response = client.get("/lang/en", query_string={"next": path})
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == path
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie

    response, doc = page(client, path)
    assert doc.find("html").attrs["lang"] == "en"
    assert street.name_en in doc.find("h1").text()
    assert street.name_zh not in doc.find("h1").text()
    _, doc = page(client, "/")
    assert doc.find("html").attrs["lang"] == "en"
    links = doc.find("table", id="streets-table").find_all("a")
    assert {a.text() for a in links} == {s.name_en for s in streets_in_db(app_session)}

    response = client.get("/lang/zh", query_string={"next": path})
    assert response.headers["Location"] == path
    assert client.get_cookie("lang").value == "zh"
    assert html_lang(client.get(path)) == "zh-CN"


def test_language_switch_keeps_the_query_string(client):
    response = client.get("/lang/en", query_string={"next": "/?lang=en&x=1"})
    assert response.headers["Location"] == "/?lang=en&x=1"


def test_language_links_in_the_page_come_back_to_the_page(client, app_session):
    street = streets_in_db(app_session)[0]
    _, doc = page(client, f"/streets/{street.code}")
    hrefs = {a.attrs["href"] for a in doc.find_all("a", cls="gx-lang")}
    assert f"/lang/en?next=/streets/{street.code}" in hrefs
    assert hrefs <= {f"/lang/zh?next=/streets/{street.code}",
                     f"/lang/en?next=/streets/{street.code}"}


def resolve_like_a_browser(base: str, location: str) -> tuple[str, str]:
    """(scheme, host) a browser would go to: WHATWG URLs read '\\' as '/' in http(s)."""
    from urllib.parse import urljoin

    cleaned = re.sub(r"[\t\n\r]", "", location.strip()).replace("\\", "/")
    parts = urlsplit(urljoin(base, cleaned))
    return parts.scheme, parts.netloc


OPEN_REDIRECTS = ["//evil.example", "https://evil.example", "/\\evil.example",
                  "javascript:alert(1)", "http:evil.example", "///evil.example",
                  "\\\\evil.example", "/\t/evil.example", " //evil.example", "evil.example"]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_language_switch_never_leaves_the_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code in (302, 303)
    location = response.headers["Location"]
    assert resolve_like_a_browser("http://localhost/lang/en", location) == ("http", "localhost")
    assert client.get_cookie("lang").value == "en"


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "javascript:alert(1)",
    "/\\evil.example",
])
def test_language_switch_refuses_open_redirects_by_going_home(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("code", ["fr", "xx", "EN", "zh-CN", "..", "<script>"])
def test_unknown_language_is_refused_not_a_crash(client, code):
    response = client.get(f"/lang/{code}", query_string={"next": "/"})
    assert response.status_code in (400, 404)
    assert client.get_cookie("lang") is None
    assert html_lang(response) == "zh-CN"


def test_unknown_language_cookie_falls_back_to_chinese(client):
    client.set_cookie("lang", "fr")
    assert html_lang(client.get("/")) == "zh-CN"


def test_interface_is_in_chinese_by_default_and_english_on_request(translated_client):
    client = translated_client
    _, doc = page(client, "/")
    assert squeeze(doc.find("aside").find("h1").text()) == "石景山区"
    assert "全区地图" in doc.find("nav").text()
    _, doc = page(client, "/?lang=en")
    assert squeeze(doc.find("aside").find("h1").text()) == "Shijingshan District"
    assert "石景山区" not in doc.find("aside").text()
    client.get("/lang/en", query_string={"next": "/"})
    _, doc = page(client, "/")
    assert squeeze(doc.find("aside").find("h1").text()) == "Shijingshan District"


def _programme_names(doc) -> list[str]:
    """Where a page names the programme: the tagline, then the first breadcrumb or else
    the heading of the side panel (the district page)."""
    found = [squeeze(doc.find("span", cls="gx-tagline").text()).split(" · ")[-1]]
    headings = [h for aside in doc.find_all("aside") for h in aside.find_all("h1")]
    crumbs = [a for li in doc.find_all("li", cls="breadcrumb-item") for a in li.find_all("a")]
    return found + [squeeze(e.text()) for e in (crumbs or headings)[:1]]


@pytest.mark.parametrize("path", ["/", "/streets/{street}", "/communities/{community}",
                                  "/streets/{street}/report"])
def test_the_programme_is_named_by_the_configuration_in_both_languages(
        app_config, request, path):
    """A national or city programme is not Shijingshan: its name comes from the settings."""
    app_config.update(PROGRAMME_NAME="全国老旧小区改造", PROGRAMME_NAME_EN="National renovation")
    client = request.getfixturevalue("translated_client")
    with request.getfixturevalue("app_session") as session:
        street, community = streets_in_db(session)[0], any_community_with_items(session)
        path = path.format(street=street.code, community=community.id)
    _, doc = page(client, path)
    assert set(_programme_names(doc)) == {"全国老旧小区改造"}
    assert "石景山区" not in doc.text()
    _, doc = page(client, path, query_string={"lang": "en"})
    assert set(_programme_names(doc)) == {"National renovation"}
    assert "Shijingshan" not in doc.text()


def test_the_dashboard_is_of_the_programme_named_by_the_configuration(app_config, request):
    app_config.update(PROGRAMME_NAME="全国老旧小区改造", PROGRAMME_NAME_EN="National renovation")
    client = request.getfixturevalue("translated_client")
    for query, name in [("", "全国老旧小区改造"), ("?lang=en", "National renovation")]:
        _, doc = page(client, "/dashboard" + query)
        assert squeeze(doc.find("h1").text()).endswith(f" · {name}")
        assert _programme_names(doc)[0] == name


@pytest.mark.parametrize(("names", "zh", "en"), [
    ({}, "石景山区", "Shijingshan District"),
    ({"PROGRAMME_NAME": "全市老旧小区改造"}, "全市老旧小区改造", "全市老旧小区改造"),
    ({"PROGRAMME_NAME_EN": "Citywide renovation"}, "Citywide renovation", "Citywide renovation"),
])
def test_one_programme_name_stands_in_for_the_other_and_none_is_the_demo(
        app_config, request, names, zh, en):
    app_config.update(names)
    client = request.getfixturevalue("translated_client")
    assert _programme_names(page(client, "/")[1]) == [zh, zh]
    assert _programme_names(page(client, "/?lang=en")[1]) == [en, en]


def test_the_programme_name_is_read_from_the_environment(monkeypatch):
    from renovation import config

    monkeypatch.setenv("PROGRAMME_NAME", "全国老旧小区改造")
    monkeypatch.setenv("PROGRAMME_NAME_EN", "National renovation")
    found = config.from_environment()
    assert (found["PROGRAMME_NAME"], found["PROGRAMME_NAME_EN"]) == (
        "全国老旧小区改造", "National renovation")


# --- A district page that stays light however many streets there are -------------------------

def test_a_page_of_many_streets_lists_some_and_embeds_no_outlines(client, app_session,
                                                                  monkeypatch):
    from renovation.web import pages

    streets = streets_in_db(app_session)
    _, doc = page(client, "/")
    assert all(s.name_zh in inline_scripts(doc) for s in streets)  # outlines and labels
    assert len(doc.find("select", id="filters-street").find_all("option")) == len(streets) + 1
    assert doc.find_all("p", id="streets-more") == []
    monkeypatch.setattr(pages, "MAX_EMBEDDED_STREETS", 8)
    monkeypatch.setattr(pages, "MAX_LISTED", 4)
    _, doc = page(client, "/")
    rows = doc.find("table", id="streets-table").find("tbody").find_all("tr")
    assert len(rows) == 4
    assert "5" in doc.find("p", id="streets-more").text()
    assert len(doc.find("ul", cls="gx-pilots").find_all("li")) == 4
    assert doc.find("p", id="pilots-more").text()
    assert doc.find_all("select", id="filters-street") == []  # no select of 10,000 streets
    # The map opens on the streets' extent, without their outlines in the page.
    script = inline_scripts(doc)
    assert '"bounds": [[' in script
    assert not any(s.name_zh in script for s in streets)


def inline_scripts(doc) -> str:
    return "".join(s.text() for s in doc.find_all("script") if "src" not in s.attrs)


# --- gzip and cache lifetimes -----------------------------------------------------------------

GZIP = {"Accept-Encoding": "gzip"}


def test_pages_are_gzipped_for_browsers_that_accept_it(client, app_session):
    import gzip

    plain = client.get("/")
    packed = client.get("/", headers=GZIP)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    html = gzip.decompress(packed.get_data()).decode()
    assert int(packed.headers["Content-Length"]) == len(packed.get_data()) < len(html) / 3
    assert parse_html(html).find("table", id="streets-table") is not None


def static_paths(client) -> list[str]:
    doc = parse_html(client.get("/").get_data(as_text=True))
    return ([s.attrs["src"] for s in doc.find_all("script") if "src" in s.attrs]
            + [n.attrs["href"] for n in doc.find_all("link") if n.attrs.get("rel") == "stylesheet"])


def test_static_files_are_gzipped_once_and_kept(app, client, app_session):
    import gzip
    from pathlib import Path

    path = next(p for p in static_paths(client) if "leaflet.js" in p)
    first, second = fetch(client, path, GZIP), fetch(client, path, GZIP)
    plain = fetch(client, path)
    file = Path(app.static_folder) / "vendor/leaflet/leaflet.js"
    assert first.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(first.body) == file.read_bytes() == plain.body
    assert second.body == first.body
    assert len(first.body) < file.stat().st_size / 2
    assert first.headers["ETag"] != plain.headers["ETag"]  # another representation
    assert "Content-Encoding" not in plain.headers
    for path in ("/static/vendor/leaflet/images/layers.png", "/static/img/favicon.svg"):
        response = fetch(client, path, GZIP)  # an image; a file under 512 bytes
        assert response.status == 200 and "Content-Encoding" not in response.headers
    ranged = fetch(client, "/static/vendor/leaflet/leaflet.js", {**GZIP, "Range": "bytes=0-99"})
    assert ranged.status == 206 and "Content-Encoding" not in ranged.headers
    assert len(ranged.body) == 100


class Fetched:
    def __init__(self, response):
        self.status, self.headers, self.body = (response.status_code, response.headers,
                                                response.get_data())


def fetch(client, path: str, headers: dict | None = None) -> Fetched:
    """A response read and closed (a static file's stays open until closed)."""
    response = client.get(path, headers=headers or {})
    try:
        return Fetched(response)
    finally:
        response.close()


def test_assets_named_by_their_content_are_kept_a_year(app, client, app_session):
    import hashlib
    from pathlib import Path

    versioned = [p for p in static_paths(client) if "?v=" in p]
    assert any("gengxin-map.js" in p for p in versioned)
    assert any("leaflet.js" in p for p in versioned)
    for path in versioned:
        name, digest = path.split("?v=")
        content = (Path(app.static_folder) / name.removeprefix("/static/")).read_bytes()
        assert digest == hashlib.sha256(content).hexdigest()[:12], path
        response = fetch(client, path)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    unversioned = fetch(client, "/static/js/gengxin-map.js")
    assert "immutable" not in unversioned.headers.get("Cache-Control", "")


def test_a_street_page_outlines_its_neighbours_not_every_street(client, app_session,
                                                                monkeypatch):
    from renovation.web import pages
    from tests.factories import make_street

    far = make_street(app_session, 0, name_zh="远方测试街道", name_en="Far Test Street")
    app_session.commit()
    demo = [s for s in streets_in_db(app_session) if s.id != far.id]
    _, doc = page(client, f"/streets/{demo[0].code}")
    assert all(s.name_zh in inline_scripts(doc) for s in [*demo, far])  # a district: all
    monkeypatch.setattr(pages, "MAX_EMBEDDED_STREETS", 5)
    _, doc = page(client, f"/streets/{demo[0].code}")
    script = inline_scripts(doc)
    assert demo[0].name_zh in script
    assert far.name_zh not in script
    _, doc = page(client, f"/streets/{far.code}")
    script = inline_scripts(doc)
    assert far.name_zh in script
    assert not any(s.name_zh in script for s in demo)

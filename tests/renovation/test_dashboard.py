"""The dashboard and the printable street report: every figure against an independent
computation from the rows in the database, the ranking, the chart tables and their CSV,
the pages themselves (public, self-contained, nonce on every script), phones and print.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from test_pages import CSP_NONCE

from factories import make_community, make_item, make_street
from geo.assets import external_urls
from htmltree import parse_html, squeeze
from renovation import dashboard
from renovation.catalogue import BY_CODE
from renovation.filters import Filters
from renovation.models import Community, ItemChange, ItemRating, RenovationItem, Street, User
from renovation.progress import Progress, progress_by
from renovation.ratings import satisfaction_rates
from renovation.status import Status

TODAY = dt.date(2026, 6, 1)
LAOSHAN = "110107002000"


# --- Independent figures ----------------------------------------------------------------------

def weighted(items) -> float | None:
    """The documented roll-up by hand: sum(weight x progress) / sum(weight)."""
    if not items:
        return None
    weights = [BY_CODE[i.kind].weight if i.kind in BY_CODE else 1 for i in items]
    return round(sum(w * i.progress_pct for w, i in zip(weights, items, strict=True))
                 / sum(weights), 1)


def by_hand(items) -> Progress:
    done = sum(1 for i in items if i.status.is_done)
    late = sum(1 for i in items
               if i.planned_end is not None and i.planned_end < TODAY and not i.status.is_done)
    return Progress(weighted(items), len(items), done, late)


def all_communities(session) -> list[Community]:
    return session.scalars(sa.select(Community).options(
        selectinload(Community.street), selectinload(Community.items))).all()


def test_every_figure_equals_a_computation_by_hand(session):
    board = dashboard.build_dashboard(session, Filters(), today=TODAY)
    communities = all_communities(session)
    items = [i for c in communities for i in c.items]
    assert len(items) > 500

    # The comparison: one row per street, the district's total, ranked by percent.
    by_street = defaultdict(list)
    for c in communities:
        by_street[c.street.code].append(c)
    rows = board.comparison.rows
    assert board.comparison.level == "street"
    assert {r.code for r in rows} == set(by_street) and len(rows) == 9
    rollup = progress_by(session, Community.street_id, today=TODAY)
    for row in rows:
        own = by_street[row.code]
        assert row.communities == len(own)
        assert row.communities_in_programme == sum(1 for c in own if c.items)
        assert row.progress == by_hand([i for c in own for i in c.items])
        assert row.progress == rollup[row.key]
        assert row.satisfaction is None
    total = board.comparison.total
    assert total.progress == by_hand(items)
    assert (total.communities, total.communities_in_programme) == (
        len(communities), sum(1 for c in communities if c.items))
    percents = [r.progress.percent for r in rows]
    assert percents == sorted(percents, reverse=True)
    assert [r.rank for r in rows] == [1 + sum(p > q for p in percents) for q in percents]

    # By kind, in catalogue order; by status, every status.
    kinds = defaultdict(list)
    for i in items:
        kinds[i.kind].append(i)
    assert [k.code for k in board.kinds] == [k for k in BY_CODE if k in kinds]
    assert {k.code: k.progress for k in board.kinds} == {k: by_hand(v) for k, v in kinds.items()}
    counts = Counter(i.status for i in items)
    assert [(s.status, s.items) for s in board.statuses] == [(s, counts[s]) for s in Status]

    # Completions per month (the demo has no history: from actual_end), every month.
    months = Counter(i.actual_end.strftime("%Y-%m") for i in items
                     if i.status.is_done and i.actual_end)
    got = {m.month: m.completed for m in board.months}
    assert {m: n for m, n in got.items() if n} == dict(months)
    assert board.months[0].month == min(months) and board.months[-1].month == max(months)
    assert len(board.months) == len(set(got))  # no month twice
    assert board.months[-1].cumulative == sum(months.values())
    years = {m.month[:4] for m in board.months}
    assert all(f"{y}-{n:02d}" in got for y in years for n in range(1, 13)
               if min(months) <= f"{y}-{n:02d}" <= max(months))

    # Pilots against the rest.
    for row in board.pilots:
        group = [c for c in communities if c.is_pilot == row.is_pilot]
        assert row.communities == len(group) and row.communities_in_programme == sum(
            1 for c in group if c.items)
        assert row.progress == by_hand([i for c in group for i in c.items])
    assert [p.is_pilot for p in board.pilots] == [True, False]
    assert board.pilots[0].communities == 9

    # Building area: renovated (every item done) against the programme (some items).
    in_programme = [c for c in communities if c.items]
    renovated = [c for c in in_programme if all(i.status.is_done for i in c.items)]
    area = board.area
    assert area.total_m2 == pytest.approx(sum(c.building_area_m2 or 0 for c in communities))
    assert area.programme_m2 == pytest.approx(sum(c.building_area_m2 or 0 for c in in_programme))
    assert area.renovated_m2 == pytest.approx(sum(c.building_area_m2 or 0 for c in renovated))
    assert (area.communities_in_programme, area.communities_renovated) == (
        len(in_programme), len(renovated))
    assert 0 < area.renovated_m2 < area.programme_m2 < area.total_m2
    # The district report's figure: 6.97 million m² of old residential building area.
    assert round(area.total_m2 / 1e6, 2) == 6.97


def test_a_street_compares_its_communities(session):
    board = dashboard.build_dashboard(session, Filters(street=LAOSHAN), today=TODAY)
    street = session.scalars(sa.select(Street).where(Street.code == LAOSHAN)).one()
    own = [c for c in all_communities(session) if c.street_id == street.id]
    assert board.street == street and board.comparison.level == "community"
    assert {r.key for r in board.comparison.rows} == {c.id for c in own}
    for row in board.comparison.rows:
        community = next(c for c in own if c.id == row.key)
        assert row.progress == by_hand(community.items)
        assert (row.rank is None) == (not community.items)
    assert board.comparison.total.progress == by_hand([i for c in own for i in c.items])
    ranks = [r.rank for r in board.comparison.rows]
    assert ranks == sorted(ranks, key=lambda rank: (rank is None, rank or 0))


def test_completions_come_from_history_when_an_item_has_no_actual_end(session):
    street = make_street(session)
    community = make_community(session, street)
    user = session.scalars(sa.select(User).order_by(User.id)).first()
    recorded = make_item(session, community, status=Status.COMPLETED, progress_pct=100,
                         actual_end=None)
    session.add(ItemChange(item_id=recorded.id, user_id=user.id,
                           effective_date=dt.date(2024, 3, 5), status_before=Status.CONSTRUCTION,
                           status_after=Status.COMPLETED, progress_before=90,
                           progress_after=100, version_after=2, source="web"))
    make_item(session, community, status=Status.ACCEPTED, progress_pct=100,
              actual_end=dt.date(2024, 5, 20))
    make_item(session, community, status=Status.COMPLETED, progress_pct=100, actual_end=None)
    make_item(session, community, status=Status.DESIGN, progress_pct=20,
              actual_end=dt.date(2024, 4, 1))  # not done: no completion
    session.flush()
    months = dashboard.completions_by_month(session, Filters(street=street.code), today=TODAY)
    assert [(m.month, m.completed, m.cumulative) for m in months] == [
        ("2024-03", 1, 1), ("2024-04", 0, 1), ("2024-05", 1, 2)]


def test_ranking_ties_share_a_rank_and_streets_without_items_come_last():
    def row(code, percent):
        return dashboard.ComparisonRow(1, code, code, code, 1, 1,
                                       Progress(percent, 1 if percent is not None else 0, 0, 0))

    ranked = dashboard.rank_rows([row("b", 50.0), row("e", None), row("a", 70.0),
                                  row("c", 50.0), row("d", 10.0)])
    assert [(r.code, r.rank) for r in ranked] == [("a", 1), ("b", 2), ("c", 2), ("d", 4),
                                                  ("e", None)]


def test_the_satisfaction_column_takes_a_source_when_there_is_one(session):
    streets = {s.code: s.id for s in session.scalars(sa.select(Street))}

    def ratings(db, filters, level):
        return {streets[LAOSHAN]: 82.0, None: 78.5} if level == "street" else {}

    board = dashboard.build_dashboard(session, Filters(), today=TODAY, satisfaction=ratings)
    rated = {r.code: r.satisfaction for r in board.comparison.rows}
    assert rated.pop(LAOSHAN) == 82.0 and set(rated.values()) == {None}
    assert board.comparison.total.satisfaction == 78.5
    table = dashboard.table(board, "comparison", "en")
    assert table.rows[-1][-1] == 78.5


def test_satisfaction_is_the_share_of_ratings_of_four_or_five(session):
    rows = session.execute(sa.select(Community.street_id, ItemRating.score)
                           .join(RenovationItem, ItemRating.item)
                           .join(Community, RenovationItem.community)).all()
    assert rows, "the demo has ratings"
    expected = {}
    for street_id in {s for s, _ in rows}:
        scores = [score for s, score in rows if s == street_id]
        expected[street_id] = round(100 * sum(x >= 4 for x in scores) / len(scores), 1)
    expected[None] = round(100 * sum(x >= 4 for _, x in rows) / len(rows), 1)
    assert satisfaction_rates(session, Filters(), "street") == expected


# --- The pages --------------------------------------------------------------------------------

def page(client, path: str, **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == 200, (path, response.get_data(as_text=True)[:400])
    assert response.mimetype == "text/html"
    return response, parse_html(response.get_data(as_text=True))


def test_dashboard_page_is_public_and_shows_the_ranked_comparison(client, app_session):
    response, doc = page(client, "/dashboard?lang=en")
    board = dashboard.build_dashboard(app_session, Filters(),
                                      satisfaction=satisfaction_rates)
    rows = doc.find("table", id="comparison-table").find("tbody").find_all("tr")
    assert [r.attrs["data-code"] for r in rows] == [r.code for r in board.comparison.rows]
    names = {s.code: s.name_en for s in app_session.scalars(sa.select(Street))}
    for tr, row in zip(rows, board.comparison.rows, strict=True):
        cells = [squeeze(td.text()) for td in tr.find_all("td")]
        assert cells[0] == str(row.rank) and cells[1] == names[row.code]
        assert cells[3] == f"{row.progress.done}/{row.progress.items}"
        expected = "—" if row.satisfaction is None else f"{row.satisfaction:.0f}%"
        assert cells[5] == str(row.progress.overdue) and cells[6] == expected
        link = tr.find("a").attrs["href"]
        assert link == f"/dashboard/streets/{row.code}"
    total = [squeeze(td.text()) for td in doc.find("tfoot").find_all("td")]
    assert total[2] == f"{board.progress.done}/{board.progress.items}"
    # Every chart is an accessible SVG with its numbers beside it and a CSV download.
    svgs = doc.find_all("svg", cls="gx-chart")
    assert len(svgs) == 7
    for svg in svgs:
        assert svg.attrs["role"] == "img" and svg.find("title").text()
    assert len(doc.find_all("details", cls="gx-numbers-box")) == 7
    csv_links = {a.attrs["href"] for a in doc.find_all("a", cls="gx-csv")}
    assert {f"/dashboard/{name}.csv" for name in dashboard.TABLES} == csv_links
    # The export form sends the page's filters along.
    form = doc.find("form", id="export-form")
    assert form.attrs["action"] == "/export" and form.attrs["method"] == "get"
    # Self-contained, and every inline script carries the policy's nonce.
    html = response.get_data(as_text=True)
    assert external_urls(html) == []
    nonce = CSP_NONCE.search(response.headers["Content-Security-Policy"]).group(1)
    assert all(s.attrs.get("nonce") == nonce for s in doc.find_all("script")
               if "src" not in s.attrs)


def test_street_dashboard_and_filters_in_links(client, app_session):
    street = app_session.scalars(sa.select(Street).where(Street.code == LAOSHAN)).one()
    _, doc = page(client, f"/dashboard/streets/{LAOSHAN}?kind=lift_retrofit")
    assert street.name_zh in doc.find("h1").text()
    own = set(app_session.scalars(sa.select(Community.id).where(
        Community.street_id == street.id,
        Community.items.any(RenovationItem.kind == "lift_retrofit"))))
    rows = doc.find("table", id="comparison-table").find("tbody").find_all("tr")
    assert {int(r.find("a").attrs["href"].rsplit("/", 1)[1]) for r in rows} == own
    # The filter form keeps the kind; the CSV links carry the street and the kind.
    form = doc.find("form", id="dashboard-filters")
    assert "selected" in form.find("option", value="lift_retrofit").attrs
    assert not form.find_all("select", name="street")
    for a in doc.find_all("a", cls="gx-csv"):
        assert f"street={LAOSHAN}" in a.attrs["href"] and "kind=lift_retrofit" in a.attrs["href"]
    assert client.get("/dashboard/streets/999999999999").status_code == 404
    assert client.get("/dashboard?street=999999999999").status_code == 404
    assert client.get("/dashboard?kind=bogus").status_code == 400


def test_csv_of_each_chart_equals_its_table(client, app_session):
    board = dashboard.build_dashboard(app_session, Filters(pilot_only=True),
                                      satisfaction=satisfaction_rates)
    for name in dashboard.TABLES:
        response = client.get(f"/dashboard/{name}.csv?pilot=1&lang=en")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
        table = dashboard.table(board, name, "en")
        assert rows[0] == table.headers
        assert rows[1:] == [["" if v is None else str(v) for v in row] for row in table.rows]
    assert client.get("/dashboard/nothing.csv").status_code == 404


# --- The printable report ---------------------------------------------------------------------

def test_the_report_of_each_street_lists_its_overdue_items(client, app_session):
    today = dt.date.today()
    communities = all_communities(app_session)
    board = dashboard.build_dashboard(app_session, Filters())
    ranks = {r.code: r.rank for r in board.comparison.rows}
    streets = app_session.scalars(sa.select(Street).order_by(Street.code)).all()
    for street in streets:
        response, doc = page(client, f"/streets/{street.code}/report?lang=en")
        article = doc.find("article", id=f"report-{street.code}")
        assert street.name_en in article.find("h1").text()
        own = [c for c in communities if c.street_id == street.id]
        late = sorted((i for c in own for i in c.items
                       if i.planned_end and i.planned_end < today and not i.status.is_done),
                      key=lambda i: (i.planned_end, i.community.code, i.id))
        rows = [tr for tr in article.iter() if tr.tag == "tr" and "data-item" in tr.attrs]
        assert [int(tr.attrs["data-item"]) for tr in rows] == [i.id for i in late]
        for tr, item in zip(rows, late, strict=True):
            cells = [squeeze(td.text()) for td in tr.find_all("td")]
            assert cells[0] == item.community.name and cells[1].startswith(item.title)
            assert cells[4] == item.planned_end.isoformat()
            assert cells[5] == str((today - item.planned_end).days)
        figures = article.find("table", id=f"report-{street.code}-figures")
        assert squeeze(figures.find("tr", cls="gx-rank").find_all("td")[0].text()).startswith(
            str(ranks[street.code]))
        # The map: the street outline plus one shape per community, coloured by progress.
        svg = article.find("svg", cls="gx-chart")
        shapes = [n for n in svg.iter() if n.tag in ("path", "circle") and n.find_all("title")]
        assert len(shapes) == len(own)
        assert external_urls(response.get_data(as_text=True)) == []
    _, doc = page(client, "/report/streets")
    assert [a.attrs["id"] for a in doc.find_all("article")] == [
        f"report-{s.code}" for s in streets]
    assert client.get("/streets/999999999999/report").status_code == 404


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["spatialite"])  # the pages are the same on both backends
def test_dashboard_fits_a_phone_and_the_report_prints_one_a4_page_per_street(
        browser, backend, request):
    live_server = request.getfixturevalue("live_server")
    app_session = request.getfixturevalue("app_session")
    phone = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True,
                             has_touch=True)
    errors = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    phone.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        for path in ("/dashboard", f"/dashboard/streets/{LAOSHAN}", f"/streets/{LAOSHAN}/report"):
            phone.goto(live_server + path)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 375, path
        desktop = browser.new_page(viewport={"width": 1280, "height": 900})
        desktop.goto(live_server + "/report/streets")
        pdf = desktop.pdf(format="A4")
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        assert pages == app_session.scalar(sa.select(sa.func.count(Street.id)))
        desktop.emulate_media(media="print")
        assert desktop.locator("nav.gx-nav").is_hidden()
        assert desktop.locator("#print-report").is_hidden()
        desktop.close()
    finally:
        phone.close()
    assert errors == []


def test_print_stylesheet_sets_a4_portrait_and_hides_the_navigation():
    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "print.css").read_text()
    assert re.search(r"@page\s*{[^}]*size:\s*A4 portrait", css)
    assert re.search(r"@media print\s*{[^@]*\.gx-nav[^{]*{\s*display:\s*none", css)


def report_ids(doc) -> list[str]:
    return [a.attrs["id"] for a in doc.find_all("article")]


def test_a_report_of_more_streets_than_a_report_holds_says_how_to_choose_them(
        client, app_session, monkeypatch):
    from renovation.web import dashboard as views

    codes = app_session.scalars(sa.select(Street.code).order_by(Street.code)).all()
    _, doc = page(client, "/report/streets")
    assert doc.find_all("p", id="report-left-out") == []
    monkeypatch.setattr(views, "MAX_REPORT_STREETS", 4)
    _, doc = page(client, "/report/streets?kind=lift_retrofit&lang=en")
    assert report_ids(doc) == [f"report-{c}" for c in codes[:4]]
    notice = squeeze(doc.find("p", id="report-left-out").text())
    assert f"first 4 of the {len(codes)} streets" in notice
    assert f"{len(codes) - 4} are left out" in notice
    form = doc.find("form", id="report-scope")
    assert {i.attrs["name"]: i.attrs.get("value") for i in form.find_all("input")} == {
        "kind": "lift_retrofit", "district": "", "streets": ""}
    _, doc = page(client, "/report/streets")  # in Chinese too
    assert "4" in doc.find("p", id="report-left-out").text()


def test_a_report_of_a_district_or_of_listed_streets(client, app_session, many_streets):
    demo = app_session.scalars(sa.select(Street.code).where(Street.code.startswith("110107"))
                               .order_by(Street.code)).all()
    assert 0 < len(demo) < many_streets
    _, doc = page(client, "/report/streets?district=110107")
    assert report_ids(doc) == [f"report-{c}" for c in demo]
    assert doc.find("input", id="report-district").attrs["value"] == "110107"
    _, doc = page(client, "/report/streets",
                  query_string={"streets": f"{demo[3]}, {demo[1]}"})
    assert report_ids(doc) == [f"report-{demo[1]}", f"report-{demo[3]}"]
    _, doc = page(client, "/report/streets?district=650102&lang=en")
    assert report_ids(doc) == []
    assert "650102" in doc.find("p", id="report-left-out").text()
    # One street's report links to the reports of its district's streets.
    _, doc = page(client, f"/streets/{LAOSHAN}/report")
    assert doc.find("a", id="report-district-link").attrs["href"] == (
        "/report/streets?district=110107")
    for path, status in [("/report/streets?district=11010x", 400),
                         ("/report/streets?district=1", 400),
                         ("/report/streets?streets=999999999999", 404),
                         ("/report/streets?streets=" + ",".join(["1"] * 1001), 400)]:
        assert client.get(path).status_code == status, path


def test_the_queries_of_a_report_do_not_grow_with_its_streets(app, client, many_streets):
    """A report's pages are asked of the database together: 40 pages, the queries of 2."""
    engine = app.extensions["gengxin.db"].engine
    statements = []

    def count(*_args):
        statements.append(1)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        counts = {}
        for query in ("district=80000000000", "district=80", "district=80000000000&kind=stairwell",
                      "district=80&kind=stairwell"):
            for _ in range(2):  # the second time: without what the first request sets up
                statements.clear()
                _, doc = page(client, f"/report/streets?{query}")
            counts[query] = (len(report_ids(doc)), len(statements))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert [n for n, _ in counts.values()] == [10, 40, 10, 40]
    assert counts["district=80"][1] == counts["district=80000000000"][1]
    assert (counts["district=80&kind=stairwell"][1]
            == counts["district=80000000000&kind=stairwell"][1])


@pytest.mark.parametrize("filters", [Filters(), Filters(kinds=("stairwell",)),
                                     Filters(overdue_only=True)])
def test_the_pages_of_many_streets_are_those_of_each_street(session, tied_streets, filters):
    codes = session.scalars(sa.select(Street.code).order_by(Street.code)).all()
    together = dashboard.street_reports(session, codes[::-1], filters, today=TODAY)
    assert [r.street.code for r in together] == codes
    assert together == [dashboard.street_report(session, code, filters, today=TODAY)
                        for code in codes]
    full = dashboard.comparison(session, filters, today=TODAY, full=True)
    assert {r.row.key: r.row for r in together} == {r.key: r for r in full.rows}
    assert dashboard.street_reports(session, ["999999999999"], filters, today=TODAY) == []


# --- The summary tables behind the unfiltered district ---------------------------------------

def live(session, monkeypatch, **kwargs) -> dashboard.Dashboard:
    """The dashboard summed from the items, as the filtered views are, for comparison."""
    with monkeypatch.context() as m:
        m.setattr(dashboard, "uses_summaries", lambda filters: False)
        return dashboard.build_dashboard(session, Filters(), today=TODAY, **kwargs)


def assert_same_board(got: dashboard.Dashboard, want: dashboard.Dashboard) -> None:
    assert got.comparison == want.comparison
    assert (got.kinds, got.statuses, got.months, got.pilots) == (
        want.kinds, want.statuses, want.months, want.pilots)
    a, b = got.area, want.area
    assert (a.communities_in_programme, a.communities_renovated, a.communities_without_area) == (
        b.communities_in_programme, b.communities_renovated, b.communities_without_area)
    for name in ("total_m2", "programme_m2", "renovated_m2"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-12)


@pytest.mark.parametrize("change", ["none", "status", "move_community", "delete_item",
                                    "pilot", "history_only"])
def test_the_summaries_give_the_same_dashboard_as_the_items(session, monkeypatch, change):
    """Whatever was written, the district page read from the summaries equals the sums of the
    items (the filtered views' path), figure for figure."""
    items = session.scalars(sa.select(RenovationItem).order_by(RenovationItem.id)).all()
    streets = session.scalars(sa.select(Street).order_by(Street.code)).all()
    undone = next(i for i in items if not i.status.is_done and i.planned_end)
    if change == "status":
        undone.status, undone.progress_pct, undone.actual_end = (Status.ACCEPTED, 100,
                                                                 dt.date(2026, 5, 3))
    elif change == "move_community":
        undone.community.street = next(s for s in streets if s != undone.community.street)
    elif change == "delete_item":
        session.delete(undone)
    elif change == "pilot":
        undone.community.is_pilot = not undone.community.is_pilot
    elif change == "history_only":
        # A done item without an actual end: its month comes from its history.
        done = next(i for i in items if i.status.is_done and i.actual_end)
        user = session.scalars(sa.select(User).limit(1)).one()
        session.add(ItemChange(item=done, user=user, effective_date=dt.date(2025, 2, 3),
                               status_before=Status.CONSTRUCTION, status_after=done.status,
                               progress_before=50, progress_after=100, version_after=9,
                               source="web"))
        done.actual_end = None
    session.flush()
    board = dashboard.build_dashboard(session, Filters(), today=TODAY)
    assert dashboard.uses_summaries(Filters()) and not dashboard.uses_summaries(
        Filters(pilot_only=True))
    assert_same_board(board, live(session, monkeypatch))


@pytest.mark.parametrize("day", [dt.date(2026, 6, 15), dt.date(2026, 7, 1),
                                 dt.date(2026, 6, 30)])
def test_overdue_counts_whole_months_then_the_days_of_this_one(session, monkeypatch, day):
    """Items due just before, on and just after the day, in pilot communities and others:
    the summaries (months before, days of this month) equal counting the items."""
    streets = session.scalars(sa.select(Street).order_by(Street.code)).all()
    pilot = make_community(session, streets[0], is_pilot=True)
    other = make_community(session, streets[-1])
    for community in (pilot, other):
        for due in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1),
                    day.replace(day=1), day.replace(day=1) - dt.timedelta(days=1)):
            make_item(session, community, kind="road", status=Status.CONSTRUCTION,
                      planned_end=due)
    session.flush()
    board = dashboard.build_dashboard(session, Filters(), today=day)
    with monkeypatch.context() as m:
        m.setattr(dashboard, "uses_summaries", lambda filters: False)
        want = dashboard.build_dashboard(session, Filters(), today=day)
    assert (board.kinds, board.pilots, board.comparison.total) == (
        want.kinds, want.pilots, want.comparison.total)
    assert board.pilots[0].is_pilot and board.pilots[0].progress.overdue >= 2


@pytest.fixture
def many_streets(session):
    """40 streets besides the demo's, each with one community and one item at its own
    progress, so that the comparison is cut."""
    for n in range(40):
        street = make_street(session, n + 1, code=f"8{n:011d}")
        community = make_community(session, street)
        make_item(session, community, kind="stairwell", progress_pct=n * 2 + 1,
                  status=Status.CONSTRUCTION, planned_end=dt.date(2026, 1, 1))
    session.commit()
    return session.scalar(sa.select(sa.func.count(Street.id)))


def test_a_long_comparison_shows_the_top_and_bottom_streets(session, monkeypatch, many_streets):
    n = dashboard.SHOWN_AT_EACH_END
    board = dashboard.build_dashboard(session, Filters(), today=TODAY)
    full = dashboard.build_dashboard(session, Filters(), today=TODAY, full_comparison=True)
    c = board.comparison
    assert len(full.comparison.rows) == many_streets and not full.comparison.is_cut
    assert c.is_cut and c.cut_at == n and len(c.rows) == 2 * n
    assert c.hidden == many_streets - 2 * n and c.ranked == many_streets
    rated = [r for r in full.comparison.rows if r.rank is not None]
    assert c.rows == full.comparison.rows[:n] + rated[-n:]
    assert c.total == full.comparison.total
    # The items' sums give the same full ranking.
    assert full.comparison == live(session, monkeypatch, full_comparison=True).comparison


def test_the_long_comparison_page_links_its_full_csv(client, app_session, many_streets,
                                                    monkeypatch):
    from renovation.web import dashboard as views

    monkeypatch.setattr(views, "MAX_STREET_CHOICES", many_streets - 1)
    _, doc = page(client, "/dashboard?lang=en")
    rows = doc.find("table", id="comparison-table").find("tbody").find_all("tr")
    cut = doc.find("tr", id="comparison-cut")
    assert cut is not None and len(rows) == 2 * dashboard.SHOWN_AT_EACH_END + 1
    assert f"{many_streets - 20} more streets" in squeeze(cut.text())
    assert cut.find("a").attrs["href"] == "/dashboard/comparison.csv"
    response = client.get("/dashboard/comparison.csv?lang=en")
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(lines) == 1 + many_streets + 1  # headers, every street, the total
    # Too many streets to list in the filter: the street is typed as a code.
    box = doc.find("input", id="dashboard-filters-street")
    assert box is not None and box.attrs["name"] == "street"
    assert doc.find_all("select", id="dashboard-filters-street") == []
    monkeypatch.setattr(views, "MAX_STREET_CHOICES", many_streets)
    _, doc = page(client, "/dashboard?lang=en")
    assert len(doc.find("select", id="dashboard-filters-street").find_all("option")) == (
        1 + many_streets)


def test_the_report_of_a_street_hidden_from_the_page_still_ranks_it(session, many_streets):
    full = dashboard.comparison(session, Filters(), today=TODAY, full=True)
    middle = full.rows[len(full.rows) // 2]
    shown = dashboard.comparison(session, Filters(), today=TODAY)
    assert middle.key not in {r.key for r in shown.rows}
    report = dashboard.street_report(session, middle.code, today=TODAY)
    assert report.row == middle and report.streets_ranked == full.ranked == many_streets
    assert report.district == full.total


@pytest.fixture
def tied_streets(session):
    """60 streets whose percents tie and nearly tie after rounding (thirds), at both ends and
    in the middle, and 5 streets without items."""
    import random

    rng = random.Random(7)
    for n in range(65):
        street = make_street(session, n + 1, code=f"7{n:011d}")
        community = make_community(session, street)
        if n >= 60:
            continue
        for _ in range(3):
            make_item(session, community, kind="stairwell", status=Status.CONSTRUCTION,
                      progress_pct=rng.choice([0, 1, 2, 50, 51, 99, 100]))
    session.commit()


def test_the_cut_comparison_ranks_ties_as_the_full_one(session, tied_streets):
    """The top and bottom streets read through the index rank exactly as ranking them all."""
    n = dashboard.SHOWN_AT_EACH_END
    full = dashboard.comparison(session, Filters(), today=TODAY, full=True)
    cut = dashboard.comparison(session, Filters(), today=TODAY)
    rated = [r for r in full.rows if r.rank is not None]
    assert cut.rows == full.rows[:n] + rated[-n:]
    assert (cut.ranked, cut.hidden, cut.total) == (full.ranked, len(full.rows) - 2 * n,
                                                   full.total)
    assert len({r.rank for r in rated}) < len(rated)  # there are ties
    for middle in rated[n:-n:7]:
        report = dashboard.street_report(session, middle.code, today=TODAY)
        assert report.row == middle


# --- The filtered views' two passes against one query per figure ------------------------------

@pytest.mark.parametrize("args", [
    {"kind": "lift_retrofit"}, {"status": "construction"}, {"pilot": "1"},
    {"built_from": "1980", "built_to": "1990"}, {"overdue": "1"},
    {"kind": "lift_retrofit,drainage", "status": "construction,design", "pilot": "1"},
    {"street": LAOSHAN}, {"street": LAOSHAN, "kind": "parking", "overdue": "1"},
    {"street": LAOSHAN, "built_from": "1900", "built_to": "1901"},
    {"built_from": "1900", "built_to": "1901"}, {"kind": "ev_charging", "status": "accepted"}])
def test_a_filtered_dashboard_equals_each_figure_computed_on_its_own(session, args):
    filters = Filters.from_args(args)
    board = dashboard.build_dashboard(session, filters, today=TODAY, full_comparison=True)
    alone = dashboard.comparison(session, filters, today=TODAY, full=True)
    assert board.comparison == alone
    assert board.kinds == dashboard.progress_by_kind(session, filters, today=TODAY)
    assert board.statuses == dashboard.items_by_status(session, filters, today=TODAY)
    assert board.months == dashboard.completions_by_month(session, filters, today=TODAY)
    assert board.pilots == dashboard.pilots_and_the_rest(session, filters, today=TODAY)
    area = dashboard.building_area(session, filters, today=TODAY)
    assert board.area.total_m2 == pytest.approx(area.total_m2)
    assert board.area.programme_m2 == pytest.approx(area.programme_m2)
    assert board.area.renovated_m2 == pytest.approx(area.renovated_m2)
    assert (board.area.communities_in_programme, board.area.communities_renovated,
            board.area.communities_without_area) == (
        area.communities_in_programme, area.communities_renovated,
        area.communities_without_area)
    # The page shows the first and last streets of the same ranking.
    cut = dashboard.build_dashboard(session, filters, today=TODAY).comparison
    assert cut.total == alone.total and cut.ranked == alone.ranked
    assert all(row in alone.rows for row in cut.rows)


def test_a_filtered_dashboard_after_writes_equals_each_figure_computed_on_its_own(session):
    """Items moved, completed, deleted and a community re-flagged: the two passes still
    agree with the one-figure queries (nothing is cached between requests)."""
    items = session.scalars(sa.select(RenovationItem).order_by(RenovationItem.id).limit(6)).all()
    items[0].status, items[0].progress_pct, items[0].actual_end = (Status.COMPLETED, 100,
                                                                  TODAY)
    items[1].planned_end = TODAY - dt.timedelta(days=3)
    session.delete(items[2])
    community = session.get(Community, items[3].community_id)
    community.is_pilot = not community.is_pilot
    session.flush()
    for args in ({"overdue": "1"}, {"pilot": "1"}, {"status": "completed"}):
        filters = Filters.from_args(args)
        board = dashboard.build_dashboard(session, filters, today=TODAY, full_comparison=True)
        assert board.comparison == dashboard.comparison(session, filters, today=TODAY,
                                                        full=True)
        assert board.pilots == dashboard.pilots_and_the_rest(session, filters, today=TODAY)
        assert board.kinds == dashboard.progress_by_kind(session, filters, today=TODAY)


@pytest.mark.parametrize("args", [{"status": "construction"}, {"kind": "stairwell"},
                                  {"status": "construction,planned", "kind": "stairwell"}])
def test_a_filtered_cut_comparison_ranks_ties_as_the_full_one(session, tied_streets, args):
    filters = Filters.from_args(args)
    n = dashboard.SHOWN_AT_EACH_END
    alone = dashboard.comparison(session, filters, today=TODAY, full=True)
    full = dashboard.build_dashboard(session, filters, today=TODAY,
                                     full_comparison=True).comparison
    cut = dashboard.build_dashboard(session, filters, today=TODAY).comparison
    assert full == alone
    rated = [r for r in full.rows if r.rank is not None]
    assert cut.rows == full.rows[:n] + rated[-n:]
    assert (cut.ranked, cut.hidden, cut.total) == (full.ranked, len(full.rows) - 2 * n,
                                                   full.total)


@pytest.mark.parametrize("today", [dt.date(2026, 6, 1), dt.date(2026, 6, 15),
                                   dt.date(2025, 12, 31), dt.date(2031, 1, 1)])
def test_each_streets_overdue_items_from_the_summaries_equal_the_items(session, today):
    """Whole months before today's from the street deadline months, then this month's days
    from the items: the same counts as counting the items, before and after writes."""
    def check():
        live = {r.key: r.progress for r in dashboard.street_rows(session, Filters(),
                                                                 today=today)}
        full = dashboard.comparison(session, Filters(), today=today, full=True)
        assert {r.key: r.progress for r in full.rows} == live
        shown = dashboard.comparison(session, Filters(), today=today)
        assert all(r.progress == live[r.key] for r in shown.rows)

    check()
    items = session.scalars(sa.select(RenovationItem).where(
        RenovationItem.status.not_in([Status.COMPLETED, Status.ACCEPTED]))
        .order_by(RenovationItem.id).limit(4)).all()
    items[0].planned_end = today - dt.timedelta(days=1)
    items[1].planned_end = today.replace(day=1)
    items[2].status, items[2].progress_pct = Status.COMPLETED, 100
    community = session.get(Community, items[3].community_id)
    community.street = session.scalar(sa.select(Street).where(
        Street.id != community.street_id).limit(1))
    session.flush()
    check()

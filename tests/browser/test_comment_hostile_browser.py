"""Hostile resident text in a real browser: comments, a speaker's name, a session's title, place
and topics, a report's reason and a rating's comment carrying HTML, script tags, JavaScript
template syntax, quotes, backticks and very long text. Nothing runs on any page that shows
them, map tooltips, popups, legend and layer control included, and the text reads as written.

The payloads set ``window.__pwned``; dialogs, page errors and Content-Security-Policy
violations are watched too (test_hostile_text_browser's Watch and assert_nothing_ran).
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.geometry import Point
from test_hostile_text_browser import (
    TIMEOUT_S,
    WATCH_CSP,
    Watch,
    assert_nothing_ran,
    wait_for_feature,
)

from renovation import accounts, comments, moderation, ratings, sessions
from renovation.comments import CommentInput
from renovation.demo import DEMO_PASSWORD
from renovation.models import Community, User
from renovation.sessions import TopicInput

pytestmark = pytest.mark.browser

PWN = "window.__pwned=1"
PAYLOADS = [
    f"<img src=x onerror={PWN}><svg onload={PWN}>",
    f"</script><script>{PWN}</script><!--",
    f"${{{PWN}}} {{{{constructor.constructor('{PWN}')()}}}} `;{PWN};`",
    f"\"'><b onmouseover={PWN}>引号</b>' \" javascript:{PWN}",
    f"\u2028\u2029</textarea><iframe srcdoc=\"<script>parent.{PWN}</script>\"></iframe>",
]
LONG = ("".join(PAYLOADS) * 20)[:comments.MAX_COMMENT_LENGTH]
TITLE = f"<i onmouseover={PWN}>讨论会</i>${{{PWN}}}`</title><script>{PWN}</script>"
TOPICS = [f"<img src=x onerror={PWN}>电梯", f"`${{{PWN}}}`</script>下水道"]
SPEAKER = f"\"><svg onload={PWN}>赵${{{PWN}}}"
REASON = f"<script>{PWN}</script>举报${{x}}"
HIDDEN = f"<svg><script>{PWN}</script></svg>被隐藏的评论"
START = dt.datetime(2026, 12, 5, 11, 0, tzinfo=dt.UTC)
TYPED = f"<img src=x onerror={PWN}>在表单里输入的${{{PWN}}}`"


def shown(text: str, length: int) -> str:
    """The text as a popup or tooltip shows it (see api_sessions.pin_feature)."""
    text = text.replace("\r\n", "\n").strip()
    return text if len(text) <= length else text[:length - 1] + "…"


def spots(footprint, n: int) -> list[Point]:
    """`n` points inside the footprint, spread on a grid so that their pins do not overlap."""
    inner = footprint.buffer(-0.00025)
    minx, miny, maxx, maxy = inner.bounds
    grid = [Point(minx + (maxx - minx) * i / 5, miny + (maxy - miny) * j / 5)
            for j in range(6) for i in range(6)]
    inside = [p for p in grid if inner.contains(p)]
    assert len(inside) >= n, "the pilot's footprint is too small for the test's pins"
    return inside[::max(1, len(inside) // n)][:n]


@pytest.fixture
def hostile(app_session):
    """An open session in the pilot whose every text is hostile, with pinned comments."""
    db = app_session
    user = {u: db.scalar(sa.select(User).where(User.username == u))
            for u in ("planner", "moderator", "resident", "resident-2", "resident-3",
                      "official-laoshan")}
    pilot = db.scalar(sa.select(Community).where(Community.is_district_pilot))
    s = sessions.create_session(db, user["planner"], pilot.id, title=TITLE, starts_at=START,
                                place=TOPICS[1], facilitator_id=user["moderator"].id,
                                topics=[TopicInput(TOPICS[0], "lift_retrofit"),
                                        TopicInput(TOPICS[1], "drainage")])
    sessions.open_session(db, user["moderator"], s.id)
    texts = [*PAYLOADS, LONG]
    points = spots(to_shape(pilot.footprint), len(texts) + 1)
    posted = []
    for i, text in enumerate(texts):
        author = user[("resident", "resident-2", "resident-3")[i % 3]]
        posted.append(comments.post_comment(db, author, s.id, CommentInput(
            s.topics[i % 2].id, text, lon=points[i].x, lat=points[i].y)))
    spoken = comments.post_comment(db, user["moderator"], s.id, CommentInput(
        s.topics[0].id, PAYLOADS[2], speaker_name=SPEAKER))
    comments.post_comment(db, user["official-laoshan"], s.id, CommentInput(
        s.topics[0].id, PAYLOADS[0], parent_id=posted[0].id))
    moderation.flag_comment(db, user["resident-2"], posted[0].id, REASON)
    moderation.flag_comment(db, user["official-laoshan"], posted[3].id, PAYLOADS[3])
    hidden = comments.post_comment(db, user["resident-3"], s.id, CommentInput(
        s.topics[1].id, HIDDEN))
    moderation.decide(db, user["moderator"], hidden.id, "hide", REASON)
    item = ratings.finished_items(db, pilot.id)[0]
    rater = accounts.create_user(db, "new.rater", "a long password", "resident",
                                 display_name=SPEAKER, community_id=pilot.id)
    ratings.rate_item(db, rater, item.id, 1, LONG)
    db.commit()
    return {"session": s, "pilot": pilot, "posted": posted, "spoken": spoken,
            "free": points[-1], "texts": texts}


@pytest.fixture
def open_as(browser, live_server):
    contexts = []

    def open_(path: str, username: str | None = None, **context_args):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900},
                                         **context_args})
        context.set_default_timeout(TIMEOUT_S * 1000)
        context.add_init_script(WATCH_CSP)
        contexts.append(context)
        page = context.new_page()
        watch = Watch(page)
        if username:
            page.goto(f"{live_server}/login?next={path}")
            page.fill("#username", username)
            page.fill("#password", DEMO_PASSWORD)
            with page.expect_navigation():
                page.click("button[type=submit]")
        else:
            page.goto(live_server + path)
        return page, watch

    yield open_
    for context in contexts:
        context.close()


def check_pins(page, hostile) -> None:
    """Every pin's tooltip and popup shows its comment as text, with no markup in it."""
    page.locator(".gx-session-map").scroll_into_view_if_needed()
    for comment, text in zip(hostile["posted"], hostile["texts"], strict=True):
        if comment.id == hostile["posted"][0].id:
            continue  # reported once, still shown: checked like the others below
        where = wait_for_feature(page, f"gx-pin-topic-{comment.topic_id}", comment.id)
        assert where["free"], "something covers the pin"
        page.mouse.move(where["x"], where["y"])
        label = shown(text, 60)
        tooltip = page.locator(".leaflet-tooltip", has_text=label[:20]).last
        tooltip.wait_for()
        assert tooltip.text_content() == label
        page.mouse.click(where["x"], where["y"])
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert popup.locator(".gx-popup-title").text_content() == shown(text, 300)
        assert popup.locator("img, svg, script, b, iframe, i").count() == 0
        page.evaluate("window[document.querySelector('.folium-map').id].closePopup()")
        page.mouse.move(0, 0)
        popup.wait_for(state="detached")


def test_hostile_text_runs_nowhere(open_as, live_server, hostile):
    s, pilot = hostile["session"], hostile["pilot"]

    # A resident types a hostile comment into the form, pins it, and reads the page.
    page, watch = open_as(f"/sessions/{s.id}", "resident")
    page.fill("#comment-text", TYPED)
    page.locator("path.gx-footprint").wait_for(state="attached")
    free = hostile["free"]
    where = page.evaluate("""([lat, lon]) => {
      const div = document.querySelector('.folium-map');
      const p = window[div.id].latLngToContainerPoint([lat, lon]);
      const box = div.getBoundingClientRect();
      return {x: box.left + p.x, y: box.top + p.y};
    }""", [free.y, free.x])
    page.mouse.click(where["x"], where["y"])
    page.wait_for_function("document.getElementById('pin-lon').value !== ''")
    with page.expect_navigation():
        page.click("#comment-submit")
    page.wait_for_load_state("networkidle")
    assert page.title().startswith(TITLE)
    assert page.locator("#session-title").text_content() == TITLE
    texts = page.locator(".gx-comment-text").all_text_contents()
    for text in [*hostile["texts"], TYPED]:
        assert text.replace("\r\n", "\n").strip() in texts
    assert HIDDEN not in texts  # hidden by a moderator: not shown to residents
    assert SPEAKER in page.locator(".gx-comment-author").all_text_contents()
    overlays = [t.strip() for t in page.locator(
        ".leaflet-control-layers-overlays label > span > span").all_text_contents()]
    assert overlays[1:] == [f"1. {TOPICS[0]}", f"2. {TOPICS[1]}"]  # after the footprint
    assert page.locator(".leaflet-control-layers img, .leaflet-control-layers svg").count() == 0
    legend = page.locator(".gx-legend-row").all_text_contents()
    assert [f"1. {TOPICS[0]}", f"2. {TOPICS[1]}"] == legend
    check_pins(page, hostile)
    assert_nothing_ran(page, watch, live_server)
    typed = page.locator(".gx-comment-text", has_text="在表单里输入的")
    assert typed.text_content() == TYPED

    # The other pages that show the texts: signed out, then as a moderator (who sees the
    # hidden original and the reports' reasons).
    page, watch = open_as(f"/communities/{pilot.id}/ratings")
    assert LONG.strip() in page.locator(".gx-rating-notes li").all_text_contents()[0]
    assert_nothing_ran(page, watch, live_server)
    for path in ("/sessions", f"/communities/{pilot.id}", "/satisfaction"):
        page.goto(live_server + path)
        if path != "/satisfaction":
            assert TITLE in page.locator("a.gx-session-link").all_text_contents()
        assert_nothing_ran(page, watch, live_server)
    page, watch = open_as("/moderation", "moderator")
    assert REASON in page.locator(".gx-flags li").all_text_contents()[0]
    assert HIDDEN in page.locator("#hidden .gx-comment-text").all_text_contents()
    assert_nothing_ran(page, watch, live_server)
    page.goto(f"{live_server}/sessions/{s.id}")
    assert HIDDEN in page.locator(".gx-comment-original").text_content()
    assert_nothing_ran(page, watch, live_server)

"""A street official signs in on a phone, moves an item on, and sees the street map follow."""

import pytest
import sqlalchemy as sa

from renovation.demo import DEMO_PASSWORD
from renovation.models import Community, RenovationItem, Street
from renovation.progress import colour_for, progress_by
from renovation.status import Status

pytestmark = pytest.mark.browser
LAOSHAN = "110107002000"


def test_an_official_completes_an_item_and_the_street_map_shows_it(browser, live_server,
                                                                  app_session):
    item = app_session.scalar(
        sa.select(RenovationItem).join(Community).join(Street)
        .where(Street.code == LAOSHAN, RenovationItem.status == Status.CONSTRUCTION)
        .order_by(RenovationItem.id))
    community_id = item.community_id
    before = progress_by(app_session, Community.id)[community_id].percent

    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{live_server}/login?next=/my/items")
        page.fill("#username", "official-laoshan")
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/my/items")

        page.goto(f"{live_server}/my/items?status=construction")
        card = page.locator(f"#item-{item.id}")
        with page.expect_navigation():
            card.locator("button.gx-move-completed").tap()
        assert page.locator(".alert-success").is_visible()

        app_session.expire_all()
        changed = app_session.get(RenovationItem, item.id)
        assert (changed.status, changed.progress_pct) == (Status.COMPLETED, 100)
        after = progress_by(app_session, Community.id)[community_id].percent
        assert after > before

        page.goto(f"{live_server}/streets/{LAOSHAN}")
        row = page.locator("#communities-table tr", has=page.locator(
            f"a[href='/communities/{community_id}']"))
        assert f"{after:.0f}%" in row.inner_text()
        dot = page.locator(f"path.gx-community.gx-f-{community_id}")
        dot.first.wait_for(state="attached", timeout=10_000)
        assert dot.first.get_attribute("fill") == colour_for(after)
    finally:
        context.close()
    assert errors == []

"""A rep signs in on a 375 px phone screen, opens /tag, presses "use my location" and submits;
the database then holds the new point and a GeotagEvent. Headless Debian Chromium, geolocation
granted and overridden to a known point; no network beyond loopback (basemap tiles off)."""

from __future__ import annotations

import os
import shutil

import pytest
from auth_helpers import PASSWORD, events, outlet_row
from browser_helpers import ARGS, CHROMIUM, serving
from sqlalchemy.orm import sessionmaker

from geo_crm import auth, create_app

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world

HERE = (30.2512, 120.2519)  # lat, lon inside city C1

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Debian chromium"),
]


@pytest.fixture
def live_server(pg_cluster, engine, connection):
    """The app on a loopback port, single-threaded, its sessions on this test's connection."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pg_cluster.url,
            "SECRET_KEY": "browser",
            "GEO_CRM_AUTH_REQUIRED": True,
            "GEO_CRM_BASEMAP": "none",
        }
    )
    auth.init_app(app)
    db = app.extensions["geo_crm_db"]
    db.use_engine(engine)
    db.sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )

    with serving(app) as url:
        yield url


def test_rep_tags_an_outlet_with_the_phones_location(live_server, connection, world, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    before = outlet_row(connection, "A2")
    assert before.lon is None
    with sync_playwright() as p:  # Playwright gives the browser a throwaway profile of its own
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 375, "height": 740},
                is_mobile=True,
                has_touch=True,
                locale="zh-CN",
                geolocation={"latitude": HERE[0], "longitude": HERE[1], "accuracy": 15},
                permissions=["geolocation"],
            )
            page = context.new_page()
            page.set_default_timeout(20_000)  # CI machines may be busy; failures still fail
            expect.set_options(timeout=20_000)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server}/tag")
            assert "/login" in page.url
            page.fill("#username", "rep1")
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_url(f"{live_server}/tag")
            first = page.locator("#outlets button").first
            expect(first).to_have_attribute("data-code", "A2")  # not yet geotagged comes first
            first.click()
            expect(page.locator("#outlet-title")).to_have_text("老王烟酒店")
            page.click("#locate")
            expect(page.locator("#submit")).to_be_enabled()
            expect(page.locator("#fix")).to_contain_text("15")
            page.screenshot(path=str(tmp_path / "tag.png"))
            page.click("#submit")
            expect(page.locator("#message.ok")).to_have_text("已保存。")
            page.screenshot(path=str(tmp_path / "tagged.png"))
            if os.environ.get("GEO_CRM_KEEP_SCREENSHOTS"):
                shutil.copy(tmp_path / "tag.png", os.environ["GEO_CRM_KEEP_SCREENSHOTS"])
            assert errors == []
        finally:
            browser.close()
    after = outlet_row(connection, "A2")
    assert after.lat == pytest.approx(HERE[0], abs=1e-9) and after.lon == pytest.approx(
        HERE[1], abs=1e-9
    )
    assert after.version == before.version + 1
    (event,) = events(connection, "A2")
    assert event.state == "accepted" and event.source == "gps" and event.crs == "wgs84"
    assert event.accuracy_m == pytest.approx(15) and event.user_id == world["r1"]

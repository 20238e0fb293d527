"""A manager opens a distributor's business tabs in headless Chromium on a 375 px phone and on
a desk, and saves a plan with its schedule through the form; the database then holds it.
Debian's Chromium, no network beyond loopback."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from auth_helpers import PASSWORD
from browser_helpers import ARGS, CHROMIUM, serving
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from geo_crm import auth, create_app

pytest_plugins = ["auth_fixtures"]  # auth_app, aapp, aclient, world

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Debian chromium"),
]

TABS = ("overview", "purchases", "plans", "payments", "debt")


@pytest.fixture
def live_server(pg_cluster, engine, connection, world):
    connection.execute(
        text("INSERT INTO products (sku, name, unit) VALUES ('QQ-001', '青岛啤酒', '箱')")
    )
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount, reference) SELECT NULL, b.id, CURRENT_DATE, p.id, 10, 1000, 'INV-1' "
            "FROM outlets b, products p WHERE b.code = 'D1' AND p.sku = 'QQ-001'"
        )
    )
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


@pytest.mark.parametrize("width, height", [(375, 740), (1280, 900)], ids=["phone", "desk"])
def test_a_manager_opens_the_tabs_and_saves_a_plan(
    live_server, connection, width, height, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    shots = os.environ.get("GEO_CRM_KEEP_SCREENSHOTS") or str(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height},
                is_mobile=width < 500,
                has_touch=width < 500,
                locale="zh-CN",
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server}/distributors/D1?tab=purchases")
            page.fill("#username", "manager1")
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_url("**/distributors/D1?tab=purchases")
            for tab in TABS:
                page.click(f"#tab-{tab}")
                expect(page.locator(f"#tab-{tab}")).to_have_attribute("aria-current", "page")
                expect(page.locator("#outlet-name")).to_contain_text("华东总经销")
                # nothing wider than the screen but the scrolling tables and the map
                wide = page.evaluate(
                    "() => document.documentElement.scrollWidth > window.innerWidth + 1"
                )
                assert not wide, f"{tab} is wider than {width} px"
                page.screenshot(path=f"{shots}/business-{tab}-{width}.png", full_page=True)
            page.click("#tab-plans")
            expect(page.locator("#plan-actual")).to_be_visible()
            page.select_option("#plan-product", "QQ-001")
            page.fill("#target_quantity", "100")
            page.fill("#target_amount", "10000")
            page.fill("#step-0-quantity", "30")
            page.fill("#step-1-quantity", "65")
            page.fill("#step-2-quantity", "100")
            page.fill("#support-0-description", "陈列费")
            page.fill("#support-0-amount", "300")
            page.click("#plan-submit")
            expect(page.locator("#done")).to_have_text("计划已保存。")
            expect(page.locator("#version")).to_have_value("1")
            expect(page.locator("#history")).to_be_visible()
            page.screenshot(path=f"{shots}/business-plan-saved-{width}.png", full_page=True)
            assert errors == []
        finally:
            browser.close()
    month = dt.date.today().replace(day=1)
    plan = connection.execute(
        text(
            "SELECT p.id, p.target_amount FROM sales_plans p JOIN outlets d ON d.id = "
            "p.distributor_id WHERE d.code = 'D1' AND p.month = :m"
        ),
        {"m": month},
    ).one()
    assert plan.target_amount == 10000
    steps = connection.execute(
        text("SELECT count(*) FROM sales_plan_schedule WHERE plan_id = :p"), {"p": plan.id}
    ).scalar_one()
    assert steps == 3

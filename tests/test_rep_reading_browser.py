"""A rep reads the distributor above their outlet on a 375 px phone in headless Chromium: the
scorecard and every tab draw without forms and nothing is wider than the screen."""

from __future__ import annotations

import os

import pytest
from auth_helpers import PASSWORD
from browser_helpers import ARGS, CHROMIUM
from test_business_browser import TABS, live_server  # noqa: F401 - the fixture

pytest_plugins = ["auth_fixtures"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Debian chromium"),
]

WIDE = "() => document.documentElement.scrollWidth > window.innerWidth + 1"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_rep_reads_the_distributor_on_a_phone(live_server, lang):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 375, "height": 800}, is_mobile=True, has_touch=True
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            page.goto(f"{live_server}/distributors/D1/scorecard?lang={lang}")
            page.fill("#username", "rep1")
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_url("**/distributors/D1/scorecard*")
            expect(page.locator("#scorecard-name")).to_contain_text("华东总经销")
            assert page.locator("form.evaluation").count() == 0
            assert not page.evaluate(WIDE)
            page.screenshot(path=f"/tmp/h14f-rep-scorecard-375-{lang}.png", full_page=True)
            page.goto(f"{live_server}/distributors/D1?lang={lang}")
            for tab in TABS:
                page.click(f"#tab-{tab}")
                expect(page.locator(f"#tab-{tab}")).to_have_attribute("aria-current", "page")
                expect(page.locator("#read-only")).to_be_visible()
                assert page.locator("form[method=post]").count() == 0, tab
                assert not page.evaluate(WIDE), tab
                page.screenshot(path=f"/tmp/h14f-rep-{tab}-375-{lang}.png", full_page=True)
            expect(page.locator("#tab-purchases")).to_be_visible()
        finally:
            browser.close()

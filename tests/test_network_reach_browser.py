"""The distributor page's reach figures in headless Chromium: on a phone and in a 1,400 px
window, nothing wider than the window; the network map's legends name the same counts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from browser_helpers import ARGS, CHROMIUM, serving
from sqlalchemy import text
from test_network_reach import network  # noqa: F401

SHOTS = Path("/tmp")
WIDEST = """() => {
  const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')]
    .filter(e => !e.closest('.table-scroll') && e.getBoundingClientRect().right > w + 1)
    .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')
              + ' ' + Math.round(e.getBoundingClientRect().right));
}"""


@pytest.fixture
def served(app, connection, network, settings_override):  # noqa: F811
    """A year of plans and sales in the tens of millions: the widest figures the aside holds."""
    settings_override(app, auth_required=False)
    year = dt.date.today().year
    connection.execute(text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', '箱')"))
    connection.execute(
        text(
            "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
            "target_amount) SELECT d.id, make_date(:y, m, 1), p.id, 100000, 98765432.10 "
            "FROM outlets d, products p, generate_series(1, 12) m "
            "WHERE d.code = 'RD' AND p.sku = 'SKU1'"
        ),
        {"y": year},
    )
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount) SELECT s.id, b.id, make_date(:y, 1, 5), p.id, 100000, 87654321.99 "
            "FROM outlets s, outlets b, products p "
            "WHERE s.code = 'RD' AND b.code = 'R1' AND p.sku = 'SKU1'"
        ),
        {"y": year},
    )
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("width", [375, 1400])
def test_distributor_page_fits_and_its_map_names_the_same_counts(served, width):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900}, locale="en")
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(served + "/") else r.abort(),
            )
            page.goto(f"{served}/distributors/RD?lang=en")
            retail = page.locator('#reach tr[data-tier="retail"] td')
            assert [retail.nth(i).inner_text() for i in range(1, 4)] == ["6", "5", "3"]
            assert page.is_visible("#no-link")
            frame = page.frame_locator("#map")
            frame.locator("html[data-geo-crm-ready]").wait_for()
            legends = frame.locator(".gc-legend").all_inner_texts()
            assert any("Outlets on the map" in t and "Retail outlet (5)" in t for t in legends)
            assert any("Supply links" in t and "Retail outlet (3)" in t for t in legends)
            page.screenshot(path=str(SHOTS / f"distributor-reach-{width}.png"), full_page=True)
            assert page.evaluate(WIDEST) == []
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, overflow
            assert page.is_visible("#plans")
        finally:
            browser.close()
    assert not errors, errors

"""What a manager reads on the pages, over HTTP: words that say something once, in the page's
language."""

from __future__ import annotations

import re

import pytest
from auth_helpers import signed_in_client

pytest_plugins = ["auth_fixtures"]  # aapp, world


@pytest.fixture
def manager(aapp, world):
    return signed_in_client(aapp, "manager1")


def _text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert match, element_id
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()


@pytest.mark.parametrize(("lang", "heading"), [("zh", "进货"), ("en", "Purchases (Sell-in)")])
def test_the_purchases_heading_says_it_once(manager, lang, heading):
    """In Chinese the purchases tab's table was headed "进货 (进货)": both words are 进货."""
    page = manager.get(f"/distributors/D1?tab=purchases&lang={lang}").get_data(as_text=True)
    assert _text(page, "purchases-heading") == heading


def _href(page: str, element_id: str) -> str:
    match = re.search(rf'<a href="([^"]*)" id="{element_id}"', page)
    assert match, element_id
    return match.group(1)


def test_home_is_the_tagging_page_for_a_rep(aapp, world):
    """A rep's "home" (the header's geo_crm and an error page's 首页) led to the landing map,
    which answers a rep 403: from one error page to the next. It is their tagging page now, as
    after signing in; a manager's stays the landing map."""
    rep = signed_in_client(aapp, "rep1")
    refused = rep.get("/distributors?lang=zh")
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert _href(page, "error-home") == "/tag"
    assert _href(page, "home-link") == "/tag"
    assert rep.get("/tag").status_code == 200
    manager = signed_in_client(aapp, "manager1")
    page = manager.get("/no-such-page?lang=en").get_data(as_text=True)
    assert _href(page, "error-home") == "/" and _href(page, "home-link") == "/"


def test_a_reps_outlet_page_links_to_no_region(aapp, world):
    """A rep's own outlet page linked its breadcrumb and its region to region pages, which
    answer a rep 403; the region is named, the breadcrumb leads to the tagging page."""
    rep = signed_in_client(aapp, "rep1")
    response = rep.get("/outlets/A1?lang=zh")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/regions/' not in page
    assert "区域 C1" in _text(page, "outlet-region")
    for target in re.findall(r'href="(/[^"?]*)', page):
        if target.startswith(("/static/", "/logout", "/maps/")):
            continue
        assert rep.get(target).status_code == 200, target

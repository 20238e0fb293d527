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

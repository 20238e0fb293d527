"""The scorecard's evaluation form as a manager meets it: the browser's own limits on each
input (1 to 5, no date after today, yuan with cents) and, for what gets past them, the errors
beside the fields in the page's language, with what was typed kept."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from auth_helpers import signed_in_client
from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # aapp, world


@pytest.fixture
def manager(aapp, world):
    return signed_in_client(aapp, "manager1")


def _count(connection) -> int:
    return connection.execute(text("SELECT count(*) FROM evaluations")).scalar_one()


def _input(page: str, name: str) -> str:
    match = re.search(rf'<input name="{name}"[^>]*>', page)
    assert match, name
    return match.group(0)


def _error(page: str, name: str) -> str:
    match = re.search(rf'<span class="error" id="e-{name}">([^<]*)</span>', page)
    assert match, f"no error beside {name}"
    return match.group(1)


def test_the_inputs_carry_their_limits_as_attributes(manager):
    """The limits reached the browser escaped (min=&#34;1&#34;): no input had a minimum or a
    maximum, and capital's step fell back to 1, so the browser refused 12.50 yuan."""
    page = manager.get("/distributors/D1/scorecard?lang=en").get_data(as_text=True)
    assert "&#34;" not in page
    today = dt.date.today().isoformat()
    assert f'max="{today}"' in _input(page, "evaluated_on")
    for name in ("initiative", "credit"):
        tag = _input(page, name)
        assert 'min="1"' in tag and 'max="5"' in tag and " required" in tag, tag
    assert 'step="0.01"' in _input(page, "capital")
    assert 'step="any"' in _input(page, "warehouse_area_m2")
    assert 'min="0"' in _input(page, "staff")


BAD = {
    "initiative": "9",
    "credit": "",
    "evaluated_on": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
    "capital": "-5",
    "staff": "1.5",
    "warehouse_area_m2": "-1",
    "brands_carried": "青岛, 雪花",
    "notes": "送货及时",
}
WORDS = {
    "zh": {
        "initiative": "请输入 1 到 5 之间的整数",
        "credit": "请输入 1 到 5 之间的整数",
        "evaluated_on": "不能晚于今天",
        "capital": "请输入 ≥ 0 的金额（元）",
        "staff": "请输入 0 到 32,767 之间的整数",
        "warehouse_area_m2": "请输入 ≥ 0 的面积（㎡）",
    },
    "en": {
        "initiative": "Enter a whole number from 1 to 5",
        "credit": "Enter a whole number from 1 to 5",
        "evaluated_on": "May not be after today",
        "capital": "Enter a number of yuan ≥ 0",
        "staff": "Enter a whole number from 0 to 32,767",
        "warehouse_area_m2": "Enter a number of m² ≥ 0",
    },
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bad_input_is_named_beside_each_field_in_the_pages_language(manager, connection, lang):
    """The Chinese form showed the API's English ("must be a whole number from 1 to 5 (got
    9)", "credit is required (1 to 5)") beside its fields."""
    response = manager.post(
        f"/distributors/D1/evaluations?lang={lang}", data={"csrf_token": manager.csrf, **BAD}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for name, words in WORDS[lang].items():
        assert _error(page, name) == words, name
    assert 'value="9"' in _input(page, "initiative")  # what was typed stays
    assert 'value="青岛, 雪花"' in _input(page, "brands_carried")
    assert "送货及时</textarea>" in page
    assert _count(connection) == 0


def test_good_input_is_saved_and_said_so(manager, connection):
    good = {"initiative": "4", "credit": "5", "capital": "12.50", "warehouse_area_m2": "120.5"}
    response = manager.post(
        "/distributors/D1/evaluations?lang=zh", data={"csrf_token": manager.csrf, **good}
    )
    assert response.status_code == 302
    assert _count(connection) == 1
    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "评估已保存。" in page

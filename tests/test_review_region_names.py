"""A flag's region is named by its name in the page's language, its code beside it ("outside
the outlet's region Hangzhou (C1)", not "region C1"): the review queue."""

from __future__ import annotations

import html
import re

from auth_helpers import add_token, outlet_row, signed_in_client, tag_body, token_client

from geo_crm.i18n import Translator
from geo_crm.web.review import _reason

pytest_plugins = ["auth_fixtures"]  # aapp, world

API = "/api/v1"


def _flag_outside_c1(aapp, connection, world) -> None:
    connection.exec_driver_sql(
        "UPDATE regions SET name = '杭州市', name_en = 'Hangzhou' WHERE code = 'C1'"
    )
    rep1 = token_client(aapp, add_token(connection, world["r1"]))
    body = tag_body(30.5, 120.7, outlet_row(connection, "A1").version)  # in C2
    event = rep1.put(f"{API}/outlets/A1/location", json=body).get_json()["event"]
    assert "outside_region:C1" in event["flags"] and event["state"] == "flagged"


def _why(page: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", w))
        for w in re.findall(r'<td class="why"[^>]*>(.*?)</td>', page)
    ]


def test_the_queue_names_the_region_in_both_languages(aapp, connection, world):
    _flag_outside_c1(aapp, connection, world)
    manager = signed_in_client(aapp, "manager1")
    (zh,) = _why(manager.get("/review?lang=zh").get_data(as_text=True))
    assert "位置不在网点原所属区域杭州市（C1）内。" in zh
    (en,) = _why(manager.get("/review?lang=en").get_data(as_text=True))
    assert "The point lies outside the outlet's region Hangzhou (C1)." in en


def test_a_region_without_an_english_name_keeps_its_chinese_one(aapp, connection, world):
    _flag_outside_c1(aapp, connection, world)
    connection.exec_driver_sql("UPDATE regions SET name_en = NULL WHERE code = 'C1'")
    (en,) = _why(signed_in_client(aapp, "admin1").get("/review?lang=en").get_data(as_text=True))
    assert "region 杭州市 (C1)." in en


def test_a_region_unknown_or_out_of_scope_stays_a_code():
    t = Translator("en")
    assert (
        _reason(t, "outside_region:X9", {}, {}) == "The point lies outside the outlet's region X9."
    )
    assert _reason(t, "outside_region:", {}, {}) == "The point lies outside the outlet's region."


def test_a_hostile_region_name_is_text(aapp, connection, world):
    _flag_outside_c1(aapp, connection, world)
    connection.exec_driver_sql(
        "UPDATE regions SET name_en = '<img src=x onerror=alert(1)>' WHERE code = 'C1'"
    )
    page = signed_in_client(aapp, "manager1").get("/review?lang=en").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt; (C1)" in page

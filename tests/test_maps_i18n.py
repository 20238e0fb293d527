"""Languages: negotiation, Chinese for every message the map pages use, locale formatting."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

import geo_crm.web.judging_pages  # noqa: F401 - adds the words of its pages ("judging")
from geo_crm.i18n import ZH, Translator, negotiate

ROOT = Path(__file__).resolve().parent.parent
MAP_TEMPLATES = ["region.html", "_region_figures.html", "distributor.html", "outlet.html",
                 "scorecard.html", "ranking.html"]  # fmt: skip
MAP_MODULES = [
    *sorted((ROOT / "geo_crm" / "maps").glob("*.py")),
    *(
        ROOT / "geo_crm" / "web" / name
        for name in (
            "maps.py",
            "regions.py",
            "network_pages.py",
            "filters.py",
            "judging_pages.py",
        )
    ),
]


@pytest.mark.parametrize(
    "query, cookie, header, expected",
    [
        ("en", "zh", "zh-CN", "en"),
        (None, "en", "zh-CN,zh;q=0.9", "en"),
        ("xx", "en", None, "en"),
        (None, None, "en-US,en;q=0.9,zh;q=0.8", "en"),
        (None, None, "fr-FR, zh-TW;q=0.5, en;q=0.4", "zh"),
        (None, None, "de, en;q=0", "zh"),
        (None, None, "zh_Hans_CN", "zh"),
        (None, None, "garbage;q=abc", "zh"),
        (None, None, None, "zh"),
    ],
)
def test_negotiation_order(query, cookie, header, expected):
    assert negotiate(query, cookie, header) == expected


def _literals() -> set[str]:
    import importlib

    for path in MAP_MODULES:  # modules add their own catalogue sections when imported
        importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    found: set[str] = set()
    for name in MAP_TEMPLATES:
        text = (ROOT / "templates" / name).read_text(encoding="utf-8")
        found |= set(re.findall(r'\b_\("((?:[^"\\]|\\.)+)"', text))
        found |= set(re.findall(r"\b_\('((?:[^'\\]|\\.)+)'", text))
    for path in MAP_MODULES:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)+)"', text))
    return found


def test_every_message_of_the_map_pages_has_chinese():
    literals = _literals()
    assert len(literals) > 60  # the scan found the messages
    missing = sorted(m for m in literals if m not in ZH)
    assert not missing, missing


def test_placeholders_survive_translation():
    for english, chinese in ZH.items():
        assert set(re.findall(r"\{(\w+)\}", english)) == set(re.findall(r"\{(\w+)\}", chinese)), (
            english
        )


def test_messages_tiers_and_units():
    zh, en = Translator("zh"), Translator("en")
    assert zh("Coverage map") == "覆盖地图" and en("Coverage map") == "Coverage map"
    assert zh("Unknown region {code}", code="X") == "未知区域 X"
    assert [zh.tier(t) for t in ("distributor", "wholesaler_2", "wholesaler_3", "retail")] == [
        "总经销",
        "二批",
        "三批",
        "零售终端",
    ]
    assert en.tier("wholesaler_2") == "2nd-tier wholesaler"
    assert zh.km(12345) == "12.3 公里" and en.km(12345) == "12.3 km"
    assert zh.km2(2_500_000) == "2.5 平方公里"


def test_numbers_and_dates_for_the_locale():
    zh, en = Translator("zh"), Translator("en")
    assert zh.number(1234567.891, 2) == "1,234,567.89" == en.number(1234567.891, 2)
    assert zh.percent(0.4567) == "45.7%" and en.percent(1) == "100.0%"
    assert zh.money(Decimal("12345.5")) == "¥12,346" and en.money(12345.5, 2) == "¥12,345.50"
    assert (
        zh.date(dt.date(2026, 3, 4)) == "2026年3月4日"
        and en.date(dt.date(2026, 3, 4)) == "Mar 4, 2026"
    )
    assert (
        zh.month(dt.date(2026, 3, 1)) == "2026年3月" and en.month(dt.date(2026, 3, 1)) == "Mar 2026"
    )
    assert zh.number(None) == "–" and zh.percent(float("nan")) == "–"


def test_fast_number_path_agrees_with_babel():
    from babel.numbers import format_decimal

    for lang, locale in (("zh", "zh_Hans_CN"), ("en", "en")):
        t = Translator(lang)
        for value in (0, 7, 1234.5, 9876543.21, -1500.25, Decimal("1000000.005")):
            for digits in (0, 1, 2):
                pattern = "#,##0" + ("." + "0" * digits if digits else "")
                assert t.number(value, digits) == format_decimal(
                    value, format=pattern, locale=locale
                )

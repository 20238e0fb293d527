"""Times in the display zone (GEO_CRM_TIMEZONE, default Asia/Shanghai) with their offset: the
database stores UTC, pages and exported reports show the zone's time, the API keeps ISO 8601.
Near midnight UTC the date changes (23:30 UTC is 07:30 the next day in Beijing)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from auth_helpers import add_token, outlet_row, signed_in_client, tag_body, token_client
from report_helpers import PERIOD

from geo_crm.domain.principal import SYSTEM
from geo_crm.i18n import Translator, zone_label
from geo_crm.reports import build_report, render
from geo_crm.reports.data import ReportFilters
from geo_crm.settings import EXTENSION, Settings

pytest_plugins = ["auth_fixtures", "report_fixtures"]  # aapp, world; report_world

FILTERS = ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1], cell_km=10)

API = "/api/v1"
NNBSP = "\u202f"  # CLDR's narrow space before AM/PM
LATE = dt.datetime(2026, 12, 6, 23, 30, 5, tzinfo=dt.UTC)  # 07:30 on the 7th in Beijing


def test_one_function_shows_a_moment_in_the_display_zone_with_its_offset():
    zh, en = Translator("zh"), Translator("en")
    assert zh.datetime(LATE) == "2026年12月7日 07:30:05 UTC+8"
    assert en.datetime(LATE, "short") == f"12/7/26, 7:30{NNBSP}AM UTC+8"
    assert (
        en.datetime(LATE.replace(tzinfo=None), "short") == f"12/7/26, 7:30{NNBSP}AM UTC+8"
    )  # as UTC
    assert en.datetime(LATE, "short", zone=False) == f"12/7/26, 7:30{NNBSP}AM"
    assert zh.date(LATE) == "2026年12月7日"  # a moment's date is the zone's date
    assert zh.date(dt.date(2026, 12, 6)) == "2026年12月6日"  # a date stays what it is
    assert Translator("en", "UTC").datetime(LATE, "short") == f"12/6/26, 11:30{NNBSP}PM UTC"
    assert (
        Translator("en", "Asia/Kolkata").datetime(LATE, "short")
        == f"12/7/26, 5:00{NNBSP}AM UTC+5:30"
    )
    assert Translator("en", "America/St_Johns").datetime(LATE, "short").endswith("UTC-3:30")
    assert zone_label(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == "UTC"


def test_the_setting_takes_an_iana_zone_and_refuses_anything_else():
    assert Settings.load({}).timezone == "Asia/Shanghai"
    assert Settings.load({"GEO_CRM_TIMEZONE": " UTC "}).timezone == "UTC"
    with pytest.raises(ValueError, match="GEO_CRM_TIMEZONE must be a time zone name"):
        Settings.load({"GEO_CRM_TIMEZONE": "Beijing"})
    with pytest.raises(ValueError, match="GEO_CRM_TIMEZONE"):
        Settings.load({"GEO_CRM_TIMEZONE": "../etc/passwd"})


def _text(page: str) -> str:
    """What a reader sees (not the ``<time datetime>`` attributes)."""
    return re.sub(r"<[^>]+>", " ", page)


def _late_flagged_tag(aapp, connection, world) -> None:
    rep1 = token_client(aapp, add_token(connection, world["r1"]))
    body = tag_body(30.5, 120.7, outlet_row(connection, "A1").version)  # C2: outside C1, far
    response = rep1.put(f"{API}/outlets/A1/location", json=body)
    assert response.get_json()["event"]["state"] == "flagged"
    # events are history (a trigger keeps them): move this one to a late evening, UTC
    connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    connection.exec_driver_sql(
        "UPDATE geotag_events SET created_at = '2026-12-06 23:30:05+00', "
        "captured_at = '2026-12-06 23:29:00+00'"
    )
    connection.exec_driver_sql("SET LOCAL session_replication_role = origin")


def test_the_review_queue_and_the_outlet_history_show_beijing_time(aapp, connection, world):
    _late_flagged_tag(aapp, connection, world)
    manager = signed_in_client(aapp, "manager1")
    page = manager.get("/review?lang=zh").get_data(as_text=True)
    assert "2026/12/7 07:30 UTC+8" in _text(page) and "23:30" not in _text(page)
    page = manager.get("/review?lang=en").get_data(as_text=True)
    assert f"12/7/26, 7:30{NNBSP}AM UTC+8" in page
    rep = signed_in_client(aapp, "rep1")  # a rep's outlet page lists its location history
    outlet = rep.get("/outlets/A1?lang=en").get_data(as_text=True)
    assert f"Dec 7, 2026, 7:29:00{NNBSP}AM UTC+8" in outlet and "11:29" not in _text(outlet)
    # the API keeps ISO 8601 with the offset, in UTC as stored
    api = token_client(aapp, add_token(connection, world["m1"])).get(f"{API}/geotag-reviews")
    assert api.status_code == 200
    assert api.get_json()[0]["created_at"] == "2026-12-06T23:30:05+00:00"


def test_another_zone_is_a_setting(aapp, connection, world):
    _late_flagged_tag(aapp, connection, world)
    saved = aapp.extensions[EXTENSION]
    aapp.extensions[EXTENSION] = saved.replace(timezone="UTC")
    try:
        page = signed_in_client(aapp, "manager1").get("/review?lang=en").get_data(as_text=True)
    finally:
        aapp.extensions[EXTENSION] = saved
    assert f"12/6/26, 11:30{NNBSP}PM UTC" in page


def test_reports_print_their_time_in_the_zone():
    from types import SimpleNamespace

    data = SimpleNamespace(lang="zh", zone=None, generated_at=LATE)
    t = render.translator(data)
    assert render.as_of(t, data) == "2026年12月7日 07:30:05 UTC+8"
    data = SimpleNamespace(lang="en", zone="UTC", generated_at=LATE)
    assert render.as_of(render.translator(data), data) == f"Dec 6, 2026, 11:30:05{NNBSP}PM UTC"


def _about(path) -> dict:
    from openpyxl import load_workbook

    sheet = load_workbook(path).worksheets[0]
    return {r[0].value: r[1].value for r in sheet.iter_rows(min_row=2)}


def test_an_exported_workbook_prints_the_zone_time(session, report_world, tmp_path):
    """The XLSX says when its data was read in Beijing time (the HTML and the PDF print the
    same ``render.as_of``, test_reports*.py open them)."""
    out = build_report(
        session, SYSTEM, "RP", FILTERS, ["xlsx"], tmp_path, lang="zh", now=LATE
    ).files[0]
    assert _about(out.path)["数据截至"] == "2026年12月7日 07:30:05 UTC+8"
    out = build_report(
        session, SYSTEM, "RP", FILTERS, ["xlsx"], tmp_path / "utc", lang="en", now=LATE, zone="UTC"
    ).files[0]
    assert _about(out.path)["Data as of"] == f"Dec 6, 2026, 11:30:05{NNBSP}PM UTC"


def test_the_cli_report_is_in_the_setting_zone(cli, report_world, tmp_path):
    done = cli.invoke(
        args=["report", "RP", "--format", "xlsx", "--period", "2025", "--cell-km", "10",
              "--lang", "en", "-o", str(tmp_path)]
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    (path,) = tmp_path.iterdir()
    assert _about(path)["Data as of"].endswith(" UTC+8")

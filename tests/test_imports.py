"""Importing outlets, products and sales from CSV (UTF-8, BOM, GB18030), XLSX and GeoJSON."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from geo_crm import coords
from geo_crm.io.imports import import_outlets, import_products, import_sales
from geo_crm.io.imports.outlets import OUTLET_COLUMNS
from geo_crm.io.tabular import neutralise, unquote

HEADER = [c for c in OUTLET_COLUMNS if c != "crs"]  # the import's columns, WGS-84 rows


def csv_bytes(rows, header=HEADER, encoding="utf-8") -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    return buf.getvalue().encode(encoding)


def row(code, name, tier, parent="", lat="", lon="", **extra):
    values = {
        "code": code,
        "name": name,
        "tier": tier,
        "parent_code": parent,
        "lat": lat,
        "lon": lon,
        **extra,
    }
    return [values.get(h, "") for h in HEADER]


NETWORK = [  # a retailer before its parents: the importer must not care
    row("R1", "便民超市", "零售", "W1", 30.25, 120.17, address="杭州市西湖区文三路1号"),
    row("W1", "二批商行", "二批", "D1", 30.26, 120.16, contact="王五", phone="13800000001"),
    row("D1", "浙江总经销", "总经销", "", 30.27, 120.15),
    row("R2", "终端小店", "终端", "W1"),
]


def outlets(sql) -> dict[str, dict]:
    rows = sql(
        "SELECT o.code, o.name, o.tier, p.code AS parent, ST_X(o.location) AS lon,"
        " ST_Y(o.location) AS lat, o.address, o.contact, o.phone, o.status, o.version,"
        " u.username AS rep FROM outlets o LEFT JOIN outlets p ON p.id = o.parent_id"
        " LEFT JOIN users u ON u.id = o.rep_id"
    ).mappings()
    return {r["code"]: dict(r) for r in rows}


def count(sql, table="outlets") -> int:
    return sql(f"SELECT count(*) FROM {table}").scalar()


def problems(report) -> set[tuple[int, str]]:
    return {(p.row, p.column) for p in report.problems}


def message(report, row_no: int, column: str) -> str:
    return " | ".join(p.message for p in report.problems if (p.row, p.column) == (row_no, column))


# -- formats and encodings -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "encoding, detected",
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030")],
)
def test_csv_with_chinese_text_in_each_encoding(session, sql, encoding, detected):
    report = import_outlets(session, csv_bytes(NETWORK, encoding=encoding), name="网点.csv")
    assert report.ok, report.problems
    assert (report.fmt, report.encoding) == ("csv", detected)
    assert (report.inserted, report.updated, report.unchanged) == (4, 0, 0)
    stored = outlets(sql)
    assert stored["D1"]["name"] == "浙江总经销" and stored["D1"]["tier"] == "distributor"
    assert stored["W1"]["parent"] == "D1" and stored["W1"]["contact"] == "王五"
    assert stored["R1"] == {
        **stored["R1"],
        "parent": "W1",
        "tier": "retail",
        "address": "杭州市西湖区文三路1号",
        "lon": 120.17,
        "lat": 30.25,
    }
    assert stored["R2"]["tier"] == "retail" and stored["R2"]["lon"] is None
    assert all(o["status"] == "active" and o["version"] == 1 for o in stored.values())


def test_xlsx_with_chinese_headers_and_numeric_cells(session, sql):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["编码", "名称", "级别", "上级编码", "纬度", "经度", "电话", "备注"])
    ws.append([1001, "总经销一号", "总经销", None, 39.9, 116.4, 13900000000, "首批"])
    ws.append([None, None, None, None, None, None, None, None])  # blank row: numbering goes on
    ws.append([1002, "二批一号", "二批", 1001, 39.91, 116.41, None, None])
    buf = io.BytesIO()
    wb.save(buf)
    report = import_outlets(session, buf.getvalue(), name="outlets.xlsx")
    assert report.ok, report.problems
    assert (report.fmt, report.inserted) == ("xlsx", 2)
    stored = outlets(sql)
    assert stored["1001"]["phone"] == "13900000000"
    assert stored["1002"]["parent"] == "1001" and (
        stored["1002"]["lat"],
        stored["1002"]["lon"],
    ) == (39.91, 116.41)


def test_xlsx_rows_are_numbered_as_the_sheet_shows_them(session):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["code", "name", "tier"])
    ws.append(["D1", "一号", "distributor"])
    ws.append([])
    ws.append(["D2", "二号", "老板"])
    buf = io.BytesIO()
    wb.save(buf)
    report = import_outlets(session, buf.getvalue(), fmt="xlsx")
    assert problems(report) == {(4, "tier")}


def test_geojson_points_and_null_geometry(session, sql):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [121.47, 31.23]},
                "properties": {"code": "SH1", "name": "上海总经销", "tier": "distributor"},
            },
            {
                "type": "Feature",
                "geometry": None,
                "properties": {
                    "code": "SH2",
                    "name": "上海二批",
                    "tier": "wholesaler_2",
                    "parent_code": "SH1",
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                "properties": {"code": "SH3", "name": "线", "tier": "retail"},
            },
        ],
    }
    data = json.dumps(doc, ensure_ascii=False).encode()
    report = import_outlets(session, data, name="outlets.geojson")
    assert problems(report) == {(3, "geometry")}  # GeoJSON rows are feature numbers
    assert count(sql) == 0
    report = import_outlets(session, data, name="outlets.geojson", skip_invalid=True)
    assert (report.inserted, report.skipped) == (2, 1)
    stored = outlets(sql)
    assert (stored["SH1"]["lon"], stored["SH1"]["lat"]) == (121.47, 31.23)
    assert stored["SH2"]["lon"] is None and stored["SH2"]["parent"] == "SH1"


def test_english_tier_names_and_semicolon_csv(session, sql):
    data = (
        "code;name;tier;parent_code\nD1;A;Distributor;\nW1;B;wholesaler 2;D1\n"
        "W3;C;Wholesaler_3;W1\n"
    )
    report = import_outlets(session, data.encode(), fmt="csv")
    assert report.ok, report.problems
    assert {c: o["tier"] for c, o in outlets(sql).items()} == {
        "D1": "distributor",
        "W1": "wholesaler_2",
        "W3": "wholesaler_3",
    }


def test_unknown_columns_are_ignored_and_reported(session):
    report = import_outlets(
        session,
        csv_bytes([["D1", "一号", "distributor", "x"]], header=["code", "name", "tier", "colour"]),
    )
    assert report.ok and report.ignored_columns == ["colour"]


def test_missing_code_column_is_a_file_error(session):
    from geo_crm.errors import ValidationError

    with pytest.raises(ValidationError) as err:
        import_outlets(session, csv_bytes([["一号", "distributor"]], header=["name", "tier"]))
    assert "header.code" in err.value.fields


@pytest.mark.parametrize(
    "data, name",
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "old.xls"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", None),
        (b"PK\x03\x04 a word document", "report.docx"),
        (b"%PDF-1.7", "scan.pdf"),
    ],
)
def test_unsupported_file_type(session, data, name):
    from geo_crm.io.tabular import UnsupportedFormat

    with pytest.raises(UnsupportedFormat):
        import_outlets(session, data, name=name)


def test_two_columns_for_one_field_is_a_file_error(session):
    from geo_crm.errors import ValidationError

    data = csv_bytes([["D1", "D1", "一", "distributor"]], header=["code", "编码", "name", "tier"])
    with pytest.raises(ValidationError) as err:
        import_outlets(session, data)
    assert "header.编码" in err.value.fields


def test_new_outlets_record_who_imported_them(session, sql):
    admin = sql("INSERT INTO users (username, role) VALUES ('boss', 'admin') RETURNING id").scalar()
    data = csv_bytes([row("D1", "一", "distributor", lat=30, lon=120)])
    import_outlets(session, data, user_id=admin)
    assert sql("SELECT created_by_id FROM outlets").scalar() == admin
    assert sql("SELECT user_id FROM geotag_events").scalar() == admin


# -- validation: every problem names row and column -----------------------------------------------
def _users_and_regions(sql):
    sql("INSERT INTO users (username, role) VALUES ('rep.li', 'rep')")
    sql(
        "INSERT INTO regions (code, name, level, boundary)"
        " VALUES ('650000', '新疆测试', 'province',"
        " ST_Multi(ST_MakeEnvelope(80, 35, 90, 45, 4326)))"
    )


CASES = {
    "bad tier": ([row("D1", "一号", "boss")], (2, "tier"), "unknown tier"),
    "missing tier": ([row("D1", "一号", "")], (2, "tier"), "required"),
    "missing name": ([row("D1", "", "distributor")], (2, "name"), "required"),
    "unknown parent": (
        [row("W1", "二批", "wholesaler_2", "NOPE")],
        (2, "parent_code"),
        "unknown parent",
    ),
    "tier rule": (
        [row("R1", "店", "retail"), row("W1", "二批", "wholesaler_2", "R1")],
        (3, "parent_code"),
        "higher tier",
    ),
    "same tier": (
        [row("W1", "二批", "wholesaler_2"), row("W2", "二批", "wholesaler_2", "W1")],
        (3, "parent_code"),
        "higher tier",
    ),
    "distributor with parent": (
        [row("D1", "一号", "distributor"), row("D2", "二号", "distributor", "D1")],
        (3, "parent_code"),
        "buys from nobody",
    ),
    "own parent": ([row("W1", "二批", "wholesaler_2", "W1")], (2, "parent_code"), "own parent"),
    "cycle": (
        [
            row("D1", "x", "distributor"),
            row("A", "甲", "wholesaler_3", "B"),
            row("B", "乙", "wholesaler_2", "A"),
        ],
        (3, "parent_code"),
        "parent cycle: A → B → A",
    ),
    "unparsable lat": (
        [row("D1", "一号", "distributor", lat="北纬30", lon=120)],
        (2, "lat"),
        "not a number",
    ),
    "lat out of range": (
        [row("D1", "一号", "distributor", lat=95, lon=190)],
        (2, "lat"),
        "outside [-90, 90]",
    ),
    "lon out of range": (
        [row("D1", "一号", "distributor", lat=30, lon=190)],
        (2, "lon"),
        "outside [-180, 180]",
    ),
    "swapped by range": (
        [row("D1", "一号", "distributor", lat=120.2, lon=30.3)],
        (2, "lat"),
        "look swapped",
    ),
    "swapped by region": (
        [row("D1", "一号", "distributor", lat=85, lon=40)],
        (2, "lat"),
        "falls in 新疆测试",
    ),
    "only lat": ([row("D1", "一号", "distributor", lat=30)], (2, "lon"), "missing"),
    "only lon": ([row("D1", "一号", "distributor", lon=120)], (2, "lat"), "missing"),
    "NaN lat": ([row("D1", "一号", "distributor", lat="NaN", lon=120)], (2, "lat"), "finite"),
    "unknown rep": ([row("D1", "一号", "distributor", rep="nobody")], (2, "rep"), "unknown rep"),
    "bad status": (
        [row("D1", "一号", "distributor", status="open")],
        (2, "status"),
        "unknown status",
    ),
    "long phone": ([row("D1", "一号", "distributor", phone="1" * 40)], (2, "phone"), "at most 32"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_problem_names_row_and_column_and_nothing_is_written(session, sql, case):
    _users_and_regions(sql)
    rows, where, text = CASES[case]
    good = [row("G1", "好的", "distributor", lat=30, lon=120)]  # a valid row is not written either
    report = import_outlets(session, csv_bytes(good + rows))
    where = (where[0] + 1, where[1])  # the good row comes first
    assert where in problems(report), report.problems
    assert text in message(report, *where)
    assert report.failed and not report.written
    assert count(sql) == 0


def test_duplicate_codes_flag_every_occurrence(session, sql):
    rows = [
        row("D1", "一号", "distributor"),
        row("D2", "二号", "distributor"),
        row("D1", "一号again", "distributor"),
    ]
    report = import_outlets(session, csv_bytes(rows))
    assert problems(report) == {(2, "code"), (4, "code")}
    assert "also on row 4" in message(report, 2, "code")
    assert count(sql) == 0


def test_cycle_through_stored_outlets_is_found(session, sql):
    """Stored: D1 → A (wholesaler_2) → B (wholesaler_3); the file makes A buy from B."""
    import_outlets(
        session,
        csv_bytes(
            [
                row("D1", "一", "distributor"),
                row("A", "甲", "wholesaler_2", "D1"),
                row("B", "乙", "wholesaler_3", "A"),
            ]
        ),
    )
    report = import_outlets(session, csv_bytes([row("A", "甲", "wholesaler_3", "B")]))
    assert (2, "parent_code") in problems(report)
    assert "parent cycle: A → B → A" in message(report, 2, "parent_code")


def test_tier_change_checks_stored_buyers(session, sql):
    import_outlets(
        session,
        csv_bytes([row("D1", "一", "distributor"), row("W1", "二批", "wholesaler_2", "D1")]),
    )
    report = import_outlets(session, csv_bytes([["D1", "wholesaler_2"]], header=["code", "tier"]))
    assert problems(report) == {(2, "tier")}
    assert "its buyer 'W1' is a wholesaler_2" in message(report, 2, "tier")
    # moving the buyer in the same file makes the change valid
    report = import_outlets(
        session,
        csv_bytes(
            [
                row("D0", "新总经销", "distributor"),
                row("D1", "一", "wholesaler_2", "D0"),
                row("W1", "二批", "wholesaler_3", "D1"),
            ]
        ),
    )
    assert report.ok, report.problems
    assert outlets(sql)["D1"]["tier"] == "wholesaler_2"


def test_a_parent_and_its_buyer_swap_tiers_in_one_file(session, sql):
    """Stored D1 → C (wholesaler_2) → P (wholesaler_3); the file promotes P above C.

    The tier trigger checks each row against the rows written before it, so P must be
    written first (C may not buy from P while P is still a wholesaler_3).
    """
    import_outlets(
        session,
        csv_bytes(
            [
                row("D1", "一", "distributor"),
                row("C", "丙", "wholesaler_2", "D1"),
                row("P", "丁", "wholesaler_3", "C"),
            ]
        ),
    )
    swap = [row("C", "丙", "wholesaler_3", "P"), row("P", "丁", "wholesaler_2", "D1")]
    report = import_outlets(session, csv_bytes(swap))
    assert report.ok, report.problems
    assert (report.updated, report.unchanged) == (2, 0)
    stored = outlets(sql)
    assert (stored["P"]["tier"], stored["P"]["parent"]) == ("wholesaler_2", "D1")
    assert (stored["C"]["tier"], stored["C"]["parent"]) == ("wholesaler_3", "P")


def test_a_rule_the_database_refuses_after_all_fails_the_whole_import(session, sql, monkeypatch):
    from geo_crm.errors import ValidationError
    from geo_crm.io.imports import outlets as outlet_importer

    import_outlets(session, csv_bytes([row("R1", "店", "retail")]))
    monkeypatch.setattr(
        outlet_importer, "_check_network", lambda *args: None
    )  # validation misses it
    with pytest.raises(ValidationError) as err:
        import_outlets(session, csv_bytes([row("W1", "二批", "wholesaler_2", "R1")]))
    assert err.value.message.startswith("the database refused the import (nothing was written)")
    assert "may not buy from" in err.value.message


def test_many_problems_are_all_reported(session, sql):
    rows = [
        row("D1", "一", "boss"),
        row("D2", "", "distributor", lat="x", lon=1),
        row("W1", "二批", "wholesaler_2", "ZZ", status="?"),
    ]
    report = import_outlets(session, csv_bytes(rows))
    assert problems(report) == {
        (2, "tier"),
        (3, "name"),
        (3, "lat"),
        (4, "parent_code"),
        (4, "status"),
    }
    assert report.invalid_rows == 3 and "nothing was written" in report.summary()


# -- modes -----------------------------------------------------------------------------------------
def test_skip_invalid_writes_good_rows_and_skips_children_of_skipped_rows(session, sql):
    rows = [
        row("D1", "一", "distributor"),
        row("W1", "二批", "boss", "D1"),
        row("W3", "三批", "wholesaler_3", "W1"),
        row("R2", "店二", "retail", "D1"),
        row("R3", "店三", "retail", "W3"),
    ]
    report = import_outlets(session, csv_bytes(rows), skip_invalid=True)
    assert (report.inserted, report.skipped) == (2, 3)
    assert problems(report) == {(3, "tier"), (4, "parent_code"), (6, "parent_code")}
    assert "(row 3) is invalid and was skipped" in message(report, 4, "parent_code")
    assert "(row 4) is invalid and was skipped" in message(report, 6, "parent_code")
    assert set(outlets(sql)) == {"D1", "R2"}
    assert report.written and not report.failed


def test_dry_run_counts_and_writes_nothing(session, sql):
    report = import_outlets(session, csv_bytes(NETWORK), dry_run=True)
    assert report.ok and not report.written
    assert (report.inserted, report.updated, report.geotag_events) == (4, 0, 3)
    assert "would be inserted" in report.summary()
    assert count(sql) == 0 and count(sql, "geotag_events") == 0
    bad = import_outlets(session, csv_bytes([row("D1", "一", "boss")]), dry_run=True)
    assert bad.failed and count(sql) == 0


def test_reimport_is_unchanged_and_keeps_versions(session, sql):
    data = csv_bytes(NETWORK)
    import_outlets(session, data)
    before = {c: o["version"] for c, o in outlets(sql).items()}
    events = count(sql, "geotag_events")
    report = import_outlets(session, data)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 4)
    assert report.summary().startswith("0 inserted, 0 updated, 4 unchanged")
    assert {c: o["version"] for c, o in outlets(sql).items()} == before
    assert count(sql, "geotag_events") == events == 3


def test_changed_rows_only_are_updated_and_moves_are_history(session, sql):
    import_outlets(session, csv_bytes(NETWORK))
    changed = [list(r) for r in NETWORK]
    changed[0][HEADER.index("lat")] = 30.3  # R1 moves
    changed[1][HEADER.index("name")] = "二批商行（新）"  # W1 renamed
    report = import_outlets(session, csv_bytes(changed), user_id=None)
    assert (report.inserted, report.updated, report.unchanged, report.geotag_events) == (0, 2, 2, 1)
    versions = {c: o["version"] for c, o in outlets(sql).items()}
    assert versions == {"R1": 2, "W1": 2, "D1": 1, "R2": 1}
    event = sql(
        "SELECT ST_Y(old_location), ST_Y(new_location), source, crs FROM geotag_events e"
        " JOIN outlets o ON o.id = e.outlet_id WHERE o.code = 'R1' ORDER BY e.id DESC LIMIT 1"
    ).one()
    assert tuple(event) == (30.25, 30.3, "import", "wgs84")


def test_blank_coordinates_keep_the_stored_location_and_absent_columns_keep_values(session, sql):
    import_outlets(session, csv_bytes(NETWORK))
    report = import_outlets(session, csv_bytes([["R1", "", ""]], header=["code", "lat", "lon"]))
    assert (report.updated, report.unchanged) == (0, 1)
    report = import_outlets(session, csv_bytes([["R1", "新电话"]], header=["code", "contact"]))
    assert report.updated == 1
    stored = outlets(sql)["R1"]
    assert (stored["contact"], stored["name"], stored["lat"], stored["parent"]) == (
        "新电话",
        "便民超市",
        30.25,
        "W1",
    )


def test_new_outlet_needs_name_and_tier_columns(session):
    report = import_outlets(
        session, csv_bytes([["X1", "30", "120"]], header=["code", "lat", "lon"])
    )
    assert problems(report) == {(2, "name"), (2, "tier")}


def test_gcj02_and_bd09_are_converted_to_wgs84(session, sql):
    rows = [
        row("D1", "高德点", "distributor", lat=30.25, lon=120.17),
        row("D2", "百度点", "distributor", lat=30.25, lon=120.17),
    ]
    header = HEADER + ["crs"]
    data = csv_bytes([r + [c] for r, c in zip(rows, ["", "bd09"], strict=True)], header=header)
    report = import_outlets(session, data, crs="gcj02")
    assert report.ok, report.problems
    stored = outlets(sql)
    lon, lat = coords.gcj02_to_wgs84(120.17, 30.25)
    assert (stored["D1"]["lon"], stored["D1"]["lat"]) == pytest.approx(
        (float(lon), float(lat)), abs=1e-12
    )
    lon, lat = coords.bd09_to_wgs84(120.17, 30.25)
    assert (stored["D2"]["lon"], stored["D2"]["lat"]) == pytest.approx(
        (float(lon), float(lat)), abs=1e-12
    )
    crs = dict(
        sql("SELECT o.code, e.crs FROM geotag_events e JOIN outlets o ON o.id = e.outlet_id").all()
    )
    assert crs == {"D1": "gcj02", "D2": "bd09"}
    assert import_outlets(session, data, crs="gcj02").unchanged == 2  # conversion is repeatable


def test_unknown_crs_cell_and_option(session):
    from geo_crm.errors import ValidationError

    data = csv_bytes(
        [row("D1", "一", "distributor", lat=30, lon=120) + ["mars"]], header=HEADER + ["crs"]
    )
    assert problems(import_outlets(session, data)) == {(2, "crs")}
    with pytest.raises(ValidationError):
        import_outlets(session, data, crs="utm")


def test_rep_and_status_words(session, sql):
    sql("INSERT INTO users (username, role) VALUES ('rep.li', 'rep')")
    report = import_outlets(
        session, csv_bytes([row("D1", "一", "distributor", rep="rep.li", status="停用")])
    )
    assert report.ok, report.problems
    assert (outlets(sql)["D1"]["rep"], outlets(sql)["D1"]["status"]) == ("rep.li", "inactive")


def test_the_names_pages_show_import_back(session, sql):
    """Tier and status words include what the pages show in either language (geo_crm.i18n):
    已关闭 — the zh name of ``closed`` — and "Retail outlet" are accepted."""
    from geo_crm.i18n import STATUS_NAMES, TIER_NAMES

    rows = [row("D1", "一", TIER_NAMES["distributor"][0])]
    rows += [
        row(f"R{i}", "店", TIER_NAMES["retail"][lang], "D1", status=STATUS_NAMES[status][lang])
        for i, (status, lang) in enumerate(
            [("closed", 0), ("closed", 1), ("inactive", 0), ("active", 0), ("active", 1)]
        )
    ]
    report = import_outlets(session, csv_bytes(rows))
    assert report.ok, report.problems
    stored = outlets(sql)
    assert [stored[f"R{i}"]["status"] for i in range(5)] == [
        "closed",
        "closed",
        "inactive",
        "active",
        "active",
    ]
    assert {o["tier"] for code, o in stored.items() if code != "D1"} == {"retail"}
    assert "已关闭" in STATUS_NAMES["closed"]


def test_a_word_may_mean_one_code_only():
    from geo_crm.io.imports.common import accepted_words

    assert accepted_words({"a": ("甲",)}, {"A 1": "a"}) == {"a": "a", "甲": "a", "A 1": "a"}
    with pytest.raises(ValueError, match="both"):
        accepted_words({"a": ("甲",), "b": ("乙",)}, {"甲": "b"})


def test_injection_quote_is_stripped_on_import(session, sql):
    rows = [
        row("D1", '\'=HYPERLINK("x")', "distributor", phone="'+8613800000000"),
        row("D2", "'plain quote", "distributor"),
    ]
    report = import_outlets(session, csv_bytes(rows))
    assert report.ok, report.problems
    stored = outlets(sql)
    assert stored["D1"]["name"] == '=HYPERLINK("x")' and stored["D1"]["phone"] == "+8613800000000"
    assert stored["D2"]["name"] == "'plain quote"


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+86",
        "-x",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "'=x",
        "''+y",
        "'quote",
        "plain",
        "",
        "a=b",
        "-33.9",
    ],
)
def test_neutralise_round_trips_every_string(value):
    assert unquote(neutralise(value)) == value
    assert not neutralise(value).startswith(("=", "+", "-", "@", "\t", "\r"))


# -- products --------------------------------------------------------------------------------------
def test_products_upsert_by_sku_with_chinese_headers(session, sql):
    data = csv_bytes(
        [["P1", "矿泉水", "550ml×24", "箱"], ["P2", "绿茶", "500ml×15", "箱"]],
        header=["编码", "名称", "规格", "单位"],
        encoding="gb18030",
    )
    report = import_products(session, data)
    assert (report.encoding, report.inserted) == ("gb18030", 2)
    assert import_products(session, data).unchanged == 2
    report = import_products(session, csv_bytes([["P1", "矿泉水（大）"]], header=["sku", "name"]))
    assert (report.updated, report.unchanged) == (1, 0)
    assert sql("SELECT name, spec, unit FROM products WHERE sku = 'P1'").one() == (
        "矿泉水（大）",
        "550ml×24",
        "箱",
    )


def test_products_validation(session, sql):
    data = csv_bytes(
        [["P1", "水", ""], ["", "茶", "箱"], ["P1", "水", "箱"]], header=["sku", "name", "unit"]
    )
    report = import_products(session, data)
    assert problems(report) == {(2, "unit"), (3, "sku"), (2, "sku"), (4, "sku")}
    assert count(sql, "products") == 0


# -- sales -----------------------------------------------------------------------------------------
SALES_HEADER = [
    "reference",
    "date",
    "seller_code",
    "buyer_code",
    "sku",
    "spec",
    "quantity",
    "amount",
    "amount_paid",
]


@pytest.fixture
def network(session, sql):
    import_outlets(session, csv_bytes(NETWORK))
    import_products(
        session,
        csv_bytes([["P1", "矿泉水", "550ml×24", "箱"]], header=["sku", "name", "spec", "unit"]),
    )


def test_sales_import_and_upsert_by_reference(session, sql, network):
    rows = [
        ["S-1", "2024-03-05", "D1", "W1", "P1", "", "10", "1200.50", "200"],
        ["S-2", "2024/3/6", "W1", "R1", "P1", "550ml×12", "2.5", "300", ""],
        ["", "2024年3月7日", "W1", "R2", "P1", "", "1", "120", "120"],
    ]
    report = import_sales(session, csv_bytes(rows, header=SALES_HEADER))
    assert report.ok, report.problems
    assert report.inserted == 3
    stored = sql(
        "SELECT reference, sale_date::text, spec, quantity::text, amount::text, amount_paid::text,"
        " settlement FROM sales_records ORDER BY sale_date"
    ).all()
    assert [tuple(r) for r in stored] == [
        ("S-1", "2024-03-05", "550ml×24", "10.000", "1200.50", "200.00", "partial"),
        ("S-2", "2024-03-06", "550ml×12", "2.500", "300.00", "0.00", "unpaid"),
        (None, "2024-03-07", "550ml×24", "1.000", "120.00", "120.00", "paid"),
    ]
    again = import_sales(session, csv_bytes(rows[:2], header=SALES_HEADER))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    rows[0][7] = "1300"
    again = import_sales(session, csv_bytes(rows[:2], header=SALES_HEADER))
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 1)


SALES_CASES = {
    "unknown seller": (
        ["S", "2024-01-01", "XX", "W1", "P1", "", "1", "10", "0"],
        "seller_code",
        "unknown seller",
    ),
    "unknown buyer": (
        ["S", "2024-01-01", "D1", "XX", "P1", "", "1", "10", "0"],
        "buyer_code",
        "unknown buyer",
    ),
    "unknown sku": (
        ["S", "2024-01-01", "D1", "W1", "P9", "", "1", "10", "0"],
        "sku",
        "unknown sku",
    ),
    "negative amount": (
        ["S", "2024-01-01", "D1", "W1", "P1", "", "1", "-10", "0"],
        "amount",
        "negative",
    ),
    "negative quantity": (
        ["S", "2024-01-01", "D1", "W1", "P1", "", "-1", "10", "0"],
        "quantity",
        "negative",
    ),
    "paid above amount": (
        ["S", "2024-01-01", "D1", "W1", "P1", "", "1", "10", "11"],
        "amount_paid",
        "more than",
    ),
    "bad date": (["S", "2024-02-30", "D1", "W1", "P1", "", "1", "10", "0"], "date", "not a date"),
    "missing date": (["S", "", "D1", "W1", "P1", "", "1", "10", "0"], "date", "required"),
    "upstream sale": (
        ["S", "2024-01-01", "R1", "D1", "P1", "", "1", "10", "0"],
        "seller_code",
        "only from the manufacturer",
    ),
    "self sale": (
        ["S", "2024-01-01", "D1", "D1", "P1", "", "1", "10", "0"],
        "buyer_code",
        "must differ",
    ),
    "too many decimals": (
        ["S", "2024-01-01", "D1", "W1", "P1", "", "1", "10.001", "0"],
        "amount",
        "decimal places",
    ),
}


@pytest.mark.parametrize("case", list(SALES_CASES))
def test_sales_problems_name_row_and_column(session, sql, network, case):
    bad, column, text = SALES_CASES[case]
    good = ["OK", "2024-01-01", "D1", "W1", "P1", "", "1", "10", "0"]
    report = import_sales(session, csv_bytes([good, bad], header=SALES_HEADER))
    assert (3, column) in problems(report), report.problems
    assert text in message(report, 3, column)
    assert count(sql, "sales_records") == 0


def test_sales_duplicate_reference_and_skip_invalid(session, sql, network):
    rows = [
        ["S-1", "2024-01-01", "D1", "W1", "P1", "", "1", "10", "0"],
        ["S-1", "2024-01-02", "D1", "W1", "P1", "", "1", "10", "0"],
        ["S-3", "2024-01-02", "D1", "W1", "P1", "", "1", "10", "0"],
    ]
    report = import_sales(session, csv_bytes(rows, header=SALES_HEADER))
    assert problems(report) == {(2, "reference"), (3, "reference")}  # all or nothing: both
    report = import_sales(session, csv_bytes(rows, header=SALES_HEADER), skip_invalid=True)
    assert problems(report) == {(3, "reference")}  # skipping keeps the first (issue 17, 7)
    assert (report.inserted, report.skipped) == (2, 1)
    assert sorted(sql("SELECT reference FROM sales_records").scalars()) == ["S-1", "S-3"]


def test_sales_amount_paid_of_a_record_with_payments_is_not_overwritten(session, sql, network):
    rows = [["S-1", "2024-01-01", "D1", "W1", "P1", "", "1", "10", "0"]]
    import_sales(session, csv_bytes(rows, header=SALES_HEADER))
    sql(
        "INSERT INTO payments (sales_record_id, paid_on, amount) SELECT id, '2024-01-05', 4"
        " FROM sales_records WHERE reference = 'S-1'"
    )
    report = import_sales(session, csv_bytes(rows, header=SALES_HEADER))
    assert problems(report) == {(2, "amount_paid")}
    rows[0][8] = "4"
    assert import_sales(session, csv_bytes(rows, header=SALES_HEADER)).unchanged == 1

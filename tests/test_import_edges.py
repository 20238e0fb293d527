"""Import edges found with outside data (issue 17): NUL characters, NaN coordinates, duplicated
codes with skip_invalid, impossible latitudes, and the XLSX export → import round trip."""

from __future__ import annotations

import io
import json
import random

import pytest
from test_imports import SALES_HEADER, count, csv_bytes, message, problems, row

from geo_crm.io.exports import export_outlets
from geo_crm.io.imports import import_outlets, import_products, import_sales

NUL = "\x00"


# -- NUL characters (item 2) ---------------------------------------------------------------------


def test_a_nul_character_in_a_csv_cell_is_a_problem_of_that_row_and_column(session, sql):
    rows = [
        row("D1", "一号", "distributor"),
        row("D2", f"二{NUL}号", "distributor"),
        row(f"D{NUL}3", "三号", "distributor", address=f"路{NUL}"),
    ]
    report = import_outlets(session, csv_bytes(rows))
    assert problems(report) == {(3, "name"), (4, "code"), (4, "address")}
    assert "NUL" in message(report, 3, "name")
    assert report.failed and count(sql) == 0
    report = import_outlets(session, csv_bytes(rows), skip_invalid=True)
    assert (report.inserted, report.skipped) == (1, 2)
    assert sql("SELECT code FROM outlets").scalars().all() == ["D1"]


def test_a_nul_character_in_a_geojson_property_is_a_problem_of_that_feature(session, sql):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [120.1, 30.2]},
                "properties": {"code": code, "name": name, "tier": "distributor"},
            }
            for code, name in (("G1", "好"), ("G2", f"坏{NUL}"))
        ],
    }
    report = import_outlets(session, json.dumps(doc).encode(), name="x.geojson")
    assert problems(report) == {(2, "name")}


def test_a_nul_character_in_products_and_sales_files(session, sql):
    report = import_products(
        session,
        csv_bytes([["P1", "好", "箱"], [f"P{NUL}2", "x", "箱"]], header=["sku", "name", "unit"]),
    )
    assert problems(report) == {(3, "sku")}
    sale = [f"S{NUL}1", "2024-01-01", "D1", "W1", "P1", "", "1", "1", "0"]
    report = import_sales(session, csv_bytes([sale], header=SALES_HEADER))
    assert (2, "reference") in problems(report)


def test_a_nul_character_through_the_api_import_is_422_naming_row_and_column(client):
    data = csv_bytes([row("D1", f"一{NUL}", "distributor")])
    response = client.post(
        "/api/v1/imports/outlets",
        data={"file": (io.BytesIO(data), "o.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "rows.2.name" in response.get_json()["error"]["fields"]


# -- XLSX export → import round trip (item 6) ----------------------------------------------------


@pytest.fixture
def many_outlets(session, sql):
    """300 outlets at random full-precision points, some names with CR, tabs, other control
    characters and the text of an OOXML escape."""
    rng = random.Random(17)
    texts = ["\rCR first", "a\rb\r\nc", "tab\tinside", "_x000D_ literal", "bell\x07", "LF\nin"]
    rows = [row("D0", "总经销", "distributor", lat=30.123456789012345, lon=120.98765432101234)]
    for i in range(1, 300):
        rows.append(
            row(
                f"R{i}",
                texts[i % len(texts)] if i % 7 == 0 else f"店 {i}",
                "retail",
                "D0",
                lat=repr(rng.uniform(-89.9, 89.9)),
                lon=repr(rng.uniform(-179.9, 179.9)),
                notes=texts[i % len(texts)],
            )
        )
    report = import_outlets(session, csv_bytes(rows))
    assert report.ok and report.inserted == 300, report.problems
    # an import trims cells: a name beginning with CR comes from elsewhere (the API, SQL)
    sql("UPDATE outlets SET name = :n WHERE code IN ('R1', 'R2')", n="\rCR first")
    return sql(
        "SELECT code, name, notes, ST_X(location), ST_Y(location) FROM outlets ORDER BY code"
    ).all()


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_export_imports_back_unchanged_at_full_precision(session, sql, many_outlets, fmt):
    data = b"".join(export_outlets(session, fmt).chunks)
    report = import_outlets(session, data, name=f"outlets.{fmt}")
    assert report.ok, report.problems[:3]
    assert (report.inserted, report.updated, report.geotag_events) == (0, 0, 0)
    assert report.unchanged == 300
    again = sql(
        "SELECT code, name, notes, ST_X(location), ST_Y(location) FROM outlets ORDER BY code"
    ).all()
    assert again == many_outlets


def test_an_xlsx_export_restores_names_with_cr_into_an_empty_table(session, sql, many_outlets):
    data = b"".join(export_outlets(session, "xlsx").chunks)
    sql("TRUNCATE geotag_events, outlets CASCADE")
    report = import_outlets(session, data, name="outlets.xlsx")
    assert report.inserted == 300, report.problems[:3]
    again = sql(
        "SELECT code, name, notes, ST_X(location), ST_Y(location) FROM outlets ORDER BY code"
    ).all()
    assert again == many_outlets
    assert any(name.startswith("\r") for _, name, *_ in again)


# -- import edges (item 7) ----------------------------------------------------------------------


def _geojson(*features: str) -> bytes:
    """A FeatureCollection written by hand: NaN is not JSON, so json.dumps will not write it."""
    return ('{"type": "FeatureCollection", "features": [' + ", ".join(features) + "]}").encode()


def _feature(code: str, coordinates: str, **props) -> str:
    properties = json.dumps({"code": code, "name": f"店 {code}", "tier": "distributor", **props})
    return (
        f'{{"type": "Feature", "geometry": {{"type": "Point", "coordinates": {coordinates}}},'
        f' "properties": {properties}}}'
    )


def test_a_nan_coordinate_fails_only_its_feature_and_can_be_skipped(session, sql):
    data = _geojson(
        _feature("G1", "[120.1, 30.2]"),
        _feature("G2", "[NaN, 30.2]"),
        _feature("G3", "[120.3, Infinity]"),
        _feature("G4", "[120.4, 30.4]"),
    )
    report = import_outlets(session, data, name="points.geojson")
    assert problems(report) == {(2, "geometry"), (3, "geometry")}, report.problems
    assert "NaN" in message(report, 2, "geometry")
    assert "Infinity" in message(report, 3, "geometry")
    assert report.failed and count(sql) == 0
    report = import_outlets(session, data, name="points.geojson", skip_invalid=True)
    assert (report.inserted, report.skipped) == (2, 2)
    assert sql("SELECT code FROM outlets ORDER BY code").scalars().all() == ["G1", "G4"]


def test_a_nan_property_is_a_problem_of_its_column(session):
    data = _geojson(_feature("G1", "[120.1, 30.2]").replace('"tier": "distributor"', '"tier": NaN'))
    report = import_outlets(session, data, name="points.geojson")
    assert problems(report) == {(1, "tier")}, report.problems
    assert "NaN" in message(report, 1, "tier")


def test_a_duplicated_code_with_skip_invalid_imports_the_first_and_reports_the_later(session, sql):
    rows = [
        row("D1", "一号", "distributor"),
        row("D2", "二号", "distributor"),
        row("D1", "一号again", "distributor"),
        row("D1", "一号thrice", "distributor"),
    ]
    report = import_outlets(session, csv_bytes(rows), skip_invalid=True)
    assert problems(report) == {(4, "code"), (5, "code")}
    assert "row 2" in message(report, 4, "code")
    assert (report.inserted, report.skipped) == (2, 2)
    assert sql("SELECT name FROM outlets WHERE code = 'D1'").scalar() == "一号"
    # all or nothing: every occurrence is reported, as before
    report = import_outlets(session, csv_bytes(rows))
    assert problems(report) == {(2, "code"), (4, "code"), (5, "code")}


def test_a_duplicated_sku_and_reference_with_skip_invalid_keep_the_first(session, sql):
    products = [["P1", "first", "箱"], ["P1", "second", "箱"]]
    report = import_products(
        session, csv_bytes(products, header=["sku", "name", "unit"]), skip_invalid=True
    )
    assert problems(report) == {(3, "sku")} and report.inserted == 1
    assert sql("SELECT name FROM products").scalar() == "first"


@pytest.mark.parametrize(
    "lat, lon, expected, unexpected",
    [
        (95, -80, "latitude 95 is outside [-90, 90]", "swapped"),  # swapped: Antarctica
        (95, 40, "latitude 95 is outside [-90, 90]", "swapped"),  # far from every other point
        (120.3, 30.4, "look swapped", None),  # swapped it lies among the file's points
    ],
)
def test_an_impossible_latitude_says_what_is_wrong(session, lat, lon, expected, unexpected):
    good = [row(f"G{i}", "好", "distributor", lat=30 + i / 10, lon=120 + i / 10) for i in range(3)]
    bad = row("B1", "坏", "distributor", lat=lat, lon=lon)
    report = import_outlets(session, csv_bytes([*good, bad]))
    assert problems(report) == {(5, "lat")}, report.problems
    text = message(report, 5, "lat")
    assert expected in text
    assert unexpected is None or unexpected not in text


def test_a_swapped_point_that_falls_in_a_loaded_region_is_called_swapped(session, sql):
    sql(
        "INSERT INTO regions (code, name, level, boundary) VALUES ('630000', '青海测试', "
        "'province', ST_Multi(ST_MakeEnvelope(89, 31, 103, 40, 4326)))"
    )
    report = import_outlets(session, csv_bytes([row("B1", "坏", "distributor", lat=95, lon=36)]))
    assert "青海测试" in message(report, 2, "lat") and "swapped" in message(report, 2, "lat")

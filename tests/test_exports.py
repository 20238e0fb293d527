"""Exports: CSV (UTF-8 with BOM, GB18030), XLSX and GeoJSON; formula injection; round trips."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pyogrio
import pytest
import shapely.geometry
from test_imports import NETWORK, csv_bytes, outlets, row

from geo_crm.domain.outlets import OutletFilters
from geo_crm.domain.principal import SYSTEM, Principal
from geo_crm.errors import ValidationError
from geo_crm.io import exports
from geo_crm.io.exports import EXPORT_COLUMNS, export_outlets
from geo_crm.io.imports import import_outlets

pytest_plugins = ["auth_fixtures"]  # world

EVIL = '=HYPERLINK("http://evil.example","点我")'
ROWS = NETWORK + [
    row(
        "D9",
        EVIL,
        "distributor",
        lat=-33.9,
        lon=18.42,
        phone="+27 21 000 0000",
        notes="-notes\twith tab",
        address="@home",
    ),
    # stored as "'=already quoted" and "''+two": the CSV carries one guard quote more
    row("D8", "''=already quoted", "distributor", contact="'''+two"),
]


@pytest.fixture
def network(session, sql):
    sql("INSERT INTO users (username, role) VALUES ('rep.wang', 'rep')")
    data = csv_bytes([r[:-2] + ["rep.wang" if r[0] == "W1" else "", r[-1]] for r in ROWS])
    report = import_outlets(session, data)
    assert report.ok, report.problems
    stored = outlets(sql)
    assert (stored["D8"]["name"], stored["D8"]["contact"]) == ("'=already quoted", "''+two")
    return stored


def body(export) -> bytes:
    return b"".join(export.chunks)


def test_csv_has_bom_import_columns_and_neutralised_text(session, network):
    export = export_outlets(session, "csv")
    data = body(export)
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert export.media_type == "text/csv; charset=utf-8" and export.filename.endswith(".csv")
    records = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(records[0]) == EXPORT_COLUMNS and export.rows == len(records) == 6
    by_code = {r["code"]: r for r in records}
    evil = by_code["D9"]
    assert evil["name"] == "'" + EVIL
    assert (evil["phone"], evil["notes"], evil["address"]) == (
        "'+27 21 000 0000",
        "'-notes\twith tab",
        "'@home",
    )
    assert (evil["lat"], evil["lon"], evil["crs"]) == (
        "-33.9",
        "18.42",
        "wgs84",
    )  # numbers untouched
    assert by_code["D8"]["name"] == "''=already quoted" and by_code["D8"]["contact"] == "'''+two"
    assert by_code["R2"]["lat"] == by_code["R2"]["crs"] == ""
    assert by_code["W1"]["rep"] == "rep.wang" and by_code["R1"]["parent_code"] == "W1"


def test_csv_in_gb18030(session, network):
    export = export_outlets(session, "csv", encoding="gb18030")
    data = body(export)
    assert export.media_type == "text/csv; charset=gb18030"
    assert not data.startswith(b"\xef\xbb\xbf")
    assert "浙江总经销" in data.decode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_xlsx_numbers_stay_numbers_and_formulas_are_text(session, network):
    data = body(export_outlets(session, "xlsx"))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[1]]
    assert tuple(header) == EXPORT_COLUMNS
    cells = {r[0].value: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2)}
    evil = cells["D9"]
    assert evil["name"].value == "'" + EVIL and evil["name"].data_type == "s"
    assert evil["lat"].value == -33.9 and evil["lat"].data_type == "n"
    assert not any(c.data_type == "f" for r in cells.values() for c in r.values())


def test_geojson_is_a_valid_feature_collection(session, network):
    export = export_outlets(session, "geojson")
    doc = json.loads(body(export))
    assert export.media_type == "application/geo+json"
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 6
    by_code = {f["properties"]["code"]: f for f in doc["features"]}
    assert by_code["R2"]["geometry"] is None
    point = shapely.geometry.shape(by_code["D9"]["geometry"])
    assert (point.x, point.y) == (18.42, -33.9) and point.is_valid
    assert by_code["D9"]["properties"]["name"] == EVIL  # not a spreadsheet: no quoting
    info = pyogrio.read_info(io.BytesIO(json.dumps(doc).encode()))  # an independent reader (GDAL)
    assert info["features"] == 6 and info["geometry_type"] == "Point"


def test_filters_select_like_the_list(session, network):
    def codes(**kw):
        data = body(export_outlets(session, "csv", filters=OutletFilters(**kw)))
        return sorted(r["code"] for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))

    assert codes(tier=["distributor"]) == ["D1", "D8", "D9"]
    assert codes(geotagged=False) == ["D8", "R2"]
    assert codes(q="超市") == ["R1"]
    assert codes(distributor="D1") == ["D1", "R1", "R2", "W1"]
    assert codes(tier=["retail"], geotagged=True) == ["R1"]


def test_export_streams_in_batches(session, network, monkeypatch):
    monkeypatch.setattr(exports, "BATCH", 2)
    export = export_outlets(session, "csv")
    chunks = list(export.chunks)
    assert len(chunks) == 1 + 3  # header, then one chunk per batch of 2
    assert export.rows == 6


def test_unknown_format_and_encoding(session):
    with pytest.raises(ValidationError):
        export_outlets(session, "pdf")
    with pytest.raises(ValidationError):
        export_outlets(session, "csv", encoding="latin-1")


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_round_trip_reimport_is_unchanged(session, sql, network, fmt):
    data = body(export_outlets(session, fmt))
    report = import_outlets(session, data, fmt=fmt)
    assert report.ok, report.problems
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 6)
    assert outlets(sql) == network


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_round_trip_into_an_empty_table_restores_the_rows(session, sql, network, fmt):
    data = body(export_outlets(session, fmt))
    sql("TRUNCATE geotag_events, outlets CASCADE")
    report = import_outlets(session, data, name=f"outlets.{fmt}")
    assert report.ok, report.problems
    assert report.inserted == 6
    assert outlets(sql) == network
    assert outlets(sql)["D9"]["name"] == EVIL


def _exported(export) -> list[str]:
    return sorted(r["code"] for r in csv.DictReader(io.StringIO(body(export).decode("utf-8-sig"))))


def test_user_sees_only_their_scope_in_the_export(session, world):
    def codes(key, role, **kw):
        user = Principal(id=world[key], username=key, role=role)
        return _exported(export_outlets(session, "csv", user=user, filters=OutletFilters(**kw)))

    everyone = ["A1", "A2", "B1", "B2", "D1", "N1"]
    assert _exported(export_outlets(session, "csv")) == everyone
    assert _exported(export_outlets(session, "csv", user=SYSTEM)) == everyone
    assert codes("admin", "admin") == everyone
    assert codes("r1", "rep") == ["A1", "A2", "N1"]  # assigned, or created by them
    assert codes("m1", "manager") == ["A1", "B1", "D1"]  # located in C1
    assert codes("m2", "manager", tier=["retail"]) == ["B2"]


def test_unknown_or_out_of_scope_filter_values_name_the_filter(session, world):
    manager = Principal(id=world["m2"], username="m2", role="manager")
    for user, filters, field in (
        (None, OutletFilters(region="NOPE"), "region"),
        (None, OutletFilters(distributor="NOPE"), "distributor"),
        (manager, OutletFilters(region="C1"), "region"),  # exists, but not in P2
        (manager, OutletFilters(distributor="D1"), "distributor"),
    ):
        with pytest.raises(ValidationError) as err:
            export_outlets(session, "csv", user=user, filters=filters)
        assert set(err.value.fields) == {field}

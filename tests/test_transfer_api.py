"""Upload imports (multipart) and outlet exports over HTTP."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
import shapely.geometry
from auth_helpers import add_token, add_user, bearer_client, token_client
from test_imports import NETWORK, SALES_HEADER, csv_bytes, outlets, row

from geo_crm import coords


@pytest.fixture
def client(app, connection):
    """An admin calling with a Bearer token (the access rules have their own matrix tests)."""
    return bearer_client(app, connection)


def count(sql, table="outlets") -> int:
    return sql(f"SELECT count(*) FROM {table}").scalar()


def upload(client, kind, data: bytes, filename="outlets.csv", **form):
    fields = {"file": (io.BytesIO(data), filename), **{k: str(v) for k, v in form.items()}}
    return client.post(f"/api/v1/imports/{kind}", data=fields, content_type="multipart/form-data")


def test_upload_csv_returns_the_report(client, sql):
    response = upload(client, "outlets", csv_bytes(NETWORK, encoding="gb18030"))
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["inserted"], report["encoding"], report["written"], report["ok"]) == (
        4,
        "gb18030",
        True,
        True,
    )
    assert report["summary"].startswith("4 inserted, 0 updated, 0 unchanged")
    assert count(sql) == 4
    again = upload(client, "outlets", csv_bytes(NETWORK, encoding="gb18030")).get_json()
    assert (again["inserted"], again["updated"], again["unchanged"], again["written"]) == (
        0,
        0,
        4,
        False,
    )


def test_invalid_rows_answer_422_with_the_row_report_and_write_nothing(client, sql):
    data = csv_bytes(
        [
            row("D1", "一", "distributor"),
            row("W1", "二批", "boss", "D1"),
            row("W2", "二批", "wholesaler_2", "ZZ", lat=30),
        ]
    )
    response = upload(client, "outlets", data)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert "nothing was written" in error["message"]
    assert set(error["fields"]) == {"rows.3.tier", "rows.4.parent_code", "rows.4.lon"}
    assert "unknown tier 'boss'" in error["fields"]["rows.3.tier"]
    problems = {(p["row"], p["column"]) for p in error["detail"]["problems"]}
    assert problems == {(3, "tier"), (4, "parent_code"), (4, "lon")}
    assert count(sql) == 0


def test_skip_invalid_and_dry_run_form_fields(client, sql):
    data = csv_bytes([row("D1", "一", "distributor"), row("W1", "二批", "boss", "D1")])
    dry = upload(client, "outlets", data, skip_invalid="true", dry_run="true")
    assert dry.status_code == 200
    assert (dry.get_json()["inserted"], dry.get_json()["written"]) == (1, False)
    assert count(sql) == 0
    response = upload(client, "outlets", data, skip_invalid="1")
    body = response.get_json()
    assert response.status_code == 200 and (body["inserted"], body["skipped"]) == (1, 1)
    assert body["problems"] == [
        {"row": 3, "column": "tier", "message": body["problems"][0]["message"]}
    ]
    assert count(sql) == 1


def test_upload_xlsx(client, sql):
    wb = openpyxl.Workbook()
    wb.active.append(["编码", "名称", "级别", "纬度", "经度"])
    wb.active.append(["D1", "一号", "总经销", 31.2, 121.5])
    buf = io.BytesIO()
    wb.save(buf)
    response = upload(client, "outlets", buf.getvalue(), filename="网点.xlsx")
    assert response.status_code == 200 and response.get_json()["fmt"] == "xlsx"
    assert outlets(sql)["D1"]["lat"] == 31.2


def test_upload_geojson_with_crs(client, sql):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [121.5, 31.2]},
                "properties": {"code": "D1", "name": "一号", "tier": "distributor"},
            }
        ],
    }
    response = upload(
        client, "outlets", json.dumps(doc).encode(), filename="a.geojson", crs="gcj02"
    )
    assert response.status_code == 200, response.get_json()
    lon, lat = coords.gcj02_to_wgs84(121.5, 31.2)
    stored = outlets(sql)["D1"]
    assert (stored["lon"], stored["lat"]) == pytest.approx((float(lon), float(lat)), abs=1e-12)
    event = sql("SELECT source, crs FROM geotag_events").one()
    assert tuple(event) == ("import", "gcj02")


def test_products_and_sales_uploads(client, sql):
    upload(client, "outlets", csv_bytes(NETWORK))
    products = upload(
        client,
        "products",
        csv_bytes([["P1", "水", "箱"]], header=["sku", "name", "unit"]),
        filename="p.csv",
    )
    assert products.status_code == 200 and products.get_json()["inserted"] == 1
    sales = csv_bytes(
        [["S-1", "2024-01-01", "D1", "W1", "P1", "", "1", "10", "20"]], header=SALES_HEADER
    )
    response = upload(client, "sales", sales, filename="s.csv")
    assert response.status_code == 422
    assert "rows.2.amount_paid" in response.get_json()["error"]["fields"]
    assert count(sql, "sales_records") == 0


def test_415_for_a_non_multipart_body_or_an_unsupported_file(client):
    response = client.post("/api/v1/imports/outlets", json={"file": "x"})
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    response = upload(
        client, "outlets", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1....", filename="old.xls"
    )
    assert response.status_code == 415
    assert "xlsx" in response.get_json()["error"]["message"]
    response = upload(client, "outlets", b"PK\x03\x04...", filename="letter.docx")
    assert response.status_code == 415


def test_413_when_the_upload_is_too_big(client, app):
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 2000
    try:
        response = upload(
            client,
            "outlets",
            csv_bytes([row(f"D{i}", "总经销", "distributor") for i in range(200)]),
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


@pytest.mark.parametrize(
    "form, field",
    [
        ({}, "form.file"),
        ({"crs": "utm"}, "form.crs"),
        ({"colour": "red"}, "form.colour"),
        ({"dry_run": "maybe"}, "form.dry_run"),
    ],
)
def test_422_for_bad_form_fields(client, form, field):
    fields = {k: v for k, v in form.items()}
    if field != "form.file":
        fields["file"] = (io.BytesIO(csv_bytes([row("D1", "一", "distributor")])), "a.csv")
    response = client.post(
        "/api/v1/imports/outlets", data=fields, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


# -- export ----------------------------------------------------------------------------------------
@pytest.fixture
def stored(client, sql):
    assert (
        upload(
            client,
            "outlets",
            csv_bytes(
                NETWORK + [row("D9", '=HYPERLINK("x")', "distributor", lat=-33.9, lon=18.42)]
            ),
        ).status_code
        == 200
    )
    return outlets(sql)


def test_export_csv_with_filters_and_headers(client, stored):
    response = client.get(
        "/api/v1/outlets/export?format=csv&tier=retail,wholesaler_2&geotagged=true"
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="outlets-') and disposition.endswith(
        '.csv"'
    )
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    records = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert sorted(r["code"] for r in records) == ["R1", "W1"]


def test_export_near_a_point_keeps_the_list_order(client, stored):
    response = client.get("/api/v1/outlets/export?lat=30.25&lon=120.17&radius_m=5000")
    codes = [
        r["code"] for r in csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig")))
    ]
    assert codes == ["R1", "W1", "D1"]  # nearest first, like the list


def test_export_xlsx_and_geojson(client, stored):
    response = client.get("/api/v1/outlets/export?format=xlsx")
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    names = {r[0]: r[1] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert names["D9"] == '\'=HYPERLINK("x")'
    response = client.get("/api/v1/outlets/export?format=geojson&q=D9")
    assert response.headers["Content-Type"] == "application/geo+json"
    feature = json.loads(response.get_data())["features"][0]
    assert shapely.geometry.shape(feature["geometry"]).equals(shapely.geometry.Point(18.42, -33.9))


def test_export_gb18030(client, stored):
    response = client.get("/api/v1/outlets/export?encoding=gb18030")
    assert response.headers["Content-Type"] == "text/csv; charset=gb18030"
    assert "浙江总经销" in response.get_data().decode("gb18030")


@pytest.mark.parametrize(
    "query, field",
    [
        ("format=pdf", "query.format"),
        ("region=999", "query.region"),
        ("limit=5", "query.limit"),
        ("lat=30", "query.lon"),
    ],
)
def test_export_rejects_bad_queries(client, stored, query, field):
    response = client.get(f"/api/v1/outlets/export?{query}")
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_round_trip_over_http(client, sql, stored, fmt):
    data = client.get(f"/api/v1/outlets/export?format={fmt}").get_data()
    report = upload(client, "outlets", data, filename=f"outlets.{fmt}").get_json()
    assert (report["inserted"], report["updated"], report["unchanged"]) == (0, 0, 5)
    assert outlets(sql) == stored


def test_openapi_documents_the_upload_and_the_export(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    body = spec["paths"]["/imports/outlets"]["post"]["requestBody"]["content"][
        "multipart/form-data"
    ]
    assert body["schema"]["required"] == ["file"]
    assert body["schema"]["properties"]["file"]["format"] == "binary"
    assert {"skip_invalid", "dry_run", "crs", "format", "encoding"} <= set(
        body["schema"]["properties"]
    )
    for kind in ("products", "sales"):
        assert (
            "crs"
            not in spec["paths"][f"/imports/{kind}"]["post"]["requestBody"]["content"][
                "multipart/form-data"
            ]["schema"]["properties"]
        )
    export = spec["paths"]["/outlets/export"]["get"]
    params = {p["name"] for p in export["parameters"]}
    assert {
        "format",
        "encoding",
        "tier",
        "region",
        "distributor",
        "status",
        "geotagged",
        "q",
    } <= params
    assert "limit" not in params
    assert set(export["responses"]["200"]["content"]) == {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/geo+json",
    }


# -- who may --------------------------------------------------------------------------------------
def test_a_managers_export_holds_only_their_regions(client, app, connection, sql):
    sql(
        "INSERT INTO regions (code, name, level, boundary) VALUES ('330000', '浙江', 'province',"
        " ST_Multi(ST_MakeEnvelope(118, 27, 123, 31.5, 4326)))"
    )
    far = row("D9", "开普敦", "distributor", lat=-33.9, lon=18.42)
    assert upload(client, "outlets", csv_bytes(NETWORK + [far])).status_code == 200
    manager = add_user(connection, "mgr.zj", "manager", regions=("330000",))
    as_manager = token_client(app, add_token(connection, manager))
    response = as_manager.get("/api/v1/outlets/export")
    assert response.status_code == 200
    data = response.get_data().decode("utf-8-sig")
    assert {r["code"] for r in csv.DictReader(io.StringIO(data))} == {"R1", "W1", "D1"}
    # D9 lies outside the manager's region; untagged R2 has no region at all
    upload_as_manager = upload(as_manager, "outlets", csv_bytes([row("X1", "一", "distributor")]))
    assert upload_as_manager.status_code == 403


def test_reps_may_neither_import_nor_export(app, connection):
    rep = token_client(app, add_token(connection, add_user(connection, "rep.x", "rep")))
    assert rep.get("/api/v1/outlets/export").status_code == 403
    assert upload(rep, "outlets", csv_bytes([row("X1", "一", "distributor")])).status_code == 403


def test_the_importing_admin_is_recorded(client, sql):
    upload(client, "outlets", csv_bytes([row("D1", "一", "distributor", lat=30, lon=120)]))
    who = (
        sql(
            "SELECT u.username FROM geotag_events e JOIN users u ON u.id = e.user_id"
            " UNION SELECT u.username FROM outlets o JOIN users u ON u.id = o.created_by_id"
        )
        .scalars()
        .all()
    )
    assert who == ["test-admin"]

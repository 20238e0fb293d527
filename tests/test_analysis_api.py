"""The analyses over HTTP: shapes, numbers, and a 422 naming every bad parameter."""

from __future__ import annotations

import math

import pytest
from analysis_helpers import add_outlet, add_product, add_region, add_sale, box_wkt, offset


@pytest.fixture
def data(sql):
    add_region(sql, "P", box_wkt(110, 30, 110.5, 30.5))
    add_region(sql, "PW", box_wkt(110, 30, 110.25, 30.5), level="city", parent="P")
    add_region(sql, "PE", box_wkt(110.25, 30, 110.5, 30.5), level="city", parent="P")
    add_product(sql, "X")
    add_outlet(sql, "D1", "distributor", 110.1, 30.1)
    add_outlet(sql, "R1", "retail", 110.4, 30.4, parent="D1")
    add_outlet(sql, "R2", "retail", 110.1, 30.4, parent="D1")
    add_sale(sql, "D1", "R1", "2024-05-01", "X", "2", "200.00")
    sql(
        "INSERT INTO sales_plans "
        "(distributor_id, month, product_id, target_quantity, target_amount) "
        "VALUES ((SELECT id FROM outlets WHERE code = 'D1'), '2024-05-01', "
        "(SELECT id FROM products WHERE sku = 'X'), 4, 400)"
    )


def get(client, path, expect=200, **query):
    response = client.get(path, query_string=query)
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json()


def test_coverage(client, data):
    body = get(client, "/api/v1/regions/P/coverage", tier="retail", radius_retail=2000)
    assert body["covered_m2"] == pytest.approx(2 * math.pi * 4e6, rel=1e-4)
    assert body["ratio"] == pytest.approx(body["covered_m2"] / body["area_m2"])
    assert body["radius_m"] == {"retail": 2000.0}
    assert body["geometry"]["type"] == "MultiPolygon"
    assert {s["code"] for s in body["sub_regions"]} == {"PW", "PE"}
    lean = get(
        client,
        "/api/v1/regions/P/coverage",
        tier="retail,distributor",
        geometry="false",
        sub_regions="false",
    )
    assert lean["geometry"] is None and lean["sub_regions"] == []
    assert [t["tier"] for t in lean["by_tier"]] == ["distributor", "retail"]
    assert lean["by_tier"][1]["radius_m"] == 1000.0  # the documented default


def test_gaps(client, data):
    body = get(client, "/api/v1/regions/P/gaps", tier=["retail"], cell_km=5, limit=3)
    assert body["cells"] > 20 and 0 < body["gap_cells"] <= body["cells"]
    features = body["gaps"]["features"]
    assert len(features) == body["returned"] == 3
    assert features[0]["geometry"]["type"] == "Polygon"
    short = [f["properties"]["shortfall_m"] for f in features]
    assert short == sorted(short, reverse=True)
    assert body["white_space"] == []


def test_density(client, data):
    body = get(
        client, "/api/v1/regions/P/density", cell_km=2, date_from="2024-01-01", date_to="2024-12-31"
    )
    assert body["total"]["amount"] == 200.0 and body["total"]["records"] == 1
    assert body["cells"]["features"][0]["properties"]["amount"] == 200.0
    assert body["unlocated"]["records"] == 0


def test_distribution_rate_depth_and_plans(client, data):
    rate = get(client, "/api/v1/regions/P/distribution-rate", product="X")
    assert (rate["bought"], rate["outlets"], rate["rate"]) == (1, 2, 0.5)
    depth = get(client, "/api/v1/distributors/D1/depth")
    assert depth["outlets_by_tier"]["retail"] == 2 and depth["deepest_tier"] == "retail"
    assert depth["breadth"] == 1.0 and depth["catchment"]["type"] == "Polygon"
    plans = get(client, "/api/v1/distributors/D1/plan-achievement", year=2024)
    assert plans["rows"][0]["achievement_amount"] == 0.5


@pytest.mark.parametrize(
    "path, query, field",
    [
        ("coverage", {"radius_retail": "0"}, "query.radius_retail"),
        ("coverage", {"radius_retail": "-5"}, "query.radius_retail"),
        ("coverage", {"radius_retail": "600000"}, "query.radius_retail"),
        ("coverage", {"radius_retail": "nan"}, "query.radius_retail"),
        ("coverage", {"radius_distributor": "inf"}, "query.radius_distributor"),
        ("coverage", {"radius_retail": "far"}, "query.radius_retail"),
        ("coverage", {"tier": "shop"}, "query.tier.0"),
        ("coverage", {"status": "sleeping"}, "query.status"),
        ("coverage", {"distributor": "NOPE"}, "query.distributor"),
        ("coverage", {"distributor": "R1"}, "query.distributor"),
        ("coverage", {"colour": "red"}, "query.colour"),
        ("gaps", {"cell_km": "0"}, "query.cell_km"),
        ("gaps", {"cell_km": "0.049"}, "query.cell_km"),  # below LIMITS.min_cell_km
        ("gaps", {"cell_km": "0.05"}, "query.cell_km"),  # ~1.2 M cells: above the API's cap
        ("density", {"cell_km": "1000.5"}, "query.cell_km"),  # above LIMITS.max_cell_km
        ("gaps", {"cell_km": "nan"}, "query.cell_km"),
        ("gaps", {"limit": "-1"}, "query.limit"),
        ("density", {"product": "NOPE"}, "query.product"),
        ("density", {"date_from": "2024-03-01", "date_to": "2024-02-01"}, "query.date_to"),
        ("density", {"date_from": "2024-13-01"}, "query.date_from"),
        ("distribution-rate", {}, "query.product"),
        ("distribution-rate", {"product": "NOPE"}, "query.product"),
    ],
)
def test_bad_parameters_are_422_naming_them(client, data, path, query, field):
    body = get(client, f"/api/v1/regions/P/{path}", 422, **query)
    assert body["error"]["code"] == "validation_failed"
    assert field in body["error"]["fields"], body


@pytest.mark.parametrize(
    "path, query, field",
    [
        ("plan-achievement", {"year": "0"}, "query.year"),
        ("plan-achievement", {"month_to": "13"}, "query.month_to"),
        ("plan-achievement", {"product": "NOPE"}, "query.product"),
        ("depth", {"territory": "NOPE"}, "query.territory"),
        ("depth", {"status": "x"}, "query.status"),
    ],
)
def test_bad_distributor_parameters(client, data, path, query, field):
    body = get(client, f"/api/v1/distributors/D1/{path}", 422, **query)
    assert field in body["error"]["fields"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/regions/NOPE/coverage",
        "/api/v1/regions/NOPE/gaps",
        "/api/v1/regions/NOPE/density",
        "/api/v1/regions/NOPE/distribution-rate?product=X",
        "/api/v1/distributors/NOPE/depth",
        "/api/v1/distributors/R1/plan-achievement",
    ],
)
def test_unknown_subject_is_404(client, data, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_bounds_are_the_one_set_of_limits(client):
    """The API checks what the pages and the CLI check (analysis.params.LIMITS)."""
    from geo_crm.analysis.params import LIMITS

    doc = client.get("/api/v1/openapi.json").get_json()["paths"]
    params = {p["name"]: p["schema"] for p in doc["/regions/{code}/gaps"]["get"]["parameters"]}
    assert params["cell_km"]["minimum"] == LIMITS.min_cell_km
    assert params["cell_km"]["maximum"] == LIMITS.max_cell_km
    assert params["radius_retail"]["anyOf"][0]["maximum"] == LIMITS.max_radius_m


def test_operations_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/regions/{code}/coverage",
        "/regions/{code}/gaps",
        "/regions/{code}/density",
        "/regions/{code}/distribution-rate",
        "/distributors/{code}/depth",
        "/distributors/{code}/plan-achievement",
    ):
        assert path in paths


def test_outlet_across_the_border_in_coverage(client, data, sql):
    add_outlet(sql, "R9", "retail", *offset(110.5, 30.25, 90.0, 500.0))
    body = get(
        client, "/api/v1/regions/P/coverage", tier="retail", radius_retail=2000, geometry="false"
    )
    r, h = 2000.0, 500.0
    segment = r * r * math.acos(h / r) - h * math.sqrt(r * r - h * h)
    assert body["covered_m2"] == pytest.approx(2 * math.pi * r * r + segment, rel=1e-4)


def test_distributor_filter_outside_the_callers_scope_is_unknown(
    app, client, connection, sql, data
):
    """A manager of PW may filter by D1 (in PW), not by D9 (in PE), which an admin may."""
    from auth_helpers import add_token, add_user, token_client

    add_outlet(sql, "D9", "distributor", 110.4, 30.1)
    user_id = add_user(connection, "pw-manager", "manager", regions=("PW",))
    manager = token_client(app, add_token(connection, user_id))
    assert get(manager, "/api/v1/regions/PW/coverage", distributor="D1")["covered_m2"] > 0
    for path in ("coverage", "gaps", "density", "distribution-rate"):
        hidden = get(manager, f"/api/v1/regions/PW/{path}", 422, distributor="D9", product="X")
        missing = get(manager, f"/api/v1/regions/PW/{path}", 422, distributor="D8", product="X")
        assert list(hidden["error"]["fields"]) == ["query.distributor"]
        assert hidden["error"]["message"] == missing["error"]["message"].replace("D8", "D9")
    get(client, "/api/v1/regions/PW/coverage", distributor="D9")

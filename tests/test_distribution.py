"""Depth, breadth, catchment, distribution rate and plan achievement on a hand-built network."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import shapely
from analysis_helpers import add_outlet, add_product, add_region, add_sale, box_wkt, geodesic_area

from geo_crm.analysis.distribution import (
    catchment,
    distribution_rate,
    distributor_depth,
    plan_achievement,
    plan_months,
)
from geo_crm.analysis.params import AnalysisParams
from geo_crm.errors import NotFound, ValidationError

POINTS = {
    "D": (100.2, 30.5),
    "W2": (100.4, 30.6),
    "W3": (101.5, 30.5),
    "R1": (101.6, 30.4),
    "R2": (100.7, 30.2),
    "R3": (100.5, 30.8),
    "E": (102.5, 30.5),
    "R9": (102.6, 30.6),
}


@pytest.fixture
def network(sql):
    add_region(sql, "P", box_wkt(100, 30, 103, 31))
    for i, code in enumerate(("C1", "C2", "C3")):
        add_region(sql, code, box_wkt(100 + i, 30, 101 + i, 31), level="city", parent="P")
    parents = {"W2": "D", "W3": "W2", "R1": "W3", "R2": "W2", "R3": "D", "R9": "E"}
    tiers = {"D": "distributor", "E": "distributor", "W2": "wholesaler_2", "W3": "wholesaler_3"}
    for code, (lon, lat) in POINTS.items():
        add_outlet(
            sql,
            code,
            tiers.get(code, "retail"),
            lon,
            lat,
            parent=parents.get(code),
            status="inactive" if code == "R3" else "active",
        )
    add_outlet(sql, "R0", "retail", None, None, parent="W2")  # not geotagged
    add_product(sql, "X")
    add_product(sql, "Y")


def test_depth_and_breadth(session, network):
    result = distributor_depth(session, "D")
    assert result.by_tier == {"wholesaler_2": 1, "wholesaler_3": 1, "retail": 3}  # R3 is inactive
    assert result.by_hops == {1: 1, 2: 3, 3: 1}  # W2 | W3 R2 R0 | R1
    assert result.untagged == 1
    assert result.deepest_tier == "retail"
    # territory: the smallest region holding D, W2, W3, R1, R2 is P; its units C1..C3
    assert result.territory_code == "P"
    assert [(u.code, u.retail_outlets) for u in result.units] == [("C1", 1), ("C2", 1), ("C3", 0)]
    assert result.breadth == pytest.approx(2 / 3)
    every = distributor_depth(session, "D", AnalysisParams(status=None))
    assert every.by_tier["retail"] == 4
    assert [(u.code, u.retail_outlets) for u in every.units] == [("C1", 2), ("C2", 1), ("C3", 0)]


def test_catchment_is_the_convex_hull_of_the_network(session, network):
    result = distributor_depth(session, "D")
    hull = shapely.MultiPoint([POINTS[c] for c in ("D", "W2", "W3", "R1", "R2")]).convex_hull
    assert result.catchment["type"] == "Polygon"
    # PostGIS measures along geodesics, shapely's hull is drawn in degrees: both < 0.1 % apart here
    assert result.catchment_m2 == pytest.approx(geodesic_area(hull), rel=1e-3)


def test_catchment_alone_by_code_or_id_and_status(session, network, sql):
    depth = distributor_depth(session, "D")
    hull, area = catchment(session, "D")
    assert (hull, area) == (depth.catchment, depth.catchment_m2)
    d_id = sql("SELECT id FROM outlets WHERE code = 'D'").scalar_one()
    assert catchment(session, d_id) == (hull, area)
    with_inactive, _ = catchment(session, "D", status=None)  # R3 (inactive) widens the hull
    assert shapely.geometry.shape(with_inactive).covers(shapely.Point(POINTS["R3"]))
    assert not shapely.geometry.shape(hull).covers(shapely.Point(POINTS["R3"]))
    assert catchment(session, "NOPE") == (None, 0.0)


def test_territory_of_a_small_network_and_a_named_territory(session, network, sql):
    result = distributor_depth(session, "E")
    assert result.territory_code == "C3" and [u.code for u in result.units] == ["C3"]
    assert result.breadth == 1.0
    named = distributor_depth(session, "E", territory="P")
    assert [(u.code, u.reached) for u in named.units] == [
        ("C1", False),
        ("C2", False),
        ("C3", True),
    ]
    assert named.breadth == pytest.approx(1 / 3)


def test_depth_of_unknown_or_non_distributor_is_404(session, network):
    with pytest.raises(NotFound):
        distributor_depth(session, "NOPE")
    with pytest.raises(NotFound):
        distributor_depth(session, "W2")


@pytest.fixture
def sales(network, sql):
    add_sale(sql, "W3", "R1", "2024-03-10", "X", "1", "10.00")  # R1 bought X in the period
    add_sale(sql, "E", "R9", "2023-03-10", "X", "1", "10.00")  # before the period
    add_sale(sql, "W2", "R2", "2024-03-11", "Y", "1", "10.00")  # another product
    add_sale(sql, "D", "R3", "2024-03-11", "X", "1", "10.00")  # inactive outlet


def rate(session, **kw):
    base = dict(
        tiers=("retail",), product="X", date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31)
    )
    return distribution_rate(session, "P", AnalysisParams(**{**base, **kw}))


def test_distribution_rate(session, sales):
    result = rate(session)
    assert (result.overall.bought, result.overall.outlets) == (1, 3)  # R1 of R1, R2, R9
    assert result.overall.rate == pytest.approx(1 / 3)
    assert [(s.code, s.bought, s.outlets) for s in result.sub_regions] == [
        ("C1", 0, 1),
        ("C2", 1, 1),
        ("C3", 0, 1),
    ]
    assert rate(session, date_from=None).overall.bought == 2  # R9's 2023 purchase counts
    assert (
        rate(session, status=None).overall.bought,
        rate(session, status=None).overall.outlets,
    ) == (2, 4)
    assert (
        rate(session, distributor="E").overall.bought,
        rate(session, distributor="E").overall.outlets,
    ) == (0, 1)
    assert rate(session, product="Y").overall.bought == 1


def test_distribution_rate_needs_a_known_product(session, sales):
    with pytest.raises(ValidationError) as err:
        rate(session, product=None)
    assert "product" in err.value.fields
    with pytest.raises(ValidationError) as err:
        rate(session, product="NOPE")
    assert "product" in err.value.fields


def test_plan_achievement_with_year_to_date(session, network, sql):
    for month, product, qty, amount in [
        ("2024-01-01", "X", 100, 1000),
        ("2024-02-01", "X", 200, 2000),
        ("2024-02-01", "Y", 10, 0),
    ]:
        sql(
            "INSERT INTO sales_plans "
            "(distributor_id, month, product_id, target_quantity, target_amount) "
            "VALUES ((SELECT id FROM outlets WHERE code = 'D'), CAST(:m AS date), "
            "(SELECT id FROM products WHERE sku = :p), :q, :a)",
            m=month,
            p=product,
            q=qty,
            a=amount,
        )
    add_sale(sql, "D", "W2", "2024-01-15", "X", "50", "500.00")
    add_sale(sql, "D", "W2", "2024-02-03", "X", "100", "1000.00")
    add_sale(sql, "D", "R3", "2024-02-28", "X", "150", "1500.00")
    add_sale(sql, "D", "W2", "2024-03-01", "Y", "1", "100.00")  # no plan for March
    add_sale(sql, "W2", "R2", "2024-01-20", "X", "5", "50.00")  # not sold by D: not D's actual
    add_sale(sql, "D", "W2", "2023-12-31", "X", "9", "90.00")  # another year
    result = plan_achievement(session, "D", 2024)
    rows = [r.to_dict() for r in result.rows]
    assert [(r["month"], r["product"]) for r in rows] == [
        ("2024-01", "X"),
        ("2024-02", "X"),
        ("2024-02", "Y"),
        ("2024-03", "Y"),
    ]
    jan, feb, feb_y, mar_y = rows
    assert (jan["actual_amount"], jan["achievement_amount"], jan["achievement_quantity"]) == (
        500.0,
        0.5,
        0.5,
    )
    assert (feb["actual_amount"], feb["achievement_amount"]) == (2500.0, 1.25)
    assert (feb["ytd_target_amount"], feb["ytd_actual_amount"], feb["ytd_achievement_amount"]) == (
        3000.0,
        3000.0,
        1.0,
    )
    assert feb["ytd_achievement_quantity"] == pytest.approx(300 / 300)
    assert feb_y["achievement_amount"] is None and feb_y["actual_amount"] == 0.0  # target 0
    assert mar_y["target_amount"] is None and mar_y["actual_amount"] == 100.0
    assert result.totals() == {
        "target_amount": 3000.0,
        "actual_amount": 3100.0,
        "achievement_amount": pytest.approx(3100 / 3000),
    }
    assert result.rows[0].actual_amount == Decimal("500.00")
    only_x_q1 = plan_achievement(session, "D", 2024, product="X", month_to=1)
    assert [(r.sku, r.month) for r in only_x_q1.rows] == [("X", dt.date(2024, 1, 1))]


def test_plan_months_sum_the_products_per_month_then_the_year(session, network, sql):
    sql(
        "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
        "target_amount) SELECT o.id, DATE '2024-01-01', p.id, 10, 1000 FROM outlets o, products p"
        " WHERE o.code = 'D'"
    )  # X and Y: 2,000 planned in January
    add_sale(sql, "D", "W2", "2024-01-15", "X", "5", "500.00")
    add_sale(sql, "D", "W2", "2024-02-03", "Y", "1", "300.00")
    months = plan_months(session, "D", 2024)
    assert [(m.month, m.plan, m.actual) for m in months] == [
        (dt.date(2024, 1, 1), Decimal("2000"), Decimal("500.00")),
        (dt.date(2024, 2, 1), Decimal("0"), Decimal("300.00")),
        (None, Decimal("2000"), Decimal("800.00")),
    ]
    assert months[0].ratio == 0.25 and months[1].ratio is None
    assert [m.actual for m in plan_months(session, "D", 2024, product="Y")] == [
        Decimal("0"),  # planned in January, sold in February
        Decimal("300.00"),
        Decimal("300.00"),
    ]
    assert plan_months(session, "D", 2023) == []


def test_plan_achievement_bad_parameters(session, network):
    with pytest.raises(NotFound):
        plan_achievement(session, "NOPE", 2024)
    with pytest.raises(ValidationError) as err:
        plan_achievement(session, "D", 2024, product="NOPE")
    assert "product" in err.value.fields
    with pytest.raises(ValidationError) as err:
        plan_achievement(session, "D", 2024, month_to=13)
    assert "month_to" in err.value.fields

"""Ranking distributors of a region by plan achievement, growth, sell-out, 铺货率, breadth, debt
age and score: one statement, figures checked by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from auth_helpers import add_outlet, add_token, token_client
from sqlalchemy import text

from geo_crm.analysis.ranking import FIGURES, ranking
from geo_crm.domain.principal import Principal

pytest_plugins = ["auth_fixtures"]

API = "/api/v1"


def _sale(connection, seller, buyer, day, amount, paid=None):
    connection.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount, amount_paid) SELECT (SELECT id FROM outlets WHERE code = :s), b.id, "
            "CAST(:d AS date), p.id, 1, :a, :paid FROM outlets b, products p "
            "WHERE b.code = :b AND p.sku = 'SKU1'"
        ),
        {"s": seller, "b": buyer, "d": day, "a": amount, "paid": amount if paid is None else paid},
    )


@pytest.fixture
def ranked(connection, world):
    """D1 in C1 (network A1, A2 + R1 in C1) and D3 in C2 (network R3 in C2, R4 in C1)."""
    connection.execute(
        text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case')")
    )
    add_outlet(connection, "R1", lon=120.25, lat=30.25, parent="D1", name="R1")
    add_outlet(connection, "D3", "distributor", lon=120.8, lat=30.8, name="西区总经销")
    add_outlet(connection, "R3", lon=120.9, lat=30.9, parent="D3")
    add_outlet(connection, "R4", lon=120.3, lat=30.6, parent="D3")
    # sell-in: D1 1000 in 2025-06 (plan 2000, last year 500); D3 3000 (plan 2000, last year 0)
    _sale(connection, None, "D1", "2025-06-10", 1000, paid=0)
    _sale(connection, None, "D1", "2024-06-10", 500)
    _sale(connection, None, "D3", "2025-06-12", 3000)
    _sale(connection, None, "D3", "2025-05-01", 100, paid=0)
    # sell-out: D1 sells to A1 (300); D3 sells to R3 and R4 (200 + 100)
    _sale(connection, "D1", "A1", "2025-06-15", 300)
    _sale(connection, "D3", "R3", "2025-06-15", 200)
    _sale(connection, "D3", "R4", "2025-06-16", 100)
    for code in ("D1", "D3"):
        connection.execute(
            text(
                "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
                "target_amount) SELECT d.id, DATE '2025-06-01', p.id, 1, 2000 FROM outlets d, "
                "products p WHERE d.code = :d AND p.sku = 'SKU1'"
            ),
            {"d": code},
        )
    connection.execute(
        text(
            "INSERT INTO evaluations (distributor_id, evaluated_on, initiative, credit) "
            "SELECT id, DATE '2025-05-01', 5, 5 FROM outlets WHERE code = 'D1'"
        )
    )
    _territory(connection, "D1", region="P1")  # D3 keeps its network's region (P1 too)
    return world


def _territory(connection, code, *, region=None, box=None):
    """Assign ``code`` the region ``region`` or the rectangle ``box`` (x0, y0, x1, y1)."""
    connection.execute(
        text("DELETE FROM distributor_territories WHERE distributor_id = "
             "(SELECT id FROM outlets WHERE code = :c)"), {"c": code}
    )  # fmt: skip
    if region is not None:
        connection.execute(
            text(
                "INSERT INTO distributor_territories (distributor_id, region_ids, geom, area_m2) "
                "SELECT d.id, ARRAY[r.id], ST_Multi(r.boundary), r.area_m2 FROM outlets d, "
                "regions r WHERE d.code = :c AND r.code = :r"
            ),
            {"c": code, "r": region},
        )
    elif box is not None:
        connection.execute(
            text(
                "INSERT INTO distributor_territories (distributor_id, region_ids, geom, area_m2) "
                "SELECT d.id, '{}', ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)), "
                "ST_Area(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)::geography) "
                "FROM outlets d WHERE d.code = :c"
            ),
            {"c": code, "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]},
        )


def _by(result):
    return {r["code"]: r for r in result.rows}


def test_every_figure_of_every_distributor(session, ranked):
    result = ranking(session, "P1", by="achievement", period="2025-06", user=None, compare="yoy")
    rows = _by(result)
    assert [r["code"] for r in result.rows] == ["D3", "D1"]
    d1, d3 = rows["D1"], rows["D3"]
    assert d1["achievement"] == 0.5 and d3["achievement"] == 1.5
    assert d1["growth"] == 1.0 and d3["growth"] is None
    assert str(d1["sell_out"]) == "300.00" and str(d3["sell_out"]) == "300.00"
    # 铺货率: D1's active retail A1, A2, R1 of which A1 bought; D3's R3, R4 both bought
    assert d1["distribution_rate"] == pytest.approx(1 / 3) and d3["distribution_rate"] == 1.0
    # breadth over each territory's sub-regions: D1's assigned P1 (C1, C2), of which it reaches
    # C1 only (A2 has no region); D3's network region P1, of which it reaches both
    assert d1["breadth"] == 0.5 and d1["units"] == 2 and d1["reached_units"] == 1
    assert d3["breadth"] == 1.0 and d3["units"] == 2
    # debt: D1 owes the 2025-06-10 sale (20 days to 06-30); D3 the 2025-05-01 one (60 days)
    assert d1["debt_age"] == 20 and d3["debt_age"] == 60
    assert d1["score"] == pytest.approx(100 * (0.25 + 0.30), abs=0.01) and d3["score"] is None


@pytest.mark.parametrize(
    "by, first",
    [("achievement", "D3"), ("growth", "D3"), ("distribution_rate", "D3"), ("breadth", "D3"),
     ("debt_age", "D1"), ("score", "D1")],
)  # fmt: skip
def test_the_order_follows_the_figure(session, ranked, by, first):
    result = ranking(session, "P1", by=by, period="2025-06", user=None)
    assert result.rows[0]["code"] == first and result.rows[0]["rank"] == 1


def test_ties_share_a_rank_and_the_scope_is_the_users(session, ranked):
    result = ranking(session, "P1", by="sell_out", period="2025-06", user=None)
    assert [r["rank"] for r in result.rows] == [1, 1]
    manager = Principal(ranked["m1"], "manager1", "manager")
    assert [r["code"] for r in ranking(session, "P1", by="sell_out", period="2025-06",
                                       user=manager).rows] == ["D1"]  # fmt: skip


def test_bad_queries_name_the_field(session, ranked):
    from geo_crm.errors import NotFound, ValidationError

    with pytest.raises(ValidationError) as exc:
        ranking(session, "P1", by="height", period="2025-13", user=None)
    assert set(exc.value.fields) == {"by", "period"}
    with pytest.raises(NotFound):
        ranking(session, "NOPE", user=None)
    assert len(FIGURES) == 7


def test_ranking_api_page_and_cli(aapp, connection, ranked, cli):
    client = token_client(aapp, add_token(connection, ranked["admin"]))
    response = client.get(f"{API}/regions/P1/ranking?by=growth&period=2025-06&compare=yoy")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["by"] == "growth" and body["items"][0]["code"] == "D1"
    assert body["items"][0]["sell_in"] == "1000.00"
    bad = client.get(f"{API}/regions/P1/ranking?by=height")
    assert bad.status_code == 422 and "query.by" in bad.get_json()["error"]["fields"]
    page = client.get("/regions/P1/ranking?by=growth&period=2025-06&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "西区总经销" in html and "华东总经销" in html and "<svg" in html
    zh = client.get("/regions/P1/ranking?by=growth&period=2025-06&lang=zh-CN")
    assert "排名" in zh.get_data(as_text=True)
    out = cli.invoke(
        args=["analyse", "ranking", "P1", "--by", "growth", "--period", "2025-06", "--compare",
              "yoy"]
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert out.output.index("D1") < out.output.index("D3")


def test_a_year_reads_the_yearly_rollup_for_the_retail_that_bought(session, ranked):
    rows = _by(ranking(session, "P1", by="distribution_rate", period="2025", user=None))
    assert rows["D1"]["distribution_rate"] == pytest.approx(1 / 3)
    assert rows["D3"]["distribution_rate"] == 1.0
    assert rows["D1"]["achievement"] == pytest.approx(1000 / 2000)
    assert rows["D3"]["achievement"] == pytest.approx(3100 / 2000)


@pytest.mark.parametrize(
    "territory",
    [{"region": "P1"}, {"region": "C1"}, {}, {"box": (120.1, 30.1, 120.9, 30.9)},
     {"box": (120.6, 30.1, 120.9, 30.9)}],
    ids=["regions", "one-leaf", "network", "polygon-two-centres", "polygon-off-the-network"],
)  # fmt: skip
def test_the_rankings_breadth_is_the_scorecards(session, ranked, territory):
    """Both read the territory breadth over sub-regions (analysis/breadth.py), whatever the
    territory: assigned regions, a drawn polygon, or none (the network's region)."""
    from geo_crm.analysis.judging import scorecard

    _territory(session.connection(), "D1", **territory)
    rows = _by(ranking(session, "P1", by="breadth", period="2025-06", user=None))
    for code in ("D1", "D3"):
        depth = scorecard(session, code, user=None, as_of=dt.date(2025, 6, 30)).depth
        row = rows[code]
        assert (row["breadth"], row["units"], row["reached_units"]) == (
            depth["breadth"], depth["units"], depth["reached_units"]
        ), (code, territory)  # fmt: skip
    expected = {"regions": 0.5, "one-leaf": 1.0, "network": 1.0}
    shares = {"polygon-two-centres": 0.5, "polygon-off-the-network": 0.0}
    name = territory.get("region") and ("regions" if territory["region"] == "P1" else "one-leaf")
    if not territory:
        name = "network"
    if "box" in territory:
        name = "polygon-two-centres" if territory["box"][0] < 120.5 else "polygon-off-the-network"
    assert rows["D1"]["breadth"] == {**expected, **shares}[name]

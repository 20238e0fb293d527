"""Distributor territories (经销区域) and cross-territory sales (窜货): setting a territory (regions
or a polygon, invalid shapes refused naming the field) and the flags a sell-out gets when it is
recorded (migration 0012's trigger, the review list of 0009)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from geo_crm.domain import sales, territories
from geo_crm.domain.principal import Principal
from geo_crm.errors import NotFound, ValidationError

pytest_plugins = ["auth_fixtures"]

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[120, 30], [120.5, 30], [120.5, 30.5], [120, 30.5], [120, 30]]],
}
BOWTIE = {  # crosses itself
    "type": "Polygon",
    "coordinates": [[[120, 30], [121, 31], [121, 30], [120, 31], [120, 30]]],
}


@pytest.fixture
def terr(session, world):
    session.execute(text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '啤酒', 'case')"))
    session.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location) VALUES "
            "('D2', '第二总经销', 'distributor', ST_SetSRID(ST_MakePoint(120.7, 30.8), 4326)), "
            "('W2', '二批', 'wholesaler_2', ST_SetSRID(ST_MakePoint(120.8, 30.8), 4326))"
        )
    )
    session.execute(
        text("UPDATE outlets SET parent_id = (SELECT id FROM outlets WHERE code = 'D2') "
             "WHERE code IN ('W2', 'N1')")
    )  # fmt: skip
    return {
        "admin": Principal(world["admin"], "admin1", "admin"),
        "m1": Principal(world["m1"], "manager1", "manager"),
        "m2": Principal(world["m2"], "manager2", "manager"),
    }


def _sell(session, seller: str, buyer: str) -> dict:
    return sales.create_sale(
        session,
        seller_code=seller,
        buyer_code=buyer,
        product_sku="SKU1",
        sale_date=dt.date.today(),
        quantity=Decimal("1"),
        amount=Decimal("10.00"),
    )


def test_a_territory_of_regions_or_a_polygon(session, terr):
    got = territories.set_territory(session, "D1", regions=["C1"], user=terr["m1"])
    assert got["kind"] == "regions" and got["regions"] == ["C1"] and got["updated_by"] == "manager1"
    assert got["geometry"]["type"] == "MultiPolygon" and got["area_km2"] > 1000
    got = territories.set_territory(session, "D1", polygon=SQUARE, user=terr["admin"])
    assert got["kind"] == "polygon" and got["regions"] == []
    assert territories.get_territory(session, "D1")["updated_by"] == "admin1"
    assert territories.get_territory(session, "D2")["kind"] is None
    with pytest.raises(NotFound):  # D1 is outside manager2's regions
        territories.get_territory(session, "D1", user=terr["m2"])


@pytest.mark.parametrize(
    "kwargs, field, words",
    [
        ({"polygon": BOWTIE}, "polygon", "Self-intersection"),
        ({"polygon": {"type": "Point", "coordinates": [120, 30]}}, "polygon", "Polygon"),
        (
            {
                "polygon": {
                    "type": "Polygon",
                    "coordinates": [[[200, 30], [201, 30], [201, 31], [200, 30]]],
                }
            },
            "polygon",
            "outside",
        ),  # fmt: skip
        ({"polygon": {"type": "Polygon", "coordinates": [[[120, 30], [121]]]}}, "polygon", ""),
        ({"polygon": "{nope"}, "polygon", "JSON"),
        ({"regions": ["NOPE"]}, "regions", "NOPE"),
        ({"regions": []}, "regions", "at least"),
        ({}, "regions", "either"),
        ({"regions": ["C1"], "polygon": SQUARE}, "polygon", "either"),
    ],
)
def test_a_bad_territory_names_the_field_and_is_never_stored(session, terr, kwargs, field, words):
    with pytest.raises(ValidationError) as exc:
        territories.set_territory(session, "D1", user=terr["admin"], **kwargs)
    assert field in exc.value.fields and words in exc.value.fields[field]
    count = session.execute(text("SELECT count(*) FROM distributor_territories")).scalar()
    assert count == 0


def test_a_manager_names_only_regions_in_scope_and_the_database_refuses_bad_shapes(session, terr):
    with pytest.raises(ValidationError) as exc:
        territories.set_territory(session, "D1", regions=["P2"], user=terr["m1"])
    assert "regions" in exc.value.fields
    with pytest.raises(NotFound):
        territories.set_territory(session, "A1", regions=["C1"], user=terr["admin"])  # retail
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError) as db:
        with session.begin_nested():
            session.execute(
                text(
                    "INSERT INTO distributor_territories (distributor_id, geom, area_m2) "
                    "SELECT id, ST_Multi(ST_GeomFromText('POLYGON((120 30,121 31,121 30,120 31,"
                    "120 30))', 4326)), 1 FROM outlets WHERE code = 'D1'"
                )
            )
    assert db.value.orig.diag.constraint_name == "territory_geom_valid"


def test_a_sale_outside_the_territory_or_into_another_network_is_flagged(session, terr):
    plain = _sell(session, "D1", "A1")  # no territory yet; A1 is D1's
    assert plain["flags"] == [] and plain["review_state"] is None
    territories.set_territory(session, "D1", polygon=SQUARE, user=terr["admin"])
    inside = _sell(session, "D1", "B1")  # B1 at 120.3, 30.3: inside, no network
    assert inside["flags"] == []
    outside = sales.get_sale(session, _sell(session, "D1", "B2")["id"])  # B2 at 122.5, 30.5
    assert outside["flags"] == ["outside_territory"] and outside["review_state"] == "pending"
    detail = outside["flag_detail"]["outside_territory"]
    assert detail["distributor"] == "D1" and 180_000 < detail["distance_m"] < 220_000
    other = sales.get_sale(session, _sell(session, "D1", "N1")["id"])  # N1 is D2's, at 120.7
    assert set(other["flags"]) == {"outside_territory", "other_network"}
    assert other["flag_detail"]["other_network"] == {
        "seller_distributor": "D1",
        "buyer_distributor": "D2",
    }
    reviews = sales.sale_reviews(session, user=terr["admin"], flag="other_network")
    assert [r["id"] for r in reviews.rows] == [other["id"]]
    # a wholesaler of D2 selling to D1's outlet: another network (D2 has no territory)
    w2 = sales.get_sale(session, _sell(session, "W2", "A1")["id"])
    assert w2["flags"] == ["other_network"]
    assert [w["code"] for w in sales.warnings_of(w2)] == ["other_network"]


# -- the whole history, and the list per region -------------------------------------------


def test_detection_over_the_history_flags_past_records_once(session, terr):
    from geo_crm.analysis.cross_selling import cross_selling, detect_all

    before = _sell(session, "D1", "B2")  # recorded before D1 had a territory
    assert before["flags"] == []
    session.execute(  # a record kept flagged by hand that no rule supports any more
        text(
            "UPDATE sales_records SET flags = '{other_network}', review_state = 'pending' "
            "WHERE id = :i"
        ),
        {"i": _sell(session, "D1", "A1")["id"]},
    )
    territories.set_territory(session, "D1", regions=["C1"], user=terr["admin"])
    first = detect_all(session)
    assert (first.changed, first.outside_territory, first.other_network) == (2, 1, 0)
    flagged = sales.get_sale(session, before["id"])
    assert flagged["flags"] == ["outside_territory"] and flagged["review_state"] == "pending"
    assert flagged["flag_detail"]["outside_territory"]["distance_m"] > 100_000
    again = detect_all(session)
    assert again.changed == 0 and again.flagged_total["outside_territory"] == 1

    listed = cross_selling(session, "P2", user=terr["m2"])
    assert [s.buyer_code for s in listed.sales] == ["B2"] and listed.counts[
        "outside_territory"
    ] == 1
    sale = listed.sales[0]
    assert sale.seller_code == "D1" and sale.distributor == "D1" and sale.distance_m > 100_000
    assert sale.seller_lon is not None and sale.buyer_lat is not None
    assert cross_selling(session, "P1").total == 0
    with pytest.raises(NotFound):
        cross_selling(session, "P2", user=terr["m1"])
    with pytest.raises(ValidationError) as exc:
        cross_selling(session, "P2", date_from=dt.date(2026, 5, 1), date_to=dt.date(2026, 1, 1))
    assert "date_from" in exc.value.fields


# -- API and CLI ----------------------------------------------------------------------------


def test_the_api_sets_and_gets_a_territory_and_names_a_bad_polygon(session, terr, client):
    url = "/api/v1/distributors/D1/territory"
    assert client.get(url).get_json()["kind"] is None
    bad = client.put(url, json={"polygon": BOWTIE})
    assert bad.status_code == 422
    assert "Self-intersection" in bad.get_json()["error"]["fields"]["body.polygon"]
    assert client.get(url).get_json()["geometry"] is None  # nothing stored
    assert client.put(url, json={"regions": ["NOPE"]}).get_json()["error"]["fields"].keys() == {
        "body.regions"
    }
    ok = client.put(url, json={"polygon": SQUARE})
    assert ok.status_code == 200 and ok.get_json()["kind"] == "polygon"
    assert client.get(url).get_json()["geometry"]["type"] == "MultiPolygon"
    assert client.put(url, json={"regions": ["C1", "C2"]}).get_json()["regions"] == ["C1", "C2"]
    retail = client.put("/api/v1/distributors/A1/territory", json={"regions": ["C1"]})
    assert retail.status_code == 404
    _sell(session, "D1", "B2")
    listed = client.get("/api/v1/regions/P2/cross-selling").get_json()
    assert listed["counts"]["outside_territory"] == 1 and listed["sales"][0]["buyer_code"] == "B2"
    wrong = client.get("/api/v1/regions/P2/cross-selling?date_from=2026-05-01&date_to=2026-01-01")
    assert "query.date_from" in wrong.get_json()["error"]["fields"]


def test_the_cli_sets_territories_and_detects_over_the_history(session, terr, cli, tmp_path):
    bad = tmp_path / "bowtie.geojson"
    bad.write_text(__import__("json").dumps(BOWTIE))
    refused = cli.invoke(args=["territory", "set", "D1", "--polygon", str(bad)])
    assert refused.exit_code == 1 and "polygon" in refused.output
    _sell(session, "D1", "B2")
    result = cli.invoke(args=["territory", "set", "D1", "--region", "C1"])
    assert result.exit_code == 0 and "C1" in result.output and "km²" in result.output
    assert "C1" in cli.invoke(args=["territory", "show", "D1"]).output
    found = cli.invoke(args=["analyse", "cross-selling", "P2", "--all"])
    assert found.exit_code == 0, found.output
    assert "1 records changed" in found.output and "B2" in found.output
    assert "0 refreshed (distance re-measured)" in found.output
    assert cli.invoke(args=["analyse", "cross-selling"]).exit_code == 1


def test_the_page_lists_cross_selling_with_a_map_of_lines(session, terr, app):
    from auth_helpers import signed_in_client

    territories.set_territory(session, "D1", regions=["C1"], user=terr["admin"])
    session.execute(text("UPDATE outlets SET name = '<b>x</b>' WHERE code = 'B2'"))
    _sell(session, "D1", "B2")
    manager = signed_in_client(app, "manager2")
    page = manager.get("/regions/P2/cross-selling?lang=zh-CN")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "窜货" in html and "超出经销区域" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'data-flag="outside_territory">1<' in html
    map_html = manager.get("/maps/cross-selling/P2?lang=en").get_data(as_text=True)
    assert "Outside the territory (1)" in map_html and "<b>x</b>" not in map_html
    bad = manager.get("/regions/P2/cross-selling?date_from=nope")
    assert bad.status_code == 422 and 'id="err-date_from"' in bad.get_data(as_text=True)
    assert manager.get("/regions/C1/cross-selling").status_code == 404
    empty = signed_in_client(app, "manager1").get("/regions/C1/cross-selling?lang=en")
    assert "No cross-territory sales in this period" in empty.get_data(as_text=True)

"""The domain's read functions the faces call (issue 12, plan §2), on real PostGIS: regions,
region counts, distributors, outlets as maps draw them, location tracks, sales and products,
users. Scope: a function taking ``user`` answers as if what lies outside the user's scope did
not exist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from analysis_helpers import add_product, add_sale
from auth_helpers import add_region, add_user

from geo_crm.domain import geotagging, network, outlet_layers, region_counts, regions, sales, users
from geo_crm.domain.outlets import OutletFilters
from geo_crm.domain.principal import SYSTEM, Principal
from geo_crm.errors import NotFound, ValidationError
from geo_crm.models import TIERS

pytest_plugins = ["auth_fixtures"]  # world

D0, D1 = dt.date(2024, 1, 1), dt.date(2024, 12, 31)


def who(world, key: str, role: str) -> Principal:
    return Principal(id=world[key], username=key, role=role)


@pytest.fixture
def shop(world, connection, sql):
    """The world plus a district under C1, a product and sales D1 → A1, D1 → B1."""
    add_region(connection, "D11", "district", (120, 30, 120.25, 30.5), parent="C1")
    add_product(sql, "SKU1")
    add_sale(sql, "D1", "A1", "2024-03-01", "SKU1", 2, 100)
    add_sale(sql, "D1", "B1", "2024-04-01", "SKU1", 3, 300)
    add_sale(sql, "D1", "A1", "2023-01-01", "SKU1", 1, 50)  # before the period
    sql("UPDATE sales_records SET amount_paid = 40 WHERE amount = 100")
    return world


def region_id(sql, code: str) -> int:
    return sql("SELECT id FROM regions WHERE code = :c", c=code).scalar_one()


def outlet_id(sql, code: str) -> int:
    return sql("SELECT id FROM outlets WHERE code = :c", c=code).scalar_one()


# -- regions -------------------------------------------------------------------------------


def test_get_region_and_subregions(session, world):
    p1 = regions.get_region(session, "P1")
    assert (p1.code, p1.level, p1.parent_id, p1.boundary) == ("P1", "province", None, None)
    shaped = regions.get_region(session, "P1", boundary=True)
    assert shaped.boundary.bounds == (120.0, 30.0, 121.0, 31.0)
    assert [r.code for r in regions.subregions(session, p1.id)] == ["C1", "C2"]
    assert regions.subregions(session, p1.id, boundary=True)[0].boundary is not None
    with pytest.raises(NotFound) as missing:
        regions.get_region(session, "NOPE")
    assert missing.value.fields == {"code": "not found"}
    with pytest.raises(NotFound) as bare:
        regions.get_region(session, "NOPE", field=None)
    assert bare.value.fields == {}


def test_ancestors_top_first(session, shop, sql):
    chain = regions.ancestors(session, region_id(sql, "D11"))
    assert [r.code for r in chain] == ["P1", "C1"]
    assert regions.ancestors(session, region_id(sql, "P1")) == []


def test_region_forest(session, shop):
    forest = regions.region_forest(session)
    assert [n["code"] for n in forest] == ["P1", "P2"]
    c1 = forest[0]["children"][0]
    assert (c1["code"], [n["code"] for n in c1["children"]]) == ("C1", ["D11"])
    assert set(c1) == {"code", "name", "name_en", "level", "children"}
    sub = regions.region_forest(session, "C1")
    assert [n["code"] for n in sub] == ["C1"] and sub[0]["children"][0]["code"] == "D11"
    with pytest.raises(ValidationError) as unknown:
        regions.region_forest(session, "NOPE")
    assert unknown.value.fields == {"root": "no region with code 'NOPE'"}


def test_region_feature(session, world):
    feature = regions.region_feature(session, "C1")
    assert feature["type"] == "Feature" and feature["id"] == "C1"
    assert feature["bbox"] == [120.0, 30.0, 120.5, 31.0]
    assert feature["geometry"]["type"] == "MultiPolygon"
    props = feature["properties"]
    assert (props["parent_code"], props["simplify_m"], props["level"]) == ("P1", None, "city")
    simplified = regions.region_feature(session, "C1", simplify_m=500.0)
    assert simplified["properties"]["simplify_m"] == 500.0
    assert simplified["properties"]["vertices"] <= props["vertices"]
    with pytest.raises(NotFound):
        regions.region_feature(session, "NOPE")
    proj = "+proj=aeqd +lat_0=%s +lon_0=%s +datum=WGS84 +units=m +no_defs"
    assert f"format('{proj}'," in regions._FEATURE.text  # the statement as it was in the API


def test_list_count_and_refs(session, shop, sql):
    rows = regions.list_regions(session)
    assert [r.code for r in rows] == ["P1", "P2", "C1", "C2", "D11"]  # level, then code
    c1 = next(r for r in rows if r.code == "C1")
    assert c1.parent_code == "P1" and c1.level == "city" and c1.area_km2 > 1000
    assert [r.code for r in regions.list_regions(session, level="city")] == ["C1", "C2"]
    assert regions.region_count(session) == 5
    ref = regions.region_ref(session, region_id(sql, "C2"))
    assert (ref.code, ref.name) == ("C2", "区域 C2")
    assert regions.region_ref(session, 0) is None


def test_map_region_for(session, shop, sql):
    assert regions.map_region_for(session, region_id(sql, "D11")).code == "C1"  # its city
    assert regions.map_region_for(session, region_id(sql, "C2")).code == "C2"
    assert regions.map_region_for(session, None).code == "P1"  # the first root
    assert regions.map_region_for(session, 0) is None
    sql("DELETE FROM regions WHERE parent_id IS NOT NULL")
    sql("DELETE FROM regions")
    assert regions.map_region_for(session, None) is None


def test_region_tier_summary(session, world):
    summary = region_counts.region_tier_summary(session, "P1", ["active"])
    assert (summary.code, summary.level) == ("P1", "province")
    by_child = {c.code: c.by_tier for c in summary.children}
    assert by_child["C1"]["distributor"] == 1 and by_child["C1"]["retail"] == 2  # D1, A1, B1
    assert by_child["C2"]["retail"] == 1  # N1
    assert summary.total == 4 and summary.own == dict.fromkeys(TIERS, 0)
    assert summary.to_dict()["children"][0]["code"] == "C1"
    m2 = who(world, "m2", "manager")  # P2 only
    with pytest.raises(NotFound):
        region_counts.region_tier_summary(session, "P1", ["active"], user=m2)
    assert region_counts.region_tier_summary(session, "P2", ["active"], user=m2).total == 1
    with pytest.raises(NotFound):
        region_counts.region_tier_summary(session, "NOPE", ["active"])


def test_region_outlet_counts_roll_up_and_scope(session, world):
    def totals(user):
        return {r.code: r.total for r in region_counts.region_outlet_counts(session, user=user)}

    assert totals(None) == totals(SYSTEM) == {"C1": 3, "C2": 1, "P1": 4, "P2": 1}  # A2: untagged
    assert totals(who(world, "m1", "manager")) == {"C1": 3}  # C1 only, every outlet in it
    assert totals(who(world, "r1", "rep")) == {"C1": 1, "C2": 1, "P1": 2}  # A1, N1 and above
    rows = region_counts.region_outlet_counts(session)
    assert [r.code for r in rows] == ["C1", "C2", "P1", "P2"]  # by code
    assert rows[2].by_tier == {**dict.fromkeys(TIERS, 0), "distributor": 1, "retail": 3}
    assert region_counts.untagged_count(session) == 1
    assert region_counts.untagged_count(session, user=who(world, "r1", "rep")) == 1
    assert region_counts.untagged_count(session, user=who(world, "m1", "manager")) == 0


def test_outlets_outside_every_region_are_counted(session, world, sql, connection):
    """Issue 17 (8): located outlets in no region count in no region's figures; the home page
    names them (domain function first, the page wiring later)."""
    from auth_helpers import add_outlet

    add_outlet(connection, "X1", lon=10.0, lat=10.0, rep=world["r1"])  # in no region
    add_outlet(connection, "X2", lon=11.0, lat=10.0, status="closed")
    add_outlet(connection, "X3", lon=12.0, lat=10.0)
    assert region_counts.outside_regions_count(session) == 2  # active ones, as the regions
    assert region_counts.outside_regions_count(session, active_only=False) == 3
    assert region_counts.outside_regions_count(session, user=who(world, "r1", "rep")) == 1
    assert region_counts.outside_regions_count(session, user=who(world, "m1", "manager")) == 0
    totals = {r.code: r.total for r in region_counts.region_outlet_counts(session)}
    assert (
        totals["P1"] + totals["P2"] + 2
        == sql(
            "SELECT count(*) FROM outlets WHERE location IS NOT NULL AND status = 'active'"
        ).scalar()
    )


def test_region_tier_counts_split_by_child(session, world, sql):
    add_region(session.connection(), "D11", "district", (120, 30, 120.25, 30.5), parent="C1")
    assert sql("SELECT count(*) FROM outlets o JOIN regions r ON r.id = o.region_id"
               " WHERE r.code = 'D11'").scalar_one() == 2  # fmt: skip
    counts = region_counts.region_tier_counts(session, region_id(sql, "P1"), ["active"])
    c1, c2 = counts[region_id(sql, "C1")], counts[region_id(sql, "C2")]
    assert (c1["distributor"], c1["retail"], c2["retail"]) == (1, 2, 1)  # D1 and A1 in D11
    assert None not in counts  # no outlet's smallest region is P1 itself
    own = region_counts.region_tier_counts(session, region_id(sql, "P2"), ["active"])
    assert own == {None: {**dict.fromkeys(TIERS, 0), "retail": 1}}  # B2
    assert region_counts.region_tier_counts(session, region_id(sql, "P2"), ["closed"]) == {}
    assert "WITH RECURSIVE subtree" in str(region_counts._TIER_COUNTS)  # on subtree_by_child


# -- distributors --------------------------------------------------------------------------


def test_distributor(session, world):
    ref = network.distributor(session, "D1")
    assert (ref.code, ref.name) == ("D1", "华东总经销")
    with pytest.raises(network.DistributorError) as retail:
        network.distributor(session, "A1", field="query.distributor")
    assert retail.value.reason == "not_distributor" and "query.distributor" in retail.value.fields
    with pytest.raises(network.DistributorError) as missing:
        network.distributor(session, "NOPE")
    assert missing.value.reason == "unknown" and missing.value.status == 422
    with pytest.raises(network.DistributorError) as hidden:  # out of scope: as if missing
        network.distributor(session, "D1", user=who(world, "m2", "manager"))
    assert hidden.value.reason == "unknown"
    assert network.distributor(session, "D1", user=who(world, "m1", "manager")).code == "D1"


def test_unknown_references(session, shop, world):
    from geo_crm.domain.outlets import unknown_references

    assert unknown_references(session, region="P1", outlets={"seller": "D1"}) == {}
    problems = unknown_references(session, region="NOPE", outlets={"seller": "X", "buyer": None})
    assert problems == {"seller": "no outlet with code 'X'", "region": "no region with code 'NOPE'"}
    m2 = who(world, "m2", "manager")  # P2 only: P1 and D1 are as unknown as missing ones
    hidden = unknown_references(session, user=m2, region="P1", outlets={"distributor": "D1"})
    assert set(hidden) == {"region", "distributor"}
    m1 = who(world, "m1", "manager")
    assert unknown_references(session, user=m1, region="C1", outlets={"d": "D1"}) == {}
    problems = sales.check_sales_filters(session, sales.SalesFilters(product="NOPE", seller="X"))
    assert problems == {
        "seller": "no outlet with code 'X'",
        "product": "no product with SKU 'NOPE'",
    }


def test_distributors_in(session, world, sql):
    assert network.distributors_in(session, "P1") == [("D1", "华东总经销")]
    assert network.distributors_in(session, "P2") == []
    assert network.distributors_in(session, "P1", user=who(world, "r2", "rep")) == []
    assert network.distributors_in(session, "P1", user=SYSTEM) == [("D1", "华东总经销")]
    sql("UPDATE outlets SET status = 'inactive' WHERE code = 'D1'")
    assert network.distributors_in(session, "P1") == []


# -- outlets as maps draw them -------------------------------------------------------------


def test_outlet_points(session, world, sql):
    points = outlet_layers.outlet_points(session, OutletFilters(region="P1"))
    assert sorted(points.ids.tolist()) == sorted(
        outlet_id(sql, c) for c in ("D1", "A1", "B1", "N1")
    )
    d1 = points.ids.tolist().index(outlet_id(sql, "D1"))
    assert (points.lon[d1], points.lat[d1], points.tier[d1]) == (120.1, 30.1, 0)
    assert points.region_id is None and points.envelope is None
    mine = outlet_layers.outlet_points(
        session, OutletFilters(region="P1"), user=who(world, "r1", "rep")
    )
    assert sorted(mine.ids.tolist()) == sorted(outlet_id(sql, c) for c in ("A1", "N1"))
    none = outlet_layers.outlet_points(session, OutletFilters(region="P2", tier=["wholesaler_2"]))
    assert len(none) == 0 and none.ids.dtype == np.int64


def test_popup_rows(session, shop, sql):
    ids = [outlet_id(sql, "B1"), outlet_id(sql, "A1")]
    rows, got_ids, parents = outlet_layers.popup_rows(session, ids, date_from=D0, date_to=D1)
    assert rows.code == ["A1", "B1"] and got_ids == sorted(ids)  # id order
    assert rows.parent[0] == "华东总经销 (D1)" and parents[0] == outlet_id(sql, "D1")
    assert rows.region == ["区域 D11", "区域 C1"]  # A1 lies in the district added later
    assert rows.sales == [Decimal("100.00"), Decimal("300.00")]  # the 2023 sale is outside
    assert rows.debt[0] == Decimal("110.00")  # 60 of the 2024 sale + 50 of the 2023 one
    empty, no_ids, _ = outlet_layers.popup_rows(session, [], date_from=None, date_to=None)
    assert len(empty) == 0 and no_ids == []


def test_outlet_layer_splits_tiers_at_the_limit(session, shop, sql):
    filters = OutletFilters(region="P1", status=["active"])
    common = dict(date_from=D0, date_to=D1)
    wide = outlet_layers.outlet_layer(session, filters, limit=10, **common)
    assert wide.counts["retail"] == 3 and wide.coords is None and len(wide.rows) == 4
    narrow = outlet_layers.outlet_layer(session, filters, limit=1, **common)
    assert narrow.rows.code == ["D1"] and len(narrow.coords) == 3
    prefetched = outlet_layers.outlet_points(session, OutletFilters(region="C2"))
    only = outlet_layers.outlet_layer(session, filters, limit=10, prefetched=prefetched, **common)
    assert only.rows.code == ["N1"] and only.counts["retail"] == 1
    r2 = who(shop, "r2", "rep")
    rep = outlet_layers.outlet_layer(session, filters, user=r2, limit=10, **common)
    assert rep.rows.code == ["B1"]


def test_network_layer(session, shop):
    rows, parent = outlet_layers.network_layer(session, "D1", date_from=D0, date_to=D1)
    assert rows.code == ["D1", "A1"] and parent == [None, 0]  # A2 is not located
    rep = outlet_layers.network_layer(
        session, "D1", user=who(shop, "r1", "rep"), date_from=None, date_to=None
    )
    assert rep[0].code == ["A1"] and rep[1] == [None]  # its supplier is not drawn
    assert outlet_layers.parent_index([5, 7], [7, None, 9]) == [1, None, None]


def test_plan_tiers_top_first():
    counts = {"distributor": 2, "wholesaler_2": 5, "wholesaler_3": 50, "retail": 500}
    assert outlet_layers.plan_tiers(counts, 10) == (
        ["distributor", "wholesaler_2"], ["wholesaler_3", "retail"],
    )  # fmt: skip


# -- location track ------------------------------------------------------------------------


def test_history_points_and_location_track(session, world, sql):
    a1 = outlet_id(sql, "A1")
    sql(
        "INSERT INTO geotag_events (outlet_id, new_location, source, accuracy_m) VALUES "
        "(:o, ST_SetSRID(ST_MakePoint(120.2, 30.2), 4326), 'gps', 12)",
        o=a1,
    )
    points = geotagging.history_points(session, a1)
    assert len(points) == 1 and (points[0]["lon"], points[0]["lat"]) == (120.2, 30.2)
    assert set(points[0]) == {
        "lon", "lat", "created_at", "captured_at", "source", "accuracy_m", "state",
    }  # fmt: skip
    tier, track = geotagging.location_track(session, a1)
    assert tier == "retail" and track == points
    with pytest.raises(NotFound):
        geotagging.location_track(session, 0)


# -- sales and products --------------------------------------------------------------------


def test_seller_summary(session, shop, sql):
    got = sales.seller_summary(session, outlet_id(sql, "D1"), date_from=D0, date_to=D1)
    assert got == {
        "amount": Decimal("400.00"),
        "quantity": Decimal("5.000"),
        "receivable": Decimal("410.00"),
    }
    nothing = sales.seller_summary(session, outlet_id(sql, "A1"), date_from=None, date_to=None)
    assert nothing == {"amount": 0, "quantity": 0, "receivable": 0}


def test_products(session, shop, sql):
    assert sales.product_id(session, "SKU1") == sql("SELECT id FROM products").scalar_one()
    with pytest.raises(ValidationError) as missing:
        sales.product_id(session, "NOPE", field="query.product")
    assert list(missing.value.fields) == ["query.product"]
    assert sales.product_unit(session, "SKU1") == "箱" and sales.product_unit(session, "X") is None
    add_product(sql, "SKU2")
    sql("UPDATE products SET active = false WHERE sku = 'SKU2'")
    assert [p["sku"] for p in sales.list_products(session)] == ["SKU1", "SKU2"]
    assert [p["sku"] for p in sales.list_products(session, active=True)] == ["SKU1"]
    assert [p["sku"] for p in sales.list_products(session, q="sku2")] == ["SKU2"]
    rows, total = sales.product_page(session, q=None, active=None, limit=1, offset=1)
    assert [p["sku"] for p in rows] == ["SKU2"] and total == 2


def test_sales_summary_and_page(session, shop):
    every = sales.SalesFilters()
    totals = sales.sales_summary(session, every)
    assert totals == sales.SalesTotals(3, Decimal("450.00"), Decimal("40.00"), Decimal("410.00"))
    r1 = who(shop, "r1", "rep")  # sees A1's records only (D1 and B1 are not theirs)
    assert sales.sales_summary(session, every, user=r1).records == 2
    page = sales.sales_page(session, every, user=SYSTEM, limit=2)
    assert len(page.rows) == 2 and page.more and page.totals.records == 3
    rest = sales.sales_page(session, every, user=SYSTEM, limit=2, after_id=page.rows[-1]["id"])
    assert len(rest.rows) == 1 and not rest.more
    bare = sales.sales_page(session, every, user=r1, limit=5, offset=1, with_totals=False)
    assert len(bare.rows) == 1 and bare.totals is None
    mine = sales.sales_page(session, every, user=r1, limit=5).rows
    assert {r["buyer_code"] for r in mine} == {"A1"}
    period = sales.SalesFilters(date_from=D0, date_to=D1, region="C1")
    assert sales.sales_summary(session, period).amount == Decimal("400.00")
    with pytest.raises(ValidationError) as unknown:
        sales.sales_page(session, sales.SalesFilters(buyer="B1"), user=r1, limit=5)
    assert list(unknown.value.fields) == ["buyer"]  # out of scope: as if missing


def test_sale_detail_and_outlet_debt(session, shop, sql):
    first = sql("SELECT min(id) FROM sales_records").scalar_one()
    sql(
        "INSERT INTO payments (sales_record_id, paid_on, amount) VALUES (:s, '2024-05-01', 5)",
        s=first,
    )
    detail = sales.sale_detail(session, first)
    assert detail["id"] == first and [p["amount"] for p in detail["payments"]] == [Decimal("5.00")]
    debt = sales.outlet_debt(session, outlet_id(sql, "A1"))
    assert debt["outlet"] == {"id": outlet_id(sql, "A1"), "code": "A1", "name": "好又多超市",
                              "tier": "retail"}  # fmt: skip
    assert debt["unpaid_records"] == 2 and [s["seller_code"] for s in debt["by_seller"]] == ["D1"]
    with pytest.raises(NotFound):
        sales.outlet_debt(session, 0)


# -- outlets and the network ---------------------------------------------------------------


def test_outlet_page_is_scoped_and_names_unknown_filters(session, world):
    from geo_crm.domain.outlets import outlet_page

    rows, total = outlet_page(session, OutletFilters(), limit=10, user=who(world, "r1", "rep"))
    assert sorted(r["code"] for r in rows) == ["A1", "A2", "N1"] and total == 3
    rows, total = outlet_page(session, OutletFilters(region="C1"), limit=10)
    assert total == 3 and len(rows) == 3
    with pytest.raises(ValidationError) as unknown:  # P1 lies outside manager2's regions
        outlet_page(session, OutletFilters(region="P1"), limit=10, user=who(world, "m2", "manager"))
    assert list(unknown.value.fields) == ["region"]


def test_downstream_counts_only(session, world, sql):
    full = network.downstream(session, outlet_id(sql, "D1"))
    counts = network.downstream(session, outlet_id(sql, "D1"), nodes=False)
    assert counts.nodes == [] and counts.root == full.root
    assert (counts.by_tier, counts.by_depth) == (full.by_tier, full.by_depth) == (
        {**dict.fromkeys(TIERS, 0), "retail": 2}, {1: 2},
    )  # fmt: skip
    mine = network.downstream(
        session, outlet_id(sql, "D1"), user=who(world, "r2", "rep"), nodes=False
    )
    assert mine.by_depth == {}  # A1 and A2 are rep1's


# -- users ---------------------------------------------------------------------------------


def test_active_user_id(session, world, connection):
    assert users.active_user_id(session, "rep1") == world["r1"]
    add_user(connection, "gone", "rep", active=False)
    for name in ("gone", "nobody"):
        with pytest.raises(NotFound) as missing:
            users.active_user_id(session, name)
        assert missing.value.fields == {"username": "not found"}

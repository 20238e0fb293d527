"""Every database rule is enforced by PostgreSQL itself: bad rows inserted with plain SQL fail."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

PROVINCE = "ST_Multi(ST_MakeEnvelope(100, 20, 102, 22, 4326))"
CITY = "ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326))"


def pt(lon, lat) -> str:
    return f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)"


@pytest.fixture
def network(sql):
    """A province with one city and a distributor → wholesaler_2 → wholesaler_3 → retail chain."""
    sql(
        "INSERT INTO regions (code, name, level, boundary) VALUES ('P', 'Province', 'province', "
        f"{PROVINCE})"
    )
    sql(
        f"INSERT INTO regions (code, name, level, parent_id, boundary) "
        f"SELECT 'C', 'City', 'city', id, {CITY} FROM regions WHERE code = 'P'"
    )
    ids = {}
    parent = None
    for code, tier, lon in [
        ("D", "distributor", 100.5),
        ("W2", "wholesaler_2", 101.5),
        ("W3", "wholesaler_3", 100.6),
        ("R", "retail", 100.7),
    ]:
        ids[code] = sql(
            f"INSERT INTO outlets (code, name, tier, parent_id, location) "
            f"VALUES (:code, :name, :tier, :parent, {pt(lon, 20.5)}) RETURNING id",
            code=code,
            name=f"{tier} {code}",
            tier=tier,
            parent=parent,
        ).scalar_one()
        parent = ids[code]
    sql("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '产品', '箱')")
    return ids


@pytest.fixture
def rejected(connection, sql):
    """Run a statement in a savepoint and assert PostgreSQL refuses it, naming ``fragment``."""

    def check(statement: str, fragment: str, **params) -> None:
        savepoint = connection.begin_nested()
        with pytest.raises(DBAPIError) as info:
            sql(statement, **params)
        savepoint.rollback()
        orig = info.value.orig
        assert fragment in str(orig) or fragment == orig.diag.constraint_name, str(orig)

    return check


def test_unique_codes(sql, rejected, network):
    rejected(
        "INSERT INTO outlets (code, name, tier) VALUES ('D', 'x', 'distributor')",
        "outlets_code_key",
    )
    rejected(
        "INSERT INTO products (sku, name, unit) VALUES ('SKU1', 'x', '箱')", "products_sku_key"
    )
    rejected(
        f"INSERT INTO regions (code, name, level, boundary) VALUES ('P', 'x', 'province', {CITY})",
        "regions_code_key",
    )


@pytest.mark.parametrize(
    "child_tier, parent_code",
    [
        ("retail", "R"),
        ("wholesaler_3", "W3"),
        ("wholesaler_2", "W3"),
        ("wholesaler_2", "R"),
    ],
)
def test_a_tier_buys_only_from_a_higher_tier(sql, rejected, network, child_tier, parent_code):
    rejected(
        "INSERT INTO outlets (code, name, tier, parent_id) VALUES ('X', 'x', :t, :p)",
        "outlet_parent_tier",
        t=child_tier,
        p=network[parent_code],
    )


def test_lower_tier_parent_is_accepted(sql, rejected, network):
    sql(
        "INSERT INTO outlets (code, name, tier, parent_id) VALUES ('X', 'x', 'retail', :p)",
        p=network["D"],
    )


def test_distributor_has_no_parent(sql, rejected, network):
    rejected(
        "INSERT INTO outlets (code, name, tier, parent_id) VALUES ('X', 'x', 'distributor', :p)",
        "outlet_parent_tier",
        p=network["D"],
    )
    rejected(
        "INSERT INTO outlets (code, name, tier, parent_id) VALUES ('X', 'x', 'distributor', :p)",
        "outlet_parent_tier",
        p=network["R"],
    )


def test_tier_change_that_breaks_children_is_refused(sql, rejected, network):
    rejected("UPDATE outlets SET tier = 'retail' WHERE code = 'W3'", "outlet_parent_tier")


def test_parent_cycles_are_refused(sql, rejected, network):
    # a strictly falling tier along every parent link makes a loop impossible: each attempt
    # to close one breaks the tier order first
    rejected(
        "UPDATE outlets SET parent_id = :p WHERE code = 'W2'", "outlet_parent_tier", p=network["R"]
    )
    rejected(
        "UPDATE outlets SET parent_id = :p WHERE code = 'D'", "outlet_parent_tier", p=network["W3"]
    )
    rejected("UPDATE outlets SET parent_id = id WHERE code = 'R'", "outlet_parent_tier")


@pytest.mark.parametrize(
    "location",
    [
        pt(181, 10),
        pt(-181, 10),
        pt(10, 91),
        pt(10, -90.5),
        pt("'NaN'", 1),
        pt(1, "'Infinity'"),
        "ST_SetSRID(ST_GeomFromText('POINT EMPTY'), 4326)",
    ],
)
def test_outlet_location_must_be_a_valid_lon_lat_point(sql, rejected, network, location):
    rejected(
        f"INSERT INTO outlets (code, name, tier, location) VALUES ('X', 'x', 'retail', {location})",
        "outlet_location_valid",
    )


@pytest.mark.parametrize("column", ["old_location", "new_location"])
@pytest.mark.parametrize(
    "location",
    [
        pt(180.000001, 10),
        pt(-181, 10),
        pt(10, 90.5),
        pt("'NaN'", 1),
        pt(1, "'NaN'"),
        pt("'-Infinity'", 1),
        "ST_SetSRID(ST_GeomFromText('POINT EMPTY'), 4326)",
    ],
)
def test_geotag_event_locations_must_be_lon_lat_points(sql, rejected, network, column, location):
    """The cheaper checks of migration 0022 (no ST_IsValid) refuse what 0001's refused."""
    other = "old_location" if column == "new_location" else "new_location"
    rejected(
        f"INSERT INTO geotag_events (outlet_id, {column}, {other}, source) "
        f"VALUES (:o, {location}, {pt(100.2, 20.2)}, 'gps')",
        f"geotag_{column}_valid",
        o=network["R"],
    )


def test_points_on_the_edges_of_the_range_are_stored(sql, network):
    for lon, lat in [(180, 90), (-180, -90), (-0.0, 0.5)]:
        sql(f"UPDATE outlets SET location = {pt(lon, lat)} WHERE code = 'R'")
        sql(
            "INSERT INTO geotag_events (outlet_id, old_location, new_location, source) "
            f"VALUES (:o, {pt(lon, lat)}, {pt(-lon, -lat)}, 'gps')",
            o=network["R"],
        )
    sql("UPDATE outlets SET location = NULL WHERE code = 'R'")  # no location: allowed


@pytest.mark.parametrize(
    "geometry, fragment",
    [
        ("ST_SetSRID(ST_MakePoint(1, 1), 3857)", "outlet_location_srid"),
        ("ST_SetSRID(ST_MakeLine(ST_MakePoint(1, 1), ST_MakePoint(2, 2)), 4326)", "Geometry type"),
    ],
)
def test_geometry_type_and_srid_enforced(sql, rejected, network, geometry, fragment):
    rejected(
        f"INSERT INTO outlets (code, name, tier, location) VALUES ('X', 'x', 'retail', {geometry})",
        fragment,
    )


NO_SRID_POINT = "ST_GeomFromText('POINT(100.2 20.2)')"  # SRID 0: no coordinate system


@pytest.mark.parametrize(
    "statement, constraint",
    [
        (
            f"INSERT INTO outlets (code, name, tier, location) VALUES ('X', 'x', 'retail', "
            f"{NO_SRID_POINT})",
            "outlet_location_srid",
        ),
        (
            "INSERT INTO regions (code, name, level, boundary) VALUES ('Z', 'z', 'city',"
            " ST_Multi(ST_GeomFromText('POLYGON((100 20, 101 20, 101 21, 100 20))')))",
            "region_boundary_srid",
        ),
        (
            f"UPDATE regions SET label_point = {NO_SRID_POINT} WHERE code = 'C'",
            "region_label_point_srid",
        ),
        (
            "INSERT INTO region_parts (region_id, depth, geom) SELECT id, 2,"
            " ST_GeomFromText('POLYGON((100 20, 101 20, 101 21, 100 20))') FROM regions"
            " WHERE code = 'C'",
            "region_part_geom_srid",
        ),
        (
            "INSERT INTO geotag_events (outlet_id, new_location, source) "
            f"SELECT id, {NO_SRID_POINT}, 'gps' FROM outlets WHERE code = 'R'",
            "geotag_new_location_srid",
        ),
        (
            "INSERT INTO geotag_events (outlet_id, old_location, new_location, source) "
            f"SELECT id, {NO_SRID_POINT}, {pt(100.2, 20.2)}, 'gps' FROM outlets WHERE code = 'R'",
            "geotag_old_location_srid",
        ),
    ],
    ids=["outlet", "region", "label_point", "region_part", "geotag_new", "geotag_old"],
)
def test_a_geometry_without_srid_is_refused_not_relabelled(
    sql, rejected, network, statement, constraint
):
    """Issue 17 (4): a geometry-typed column with SRID 4326 in its type relabels an SRID-0
    geometry silently; every geometry column refuses one instead."""
    rejected(statement, constraint)


def test_a_geometry_without_srid_is_named_to_users(network, session):
    from geo_crm.db.translate import translate

    savepoint = session.begin_nested()
    with pytest.raises(DBAPIError) as info:
        session.execute(
            text(
                "INSERT INTO outlets (code, name, tier, location) "
                f"VALUES ('X', 'x', 'retail', {NO_SRID_POINT})"
            )
        )
    savepoint.rollback()
    error = translate(info.value)
    assert error is not None and error.status == 422
    assert "4326" in error.fields["location"]


def test_region_boundary_must_be_valid_and_in_range(sql, rejected, network):
    bowtie = "ST_Multi(ST_GeomFromText('POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))', 4326))"
    rejected(
        f"INSERT INTO regions (code, name, level, boundary) VALUES ('B', 'b', 'city', {bowtie})",
        "region_boundary_valid",
    )
    wide = "ST_Multi(ST_MakeEnvelope(170, 0, 190, 10, 4326))"
    rejected(
        f"INSERT INTO regions (code, name, level, boundary) VALUES ('W', 'w', 'city', {wide})",
        "region_boundary_valid",
    )


def test_region_parent_must_be_of_a_higher_level(sql, rejected, network):
    rejected(
        f"INSERT INTO regions (code, name, level, parent_id, boundary) "
        f"SELECT 'C2', 'c', 'province', id, {CITY} FROM regions WHERE code = 'C'",
        "region_parent_level",
    )


@pytest.mark.parametrize(
    "column, value",
    [
        ("quantity", "-1"),
        ("amount", "-0.01"),
        ("quantity", "'NaN'"),
        ("amount", "'NaN'"),
    ],
)
def test_sales_quantities_and_amounts_non_negative(sql, rejected, network, column, value):
    values = {"quantity": "1", "amount": "10"} | {column: value}
    rejected(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        f"SELECT :s, :b, '2026-01-05', id, {values['quantity']}, {values['amount']} FROM products",
        "nonneg",
        s=network["D"],
        b=network["W2"],
    )


def test_paid_may_not_exceed_amount(sql, rejected, network):
    rejected(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount, "
        "amount_paid) SELECT :s, :b, '2026-01-05', id, 1, 10, 10.01 FROM products",
        "sales_record_paid_not_above_amount",
        s=network["D"],
        b=network["W2"],
    )


def test_sale_goes_down_the_tiers(sql, rejected, network):
    rejected(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        "SELECT :s, :b, '2026-01-05', id, 1, 10 FROM products",
        "sales_record_seller_tier",
        s=network["R"],
        b=network["W3"],
    )


def test_payments_add_up_and_cannot_overpay(sql, rejected, network):
    record = sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount) "
        "SELECT :s, :b, '2026-01-05', id, 1, 100 FROM products RETURNING id",
        s=network["D"],
        b=network["W2"],
    ).scalar_one()
    sql(
        "INSERT INTO payments (sales_record_id, paid_on, amount) VALUES (:r, '2026-01-06', 40)",
        r=record,
    )
    row = sql(
        "SELECT amount_paid, debt, settlement FROM sales_records WHERE id = :r", r=record
    ).one()
    assert (float(row.amount_paid), float(row.debt), row.settlement) == (40.0, 60.0, "partial")
    rejected(
        "INSERT INTO payments (sales_record_id, paid_on, amount) VALUES (:r, '2026-01-07', 60.01)",
        "sales_record_paid_not_above_amount",
        r=record,
    )
    rejected(
        "INSERT INTO payments (sales_record_id, paid_on, amount) VALUES (:r, '2026-01-07', 0)",
        "payment_amount_positive",
        r=record,
    )
    sql(
        "INSERT INTO payments (sales_record_id, paid_on, amount) VALUES (:r, '2026-01-07', 60)",
        r=record,
    )
    assert (
        sql("SELECT settlement FROM sales_records WHERE id = :r", r=record).scalar_one() == "paid"
    )


def test_plans_belong_to_distributors_and_months(sql, rejected, network):
    rejected(
        "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
        "target_amount) "
        "SELECT :d, '2026-01-01', id, 1, 1 FROM products",
        "sales_plans_distributor_tier",
        d=network["W2"],
    )
    rejected(
        "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
        "target_amount) "
        "SELECT :d, '2026-01-15', id, 1, 1 FROM products",
        "sales_plan_month_first_day",
        d=network["D"],
    )
    rejected(
        "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
        "target_amount) "
        "SELECT :d, '2026-01-01', id, -1, 1 FROM products",
        "sales_plan_quantity_nonneg",
        d=network["D"],
    )


def test_evaluations_are_history(sql, rejected, network):
    sql(
        "INSERT INTO evaluations (distributor_id, evaluated_on, initiative, credit) VALUES (:d, "
        "'2026-01-01', 3, 4)",
        d=network["D"],
    )
    rejected("UPDATE evaluations SET credit = 5", "evaluations_append_only")
    rejected("DELETE FROM evaluations", "evaluations_append_only")
    rejected(
        "INSERT INTO evaluations (distributor_id, evaluated_on, initiative, credit) "
        "VALUES (:d, '2026-01-01', 6, 4)",
        "evaluation_initiative_range",
        d=network["D"],
    )


def test_geotag_events_are_kept(sql, rejected, network):
    event = sql(
        "INSERT INTO geotag_events (outlet_id, new_location, source) "
        f"VALUES (:o, {pt(100.2, 20.2)}, 'gps') RETURNING id",
        o=network["R"],
    ).scalar_one()
    rejected("DELETE FROM geotag_events WHERE id = :e", "geotag_events_append_only", e=event)
    rejected(
        f"UPDATE geotag_events SET new_location = {pt(100.3, 20.3)} WHERE id = :e",
        "geotag_events_append_only",
        e=event,
    )
    sql("UPDATE geotag_events SET state = 'rejected', reviewed_at = now() WHERE id = :e", e=event)
    rejected(
        "INSERT INTO geotag_events (outlet_id, new_location, source, accuracy_m) "
        f"VALUES (:o, {pt(100.2, 20.2)}, 'gps', 'NaN')",
        "geotag_accuracy_nonneg",
        o=network["R"],
    )


def test_outlet_region_follows_its_location(sql, rejected, network):
    region = dict(sql("SELECT code, id FROM regions").all())

    def region_of(code):
        return sql("SELECT region_id FROM outlets WHERE code = :c", c=code).scalar_one()

    assert region_of("D") == region["C"]  # inside the city: the smallest region wins
    assert region_of("W2") == region["P"]  # in the province, outside the city
    sql(f"UPDATE outlets SET location = {pt(100.9, 20.9)} WHERE code = 'W2'")
    assert region_of("W2") == region["C"]
    sql(f"UPDATE outlets SET location = {pt(0, 0)} WHERE code = 'W2'")
    assert region_of("W2") is None
    sql(
        "UPDATE outlets SET region_id = :p WHERE code = 'D'", p=region["P"]
    )  # clients cannot override it
    assert region_of("D") == region["C"]


def test_region_changes_move_outlets(sql, rejected, network):
    region = dict(sql("SELECT code, id FROM regions").all())
    sql(
        "UPDATE regions SET boundary = ST_Multi(ST_MakeEnvelope(101, 20, 102, 21, 4326)) WHERE "
        "code = 'C'"
    )
    codes = dict(sql("SELECT code, region_id FROM outlets").all())
    assert codes["W2"] == region["C"] and codes["D"] == region["P"]
    sql("DELETE FROM regions WHERE code = 'C'")
    assert sql("SELECT count(*) FROM outlets WHERE region_id = :p", p=region["P"]).scalar_one() == 4


def test_region_area_is_measured_on_the_ellipsoid(sql, rejected, network):
    from pyproj import Geod
    from shapely.geometry import box

    area = sql("SELECT area_m2 FROM regions WHERE code = 'C'").scalar_one()
    reference, _ = Geod(ellps="WGS84").geometry_area_perimeter(box(100, 20, 101, 21))
    assert area == pytest.approx(abs(reference), rel=1e-6)


def test_version_bumps_on_every_update(sql, rejected, network):
    sql("UPDATE outlets SET name = 'renamed' WHERE code = 'R'")
    assert sql("SELECT version FROM outlets WHERE code = 'R'").scalar_one() == 2


def test_outlets_stored_before_their_region_get_it_when_it_is_loaded(sql):
    sql(
        "INSERT INTO outlets (code, name, tier, location) VALUES ('EARLY', 'e', 'retail', "
        f"{pt(50.5, 10.5)})"
    )
    assert sql("SELECT region_id FROM outlets WHERE code = 'EARLY'").scalar_one() is None
    region = sql(
        "INSERT INTO regions (code, name, level, boundary) VALUES ('LATE', 'l', 'province', "
        "ST_Multi(ST_MakeEnvelope(50, 10, 51, 11, 4326))) RETURNING id"
    ).scalar_one()
    assert sql("SELECT region_id FROM outlets WHERE code = 'EARLY'").scalar_one() == region


def test_parent_later_in_the_same_statement_is_refused(sql, rejected):
    rejected(
        "INSERT INTO outlets (id, code, name, tier, parent_id) OVERRIDING SYSTEM VALUE VALUES "
        "(900001, 'CHILD', 'c', 'distributor', 900002), (900002, 'PARENT', 'p', 'retail', NULL)",
        "outlet_parent_tier",
    )

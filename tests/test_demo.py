"""The demo network generator and ``geo-crm demo`` against real PostGIS."""

from __future__ import annotations

import datetime as dt

import pytest

from geo_crm.demo.generator import (
    clear_network,
    ensure_demo_users,
    fetch_areas,
    generate_network,
    tier_counts,
)
from geo_crm.errors import GeoCrmError, ValidationError

END = dt.date(2024, 6, 1)


def add_region(sql, code, name, level, wkt, parent=None):
    sql(
        "INSERT INTO regions (code, name, level, parent_id, boundary) SELECT :code, :name, "
        ":level, (SELECT id FROM regions WHERE code = :parent), "
        "ST_Multi(ST_GeomFromText(:wkt, 4326))",
        code=code,
        name=name,
        level=level,
        parent=parent,
        wkt=wkt,
    )


@pytest.fixture
def regions(sql):
    """A province with an L-shaped city, a square city and a small triangular one."""
    add_region(sql, "T0", "测试省", "province", "POLYGON((100 20, 102 20, 102 22, 100 22, 100 20))")
    for code, name, wkt in (
        (
            "T01",
            "甲市",
            "POLYGON((100 20, 101 20, 101 20.3, 100.3 20.3, 100.3 21, 100 21, 100 20))",
        ),
        ("T02", "乙市", "POLYGON((101 21, 102 21, 102 22, 101 22, 101 21))"),
        ("T03", "丙市", "POLYGON((100 21.5, 100.4 21.5, 100 21.9, 100 21.5))"),
    ):
        add_region(sql, code, name, "city", wkt, parent="T0")


def _snapshot(sql):
    return sql(
        "SELECT o.code, o.name, ST_AsText(o.location), p.code FROM outlets o "
        "LEFT JOIN outlets p ON p.id = o.parent_id ORDER BY o.code"
    ).all()


def test_generated_network_is_realistic_and_obeys_the_rules(session, sql, regions):
    report = generate_network(session, outlets=2000, seed=7, months=3, end_month=END)

    assert report.total_outlets == 2000
    assert report.outlets == dict(
        zip(
            ("distributor", "wholesaler_2", "wholesaler_3", "retail"),
            tier_counts(2000),
            strict=True,
        )
    )
    assert report.outlets == {
        "distributor": 20,
        "wholesaler_2": 80,
        "wholesaler_3": 200,
        "retail": 1700,
    }
    by_tier = dict(sql("SELECT tier, count(*) FROM outlets GROUP BY tier").all())
    assert by_tier == report.outlets
    assert sql("SELECT count(DISTINCT code) FROM outlets").scalar() == 2000
    assert sql("SELECT count(*) FROM outlets WHERE code !~ '^(D|W2|W3|R)[0-9]{6}$'").scalar() == 0

    # every geotagged outlet lies in a city it is assigned to; distributors always geotagged
    outside = sql(
        "SELECT count(*) FROM outlets o LEFT JOIN regions r ON r.id = o.region_id "
        "WHERE o.location IS NOT NULL AND (r.id IS NULL OR r.level <> 'city' "
        "OR NOT ST_Covers(r.boundary, o.location))"
    ).scalar()
    assert outside == 0
    untagged = sql(
        "SELECT count(*) FILTER (WHERE location IS NULL), "
        "count(*) FILTER (WHERE location IS NULL AND tier = 'distributor') "
        "FROM outlets"
    ).one()
    assert 30 <= untagged[0] <= 170 and untagged[1] == 0
    assert untagged[0] == report.untagged
    assert sql("SELECT count(*) FROM outlets WHERE status <> 'active'").scalar() > 0

    # parents: every non-distributor has one of a higher tier; a w2 buys in its own city
    assert (
        sql(
            "SELECT count(*) FROM outlets WHERE (tier = 'distributor') = (parent_id IS NOT NULL)"
        ).scalar()
        == 0
    )
    assert (
        sql(
            "SELECT count(*) FROM outlets c JOIN outlets p ON p.id = c.parent_id "
            "WHERE geo_crm_tier_rank(p.tier) >= geo_crm_tier_rank(c.tier)"
        ).scalar()
        == 0
    )
    assert (
        sql(
            "SELECT count(*) FROM outlets c JOIN outlets p ON p.id = c.parent_id "
            "WHERE c.tier = 'wholesaler_2' AND c.region_id <> p.region_id"
        ).scalar()
        == 0
    )
    assert (
        sql("SELECT count(DISTINCT parent_id) FROM outlets WHERE tier = 'wholesaler_3'").scalar()
        > 40
    )  # spread over many wholesalers, not piled on one

    # sales: down the tiers from each buyer's parent, 2-4 per outlet, in the 3 months, some debt
    n_sales, bad_tier, not_parent, debt, first, last = sql(
        "SELECT count(*), "
        "count(*) FILTER (WHERE geo_crm_tier_rank(s.tier) >= geo_crm_tier_rank(b.tier)), "
        "count(*) FILTER (WHERE b.parent_id <> s.id), count(*) FILTER (WHERE r.debt > 0), "
        "min(r.sale_date), max(r.sale_date) FROM sales_records r "
        "JOIN outlets s ON s.id = r.seller_id JOIN outlets b ON b.id = r.buyer_id"
    ).one()
    assert n_sales == report.sales_records and 4000 <= n_sales <= 8000
    assert bad_tier == 0 and not_parent == 0
    assert 0.05 <= debt / n_sales <= 0.30 and debt == report.records_with_debt
    assert first >= dt.date(2024, 4, 1) and last <= dt.date(2024, 6, 30)
    assert (
        sql(
            "SELECT count(*) FROM sales_records WHERE amount <= 0 OR quantity <= 0 OR spec IS NULL"
        ).scalar()
        == 0
    )

    # what was paid is the sum of dated payments, as if it had come through the payments API
    paid = sql(
        "SELECT count(*) FILTER (WHERE r.amount_paid <> COALESCE(p.total, 0)), "
        "count(p.total), min(p.first_paid - r.sale_date) FROM sales_records r LEFT JOIN "
        "(SELECT sales_record_id, sum(amount) AS total, min(paid_on) AS first_paid "
        "FROM payments GROUP BY 1) p ON p.sales_record_id = r.id"
    ).one()
    assert paid[0] == 0 and paid[1] > n_sales / 2 and paid[2] >= 0

    # plans: one per distributor × month × product
    plans = sql(
        "SELECT count(*), count(DISTINCT (p.distributor_id, p.month, p.product_id)), "
        "count(*) FILTER (WHERE o.tier <> 'distributor'), count(DISTINCT p.month) "
        "FROM sales_plans p JOIN outlets o ON o.id = p.distributor_id"
    ).one()
    assert plans == (20 * 3 * 10, 20 * 3 * 10, 0, 3) and report.plans == 600
    assert sql("SELECT count(*) FROM products").scalar() == report.products == 10


def test_same_seed_same_network_and_clear_removes_it(session, sql, regions):
    generate_network(session, outlets=300, seed=3, months=2, end_month=END)
    first = _snapshot(sql)
    sql(
        "INSERT INTO geotag_events (outlet_id, new_location, source) SELECT id, location, 'gps' "
        "FROM outlets WHERE location IS NOT NULL LIMIT 3"
    )
    sql(
        "INSERT INTO evaluations (distributor_id, evaluated_on, initiative, credit) "
        "SELECT id, '2024-01-01', 3, 4 FROM outlets WHERE tier = 'distributor' LIMIT 2"
    )

    clear_network(session)
    for table in ("outlets", "sales_records", "sales_plans", "geotag_events", "evaluations"):
        assert sql(f"SELECT count(*) FROM {table}").scalar() == 0, table

    generate_network(session, outlets=300, seed=3, months=2, end_month=END)
    assert _snapshot(sql) == first
    clear_network(session)
    generate_network(session, outlets=300, seed=4, months=2, end_month=END)
    assert _snapshot(sql) != first


def test_region_codes_limit_the_network(session, sql, regions):
    report = generate_network(
        session, outlets=200, seed=1, region_codes=["T02"], months=1, end_month=END
    )
    assert report.regions == 1
    assert sql(
        "SELECT DISTINCT r.code FROM outlets o JOIN regions r ON r.id = o.region_id"
    ).scalars().all() == ["T02"]


@pytest.fixture
def districts(sql, regions):
    """乙市 split into two districts; 甲市 has one district covering its bottom bar only."""
    for code, city, wkt in (
        ("T0201", "T02", "POLYGON((101 21, 101.5 21, 101.5 22, 101 22, 101 21))"),
        ("T0202", "T02", "POLYGON((101.5 21, 102 21, 102 22, 101.5 22, 101.5 21))"),
        ("T0101", "T01", "POLYGON((100 20, 101 20, 101 20.3, 100 20.3, 100 20))"),
    ):
        add_region(sql, code, f"{code}区", "district", wkt, parent=city)


def test_with_districts_outlets_are_placed_per_city_and_land_in_its_districts(
    session, sql, districts
):
    assert [a.code for a in fetch_areas(session)] == ["T01", "T02", "T03"]
    assert [a.code for a in fetch_areas(session, ["T02"])] == ["T02"]
    assert [a.province for a in fetch_areas(session)] == ["测试省"] * 3
    report = generate_network(session, outlets=2000, seed=7, months=1, end_month=END)
    assert report.regions == 3
    city_of = "CASE WHEN r.level = 'district' THEN r.parent_id ELSE r.id END"
    by_level = dict(
        sql(
            "SELECT r.level, count(*) FROM outlets o JOIN regions r ON r.id = o.region_id "
            "GROUP BY r.level"
        ).all()
    )
    assert by_level["district"] > 1000 and by_level["city"] > 0  # 甲市 is partly covered
    # every outlet lies in its region, a district of a city or the city itself
    outside = sql(
        "SELECT count(*) FROM outlets o JOIN regions r ON r.id = o.region_id "
        "WHERE NOT ST_Covers(r.boundary, o.location) OR r.level NOT IN ('city', 'district')"
    ).scalar()
    assert outside == 0
    # a wholesaler_2 buys from a distributor of its own city, whatever the districts
    assert (
        sql(
            f"SELECT count(*) FROM outlets c JOIN outlets p ON p.id = c.parent_id "
            f"JOIN regions r ON r.id = c.region_id JOIN regions pr ON pr.id = p.region_id "
            f"WHERE c.tier = 'wholesaler_2' "
            f"AND {city_of} <> {city_of.replace('r.', 'pr.')}"
        ).scalar()
        == 0
    )
    created = ensure_demo_users(session, "pw-pw-pw-pw")
    assert created == ["admin", "manager", "rep"]
    assert sql(
        "SELECT r.code FROM user_regions ur JOIN users u ON u.id = ur.user_id "
        "JOIN regions r ON r.id = ur.region_id WHERE u.username = 'manager'"
    ).scalars().all() == ["T0"]  # the busiest city's province
    busiest = sql(
        f"SELECT c.code FROM outlets o JOIN regions r ON r.id = o.region_id "
        f"JOIN regions c ON c.id = {city_of} GROUP BY c.code ORDER BY count(*) DESC LIMIT 1"
    ).scalar()
    rep_cities = (
        sql(
            f"SELECT DISTINCT c.code FROM outlets o JOIN users u ON u.id = o.rep_id "
            f"LEFT JOIN outlets p ON p.id = o.parent_id "
            f"JOIN regions r ON r.id = coalesce(o.region_id, p.region_id) "
            f"JOIN regions c ON c.id = {city_of} WHERE u.username = 'rep'"
        )
        .scalars()
        .all()
    )
    assert rep_cities == [busiest]  # 60 outlets of the busiest city, over its districts
    assert sql("SELECT count(*) FROM outlets o JOIN users u ON u.id = o.rep_id").scalar() == 60


def test_demo_command_generates_reuses_and_resets(cli, sql, regions):
    result = cli.invoke(args=["demo", "--no-serve", "--outlets", "500"])
    assert result.exit_code == 0, result.output
    assert "500 outlets" in result.output and "sales records" in result.output
    assert sql("SELECT count(*) FROM outlets").scalar() == 500
    assert "demo users admin, manager, rep created" in result.output
    roles = dict(sql("SELECT username, role FROM users").all())
    assert {roles[u] for u in ("admin", "manager", "rep")} == {"admin", "manager", "rep"}
    assert (
        sql(
            "SELECT count(*) FROM user_regions ur JOIN users u ON u.id = ur.user_id "
            "WHERE u.username = 'manager'"
        ).scalar()
        == 1
    )
    rep_outlets = (
        "SELECT count(*) FROM outlets o JOIN users u ON u.id = o.rep_id WHERE u.username = 'rep'"
    )
    assert sql(rep_outlets).scalar() > 0
    before = _snapshot(sql)

    result = cli.invoke(args=["demo", "--no-serve", "--outlets", "500"])
    assert result.exit_code == 0, result.output
    assert "reusing the 500 outlets" in result.output
    assert _snapshot(sql) == before

    result = cli.invoke(args=["demo", "--no-serve", "--outlets", "400", "--seed", "9", "--reset"])
    assert result.exit_code == 0, result.output
    assert "deleting 500 outlets" in result.output and "400 outlets" in result.output
    assert sql("SELECT count(*) FROM outlets").scalar() == 400
    assert sql(rep_outlets).scalar() > 0  # the regenerated network is handed to the rep again
    assert (
        sql(
            "SELECT count(*) FROM sales_records r LEFT JOIN outlets o ON o.id = r.buyer_id "
            "WHERE o.id IS NULL"
        ).scalar()
        == 0
    )


def test_generator_needs_regions_and_a_sensible_size(session, regions, sql):
    with pytest.raises(ValidationError):
        generate_network(session, outlets=5)
    with pytest.raises(ValidationError, match="NOPE"):
        generate_network(session, outlets=100, region_codes=["NOPE"])
    sql("DELETE FROM regions WHERE level = 'city'")
    sql("DELETE FROM regions")
    with pytest.raises(GeoCrmError, match="load region boundaries"):
        generate_network(session, outlets=100)


def test_every_distributor_gets_its_city_as_territory_and_breadth_is_not_trivial(
    session, sql, districts
):
    from geo_crm.analysis.distribution import distributor_depth

    generate_network(session, outlets=1000, seed=3, months=1, end_month=END)
    rows = sql(
        "SELECT o.code, r.code, r.level, o.region_id = r.id OR p.id = r.id AS own_city "
        "FROM outlets o JOIN distributor_territories t ON t.distributor_id = o.id "
        "JOIN regions r ON r.id = t.region_ids[1] JOIN regions x ON x.id = o.region_id "
        "LEFT JOIN regions p ON p.id = x.parent_id ORDER BY o.code"
    ).all()
    n_distributors = sql("SELECT count(*) FROM outlets WHERE tier = 'distributor'").scalar()
    assert len(rows) == n_distributors == 10
    assert all(level == "city" and own for _, _, level, own in rows)
    for code, city, _, _ in rows:
        wide = distributor_depth(session, code).territory_breadth
        assert wide.basis == "assigned" and wide.regions == [city]
        assert wide.cells > 1 and wide.cell_share < 1  # no trivial 100 %
        if city == "T02":  # over its two districts
            assert [u.code for u in wide.units] == ["T0201", "T0202"]


def test_the_running_month_gets_only_the_share_of_buying_its_days_allow(session, regions):
    """On 6 June only 6 of June's 30 days have passed: June gets that share of a month's
    buying, not a whole month's crammed into six days (every distributor looked far ahead of
    its plan early in a month)."""
    from geo_crm.demo.generator import SEASON, build_network

    areas = fetch_areas(session)
    net = build_network(
        areas, outlets=3000, seed=5, months=3, end_month=END, today=dt.date(2024, 6, 6)
    )
    dates = net.sale_date.astype("datetime64[D]").astype(object)
    june = sum(1 for d in dates if d >= dt.date(2024, 6, 1))
    assert all(d <= dt.date(2024, 6, 6) for d in dates)
    april, may, june_weight = SEASON[3], SEASON[4], SEASON[5] * 6 / 30
    expected = june_weight / (april + may + june_weight)  # about 11 %, a whole June 38 %
    assert abs(june / len(dates) - expected) < 0.03

"""Cross-territory sales (窜货) detected over the whole history (analysis.cross_selling.detect_all,
pairs judged once against the territory parts of migration 0014) give every record exactly the
flags, detail and review state the per-record check gives it (migration 0012's trigger, which
judges one record as it is written), on a small network holding every case: inside, outside
the territory, into another network, both, no network, an untagged buyer, buyers on a border
(a vertex of one), a drawn polygon territory and a region-set territory, both big enough to be cut
into parts, a distributor without territory, sell-in, and stale or unrelated flags. The
detection judges the (seller, buyer) pair rollup of migration 0017, which must stay equal to
the records through its writes; a pair partly flagged is found and mended."""

from __future__ import annotations

import shapely
from analysis_helpers import add_outlet, add_product, add_region, box_wkt
from cross_parallel_fixtures import (  # noqa: F401 (fixtures: each test in one session and two)
    committed_engine,
    committed_template,
    connection,
    detect_workers,
    detections,
    one_or_two_sessions,
)

from geo_crm.analysis.cross_selling import detect_all
from geo_crm.domain import territories

# D1's drawn territory: a disc of 0.25° around (120.25, 30.25) drawn with 2,000 vertices (cut
# into many parts); (120.5, 30.25) is one of them
D1_POLYGON = shapely.geometry.mapping(shapely.Point(120.25, 30.25).buffer(0.25, quad_segs=500))

OUTLETS = [  # code, tier, lon, lat, parent
    ("D1", "distributor", 120.2, 30.2, None),  # polygon territory
    ("D2", "distributor", 121.5, 30.5, None),  # territory: region C2
    ("D3", "distributor", 122.5, 31.5, None),  # no territory
    ("W1", "wholesaler_2", 120.3, 30.3, "D1"),
    ("W2", "wholesaler_2", 121.4, 30.4, "D2"),
    ("R1", "retail", 120.1, 30.1, "W1"),  # D1's, inside its disc
    ("R2", "retail", 120.9, 30.9, "W1"),  # D1's, outside its disc
    ("R3", "retail", 121.2, 30.2, "W2"),  # D2's, inside C2
    ("R4", "retail", 120.4, 30.4, "W2"),  # D2's, inside D1's disc
    ("R5", "retail", 123.0, 29.5, None),  # no network, outside everything
    ("R6", "retail", None, None, "W2"),  # D2's, untagged
    ("R7", "retail", 120.5, 30.25, "W1"),  # on D1's border, a vertex
    ("R8", "retail", 122.0, 30.5, "W2"),  # on C2's east border
    ("R9", "retail", 121.0, 30.5, None),  # on C2's west border, no network
]

SALES = [  # seller, buyer: (flags after the detection)
    (None, "D1", []),  # sell-in
    ("D1", "W1", []),
    ("D1", "W2", ["other_network", "outside_territory"]),
    ("W1", "R1", []),
    ("W1", "R2", ["outside_territory"]),
    ("W1", "R3", ["other_network", "outside_territory"]),
    ("W1", "R4", ["other_network"]),
    ("W1", "R5", ["outside_territory"]),
    ("W1", "R6", ["other_network"]),
    ("W1", "R7", []),
    ("W1", "R9", ["outside_territory"]),
    ("W2", "R9", []),
    ("W2", "R3", []),
    ("W2", "R1", ["other_network", "outside_territory"]),
    ("W2", "R8", []),
    ("W2", "R5", ["outside_territory"]),
    ("D3", "R3", ["other_network"]),
    ("D3", "R5", []),
]


PAIRS = "SELECT seller_id, buyer_id, records, other_network, outside_territory FROM sales_pairs"
EXPECTED_PAIRS = """
    SELECT seller_id, buyer_id, count(*),
           count(*) FILTER (WHERE 'other_network' = ANY(flags)),
           count(*) FILTER (WHERE 'outside_territory' = ANY(flags))
      FROM sales_records WHERE seller_id IS NOT NULL GROUP BY 1, 2"""


def _pairs_exact(sql) -> None:
    assert {tuple(r) for r in sql(PAIRS).all()} == {tuple(r) for r in sql(EXPECTED_PAIRS).all()}


def _state(sql) -> dict:
    return {
        r.id: (list(r.flags), r.flag_detail, r.review_state)
        for r in sql("SELECT id, flags, flag_detail, review_state FROM sales_records").all()
    }


def test_detection_over_the_history_equals_the_per_record_check(session, sql):
    add_region(sql, "P", box_wkt(119, 29, 124, 32))
    add_region(sql, "C1", box_wkt(120, 30, 121, 31), level="city", parent="P")
    add_region(sql, "C2", box_wkt(121, 30, 122, 31), level="city", parent="P")
    add_product(sql, "A")
    for code, tier, lon, lat, parent in OUTLETS:
        add_outlet(sql, code, tier, lon, lat, parent=parent)
    for day in ("2025-03-01", "2025-04-15"):  # two records per pair
        for seller, buyer, _ in SALES:
            sql(
                "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, "
                "quantity, amount) SELECT (SELECT id FROM outlets WHERE code = :s), "
                "(SELECT id FROM outlets WHERE code = :b), CAST(:d AS date), "
                "(SELECT id FROM products WHERE sku = 'A'), 1, 10",
                s=seller,
                b=buyer,
                d=day,
            )
    # stale and unrelated flags: a hand-set other_network no rule supports, and a reviewed
    # over_credit_limit on a record that also crosses
    sql(
        "UPDATE sales_records SET flags = '{other_network}', review_state = 'accepted' "
        "WHERE sale_date = '2025-03-01' AND buyer_id = (SELECT id FROM outlets WHERE code = 'R1')"
        " AND seller_id = (SELECT id FROM outlets WHERE code = 'W1')"
    )
    sql(
        "UPDATE sales_records SET flags = flags || '{over_credit_limit}', "
        'flag_detail = \'{"over_credit_limit": {"limit": "1.00"}}\', review_state = \'accepted\''
        " WHERE sale_date = '2025-04-15' AND buyer_id = (SELECT id FROM outlets WHERE code = 'R2')"
    )
    territories.set_territory(session, "D1", polygon=D1_POLYGON)
    territories.set_territory(session, "D2", regions=["C2"])
    parts = sql("SELECT distributor_id, count(*) FROM distributor_territory_parts GROUP BY 1").all()
    assert len(parts) == 2 and max(n for _, n in parts) > 4  # the disc cut into parts

    found = detect_all(session)
    assert found.changed > 0
    detected = _state(sql)
    _pairs_exact(sql)
    assert found.flagged_total == {
        flag: sum(flag in f for f, _, _ in detected.values())
        for flag in ("outside_territory", "other_network")
    }

    # the per-record check: migration 0012's trigger judges each record again as if written
    sql("UPDATE sales_records SET seller_id = seller_id WHERE seller_id IS NOT NULL")
    assert _state(sql) == detected
    assert detect_all(session).changed == 0
    _pairs_exact(sql)

    # a pair partly flagged (one of its two records' flags lost by hand) is found and mended
    sql(
        "UPDATE sales_records SET flags = '{}', flag_detail = '{}', review_state = NULL "
        "WHERE id = (SELECT min(id) FROM sales_records WHERE 'outside_territory' = ANY(flags) "
        "AND NOT 'over_credit_limit' = ANY(flags))"
    )
    assert detect_all(session).changed == 1
    assert _state(sql) == detected
    _pairs_exact(sql)

    code = dict(sql("SELECT id, code FROM outlets").all())
    for row in sql(
        "SELECT seller_id, buyer_id, flags, flag_detail, review_state FROM sales_records"
    ).all():
        pair = (code.get(row.seller_id), code[row.buyer_id])
        expected = next(f for s, b, f in SALES if (s, b) == pair)
        assert [f for f in row.flags if f != "over_credit_limit"] == expected, pair
        if "outside_territory" in expected:
            assert row.flag_detail["outside_territory"]["distance_m"] > 0
        if "other_network" in expected:
            assert row.flag_detail["other_network"]["buyer_distributor"] in ("D1", "D2")
        if row.flags:
            assert row.review_state in ("pending", "accepted")
        else:
            assert row.review_state is None and row.flag_detail == {}
    kept = sql(
        "SELECT flags, review_state FROM sales_records WHERE 'over_credit_limit' = ANY(flags)"
    ).one()
    assert kept.flags == ["over_credit_limit", "outside_territory"]
    assert kept.review_state == "pending"  # its flags changed: back in the review list


def test_a_territory_change_is_found_by_the_recheck(session, sql):
    """Records kept before a territory was set, then after it grew: the re-check flags them,
    then clears what the larger territory covers, as the per-record check would."""
    add_region(sql, "P", box_wkt(119, 29, 124, 32))
    add_product(sql, "A")
    add_outlet(sql, "D1", "distributor", 120.2, 30.2)
    add_outlet(sql, "W1", "wholesaler_2", 120.3, 30.3, parent="D1")
    add_outlet(sql, "R1", "retail", 120.1, 30.1, parent="W1")
    add_outlet(sql, "R2", "retail", 120.9, 30.9, parent="W1")
    for buyer in ("R1", "R2", "R2"):
        sql(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount) SELECT (SELECT id FROM outlets WHERE code = 'W1'), "
            "(SELECT id FROM outlets WHERE code = :b), DATE '2025-03-01', "
            "(SELECT id FROM products WHERE sku = 'A'), 1, 10",
            b=buyer,
        )
    assert detect_all(session).changed == 0  # no territory yet
    territories.set_territory(session, "D1", polygon=D1_POLYGON)
    first = detect_all(session)
    assert (first.changed, first.outside_territory) == (2, 2)
    assert first.flagged_total == {"outside_territory": 2, "other_network": 0}
    _pairs_exact(sql)
    wider = shapely.geometry.mapping(shapely.Point(120.5, 30.5).buffer(0.6, quad_segs=200))
    territories.set_territory(session, "D1", polygon=wider)
    again = detect_all(session)
    assert (again.changed, again.outside_territory) == (2, 0)
    assert sql("SELECT count(*) FROM sales_records WHERE review_state IS NOT NULL").scalar() == 0
    _pairs_exact(sql)
    detected = _state(sql)
    sql("UPDATE sales_records SET seller_id = seller_id")  # the per-record check agrees
    assert _state(sql) == detected


def test_territory_parts_follow_the_territory(session, sql):
    add_region(sql, "C2", box_wkt(121, 30, 122, 31), level="city")
    add_outlet(sql, "D1", "distributor", 121.5, 30.5)
    territories.set_territory(session, "D1", polygon=D1_POLYGON)
    union = "SELECT ST_Area(ST_Union(geom)) FROM distributor_territory_parts"
    assert abs(sql(union).scalar_one() - shapely.geometry.shape(D1_POLYGON).area) < 1e-9
    assert sql("SELECT max(ST_NPoints(geom)) FROM distributor_territory_parts").scalar_one() <= 128
    territories.set_territory(session, "D1", regions=["C2"])
    assert abs(sql(union).scalar_one() - 1.0) < 1e-9
    covered = (
        "SELECT ST_Equals(ST_Union(p.geom), t.geom) FROM distributor_territory_parts p "
        "JOIN distributor_territories t USING (distributor_id) GROUP BY t.geom"
    )
    assert sql(covered).scalar_one()
    sql("DELETE FROM distributor_territories")
    assert sql("SELECT count(*) FROM distributor_territory_parts").scalar_one() == 0

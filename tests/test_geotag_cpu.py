"""Migration 0025: a move that stays in the same hexagon at every zoom skips the grouped delta
of the hexagon-bin trigger, and the bins and totals are what they were before.

``geo_crm_hex_same`` must agree with ``geo_crm_hex_cells`` (what the bins are made of) on every
pair of points, above all on pairs a few metres apart around hexagon edges; the trigger's
result must equal a rebuild after single moves (the new path) and bulk moves (the old one).
"""

from __future__ import annotations

from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # world

# pairs of points: random positions over China and beyond, each moved by 1 m to 20 km in a
# random direction (Web Mercator metres), so that many pairs straddle an edge at some zoom;
# plus the points of the same pair swapped, identical points and NULLs
_PAIRS = """
WITH p AS (
  SELECT k, ST_Transform(ST_SetSRID(ST_MakePoint(70 + 65 * random(), 15 + 40 * random()), 4326),
                         3857) AS m,
         exp(ln(20000) * random()) AS d, 2 * pi() * random() AS a
    FROM generate_series(1, :n) AS k
)
SELECT k, ST_Transform(m, 4326) AS a,
       ST_Transform(ST_Translate(m, d * cos(a), d * sin(a)), 4326) AS b
  FROM p
"""

_CELLS = (
    "(SELECT array_agg(ARRAY[c.i, c.j] ORDER BY c.z) FROM geo_crm_hex_cells("
    "ST_X(ST_Transform({g}, 3857)), ST_Y(ST_Transform({g}, 3857))) c)"
)


def test_same_hexagons_agrees_with_the_cells_of_the_bins(sql):
    rows = sql(
        f"SELECT geo_crm_hex_same(a, b), geo_crm_hex_same(b, a), "
        f"{_CELLS.format(g='a')} = {_CELLS.format(g='b')} FROM ({_PAIRS}) pairs",
        n=4000,
    ).all()
    assert all(same == swapped == cells for same, swapped, cells in rows)
    same = sum(1 for row in rows if row[0])
    assert 200 < same < len(rows) - 200  # both answers well represented


def test_same_hexagons_of_identical_points_and_nulls(sql):
    point = "ST_SetSRID(ST_MakePoint(120.1, 30.1), 4326)"
    assert sql(f"SELECT geo_crm_hex_same({point}, {point})").scalar_one() is True
    assert sql(f"SELECT geo_crm_hex_same({point}, NULL)").scalar_one() is False
    assert sql(f"SELECT geo_crm_hex_same(NULL, {point})").scalar_one() is False
    assert sql("SELECT geo_crm_hex_same(NULL, NULL)").scalar_one() is True


def _bins(connection):
    return connection.execute(
        text("SELECT z, i, j, region_id, tier, outlets FROM outlet_hex_bins ORDER BY 1, 2, 3, 4, 5")
    ).all()


def _totals(connection):
    return connection.execute(
        text("SELECT region_id, tier, outlets FROM region_outlet_totals ORDER BY 1, 2")
    ).all()


def _equal_to_a_rebuild(connection):
    bins, totals = _bins(connection), _totals(connection)
    connection.execute(text("SELECT geo_crm_outlet_bins_rebuild()"))
    assert bins == _bins(connection)
    assert totals == _totals(connection)


def _ctids(connection):
    return connection.execute(text("SELECT ctid::text FROM outlet_hex_bins ORDER BY 1")).all()


def _move(connection, code, lon, lat):
    connection.execute(
        text(
            "UPDATE outlets SET location = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) "
            "WHERE code = :c"
        ),
        {"lon": lon, "lat": lat, "c": code},
    )


def test_a_move_within_its_hexagons_writes_no_bin(connection, world):
    _equal_to_a_rebuild(connection)
    lon, lat = connection.execute(
        text("SELECT ST_X(location), ST_Y(location) FROM outlets WHERE code = 'A1'")
    ).one()
    before = _ctids(connection)
    _move(connection, "A1", lon + 0.00003, lat + 0.00003)  # a few metres
    assert _ctids(connection) == before  # no bin row rewritten
    _equal_to_a_rebuild(connection)


def test_single_moves_across_hexagons_and_regions_equal_a_rebuild(connection, world):
    _equal_to_a_rebuild(connection)
    for lon, lat in [(120.45, 30.8), (120.7, 30.2), (122.5, 30.7), (120.2, 30.2)]:
        _move(connection, "A1", lon, lat)
        _equal_to_a_rebuild(connection)
    connection.execute(text("UPDATE outlets SET location = NULL WHERE code = 'A2'"))
    _equal_to_a_rebuild(connection)
    _move(connection, "A2", 120.25, 30.25)
    _equal_to_a_rebuild(connection)
    connection.execute(text("UPDATE outlets SET status = 'closed' WHERE code = 'B1'"))
    _equal_to_a_rebuild(connection)


def test_bulk_moves_take_the_grouped_path_and_equal_a_rebuild(connection, world):
    """Past 64 rows every moved row goes to bins_add: small and large moves, one statement."""
    region = connection.execute(text("SELECT id FROM regions WHERE code = 'C1'")).scalar_one()
    connection.execute(
        text(
            "INSERT INTO outlets (code, name, tier, location) SELECT 'BULK' || k, 'bulk ' || k, "
            "'retail', ST_SetSRID(ST_MakePoint(120.1 + k * 0.003, 30.1 + k * 0.002), 4326) "
            "FROM generate_series(1, 100) k"
        )
    )
    assert (
        connection.execute(
            text("SELECT count(*) FROM outlets WHERE code LIKE 'BULK%' AND region_id = :r"),
            {"r": region},
        ).scalar_one()
        == 100
    )
    _equal_to_a_rebuild(connection)
    connection.execute(
        text(
            "UPDATE outlets SET location = ST_SetSRID(ST_MakePoint(ST_X(location) + "
            "CASE WHEN id % 2 = 0 THEN 0.00002 ELSE 0.05 END, ST_Y(location)), 4326) "
            "WHERE code LIKE 'BULK%'"
        )
    )
    _equal_to_a_rebuild(connection)


def test_the_jump_on_the_ellipsoid_is_the_geography_distance(sql):
    """The tag's jump (ST_DistanceSpheroid with WGS 84 given) against ST_Distance of the two
    points as geographies, as the tag computed it before: equal to a few nanometres, so the
    flag (over max_jump_m) and the rounded metres stored agree."""
    from geo_crm.domain.geotagging import _WGS84

    spheroid = str(_WGS84)
    rows = sql(
        f"SELECT ST_Distance(a::geography, b::geography), ST_DistanceSpheroid(a, b, {spheroid}) "
        f"FROM ({_PAIRS}) pairs",
        n=4000,
    ).all()
    assert max(abs(g - s) for g, s in rows) < 1e-6
    assert [round(g) for g, _ in rows] == [round(s) for _, s in rows]


def test_the_tag_statement_reads_the_old_region_once(connection, world):
    """The outside-region test and the old region's code are computed once in the verdict (a
    fence keeps the subquery from being copied into each use): one scan of region_parts and
    two look-ups of a region's code in the plan, not two and three."""
    import datetime as dt
    import json

    from geo_crm.domain.geotagging import _tag_stmt

    statement = _tag_stmt("rep")
    values = {
        **statement.defaults,
        "code": "A1",
        "scope_uid": world["r1"],
        "version": 1,
        "lon": 120.2,
        "lat": 30.2,
        "accuracy_m": 8.0,
        "source": "gps",
        "crs": "wgs84",
        "user_id": world["r1"],
        "captured_at": dt.datetime.now(dt.UTC),
        "radius_m": 50.0,
        "radius_deg": 0.001,
        "max_jump_m": 500.0,
        "checked": None,
        "dup_flags": [],
    }
    plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement.sql, values).scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    scans: list[str] = []

    def walk(node):
        if "Relation Name" in node:
            scans.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    assert scans.count("region_parts") == 1
    assert scans.count("regions") == 2

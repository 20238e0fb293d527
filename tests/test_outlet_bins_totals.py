"""The hexagon-bin trigger skips the region totals when no (region, tier) gains or loses an
outlet (migration 0019): a move inside a region leaves them untouched, one across regions
moves its count, and bins and totals equal a rebuild after each."""

from __future__ import annotations

from sqlalchemy import text

pytest_plugins = ["auth_fixtures"]  # world


def _bins(connection):
    return connection.execute(
        text("SELECT z, i, j, region_id, tier, outlets FROM outlet_hex_bins ORDER BY 1, 2, 3, 4, 5")
    ).all()


def _totals(connection):
    """The totals with each row's tuple id: a row the trigger rewrote moves."""
    return connection.execute(
        text(
            "SELECT r.code, t.tier, t.outlets, t.ctid::text AS ctid FROM region_outlet_totals t "
            "JOIN regions r ON r.id = t.region_id WHERE t.outlets <> 0 ORDER BY 1, 2"
        )
    ).all()


def _equal_to_a_rebuild(connection):
    bins = _bins(connection)
    totals = [row[:3] for row in _totals(connection)]
    connection.execute(text("SELECT geo_crm_outlet_bins_rebuild()"))
    assert bins == _bins(connection)
    assert totals == [row[:3] for row in _totals(connection)]


def _move(connection, code, lon, lat):
    connection.execute(
        text(
            "UPDATE outlets SET location = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) "
            "WHERE code = :c"
        ),
        {"lon": lon, "lat": lat, "c": code},
    )


def test_a_move_inside_its_region_leaves_the_totals_alone(connection, world):
    _equal_to_a_rebuild(connection)
    bins, totals = _bins(connection), _totals(connection)
    _move(connection, "A1", 120.45, 30.8)  # other hexagons, still in C1
    assert _bins(connection) != bins
    assert _totals(connection) == totals  # not even rewritten
    _equal_to_a_rebuild(connection)


def test_a_move_across_regions_moves_the_totals(connection, world):
    _equal_to_a_rebuild(connection)
    before = {(r.code, r.tier): r.outlets for r in _totals(connection)}
    _move(connection, "A1", 120.7, 30.2)  # from C1 to C2, both in P1
    after = {(r.code, r.tier): r.outlets for r in _totals(connection)}
    assert after[("C1", "retail")] == before[("C1", "retail")] - 1
    assert after[("C2", "retail")] == before.get(("C2", "retail"), 0) + 1
    assert after[("P1", "retail")] == before[("P1", "retail")]
    _equal_to_a_rebuild(connection)
    _move(connection, "A1", 122.5, 30.7)  # to the other province
    _equal_to_a_rebuild(connection)

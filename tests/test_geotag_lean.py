"""Migration 0022: what a geotag writes is what some query reads.

geotag_events keeps the indexes its queries use (each checked with the planner below) and no
other: no GiST index on the old or new location (nothing searches events in space), none on
created_at alone, and the reviewer index holds reviewed events only. The point checks refuse
what they refused before (tests/test_schema_rules.py).
"""

from __future__ import annotations

import json

import pytest
from auth_helpers import add_user

pytest_plugins = ["auth_fixtures"]

KEPT = {
    "geotag_events_pkey": "(id)",
    "ix_geotag_events_outlet_id": "(outlet_id, created_at)",
    "ix_geotag_events_user_id": "(user_id)",
    "ix_geotag_events_reviewed_by_id": "(reviewed_by_id) WHERE (reviewed_by_id IS NOT NULL)",
    "ix_geotag_events_flagged": "(state) WHERE ((state)::text = 'flagged'::text)",
}


def test_geotag_events_keep_only_the_indexes_queries_read(sql):
    rows = sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'geotag_events'")
    found = {name: definition for name, definition in rows}
    assert set(found) == set(KEPT)
    for name, tail in KEPT.items():
        assert found[name].endswith("USING btree " + tail), found[name]


def _indexes_used(sql, statement: str, **params) -> set[str]:
    sql("SET LOCAL enable_seqscan = off")  # the tables are tiny: ask what it *could* use
    try:
        plan = sql(f"EXPLAIN (FORMAT JSON) {statement}", **params).scalar_one()
    finally:
        sql("RESET enable_seqscan")
    plan = plan if isinstance(plan, list) else json.loads(plan)
    used: set[str] = set()

    def walk(node):
        if "Index Name" in node:
            used.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return used


@pytest.mark.parametrize(
    "statement, index",
    [
        # domain/geotagging.history_points and outlet_history: one outlet's events
        (
            "SELECT id FROM geotag_events WHERE outlet_id = 1 ORDER BY created_at, id",
            "ix_geotag_events_outlet_id",
        ),
        # domain/outlet_layers: the last live tag of the outlets shown
        (
            "SELECT outlet_id, max(created_at) FROM geotag_events "
            "WHERE outlet_id = ANY(ARRAY[1, 2]) AND state <> 'rejected' GROUP BY outlet_id",
            "ix_geotag_events_outlet_id",
        ),
        # domain/geotagging.review_queue: flagged, oldest first
        (
            "SELECT id FROM geotag_events WHERE state = 'flagged' ORDER BY id LIMIT 100",
            "ix_geotag_events_flagged",
        ),
        # users' ON DELETE SET NULL (the foreign keys' own statements)
        (
            "UPDATE geotag_events SET reviewed_by_id = NULL WHERE 7 = reviewed_by_id",
            "ix_geotag_events_reviewed_by_id",
        ),
        (
            "UPDATE geotag_events SET user_id = NULL WHERE 7 = user_id",
            "ix_geotag_events_user_id",
        ),
    ],
)
def test_each_query_of_geotag_events_has_its_index(sql, statement, index):
    assert index in _indexes_used(sql, statement)


def test_a_deleted_reviewer_is_cleared_from_the_events_they_reviewed(sql, connection, world):
    reviewer = add_user(connection, "reviewer-gone", "manager")
    outlet = sql("SELECT id FROM outlets WHERE code = 'A1'").scalar_one()
    point = "ST_SetSRID(ST_MakePoint(120.2, 30.2), 4326)"
    reviewed, other = (
        sql(
            "INSERT INTO geotag_events (outlet_id, new_location, source, state, user_id) "
            f"VALUES (:o, {point}, 'gps', 'flagged', :u) RETURNING id",
            o=outlet,
            u=world["r1"],
        ).scalar_one()
        for _ in range(2)
    )
    sql(
        "UPDATE geotag_events SET state = 'accepted', reviewed_by_id = :r, reviewed_at = now() "
        "WHERE id = :e",
        r=reviewer,
        e=reviewed,
    )
    sql("DELETE FROM users WHERE id = :r", r=reviewer)
    rows = dict(
        sql(
            "SELECT id, reviewed_by_id FROM geotag_events WHERE id IN (:a, :b)", a=reviewed, b=other
        ).all()
    )
    assert rows == {reviewed: None, other: None}
    assert sql("SELECT state FROM geotag_events WHERE id = :e", e=reviewed).scalar_one() == (
        "accepted"
    )

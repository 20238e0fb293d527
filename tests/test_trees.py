"""The two tree helpers: ``domain.regions.region_tree`` and ``domain.network.outlet_tree``.

Their SQL shapes (what the hot statements are built from: tests/test_hot_sql.py holds those
byte for byte) and their results on a three-level region tree (country → provinces → cities)
and a four-tier outlet chain (distributor → wholesaler_2 → wholesaler_3 → retail): walks down
and up, depth, UNION against UNION ALL, carried columns, the depth guard."""

from __future__ import annotations

import pytest
from auth_helpers import add_outlet, add_region, add_user
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql.psycopg import dialect

from geo_crm.domain.access import managed_region_ids
from geo_crm.domain.network import (
    MAX_NETWORK_DEPTH,
    OUTLETS,
    downstream_cte,
    outlet_tree,
    upstream_cte,
)
from geo_crm.domain.regions import (
    MAX_REGION_DEPTH,
    REGIONS,
    region_subtree,
    region_tree,
    subtree_by_child,
)
from geo_crm.models import UserRegion


def sql(stmt) -> str:
    return str(stmt.compile(dialect=dialect()))


@pytest.fixture
def regions(connection):
    """CN ⊃ P1 ⊃ {C1, C2}; CN ⊃ P2 ⊃ {C3}."""
    add_region(connection, "CN", "country", (100, 20, 130, 50))
    add_region(connection, "P1", "province", (120, 30, 121, 31), parent="CN")
    add_region(connection, "C1", "city", (120, 30, 120.5, 31), parent="P1")
    add_region(connection, "C2", "city", (120.5, 30, 121, 31), parent="P1")
    add_region(connection, "P2", "province", (122, 30, 123, 31), parent="CN")
    add_region(connection, "C3", "city", (122, 30, 123, 31), parent="P2")
    rows = connection.execute(text("SELECT code, id FROM regions")).all()
    return dict(rows)


@pytest.fixture
def chain(connection):
    """D → W2 → W3 → R (one chain of every tier) and a second retail outlet R2 under W3."""
    ids = {
        "D": add_outlet(connection, "D", "distributor", lon=120.1, lat=30.1),
        "W2": add_outlet(connection, "W2", "wholesaler_2", lon=120.2, lat=30.2, parent="D"),
        "W3": add_outlet(connection, "W3", "wholesaler_3", lon=120.3, lat=30.3, parent="W2"),
        "R": add_outlet(connection, "R", "retail", lon=120.4, lat=30.4, parent="W3"),
        "R2": add_outlet(connection, "R2", "retail", parent="W3"),
        "X": add_outlet(connection, "X", "distributor", lon=122.5, lat=30.5),
    }
    return ids


def codes(connection, table: str, ids) -> list[str]:
    return sorted(
        connection.execute(
            text(f"SELECT code FROM {table} WHERE id = ANY(:ids)"), {"ids": list(ids)}
        ).scalars()
    )


# -- region_tree: SQL shapes -----------------------------------------------------------------


def test_region_subtree_sql_is_the_plain_walk_down():
    tree = region_subtree("P1")
    compiled = sql(select(tree.c.id))
    assert compiled.startswith("WITH RECURSIVE region_tree(id) AS \n(SELECT regions.id AS id")
    assert " UNION ALL SELECT region_tree_child.id AS id \nFROM regions AS region_tree_child" in (
        compiled
    )
    assert "depth" not in compiled  # no guard: the level rule keeps the region tree finite


def test_region_tree_shapes_distinct_up_and_depth():
    start = select(REGIONS.c.id).where(REGIONS.c.code == "C1")
    up = sql(select(region_tree(start, up=True, distinct=True, depth=True, name="up")))
    assert " UNION SELECT up_parent.id AS id" in up and "UNION ALL" not in up
    assert "JOIN regions AS up_of ON up_of.parent_id = up_parent.id" in up
    assert "up.depth + %(depth_1)s::INTEGER AS depth" in up
    assert "up.depth < %(depth_2)s::INTEGER" in up
    managed = sql(managed_region_ids(7, "managed"))
    assert "FROM user_regions" in managed and " UNION SELECT managed_child.id" in managed


def test_subtree_by_child_carries_the_child_column():
    compiled = sql(select(subtree_by_child(5)))
    assert compiled.startswith("WITH RECURSIVE subtree(id, child_id, depth)")
    assert "SELECT subtree_child.id AS id, subtree.child_id AS child_id" in compiled


# -- region_tree: results ------------------------------------------------------------------


def test_region_walks_down_and_up(connection, regions):
    down = connection.execute(select(region_subtree("P1").c.id)).scalars().all()
    assert codes(connection, "regions", down) == ["C1", "C2", "P1"]
    whole = connection.execute(select(region_subtree("CN").c.id)).scalars().all()
    assert len(whole) == 6
    start = select(REGIONS.c.id).where(REGIONS.c.code == "C1")
    up = region_tree(start, up=True, depth=True)
    rows = connection.execute(select(up.c.id, up.c.depth).order_by(up.c.depth)).all()
    ids = {v: k for k, v in regions.items()}
    assert [(ids[i], d) for i, d in rows] == [("C1", 0), ("P1", 1), ("CN", 2)]


def test_distinct_lists_shared_regions_once(connection, regions):
    user = add_user(connection, "mgr", "manager", regions=("P1", "C1"))  # C1 lies inside P1
    start = select(UserRegion.region_id.label("id")).where(UserRegion.user_id == user)
    every = connection.execute(select(region_tree(start, name="all").c.id)).scalars().all()
    once = connection.execute(managed_region_ids(user, "m")).scalars().all()
    assert sorted(every) == sorted([regions["P1"], regions["C1"], regions["C2"], regions["C1"]])
    assert sorted(once) == sorted([regions["P1"], regions["C1"], regions["C2"]])


def test_depth_is_counted_and_bounded(connection, regions):
    start = select(REGIONS.c.id).where(REGIONS.c.code == "CN")
    tree = region_tree(start, depth=True)
    got = connection.execute(select(tree.c.depth)).scalars().all()
    assert sorted(got) == [0, 1, 1, 2, 2, 2] and MAX_REGION_DEPTH == 8


def test_carried_columns_and_depth(connection, regions):
    tree = subtree_by_child(regions["CN"])
    rows = connection.execute(select(tree.c.id, tree.c.child_id, tree.c.depth)).all()
    ids = {v: k for k, v in regions.items()}
    assert sorted((ids[i], ids[c], d) for i, c, d in rows) == [
        ("C1", "P1", 1), ("C2", "P1", 1), ("C3", "P2", 1), ("P1", "P1", 0), ("P2", "P2", 0),
    ]  # fmt: skip
    start = select(REGIONS.c.id, REGIONS.c.code.label("start")).where(
        REGIONS.c.code.in_(["C1", "C3"])
    )
    up = region_tree(start, up=True)
    pairs = connection.execute(select(up.c.start, up.c.id)).all()
    assert sorted((s, ids[i]) for s, i in pairs) == [
        ("C1", "C1"), ("C1", "CN"), ("C1", "P1"), ("C3", "C3"), ("C3", "CN"), ("C3", "P2"),
    ]  # fmt: skip


# -- outlet_tree -----------------------------------------------------------------------------


def test_outlet_tree_sql_shapes():
    down = sql(select(downstream_cte(root_code="D", name="network").c.id))
    assert down.startswith("WITH RECURSIVE network(id, parent_id, depth)")
    assert "FROM outlets AS network_child, network" in down and "UNION ALL" in down
    assert "network.depth < %(depth_2)s::INTEGER" in down
    up = sql(select(upstream_cte(5).c.id))
    assert "upstream_parent.id = upstream.parent_id" in up
    plain = sql(select(outlet_tree(OUTLETS.c.id == 1, up=True, depth=False, distinct=True).c.id))
    assert plain.startswith("WITH RECURSIVE network(id, parent_id)") and "UNION ALL" not in plain
    assert "depth" not in plain
    with pytest.raises(ValueError, match="depth guard or UNION"):
        outlet_tree(OUTLETS.c.id == 1, depth=False)


def test_outlet_walks_down_and_up(connection, chain):
    tree = downstream_cte(chain["D"])
    rows = connection.execute(select(tree.c.id, tree.c.parent_id, tree.c.depth)).all()
    names = {v: k for k, v in chain.items()}
    assert sorted((names[i], names.get(p), d) for i, p, d in rows) == [
        ("D", None, 0), ("R", "W3", 3), ("R2", "W3", 3), ("W2", "D", 1), ("W3", "W2", 2),
    ]  # fmt: skip
    up = upstream_cte(chain["R"])
    rows = connection.execute(select(up.c.id, up.c.depth).order_by(up.c.depth)).all()
    assert [(names[i], d) for i, d in rows] == [("R", 0), ("W3", 1), ("W2", 2), ("D", 3)]


def test_outlet_walks_from_several_starts(connection, chain):
    starts = OUTLETS.c.code.in_(["R", "R2"])
    every = outlet_tree(starts, up=True, name="every")
    once = outlet_tree(starts, up=True, depth=False, distinct=True, name="once")
    n_every = len(connection.execute(select(every.c.id)).all())
    got = connection.execute(select(once.c.id)).scalars().all()
    assert n_every == 8  # each start's chain of four
    assert codes(connection, "outlets", got) == ["D", "R", "R2", "W2", "W3"] and len(got) == 5


def test_the_depth_guard_ends_a_loop_the_rules_would_refuse(connection, chain):
    """With the triggers off (replication role), make W2 buy from R: a loop. The depth guard
    stops the walk; UNION stops it at the first repeat."""
    connection.execute(text("SET LOCAL session_replication_role = replica"))
    loop = {"r": chain["R"], "w": chain["W2"]}
    connection.execute(text("UPDATE outlets SET parent_id = :r WHERE id = :w"), loop)
    connection.execute(text("SET LOCAL session_replication_role = origin"))
    guarded = outlet_tree(OUTLETS.c.id == chain["W2"])
    depths = connection.execute(select(guarded.c.depth)).scalars().all()
    assert max(depths) == MAX_NETWORK_DEPTH
    union = outlet_tree(OUTLETS.c.id == chain["W2"], depth=False, distinct=True)
    got = connection.execute(select(union.c.id)).scalars().all()
    assert codes(connection, "outlets", got) == ["R", "R2", "W2", "W3"]

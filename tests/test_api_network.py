"""The buying network over HTTP: downstream tree and counts, upstream chain, moving outlets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from geo_crm.domain import network
from geo_crm.models import Outlet

API = "/api/v1"


def add_outlet(sql, code, tier, parent=None, status="active"):
    return sql(
        "INSERT INTO outlets (code, name, tier, parent_id, status, location) VALUES (:code, "
        ":name, :tier, "
        "(SELECT id FROM outlets WHERE code = :parent), :status, ST_SetSRID(ST_MakePoint(120, "
        "30), 4326)) "
        "RETURNING id",
        code=code,
        name=f"{tier} {code}",
        tier=tier,
        parent=parent,
        status=status,
    ).scalar_one()


@pytest.fixture
def net(sql):
    """D → {W2a → {W3a → {R1, R2}, R3}, W2b (inactive) → R4, W3c → R5}; E alone."""
    add_outlet(sql, "D", "distributor")
    add_outlet(sql, "W2a", "wholesaler_2", "D")
    add_outlet(sql, "W2b", "wholesaler_2", "D", status="inactive")
    add_outlet(sql, "W3a", "wholesaler_3", "W2a")
    add_outlet(sql, "W3c", "wholesaler_3", "D")
    add_outlet(sql, "R1", "retail", "W3a")
    add_outlet(sql, "R2", "retail", "W3a")
    add_outlet(sql, "R3", "retail", "W2a")
    add_outlet(sql, "R4", "retail", "W2b")
    add_outlet(sql, "R5", "retail", "W3c")
    add_outlet(sql, "E", "distributor")


def names(nodes) -> list[str]:
    return [n["code"] for n in nodes]


def test_downstream_counts_and_tree(client, net):
    body = client.get(f"{API}/outlets/D/downstream").get_json()
    assert body["outlet"]["code"] == "D" and body["outlet"]["depth"] == 0
    assert body["by_tier"] == {"distributor": 0, "wholesaler_2": 2, "wholesaler_3": 2, "retail": 5}
    assert body["by_depth"] == {"1": 3, "2": 4, "3": 2}
    assert body["depth"] == 3 and body["total"] == 9
    tree = body["tree"]
    assert tree["code"] == "D" and names(tree["children"]) == ["W2a", "W2b", "W3c"]
    w2a = tree["children"][0]
    assert names(w2a["children"]) == ["R3", "W3a"]
    assert names(w2a["children"][1]["children"]) == ["R1", "R2"]
    assert w2a["children"][1]["children"][0]["parent_code"] == "W3a"
    assert w2a["children"][1]["children"][0]["lat"] == 30


def test_downstream_options(client, net):
    shallow = client.get(f"{API}/outlets/D/downstream?max_depth=1").get_json()
    assert shallow["total"] == 3 and shallow["depth"] == 1
    assert all(c["children"] == [] for c in shallow["tree"]["children"])
    active = client.get(f"{API}/outlets/D/downstream?status=active").get_json()
    assert active["total"] == 8 and active["by_tier"]["wholesaler_2"] == 1
    # R4 buys through the inactive W2b: it hangs from D in the filtered tree
    assert "R4" in names(active["tree"]["children"])
    counts_only = client.get(f"{API}/outlets/W2a/downstream?tree=false").get_json()
    assert counts_only["tree"] is None and counts_only["total"] == 4
    for query in ("", "status=active", "max_depth=2", "status=inactive&max_depth=1"):
        with_tree = client.get(f"{API}/outlets/D/downstream?{query}").get_json()
        counts = client.get(f"{API}/outlets/D/downstream?tree=false&{query}").get_json()
        assert {**with_tree, "tree": None} == counts
    lonely = client.get(f"{API}/outlets/E/downstream").get_json()
    assert lonely["total"] == 0 and lonely["depth"] == 0 and lonely["tree"]["children"] == []


def test_downstream_counts_service_matches_the_tree(session, net):
    d = session.execute(select(Outlet.id).where(Outlet.code == "D")).scalar_one()
    assert network.downstream_counts(session, d) == {
        "distributor": 0,
        "wholesaler_2": 2,
        "wholesaler_3": 2,
        "retail": 5,
    }


def test_upstream_chain(client, net):
    chain = client.get(f"{API}/outlets/R1/upstream").get_json()["chain"]
    assert names(chain) == ["R1", "W3a", "W2a", "D"]
    assert [n["depth"] for n in chain] == [0, 1, 2, 3]
    assert names(client.get(f"{API}/outlets/D/upstream").get_json()["chain"]) == ["D"]


def test_unknown_outlet_is_404(client, net):
    for path in ("NOPE/downstream", "NOPE/upstream"):
        assert client.get(f"{API}/outlets/{path}").status_code == 404
    assert (
        client.put(
            f"{API}/outlets/NOPE/parent", json={"parent_code": "D", "version": 1}
        ).status_code
        == 404
    )


def test_move_to_another_parent(client, net, sql):
    response = client.put(f"{API}/outlets/R3/parent", json={"parent_code": "W3c", "version": 1})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["parent_code"] == "W3c" and body["version"] == 2
    assert names(client.get(f"{API}/outlets/R3/upstream").get_json()["chain"]) == ["R3", "W3c", "D"]
    # null: buys from nobody (allowed for retail)
    response = client.put(
        f"{API}/outlets/R3/parent", json={"parent_code": None}, headers={"If-Match": '"2"'}
    )
    assert response.status_code == 200 and response.get_json()["parent_code"] is None


@pytest.mark.parametrize(
    ("outlet", "parent"),
    [
        ("W3a", "R1"),  # into its own downstream (a lower tier)
        ("W2a", "W2b"),  # same tier
        ("W2a", "W2a"),  # itself
        ("D", "E"),  # a distributor buys from nobody
        ("W3a", "NOPE"),
    ],
)
def test_move_breaking_a_rule_is_422_naming_parent_code(client, net, sql, outlet, parent):
    before = sql("SELECT parent_id, version FROM outlets WHERE code = :c", c=outlet).one()
    response = client.put(
        f"{API}/outlets/{outlet}/parent", json={"parent_code": parent, "version": 1}
    )
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert list(error["fields"]) == ["body.parent_code"]
    assert "SELECT" not in error["message"] and "psycopg" not in error["message"]
    assert sql("SELECT parent_id, version FROM outlets WHERE code = :c", c=outlet).one() == before


def test_move_with_a_stale_version_is_409(client, net, sql):
    response = client.put(f"{API}/outlets/R3/parent", json={"parent_code": "W3c", "version": 5})
    assert response.status_code == 409
    assert response.get_json()["error"]["detail"]["parent_code"] == "W2a"
    missing = client.put(f"{API}/outlets/R3/parent", json={"parent_code": "W3c"})
    assert missing.status_code == 422 and "body.version" in missing.get_json()["error"]["fields"]
    no_field = client.put(f"{API}/outlets/R3/parent", json={"version": 1})
    assert (
        no_field.status_code == 422 and "body.parent_code" in no_field.get_json()["error"]["fields"]
    )

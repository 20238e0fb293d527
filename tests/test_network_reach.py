"""The distributor page's reach figures agree with the API and with the network map's legends
(issue 16 part 6: "71 reached, 64 in the legend, 62 supply links" with no word on why)."""

from __future__ import annotations

import re

import pytest
from auth_helpers import API, add_outlet, add_region, add_token, add_user, token_client

from geo_crm.domain.network_reach import TierReach, network_reach

pytest_plugins = ["auth_fixtures"]


@pytest.fixture
def network(connection):
    """Distributor RD in P1 and a network with each case that makes the counts differ.

    Retail: R1 buys from RD directly, R2 through one wholesaler, R3 through two; R4's supplier
    has no coordinates, R5's is inactive (both still reached, on the map without a link); R6
    has no coordinates; R7 is inactive and R8 closed (not counted). Wholesalers: W2A (located),
    W2B (no coordinates), W2C (inactive), W3 (located, below W2A).
    """
    add_region(connection, "P1", "province", (120, 30, 121, 31))
    add_region(connection, "C1", "city", (120, 30, 120.5, 31), parent="P1")
    add_region(connection, "C2", "city", (120.5, 30, 121, 31), parent="P1")
    add_outlet(connection, "RD", "distributor", lon=120.1, lat=30.1, name="华东总经销")
    add_outlet(connection, "W2A", "wholesaler_2", lon=120.2, lat=30.2, parent="RD")
    add_outlet(connection, "W2B", "wholesaler_2", parent="RD")
    add_outlet(
        connection, "W2C", "wholesaler_2", lon=120.6, lat=30.2, parent="RD", status="inactive"
    )
    add_outlet(connection, "W3", "wholesaler_3", lon=120.7, lat=30.3, parent="W2A")
    add_outlet(connection, "R1", lon=120.11, lat=30.4, parent="RD")
    add_outlet(connection, "R2", lon=120.21, lat=30.4, parent="W2A")
    add_outlet(connection, "R3", lon=120.71, lat=30.4, parent="W3")
    add_outlet(connection, "R4", lon=120.31, lat=30.4, parent="W2B")
    add_outlet(connection, "R5", lon=120.61, lat=30.4, parent="W2C")
    add_outlet(connection, "R6", parent="W2A")
    add_outlet(connection, "R7", lon=120.22, lat=30.5, parent="W2A", status="inactive")
    add_outlet(connection, "R8", parent="RD", status="closed")


EXPECTED = {
    "wholesaler_2": TierReach(reached=2, on_map=1, linked=1, inactive=1),
    "wholesaler_3": TierReach(reached=1, on_map=1, linked=1, inactive=0),
    "retail": TierReach(reached=6, on_map=5, linked=3, inactive=2),
}


def _outlet_id(connection, code: str) -> int:
    from sqlalchemy import text

    return connection.execute(text("SELECT id FROM outlets WHERE code = :c"), {"c": code}).scalar()


def test_reach_counts_each_case_once(session, connection, network):
    reach = network_reach(session, _outlet_id(connection, "RD"))
    assert reach.by_tier == EXPECTED
    assert reach.deepest == "retail"
    total = reach.total()
    assert (total.reached, total.on_map, total.linked, total.inactive) == (9, 7, 5, 3)
    assert (total.without_coordinates, total.without_link) == (2, 2)


def _shown(counts: dict[str, TierReach]) -> dict[str, tuple[int, int, int]]:
    """The three columns the page shows (inactive outlets are one sentence below them)."""
    return {tier: (r.reached, r.on_map, r.linked) for tier, r in counts.items()}


def _page_counts(page: str) -> dict[str, TierReach]:
    out = {}
    for tier, row in re.findall(r'<tr data-tier="(\w+)">(.*?)</tr>', page):
        cells = dict(re.findall(r'data-count="(\w+)">([\d,]+)<', row))
        out[tier] = TierReach(**{k: int(v.replace(",", "")) for k, v in cells.items()})
    return out


def _api_counts(client) -> dict[str, TierReach]:
    """Reached from the downstream API, on the map and linked from the outlet list: located
    active outlets of the network, linked when their supplier is among them."""
    active = client.get(f"{API}/outlets/RD/downstream?status=active&tree=false").get_json()
    every = client.get(f"{API}/outlets/RD/downstream?tree=false").get_json()
    located = client.get(
        f"{API}/outlets?distributor=RD&status=active&geotagged=true&limit=1000"
    ).get_json()["items"]
    drawn = {o["code"] for o in located}
    out = {}
    for tier in EXPECTED:
        mine = [o for o in located if o["tier"] == tier]
        out[tier] = TierReach(
            reached=active["by_tier"][tier],
            on_map=len(mine),
            linked=sum(o["parent_code"] in drawn for o in mine),
            inactive=every["by_tier"][tier] - active["by_tier"][tier],
        )
    return out


def test_page_figures_agree_with_the_api_and_the_map_legends(
    client, app, settings_override, network
):
    settings_override(app, auth_required=False)
    assert _api_counts(client) == EXPECTED
    page = client.get("/distributors/RD?lang=en").get_data(as_text=True)
    assert _shown(_page_counts(page)) == _shown(EXPECTED)
    assert "Reached: active outlets buying from this distributor" in page
    assert re.search(r'id="no-coordinates">2 have no coordinates yet', page)
    assert re.search(r'id="no-link">2 have none: their supplier has no coordinates', page)
    assert re.search(r'id="inactive">3 outlets below this distributor that are inactive', page)
    region = re.search(r'src="/maps/network/(\w+)\?', page).group(1)
    legend = client.get(f"/maps/network/{region}?distributor=RD&lang=en").get_data(as_text=True)
    # the legend counts the "on the map" column and the links the "supply links" column
    assert "Outlets on the map" in legend
    for tier, words in (("retail", "Retail outlet"), ("wholesaler_2", "2nd-tier wholesaler")):
        assert f"{words} ({EXPECTED[tier].on_map})" in legend, tier
        assert f"→ {words} ({EXPECTED[tier].linked})" in legend, tier
    assert "Reached: 9, of which 2 without coordinates (not drawn)" in legend
    assert "A link is drawn when the supplier is on the map too; 2 outlets have none" in legend


def test_page_words_in_chinese(client, app, settings_override, network):
    settings_override(app, auth_required=False)
    page = client.get("/distributors/RD?lang=zh").get_data(as_text=True)
    for words in (
        "覆盖网点",
        "地图上",
        "供货关系",
        "其中 2 家尚无坐标",
        "3 家停用或已关闭的网点未计入",
    ):
        assert words in page, words
    legend = client.get("/maps/network/P1?distributor=RD&lang=zh").get_data(as_text=True)
    assert "地图上的网点" in legend and "覆盖：9 家，其中 2 家无坐标" in legend


def test_a_manager_counts_only_their_outlets(app, connection, network):
    """A manager of C1 sees the network's outlets in C1 only; a link to a supplier outside
    their scope is not drawn, so it is not counted either."""
    manager = token_client(
        app, add_token(connection, add_user(connection, "manager1", "manager", regions=("C1",)))
    )
    page = manager.get("/distributors/RD?lang=en").get_data(as_text=True)
    counts = _page_counts(page)
    assert _shown(counts) == _shown(_api_counts(manager))
    # in C1 (lon < 120.5): W2A, R1, R2, R4 on the map; R6/W2B untagged have no region
    assert counts["retail"].on_map == 3 and _shown(counts)["wholesaler_3"] == (0, 0, 0)

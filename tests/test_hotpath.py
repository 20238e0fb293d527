"""db.hotpath: packed records (one binary string per query, read by numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from auth_helpers import add_outlet, add_region
from sqlalchemy import bindparam, func

from geo_crm.db.hotpath import Field, Records, fetch_records
from geo_crm.domain.network import downstream_cte
from geo_crm.models import Outlet

OUTLETS = Outlet.__table__


@pytest.fixture
def outlets(connection):
    add_region(connection, "P", "province", (120, 30, 121, 31))
    ids = {
        "D": add_outlet(connection, "D", "distributor", lon=120.1, lat=30.1),
        "W": add_outlet(connection, "W", "wholesaler_2", lon=120.2, lat=30.2, parent="D"),
        "R": add_outlet(connection, "R", "retail", lon=120.25, lat=30.25, parent="W"),
        "U": add_outlet(connection, "U", "retail", parent="W"),  # not located, no region
        "X": add_outlet(connection, "X", "retail", lon=120.9, lat=30.9),  # another network
    }
    return ids


def test_records_carry_every_kind(session, outlets):
    fields = [
        Field("id", OUTLETS.c.id, "i8"),
        Field("region_id", OUTLETS.c.region_id, "i4", null=0),
        Field("rank", func.geo_crm_tier_rank(OUTLETS.c.tier), "i2"),
        Field("lon", func.ST_X(OUTLETS.c.location), "f8", null=float("nan")),
        Field("at", OUTLETS.c.location, "ewkb_point"),
    ]
    data = fetch_records(session, fields, where=[OUTLETS.c.code.in_(["D", "R", "U"])])
    assert data.dtype.names == (
        "id", "region_id", "rank", "lon", "at_order", "at_type", "at_srid", "at_x", "at_y",
    )  # fmt: skip
    by_id = {int(row["id"]): row for row in data}
    assert set(by_id) == {outlets["D"], outlets["R"], outlets["U"]}
    d, u = by_id[outlets["D"]], by_id[outlets["U"]]
    assert d["rank"] == 1 and d["lon"] == 120.1 and (d["at_x"], d["at_y"]) == (120.1, 30.1)
    assert d["at_srid"] == 4326 and d["region_id"] > 0
    assert u["region_id"] == 0 and math.isnan(u["lon"]) and math.isnan(u["at_x"])  # NULLs


def test_a_compiled_shape_runs_with_values_and_ctes(session, outlets):
    tree = downstream_cte(root_code=bindparam("root", type_=OUTLETS.c.code.type), name="network")
    records = Records(
        [Field("id", OUTLETS.c.id, "i8"), Field("depth", tree.c.depth, "i2")],
        from_=OUTLETS.join(tree, tree.c.id == OUTLETS.c.id),
        where=[OUTLETS.c.location.is_not(None)],
    )
    assert records.sql.startswith("WITH RECURSIVE network")
    got = records.fetch(session, {"root": "D"})
    assert sorted(got["id"].tolist()) == sorted([outlets["D"], outlets["W"], outlets["R"]])
    assert sorted(got["depth"].tolist()) == [0, 1, 2]
    assert len(records.fetch(session, {"root": "nobody"})) == 0  # no rows: an empty array


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown field kind"):
        Records([Field("id", OUTLETS.c.id, "u8")])
    with pytest.raises(ValueError, match="at least one field"):
        Records([])


def test_records_are_native_numbers_after_astype(session, outlets):
    fields = [Field("id", OUTLETS.c.id, "i8"), Field("n", OUTLETS.c.id * 2, "i4")]
    data = fetch_records(session, fields, where=[OUTLETS.c.id > 0])
    assert data["n"].astype(np.int64).tolist() == (data["id"].astype(np.int64) * 2).tolist()
    assert data["n"].dtype == np.dtype(">i4")  # as sent: big-endian

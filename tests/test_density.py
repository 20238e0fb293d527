"""Sales density: sums per cell and per sub-region equal the records they cover; filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import shapely
from analysis_helpers import add_outlet, add_product, add_region, add_sale, box_wkt, offset

from geo_crm.errors import ValidationError
from geo_crm.services.analysis_params import AnalysisParams
from geo_crm.services.density import density

# (seller, buyer, day, sku, quantity, amount)
RECORDS = [
    ("D1", "W1", "2024-01-05", "A", "10", "1000.00"),
    ("W1", "R1", "2024-01-10", "A", "2.5", "275.50"),
    ("W1", "R1", "2024-02-10", "B", "1", "99.99"),
    ("W1", "R2", "2024-01-20", "A", "3", "330.00"),
    ("W1", "R2", "2023-12-31", "A", "7", "770.00"),  # before the period
    ("W1", "R3", "2024-01-15", "A", "4", "440.00"),  # untagged buyer
    ("W1", "R4", "2024-01-15", "A", "5", "550.00"),  # buyer outside the region
    ("W1", "R5", "2024-01-16", "A", "1.125", "123.45"),  # closed buyer, same cell as R1
]


@pytest.fixture
def network(sql):
    add_region(sql, "D", box_wkt(120, 30, 121, 31))
    add_region(sql, "DW", box_wkt(120, 30, 120.5, 31), level="city", parent="D")
    add_region(sql, "DE", box_wkt(120.5, 30, 121, 31), level="city", parent="D")
    add_product(sql, "A")
    add_product(sql, "B")
    add_outlet(sql, "D1", "distributor", 120.5, 30.5)
    add_outlet(sql, "W1", "wholesaler_2", 120.2, 30.2, parent="D1")  # DW
    add_outlet(sql, "R1", "retail", 120.8, 30.8, parent="W1")  # DE
    add_outlet(sql, "R2", "retail", 120.1, 30.9, parent="W1")  # DW
    add_outlet(sql, "R3", "retail", None, None, parent="W1")
    add_outlet(sql, "R4", "retail", 122.0, 30.5, parent="W1")
    add_outlet(sql, "R5", "retail", *offset(120.8, 30.8, 0, 300), parent="W1", status="closed")
    for rec in RECORDS:
        add_sale(sql, *rec)


def total(*buyers, product=None, since="2024-01-01", until="2024-12-31"):
    rows = [
        r
        for r in RECORDS
        if r[1] in buyers and (product is None or r[3] == product) and since <= r[2] <= until
    ]
    return len(rows), sum(Decimal(r[5]) for r in rows), sum(Decimal(r[4]) for r in rows)


def run(session, **kw):
    base = dict(
        status=None, date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31), cell_km=2.0
    )
    return density(session, "D", AnalysisParams(**{**base, **kw}))


def check_sums(result):
    cell_amount = sum(c.totals.amount for c in result.cells)
    cell_records = sum(c.totals.records for c in result.cells)
    sub_amount = sum(s.totals.amount for s in result.sub_regions)
    assert cell_amount == sub_amount == result.total.amount
    assert cell_records == sum(s.totals.records for s in result.sub_regions) == result.total.records


def test_totals_equal_the_records_they_cover(session, network):
    result = run(session)
    n, amount, quantity = total("W1", "R1", "R2", "R5")
    assert (result.total.records, result.total.amount, result.total.quantity) == (
        n,
        amount,
        quantity,
    )
    check_sums(result)
    subs = {s.code: s for s in result.sub_regions}
    assert subs["DE"].totals.amount == total("R1", "R5")[1]
    assert subs["DW"].totals.amount == total("W1", "R2")[1]
    # R1 and R5 are 300 m apart: one 2 km cell holds both
    assert [c.totals.amount for c in result.cells] == sorted(
        (c.totals.amount for c in result.cells), reverse=True
    )
    top = next(c for c in result.cells if c.buyers == 2)
    assert top.totals.amount == total("R1", "R5")[1]
    assert shapely.Polygon(top.outline).contains(shapely.Point(120.8, 30.8))  # R1's location
    w1 = next(c for c in result.cells if c.buyers == 1 and c.totals.amount == Decimal("1000.00"))
    assert shapely.Polygon(w1.outline).contains(shapely.Point(120.2, 30.2))
    assert result.cell_count == 3
    # per km²: by the hexagon's area / the sub-region's area
    feature = top.feature(result.cell_area_km2)
    assert feature["properties"]["amount_per_km2"] == pytest.approx(
        float(top.totals.amount) / result.cell_area_km2
    )
    assert result.cell_area_km2 == pytest.approx(3**0.5 / 2 * 4)


def test_untagged_buyers_are_reported_not_dropped(session, network):
    result = run(session)
    n, amount, _ = total("R3")
    assert (result.unlocated.records, result.unlocated.amount, result.unlocated_buyers) == (
        n,
        amount,
        1,
    )


def test_filters_change_what_they_should(session, network):
    everything = run(session)
    only_a = run(session, product="A")
    assert only_a.total.amount == total("W1", "R1", "R2", "R5", product="A")[1]
    assert everything.total.amount - only_a.total.amount == Decimal("99.99")
    retail = run(session, tiers=("retail",))
    assert retail.total.amount == total("R1", "R2", "R5")[1]
    active = run(session, status="active")
    assert active.total.amount == total("W1", "R1", "R2")[1]
    all_time = run(session, date_from=None, date_to=None)
    assert all_time.total.amount - everything.total.amount == Decimal("770.00")
    january = run(session, date_to=dt.date(2024, 1, 31))
    assert january.total.amount == total("W1", "R1", "R2", "R5", until="2024-01-31")[1]
    for result in (only_a, retail, active, all_time, january):
        check_sums(result)
    network_only = run(session, distributor="D1")
    assert network_only.total.amount == everything.total.amount


def test_limit_keeps_totals_exact(session, network):
    result = density(session, "D", AnalysisParams(status=None, cell_km=2.0), limit=1)
    assert len(result.cells) == 1 and result.cell_count == 3
    assert result.total.amount == total("W1", "R1", "R2", "R5", since="2000-01-01")[1]


def test_bad_filters(session, network):
    with pytest.raises(ValidationError) as err:
        run(session, product="NOPE")
    assert "product" in err.value.fields
    with pytest.raises(ValidationError) as err:
        run(session, date_from=dt.date(2024, 2, 1), date_to=dt.date(2024, 1, 1))
    assert "date_to" in err.value.fields

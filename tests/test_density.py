"""Sales density: sums per cell and per sub-region equal the records they cover; filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import shapely
from analysis_helpers import add_outlet, add_product, add_region, add_sale, box_wkt, offset

from geo_crm.analysis.density import density
from geo_crm.analysis.params import AnalysisParams
from geo_crm.errors import ValidationError

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


def _grouped_by_dict(row, col, value):
    out: dict[tuple[int, int], int] = {}
    for r, c, v in zip(row.tolist(), col.tolist(), value.tolist(), strict=True):
        out[(r, c)] = out.get((r, c), 0) + v
    return out


@pytest.mark.parametrize("scale", [1, 2**24 + 3, 2**31 + 5, 2**40])
def test_cell_sums_group_any_rows_and_columns(scale):
    """Cells are grouped on (row, col) themselves. Packing both into one int64 key broke
    outside the range it assumed: with offset 2**31 and span 2**32 every row >= 0 wrapped
    (row 38 decoded as 38 - 2**32, the "row -4294967258" of bench/README.md); with offset
    2**24 and span 2**25 rows or columns beyond ±2**24 collide."""
    import numpy as np

    from geo_crm.analysis.density import cell_sums

    rng = np.random.default_rng(scale % 1000)
    base_r = rng.integers(-3, 4, 400)
    base_c = rng.integers(-3, 4, 400)
    row = np.concatenate([base_r, base_r * scale, base_r * scale + 1])
    col = np.concatenate([base_c, -base_c * scale, base_c])
    value = rng.integers(0, 10**12, len(row))
    u_row, u_col, (sums,) = cell_sums(row, col, value)
    got = dict(zip(zip(u_row.tolist(), u_col.tolist(), strict=True), sums.tolist(), strict=True))
    assert got == _grouped_by_dict(row, col, value)
    assert list(zip(u_row.tolist(), u_col.tolist(), strict=True)) == sorted(got)  # row-major


def test_fine_grid_cells_on_every_side_of_the_centre(session, sql):
    """A 100 m grid over a 1° box: rows and columns run from about -550 to 550 around the
    region's centre; every buyer lands in the cell whose outline holds it, on every side."""
    add_region(sql, "F", box_wkt(120, 30, 121, 31))
    add_product(sql, "A")
    add_outlet(sql, "D1", "distributor", 120.5, 30.5)
    corners = {
        "NE": (120.93, 30.91),
        "NW": (120.04, 30.96),
        "SE": (120.97, 30.02),
        "SW": (120.05, 30.07),
        "C": (120.5002, 30.5003),
    }
    for i, (code, (lon, lat)) in enumerate(corners.items()):
        add_outlet(sql, code, "retail", lon, lat, parent="D1")
        add_sale(sql, "D1", code, "2024-03-01", "A", "1", f"{100 + i}.00")
    result = density(session, "F", AnalysisParams(status=None, cell_km=0.1))
    assert result.cell_count == 5
    rows = {c.row for c in result.cells}
    cols = {c.col for c in result.cells}
    assert min(rows) < -450 and max(rows) > 450 and min(cols) < -400 and max(cols) > 400
    for cell, (code, (lon, lat)) in zip(
        sorted(result.cells, key=lambda c: c.totals.amount), corners.items(), strict=True
    ):
        outline = shapely.Polygon(cell.outline)
        assert outline.is_valid and outline.contains(shapely.Point(lon, lat)), code

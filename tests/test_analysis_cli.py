"""``geo-crm analyse …`` as a user runs it: readable tables, --json, errors naming the option."""

from __future__ import annotations

import json
import math

import pytest
from analysis_helpers import add_outlet, add_product, add_region, add_sale, box_wkt


@pytest.fixture
def data(sql):
    add_region(sql, "P", box_wkt(110, 30, 110.5, 30.5), name="测试省")
    add_region(sql, "PW", box_wkt(110, 30, 110.25, 30.5), level="city", parent="P", name="西市")
    add_region(sql, "PE", box_wkt(110.25, 30, 110.5, 30.5), level="city", parent="P", name="东市")
    add_product(sql, "X")
    add_outlet(sql, "D1", "distributor", 110.1, 30.1)
    add_outlet(sql, "R1", "retail", 110.4, 30.4, parent="D1")
    add_sale(sql, "D1", "R1", "2024-05-01", "X", "2", "200.00")
    sql(
        "INSERT INTO sales_plans "
        "(distributor_id, month, product_id, target_quantity, target_amount) "
        "VALUES ((SELECT id FROM outlets WHERE code = 'D1'), '2024-05-01', "
        "(SELECT id FROM products WHERE sku = 'X'), 4, 400)"
    )


def run(cli, *args, code=0):
    result = cli.invoke(args=["analyse", *args])
    assert result.exit_code == code, result.output
    return result.output


def test_coverage_table_and_json(cli, data):
    out = run(cli, "coverage", "P", "--tier", "retail", "--radius", "retail=2000")
    assert "测试省" in out and "retail" in out and "东市" in out
    body = json.loads(
        run(cli, "coverage", "P", "--tier", "retail", "--radius", "retail:2000", "--json")
    )
    assert body["covered_m2"] == pytest.approx(math.pi * 4e6, rel=1e-4)
    assert f"{body['covered_m2'] / 1e6:,.2f}" in out


def test_gaps_density_depth_rate_plans(cli, data):
    out = run(cli, "gaps", "P", "--tier", "retail", "--cell-km", "5", "--limit", "3")
    assert (
        "cells are gaps" in out
        and len([ln for ln in out.splitlines() if ln[:1].isdigit() or ln[:1] == "-"]) == 3
    )
    body = json.loads(run(cli, "gaps", "P", "--cell-km", "5", "--json"))
    assert body["cells"] > 0
    out = run(cli, "density", "P", "--from", "2024-01-01", "--to", "2024-12-31", "--cell-km", "2")
    assert "1 records, amount 200.00" in out
    out = run(cli, "depth", "D1")
    assert "1 of 2 sub-regions reached" in out
    out = run(cli, "distribution-rate", "P", "--product", "X")
    assert "1 of 1 outlets bought it (100.00%)" in out
    out = run(cli, "plans", "D1", "--year", "2024")
    assert "2024-05" in out and "50.00%" in out


@pytest.mark.parametrize(
    "args, field",
    [
        (["coverage", "P", "--radius", "retail=-1"], "radius_retail"),
        (["coverage", "P", "--radius", "retail=abc"], "radius_retail"),
        (["coverage", "P", "--radius", "shop=10"], "radius"),
        (["coverage", "P", "--tier", "shop"], "tier"),
        (["gaps", "P", "--cell-km", "0"], "cell_km"),
        (["gaps", "P", "--cell-km", "1001"], "cell_km"),  # the bounds of analysis.params.LIMITS
        (["density", "P", "--cell-km", "abc"], "cell_km"),
        (["density", "P", "--from", "2024-02-01", "--to", "2024-01-01"], "date_to"),
        (["density", "P", "--product", "NOPE"], "product"),
        (["distribution-rate", "P"], "product"),
    ],
)
def test_bad_options_exit_non_zero_naming_them(cli, data, args, field):
    out = run(cli, *args, code=1)
    assert out.startswith("error: ") and out.count("\n") == 1  # one line (issue 17, 8)
    # the field in brackets, the option, or the message itself naming it ("no product …")
    named = f"({field}: " in out or f"--{field.replace('_', '-')}" in out
    assert named or f"no {field} " in out


def test_cell_bounds_are_the_shared_limits(cli, data):
    from geo_crm.analysis.params import LIMITS

    out = run(cli, "gaps", "P", "--cell-km", str(LIMITS.min_cell_km / 2), code=1)
    assert out.count("error: ") == 1 and f"{LIMITS.min_cell_km}<=x<={LIMITS.max_cell_km:g}" in out
    run(cli, "gaps", "P", "--cell-km", str(LIMITS.max_cell_km))


def test_unknown_region_exits_non_zero(cli, data):
    out = run(cli, "coverage", "NOPE", code=1)
    assert "no region with code 'NOPE'" in out

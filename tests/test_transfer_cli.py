"""``geo-crm import …`` and ``geo-crm export …`` as an admin runs them."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from test_imports import NETWORK, SALES_HEADER, csv_bytes, outlets, row

from geo_crm import coords
from geo_crm.io.exports import EXPORT_COLUMNS


def count(sql, table="outlets") -> int:
    return sql(f"SELECT count(*) FROM {table}").scalar()


@pytest.fixture
def network_csv(tmp_path):
    path = tmp_path / "网点.csv"
    path.write_bytes(csv_bytes(NETWORK, encoding="gb18030"))
    return path


def test_import_outlets_reports_and_commits(cli, sql, network_csv):
    result = cli.invoke(args=["import", "outlets", str(network_csv)])
    assert result.exit_code == 0, result.output
    assert "网点.csv: 4 outlets rows (csv, gb18030)" in result.stdout
    assert "4 inserted, 0 updated, 0 unchanged" in result.stdout
    assert count(sql) == 4 and outlets(sql)["D1"]["name"] == "浙江总经销"
    again = cli.invoke(args=["import", "outlets", str(network_csv), "--no-progress"])
    assert again.exit_code == 0
    assert "0 inserted, 0 updated, 4 unchanged" in again.stdout


def test_progress_bar_goes_to_stderr(cli, network_csv):
    result = cli.invoke(args=["import", "outlets", str(network_csv)])
    assert "rows" in result.stderr and "rows" not in result.stdout.split("\n", 1)[1]


def test_invalid_rows_exit_1_with_the_report_and_write_nothing(cli, sql, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(
        csv_bytes(
            [
                row("D1", "一", "distributor"),
                row("W1", "二批", "老板", "D1"),
                row("W2", "二批", "wholesaler_2", "NOPE", lat=120.5, lon=30.1),
            ]
        )
    )
    result = cli.invoke(args=["import", "outlets", str(path), "--no-progress"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "2 of 3 rows invalid (3 problems): nothing was written" in result.stdout
    assert any(
        line.split()[:2] == ["3", "tier"] and "unknown tier '老板'" in line for line in lines
    )
    # no region loaded, no other point in the file: nothing says a swap would make sense
    assert any(
        line.split()[:2] == ["4", "lat"] and "latitude 120.5 is outside [-90, 90]" in line
        for line in lines
    )
    assert any(line.split()[:2] == ["4", "parent_code"] for line in lines)
    assert result.stderr.startswith("error: 2 of 3 rows are invalid: nothing was written")
    assert count(sql) == 0


def test_skip_invalid_and_dry_run(cli, sql, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(csv_bytes([row("D1", "一", "distributor"), row("W1", "二批", "boss", "D1")]))
    dry = cli.invoke(
        args=["import", "outlets", str(path), "--dry-run", "--skip-invalid", "--no-progress"]
    )
    assert dry.exit_code == 0 and "1 would be inserted" in dry.stdout and "dry run" in dry.stdout
    assert count(sql) == 0
    result = cli.invoke(args=["import", "outlets", str(path), "--skip-invalid", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1 inserted, 0 updated, 0 unchanged, 1 skipped" in result.stdout
    assert "unknown tier 'boss'" in result.stdout
    assert count(sql) == 1


def test_crs_option_converts_gcj02(cli, sql, tmp_path):
    path = tmp_path / "amap.csv"
    path.write_bytes(csv_bytes([row("D1", "一", "distributor", lat=30.25, lon=120.17)]))
    result = cli.invoke(args=["import", "outlets", str(path), "--crs", "gcj02", "--no-progress"])
    assert result.exit_code == 0, result.output
    lon, lat = coords.gcj02_to_wgs84(120.17, 30.25)
    stored = outlets(sql)["D1"]
    assert (stored["lon"], stored["lat"]) == pytest.approx((float(lon), float(lat)), abs=1e-12)


def test_xlsx_and_format_option(cli, sql, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["编码", "名称", "级别"])
    wb.active.append(["D1", "一号", "总经销"])
    path = tmp_path / "sheet.bin"
    wb.save(path)
    result = cli.invoke(args=["import", "outlets", str(path), "--format", "xlsx", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "(xlsx)" in result.stdout and count(sql) == 1


def test_file_errors(cli, tmp_path):
    missing = cli.invoke(args=["import", "outlets", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    result = cli.invoke(args=["import", "outlets", str(path)])
    assert result.exit_code == 1 and "error: old binary .xls" in result.stderr
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes([["一"]], header=["name"]))
    result = cli.invoke(args=["import", "outlets", str(path)])
    assert result.exit_code == 1 and "missing column code" in result.stderr


def test_import_products_and_sales(cli, sql, tmp_path, network_csv):
    cli.invoke(args=["import", "outlets", str(network_csv), "--no-progress"])
    products = tmp_path / "products.csv"
    products.write_bytes(
        csv_bytes(
            [["P1", "矿泉水", "550ml×24", "箱"]],
            header=["sku", "name", "spec", "unit"],
            encoding="utf-8-sig",
        )
    )
    result = cli.invoke(args=["import", "products", str(products), "--no-progress"])
    assert result.exit_code == 0 and "1 inserted" in result.stdout
    sales = tmp_path / "sales.csv"
    sales.write_bytes(
        csv_bytes(
            [
                ["S-1", "2024-03-05", "D1", "W1", "P1", "", "10", "1200", "0"],
                ["S-2", "2024-03-05", "W1", "D1", "P1", "", "1", "10", "0"],
            ],
            header=SALES_HEADER,
        )
    )
    result = cli.invoke(args=["import", "sales", str(sales), "--no-progress"])
    assert result.exit_code == 1
    assert any(line.split()[:2] == ["3", "seller_code"] for line in result.stdout.splitlines())
    result = cli.invoke(args=["import", "sales", str(sales), "--skip-invalid", "--no-progress"])
    assert result.exit_code == 0 and count(sql, "sales_records") == 1


@pytest.fixture
def stored(cli, network_csv, sql):
    cli.invoke(args=["import", "outlets", str(network_csv), "--no-progress"])
    return outlets(sql)


def test_export_csv_to_stdout_with_filters(cli, stored):
    result = cli.invoke(args=["export", "outlets", "--tier", "retail", "--tier", "wholesaler_2"])
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert sorted(r["code"] for r in records) == ["R1", "R2", "W1"]
    assert "exported 3 outlets (csv)" in result.stderr
    untagged = cli.invoke(args=["export", "outlets", "--untagged", "--q", "终端"])
    assert [
        r["code"] for r in csv.DictReader(io.StringIO(untagged.stdout_bytes.decode("utf-8-sig")))
    ] == ["R2"]


def test_export_unknown_region_is_an_error(cli, stored):
    result = cli.invoke(args=["export", "outlets", "--region", "999999"])
    assert result.exit_code == 1 and "no region with code '999999'" in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson"])
def test_export_then_import_round_trip(cli, sql, stored, tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    result = cli.invoke(args=["export", "outlets", "--format", fmt, "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert path.exists() and not path.with_name(path.name + ".part").exists()
    if fmt == "geojson":
        assert len(json.loads(path.read_text("utf-8"))["features"]) == 4
    again = cli.invoke(args=["import", "outlets", str(path), "--no-progress"])
    assert again.exit_code == 0, again.output
    assert "0 inserted, 0 updated, 4 unchanged" in again.stdout
    assert outlets(sql) == stored


def test_export_gb18030(cli, stored, tmp_path):
    path = tmp_path / "gbk.csv"
    result = cli.invoke(args=["export", "outlets", "--encoding", "gb18030", "-o", str(path)])
    assert result.exit_code == 0
    assert "浙江总经销" in path.read_bytes().decode("gb18030")
    header = next(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"))))
    assert header == list(EXPORT_COLUMNS)  # the import's columns, crs included

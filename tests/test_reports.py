"""Region reports (#15): the figures equal the API's, access is the API's, and every format is
opened by the program a reader would use — the PDF through poppler (text and a rendered page),
the workbook with openpyxl, the GeoPackage with GDAL's ogrinfo (the HTML in Chromium is in
test_reports_browser.py)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from report_helpers import FORMULA, HOSTILE, PERIOD

from geo_crm.domain.principal import SYSTEM, Principal
from geo_crm.errors import Forbidden, NotFound, ValidationError
from geo_crm.reports import build_report, file_name, safe_part
from geo_crm.reports.data import ReportFilters, report_data, territory_of

pytest_plugins = ["report_fixtures"]

FILTERS = ReportFilters(
    tiers=("wholesaler_3", "retail"),
    product="SKU1",
    date_from=PERIOD[0],
    date_to=PERIOD[1],
    radius_km=3.0,
    cell_km=5.0,
)
API_QUERY = (
    "tier=wholesaler_3&tier=retail&product=SKU1&date_from=2025-01-01&date_to=2025-12-31"
    "&radius_wholesaler_3=3000&radius_retail=3000"
)
needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="poppler-utils (pdftotext, pdftoppm) not installed"
)
needs_gdal = pytest.mark.skipif(not shutil.which("ogrinfo"), reason="gdal-bin not installed")


def test_figures_equal_the_api_for_the_same_filters(client, session, report_world):
    data = report_data(session, SYSTEM, "RP", FILTERS)
    cov = client.get(f"/api/v1/regions/RP/coverage?{API_QUERY}").get_json()
    gaps = client.get(f"/api/v1/regions/RP/gaps?{API_QUERY}&cell_km=5&limit=5000").get_json()
    den = client.get(
        "/api/v1/regions/RP/density?tier=wholesaler_3&tier=retail&product=SKU1"
        "&date_from=2025-01-01&date_to=2025-12-31&cell_km=5"
    ).get_json()
    assert data.figures.coverage["all"] == pytest.approx(cov["ratio"], rel=1e-12)
    assert {t["tier"]: t["ratio"] for t in cov["by_tier"]} == pytest.approx(
        {t: r for t, r in data.figures.coverage.items() if t != "all"}, rel=1e-12
    )
    assert {s["code"]: s["ratio"] for s in cov["sub_regions"]} == pytest.approx(
        {r.code: r.coverage_ratio for r in data.sub_region_rows}, rel=1e-12
    )
    assert data.figures.gap_cells == gaps["gap_cells"] > 0
    assert data.figures.cells == gaps["cells"]
    assert [w.code for w in data.gaps.white_space] == [w["code"] for w in gaps["white_space"]]
    worst = [f["properties"]["distance_m"] for f in gaps["gaps"]["features"]]
    assert [c.distance_m for c in data.gaps.worst] == worst
    assert float(data.figures.sales_amount) == pytest.approx(den["total"]["amount"])
    assert data.figures.sales_records == den["total"]["records"]
    assert data.figures.buyers == den["buyers"]
    assert data.density.cell_count == den["cell_count"]
    assert {s["code"]: s["amount"] for s in den["sub_regions"] if s["code"]} == pytest.approx(
        {r.code: float(r.sales_amount) for r in data.sub_region_rows}
    )
    rate = client.get(
        "/api/v1/regions/RP/distribution-rate?product=SKU1&date_from=2025-01-01&date_to=2025-12-31"
    ).get_json()
    assert data.figures.distribution_rate == pytest.approx(rate["rate"])


def test_figures_hold_together(session, report_world):
    data = report_data(session, SYSTEM, "RP", ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1]))
    k = data.figures
    assert k.outlets == {"distributor": 2, "wholesaler_2": 2, "wholesaler_3": 1, "retail": 18}
    assert (
        sum(r.total_outlets for r in data.sub_region_rows) == k.total_outlets == len(data.outlets)
    )
    assert [r.white_space for r in data.sub_region_rows] == [False, False, True]
    assert [h.rank for h in data.holes] == list(range(1, len(data.holes) + 1))
    distances = [h.distance_m for h in data.holes]
    assert distances == sorted(distances, reverse=True)
    # plan achievement: D1 sold 12 × (6000 + 100 i) against 12 × 10,000; D2 6 × 12,000
    d1 = next(d for d in data.distributors if d.code == "D1")
    assert float(d1.plan) == 120_000 and float(d1.actual) == sum(6000 + 100 * i for i in range(12))
    assert d1.achievement == pytest.approx(float(d1.actual) / 120_000)
    assert [d.rank for d in data.distributors] == [1, 2]
    assert data.distributors[0].achievement >= data.distributors[1].achievement
    assert float(d1.debt) == 0  # debt is what a distributor owes as a buyer: D1 bought nothing
    assert len(d1.months) == 12 and d1.months[0].plan == 10_000


def test_access_is_the_apis(session, report_world):
    ids = report_world
    m_in = Principal(ids["m_in"], "rmanager_c1", "manager")
    m_all = Principal(ids["m_all"], "rmanager_p", "manager")
    rep = Principal(ids["rep"], "rrep", "rep")
    f = ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1], cell_km=10)
    with pytest.raises(NotFound):
        report_data(session, m_in, "RP", f)  # outside the manager's scope: as if missing
    with pytest.raises(NotFound):
        report_data(session, m_in, "NOPE", f)
    with pytest.raises(Forbidden):
        report_data(session, rep, "RC1", f)
    assert report_data(session, m_in, "RC1", f).region.code == "RC1"
    assert report_data(session, m_all, "RP", f).figures.total_outlets == 23
    with pytest.raises(ValidationError) as exc:  # D2 lies in RC2, outside m_in's scope
        report_data(session, m_in, "RC1", ReportFilters(distributor="D2", cell_km=10))
    assert exc.value.fields == {"distributor": "not found"}
    with pytest.raises(ValidationError) as exc:
        report_data(session, SYSTEM, "RP", ReportFilters(tiers=("boss",)))
    assert "tier" in exc.value.fields


def test_territory_of_a_distributor_is_the_region_holding_its_network(session, report_world):
    assert territory_of(session, SYSTEM, "D1") == "RC1"
    assert territory_of(session, SYSTEM, "D2") == "RC2"
    m_in = Principal(report_world["m_in"], "rmanager_c1", "manager")
    with pytest.raises(NotFound):
        territory_of(session, m_in, "D2")


@pytest.mark.parametrize(
    "text, expected",
    [
        (HOSTILE, "img_src=x_onerror=alert(1)_$x^2$_.._.._etc_市"),
        ("../../etc/passwd", "etc_passwd"),
        (".hidden", "hidden"),
        ("a\x00b\x1fc\u202ed", "abcd"),
        ("CON", "_CON"),
        ("杭州市", "杭州市"),
        ("x" * 400, "x" * 150),
    ],
)
def test_file_names_are_safe(text, expected):
    assert safe_part(text) == expected


def _pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _page_png(path: Path, page: int, out: Path) -> np.ndarray:
    from PIL import Image

    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", str(page), "-l", str(page), "-singlefile",
         str(path), str(out)],
        check=True,
    )  # fmt: skip
    return np.asarray(Image.open(f"{out}.png").convert("L"))


@needs_poppler
def test_pdf_in_chinese_opens_with_its_figures_maps_and_pages(session, report_world, tmp_path):
    out = build_report(
        session, SYSTEM, "RP", ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1], cell_km=5),
        ["pdf"], tmp_path, lang="zh", company="示例酒业有限公司",
    )  # fmt: skip
    path = out.files[0].path
    assert path.name == "RP_测试省_20250101-20251231.pdf"
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 8
    text = _pdftotext(path)
    data = report_data(
        session, SYSTEM, "RP", ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1], cell_km=5)
    )
    for expected in (
        "示例酒业有限公司", "区域地图报告", "测试省", "目录", "关键指标", "覆盖地图",
        "空白点地图", "销售密度地图", "下级区域", "经销商排名", "东城市",  # a map label
        f"{data.figures.coverage['all'] * 100:.1f}%", f"{data.figures.gap_cells:,}",
        f"¥{float(data.figures.sales_amount):,.0f}", f"第 1 页，共 {pages} 页",
        "img src=x onerror=alert(1)",  # a hostile name is text on the page, not markup
    ):  # fmt: skip
        assert expected in text, expected
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert re.search(r"[A-Z]{6}\+Noto-?Sans-?CJK", fonts), fonts  # a subset, embedded
    # the table of contents points at the pages the sections start on
    toc = re.search(r"覆盖地图\s*\.+\s*(\d+)", text)
    assert toc and f"第 {toc.group(1)} 页" in text.split("\f")[int(toc.group(1)) - 1]
    cover = _page_png(path, 1, tmp_path / "cover")
    assert (cover < 200).mean() > 0.005
    gap_map = _page_png(
        path, int(re.search(r"空白点地图\s*\.+\s*(\d+)", text).group(1)), tmp_path / "g"
    )
    assert gap_map.shape[1] > gap_map.shape[0]  # a landscape page
    assert (gap_map < 230).mean() > 0.05  # cells and boundaries drawn, not a blank page


@needs_poppler
def test_pdf_in_english(session, report_world, tmp_path):
    out = build_report(
        session, SYSTEM, "RC1", ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1]),
        ["pdf"], tmp_path, lang="en",
    )  # fmt: skip
    text = _pdftotext(out.files[0].path)
    for expected in ("Regional map report", "East City", "Contents", "Key figures", "Page 1 of"):
        assert expected in text, expected


def test_workbook_has_a_sheet_per_table_with_formats_and_no_formulas(
    session, report_world, tmp_path
):
    from openpyxl import load_workbook

    out = build_report(session, SYSTEM, "RP", FILTERS, ["xlsx"], tmp_path, lang="zh")
    wb = load_workbook(out.files[0].path)
    assert wb.sheetnames == ["关键指标", "下级区域", "经销商排名", "空白网格", "计划与实际"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
    subs = wb["下级区域"]
    assert [c.value for c in subs[1]][:3] == ["代码", "名称", "面积（平方公里）"]
    assert [r[0].value for r in subs.iter_rows(min_row=2)] == ["RC1", "RC2", "RC3"]
    assert subs["E2"].number_format == "0.0%" and isinstance(subs["E2"].value, float)
    dists = wb["经销商排名"]
    names = [r[2].value for r in dists.iter_rows(min_row=2)]
    assert "'" + FORMULA in names  # quoted: a spreadsheet shows it as text, never runs it
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    assert dists["D2"].number_format == "#,##0.00"
    plan = wb["计划与实际"]
    assert plan.max_row == 1 + 12 + 12  # two distributors × twelve months
    figures = {r[0].value: r[1].value for r in wb["关键指标"].iter_rows(min_row=2)}
    assert figures["区域"] == "测试省 (RP)"
    assert figures["覆盖率（整个网络）"] == pytest.approx(
        report_data(session, SYSTEM, "RP", FILTERS).figures.coverage["all"]
    )
    en = load_workbook(
        build_report(session, SYSTEM, "RP", FILTERS, ["xlsx"], tmp_path / "en", lang="en")
        .files[0]
        .path
    )
    assert en.sheetnames[0] == "Key figures"


@needs_gdal
def test_geopackage_and_geojson_open_in_gdal(session, report_world, tmp_path):
    out = build_report(session, SYSTEM, "RP", FILTERS, ["gpkg", "geojson"], tmp_path)
    gpkg, zipped = (w.path for w in out.files)
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(gpkg)], capture_output=True, text=True, check=True
    ).stdout
    counts = dict(re.findall(r"Layer name: (\w+).*?Feature Count: (\d+)", info, re.S))
    data = report_data(session, SYSTEM, "RP", FILTERS)
    assert counts == {
        "outlets": str(len(data.outlets)),
        "coverage": "1",
        "gap_cells": str(len(data.gaps.worst)),
        "density_cells": str(len(data.density.cells)),
        "sub_regions": "3",
    }
    assert "EPSG" in info and "4326" in info
    sub = subprocess.run(
        ["ogrinfo", "-ro", "-q", str(gpkg), "sub_regions", "-where", "code = 'RC3'"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True,
    ).stdout  # fmt: skip
    assert re.search(r"white_space \(Integer(64)?\) = 1", sub) and HOSTILE in sub
    assert "partially supported" not in sub  # GeoPackage 1.3: older GDAL (Debian 12) reads it
    with zipfile.ZipFile(zipped) as zf:
        assert sorted(zf.namelist()) == sorted(
            f"{n}.geojson"
            for n in ("outlets", "coverage", "gap_cells", "density_cells", "sub_regions")
        )
        zf.extractall(tmp_path / "geojson")
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(tmp_path / "geojson" / "outlets.geojson")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"Feature Count: {len(data.outlets)}" in info


def test_file_name_keeps_the_distributor(session, report_world):
    data = report_data(session, SYSTEM, "RP", ReportFilters(distributor="D1", cell_km=10))
    assert file_name(data, "pdf").startswith("RP_测试省_D1_")
    assert file_name(data, "geojson").endswith(".geojson.zip")


def test_cli_writes_one_region_and_every_region_of_a_level(cli, report_world, tmp_path):
    one = cli.invoke(
        args=["report", "RP", "--format", "xlsx,gpkg", "--period", "2025", "--cell-km", "10",
              "-o", str(tmp_path / "one")]
    )  # fmt: skip
    assert one.exit_code == 0, one.output
    written = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert written == ["RP_测试省_20250101-20251231.gpkg", "RP_测试省_20250101-20251231.xlsx"]
    assert "1 region, 2 files" in one.output
    level = cli.invoke(
        args=["report", "--level", "city", "--format", "xlsx", "--period", "2025-Q2",
              "--lang", "en", "-o", str(tmp_path / "cities")]
    )  # fmt: skip
    assert level.exit_code == 0, level.output
    assert "3 of 3 regions, 3 files" in level.output
    names = sorted(p.name for p in (tmp_path / "cities").iterdir())
    assert names[0] == "RC1_East_City_20250401-20250630.xlsx"
    assert not any(n.startswith(".") or "/" in n for n in names)
    scoped = cli.invoke(args=["report", "RP", "--as", "rmanager_c1", "-o", str(tmp_path)])
    assert scoped.exit_code == 1 and "region RP not found" in scoped.output
    territory = cli.invoke(
        args=["report", "--territory-of", "D2", "--format", "xlsx", "--period", "2025",
              "-o", str(tmp_path / "t")]
    )  # fmt: skip
    assert territory.exit_code == 0, territory.output
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["RC2_西城市_D2_20250101-20251231.xlsx"]
    bad = cli.invoke(args=["report", "RP", "--period", "last summer"])
    assert bad.exit_code == 1 and "period" in bad.output


@pytest.mark.parametrize(
    "filters",
    [
        ReportFilters(date_from=PERIOD[0], date_to=PERIOD[1]),
        ReportFilters(product="SKU1", date_from=PERIOD[0], date_to=dt.date(2025, 5, 20)),
        ReportFilters(date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31)),
    ],
)
def test_ranking_equals_plan_achievement_and_buyer_debt(session, report_world, sql, filters):
    """The ranking's two statements for every distributor give what the per-distributor
    functions give (a sell-in debt of D2 and a month with sales but no plan included)."""
    from decimal import Decimal

    from geo_crm.analysis.distribution import plan_achievement
    from geo_crm.domain.sales import buyer_debt

    sql(
        "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount,"
        " amount_paid) SELECT NULL, d.id, DATE '2025-03-03', p.id, 1, 999.99, 100"
        " FROM outlets d, products p WHERE d.code = 'D2' AND p.sku = 'SKU1'"
    )
    sql("DELETE FROM sales_plans WHERE month = DATE '2025-04-01' AND distributor_id ="
        " (SELECT id FROM outlets WHERE code = 'D1')")  # fmt: skip
    data = report_data(session, SYSTEM, "RP", filters)
    year = filters.date_to.year
    month_to = filters.date_to.month
    assert [d.code for d in data.distributors] and len(data.distributors) == 2
    for d in data.distributors:
        plan = plan_achievement(session, d.code, year, product=filters.product, month_to=month_to)
        months: dict = {}
        for p in plan.rows:
            m = months.setdefault(p.month, [Decimal(0), Decimal(0)])
            m[0] += p.target_amount or Decimal(0)
            m[1] += p.actual_amount
        assert [(m.month, m.plan, m.actual) for m in d.months] == [
            (k, *months[k]) for k in sorted(months)
        ]
        assert (d.plan, d.actual) == (sum(v[0] for v in months.values()),
                                      sum(v[1] for v in months.values()))  # fmt: skip
        outlet_id = sql("SELECT id FROM outlets WHERE code = :c", c=d.code).scalar_one()
        owed = buyer_debt(session, outlet_id)
        assert (d.debt, d.oldest_unpaid) == (owed["debt"], owed["oldest_unpaid"])
    assert next(d for d in data.distributors if d.code == "D2").debt >= Decimal("899.99")

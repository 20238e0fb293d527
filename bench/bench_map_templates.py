"""Region maps with Folium's templates compiled once per process (``geo_crm.maps.templates``)
beside the old path (every template compiled per map), in one run. No database.

Run on demand (not a test):
    .venv/bin/python bench/bench_map_templates.py [--region 330000] [--outlets 5000] [--repeat 15]

Builds the coverage map of ``--region`` (the shipped boundaries of the province and its cities,
``data/regions``) with ``--outlets`` outlets drawn one by one, sub-regions shaded by a coverage
ratio and covered areas per tier, exactly as ``maps.coverage.coverage_map`` does, then renders
it (``maps.base.render``). Each repeat builds and renders the map once with the templates
compiled per map and once compiled once per process, alternating, and prints the median time
per map of each (build + render, and render alone), the ratio and the page sizes (the
pages are equal byte for byte: tests/test_map_templates.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from geo_crm.domain.outlet_layers import OutletRows  # noqa: E402
from geo_crm.i18n import Translator  # noqa: E402
from geo_crm.maps import templates  # noqa: E402
from geo_crm.maps.base import MapSettings, RegionShape, render  # noqa: E402
from geo_crm.maps.coverage import CoverageData, coverage_map  # noqa: E402
from geo_crm.models import TIERS  # noqa: E402


def shapes(code: str) -> tuple[RegionShape, list[RegionShape]]:
    folder = ROOT / "data" / "regions"
    provinces = json.loads((folder / "cn-provinces.geojson").read_text(encoding="utf-8"))
    cities = json.loads((folder / "cn-cities.geojson").read_text(encoding="utf-8"))
    p = next(f for f in provinces["features"] if f["properties"]["code"] == code)
    region = RegionShape(code, p["properties"]["name"], p["geometry"], "province")
    subs = [
        RegionShape(f["properties"]["code"], f["properties"]["name"], f["geometry"], "city")
        for f in cities["features"]
        if f["properties"].get("parent_code") == code
    ]
    return region, subs


def data(region: RegionShape, subs: list[RegionShape], n: int, seed: int):
    rng = np.random.default_rng(seed)
    geom = shapely.make_valid(region.shapely())
    x0, y0, x1, y1 = geom.bounds
    pts = np.empty((0, 2))
    while len(pts) < n:
        c = rng.uniform((x0, y0), (x1, y1), (n, 2))
        pts = np.vstack([pts, c[shapely.contains_xy(geom, c[:, 0], c[:, 1])]])
    pts = pts[:n]
    tiers = rng.choice(list(TIERS), size=n, p=(0.01, 0.04, 0.10, 0.85)).tolist()
    rows = OutletRows(
        pts[:, 0], pts[:, 1], tiers,
        [f"O{i:06d}" for i in range(n)], [f"网点{i}" for i in range(n)],
        [None] * n, [None] * n, [dt.date(2026, 3, 4)] * n, [1234.5] * n, [0] * n,
    )  # fmt: skip
    radii = {"distributor": 30000, "wholesaler_2": 10000, "wholesaler_3": 5000, "retail": 1000}
    covered = {}
    for tier, radius in radii.items():
        chosen = pts[np.asarray(tiers) == tier][:400]
        discs = shapely.buffer(shapely.points(chosen), radius / 111_000.0, quad_segs=4)
        covered[tier] = shapely.geometry.mapping(
            shapely.intersection(shapely.union_all(discs), geom)
        )
    cov = CoverageData(
        covered=covered,
        ratio={t: 0.1 for t in (*TIERS, "all")},
        subregion_ratio={s.code: float(rng.uniform()) for s in subs},
        radii=radii,
    )
    return rows, cov


def one(region, subs, rows, cov, settings) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    m = coverage_map(region, subs, settings, coverage=cov, rows=rows)
    t1 = time.perf_counter()
    page = render(m)
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1, page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--region", default="330000", help="a province code (default Zhejiang)")
    ap.add_argument("--outlets", type=int, default=5000, help="outlets drawn one by one")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    region, subs = shapes(args.region)
    rows, cov = data(region, subs, args.outlets, args.seed)
    settings = MapSettings(Translator("zh"), basemap="none")
    times = {"per map": ([], []), "once": ([], [])}
    sizes = {}
    for i in range(args.repeat + 1):
        for mode in ("per map", "once") if i % 2 else ("once", "per map"):
            (templates.uninstall if mode == "per map" else templates.install)()
            total, rendered, page = one(region, subs, rows, cov, settings)
            sizes[mode] = len(page)
            if i:  # the first round warms both (imports, the kept templates)
                times[mode][0].append(total)
                times[mode][1].append(rendered)
    templates.install()
    print(
        f"region {args.region} ({len(subs)} sub-regions), {args.outlets:,} outlets, "
        f"{args.repeat} repeats, page {sizes['once']:,} B (old path {sizes['per map']:,} B)"
    )
    for label, k in (("build + render", 0), ("render", 1)):
        old = statistics.median(times["per map"][k]) * 1000
        new = statistics.median(times["once"][k]) * 1000
        print(
            f"  {label:15s} compiled per map {old:7.1f} ms   once {new:7.1f} ms   {old / new:4.2f}x"
        )


if __name__ == "__main__":
    main()

"""The analysis cache (issue 16.5): a region page's analyses served from the cache beside the
same analyses computed per request (the baseline: what every page view did before), cached gap
and density tiles, and what the change counter costs a write.

Run on demand (not a test):
    .venv/bin/python bench/bench_analysis_cache.py [--outlets 200000] [--runs 5] [--tiles 200]

1. Starts a throwaway PostgreSQL + PostGIS cluster and writes one province-sized region
   (4° × 3°, about 130,000 km², four cities) and ``--outlets`` outlets inside it with one
   set-based INSERT (tiers 1/4/10/85 %, random positions; the database's triggers place them in
   their cities and keep the counts), plus one sale per hundredth outlet.
2. Per request, p50 of ``--runs``: the key figures' coverage + gaps (what ``key_figures``
   ran per request), the gaps map's analysis (worst 5,000 cells with outlines) and the density
   map's — each computed (baseline) and from the cache once kept (``analysis.cache.cached``,
   fresh).
3. Gap and density tiles (``analysis.cache_tiles.tile``) at zooms 5–9 over the region: p50 and
   p95 of ``--tiles`` tiles.
4. The change counter: 1,000 one-row UPDATEs of outlets with the statement trigger, beside
   1,000 with it disabled, in alternating blocks of 250 (same run).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.analysis import cache, cache_tiles
from geo_crm.analysis.coverage import coverage
from geo_crm.analysis.density import MAX_LIMIT as DENSITY_CELLS
from geo_crm.analysis.density import density
from geo_crm.analysis.gaps import MAX_LIMIT as GAP_CELLS
from geo_crm.analysis.gaps import gaps
from geo_crm.analysis.params import MapFilters, params_for_page
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.domain.gis import TileAddress
from geo_crm.domain.principal import SYSTEM

BOX = (118.0, 28.0, 122.0, 31.0)


def load(engine, outlets: int, seed: int) -> None:
    x0, y0, x1, y1 = BOX
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
        conn.execute(
            text(
                "INSERT INTO regions (code, name, level, boundary) VALUES ('900000', '测试省', "
                "'province', ST_Multi(ST_Segmentize(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326), "
                "0.05)))"
            ),
            dict(x0=x0, y0=y0, x1=x1, y1=y1),
        )
        for n, (a, b, c, d) in enumerate(
            [(x0, y0, xm, ym), (xm, y0, x1, ym), (x0, ym, xm, y1), (xm, ym, x1, y1)]
        ):
            conn.execute(
                text(
                    "INSERT INTO regions (code, name, level, parent_id, boundary) VALUES "
                    "(:code, :name, 'city', (SELECT id FROM regions WHERE code = '900000'), "
                    "ST_Multi(ST_Segmentize(ST_MakeEnvelope(:a, :b, :c, :d, 4326), 0.05)))"
                ),
                dict(code=f"9001{n:02d}", name=f"城市{n}", a=a, b=b, c=c, d=d),
            )
        conn.execute(
            text(
                "INSERT INTO outlets (code, name, tier, status, location) "
                "SELECT 'B' || g, '门店' || g, CASE WHEN r < 0.01 THEN 'distributor' "
                "WHEN r < 0.05 THEN 'wholesaler_2' WHEN r < 0.15 THEN 'wholesaler_3' "
                "ELSE 'retail' END, 'active', "
                "ST_SetSRID(ST_MakePoint(:x0 + random() * (:x1 - :x0), "
                ":y0 + random() * (:y1 - :y0)), 4326) "
                "FROM (SELECT g, random() AS r FROM generate_series(1, :n) g) s"
            ),
            dict(n=outlets, x0=x0, y0=y0, x1=x1, y1=y1),
        )
        conn.execute(
            text(
                "INSERT INTO products (sku, name, unit) VALUES ('P1', '产品', '箱');"
                "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, "
                "quantity, amount) SELECT NULL, o.id, current_date - (o.id % 300)::int, "
                "(SELECT id FROM products), 1 + o.id % 7, 10 + o.id % 500 "
                "FROM outlets o WHERE o.id % 100 = 0 AND o.tier = 'distributor'"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outlets", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5, help="requests timed per line")
    parser.add_argument("--tiles", type=int, default=200, help="tiles per layer")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-cache-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="bench")
    try:
        engine = ready_engine(cluster.ensure_database())
        t0 = time.perf_counter()
        load(engine, args.outlets, args.seed)
        print(f"loaded {args.outlets:,} outlets in {time.perf_counter() - t0:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        code = "900000"
        with Session(engine) as s:
            area = float(s.execute(text("SELECT area_m2 FROM regions WHERE code = :c"),
                                   {"c": code}).scalar_one())  # fmt: skip
            f = MapFilters()
            cov_p, gap_p = params_for_page(f), params_for_page(f, area_m2=area)
            den_p = gap_p.with_(status=None)
            print(f"\nper request, ms (p50 of {args.runs}); baseline = computed every request:")
            rows = [
                (
                    "key figures (coverage + gaps counts)",
                    lambda: (
                        coverage(s, code, cov_p, geometry=False, sub_regions=False),
                        gaps(s, code, gap_p, limit=0, geometry=False),
                    ),
                    lambda: [
                        cache.cached(
                            s,
                            k,
                            code,
                            cache.page_params(k, f, area),
                            cells=False,
                            enqueue=None,
                            inline_outlets=10**9,
                        )
                        for k in ("coverage", "gaps")
                    ],  # fmt: skip
                ),
                (
                    "gaps map (worst 5,000 cells)",
                    lambda: gaps(s, code, gap_p, limit=GAP_CELLS, geometry=True),
                    lambda: cache.cached(
                        s, "gaps", code, gap_p, enqueue=None, inline_outlets=10**9
                    ),  # fmt: skip
                ),
                (
                    "density map (5,000 cells)",
                    lambda: density(s, code, den_p, limit=DENSITY_CELLS, geometry=True),
                    lambda: cache.cached(
                        s, "density", code, den_p, enqueue=None, inline_outlets=10**9
                    ),  # fmt: skip
                ),
            ]
            for label, computed, kept in rows:
                kept()  # computed once and kept
                s.commit()
                base_ms = statistics.median(timed(computed, args.runs))
                ours = statistics.median(timed(kept, args.runs))
                print(f"  {label:<40} cached {ours:8.1f}   computed {base_ms:9.1f}   "
                      f"× {base_ms / ours:,.0f}")  # fmt: skip
            print(f"\ncached cell tiles, ms over {args.tiles} tiles at z5–9 in the region:")
            rnd = random.Random(args.seed)
            for layer in cache_tiles.CACHED_LAYERS:
                ms, sizes = [], []
                for _ in range(args.tiles):
                    z = rnd.randint(5, 9)
                    lon = rnd.uniform(BOX[0], BOX[2])
                    lat = rnd.uniform(BOX[1], BOX[3])
                    n = 1 << z
                    x = int((lon + 180) / 360 * n)
                    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
                    t1 = time.perf_counter()
                    data, _ = cache_tiles.tile(s, SYSTEM, layer, TileAddress(z, x, y), code, f)
                    ms.append((time.perf_counter() - t1) * 1000)
                    sizes.append(len(data))
                kb = statistics.median(sizes) / 1024
                print(f"  {layer:<8} p50 {p(ms, 0.5):6.2f}  p95 {p(ms, 0.95):6.2f}  "
                      f"max {max(ms):6.2f}  median {kb:.1f} KB")  # fmt: skip
        print("\nthe change counter: 1,000 one-row UPDATEs of outlets each way, ms in all")
        # alternating blocks of 250, so that a warming cache or a burst of load falls on both
        totals = {True: 0.0, False: 0.0}
        for block in range(8):
            on = block % 2 == 1
            with engine.begin() as conn:
                if not on:
                    conn.execute(text("ALTER TABLE outlets DISABLE TRIGGER analysis_changed"))
                t1 = time.perf_counter()
                for i in range(block * 250 + 1, block * 250 + 251):
                    conn.execute(
                        text("UPDATE outlets SET name = name WHERE code = :c"), {"c": f"B{i}"}
                    )
                totals[on] += (time.perf_counter() - t1) * 1000
                if not on:
                    conn.execute(text("ALTER TABLE outlets ENABLE TRIGGER analysis_changed"))
        print(f"  {'with the statement trigger':<30} {totals[True]:8.1f}")
        print(f"  {'trigger disabled (baseline)':<30} {totals[False]:8.1f}")
        print(f"load average {os.getloadavg()[0]:.2f}")
        engine.dispose()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

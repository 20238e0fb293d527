"""Benchmark: coverage, gaps and sales density on a country-size network, vs naive GeoPandas.

    .venv/bin/python bench/bench_analysis.py              # 1,000,000 outlets, 5 M records
    .venv/bin/python bench/bench_analysis.py --scale 0.1  # a tenth of that, to iterate

Starts a throwaway PostgreSQL + PostGIS cluster (durable settings), migrates, loads the shipped
Chinese boundaries (1 country, 34 provinces, 367 cities) and places a demo network with
``demo.build_network``: 100,000 outlets (× scale) in one dense province (Zhejiang, 330000) and
900,000 in the rest of the country, written with COPY (the bench sets ``region_id`` itself
with triggers off, which is what the outlet trigger would compute). 5,000,000 sales records
come from one ``generate_series`` statement. Then it times the services as a caller would —
fetching, projecting, computing — median of three runs, and runs the naive GeoPandas pipeline
(load the province's outlets, buffer, union, overlay with the region and a 5 km hexagon grid,
nearest distance per gap cell) on the same 100,000 outlets in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.analysis.coverage import coverage
from geo_crm.analysis.density import density
from geo_crm.analysis.gaps import gaps
from geo_crm.analysis.params import AnalysisParams
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.demo.generator import build_network, fetch_areas
from geo_crm.io.boundaries import default_region_files, load_region_files
from geo_crm.models import TIERS

DENSE_PROVINCE = "330000"  # Zhejiang, ~105,000 km²


def write_outlets(session: Session, net, areas, id_offset: int, prefix: str) -> int:
    """COPY the generated outlets with triggers off; region = the city the point was drawn in."""
    n = len(net)
    region_ids = np.array([a.id for a in areas])[net.area]
    lines = []
    tiers = np.array(TIERS)[net.tier]
    xs, ys, tagged = net.x.tolist(), net.y.tolist(), net.tagged.tolist()
    for i in range(n):
        loc = f"SRID=4326;POINT({xs[i]!r} {ys[i]!r})" if tagged[i] else r"\N"
        region = str(region_ids[i]) if tagged[i] else r"\N"
        parent = str(net.parent[i] + id_offset + 1) if net.parent[i] >= 0 else r"\N"
        lines.append(
            f"{id_offset + i + 1}\t{prefix}{i}\t{prefix}{i}\t{tiers[i]}\t{parent}\t{loc}\t"
            f"{region}\t{net.status[i]}\n"
        )
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY outlets (id, code, name, tier, parent_id, location, region_id, status) FROM STDIN"
        ) as cp,
    ):
        for start in range(0, n, 50_000):
            cp.write("".join(lines[start : start + 50_000]))
    return n


def build(engine, outlets: int, records: int, seed: int) -> dict:
    stages = {}
    with Session(engine) as session:
        t0 = time.perf_counter()
        load_region_files(session, default_region_files())
        session.commit()
        stages["regions"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        provinces = [
            c
            for (c,) in session.execute(
                text("SELECT code FROM regions WHERE level = 'province' AND code <> :p"),
                {"p": DENSE_PROVINCE},
            )
        ]
        dense_n = max(100, round(outlets * 0.1))
        dense = build_network(
            fetch_areas(session, [DENSE_PROVINCE]), outlets=dense_n, seed=seed, months=1
        )
        rest_areas = fetch_areas(session, provinces)
        rest = build_network(rest_areas, outlets=outlets - dense_n, seed=seed + 1, months=1)
        stages["generate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        session.execute(text("SET session_replication_role = replica"))
        n1 = write_outlets(session, dense, fetch_areas(session, [DENSE_PROVINCE]), 0, "Z")
        write_outlets(session, rest, rest_areas, n1, "C")
        session.execute(text("SELECT setval('outlets_id_seq', (SELECT max(id) FROM outlets))"))
        session.execute(
            text(
                "INSERT INTO products (sku, name, unit) SELECT 'SKU' || g, '产品' || g, '箱' "
                "FROM generate_series(1, 10) g"
            )
        )
        stages["outlets"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        buyers = session.scalar(text("SELECT count(*) FROM outlets WHERE parent_id IS NOT NULL"))
        per_buyer = math.ceil(records / buyers)
        session.execute(text("SELECT setseed(0.42)"))
        session.execute(
            text("""
            INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount)
            SELECT o.parent_id, o.id, DATE '2024-01-01' + (random() * 365)::int,
                   (SELECT min(id) FROM products) + (random() * 9)::int,
                   (1 + floor(random() * 20))::numeric, round((random() * 2000)::numeric, 2)
              FROM outlets o CROSS JOIN generate_series(1, :k) g
             WHERE o.parent_id IS NOT NULL
             LIMIT :n"""),
            {"k": per_buyer, "n": records},
        )
        session.execute(text("SET session_replication_role = origin"))
        stages["sales"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # the rollup triggers did not fire (replica): rebuild it as the migration's backfill does
        session.execute(text("SELECT geo_crm_sales_rollup_rebuild()"))
        session.commit()
        stages["sales rollup"] = time.perf_counter() - t0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t0 = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        stages["analyze"] = time.perf_counter() - t0
    return stages


def vertices(geojson: dict) -> int:
    return sum(len(ring) for poly in geojson["coordinates"] for ring in poly)


def timed(fn, repeat: int = 3):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), result


def naive_geopandas(
    engine, region_code: str, cell_km: float, radius: dict[str, float], tiers: tuple[str, ...]
) -> tuple[float, dict]:
    """The obvious GeoPandas pipeline: everything as polygons, in Python."""
    import geopandas as gpd
    import shapely

    from geo_crm.analysis.frame import laea_proj

    t0 = time.perf_counter()
    with engine.connect() as conn:
        lon0, lat0 = conn.execute(
            text(
                "SELECT ST_X(ST_Centroid(boundary)), ST_Y(ST_Centroid(boundary)) "
                "FROM regions WHERE code = :c"
            ),
            {"c": region_code},
        ).one()
        region = gpd.read_postgis(
            text("SELECT boundary AS geom FROM regions WHERE code = :c"),
            conn,
            geom_col="geom",
            params={"c": region_code},
        )
        outlets = gpd.read_postgis(
            text(
                "SELECT o.tier, o.location AS geom FROM outlets o, regions r WHERE r.code = :c "
                "AND o.status = 'active' AND o.tier = ANY(:tiers) AND o.location IS NOT NULL "
                "AND ST_Intersects(o.location, r.boundary)"
            ),
            conn,
            geom_col="geom",
            params={"c": region_code, "tiers": list(tiers)},
        )
    crs = laea_proj(round(lon0, 4), round(lat0, 4))
    region, outlets = region.to_crs(crs), outlets.to_crs(crs)
    discs = outlets.copy()
    discs["geom"] = outlets.geometry.buffer(outlets["tier"].map(radius).to_numpy(), quad_segs=16)
    union = gpd.GeoDataFrame(geometry=[discs.union_all()], crs=crs)
    covered = gpd.overlay(region, union, how="intersection")
    ratio = covered.area.sum() / region.area.sum()
    # the grid: hexagons over the bounding box, kept when their centre lies in the region
    w = cell_km * 1000.0
    x0, y0, x1, y1 = region.total_bounds
    cells = []
    for j, yy in enumerate(
        np.arange(math.floor(y0 / (w * 0.866)) * w * 0.866, y1, w * math.sqrt(3) / 2)
    ):
        for xx in np.arange(math.floor(x0 / w) * w + (w / 2 if j % 2 else 0), x1, w):
            cells.append(
                shapely.Polygon(
                    [
                        (
                            xx + w / math.sqrt(3) * math.cos(math.radians(30 + 60 * k)),
                            yy + w / math.sqrt(3) * math.sin(math.radians(30 + 60 * k)),
                        )
                        for k in range(6)
                    ]
                )
            )
    grid = gpd.GeoDataFrame(geometry=cells, crs=crs)
    grid = grid[grid.centroid.within(region.geometry.iloc[0])]
    uncovered = gpd.overlay(grid, covered, how="difference")
    centres = gpd.GeoDataFrame(geometry=grid.centroid, crs=crs)
    gap_centres = centres[~centres.within(union.geometry.iloc[0])]
    nearest = gpd.sjoin_nearest(gap_centres, outlets, distance_col="distance_m")
    seconds = time.perf_counter() - t0
    return seconds, {
        "outlets": len(outlets),
        "ratio": float(ratio),
        "cells": len(grid),
        "gap_cells": len(gap_centres),
        "uncovered_parts": len(uncovered),
        "max_distance_m": float(nearest["distance_m"].max()) if len(nearest) else None,
    }


def largest_network(session: Session, province: str) -> str:
    """The code of the distributor of the province with the most outlets below it."""
    return session.execute(
        text("""
        WITH RECURSIVE t(root, id) AS (
            SELECT o.id, o.id FROM outlets o JOIN regions r ON r.id = o.region_id
              JOIN regions p ON p.id = r.parent_id
             WHERE p.code = :province AND o.tier = 'distributor'
            UNION ALL
            SELECT t.root, c.id FROM outlets c JOIN t ON c.parent_id = t.id)
        SELECT o.code FROM t JOIN outlets o ON o.id = t.root
         GROUP BY o.code ORDER BY count(*) DESC, o.code LIMIT 1"""),
        {"province": province},
    ).scalar_one()


def baseline(engine, label: str, params: AnalysisParams) -> None:
    """geo_crm's coverage + gap grid against the naive pipeline, same province and inputs."""
    with Session(engine) as session:
        t0 = time.perf_counter()
        cov = coverage(
            session, DENSE_PROVINCE, params, geometry=False, per_tier=False, sub_regions=False
        )
        gap = gaps(session, DENSE_PROVINCE, params)
        ours = time.perf_counter() - t0
    print(f"naive GeoPandas baseline, {label} (province {DENSE_PROVINCE}, 5 km grid) …", flush=True)
    naive_s, naive = naive_geopandas(
        engine, DENSE_PROVINCE, 5.0, dict(params.radius_m), params.tiers
    )
    print(
        f"  geo_crm coverage + gaps: {ours:7.2f} s  ratio {cov.region.ratio:.5f}, "
        f"{gap.gap_cells:,} gaps of {gap.cells:,} cells"
    )
    print(
        f"  naive GeoPandas:         {naive_s:7.2f} s  ratio {naive['ratio']:.5f}, "
        f"{naive['gap_cells']:,} gaps of {naive['cells']:,} cells, {naive['outlets']:,} outlets"
    )
    print(f"  speed-up: {naive_s / ours:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of 1 M outlets / 5 M records"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--keep", help="keep the cluster in this folder (reused when it holds data)"
    )
    args = parser.parse_args()
    outlets, records = round(1_000_000 * args.scale), round(5_000_000 * args.scale)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gcrm-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="bench")
    try:
        engine = ready_engine(cluster.ensure_database())
        with engine.connect() as conn:
            have = conn.scalar(text("SELECT count(*) FROM outlets"))
        if not have:
            t0 = time.perf_counter()
            stages = build(engine, outlets, records, args.seed)
            print(
                f"built in {time.perf_counter() - t0:.1f} s: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
            )
        with engine.connect() as conn:
            counts = conn.execute(
                text("SELECT (SELECT count(*) FROM outlets), (SELECT count(*) FROM sales_records)")
            ).one()
            per_province = conn.execute(
                text("""
                SELECT p.code, p.name, count(*) FROM outlets o JOIN regions c ON c.id = o.region_id
                  JOIN regions p ON p.id = c.parent_id GROUP BY p.code, p.name ORDER BY 3 DESC""")
            ).all()
        dense_count = {c: n for c, _, n in per_province}[DENSE_PROVINCE]
        print(
            f"network: {counts[0]:,} outlets, {counts[1]:,} sales records; dense province "
            f"{DENSE_PROVINCE}: {dense_count:,} outlets; "
            f"largest other: {per_province[1][0]} {per_province[1][2]:,}"
        )
        rows = []

        def bench(label: str, fn, target: float | None, note=lambda r: ""):
            with Session(engine) as session:
                median, best, result = timed(lambda: fn(session))
            rows.append((label, median, best, target, note(result)))
            print(
                f"  {label:<58} {median:7.3f} s (best {best:.3f})"
                f"{'' if target is None else f'  target < {target} s'}  {note(result)}"
            )
            return result

        print("timings (median of 3):")
        bench(
            f"coverage ratio, province {DENSE_PROVINCE}, all tiers + sub-regions",
            lambda s: coverage(s, DENSE_PROVINCE, geometry=False),
            2.0,
            lambda r: (
                f"ratio {r.region.ratio:.4f}, {r.outlets:,} outlets, {len(r.sub_regions)} subs"
            ),
        )
        bench(
            f"coverage ratio, province {DENSE_PROVINCE}, whole network only",
            lambda s: coverage(
                s, DENSE_PROVINCE, geometry=False, per_tier=False, sub_regions=False
            ),
            2.0,
            lambda r: f"ratio {r.region.ratio:.4f}",
        )
        retail = AnalysisParams(tiers=("retail",))
        bench(
            f"coverage ratio, province {DENSE_PROVINCE}, retail 1 km + sub-regions",
            lambda s: coverage(s, DENSE_PROVINCE, retail, geometry=False),
            2.0,
            lambda r: f"ratio {r.region.ratio:.4f}, {r.outlets:,} outlets",
        )
        bench(
            f"coverage with outline GeoJSON, province {DENSE_PROVINCE}, retail 1 km",
            lambda s: coverage(s, DENSE_PROVINCE, retail, per_tier=False, sub_regions=False),
            None,
            lambda r: f"{vertices(r.geometry):,} vertices",
        )
        bench(
            f"coverage with outline GeoJSON, province {DENSE_PROVINCE}",
            lambda s: coverage(s, DENSE_PROVINCE, per_tier=False, sub_regions=False),
            None,
            lambda r: f"{vertices(r.geometry):,} vertices",
        )
        bench(
            f"gap grid 5 km, province {DENSE_PROVINCE}, all tiers",
            lambda s: gaps(s, DENSE_PROVINCE, AnalysisParams(cell_km=5)),
            2.0,
            lambda r: f"{r.cells:,} cells, {r.gap_cells:,} gaps",
        )
        with engine.connect() as conn:
            cn_area = conn.scalar(text("SELECT area_m2 FROM regions WHERE code = 'CN'"))
        cn_cell = round(math.sqrt(cn_area / (math.sqrt(3) / 2 * 1_000_000)) / 1000, 2)
        retail2k = AnalysisParams(tiers=("retail",), radius_m={"retail": 2000})
        bench(
            f"gap grid {cn_cell} km over CN (~1 M cells), retail 2 km",
            lambda s: gaps(s, "CN", retail2k.with_(cell_km=cn_cell), limit=500),
            1.5,
            lambda r: f"{r.cells:,} cells, {r.gap_cells:,} gaps, {r.outlets:,} outlets",
        )
        bench(
            "gap grid 1 km over 540000 (Tibet, 1.2 M km²), retail 2 km",
            lambda s: gaps(s, "540000", retail2k.with_(cell_km=1.0), limit=500),
            1.5,
            lambda r: f"{r.cells:,} cells, {r.gap_cells:,} gaps",
        )
        every = AnalysisParams(status=None, cell_km=5)
        bench(
            f"sales density 5 km, province {DENSE_PROVINCE}",
            lambda s: density(s, DENSE_PROVINCE, every),
            0.5,
            lambda r: f"{r.total.records:,} records in {r.cell_count:,} cells",
        )
        bench(
            "sales density 5 km, CN",
            lambda s: density(s, "CN", every),
            1.5,
            lambda r: f"{r.total.records:,} records in {r.cell_count:,} cells",
        )
        # one distributor's network (the largest in the province): the walk down its tree
        # (domain.network.outlet_tree) filters the outlets and the buyers
        with Session(engine) as session:
            largest = largest_network(session, DENSE_PROVINCE)
        network = AnalysisParams(distributor=largest, cell_km=5)
        bench(
            f"gap grid 5 km, province {DENSE_PROVINCE}, network of {largest}",
            lambda s: gaps(s, DENSE_PROVINCE, network),
            None,
            lambda r: f"{r.outlets:,} outlets, {r.gap_cells:,} gaps",
        )
        bench(
            f"sales density 5 km, province {DENSE_PROVINCE}, network of {largest}",
            lambda s: density(s, DENSE_PROVINCE, network.with_(status=None)),
            None,
            lambda r: f"{r.total.records:,} records in {r.cell_count:,} cells",
        )
        # a period ending inside a month and one product: rollup rows plus some records
        period = every.with_(date_from=dt.date(2024, 2, 1), date_to=dt.date(2024, 11, 20))
        for code in (DENSE_PROVINCE, "CN"):
            bench(
                f"sales density 5 km, {code}, 2024-02-01..11-20",
                lambda s, code=code: density(s, code, period),
                None,
                lambda r: f"{r.total.records:,} records in {r.cell_count:,} cells",
            )
            bench(
                f"sales density 5 km, {code}, product SKU3",
                lambda s, code=code: density(s, code, every.with_(product="SKU3")),
                None,
                lambda r: f"{r.total.records:,} records in {r.cell_count:,} cells",
            )
        if not args.no_baseline:
            for label, params in (
                ("all tiers, default radii", AnalysisParams(cell_km=5)),
                ("retail only, 1 km", AnalysisParams(tiers=("retail",), cell_km=5)),
            ):
                baseline(engine, label, params)
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark: generating and loading the demo network, bulk COPY vs one ORM object per row.

    .venv/bin/python bench/bench_demo.py --outlets 100000 --baseline 5000 [--no-districts]

Starts a throwaway PostgreSQL + PostGIS cluster with durable settings (fsync on), migrates,
loads the shipped Chinese boundaries (with the districts, as ``geo-crm demo`` does, unless
``--no-districts``), then times ``generate_network`` (arrays + COPY, all database triggers
firing) against a naive ORM load of the same generated network on a smaller sample, in the
same run. The naive rate is extrapolated per row. Besides wall times it prints the CPU seconds
of this process and of its PostgreSQL backend for the region load and the bulk loads (they do
not depend on what else the machine runs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_import import Clock  # wall, this process's and its backend's CPU seconds
from geoalchemy2 import WKTElement
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.demo.generator import (
    PRODUCTS,
    build_network,
    clear_network,
    fetch_areas,
    generate_network,
)
from geo_crm.io.boundaries import default_region_files, load_region_files
from geo_crm.models import TIERS, Outlet, Product, SalesPlan, SalesRecord


def bulk(engine, outlets: int, seed: int) -> tuple[float, int, dict]:
    with Session(engine) as session, Clock(session) as clock:
        started = time.perf_counter()
        report = generate_network(session, outlets=outlets, seed=seed)
        t0 = time.perf_counter()
        session.commit()
        report.stages["commit"] = time.perf_counter() - t0
        seconds = time.perf_counter() - started
    t = clock.timing
    print(
        f"bulk  {outlets:>8,} outlets: {report.sales_records:,} sales records, "
        f"{report.plans:,} plans, {report.untagged:,} untagged, {report.regions} regions; "
        f"CPU s: client {t.client_cpu:.1f} + server {t.server_cpu:.1f} = {t.cpu:.1f}"
    )
    return seconds, report.rows, report.stages


def naive(engine, outlets: int, seed: int) -> tuple[float, int]:
    """The same network, one ORM object per row, committed in one transaction."""
    with Session(engine) as session:
        started = time.perf_counter()
        areas = fetch_areas(session)
        net = build_network(areas, outlets=outlets, seed=seed)
        products = {p.sku: p for p in session.query(Product)}
        product_objs = [products[p[0]] for p in PRODUCTS]
        objs: list[Outlet] = []
        for i in range(len(net)):
            objs.append(
                Outlet(
                    code=net.code[i],
                    name=net.name[i],
                    tier=TIERS[net.tier[i]],
                    parent=objs[net.parent[i]] if net.parent[i] >= 0 else None,
                    location=WKTElement(
                        f"POINT({float(net.x[i])!r} {float(net.y[i])!r})", srid=4326
                    )
                    if net.tagged[i]
                    else None,
                    address=net.address[i],
                    contact=net.contact[i],
                    phone=net.phone[i],
                    status=net.status[i],
                )
            )
        session.add_all(objs)
        session.flush()
        for i in range(len(net.sale_qty)):
            session.add(
                SalesRecord(
                    seller_id=objs[net.sale_seller[i]].id,
                    buyer_id=objs[net.sale_buyer[i]].id,
                    sale_date=net.sale_date[i].item(),
                    product_id=product_objs[net.sale_product[i]].id,
                    spec=PRODUCTS[net.sale_product[i]][2],
                    quantity=int(net.sale_qty[i]),
                    amount=int(net.sale_amount[i]) / 100,
                    amount_paid=int(net.sale_paid[i]) / 100,
                )
            )
        for i in range(len(net.plan_qty)):
            session.add(
                SalesPlan(
                    distributor_id=objs[net.plan_distributor[i]].id,
                    month=net.plan_month[i].item(),
                    product_id=product_objs[net.plan_product[i]].id,
                    target_quantity=int(net.plan_qty[i]),
                    target_amount=int(net.plan_amount[i]) / 100,
                    support_notes=net.plan_notes[i],
                )
            )
        session.commit()
        seconds = time.perf_counter() - started
        rows = len(net) + len(net.sale_qty) + len(net.plan_qty)
        print(
            f"naive {outlets:>8,} outlets: {len(net.sale_qty):,} sales records, "
            f"{len(net.plan_qty):,} plans"
        )
        return seconds, rows


def clear(engine) -> None:
    with Session(engine) as session:
        clear_network(session)
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlets", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=5_000, help="outlets for the naive load")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--no-districts",
        dest="districts",
        action="store_false",
        help="load country, provinces and cities only (what the demo loaded before districts)",
    )
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_bench", fast_unsafe=False)
    try:
        t0 = time.perf_counter()
        engine = ready_engine(cluster.ensure_database())
        print(f"cluster + migrations: {time.perf_counter() - t0:.1f} s  ({os.cpu_count()} cores)")
        with Session(engine) as session, Clock(session) as clock:
            load_region_files(session, default_region_files(districts=args.districts))
            session.commit()
            levels = dict(
                session.execute(text("SELECT level, count(*) FROM regions GROUP BY level")).all()
            )
        t = clock.timing
        print(
            f"regions: {levels} in {t.wall:.1f} s (CPU s: client {t.client_cpu:.1f} + server "
            f"{t.server_cpu:.1f})"
        )

        results = []
        seconds, rows, stages = bulk(engine, args.outlets, args.seed)
        results.append(("bulk COPY", args.outlets, seconds, rows))
        print("  stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in stages.items()))
        clear(engine)
        seconds, rows, _ = bulk(engine, args.baseline, args.seed)
        results.append(("bulk COPY", args.baseline, seconds, rows))
        clear(engine)
        seconds, rows = naive(engine, args.baseline, args.seed)
        results.append(("naive ORM", args.baseline, seconds, rows))

        print(
            f"\n{'method':<10} {'outlets':>9} {'rows':>9} {'seconds':>8} {'rows/s':>9} "
            f"{'outlets/s':>9}"
        )
        for method, n, sec, rows in results:
            print(
                f"{method:<10} {n:>9,} {rows:>9,} {sec:>8.1f} {rows / sec:>9,.0f} {n / sec:>9,.0f}"
            )
        big, small, orm = results
        per_row = orm[2] / orm[3]
        print(
            f"\nnaive ORM extrapolated to {args.outlets:,} outlets ({big[3]:,} rows): "
            f"{per_row * big[3]:.0f} s"
        )
        print(
            f"speed-up of bulk over naive: {(big[3] / big[2]) / (orm[3] / orm[2]):.1f}x "
            f"({args.outlets:,} vs {args.baseline:,} outlets), "
            f"{(small[3] / small[2]) / (orm[3] / orm[2]):.1f}x at equal size"
        )
        engine.dispose()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    np.seterr(all="raise")
    main()

"""Benchmark: ranking 1,000 distributors of a province over 5,000,000 sales records, beside a
naive baseline.

    .venv/bin/python bench/bench_ranking.py [--distributors 1000] [--records 5000000]

Starts a throwaway PostgreSQL + PostGIS cluster (durable settings), migrates, makes one
province split into 16 cities, ``--distributors`` distributors in it, each with four
wholesalers and twenty retail outlets below them, ten products, ``--records`` sales records
over the last 24 months (a fifth sell-in from the manufacturer, the rest sell-out down the
network; unpaid records in the last months), monthly plans of every distributor × product for
the last 12 months and two evaluations per distributor, then times:

- ``analysis.ranking.ranking`` of the province by each figure over this year (one set-based
  statement), and
- a naive ranking: per distributor, its figures from the sales records (no rollups) with one
  query each, sorted in Python — over ``--baseline`` distributors, extrapolated to all.

Reads are timed warm (median of ``--repeat`` runs after one untimed run). The load average is
printed before and after: numbers from a busy machine are slower than from an idle one. The
bulk load writes the records with triggers disabled and then rebuilds the rollups, as
migration 0003 documents for such loads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_import import Clock  # beside this script: wall and CPU times
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.analysis.ranking import FIGURES, ranking
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.domain.plans import next_month

PRODUCTS = 10
MONTHS = 24
PROVINCE = "330000"


def _load(session: Session, n_dist: int, n_records: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    session.execute(
        text(
            "INSERT INTO regions (code, name, level, boundary) VALUES ('100000', '全国', 'country',"
            " ST_Multi(ST_MakeEnvelope(70, 15, 135, 55, 4326)))"
        )
    )
    session.execute(
        text(
            "INSERT INTO regions (code, name, level, parent_id, boundary) VALUES (:p, '浙江',"
            " 'province', (SELECT id FROM regions WHERE code = '100000'),"
            " ST_Multi(ST_MakeEnvelope(118, 27, 122, 31, 4326)))"
        ),
        {"p": PROVINCE},
    )
    for i in range(16):
        x0, y0 = 118 + (i % 4), 27 + (i // 4)
        session.execute(
            text(
                "INSERT INTO regions (code, name, level, parent_id, boundary) VALUES (:c, :n,"
                " 'city', (SELECT id FROM regions WHERE code = :p),"
                " ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)))"
            ),
            {"c": f"33{i + 1:02d}00", "n": f"市{i:02d}", "p": PROVINCE, "x0": x0, "y0": y0,
             "x1": x0 + 1, "y1": y0 + 1},
        )  # fmt: skip
    session.execute(
        text(
            "INSERT INTO products (sku, name, unit) SELECT 'P' || i, '产品' || i, 'case'"
            " FROM generate_series(1, :n) i"
        ),
        {"n": PRODUCTS},
    )
    x = rng.uniform(118.05, 121.95, n_dist)
    y = rng.uniform(27.05, 30.95, n_dist)
    raw = session.connection().connection.driver_connection

    def copy_outlets(rows, columns: str) -> None:
        with raw.cursor() as cur, cur.copy(f"COPY outlets ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    copy_outlets(
        ((f"D{i:05d}", f"总经销{i}", "distributor", f"SRID=4326;POINT({x[i]} {y[i]})")
         for i in range(n_dist)),
        "code, name, tier, location",
    )  # fmt: skip
    ids = session.execute(text("SELECT id FROM outlets ORDER BY code")).scalars().all()
    dist_ids = np.array(ids)
    jitter = rng.normal(0, 0.3, (n_dist * 4, 2))
    copy_outlets(
        ((f"W{i:06d}", f"批发{i}", "wholesaler_2", int(dist_ids[i // 4]),
          f"SRID=4326;POINT({np.clip(x[i // 4] + jitter[i, 0], 118.01, 121.99)} "
          f"{np.clip(y[i // 4] + jitter[i, 1], 27.01, 30.99)})")
         for i in range(n_dist * 4)),
        "code, name, tier, parent_id, location",
    )  # fmt: skip
    whole_ids = np.array(
        session.execute(text("SELECT id FROM outlets WHERE tier = 'wholesaler_2' ORDER BY code"))
        .scalars()
        .all()
    )
    n_retail = n_dist * 20
    jitter = rng.normal(0, 0.5, (n_retail, 2))
    copy_outlets(
        ((f"R{i:07d}", f"零售{i}", "retail", int(whole_ids[i // 5]),
          f"SRID=4326;POINT({np.clip(x[i // 20] + jitter[i, 0], 118.01, 121.99)} "
          f"{np.clip(y[i // 20] + jitter[i, 1], 27.01, 30.99)})")
         for i in range(n_retail)),
        "code, name, tier, parent_id, location",
    )  # fmt: skip
    retail_ids = np.array(
        session.execute(text("SELECT id FROM outlets WHERE tier = 'retail' ORDER BY code"))
        .scalars()
        .all()
    )
    product_ids = np.array(
        session.execute(text("SELECT id FROM products ORDER BY id")).scalars().all()
    )
    today = dt.date.today()
    first = next_month(today.replace(day=1), -(MONTHS - 1))
    span = (today - first).days + 1
    n_in = n_records // 5
    n_whole = (n_records - n_in) // 2
    n_ret = n_records - n_in - n_whole
    session.execute(text("SET LOCAL session_replication_role = replica"))
    t0 = time.perf_counter()
    for kind, n in (("in", n_in), ("whole", n_whole), ("retail", n_ret)):
        if kind == "in":
            pick = rng.integers(0, n_dist, n)
            seller, buyer_id = None, dist_ids[pick]
        elif kind == "whole":
            pick = rng.integers(0, n_dist * 4, n)
            seller, buyer_id = dist_ids[pick // 4], whole_ids[pick]
        else:
            pick = rng.integers(0, n_retail, n)
            seller, buyer_id = whole_ids[pick // 5], retail_ids[pick]
        day = rng.integers(0, span, n)
        product = product_ids[rng.integers(0, PRODUCTS, n)]
        qty = rng.integers(1, 200, n)
        amount = qty * 30
        paid = np.where((day > span - 90) & (rng.random(n) < 0.4), 0, amount)
        dates = (np.datetime64(first) + day).astype(str)
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount,"
                " amount_paid) FROM STDIN"
            ) as copy,
        ):
            chunk = 200_000
            for lo in range(0, n, chunk):
                hi = min(n, lo + chunk)
                s_part = ["\\N"] * (hi - lo) if seller is None else seller[lo:hi].astype(str)
                copy.write("".join(
                    f"{s}\t{b}\t{d}\t{p}\t{q}\t{a}\t{pd}\n"
                    for s, b, d, p, q, a, pd in zip(
                        s_part, buyer_id[lo:hi].tolist(), dates[lo:hi], product[lo:hi].tolist(),
                        qty[lo:hi].tolist(), amount[lo:hi].tolist(), paid[lo:hi].tolist(),
                        strict=True,
                    )
                ))  # fmt: skip
    print(f"  {n_records:,} sales records COPY: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    months = [next_month(today.replace(day=1), -k) for k in range(12)]
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY sales_plans (distributor_id, month, product_id, target_quantity, target_amount)"
            " FROM STDIN"
        ) as copy,
    ):
        for d in dist_ids.tolist():
            for m in months:
                for p in product_ids.tolist():
                    copy.write_row((d, m, p, 180, 5400))
    session.execute(text("SET LOCAL session_replication_role = origin"))
    session.execute(
        text(
            "INSERT INTO evaluations (distributor_id, evaluated_on, initiative, credit, staff,"
            " reach_outlets) SELECT id, current_date - k * 180, 1 + (id + k) % 5, 1 + id % 5,"
            " (id % 40)::smallint, 24 FROM outlets, generate_series(0, 1) k"
            " WHERE tier = 'distributor'"
        )
    )
    session.execute(text("SELECT geo_crm_sales_rollup_rebuild()"))
    session.execute(text("SELECT geo_crm_sales_seller_rollup_rebuild()"))
    session.execute(text("ANALYZE"))
    print(f"  plans, evaluations, rollups, analyze: {time.perf_counter() - t0:.1f} s")


def _timed(session: Session, fn, repeat: int) -> tuple[str, float, object]:
    result = fn()
    walls, cpus = [], []
    for _ in range(repeat):
        with Clock(session) as clock:
            result = fn()
        walls.append(clock.timing.wall)
        cpus.append((clock.timing.client_cpu, clock.timing.server_cpu))
    wall = statistics.median(walls)
    client = statistics.median(c for c, _ in cpus)
    server = statistics.median(s for _, s in cpus)
    return (
        f"{wall * 1000:8.1f} ms  (CPU: client {client * 1000:.0f} + database "
        f"{server * 1000:.0f} ms)",
        wall,
        result,
    )


# the naive way: one distributor at a time, straight from the sales records
_NAIVE_ONE = text("""
WITH RECURSIVE net(id) AS (
    SELECT CAST(:d AS bigint) UNION ALL SELECT c.id FROM outlets c JOIN net ON c.parent_id = net.id
), retail AS (
    SELECT o.id, o.region_id FROM net JOIN outlets o ON o.id = net.id
     WHERE o.tier = 'retail' AND o.status = 'active'
)
SELECT
  (SELECT coalesce(sum(amount), 0) FROM sales_records WHERE seller_id IS NULL AND buyer_id = :d
    AND sale_date BETWEEN :a AND :z) AS sell_in,
  (SELECT coalesce(sum(amount), 0) FROM sales_records WHERE seller_id IS NULL AND buyer_id = :d
    AND sale_date BETWEEN :pa AND :pz) AS sell_in_last_year,
  (SELECT coalesce(sum(amount), 0) FROM sales_records WHERE seller_id = :d
    AND sale_date BETWEEN :a AND :z) AS sell_out,
  (SELECT sum(target_amount) FROM sales_plans WHERE distributor_id = :d
    AND month BETWEEN :a AND :z) AS plan,
  (SELECT count(*) FROM retail) AS retail,
  (SELECT count(DISTINCT s.buyer_id) FROM sales_records s WHERE s.buyer_id IN
    (SELECT id FROM retail) AND s.sale_date BETWEEN :a AND :z) AS bought,
  (SELECT count(DISTINCT region_id) FROM retail) AS reached,
  (SELECT min(sale_date) FROM sales_records WHERE seller_id IS NULL AND buyer_id = :d
    AND amount_paid < amount AND sale_date <= :z) AS oldest,
  (SELECT (e.initiative + e.credit) FROM evaluations e WHERE e.distributor_id = :d
    ORDER BY e.evaluated_on DESC LIMIT 1) AS score
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distributors", type=int, default=1_000)
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--baseline", type=int, default=100, help="distributors ranked naively")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--keep", type=Path, metavar="DIR",
        help="keep the cluster in DIR and reuse its data when run again (same sizes)",
    )  # fmt: skip
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    base = args.keep or Path(tempfile.mkdtemp(prefix="gcrm-bench-rank-"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    reuse = (base / "loaded").is_file()
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_bench", fast_unsafe=False)
    try:
        t0 = time.perf_counter()
        engine = ready_engine(cluster.ensure_database())
        if not reuse:
            with Session(engine) as session:
                _load(session, args.distributors, args.records, args.seed)
                session.commit()
            if args.keep:
                (base / "loaded").write_text("yes")
        print(f"data: {time.perf_counter() - t0:.1f} s")
        year = str(dt.date.today().year)
        with Session(engine) as session:
            print(f"\nranking of {args.distributors:,} distributors in {PROVINCE} over "
                  f"{args.records:,} sales records, {year} (target < 1 s)")  # fmt: skip
            for by in FIGURES:
                fast, _, result = _timed(
                    session,
                    lambda by=by: ranking(session, PROVINCE, by=by, period=year, user=None),
                    args.repeat,
                )
                print(f"   ranking by {by:<18} {fast}  ({len(result.rows):,} ranked)")
            today = dt.date.today()
            params = {
                "a": dt.date(today.year, 1, 1), "z": dt.date(today.year, 12, 31),
                "pa": dt.date(today.year - 1, 1, 1), "pz": dt.date(today.year - 1, 12, 31),
            }  # fmt: skip
            ids = session.execute(
                text("SELECT id FROM outlets WHERE tier = 'distributor' ORDER BY id LIMIT :n"),
                {"n": args.baseline},
            ).scalars().all()  # fmt: skip

            def naive():
                rows = [(d, session.execute(_NAIVE_ONE, {**params, "d": d}).one()) for d in ids]
                return sorted(rows, key=lambda r: -(r[1].sell_in / r[1].plan) if r[1].plan else 0)

            slow, wall, _ = _timed(session, naive, max(1, args.repeat // 2))
            print(f"   naive, {len(ids):,} distributors one by one from the sales records: "
                  f"{slow}")  # fmt: skip
            print(f"   … extrapolated to {args.distributors:,}: "
                  f"{wall / len(ids) * args.distributors:8.1f} s")  # fmt: skip
        print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        engine.dispose()
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

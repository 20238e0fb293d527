"""Benchmark: the distributor business's three speed targets, each beside a naive baseline.

    .venv/bin/python bench/bench_business.py [--distributors 10000] [--records 5000000]

Starts a throwaway PostgreSQL + PostGIS cluster (durable settings), migrates, makes 31
rectangular provinces, ``--distributors`` distributors spread over them with four wholesalers
each, ten products, ``--records`` sales records over the last 24 months (a fifth sell-in from
the manufacturer, the rest the distributors' sell-out; unpaid records in the last months),
monthly plans of every distributor × product for the last 12 months, then times:

1. the distributor list (``domain.distributors.distributor_list``): every distributor with
   this month's figures, sorted by achievement, first page — against the naive list that sums
   this month's sales records per distributor (no rollups) and sorts in Python;
2. plan against actual for the province with the most distributors over this year
   (``analysis.plans.plan_against_actual``, lines by month and distributor) — against the
   same figures summed from the sales records;
3. importing a ``--plan-rows``-line plan sheet (CSV, Chinese headers, next months) with
   ``io.imports.plans.import_plans``, and the same file again (every row unchanged) — against
   a naive import (per row: look up distributor, product and plan, insert or update one row)
   of ``--baseline`` rows, extrapolated.

Reads are timed warm (median of ``--repeat`` runs after one untimed run). The load average is
printed before and after: numbers from a busy machine are slower than from an idle one.
The bulk load writes the records with triggers disabled and then rebuilds the rollups, as
migration 0003 documents for such loads.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
from bench_import import Clock  # beside this script: wall and CPU times
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.analysis.plans import plan_against_actual
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.domain.distributors import DistributorQuery, distributor_list
from geo_crm.domain.plans import next_month
from geo_crm.io.imports import import_plans

PROVINCES = 31
PRODUCTS = 10
MONTHS = 24


def _load(session: Session, n_dist: int, n_records: int, seed: int) -> str:
    """The data set; returns the code of the province with the most distributors."""
    rng = np.random.default_rng(seed)
    session.execute(
        text(
            "INSERT INTO regions (code, name, level, boundary) VALUES ('100000', '全国', 'country',"
            " ST_Multi(ST_MakeEnvelope(70, 15, 135, 55, 4326)))"
        )
    )
    for i in range(PROVINCES):
        x0, y0 = 75 + (i % 8) * 7, 18 + (i // 8) * 8
        session.execute(
            text(
                "INSERT INTO regions (code, name, level, parent_id, boundary) VALUES (:c, :n,"
                " 'province', (SELECT id FROM regions WHERE code = '100000'),"
                " ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)))"
            ),
            {"c": f"{11 + i}0000", "n": f"省{i:02d}", "x0": x0, "y0": y0, "x1": x0 + 7,
             "y1": y0 + 8},
        )  # fmt: skip
    session.execute(
        text(
            "INSERT INTO products (sku, name, unit) SELECT 'P' || i, '产品' || i, 'case'"
            " FROM generate_series(1, :n) i"
        ),
        {"n": PRODUCTS},
    )
    # most distributors in the first provinces (a skewed country, as in life)
    weights = 1 / np.arange(1, PROVINCES + 1) ** 0.7
    prov = rng.choice(PROVINCES, n_dist, p=weights / weights.sum())
    x = 75 + (prov % 8) * 7 + rng.uniform(0.1, 6.9, n_dist)
    y = 18 + (prov // 8) * 8 + rng.uniform(0.1, 7.9, n_dist)
    surnames = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗")
    places = list("华东南北中西新兴盛达通顺")
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy("COPY outlets (code, name, tier, location) FROM STDIN") as copy,
    ):
        for i in range(n_dist):
            name = f"{places[i % 12]}{places[(i // 12) % 12]}{surnames[i % 20]}记总经销"
            copy.write_row((f"D{i:06d}", name, "distributor", f"SRID=4326;POINT({x[i]} {y[i]})"))
    dist_ids = np.array(
        session.execute(text("SELECT id FROM outlets ORDER BY code")).scalars().all()
    )
    with (
        raw.cursor() as cur,
        cur.copy("COPY outlets (code, name, tier, parent_id, location) FROM STDIN") as copy,
    ):
        for i in range(n_dist * 4):
            d = i // 4
            copy.write_row((f"W{i:07d}", f"批发部{i}", "wholesaler_2", int(dist_ids[d]),
                            f"SRID=4326;POINT({x[d] + 0.01} {y[d] + 0.01})"))  # fmt: skip
    whole_ids = np.array(
        session.execute(text("SELECT id FROM outlets WHERE tier = 'wholesaler_2' ORDER BY code"))
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
    n_out = n_records - n_in
    session.execute(text("SET LOCAL session_replication_role = replica"))
    t0 = time.perf_counter()
    for kind, n in (("in", n_in), ("out", n_out)):
        buyer = rng.integers(0, n_dist if kind == "in" else n_dist * 4, n)
        seller = None if kind == "in" else dist_ids[buyer // 4]
        buyer_id = dist_ids[buyer] if kind == "in" else whole_ids[buyer]
        day = rng.integers(0, span, n)
        product = product_ids[rng.integers(0, PRODUCTS, n)]
        qty = rng.integers(1, 200, n)
        price = 30 if kind == "in" else 33
        amount = qty * price
        recent = day > span - 90
        paid = np.where(recent & (rng.random(n) < 0.4), 0, amount)
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
                lines = "".join(
                    f"{s}\t{b}\t{d}\t{p}\t{q}\t{a}\t{pd}\n"
                    for s, b, d, p, q, a, pd in zip(
                        s_part, buyer_id[lo:hi].tolist(), dates[lo:hi], product[lo:hi].tolist(),
                        qty[lo:hi].tolist(), amount[lo:hi].tolist(), paid[lo:hi].tolist(),
                        strict=True,
                    )
                )  # fmt: skip
                copy.write(lines)
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
    session.execute(text("SELECT geo_crm_sales_rollup_rebuild()"))
    session.execute(text("SELECT geo_crm_sales_seller_rollup_rebuild()"))
    session.execute(text("ANALYZE"))
    print(f"  plans, rollups, analyze: {time.perf_counter() - t0:.1f} s")
    busiest = int(np.bincount(prov).argmax())
    return f"{11 + busiest}0000"


def _timed(session: Session, fn, repeat: int) -> tuple[str, object]:
    """Median wall time of ``repeat`` warm runs, and the median CPU time of this process and
    of the session's backend (which a busy machine does not inflate), as text."""
    result = fn()
    walls, cpus = [], []
    for _ in range(repeat):
        with Clock(session) as clock:
            result = fn()
        walls.append(clock.timing.wall)
        cpus.append((clock.timing.client_cpu, clock.timing.server_cpu))
    client = statistics.median(c for c, _ in cpus)
    server = statistics.median(s for _, s in cpus)
    text_ = (
        f"{statistics.median(walls) * 1000:8.1f} ms  (CPU: client {client * 1000:.0f} + "
        f"database {server * 1000:.0f} ms)"
    )
    return text_, result


_NAIVE_LIST = text("""
SELECT d.id, d.code,
       (SELECT coalesce(sum(amount), 0) FROM sales_records s WHERE s.seller_id IS NULL
         AND s.buyer_id = d.id AND s.sale_date >= :m AND s.sale_date < :n) AS sell_in,
       (SELECT coalesce(sum(amount), 0) FROM sales_records s WHERE s.seller_id = d.id
         AND s.sale_date >= :m AND s.sale_date < :n) AS sell_out,
       (SELECT sum(target_amount) FROM sales_plans p WHERE p.distributor_id = d.id
         AND p.month = :m) AS plan,
       (SELECT coalesce(sum(amount - amount_paid), 0) FROM sales_records s
         WHERE s.seller_id IS NULL AND s.buyer_id = d.id AND s.amount_paid < s.amount) AS debt
  FROM outlets d WHERE d.tier = 'distributor'
""")

_NAIVE_ACTUAL = text("""
WITH d AS (SELECT id FROM outlets WHERE tier = 'distributor' AND region_id IN
           (SELECT id FROM regions WHERE code = :r))
SELECT x.d, x.m, sum(x.pa), sum(x.si), sum(x.so) FROM (
  SELECT distributor_id AS d, month AS m, target_amount AS pa, 0 AS si, 0 AS so FROM sales_plans
   WHERE distributor_id IN (SELECT id FROM d) AND month BETWEEN :a AND :b
  UNION ALL
  SELECT buyer_id, date_trunc('month', sale_date)::date, 0, amount, 0 FROM sales_records
   WHERE seller_id IS NULL AND buyer_id IN (SELECT id FROM d) AND sale_date >= :a
     AND sale_date < :e
  UNION ALL
  SELECT seller_id, date_trunc('month', sale_date)::date, 0, 0, amount FROM sales_records
   WHERE seller_id IN (SELECT id FROM d) AND sale_date >= :a AND sale_date < :e
) x GROUP BY 1, 2 ORDER BY 2, 1
""")


def _write_plan_sheet(path: Path, rows: int, codes: list[str], start: dt.date) -> int:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["经销商编码", "月份", "产品编码", "目标数量", "目标金额", "10日累计金额",
                         "20日累计金额", "支援类型", "支援内容"])  # fmt: skip
        n = 0
        month = start
        while n < rows:
            for code in codes:
                for p in range(1, PRODUCTS + 1):
                    if n >= rows:
                        break
                    writer.writerow([code, f"{month:%Y-%m}", f"P{p}", 200, "6000.00", "1800.00",
                                     "3900.00", "促销" if p == 1 else "", "买十送一" if p == 1
                                     else ""])  # fmt: skip
                    n += 1
                if n >= rows:
                    break
            month = next_month(month)
    return n


def _naive_import(session: Session, path: Path) -> int:
    """Per row: look the distributor, the product and the plan up; insert or update one row."""
    n = 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for code, month, sku, qty, amount, *_ in reader:
            d = session.execute(
                text("SELECT id FROM outlets WHERE code = :c"), {"c": code}
            ).scalar()
            p = session.execute(text("SELECT id FROM products WHERE sku = :s"), {"s": sku}).scalar()
            m = dt.date.fromisoformat(month + "-01")
            found = session.execute(
                text("SELECT id FROM sales_plans WHERE distributor_id = :d AND month = :m AND"
                     " product_id = :p"), {"d": d, "m": m, "p": p},
            ).scalar()  # fmt: skip
            values = {"d": d, "m": m, "p": p, "q": Decimal(qty), "a": Decimal(amount)}
            if found is None:
                session.execute(
                    text("INSERT INTO sales_plans (distributor_id, month, product_id,"
                         " target_quantity, target_amount) VALUES (:d, :m, :p, :q, :a)"), values,
                )  # fmt: skip
            else:
                session.execute(
                    text("UPDATE sales_plans SET target_quantity = :q, target_amount = :a"
                         " WHERE id = :id"), {**values, "id": found},
                )  # fmt: skip
            n += 1
    session.rollback()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distributors", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--plan-rows", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the cluster in DIR and reuse its data when run again (same sizes)",
    )
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    base = args.keep or Path(tempfile.mkdtemp(prefix="gcrm-bench-biz-"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    reuse = (base / "province").is_file()
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_bench", fast_unsafe=False)
    try:
        t0 = time.perf_counter()
        engine = ready_engine(cluster.ensure_database())
        with Session(engine) as session:
            if reuse:
                province = (base / "province").read_text().strip()
                session.execute(text("DELETE FROM sales_plans WHERE month > current_date"))
                session.commit()
            else:
                province = _load(session, args.distributors, args.records, args.seed)
                session.commit()
                if args.keep:
                    (base / "province").write_text(province)
            in_province = session.execute(
                text("SELECT count(*) FROM outlets o JOIN regions r ON r.id = o.region_id"
                     " WHERE r.code = :r AND o.tier = 'distributor'"), {"r": province},
            ).scalar()  # fmt: skip
        print(f"data: {time.perf_counter() - t0:.1f} s; province {province} has "
              f"{in_province:,} distributors")  # fmt: skip

        today = dt.date.today()
        month = today.replace(day=1)
        with Session(engine) as session:
            query = DistributorQuery(sort="achievement", desc=True, limit=50)
            fast, page = _timed(
                session, lambda: distributor_list(session, query, user=None), args.repeat
            )
            params = {"m": month, "n": next_month(month)}

            def naive_list():
                rows = session.execute(_NAIVE_LIST, params).all()
                return sorted(rows, key=lambda r: -(r.sell_in / r.plan) if r.plan else 0)[:50]

            slow, _ = _timed(session, naive_list, max(1, args.repeat // 2))
            print(f"\n1. distributor list, {page.total:,} distributors, this month's figures, "
                  f"sorted by achievement (target < 300 ms)")  # fmt: skip
            print(f"   distributor_list (rollups, one statement):      {fast}")
            print(f"   naive (sums of sales records per distributor):  {slow}")

            year = str(today.year)
            fast, result = _timed(
                session,
                lambda: plan_against_actual(session, user=None, region=province, period=year),
                args.repeat,
            )
            ap = {"r": province, "a": dt.date(today.year, 1, 1), "b": dt.date(today.year, 12, 1),
                  "e": dt.date(today.year + 1, 1, 1)}  # fmt: skip
            slow, _ = _timed(
                session,
                lambda: session.execute(_NAIVE_ACTUAL, ap).all(),
                max(1, args.repeat // 2),
            )
            print(
                f"\n2. plan against actual, province {province} ({result.distributors:,} "
                f"distributors), {year}, {len(result.lines):,} lines (target < 500 ms)"
            )
            full, _ = _timed(
                session,
                lambda: plan_against_actual(
                    session, user=None, region=province, period=year
                ).to_dict(),
                args.repeat,
            )
            print(f"   plan_against_actual (rollups):   {fast}")
            print(f"   … and every line as the API's dict: {full}")
            print(f"   naive (sums of sales records):   {slow}")

        codes = [f"D{i:06d}" for i in range(args.distributors)]
        sheet = base / "plans.csv"
        start = next_month(month)
        rows = _write_plan_sheet(sheet, args.plan_rows, codes, start)
        small = base / "plans-small.csv"
        _write_plan_sheet(small, args.baseline, codes[::-1], start)
        print(f"\n3. plan import, {rows:,} lines (CSV, Chinese headers; target < 10 s)")
        with Session(engine) as session:
            t0 = time.perf_counter()
            report = import_plans(session, sheet)
            session.commit()
            first_s = time.perf_counter() - t0
            print(f"   import_plans, new plans: {first_s:6.2f} s  ({report.summary()})")
        with Session(engine) as session:
            t0 = time.perf_counter()
            report = import_plans(session, sheet)
            session.commit()
            print(
                f"   the same file again: {time.perf_counter() - t0:6.2f} s  ({report.summary()})"
            )
        with Session(engine) as session:
            t0 = time.perf_counter()
            n = _naive_import(session, small)
            naive_s = time.perf_counter() - t0
            print(f"   naive per-row import of {n:,} lines: {naive_s:6.2f} s → "
                  f"{naive_s / n * rows:6.1f} s for {rows:,} (extrapolated)")  # fmt: skip
        print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        engine.dispose()
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

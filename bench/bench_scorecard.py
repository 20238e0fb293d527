"""Benchmark: a distributor's scorecard (``GET /api/v1/distributors/{code}/scorecard`` and its
page) for a distributor with a big network inside a big history, beside a naive baseline.

    .venv/bin/python bench/bench_scorecard.py [--sales 500000] [--big-outlets 2000]
    .venv/bin/python bench/bench_scorecard.py --sales 5000000 --distributors 10000  # target

Starts a throwaway PostgreSQL + PostGIS cluster (durable settings), migrates, and makes the
data set with set-based SQL (generate_series; records written with triggers disabled, then
the rollups rebuilt, as migration 0003 documents for bulk loads): a city of 16 districts in
which distributor ``D000000`` has 20 wholesalers and ``--big-outlets`` retail outlets under
them, its city as territory, ``--big-sales`` records of its network over the last 25 months
(sell-in, its sell-out to the wholesalers, theirs to retail), monthly plans for two years,
six evaluations; around it ``--distributors`` other distributors (four wholesalers and 40
retail outlets each) with ``--sales`` records over two years. Then times, warm (median of
``--repeat`` after one untimed call), through the Flask app in-process:

1. the API's scorecard, and the scorecard page (HTML);
2. the naive scorecard figures: the network's records of the 25 months fetched and summed per
   month in Python (sell-in, sell-out), with the plans — what the chart needs, without the
   rollups;

and lists the slowest SQL statements of one API call (their EXPLAIN ANALYZE with
``--explain``). The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from geo_crm import create_app
from geo_crm.analysis.judging import record_evaluation
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.domain import territories
from geo_crm.domain.evaluations import EvaluationIn

BIG = "D000000"

_RND = """
CREATE FUNCTION pg_temp.rnd(key int8, stream int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ((hashint8(key * 37 + stream) & 2147483647) % 1000003) / 1000003.0 $$"""

_SETUP = [
    """INSERT INTO regions (code, name, level, boundary)
       VALUES ('100000', '全国', 'country', ST_Multi(ST_MakeEnvelope(70, 15, 135, 55, 4326)))""",
    """INSERT INTO regions (code, name, level, parent_id, boundary)
       SELECT (11 + i) || '0000', '省' || i, 'province', (SELECT id FROM regions
               WHERE code = '100000'),
              ST_Multi(ST_MakeEnvelope(75 + (i % 8) * 7, 18 + (i / 8) * 8,
                                       82 + (i % 8) * 7, 26 + (i / 8) * 8, 4326))
         FROM generate_series(0, 30) i""",
    # the big distributor's city (in province 110000: 75-82 E, 18-26 N) and its 16 districts
    """INSERT INTO regions (code, name, level, parent_id, boundary)
       VALUES ('110100', '大城市', 'city', (SELECT id FROM regions WHERE code = '110000'),
               ST_Multi(ST_MakeEnvelope(78, 21, 79, 22, 4326)))""",
    """INSERT INTO regions (code, name, level, parent_id, boundary)
       SELECT '1101' || lpad((i + 1)::text, 2, '0'), '区' || i, 'district',
              (SELECT id FROM regions WHERE code = '110100'),
              ST_Multi(ST_MakeEnvelope(78 + (i % 4) * 0.25, 21 + (i / 4) * 0.25,
                                       78.25 + (i % 4) * 0.25, 21.25 + (i / 4) * 0.25, 4326))
         FROM generate_series(0, 15) i""",
    """INSERT INTO products (sku, name, unit)
       SELECT 'P' || i, '产品' || i, 'case' FROM generate_series(1, 10) i""",
    "SET LOCAL session_replication_role = replica",
    # the big network: D000000, 20 wholesalers, --big-outlets retail, all in the city
    """INSERT INTO outlets (code, name, tier, status, location)
       VALUES ('D000000', '大总经销', 'distributor', 'active',
               ST_SetSRID(ST_MakePoint(78.5, 21.5), 4326))""",
    """INSERT INTO outlets (code, name, tier, status, parent_id, location)
       SELECT 'BW' || lpad(k::text, 3, '0'), '大批发' || k, 'wholesaler_2', 'active',
              (SELECT id FROM outlets WHERE code = 'D000000'),
              ST_SetSRID(ST_MakePoint(78.05 + 0.9 * rnd(k, 1), 21.05 + 0.9 * rnd(k, 2)), 4326)
         FROM generate_series(0, 19) k""",
    """INSERT INTO outlets (code, name, tier, status, parent_id, location)
       SELECT 'BR' || lpad(k::text, 6, '0'), '大零售' || k, 'retail',
              CASE WHEN k % 50 = 0 THEN 'inactive' ELSE 'active' END,
              (SELECT id FROM outlets WHERE code = 'BW' || lpad((k % 20)::text, 3, '0')),
              ST_SetSRID(ST_MakePoint(78.01 + 0.98 * rnd(k, 3), 21.01 + 0.98 * rnd(k, 4)), 4326)
         FROM generate_series(0, :big_outlets - 1) k""",
    # the rest of the country
    """INSERT INTO outlets (code, name, tier, location)
       SELECT 'D' || lpad(g::text, 6, '0'), '总经销' || g, 'distributor',
              ST_SetSRID(ST_MakePoint(75 + (p % 8) * 7 + 0.5 + 6 * rnd(g, 1),
                                      18 + (p / 8) * 8 + 0.5 + 7 * rnd(g, 2)), 4326)
         FROM (SELECT g, least(30, floor(31 * rnd(g, 0) ^ 1.6)::int) AS p
                 FROM generate_series(1, :distributors) g) d""",
    """INSERT INTO outlets (code, name, tier, parent_id, location)
       SELECT 'W' || lpad((d.n * 4 + k)::text, 7, '0'), '批发部' || (d.n * 4 + k),
              'wholesaler_2', d.id,
              ST_SetSRID(ST_MakePoint(ST_X(d.location) + 0.2 * (rnd(d.id * 4 + k, 3) - 0.5),
                                      ST_Y(d.location) + 0.2 * (rnd(d.id * 4 + k, 4) - 0.5)),
                         4326)
         FROM (SELECT id, location, row_number() OVER (ORDER BY id) - 1 AS n
                 FROM outlets WHERE tier = 'distributor' AND code <> 'D000000') d,
              generate_series(0, 3) k""",
    """INSERT INTO outlets (code, name, tier, parent_id, location)
       SELECT 'R' || lpad((w.n * 10 + k)::text, 8, '0'), '零售' || (w.n * 10 + k), 'retail',
              w.id,
              ST_SetSRID(ST_MakePoint(ST_X(w.location) + 0.5 * (rnd(w.id * 10 + k, 5) - 0.5),
                                      ST_Y(w.location) + 0.5 * (rnd(w.id * 10 + k, 6) - 0.5)),
                         4326)
         FROM (SELECT id, location, row_number() OVER (ORDER BY id) - 1 AS n
                 FROM outlets WHERE tier = 'wholesaler_2' AND code LIKE 'W%') w,
              generate_series(0, 9) k""",
    """CREATE TEMPORARY TABLE tiers ON COMMIT DROP AS
       SELECT id, tier, parent_id, code LIKE 'B%' OR code = 'D000000' AS big,
              row_number() OVER (PARTITION BY tier, code LIKE 'B%' OR code = 'D000000'
                                 ORDER BY id) - 1 AS n
         FROM outlets""",
    "CREATE INDEX ON tiers (big, tier, n)",
    """CREATE TEMPORARY TABLE tier_counts ON COMMIT DROP AS
       SELECT big, tier, count(*) AS n FROM tiers GROUP BY 1, 2""",
    "ANALYZE tiers",
    # g % 10: 0-1 sell-in, 2-4 distributor → wholesaler, 5-9 wholesaler → retail; the big
    # network's --big-sales over 25 months, the others' --sales over two years
    """INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount,
                                  amount_paid)
       SELECT CASE WHEN s.kind = 0 THEN NULL ELSE b.parent_id END, b.id,
              current_date - (rnd(s.g, 8) * s.days)::int, 1 + s.g % 10, 1 + s.g % 50,
              (1 + s.g % 50) * 33,
              CASE WHEN rnd(s.g, 11) < 0.2 THEN 0 ELSE (1 + s.g % 50) * 33 END
         FROM (SELECT g, g <= :big_sales AS big,
                      CASE WHEN g <= :big_sales THEN 760 ELSE 730 END AS days,
                      CASE WHEN g % 10 < 2 THEN 0 WHEN g % 10 < 5 THEN 1 ELSE 2 END AS kind,
                      CASE WHEN g % 10 < 2 THEN 'distributor' WHEN g % 10 < 5 THEN 'wholesaler_2'
                           ELSE 'retail' END AS tier
                 FROM generate_series(1, :big_sales + :sales) g) s
         JOIN tier_counts c ON c.big = s.big AND c.tier = s.tier
         JOIN tiers b ON b.big = s.big AND b.tier = s.tier
                     AND b.n = (rnd(s.g, 9) * c.n)::int8 % c.n""",
    "SET LOCAL session_replication_role = origin",
    """INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity,
                                target_amount)
       SELECT d.id, (date_trunc('month', current_date) - make_interval(months => m))::date,
              p.id, 400, 13200
         FROM outlets d, generate_series(0, 23) m, products p
        WHERE d.code = 'D000000' OR d.code <= 'D001000' AND d.tier = 'distributor'""",
]


def _make(session: Session, args) -> dict:
    session.execute(text(_RND))
    params = {
        "distributors": args.distributors,
        "sales": args.sales,
        "big_outlets": args.big_outlets,
        "big_sales": args.big_sales,
    }
    for statement in _SETUP:
        used = {k: v for k, v in params.items() if f":{k}" in statement}
        session.execute(text(statement.replace("rnd(", "pg_temp.rnd(")), used)
    session.execute(text("SELECT geo_crm_sales_rollup_rebuild()"))
    session.execute(text("SELECT geo_crm_sales_seller_rollup_rebuild()"))
    territories.set_territory(session, BIG, regions=["110100"])
    today = dt.date.today()
    for k in range(6):
        record_evaluation(
            session,
            EvaluationIn(
                distributor=BIG,
                evaluated_on=today - dt.timedelta(days=60 * k),
                initiative=1 + k % 5,
                credit=5 - k % 5,
                capital=Decimal(1_000_000 + 100_000 * k),
                brands_carried=["青岛", "雪花"][: 1 + k % 2],
                warehouses=2,
                warehouse_area_m2=1500.0,
                vehicles=4,
                staff=20 + k,
            ),
            user=None,
        )
    session.execute(text("ANALYZE"))
    return dict(
        session.execute(
            text(
                "SELECT count(*) AS records, (SELECT count(*) FROM outlets) AS outlets FROM "
                "sales_records"
            )
        )
        .one()
        ._mapping
    )


_NAIVE_RECORDS = text("""
WITH RECURSIVE net AS (
    SELECT id FROM outlets WHERE code = :code
    UNION ALL
    SELECT o.id FROM outlets o JOIN net ON o.parent_id = net.id
)
SELECT s.sale_date, s.amount, s.seller_id IS NULL AS sell_in
  FROM sales_records s
 WHERE s.sale_date >= :since
   AND ((s.seller_id IS NULL AND s.buyer_id = (SELECT id FROM outlets WHERE code = :code))
        OR s.seller_id IN (SELECT id FROM net))
""")
_NAIVE_PLANS = text(
    "SELECT month, sum(target_amount) FROM sales_plans p JOIN outlets d ON d.id = "
    "p.distributor_id WHERE d.code = :code AND month >= :since GROUP BY month"
)


def _naive(session: Session, code: str) -> dict:
    """The 25 months' sell-in, sell-out and plan of the chart, summed in Python from the
    records (no rollups)."""
    first = (dt.date.today().replace(day=1) - dt.timedelta(days=760)).replace(day=1)
    sums: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for day, amount, sell_in in session.execute(_NAIVE_RECORDS, {"code": code, "since": first}):
        sums[day.replace(day=1)][0 if sell_in else 1] += amount
    plans = dict(session.execute(_NAIVE_PLANS, {"code": code, "since": first}).all())
    return {m: (*sums[m], plans.get(m)) for m in sorted(sums)}


class Statements:
    """The SQL statements run while active, with their wall time."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append((time.perf_counter() - conn.info["bench_t0"], statement, parameters))


def _warm(fn, repeat: int) -> tuple[float, object]:
    result = fn()
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=500_000)
    parser.add_argument("--distributors", type=int, default=1_000)
    parser.add_argument("--big-outlets", type=int, default=2_000)
    parser.add_argument("--big-sales", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-card-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_bench", fast_unsafe=False)
    try:
        t0 = time.perf_counter()
        url = cluster.ensure_database()
        engine = ready_engine(url)
        with Session(engine) as session:
            data = _make(session, args)
            session.commit()
        print(f"data: {time.perf_counter() - t0:.1f} s; {data['records']:,} records, "
              f"{data['outlets']:,} outlets; {BIG}: {args.big_outlets:,} retail outlets, "
              f"{args.big_sales:,} records")  # fmt: skip
        app = create_app(
            {"DATABASE_URL": url, "SECRET_KEY": "bench", "GEO_CRM_AUTH_REQUIRED": False}
        )
        app.extensions["geo_crm_db"].use_engine(engine)
        client = app.test_client()

        def api():
            response = client.get(f"/api/v1/distributors/{BIG}/scorecard")
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            return response.get_json()

        def page():
            response = client.get(f"/distributors/{BIG}/scorecard")
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            return response.get_data()

        api_s, card = _warm(api, args.repeat)
        page_s, html = _warm(page, args.repeat)
        outlets = card["depth"]["outlets"]
        print(f"1. scorecard API  (median of {args.repeat}): {api_s * 1000:8.1f} ms — "
              f"{outlets:,} outlets, {len(card['months'])} months, "
              f"{len(card['evaluations'])} evaluations")  # fmt: skip
        print(f"   scorecard page (median of {args.repeat}): {page_s * 1000:8.1f} ms — "
              f"{len(html) / 1000:.0f} kB of HTML")  # fmt: skip
        with Session(engine) as session:
            naive_s, months = _warm(lambda: _naive(session, BIG), args.repeat)
        print(f"2. naive figures from the records (median of {args.repeat}): "
              f"{naive_s * 1000:8.1f} ms — {len(months)} months")  # fmt: skip
        with Statements(engine) as seen:
            api()
        slow = sorted(seen.seen, key=lambda s: -s[0])
        total = sum(s[0] for s in slow)
        print(f"   one API call ran {len(slow)} statements, {total * 1000:.1f} ms in the "
              f"database; the slowest:")  # fmt: skip
        for seconds, statement, params in slow[:5]:
            print(f"   {seconds * 1000:7.1f} ms  {' '.join(statement.split())[:110]}")
            if args.explain:
                with engine.connect() as conn:
                    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                    for (line,) in plan:
                        print(f"              {line}")
        print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        engine.dispose()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

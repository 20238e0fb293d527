"""Benchmark: cross-territory sales (窜货) detected over the whole history, beside the naive
per-record check; and bulk UPDATEs of sales_records through the rollup triggers, beside the
rollup functions they replaced (migration 0014).

    .venv/bin/python bench/bench_territory.py [--sales 200000] [--distributors 1000]
    .venv/bin/python bench/bench_territory.py --sales 5000000 --distributors 10000  # target
    .venv/bin/python bench/bench_territory.py --keep /tmp/terr  # keep (and reuse) the cluster

Starts a throwaway PostgreSQL + PostGIS cluster (durable settings), migrates, and makes the
data set with set-based SQL (generate_series; outlets and sales written with triggers
disabled, so the flags come only from the detection being timed): ``--distributors``
distributors over 31 rectangular provinces, four wholesalers each, ten retail outlets per
wholesaler (wholesalers within 0.05° of their distributor, retail outlets within 0.2° of
their wholesaler: a few beyond the distributor's territory); ``--sales``
records over two years, a fifth sell-in, 30 % distributor → wholesaler, half wholesaler →
retail; ``--cross`` (2 %) of the sell-out records sold by a random other distributor instead.
Every distributor gets a drawn territory: a disc of 0.3° drawn with 257 vertices (kept cut
into parts by migration 0014's trigger). The pair rollup the detection reads (migration 0017)
is built from the records as the migration's backfill builds it (timed apart: afterwards its
triggers keep it); the other rollups are not built (step 3 builds them first). With
``--keep`` a cluster that holds data is reused, its cross-territory flags cleared first, so
the first run again starts from an unflagged history. Then times:

1. ``analysis.cross_selling.detect_all`` (``geo-crm analyse cross-selling --all``): the first
   run, which writes the flags, and warm re-checks that find nothing new (the usual run after
   a territory changes), in records per second of the whole history; then, after
   ``--moved`` territories are moved 0.01° east, the re-check that re-measures the distance
   of those distributors' flagged records (migration 0020) and rewrites the changed ones
   (committed: a cluster kept with ``--keep`` keeps them moved; ``--moved 0`` skips this);
2. the naive per-record check — per record, the seller's and the buyer's distributor and the
   territory test each asked in its own round trip, as a script would — over ``--baseline``
   records, extrapolated to every sell-out record;
3. bulk UPDATEs of ``--updates`` records (a flag-only one, and one moving amounts and dates)
   through the rollup triggers of migration 0014, then through the functions of 0003/0009 they
   replaced (on ``--old-updates`` records: they are quadratic once a one-row write has fixed
   their plan, which a one-row UPDATE does first, as on any long-lived connection). Both in
   rolled-back transactions.

The load average is printed before and after; wall times on a busy machine are slower, the
database CPU is the steadier number.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_import import Clock  # beside this script: wall and CPU times
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.analysis.cross_selling import detect_all
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster

ROOT = Path(__file__).resolve().parent.parent
PROVINCES = 31

_SETUP = [
    # 31 provinces of 7° × 8° (as bench_business), ten products
    """INSERT INTO regions (code, name, level, boundary)
       VALUES ('100000', '全国', 'country', ST_Multi(ST_MakeEnvelope(70, 15, 135, 55, 4326)))""",
    """INSERT INTO regions (code, name, level, parent_id, boundary)
       SELECT (11 + i) || '0000', '省' || i, 'province', (SELECT id FROM regions
               WHERE code = '100000'),
              ST_Multi(ST_MakeEnvelope(75 + (i % 8) * 7, 18 + (i / 8) * 8,
                                       82 + (i % 8) * 7, 26 + (i / 8) * 8, 4326))
         FROM generate_series(0, 30) i""",
    """INSERT INTO products (sku, name, unit)
       SELECT 'P' || i, '产品' || i, 'case' FROM generate_series(1, 10) i""",
    "SET LOCAL session_replication_role = replica",
    # distributors: province i with weight 1 / (i + 1)^0.7 (a skewed country), a point inside
    """INSERT INTO outlets (code, name, tier, location)
       SELECT 'D' || lpad(g::text, 6, '0'), '总经销' || g, 'distributor',
              ST_SetSRID(ST_MakePoint(75 + (p % 8) * 7 + 0.5 + 6 * rnd(g, 1),
                                      18 + (p / 8) * 8 + 0.5 + 7 * rnd(g, 2)), 4326)
         FROM (SELECT g, least(30, floor(31 * rnd(g, 0) ^ 1.6)::int) AS p
                 FROM generate_series(1, :distributors) g) d""",
    """INSERT INTO outlets (code, name, tier, parent_id, location)
       SELECT 'W' || lpad((d.n * 4 + k)::text, 7, '0'), '批发部' || (d.n * 4 + k),
              'wholesaler_2', d.id,
              ST_SetSRID(ST_MakePoint(ST_X(d.location) + 0.1 * (rnd(d.id * 4 + k, 3) - 0.5),
                                      ST_Y(d.location) + 0.1 * (rnd(d.id * 4 + k, 4) - 0.5)),
                         4326)
         FROM (SELECT id, location, row_number() OVER (ORDER BY id) - 1 AS n
                 FROM outlets WHERE tier = 'distributor') d, generate_series(0, 3) k""",
    """INSERT INTO outlets (code, name, tier, parent_id, location)
       SELECT 'R' || lpad((w.n * 10 + k)::text, 8, '0'), '零售' || (w.n * 10 + k), 'retail',
              w.id,
              ST_SetSRID(ST_MakePoint(ST_X(w.location) + 0.4 * (rnd(w.id * 10 + k, 5) - 0.5),
                                      ST_Y(w.location) + 0.4 * (rnd(w.id * 10 + k, 6) - 0.5)),
                         4326)
         FROM (SELECT id, location, row_number() OVER (ORDER BY id) - 1 AS n
                 FROM outlets WHERE tier = 'wholesaler_2') w, generate_series(0, 9) k""",
    # dense numbering of each tier, for picking by arithmetic
    """CREATE TEMPORARY TABLE tiers ON COMMIT DROP AS
       SELECT id, tier, parent_id, row_number() OVER (PARTITION BY tier ORDER BY id) - 1 AS n
         FROM outlets""",
    "CREATE INDEX ON tiers (tier, n)",
    "ANALYZE tiers",
    # sales: g % 10 in 0-1 sell-in, 2-4 distributor → wholesaler, 5-9 wholesaler → retail;
    # a --cross share of the sell-out sold by a random distributor instead
    """INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, amount,
                                  amount_paid)
       SELECT CASE WHEN s.kind = 0 THEN NULL
                   WHEN rnd(s.g, 7) < :cross THEN x.id
                   ELSE b.parent_id END,
              b.id, current_date - (rnd(s.g, 8) * 730)::int, 1 + s.g % 10,
              1 + s.g % 50, (1 + s.g % 50) * 33, (1 + s.g % 50) * 33
         FROM (SELECT g, CASE WHEN g % 10 < 2 THEN 0 WHEN g % 10 < 5 THEN 1 ELSE 2 END AS kind
                 FROM generate_series(1, :sales) g) s
         JOIN tiers b ON b.tier = (ARRAY['distributor', 'wholesaler_2', 'retail'])[s.kind + 1]
                     AND b.n = (rnd(s.g, 9) * CASE s.kind WHEN 0 THEN :distributors
                                                 WHEN 1 THEN :distributors * 4
                                                 ELSE :distributors * 40 END)::int8
                               % CASE s.kind WHEN 0 THEN :distributors
                                             WHEN 1 THEN :distributors * 4
                                             ELSE :distributors * 40 END
         JOIN tiers x ON x.tier = 'distributor'
                     AND x.n = (rnd(s.g, 10) * :distributors)::int8 % :distributors""",
    "SET LOCAL session_replication_role = origin",
    # the territories, written with triggers on (migration 0014 keeps their parts)
    """INSERT INTO distributor_territories (distributor_id, geom, area_m2)
       SELECT id, ST_Multi(ST_Buffer(location, 0.3, 64)),
              ST_Area(ST_Buffer(location, 0.3, 64)::geography)
         FROM outlets WHERE tier = 'distributor'""",
]

# a reproducible uniform number in [0, 1) from a key and a stream
_RND = """
CREATE FUNCTION pg_temp.rnd(key int8, stream int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ((hashint8(key * 37 + stream) & 2147483647) % 1000003) / 1000003.0 $$"""


def _make(session: Session, args) -> None:
    session.execute(text(_RND))
    params = {"distributors": args.distributors, "sales": args.sales, "cross": args.cross}
    for statement in _SETUP:
        used = {k: v for k, v in params.items() if f":{k}" in statement}
        session.execute(text(statement.replace("rnd(", "pg_temp.rnd(")), used)
    session.execute(text("ANALYZE"))


_COUNTS = (
    "SELECT count(*) AS records, count(seller_id) AS sell_out, "
    "(SELECT count(*) FROM outlets) AS outlets, "
    "(SELECT count(*) FROM distributor_territories) AS territories, "
    "(SELECT count(*) FROM distributor_territory_parts) AS parts "
    "FROM sales_records"
)
# a kept data set back to an unflagged history (the load writes no flag)
_CLEAR = (
    "UPDATE sales_records SET flags = '{}', flag_detail = '{}', review_state = NULL "
    "WHERE flags && '{outside_territory,other_network}'::text[]"
)


# the first n territories (by distributor) moved 0.01° east (migration 0020 lists them)
_MOVE = (
    "UPDATE distributor_territories SET geom = ST_Translate(geom, 0.01, 0) "
    "WHERE distributor_id IN (SELECT distributor_id FROM distributor_territories "
    "ORDER BY distributor_id LIMIT :n)"
)

_ROOT = text("SELECT geo_crm_root_distributor(:o)")
_COVERS = text(
    "SELECT ST_Covers(t.geom, b.location) FROM distributor_territories t, outlets b "
    "WHERE t.distributor_id = :d AND b.id = :b"
)


def _naive(session: Session, n: int) -> int:
    """Per record: who is the seller's distributor, the buyer's, does the territory cover the
    buyer — each a round trip. Returns how many of the ``n`` records it found crossing."""
    rows = session.execute(
        text(
            "SELECT seller_id, buyer_id FROM sales_records WHERE seller_id IS NOT NULL "
            "ORDER BY id LIMIT :n"
        ),
        {"n": n},
    ).all()
    found = 0
    for seller, buyer in rows:
        sd = session.execute(_ROOT, {"o": seller}).scalar()
        bd = session.execute(_ROOT, {"o": buyer}).scalar()
        covered = session.execute(_COVERS, {"d": sd, "b": buyer}).scalar()
        found += (bd is not None and bd != sd) or covered is False
    return found


def _timed(session: Session, fn) -> tuple[float, float, object]:
    with Clock(session) as clock:
        result = fn()
    return clock.timing.wall, clock.timing.server_cpu, result


def _ticks(pid: int, children: bool = False) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11 : 15 if children else 13])  # utime stime [cu cs]


def _cluster_cpu(backend_pid: int) -> float:
    """CPU seconds of the whole cluster so far: the postmaster with its ended children, and
    every running child (backends, helper sessions, background processes)."""
    postmaster = int(Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    total = _ticks(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == postmaster:
                    total += int(stat[11]) + int(stat[12])
            except (OSError, IndexError):
                continue  # ended meanwhile
    return total / os.sysconf("SC_CLK_TCK")


def _detect(session: Session, workers: int) -> tuple[float, float, float, object]:
    """wall, the detection session's CPU, the whole cluster's CPU (helper sessions too)"""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    before = _cluster_cpu(pid)
    wall, cpu, result = _timed(session, lambda: detect_all(session, workers=workers))
    return wall, cpu, _cluster_cpu(pid) - before, result


_UPDATES = {
    "flags only": (
        "UPDATE sales_records SET flags = flags || '{other_network}', review_state = 'pending' "
        "WHERE id IN (SELECT id FROM sales_records WHERE seller_id IS NOT NULL "
        "AND cardinality(flags) = 0 ORDER BY id LIMIT :n)"
    ),
    "amounts and dates": (
        "UPDATE sales_records SET amount = amount + 1, amount_paid = amount_paid + 1, "
        "sale_date = sale_date - 31 WHERE id IN (SELECT id FROM sales_records ORDER BY id "
        "LIMIT :n)"
    ),
}


def _bulk_updates(engine, n_new: int, n_old: int) -> None:
    old_functions = (ROOT / "migrations/sql/0014_rollup_bulk_down.sql").read_text("utf-8")
    for label, functions, n in (("0014", None, n_new), ("0003/0009", old_functions, n_old)):
        for kind, statement in _UPDATES.items():
            with Session(engine) as session:
                if functions:
                    session.execute(text(functions))
                # a one-row write first, as a long-lived connection has made before
                session.execute(
                    text("UPDATE sales_records SET amount = amount WHERE id = "
                         "(SELECT min(id) FROM sales_records)")
                )  # fmt: skip
                wall, cpu, written = _timed(
                    session, lambda s=statement, k=n: session.execute(text(s), {"n": k}).rowcount
                )
                session.rollback()
            print(f"   rollups of {label:>9}, {kind:<17}: {written:>9,} records in "
                  f"{wall:7.2f} s (database CPU {cpu:6.2f} s) — "
                  f"{written / wall:>10,.0f} records/s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=200_000)
    parser.add_argument("--distributors", type=int, default=1_000)
    parser.add_argument("--cross", type=float, default=0.02, help="share of sell-out moved")
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--old-updates", type=int, default=4_000)
    parser.add_argument(
        "--vacuum", action="store_true", help="VACUUM the records after the load (as autovacuum)"
    )
    parser.add_argument("--keep", help="keep the cluster in this folder (reused with its data)")
    parser.add_argument("--no-updates", action="store_true", help="skip step 3")
    parser.add_argument(
        "--moved", type=int, default=100, help="territories moved before a last re-check"
    )
    parser.add_argument(
        "--first-runs",
        type=int,
        default=0,
        help="first runs each rolled back (then VACUUM) before the committed one: A/B on one data "
        "(with --workers N > 1 they alternate 1 and N reading sessions)",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="stop after making (and vacuuming) the data: keep an unflagged history with --keep",
    )
    parser.add_argument(
        "--workers", type=int, default=1,
        help="sessions reading side by side in the detection (GEO_CRM_DETECT_WORKERS)",
    )  # fmt: skip
    parser.add_argument(
        "--steps", action="store_true",
        help="print when each reading session's share was read and written (N > 1)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.steps:
        logging.basicConfig(format="      %(message)s")
        logging.getLogger("geo_crm.analysis.cross_selling").setLevel(logging.DEBUG)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gcrm-bench-terr-"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_bench", fast_unsafe=False)
    try:
        t0 = time.perf_counter()
        engine = ready_engine(cluster.ensure_database())
        with Session(engine) as session:
            if session.execute(text("SELECT count(*) FROM outlets")).scalar():
                cleared = session.execute(text(_CLEAR)).rowcount
                print(f"reusing the data in {base}; cross-territory flags cleared on "
                      f"{cleared:,} records")  # fmt: skip
            else:
                _make(session, args)
            data = dict(session.execute(text(_COUNTS)).one()._mapping)
            session.commit()
            t1 = time.perf_counter()
            session.execute(text("SELECT geo_crm_sales_pairs_rebuild()"))
            session.commit()
            pairs_s = time.perf_counter() - t1
            # the outlets were loaded with triggers off: their roots (migration 0023), if kept
            if session.execute(text("SELECT to_regproc('geo_crm_outlet_roots_rebuild')")).scalar():
                session.execute(text("SELECT geo_crm_outlet_roots_rebuild()"))
                session.commit()
            pairs = session.execute(text("SELECT count(*) FROM sales_pairs")).scalar()
        sell_out = data["sell_out"]
        print(f"data: {time.perf_counter() - t0:.1f} s; {data['records']:,} records "
              f"({sell_out:,} sell-out), {data['outlets']:,} outlets, "
              f"{data['territories']:,} territories in {data['parts']:,} parts; "
              f"pair rollup (migration 0017's backfill) {pairs:,} pairs in "
              f"{pairs_s:.1f} s")  # fmt: skip
        if args.vacuum:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE sales_records")
                conn.exec_driver_sql("VACUUM ANALYZE sales_pairs")
        if args.load_only:
            engine.dispose()
            return
        for i in range(args.first_runs):
            # with --workers N > 1 the rolled-back runs alternate 1 and N reading sessions:
            # the one-session path beside the fan-out, on the same data, in one run
            n = args.workers if args.workers == 1 or i % 2 else 1
            with Session(engine) as session:
                wall, cpu, total, first = _detect(session, n)
                session.rollback()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM sales_records")
            print(f"   first run {i + 1} of {args.first_runs}, rolled back, {first.sessions} "
                  f"reading session(s): {wall:6.2f} s (database CPU {cpu:.2f} s in the "
                  f"detection's session, {total:.2f} s in the cluster) — "
                  f"{first.changed:,} records")  # fmt: skip
        with Session(engine) as session:
            wall, cpu, total, first = _detect(session, args.workers)
            session.commit()
            print(f"1. detection over the whole history, first run (writes the flags), "
                  f"{first.sessions} reading session(s): {wall:6.2f} s (database CPU "
                  f"{cpu:.2f} s in the detection's session, {total:.2f} s in the cluster), "
                  f"{data['records'] / wall:,.0f} records/s — {first.changed:,} records flagged "
                  f"({first.outside_territory:,} outside a territory, "
                  f"{first.other_network:,} into another network)")  # fmt: skip
            runs = []
            for _ in range(args.repeat):
                runs.append(_detect(session, args.workers))
                session.commit()
            if runs:
                wall = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                total = statistics.median(r[2] for r in runs)
                print(f"   detection again, nothing new (median of {args.repeat}): {wall:6.2f} s "
                      f"(database CPU {cpu:.2f} s, cluster {total:.2f} s), "
                      f"{data['records'] / wall:,.0f} records/s — "
                      f"{runs[-1][3].changed:,} changed")  # fmt: skip
            if args.moved:
                # territories redrawn a little (every buyer outside stays outside, nearer or
                # farther): the re-check re-measures those distributors' flagged records
                session.execute(text(_MOVE), {"n": args.moved})
                session.commit()
                wall, cpu, total, moved = _detect(session, args.workers)
                session.commit()
                print(f"   detection after {args.moved:,} territories moved 0.01° east: "
                      f"{wall:6.2f} s (database CPU {cpu:.2f} s, cluster {total:.2f} s) — "
                      f"{moved.changed:,} records' flags changed, {moved.refreshed:,} "
                      f"distances re-measured and rewritten")  # fmt: skip
        with Session(engine) as session:
            t0 = time.perf_counter()
            found = _naive(session, args.baseline)
            naive_s = time.perf_counter() - t0
            print(f"2. naive per-record check of {args.baseline:,} records: {naive_s:6.2f} s "
                  f"({found:,} crossing), {args.baseline / naive_s:,.0f} records/s → "
                  f"{naive_s / args.baseline * sell_out:8.1f} s for {sell_out:,} "
                  f"(extrapolated)")  # fmt: skip
        if not args.no_updates:
            print("3. bulk UPDATE of sales_records through the rollup triggers (rolled back):")
            with Session(engine) as session:
                session.execute(text("SELECT geo_crm_sales_rollup_rebuild()"))
                session.execute(text("SELECT geo_crm_sales_seller_rollup_rebuild()"))
                session.commit()
            _bulk_updates(engine, args.updates, args.old_updates)
        print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        engine.dispose()
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

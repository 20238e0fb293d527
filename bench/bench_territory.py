"""Benchmark: cross-territory sales (窜货) detected over the whole history, beside a naive
per-record baseline.

    .venv/bin/python bench/bench_territory.py [--distributors 10000] [--records 5000000]

Starts a throwaway PostgreSQL + PostGIS cluster, migrates and loads bench_business's data set
(31 provinces, ``--distributors`` distributors with four wholesalers each, ``--records`` sales
records, a fifth sell-in), then moves ``--cross`` (default 2 %) of the sell-out records to a
random other distributor as seller (so their buyer is in another network, and usually far
outside the seller's territory) and gives every distributor a drawn territory, a 0.6° square
around it. Then times:

1. ``analysis.cross_selling.detect_all`` (``geo-crm analyse cross-selling --all``): one
   statement over every record — the first run, which writes the flags, and warm runs that
   find nothing new (the usual re-check);
2. the naive detection: per record, the seller's and the buyer's distributor and the
   territory test each asked for in its own round trip (as a script would), over
   ``--baseline`` records, extrapolated to all of them.

The load writes records with triggers disabled (as migration 0003 documents for bulk loads),
so the flags come only from the detection being timed. The load average is printed before
and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_business import _load  # beside this script: the same data set
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.analysis.cross_selling import detect_all
from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster


def _cross_and_territories(session: Session, share: float, seed: int) -> int:
    session.execute(text("SET LOCAL session_replication_role = replica"))
    moved = session.execute(
        text("""
        WITH d AS (SELECT array_agg(id ORDER BY id) AS ids FROM outlets WHERE tier = 'distributor')
        UPDATE sales_records s
           SET seller_id = d.ids[1 + (hashint8(s.id + :seed) & 2147483647)
                                   % cardinality(d.ids)]
          FROM d
         WHERE s.seller_id IS NOT NULL
           AND (hashint8(s.id) & 2147483647) % 10000 < :cut
        """),
        {"cut": int(share * 10_000), "seed": seed},
    ).rowcount
    session.execute(text("SET LOCAL session_replication_role = origin"))
    session.execute(
        text(
            "INSERT INTO distributor_territories (distributor_id, geom, area_m2) "
            "SELECT id, ST_Multi(ST_Expand(location, 0.3)), "
            "ST_Area(ST_Expand(location, 0.3)::geography) FROM outlets "
            "WHERE tier = 'distributor'"
        )
    )
    session.execute(text("ANALYZE sales_records"))
    return moved


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distributors", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--cross", type=float, default=0.02, help="share of sell-out moved")
    parser.add_argument("--baseline", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-terr-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_bench", fast_unsafe=False)
    try:
        t0 = time.perf_counter()
        engine = ready_engine(cluster.ensure_database())
        with Session(engine) as session:
            _load(session, args.distributors, args.records, args.seed)
            moved = _cross_and_territories(session, args.cross, args.seed)
            session.commit()
            sell_out = session.execute(
                text("SELECT count(*) FROM sales_records WHERE seller_id IS NOT NULL")
            ).scalar()
        print(f"data: {time.perf_counter() - t0:.1f} s; {args.records:,} records, "
              f"{sell_out:,} sell-out, {moved:,} moved to another distributor")  # fmt: skip

        with Session(engine) as session:
            first = detect_all(session)
            session.commit()
            print(f"1. detection over the whole history, first run (writes the flags): "
                  f"{first.seconds:6.2f} s — {first.changed:,} records flagged "
                  f"({first.outside_territory:,} outside a territory, "
                  f"{first.other_network:,} into another network)")  # fmt: skip
            runs = []
            for _ in range(args.repeat):
                again = detect_all(session)
                session.commit()
                runs.append(again.seconds)
            print(f"   detection again, nothing new (median of {args.repeat}): "
                  f"{statistics.median(runs):6.2f} s — {again.changed:,} changed")  # fmt: skip
        with Session(engine) as session:
            t0 = time.perf_counter()
            found = _naive(session, args.baseline)
            naive_s = time.perf_counter() - t0
            print(f"2. naive per-record detection of {args.baseline:,} records: {naive_s:6.2f} s "
                  f"({found:,} crossing) → {naive_s / args.baseline * sell_out:8.1f} s for "
                  f"{sell_out:,} (extrapolated)")  # fmt: skip
        print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        engine.dispose()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

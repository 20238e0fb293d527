"""The geotag's cost inside PostgreSQL: CPU, WAL and full-page images per tag, without HTTP.

    .venv/bin/python bench/bench_geotag_pg.py [--outlets 200000] [--tags 1500] [--rounds 3]
        [--compression off,lz4] [--windows 1] [--statements]

Loads a throwaway durable cluster as bench_geotag does (one province, 16 cities, N outlets,
``VACUUM ANALYZE``, ``CHECKPOINT``), then tags outlets of the bench rep one after the other
through ``domain.geotagging.geotag_outlet(commit=True)`` — the statement the endpoint runs, on
its own in autocommit — and reports per tag: the CPU of the client backends (from /proc, so
the walwriter, checkpointer, autovacuum and other processes on the machine do not count), the
WAL bytes and the full-page images (``pg_stat_wal``). HTTP, gunicorn and the token check are
left out: bench_geotag measures the whole request.

Each round runs one measured window per ``--compression`` value (``wal_compression``, set with
ALTER SYSTEM and a reload), each on outlets not tagged before and each right after a
CHECKPOINT, so every window starts at the dearest point of a checkpoint cycle; the variants
alternate so that a slow spell of a shared machine does not land on one of them. ``--windows
W`` follows each checkpoint with W windows instead of one: the later ones show how the
full-page images fall as the cycle goes on (what longer checkpoint spacing buys).
``--statements`` loads pg_stat_statements (track = all) and prints the nested statements of the
last round by total time: where inside the one tag statement the time goes.

The baseline is main's code on the same machine, back to back, through the same file:
``PYTHONPATH=<main's checkout> python bench/bench_geotag_pg.py …`` (the geo_crm package and its
migrations come from PYTHONPATH; this script only drives them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_geotag import load  # noqa: E402  (the same data as the HTTP bench)


def backend_cpu_seconds(postmaster: int) -> float:
    """User + system CPU seconds of the cluster's client backends (children of ``postmaster``
    whose title names a client connection, ``[local]`` on the Unix socket)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != postmaster:
                continue
            title = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if b"[local]" in title:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rep_outlets(engine) -> list[tuple[str, int, float, float]]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT code, version, ST_X(location), ST_Y(location) FROM outlets WHERE "
                    "rep_id = (SELECT id FROM users WHERE username = 'bench_rep') ORDER BY code"
                )
            )
        ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outlets", type=int, default=200_000)
    parser.add_argument("--tags", type=int, default=1500, help="tags per measured window")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compression", default="off,lz4", help="wal_compression values")
    parser.add_argument("--windows", type=int, default=1, help="windows after each checkpoint")
    parser.add_argument("--statements", action="store_true", help="pg_stat_statements summary")
    parser.add_argument("--keep", action="store_true", help="keep the cluster folder")
    args = parser.parse_args()
    variants = [v.strip() for v in args.compression.split(",") if v.strip()]
    windows = args.rounds * len(variants) * args.windows
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo_crm.db import ready_engine
    from geo_crm.db.cluster import LocalCluster
    from geo_crm.domain.geotagging import TagInput, geotag_outlet
    from geo_crm.domain.principal import Principal
    from geo_crm.settings import GeotagLimits

    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-geotag-pg-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="bench")
    try:
        url = cluster.ensure_database()
        postmaster = int((base / "pg" / "postmaster.pid").read_text().split()[0])
        engine = ready_engine(url)
        needed = (windows + 1) * args.tags + 100
        load(engine, args.outlets, rep_share=max(1, args.outlets // needed))
        auto = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        print(
            "settings: "
            + ", ".join(
                f"{name} {auto.execute(text(f'SHOW {name}')).scalar()}"
                for name in ("checkpoint_timeout", "max_wal_size", "wal_compression")
            )
        )
        if args.statements:
            auto.execute(text("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"))
            auto.close()
            engine.dispose()
            cluster.stop()
            cluster.start()
            postmaster = int((base / "pg" / "postmaster.pid").read_text().split()[0])
            engine = ready_engine(url)
            auto = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            auto.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            # known only once the library is loaded
            auto.execute(text("ALTER SYSTEM SET pg_stat_statements.track = 'all'"))
            auto.execute(text("SELECT pg_reload_conf()"))
        jobs = rep_outlets(engine)
        if len(jobs) < needed - 100:
            raise SystemExit(f"only {len(jobs)} outlets for the bench rep: raise --outlets")
        uid = auto.execute(text("SELECT id FROM users WHERE username = 'bench_rep'")).scalar()
        user, limits = Principal(uid, "bench_rep", "rep", via="token"), GeotagLimits()

        def tag(job) -> None:
            code, version, lon, lat = job
            point = TagInput(lat + 0.00003, lon + 0.00003, 8.0, captured_at=dt.datetime.now(dt.UTC))
            with Session(engine) as session:
                geotag_outlet(session, user, code, point, version, limits, commit=True)

        for job in jobs[:100]:  # connections opened, statements prepared and planned
            tag(job)
        cursor = 100
        results: dict[str, list[list[tuple[float, float, float]]]] = {v: [] for v in variants}
        for k in range(args.rounds):
            order = variants if k % 2 == 0 else variants[::-1]
            for variant in order:
                auto.execute(text(f"ALTER SYSTEM SET wal_compression = '{variant}'"))
                auto.execute(text("SELECT pg_reload_conf()"))
                time.sleep(0.2)
                auto.execute(text("CHECKPOINT"))
                if args.statements:
                    auto.execute(text("SELECT pg_stat_statements_reset()"))
                row = []
                for _ in range(args.windows):
                    wal0 = auto.execute(text("SELECT wal_bytes, wal_fpi FROM pg_stat_wal")).one()
                    cpu0 = backend_cpu_seconds(postmaster)
                    for job in jobs[cursor : cursor + args.tags]:
                        tag(job)
                    cursor += args.tags
                    cpu1 = backend_cpu_seconds(postmaster)
                    wal1 = auto.execute(text("SELECT wal_bytes, wal_fpi FROM pg_stat_wal")).one()
                    n = args.tags
                    row.append(
                        (
                            (cpu1 - cpu0) / n * 1000,
                            float(wal1[0] - wal0[0]) / n / 1024,
                            (wal1[1] - wal0[1]) / n,
                        )
                    )
                results[variant].append(row)
                cells = "  ".join(f"{c:.3f} ms {w:5.2f} KB {f:.2f} FPI" for c, w, f in row)
                print(f"round {k + 1} wal_compression={variant:<5} {cells}", flush=True)
        print(
            f"\n{args.outlets:,} outlets, {args.tags} tags per window, {args.rounds} rounds; "
            "per tag: client backends' CPU, WAL, full-page images"
        )
        for variant, rows in results.items():
            for w in range(args.windows):
                cpus = sorted(r[w][0] for r in rows)
                wal = sum(r[w][1] for r in rows) / len(rows)
                fpi = sum(r[w][2] for r in rows) / len(rows)
                label = f"wal_compression={variant}" + (
                    f", window {w + 1}" if args.windows > 1 else ""
                )
                print(
                    f"  {label:<32} CPU median {cpus[len(cpus) // 2]:.3f} ms "
                    f"(least {cpus[0]:.3f}), WAL {wal:.2f} KB, FPI {fpi:.2f}"
                )
        if args.statements:
            print(
                "\nnested statements of the last variant's windows (pg_stat_statements, "
                "track = all):"
            )
            for calls, total, query in auto.execute(
                text(
                    "SELECT calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') "
                    "FROM pg_stat_statements WHERE calls >= :n ORDER BY total_exec_time DESC "
                    "LIMIT 12"
                ),
                {"n": args.tags // 2},
            ):
                print(f"  {total / calls:7.4f} ms x {calls:5d}  {query[:90]}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        auto.close()
        engine.dispose()
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

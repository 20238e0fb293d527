"""Reads on a streaming replica while the primary takes geotags (issue 16.4).

    .venv/bin/python bench/bench_replica.py [--outlets 200000] [--rate 500] [--read-rate 100]
                                            [--seconds 15] [--threads 4]

Starts a throwaway durable primary (fsync on) loaded as bench/bench_geotag.py loads it (one
province, 16 cities, N outlets by one INSERT … SELECT), adds an admin's token for the reads,
and copies it into a hot-standby replica with ``geo-crm db replica``'s code (pg_basebackup
through a slot, streaming from the primary's socket). Then two runs on the same gunicorn
settings (2 gthread workers × 4 threads) and the same open-loop schedules, each driven by two
client threads at once: geotag ``PUT``s at ``--rate``/s (every one a different outlet) and
reads at ``--read-rate``/s, half vector tiles of the outlets layer at z 11-13, half the 20
outlets nearest a point (``/api/v1/outlets?lat&lon&limit=20``), inside the province:

1. baseline: no replica configured, so the reads run on the primary beside the writes;
2. replica: ``DATABASE_REPLICA_URLS`` names the replica, so GET reads go to it.

Printed per run: writes and reads sent, answered 2xx, errors (anything else, time-outs
included), p50/p90/p99 of each from its *scheduled* start, and how many transactions the
replica ran during the run (proof of where the reads went). The speed line of issue 16: reads
on the replica with no error and p99 under 50 ms while the primary takes 500 geotags/s.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_geotag import (  # noqa: E402 - after the path set-up
    PREOPEN,
    WORKERS,
    _Conn,
    balanced_connections,
    bench_token,
    close_all,
    drive,
    free_port,
    http_put,
    load,
    prime,
    report,
    start_gunicorn,
    stop,
    targets,
)

# the province bench_geotag.load draws: lon 110-118, lat 25-33
WEST, SOUTH, EAST, NORTH = 110.0, 25.0, 118.0, 33.0


def admin_token(engine) -> str:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo_crm.auth.tokens import create_token

    with Session(engine) as session:
        uid = session.execute(
            text("INSERT INTO users (username, role) VALUES ('bench_admin', 'admin') RETURNING id")
        ).scalar_one()
        token = create_token(session, uid, "bench reads").token
        session.commit()
    return token


def http_get(path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def read_requests(count: int, token: str, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        lon, lat = rnd.uniform(WEST + 0.1, EAST - 0.1), rnd.uniform(SOUTH + 0.1, NORTH - 0.1)
        if i % 2:
            z = rnd.choice((11, 12, 13))
            x, y = tile_of(lon, lat, z)
            out.append(http_get(f"/tiles/outlets/{z}/{x}/{y}.mvt", token))
        else:
            out.append(http_get(f"/api/v1/outlets?lat={lat:.5f}&lon={lon:.5f}&limit=20", token))
    return out


def geotag_requests(jobs, token: str) -> list[bytes]:
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    return [
        http_put(
            f"/api/v1/outlets/{code}/location",
            {
                "lat": lat + 0.00003,
                "lon": lon + 0.00003,
                "accuracy_m": 8.0,
                "crs": "wgs84",
                "source": "gps",
                "captured_at": now,
                "version": version,
            },
            token,
        )
        for code, version, lon, lat in jobs
    ]


def replica_transactions(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def errors(result: dict) -> int:
    return sum(n for status, n in result["statuses"].items() if not 200 <= status < 300)


def one_run(name, env, writes, reads, args, replica_url) -> tuple[dict, dict]:
    """Serve the app under ``env``, warm up, then drive writes and reads at once."""
    port = free_port()
    server = start_gunicorn("bench_geotag:make_app()", port, env, args.threads)
    try:
        warm_w, warm_r = int(args.rate * args.warmup), int(args.read_rate * args.warmup)
        for _ in range(2 * WORKERS):  # first requests build each worker's engine: be patient
            first = [_Conn(port)]
            prime(first, timeout_s=120)
            close_all(first)
        wconns = balanced_connections(port, server.pid, PREOPEN // WORKERS)
        rconns = balanced_connections(port, server.pid, PREOPEN // WORKERS // 2)
        done: dict = {}

        def run(key, requests, rate, conns):
            done[key] = drive(port, requests, rate, idle=conns)

        for w, r in ((writes[:warm_w], reads[:warm_r]), (writes[warm_w:], reads[warm_r:])):
            before = replica_transactions(replica_url)
            threads = [
                threading.Thread(target=run, args=("w", w, args.rate, wconns)),
                threading.Thread(target=run, args=("r", r, args.read_rate, rconns)),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            on_replica = replica_transactions(replica_url) - before
        close_all(wconns)
        close_all(rconns)
    finally:
        stop(server)
    print(f"-- {name} (measured; replica transactions: {on_replica:,})", flush=True)
    report("  geotag PUT", done["w"])
    done["r"]["samples"].pop(204, None)  # an empty tile: answered, nothing to show
    report("  reads GET", done["r"])
    print(
        f"  read errors {errors(done['r'])}, read p99 {done['r']['p99_ms']:.1f} ms; "
        f"write errors {errors(done['w'])}",
        flush=True,
    )
    return done["w"], done["r"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outlets", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=500.0, help="geotags per second")
    parser.add_argument("--read-rate", type=float, default=100.0, help="reads per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--keep", action="store_true", help="keep the cluster folders")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 shared cores)", flush=True)

    from geo_crm.db import ready_engine
    from geo_crm.db.cluster import LocalCluster
    from geo_crm.db.replica import LocalReplica

    per_run = int(args.rate * (args.seconds + args.warmup))
    reads_per_run = int(args.read_rate * (args.seconds + args.warmup))
    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-replica-"))
    os.chmod(base, 0o755)
    primary = LocalCluster.for_dir(base / "pg", dbname="bench")
    replica = LocalReplica.of(primary)
    try:
        url = primary.ensure_database()
        engine = ready_engine(url)
        load(engine, args.outlets, rep_share=max(1, args.outlets // (2 * per_run + 1000)))
        writer = bench_token(engine)
        reader = admin_token(engine)
        jobs = targets(engine, 2 * per_run)
        engine.dispose()
        t0 = time.perf_counter()
        replica.start()
        print(f"replica copied and started in {time.perf_counter() - t0:.1f} s", flush=True)
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret")
        env.pop("DATABASE_REPLICA_URLS", None)
        runs = {}
        for i, (name, extra) in enumerate(
            (
                ("baseline: reads on the primary", {}),
                ("reads on the replica", {"DATABASE_REPLICA_URLS": replica.url}),
            )
        ):
            writes = geotag_requests(jobs[i * per_run : (i + 1) * per_run], writer)
            reads = read_requests(reads_per_run, reader, seed=11)  # the same reads both runs
            runs[name] = one_run(name, {**env, **extra}, writes, reads, args, replica.url)
        print("\nsummary (reads):")
        for name, (w, r) in runs.items():
            print(
                f"  {name:<32} read p99 {r['p99_ms']:7.1f} ms  read errors {errors(r):>4}  "
                f"geotags {w['statuses'].get(200, 0) / w['elapsed_s']:6.1f}/s "
                f"(errors {errors(w)})"
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        try:
            replica.stop()
        finally:
            primary.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

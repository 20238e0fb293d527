"""Geotag endpoint under gunicorn, driven at a constant arrival rate (wrk2-style open loop).

    /work/venv/bin/python bench/bench_geotag.py [--outlets 1000000] [--rate 500] [--seconds 20]

Starts a throwaway PostgreSQL + PostGIS cluster (durable settings), migrates it, loads one
province with 16 cities and N outlets (one INSERT … SELECT over generate_series, every trigger
firing), then serves the app with gunicorn (2 sync workers) on loopback. An asyncio client
schedules requests at fixed intervals and measures each latency from its *scheduled* start, so a
stalled server shows up as queueing delay instead of a slower send rate (the closed-loop trap).
Every request tags a different outlet of one rep (Bearer token) with its current version, a few
metres from where it is, so all should be accepted; afterwards the number of geotag events must
equal the number of 200 responses (no lost or duplicated writes).

Baseline in the same run: a bare Flask + psycopg endpoint inserting one row per request into a
table, under the same gunicorn settings and the same load — the floor any real endpoint pays.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKERS = 2
THREADS = int(os.environ.get("BENCH_THREADS", "1"))  # >1: gthread workers (measured slower here)


# -- apps gunicorn serves (imported by the worker processes: "bench_geotag:make_app()") --------------


def make_app():
    """geo_crm with authentication wired (create_app will call auth.init_app itself once merged)."""
    from geo_crm import auth, create_app

    app = create_app()
    auth.init_app(app)
    return app


def make_bare_app():
    """The naive floor: Flask + one psycopg connection per worker, one INSERT per request."""
    import psycopg
    from flask import Flask, request

    app = Flask("bare")
    state: dict = {}

    @app.put("/bare/<code>")
    def bare(code):
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = psycopg.connect(os.environ["BENCH_PSYCOPG_URL"])
        body = request.get_json()
        with conn.transaction():
            conn.execute(
                "INSERT INTO bench_bare (code, lat, lon) VALUES (%s, %s, %s)",
                (code, body["lat"], body["lon"]),
            )
        return {"ok": True}

    return app


# -- data ----------------------------------------------------------------------------------------


def load(engine, outlets: int, rep_share: int) -> None:
    from sqlalchemy import text

    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO regions (code, name, level, boundary) VALUES ('BP', '基准省', 'province', "
                "ST_Multi(ST_MakeEnvelope(110, 25, 118, 33, 4326)))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO regions (code, name, level, parent_id, boundary) "
                "SELECT 'BC' || i || '_' || j, '城市' || i || j, 'city', (SELECT id FROM regions WHERE code = 'BP'), "
                "ST_Multi(ST_MakeEnvelope(110 + 2 * i, 25 + 2 * j, 112 + 2 * i, 27 + 2 * j, 4326)) "
                "FROM generate_series(0, 3) i, generate_series(0, 3) j"
            )
        )
        conn.execute(
            text(
                "INSERT INTO users (username, role) VALUES ('bench_rep', 'rep'), ('other_rep', 'rep')"
            )
        )
        conn.execute(text("SELECT setseed(0.42)"))
        conn.execute(
            text(
                "INSERT INTO outlets (code, name, tier, location, rep_id) "
                "SELECT 'B' || lpad(i::text, 7, '0'), '店' || md5(i::text), 'retail', "
                "ST_SetSRID(ST_MakePoint(110.01 + random() * 7.98, 25.01 + random() * 7.98), 4326), "
                "CASE WHEN i % :share = 0 THEN (SELECT id FROM users WHERE username = 'bench_rep') "
                "ELSE (SELECT id FROM users WHERE username = 'other_rep') END "
                "FROM generate_series(1, :n) i"
            ),
            {"n": outlets, "share": rep_share},
        )
        conn.execute(
            text(
                "CREATE TABLE bench_bare (id bigserial PRIMARY KEY, code text, lat float8, lon float8, "
                "created_at timestamptz DEFAULT now())"
            )
        )
    with engine.connect() as conn:  # settle the bulk load: no autovacuum or checkpoint mid-run
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        auto.execute(text("VACUUM ANALYZE"))
        auto.execute(text("CHECKPOINT"))
    print(f"loaded {outlets:,} outlets in {time.perf_counter() - t0:.1f} s", flush=True)


def bench_token(engine) -> str:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from geo_crm.auth.tokens import create_token

    with Session(engine) as session:
        uid = session.execute(
            text("SELECT id FROM users WHERE username = 'bench_rep'")
        ).scalar_one()
        token = create_token(session, uid, "bench").token
        session.commit()
    return token


def targets(engine, count: int) -> list[tuple[str, int, float, float]]:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, version, ST_X(location), ST_Y(location) FROM outlets "
                "WHERE rep_id = (SELECT id FROM users WHERE username = 'bench_rep') ORDER BY code LIMIT :n"
            ),
            {"n": count},
        ).all()
    if len(rows) < count:
        raise SystemExit(
            f"only {len(rows)} outlets for the bench rep; raise --outlets or lower the rate"
        )
    random.Random(7).shuffle(rows)
    return [tuple(r) for r in rows]


# -- server ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(app_spec: str, port: int, env: dict) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "-w",
            str(WORKERS),
            "--threads",
            str(THREADS),
            "-b",
            f"127.0.0.1:{port}",
            "--pythonpath",
            str(ROOT / "bench"),
            "--log-level",
            "warning",
            "--backlog",
            "2048",
            app_spec,
        ],
        env=env,
        cwd=str(ROOT),
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {proc.returncode}") from None
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start within 60 s")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


# -- open-loop client --------------------------------------------------------------------------------


async def one_request(port: int, raw: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await reader.read()  # Connection: close -> read to EOF
    finally:
        writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.partition(b"\r\n\r\n")[2]


def http_put(path: str, body: dict, token: str | None) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n"
    )
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    return head.encode() + b"\r\n" + payload


async def drive(port: int, requests: list[bytes], rate: float, timeout_s: float = 10.0) -> dict:
    """Send ``requests`` at ``rate``/s on a fixed schedule; latency counts from the schedule."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    samples: dict[int, bytes] = {}

    async def fire(i: int, raw: bytes):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            status, body = await asyncio.wait_for(one_request(port, raw), timeout_s)
        except (TimeoutError, OSError):
            status, body = -1, b""
        latencies.append(loop.time() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1
        samples.setdefault(status, body[:300])

    await asyncio.gather(*(fire(i, raw) for i, raw in enumerate(requests)))
    elapsed = loop.time() - start
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "sent": len(requests),
        "elapsed_s": elapsed,
        "statuses": statuses,
        "samples": samples,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000,
        "achieved_per_s": len(requests) / elapsed,
    }


def report(name: str, r: dict, ok_status: int = 200) -> None:
    ok = r["statuses"].get(ok_status, 0)
    print(
        f"{name:<22} sent {r['sent']:>6}  ok {ok:>6}  {ok / r['elapsed_s']:>7.1f} ok/s  "
        f"p50 {r['p50_ms']:6.2f} ms  p90 {r['p90_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
        f"max {r['max_ms']:7.2f} ms  statuses {dict(sorted(r['statuses'].items()))}",
        flush=True,
    )
    for status, body in r["samples"].items():
        if status != ok_status:
            print(f"    {status}: {body.decode(errors='replace')}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outlets", type=int, default=1_000_000)
    parser.add_argument(
        "--rate", type=float, default=500.0, help="requests per second (constant arrival)"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--keep", action="store_true", help="keep the cluster folder")
    args = parser.parse_args()
    print(
        f"load average before: {os.getloadavg()[0]:.2f} (other processes share the 2 cores)",
        flush=True,
    )

    from sqlalchemy import text

    from geo_crm.db import ready_engine
    from geo_crm.localdb import LocalCluster

    total = int(args.rate * (args.seconds + args.warmup))
    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-geotag-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="bench")
    servers: list[subprocess.Popen] = []
    try:
        url = cluster.ensure_database()
        engine = ready_engine(url)
        load(engine, args.outlets, rep_share=max(1, args.outlets // (total + 1000)))
        token = bench_token(engine)
        jobs = targets(engine, total)
        env = dict(
            os.environ,
            DATABASE_URL=url,
            SECRET_KEY="bench-secret",
            GEO_CRM_AUTH_REQUIRED="1",
            BENCH_PSYCOPG_URL=url.replace("postgresql+psycopg://", "postgresql://"),
        )
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        reqs = [
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
        warm = int(args.rate * args.warmup)

        # the naive floor first, on the same machine and schedule
        port = free_port()
        servers.append(start_gunicorn("bench_geotag:make_bare_app()", port, env))
        bare_reqs = [
            http_put(f"/bare/{code}", {"lat": lat, "lon": lon}, None) for code, _, lon, lat in jobs
        ]
        asyncio.run(drive(port, bare_reqs[:warm], args.rate))
        bare = asyncio.run(drive(port, bare_reqs[warm:], args.rate))
        stop(servers.pop())

        port = free_port()
        servers.append(start_gunicorn("bench_geotag:make_app()", port, env))
        with engine.connect() as conn:
            events_before = conn.execute(text("SELECT count(*) FROM geotag_events")).scalar()
        warmup = asyncio.run(drive(port, reqs[:warm], args.rate))
        real = asyncio.run(drive(port, reqs[warm:], args.rate))
        stop(servers.pop())
        with engine.connect() as conn:
            events_after = conn.execute(text("SELECT count(*) FROM geotag_events")).scalar()
            flagged = conn.execute(
                text("SELECT count(*) FROM geotag_events WHERE state = 'flagged'")
            ).scalar()
        accepted = warmup["statuses"].get(200, 0) + real["statuses"].get(200, 0)
        unknown = warmup["statuses"].get(-1, 0) + real["statuses"].get(
            -1, 0
        )  # client gave up waiting
        written = events_after - events_before
        consistent = accepted <= written <= accepted + unknown

        print(
            f"\n{args.outlets:,} outlets, gunicorn {WORKERS} workers x {THREADS} threads, open loop at {args.rate:.0f}/s "
            f"for {args.seconds:.0f} s (after {args.warmup:.0f} s warm-up), latency from the scheduled start"
        )
        report("bare Flask+psycopg", bare)
        report("geotag (warm-up)", warmup)
        report("geotag", real)
        print(
            f"events written {written}, accepted responses {accepted}, timed out (outcome unknown to the "
            f"client) {unknown}, flagged {flagged}: {'OK' if consistent else 'MISMATCH'}"
        )
        ok_rate = real["statuses"].get(200, 0) / real["elapsed_s"]
        verdict = (
            ok_rate >= 0.98 * args.rate
            and real["p99_ms"] < 20
            and written == accepted
            and not unknown
        )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print(
            f"target >= {args.rate:.0f}/s accepted with p99 < 20 ms: {'met' if verdict else 'NOT met'}"
        )
        engine.dispose()
    finally:
        for proc in servers:
            stop(proc)
        cluster.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

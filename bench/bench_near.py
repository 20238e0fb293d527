"""``near`` on 1,000,000 outlets, end to end over HTTP, beside a geography baseline without KNN.

Run on demand (not a test):  .venv/bin/python bench/bench_near.py [--outlets N]

1. Starts a throwaway PostgreSQL + PostGIS cluster in a temporary folder and migrates it.
2. Creates one region (lon 108–118, lat 28–40, ~1.2 M km²) and N outlets at random points in
   it with one INSERT … SELECT generate_series (triggers skipped: the region is set directly),
   then VACUUM ANALYZE. At 1 M outlets a 5 km disc holds ~65 of them.
3. Serves the app with gunicorn (gthread workers, keep-alive) on 127.0.0.1, as in production,
   and asks ``GET /api/v1/outlets?lat=…&lon=…&radius_m=5000&limit=20`` at random points in a
   closed loop from one client: latency median and p99, with and without the total.
   With Debian's ``wrk`` installed, asks the same from wrk too (a C client: the Python
   client's own 0.15–0.2 ms a request is not the server's latency); both are printed.
4. Times the service call alone (``outlet_page``: page + total in one statement, through a
   Session), that statement's SQL alone (exact in metres) and the naive baseline
   (``ST_DWithin(geography)`` + ``ORDER BY ST_Distance(geography)`` + ``count(*) OVER ()``, no
   usable index), and checks that the KNN and the baseline return the same outlets.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.domain.outlets import OutletFilters, outlet_page

BBOX = (108.0, 28.0, 118.0, 40.0)
RADIUS_M = 5000.0
K = 20


def load(engine, n: int, seed: float) -> float:
    """N outlets at uniform random points of BBOX, in one statement; returns seconds taken."""
    start = time.perf_counter()
    with engine.begin() as conn:
        region_id = conn.execute(
            text(
                "INSERT INTO regions (code, name, level, boundary) "
                "VALUES ('BENCH', '基准区域', 'province', "
                "ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))) RETURNING id"
            ),
            dict(zip(("x0", "y0", "x1", "y1"), BBOX, strict=True)),
        ).scalar_one()
        conn.execute(text("SELECT setseed(:s)"), {"s": seed})
        # triggers would look the region up per row; every point is inside BENCH by construction
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text("""
            INSERT INTO outlets (code, name, tier, status, location, region_id)
            SELECT 'B' || g, '门店 ' || g,
                   CASE WHEN r < 0.02 THEN 'distributor' WHEN r < 0.10 THEN 'wholesaler_2'
                        WHEN r < 0.30 THEN 'wholesaler_3' ELSE 'retail' END,
                   'active',
                   ST_SetSRID(ST_MakePoint(:x0 + (:x1 - :x0) * random(),
                                           :y0 + (:y1 - :y0) * random()), 4326),
                   :region
              FROM (SELECT g, random() AS r FROM generate_series(1, :n) g) s
        """),
            {
                "n": n,
                "region": region_id,
                "x0": BBOX[0],
                "y0": BBOX[1],
                "x1": BBOX[2],
                "y1": BBOX[3],
            },
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE outlets"))
    return time.perf_counter() - start


def bearer_token(engine) -> str | None:
    """An admin token when the app requires sign-in (geo_crm.auth), else None."""
    try:
        from geo_crm.auth.tokens import create_token
        from geo_crm.domain.users import create_user
    except ImportError:
        return None
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        user = create_user(session, "bench", "admin", None)
        token = create_token(session, user.id, "bench").token
        session.commit()
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_hello_app():
    """The true floor of this stack: Flask answering a constant JSON body, no database."""
    from flask import Flask

    app = Flask("hello")

    @app.get("/hello")
    def hello():
        return {"status": "ok"}

    return app


SERVER_APP = "geo_crm.wsgi:create_server_app()"  # as the README's production command


def start_server(
    url: str, port: int, workers: int, threads: int, auth: bool, app: str = SERVER_APP
) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench",
           "GEO_CRM_AUTH_REQUIRED": "1" if auth else "0"}  # fmt: skip
    cmd = [
        gunicorn,
        "--pythonpath",
        str(Path(__file__).resolve().parent),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        app,
    ]
    return subprocess.Popen(cmd, env=env, start_new_session=True)


def wait_ready(
    port: int, headers: dict, timeout: float = 60, path: str = "/api/v1/outlets?limit=1&count=false"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status == 200:
                return
            raise SystemExit(f"the server answered {response.status}: {body[:300]!r}")
        except (ConnectionRefusedError, http.client.RemoteDisconnected, OSError):
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def points(n: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [
        (rng.uniform(BBOX[0] + 0.05, BBOX[2] - 0.05), rng.uniform(BBOX[1] + 0.05, BBOX[3] - 0.05))
        for _ in range(n)
    ]


def http_latencies(
    port: int, headers: dict, pts, *, count: bool, path: str | None = None
) -> tuple[list[float], list[dict]]:
    """One keep-alive client asking the near query at each point (or ``path`` each time)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out, bodies = [], []
    for lon, lat in pts:
        url = path or f"/api/v1/outlets?lat={lat:.6f}&lon={lon:.6f}&radius_m={RADIUS_M:g}&limit={K}"
        if not count:
            url += "&count=false"
        start = time.perf_counter()
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        body = response.read()
        out.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"{url}: {response.status} {body[:300]!r}")
        bodies.append(json.loads(body))
    conn.close()
    return out, bodies


WRK_NEAR = """
math.randomseed(%(seed)d)
request = function()
  local lon = %(x0)f + %(w)f * math.random()
  local lat = %(y0)f + %(h)f * math.random()
  return wrk.format("GET", string.format(
    "/api/v1/outlets?lat=%%.6f&lon=%%.6f&radius_m=%(radius)g&limit=%(k)d%(extra)s", lat, lon))
end
"""
WRK_PATH = """
request = function() return wrk.format("GET", "%s") end
"""
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %.1f %.1f\\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_latencies(
    port: int,
    token: str | None,
    seconds: float,
    *,
    count: bool = True,
    seed: int = 11,
    path: str | None = None,
):
    """The same question from wrk (Debian's ``wrk``, a C client: one thread, one keep-alive
    connection, random points from a Lua script; or ``path`` every time): latency without the
    Python client's own 0.15–0.2 ms per request. None when wrk is not installed. Returns
    (requests, median ms, p99 ms); a non-2xx answer or a socket error stops the benchmark."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    if path is None:
        script = WRK_NEAR % {
            "seed": seed,
            "x0": BBOX[0] + 0.05, "y0": BBOX[1] + 0.05,
            "w": BBOX[2] - BBOX[0] - 0.1, "h": BBOX[3] - BBOX[1] - 0.1,
            "radius": RADIUS_M, "k": K, "extra": "" if count else "&count=false",
        }  # fmt: skip
    else:
        script = WRK_PATH % path
    if token:
        script += f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script + WRK_DONE)
        lua.flush()
        out = subprocess.run(
            [wrk, "-t1", "-c1", f"-d{seconds:g}s", "-s", lua.name, f"http://127.0.0.1:{port}/"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    requests, bad_status, socket_errors, p50_us, p99_us = line.split()[1:]
    if int(bad_status) or int(socket_errors):
        raise SystemExit(f"wrk: {bad_status} non-2xx answers, {socket_errors} socket errors")
    return int(requests), float(p50_us) / 1000, float(p99_us) / 1000


def sql_latencies(engine, pts, build) -> tuple[list[float], list[list]]:
    """Run each point's statement on one raw psycopg connection (server-side prepared)."""
    raw = engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        out, results = [], []
        for lon, lat in pts:
            sql, params = build(engine, lon, lat)
            start = time.perf_counter()
            cur.execute(sql, params, prepare=True)
            rows = cur.fetchall()
            out.append(time.perf_counter() - start)
            results.append(rows)
        return out, results
    finally:
        raw.close()


def api_sql(engine, lon, lat):
    """The statement the API runs for this question (page + total), with its values."""
    from geo_crm.domain.outlets import _page_statement, _Shape, _values

    f = OutletFilters(near=(lon, lat), radius_m=RADIUS_M)
    statement = _page_statement(_Shape.of(f, None, None), True)
    values = {**statement.defaults, **_values(f, None, None), "page_limit": K + 1}
    values["page_offset"] = 0
    return statement.sql, values


def service_latencies(engine, pts) -> list[float]:
    """The API's service call (page + total in one statement) through a Session."""
    from sqlalchemy.orm import Session

    out = []
    with Session(engine) as session:
        for lon, lat in pts:
            f = OutletFilters(near=(lon, lat), radius_m=RADIUS_M)
            start = time.perf_counter()
            outlet_page(session, f, limit=K + 1)
            out.append(time.perf_counter() - start)
    return out


BASELINE = """
SELECT id, ST_Distance(location::geography, g) AS d, count(*) OVER () AS total
  FROM outlets, (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g) p
 WHERE ST_DWithin(location::geography, g, %(r)s)
 ORDER BY d, id LIMIT %(k)s
"""


def baseline_sql(engine, lon, lat):
    return BASELINE, {"lon": lon, "lat": lat, "r": RADIUS_M, "k": K}


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
    return f"{name:<66} n={len(ms):>5}  median {statistics.median(ms):7.3f} ms  p99 {p99:7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlets", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--baseline-queries", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--wrk-seconds", type=float, default=8.0, help="length of each wrk run (if installed)"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gcrm-bench-"))
    os.chmod(tmp, 0o755)
    cluster = LocalCluster.for_dir(tmp / "pg", dbname="bench")
    server = None
    try:
        url = cluster.ensure_database()
        engine = ready_engine(url)
        seconds = load(engine, args.outlets, 0.42)
        print(
            f"loaded {args.outlets:,} outlets in {seconds:.1f} s "
            f"({args.outlets / seconds:,.0f} rows/s)"
        )
        token = bearer_token(engine)
        print(
            f"gunicorn: {args.workers} gthread workers × {args.threads} threads on 127.0.0.1, "
            f"one keep-alive client in a closed loop; {os.cpu_count()} CPUs"
        )
        runs: dict[str, list[float]] = {}
        wrk_runs: dict[str, tuple[int, float, float]] = {}
        for auth in (True, False):
            if auth and token is None:
                continue
            headers = {"Authorization": f"Bearer {token}"} if auth else {}
            port = free_port()
            server = start_server(url, port, args.workers, args.threads, auth)
            wait_ready(port, headers)
            http_latencies(port, headers, points(300, 1), count=True)  # warm pools, plan caches
            label = "Bearer token" if auth else "auth off"
            runs[f"{label}, page + total"], bodies = http_latencies(
                port, headers, points(args.requests, 2), count=True
            )
            runs[f"{label}, page only (count=false)"], _ = http_latencies(
                port, headers, points(args.requests, 3), count=False
            )
            for count, suffix in ((True, "page + total"), (False, "page only (count=false)")):
                measured = wrk_latencies(
                    port, token if auth else None, args.wrk_seconds, count=count
                )
                if measured is not None:
                    wrk_runs[f"{label}, {suffix}"] = measured
            if not auth:  # the stack's own floor: one trivial query through the same layers
                runs["/healthz (SELECT 1), auth off: the floor"], _ = http_latencies(
                    port, {}, points(args.requests, 3), count=True, path="/healthz"
                )
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            server = None
        # the true floor: a Flask hello-world under the same gunicorn settings and client
        port = free_port()
        hello = "bench_near:make_hello_app()"
        server = start_server(url, port, args.workers, args.threads, False, hello)
        wait_ready(port, {}, path="/hello")
        http_latencies(port, {}, points(300, 1), count=True, path="/hello")
        runs["/hello (Flask hello-world, no database): the true floor"], _ = http_latencies(
            port, {}, points(args.requests, 3), count=True, path="/hello"
        )
        measured = wrk_latencies(port, None, args.wrk_seconds, path="/hello")
        if measured is not None:
            wrk_runs["/hello: the true floor"] = measured
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server = None
        found = [len(b["items"]) for b in bodies]
        totals = [b["total"] for b in bodies]
        print(
            f"answers: {statistics.mean(found):.1f} outlets per page, "
            f"{statistics.mean(totals):.1f} within {RADIUS_M:g} m on average"
        )

        sql_latencies(engine, points(300, 4), api_sql)
        knn, knn_rows = sql_latencies(engine, points(args.requests, 5), api_sql)
        service_latencies(engine, points(300, 4))
        service = service_latencies(engine, points(args.requests, 6))
        check = points(args.baseline_queries, 5)
        base, base_rows = sql_latencies(engine, check, baseline_sql)
        for ours, theirs in zip(knn_rows, base_rows, strict=False):
            ours_ids = [r[0] for r in ours[:K]]
            assert ours_ids == [r[0] for r in theirs], "KNN answer differs from the baseline"
        print(
            f"\n{K} nearest within {RADIUS_M:g} m of a random point, {args.outlets:,} outlets "
            f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        for label, seconds in runs.items():
            what = "HTTP GET " if label.startswith("/") else "HTTP GET /api/v1/outlets, "
            print(summary(what + label, seconds))
        if wrk_runs:
            print("the same, measured by wrk (C client, one keep-alive connection, closed loop):")
            for label, (n, p50, p99) in wrk_runs.items():
                what = "wrk GET " if label.startswith("/") else "wrk GET /api/v1/outlets, "
                print(f"{what + label:<66} n={n:>5}  median {p50:7.3f} ms  p99 {p99:7.3f} ms")
        else:
            print("(wrk is not installed: apt-get install wrk adds a C client's measurement)")
        print(summary("service outlet_page(): page + total, one statement", service))
        print(summary("SQL alone: the API's page + total statement (exact metres)", knn))
        print(summary("SQL baseline: ST_DWithin(geography) + ORDER BY ST_Distance", base))
        print(
            f"baseline / API end to end (median): "
            f"{statistics.median(base) / statistics.median(next(iter(runs.values()))):,.0f}×; "
            f"answers identical on {len(base_rows)} points"
        )
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Geotag endpoint under the production server, driven at a constant arrival rate (wrk2-style
open loop).

    .venv/bin/python bench/bench_geotag.py [--outlets 1000000] [--rate 500] [--seconds 20]
        [--keep | --reuse DIR] [--server granian|gunicorn|gunicorn,granian]

Starts a throwaway PostgreSQL + PostGIS cluster (durable settings: fsync, synchronous_commit and
full_page_writes on), migrates it, loads one province with 16 cities and N outlets (one INSERT …
SELECT over generate_series, every trigger firing), then serves the app on loopback as the README's
production command does: granian, 2 workers × 4 threads, keep-alive (``--server gunicorn``:
gunicorn's 2 gthread workers × 4 threads, the production server until 2026-12-07; ``--server
gunicorn,granian``: both, one after the other on the same cluster, each with its bare endpoint;
``--threads 1``: one thread per worker, gunicorn's sync workers). A one-thread client on
non-blocking keep-alive connections schedules requests at fixed intervals and measures each latency
from its *scheduled* start, so a stalled server shows up as queueing delay instead of a slower send
rate (the closed-loop trap). Its connections are opened beforehand, half to each worker, and the
warm-up and the measured run share them (:func:`balanced_connections` says why). CPU seconds of the
client, the server's processes and PostgreSQL are reported per request, and the WAL written, full
page images and checkpoints during the run; ``--diagnose`` has the workers print their long garbage
collections and slow requests. Every request tags a different outlet of one rep (Bearer token) with
its current version, a few metres from where it is, so all should be accepted; afterwards the number
of geotag events must equal the number of 200 responses (no lost or duplicated writes).

Checkpoints: the load ends with a CHECKPOINT, so the run starts at the dearest point of a
checkpoint cycle (the first change of a page after a checkpoint writes the whole page to the
WAL). The cluster has the embedded cluster's checkpoint spacing (db/cluster.wal_settings:
15 min, max_wal_size 4 GB): at ~8–15 KB of WAL per tag a run writes under 160 MB, so no
second checkpoint starts inside it; the report says how many did, with the WAL and full page
images per request.

Baseline in the same run: a bare Flask + psycopg endpoint inserting one row per request into a
table, under the same server and settings and the same load — the floor any real endpoint pays.

``--triggers MOVES`` skips the HTTP run: after the same load it prints PostgreSQL CPU per
location-only UPDATE with every trigger of ``outlets``, with each one disabled in turn and with
none (:func:`trigger_costs`), so what each trigger costs a geotag is read beside the full cost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKERS = 2
PREOPEN = 32  # client connections opened before a measured run, half to each worker
SLOW_S = 0.020  # the latency target: slower requests are counted per second of the run
# per worker, as the README's production command: gthread workers overlap the database waits
# (commit fsync) that leave a sync worker idle; 1 = sync workers (measured: half the throughput)
THREADS = 4


# -- apps the server serves (imported by the worker processes: "bench_geotag:make_app") ------


def make_app():
    """geo_crm with authentication wired (create_app will call auth.init_app itself once merged)."""
    from geo_crm import auth
    from geo_crm.wsgi import create_server_app

    app = create_server_app()  # as the README's production command builds it
    auth.init_app(app)
    if os.environ.get("BENCH_DIAGNOSE"):
        _log_gc_pauses()
        app.wsgi_app = _log_slow_requests(app, app.wsgi_app)
    return app


def _log_slow_requests(app, inner, threshold_s: float = 0.010):
    """Diagnostics (``--diagnose``): print each request slower than ``threshold_s`` inside the
    app, with its thread's CPU time and the database pool (idle/checked out/overflow)."""

    def timed(environ, start_response):
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return inner(environ, start_response)
        finally:
            wall = time.perf_counter() - t0
            if wall > threshold_s:
                pool = app.extensions["geo_crm_db"].engine.pool
                print(
                    f"[slow] pid {os.getpid()} at {time.time():.3f}: {environ.get('PATH_INFO')} "
                    f"wall {wall * 1000:.1f} ms, thread CPU {(time.thread_time() - c0) * 1000:.1f}"
                    f" ms, pool {pool.checkedin()}/{pool.checkedout()}/{pool.overflow()}",
                    file=sys.stderr,
                    flush=True,
                )

    return timed


def _log_gc_pauses(threshold_s: float = 0.005) -> None:
    """Diagnostics (``--diagnose``): print each garbage collection of this worker that stops it
    for more than ``threshold_s`` (a full collection of the app's heap takes ~0.1 s)."""
    import gc

    started = {}

    def callback(phase, info):
        if phase == "start":
            started["t"] = time.perf_counter()
        elif "t" in started:
            took = time.perf_counter() - started.pop("t")
            if took > threshold_s:
                print(
                    f"[gc] pid {os.getpid()} at {time.time():.3f}: generation "
                    f"{info['generation']} took {took * 1000:.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )

    gc.callbacks.append(callback)


def make_bare_app():
    """The naive floor: Flask + one psycopg connection per worker, one INSERT per request."""
    import psycopg
    from flask import Flask, request

    app = Flask("bare")
    state = threading.local()  # one connection per worker thread (gthread workers)

    @app.put("/bare/<code>")
    def bare(code):
        conn = getattr(state, "conn", None)
        if conn is None:
            conn = state.conn = psycopg.connect(os.environ["BENCH_PSYCOPG_URL"])
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
                "INSERT INTO regions (code, name, level, boundary) VALUES ('BP', '基准省', "
                "'province', "
                "ST_Multi(ST_MakeEnvelope(110, 25, 118, 33, 4326)))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO regions (code, name, level, parent_id, boundary) "
                "SELECT 'BC' || i || '_' || j, '城市' || i || j, 'city', (SELECT id FROM regions "
                "WHERE code = 'BP'), "
                "ST_Multi(ST_MakeEnvelope(110 + 2 * i, 25 + 2 * j, 112 + 2 * i, 27 + 2 * j, 4326)) "
                "FROM generate_series(0, 3) i, generate_series(0, 3) j"
            )
        )
        conn.execute(
            text(
                "INSERT INTO users (username, role) VALUES ('bench_rep', 'rep'), ('other_rep', "
                "'rep')"
            )
        )
        conn.execute(text("SELECT setseed(0.42)"))
        conn.execute(
            text(
                "INSERT INTO outlets (code, name, tier, location, rep_id) "
                "SELECT 'B' || lpad(i::text, 7, '0'), '店' || md5(i::text), 'retail', "
                "ST_SetSRID(ST_MakePoint(110.01 + random() * 7.98, 25.01 + random() * 7.98), "
                "4326), "
                "CASE WHEN i % :share = 0 THEN (SELECT id FROM users WHERE username = 'bench_rep') "
                "ELSE (SELECT id FROM users WHERE username = 'other_rep') END "
                "FROM generate_series(1, :n) i"
            ),
            {"n": outlets, "share": rep_share},
        )
        conn.execute(
            text(
                "CREATE TABLE bench_bare (id bigserial PRIMARY KEY, code text, lat float8, lon "
                "float8, "
                "created_at timestamptz DEFAULT now())"
            )
        )
    settle(engine)  # the bulk load: no autovacuum or checkpoint mid-run
    print(f"loaded {outlets:,} outlets in {time.perf_counter() - t0:.1f} s", flush=True)


def settle(engine) -> None:
    """VACUUM ANALYZE and CHECKPOINT: after the load, and before a run on a reused cluster, so
    each run starts at the same point of a checkpoint cycle."""
    from sqlalchemy import text

    with engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        auto.execute(text("VACUUM ANALYZE"))
        auto.execute(text("CHECKPOINT"))


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
                "WHERE rep_id = (SELECT id FROM users WHERE username = 'bench_rep') ORDER BY code "
                "LIMIT :n"
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


def start_server(server: str, app_spec: str, port: int, env: dict, threads: int):
    """The app ``module:factory`` served by ``server`` (gunicorn or granian) as the README's
    production command does: 2 workers × ``threads`` threads, keep-alive, warnings only."""
    if server == "granian":
        return start_granian(app_spec, port, env, threads)
    return start_gunicorn(f"{app_spec}()", port, env, threads)


def start_granian(app_spec: str, port: int, env: dict, threads: int) -> subprocess.Popen:
    """granian's WSGI workers: its Rust core parses, writes and keeps connections alive, and
    ``threads`` Python threads per worker run the app (gthread's role)."""
    granian = Path(sys.executable).with_name("granian")
    path = os.pathsep.join(filter(None, [str(ROOT / "bench"), str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [
            str(granian),
            "--interface",
            "wsgi",
            "--factory",
            "--workers",
            str(WORKERS),
            "--blocking-threads",
            str(threads),
            "--http",
            "1",
            "--no-ws",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--backlog",
            "2048",
            app_spec,
        ],
        env={**env, "PYTHONPATH": path},
        cwd=str(ROOT),
        start_new_session=True,
    )
    return _wait_listening(proc, port, "granian")


def start_gunicorn(app_spec: str, port: int, env: dict, threads: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    workers = []
    if threads > 1:
        workers = ["-k", "gthread", "--threads", str(threads), "--keep-alive", "30"]
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "-w",
            str(WORKERS),
            *workers,
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
    return _wait_listening(proc, port, "gunicorn")


def _wait_listening(proc: subprocess.Popen, port: int, name: str) -> subprocess.Popen:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            if len(_worker_pids(proc.pid)) >= WORKERS:  # the workers fork after the bind
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}") from None
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"{name} did not start within 60 s")


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and its children (from /proc; Linux only)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == root_pid or int(fields[1]) == root_pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _worker_pids(master_pid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master_pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(pids)


def _server_side_inode(server_port: int, client_port: int) -> str | None:
    """The socket inode of the server's end of a loopback connection (from /proc/net/tcp)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == server_port and remote_port == client_port and fields[3] == "01":
                return fields[9]
    return None


def _owner(pids: list[int], inode: str) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None


def balanced_connections(port: int, master_pid: int, per_worker: int) -> list[_Conn]:
    """``per_worker`` open, primed keep-alive connections to each gunicorn worker, interleaved;
    the warm-up and then the measured run use them in turn.

    Workers share one listening socket and the one already awake accepts the next connection:
    32 connections opened at once went 0/32 and 3/29 to the two workers. Opened as needed, they
    spread unevenly too: during the warm-up one worker took most, so the other kept one database
    connection, and the measured run then opened its other three (new PostgreSQL backends, cold
    caches, statements prepared and planned again): 100–230 requests over 20 ms in the first
    0.3 s of every such run, none later. Many independent clients would spread evenly on
    average; so the client opens connections one at a time, looks up in /proc which worker holds
    the other end, and keeps ``per_worker`` of each.
    """
    pids = _worker_pids(master_pid)
    kept: dict[int, list[_Conn]] = {pid: [] for pid in pids}
    for _ in range(40 * per_worker * max(1, len(pids))):
        if all(len(conns) >= per_worker for conns in kept.values()):
            break
        conn = _Conn(port)
        prime([conn])
        inode = _server_side_inode(port, conn.sock.getsockname()[1])
        owner = _owner(pids, inode) if inode else None
        if owner in kept and len(kept[owner]) < per_worker:
            kept[owner].append(conn)
        else:
            conn.sock.close()
    else:
        raise SystemExit(f"could not spread connections over the workers: {kept}")
    interleaved = [conns[i] for i in range(per_worker) for conns in kept.values()]
    return interleaved


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


# -- open-loop client ------------------------------------------------------------------------------


class _Conn:
    """One client connection: reused while the server keeps it alive (gthread), else reopened."""

    __slots__ = ("sock", "buf", "index")

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.index = -1  # the request in flight, -1 when idle


def _still_open(conn: _Conn) -> bool:
    """Whether an idle kept-alive connection is still usable; one the server closed meanwhile
    (its keep-alive timeout between two runs) is closed here and left out."""
    try:
        readable = select.select([conn.sock], [], [], 0)[0]
        if readable and not conn.sock.recv(1, socket.MSG_PEEK):
            raise ConnectionResetError("closed by the server")
    except (OSError, ValueError):
        conn.sock.close()
        return False
    return True


def close_all(conns: list[_Conn]) -> None:
    for conn in conns:
        conn.sock.close()
    conns.clear()


def prime(conns: list[_Conn], timeout_s: float = 60.0) -> None:
    """One ``GET /healthz`` on each new connection, answered before the run starts: gthread
    hands a newly accepted connection to a worker thread, which waits there for its first
    request; once answered, the connection waits in the worker's poller like any kept-alive
    one (a 404 from an app without the route does as well)."""
    sel = selectors.DefaultSelector()
    for conn in conns:
        conn.sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sel.register(conn.sock, selectors.EVENT_READ, conn)
    waiting = len(conns)
    deadline = time.monotonic() + timeout_s
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(0.1):
            conn = key.data
            try:
                chunk = conn.sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                raise SystemExit("the server closed a connection while priming it")
            conn.buf += chunk
            parsed = _parse(conn.buf)
            if parsed is not None:
                conn.buf = conn.buf[parsed[3] :]
                sel.unregister(conn.sock)
                waiting -= 1
    sel.close()
    if waiting:
        raise SystemExit(f"{waiting} connections got no answer to their first request")


def _parse(buf: bytes) -> tuple[int, bytes, bool, int] | None:
    """(status, body, server keeps the connection, bytes used) of a complete response, or None."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = buf[:head_end].decode("latin-1").lower()
    length = 0
    keep = True
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value:
            keep = False
    end = head_end + 4 + length
    if len(buf) < end:
        return None
    status = int(head.split(" ", 2)[1])
    return status, buf[head_end + 4 : end], keep, end


def drive(
    port: int,
    requests: list[bytes],
    rate: float,
    timeout_s: float = 10.0,
    connections: int = 64,
    idle: list | None = None,
) -> dict:
    """Send ``requests`` at ``rate``/s on a fixed schedule (open loop); latency counts from each
    request's *scheduled* start, so a request that waits for a free connection or a busy server
    is charged for it. One thread and non-blocking sockets: the client costs little CPU. The
    asyncio client used before (a new connection per request) took 0.48 ms of CPU per request
    against 0.22 ms for this one on the same server (sync workers, which close every
    connection; 0.13–0.16 ms with gthread keep-alive): a quarter of a core at 500/s, on a
    machine whose two cores the server and PostgreSQL need.

    ``idle``: open connections to use in turn (more are opened when all are busy); at the end
    it holds those still open, for the next run. Without it, the run opens connections as it
    needs them and closes them all at the end."""
    sel = selectors.DefaultSelector()
    free: deque[_Conn] = deque(conn for conn in idle or () if _still_open(conn))
    busy: dict[int, _Conn] = {}  # fileno -> connection with a request in flight
    opened = len(free)
    for conn in free:
        sel.register(conn.sock, selectors.EVENT_READ, conn)
    pending: deque[int] = deque()  # due, not yet sent
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    slow: dict[int, int] = {}  # second of the schedule -> requests slower than SLOW_S
    statuses: dict[int, int] = {}
    samples: dict[int, bytes] = {}
    n = len(requests)
    done = 0
    cpu0 = time.process_time()
    start = time.monotonic() + 0.2
    wall_start = time.time() + 0.2  # to match the workers' --diagnose lines to the schedule
    nxt = 0

    def finish(conn: _Conn, status: int, body: bytes, now: float) -> None:
        nonlocal done
        latency = now - (start + conn.index / rate)
        latencies.append(latency)
        if latency > SLOW_S:
            second = int(conn.index / rate)
            slow[second] = slow.get(second, 0) + 1
        statuses[status] = statuses.get(status, 0) + 1
        samples.setdefault(status, body[:300])
        conn.index = -1
        done += 1

    def drop(conn: _Conn) -> None:
        nonlocal opened
        sel.unregister(conn.sock)
        busy.pop(conn.sock.fileno(), None)
        if conn.index < 0 and conn in free:  # closed by the server while idle (keep-alive
            free.remove(conn)  # timeout, worker restart): never handed out again
        conn.sock.close()
        opened -= 1

    while done < n:
        now = time.monotonic()
        while nxt < n and start + nxt / rate <= now:
            pending.append(nxt)
            nxt += 1
        while pending and (free or opened < connections):
            if free:
                conn = free.popleft()
            else:
                try:
                    conn = _Conn(port)
                except OSError:
                    break
                opened += 1
                sel.register(conn.sock, selectors.EVENT_READ, conn)
            i = pending.popleft()
            conn.index = i
            try:
                conn.sock.sendall(requests[i])  # small: fits the socket buffer at once
            except OSError:
                pending.appendleft(i)
                conn.index = -1
                drop(conn)
                continue
            sent_at[i] = now
            busy[conn.sock.fileno()] = conn
        wait = 0.05 if nxt >= n else max(0.0, start + nxt / rate - time.monotonic())
        for key, _ in sel.select(min(wait, 0.05)):
            conn = key.data
            try:
                chunk = conn.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            now = time.monotonic()
            if not chunk:  # closed by the server
                if conn.index >= 0:
                    finish(conn, 0, b"connection closed", now)
                drop(conn)
                continue
            conn.buf += chunk
            parsed = _parse(conn.buf)
            if parsed is None:
                continue
            status, body, keep, used = parsed
            conn.buf = conn.buf[used:]
            finish(conn, status, body, now)
            busy.pop(conn.sock.fileno(), None)
            if keep:
                free.append(conn)
            else:
                drop(conn)
        now = time.monotonic()
        for conn in [c for c in busy.values() if now - sent_at[c.index] > timeout_s]:
            finish(conn, -1, b"client time-out", now)
            drop(conn)
    elapsed = time.monotonic() - start
    cpu = time.process_time() - cpu0
    if idle is not None:
        for conn in busy.values():  # none unless the last requests timed out
            drop(conn)
        idle[:] = free
        for conn in free:
            sel.unregister(conn.sock)
    else:
        for conn in [*free, *busy.values()]:
            drop(conn)
    sel.close()
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "sent": n,
        "elapsed_s": elapsed,
        "client_cpu_s": cpu,
        "statuses": statuses,
        "samples": samples,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000,
        "slow_by_second": dict(sorted(slow.items())),
        "wall_start": wall_start,
        "achieved_per_s": n / elapsed,
    }


def http_put(path: str, body: dict, token: str | None) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
    )
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    return head.encode() + b"\r\n" + payload


def geotag_requests(jobs, token: str) -> list[bytes]:
    """One tag per outlet of ``jobs`` (``targets``), a few metres from where it is, with its
    current version: what bench_geotag and bench_replica send."""
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


def report(name: str, r: dict, ok_status: int = 200) -> None:
    ok = r["statuses"].get(ok_status, 0)
    print(
        f"{name:<22} sent {r['sent']:>6}  ok {ok:>6}  {ok / r['elapsed_s']:>7.1f} ok/s  "
        f"p50 {r['p50_ms']:6.2f} ms  p90 {r['p90_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
        f"max {r['max_ms']:7.2f} ms  statuses {dict(sorted(r['statuses'].items()))}",
        flush=True,
    )
    if "cpu_ms" in r:
        cpu = r["cpu_ms"]
        print(
            f"{'':<22} CPU per request: server {cpu['server']:.2f} ms, PostgreSQL "
            f"{cpu['postgres']:.2f} ms, client {cpu['client']:.2f} ms",
            flush=True,
        )
    if r.get("slow_by_second"):
        print(
            f"{'':<22} slower than {SLOW_S * 1000:.0f} ms, by second of the schedule "
            f"(started at {r['wall_start']:.3f}): "
            + ", ".join(f"{sec}s: {n}" for sec, n in r["slow_by_second"].items()),
            flush=True,
        )
    for status, body in r["samples"].items():
        if status != ok_status:
            print(f"    {status}: {body.decode(errors='replace')}")


def wal_counters(engine, logfile: Path) -> tuple[int, int, int]:
    """(WAL bytes, full page images, checkpoints started) so far: pg_stat_wal, and the server
    log's "checkpoint starting" lines (log_checkpoints is on by default)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        wal_bytes, fpi = conn.execute(
            text("SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal")
        ).one()
    try:
        started = logfile.read_text(errors="replace").count("checkpoint starting")
    except OSError:
        started = -1
    return wal_bytes, fpi, started


def measured(
    port: int, requests: list[bytes], rate: float, server: int, postmaster: int, idle: list
) -> dict:
    """``drive`` plus the CPU seconds per request of gunicorn, PostgreSQL and the client."""
    before = cpu_seconds(server), cpu_seconds(postmaster)
    result = drive(port, requests, rate, idle=idle)
    after = cpu_seconds(server), cpu_seconds(postmaster)
    n = len(requests)
    result["cpu_ms"] = {
        "server": (after[0] - before[0]) / n * 1000,
        "postgres": (after[1] - before[1]) / n * 1000,
        "client": result["client_cpu_s"] / n * 1000,
    }
    return result


def _backend_cpu(conn) -> float:
    """CPU seconds of the database backend serving ``conn`` (same machine: /proc)."""
    from sqlalchemy import text

    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    return cpu_seconds(pid)


def trigger_costs(engine, moves: int, rounds: int) -> None:
    """PostgreSQL CPU per location-only UPDATE of an outlet with every trigger of ``outlets``
    enabled, with each one disabled in turn, and with all of them disabled: the difference is
    what that trigger costs a geotag. Each variant moves the same ``moves`` active outlets by
    a few metres, one UPDATE statement each (statement triggers fire per UPDATE, as for a
    tag), in a PL/pgSQL loop of one transaction that is rolled back, so every variant starts
    from the same rows. CPU of the backend from /proc, not wall time: other processes on the
    machine do not count; ``rounds`` passes, the second in reverse order, the least kept."""
    from sqlalchemy import text

    with engine.connect() as conn:
        triggers = (
            conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'outlets'::regclass "
                    "AND NOT tgisinternal AND tgtype & 16 <> 0 ORDER BY tgname"  # UPDATE ones
                )
            )
            .scalars()
            .all()
        )
    variants = [("every trigger", None)]
    variants += [(f"without {t}", f'DISABLE TRIGGER "{t}"') for t in triggers]
    variants += [("no user trigger", "DISABLE TRIGGER USER")]
    best: dict[str, float] = {}

    def loop(n: int) -> str:
        return f"""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id FROM outlets WHERE status = 'active' AND location IS NOT NULL
            ORDER BY id LIMIT {int(n)} LOOP
    UPDATE outlets SET location = ST_SetSRID(ST_MakePoint(ST_X(location) + 0.00003,
                                                          ST_Y(location) + 0.00003), 4326)
     WHERE id = r.id;
  END LOOP;
END $$"""

    for k in range(rounds):
        order = variants if k % 2 == 0 else variants[::-1]
        for name, alter in order:
            with engine.connect() as conn:
                with conn.begin() as trans:
                    if alter:
                        conn.execute(text(f"ALTER TABLE outlets {alter}"))
                    conn.execute(text(loop(50)))  # plans made and kept
                    before = _backend_cpu(conn)
                    conn.execute(text(loop(moves)))
                    spent = (_backend_cpu(conn) - before) / moves * 1000
                    trans.rollback()
            best[name] = min(best.get(name, spent), spent)
            print(f"  round {k + 1}: {name:<40} {spent:.3f} ms per UPDATE", flush=True)
    full = best["every trigger"]
    print(f"\nPostgreSQL CPU per location-only UPDATE ({moves} moves, least of {rounds}):")
    for name, _ in variants:
        saved = "" if name == "every trigger" else f"   (trigger cost {full - best[name]:+.3f})"
        print(f"  {name:<40} {best[name]:.3f} ms{saved}")


def run_server(server, args, engine, cluster, postmaster, env, token, total) -> bool:
    """The bare endpoint and then the geotag, each under ``server``, on the same schedule;
    prints both and returns whether the geotag met the target. The tags read each outlet's
    current version, so a run after another server's run is valid."""
    from sqlalchemy import text

    jobs = targets(engine, total)
    reqs = geotag_requests(jobs, token)
    warm = int(args.rate * args.warmup)
    servers: list[subprocess.Popen] = []
    try:
        # the naive floor first, on the same machine and schedule
        port = free_port()
        servers.append(start_server(server, "bench_geotag:make_bare_app", port, env, args.threads))
        bare_reqs = [
            http_put(f"/bare/{code}", {"lat": lat, "lon": lon}, None) for code, _, lon, lat in jobs
        ]
        conns = balanced_connections(port, servers[-1].pid, PREOPEN // WORKERS)
        drive(port, bare_reqs[:warm], args.rate, idle=conns)
        bare = measured(port, bare_reqs[warm:], args.rate, servers[-1].pid, postmaster, conns)
        close_all(conns)
        stop(servers.pop())

        port = free_port()
        servers.append(start_server(server, "bench_geotag:make_app", port, env, args.threads))
        with engine.connect() as conn:
            events_before = conn.execute(text("SELECT count(*) FROM geotag_events")).scalar()
        conns = balanced_connections(port, servers[-1].pid, PREOPEN // WORKERS)
        warmup = drive(port, reqs[:warm], args.rate, idle=conns)
        wal_before = wal_counters(engine, cluster.logfile)
        real = measured(port, reqs[warm:], args.rate, servers[-1].pid, postmaster, conns)
        close_all(conns)
        wal_after = wal_counters(engine, cluster.logfile)
        stop(servers.pop())
    finally:
        for proc in servers:
            stop(proc)
    with engine.connect() as conn:
        events_after = conn.execute(text("SELECT count(*) FROM geotag_events")).scalar()
        flagged = conn.execute(
            text("SELECT count(*) FROM geotag_events WHERE state = 'flagged'")
        ).scalar()
    accepted = warmup["statuses"].get(200, 0) + real["statuses"].get(200, 0)
    # the client gave up waiting (-1) or the server closed the connection mid-request (0)
    unknown = sum(r["statuses"].get(k, 0) for r in (warmup, real) for k in (-1, 0))
    written = events_after - events_before
    consistent = accepted <= written <= accepted + unknown

    print(
        f"\n{args.outlets:,} outlets, {server} {WORKERS} workers x {args.threads} threads, "
        f"open loop at {args.rate:.0f}/s "
        f"for {args.seconds:.0f} s (after {args.warmup:.0f} s warm-up), latency from the "
        f"scheduled start; load average now {os.getloadavg()[0]:.2f}"
    )
    report("bare Flask+psycopg", bare)
    report("geotag (warm-up)", warmup)
    report("geotag", real)
    n_real = len(reqs) - warm
    print(
        f"{'':<22} WAL per request {(wal_after[0] - wal_before[0]) / n_real / 1024:.1f} KB, "
        f"full page images {(wal_after[1] - wal_before[1]) / n_real:.1f}; "
        f"checkpoints started during the run: {wal_after[2] - wal_before[2]}"
    )
    print(
        f"events written {written}, accepted responses {accepted}, timed out (outcome unknown "
        "to the "
        f"client) {unknown}, flagged {flagged}: {'OK' if consistent else 'MISMATCH'}",
        flush=True,
    )
    ok_rate = real["statuses"].get(200, 0) / real["elapsed_s"]
    return (
        ok_rate >= 0.98 * args.rate and real["p99_ms"] < 20 and written == accepted and not unknown
    )


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
    parser.add_argument(
        "--threads",
        type=int,
        default=THREADS,
        help="threads per worker (gunicorn: >1 gthread, keep-alive; 1 sync)",
    )
    parser.add_argument(
        "--server",
        type=lambda value: value.split(","),
        default=["granian"],
        metavar="NAME[,NAME]",
        help="granian (the README's production command) and/or gunicorn, one after the other "
        "on the same cluster (each with its bare endpoint): '--server gunicorn,granian' "
        "measures the one beside the other",
    )
    parser.add_argument("--keep", action="store_true", help="keep the cluster folder")
    parser.add_argument(
        "--reuse",
        type=Path,
        metavar="DIR",
        help="a folder kept by --keep: start its cluster again and skip the load (the tags "
        "read each outlet's current version, so a run after a run is valid)",
    )
    parser.add_argument(
        "--triggers",
        type=int,
        default=0,
        metavar="MOVES",
        help="no HTTP run: PostgreSQL CPU per location-only UPDATE of MOVES outlets, with each "
        "trigger of outlets disabled in turn",
    )
    parser.add_argument("--rounds", type=int, default=2, help="passes of --triggers")
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="the geotag workers print garbage collections > 5 ms and requests > 10 ms",
    )
    args = parser.parse_args()
    if set(args.server) - {"gunicorn", "granian"}:
        parser.error("--server: gunicorn and/or granian, comma-separated")
    print(
        f"load average before: {os.getloadavg()[0]:.2f} (other processes share the 2 cores)",
        flush=True,
    )

    from geo_crm.db import ready_engine
    from geo_crm.db.cluster import LocalCluster

    total = int(args.rate * (args.seconds + args.warmup))
    if args.reuse:
        base, args.keep = args.reuse.resolve(), True
    else:
        base = Path(tempfile.mkdtemp(prefix="gcrm-bench-geotag-"))
        os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="bench")
    servers: list[subprocess.Popen] = []
    try:
        url = cluster.ensure_database()
        postmaster = int((base / "pg" / "postmaster.pid").read_text().split()[0])
        engine = ready_engine(url)
        if args.reuse:
            print(f"reusing the cluster in {base}", flush=True)
            settle(engine)
        else:
            load(engine, args.outlets, rep_share=max(1, args.outlets // (total + 1000)))
        if args.triggers:
            trigger_costs(engine, args.triggers, args.rounds)
            engine.dispose()
            return
        token = bench_token(engine)
        env = dict(
            os.environ,
            DATABASE_URL=url,
            SECRET_KEY="bench-secret",
            GEO_CRM_AUTH_REQUIRED="1",
            BENCH_PSYCOPG_URL=url.replace("postgresql+psycopg://", "postgresql://"),
        )
        if args.diagnose:
            env["BENCH_DIAGNOSE"] = "1"
        met = []
        for index, server in enumerate(args.server):
            if index:
                settle(engine)  # each server's run starts at the same point of a checkpoint cycle
            met.append(run_server(server, args, engine, cluster, postmaster, env, token, total))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        for server, verdict in zip(args.server, met, strict=True):
            outcome = "met" if verdict else "NOT met"
            print(f"{server}: target >= {args.rate:.0f}/s accepted with p99 < 20 ms: {outcome}")
        engine.dispose()
    finally:
        for proc in servers:
            stop(proc)
        cluster.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"cluster kept in {base} (--reuse {base})")


if __name__ == "__main__":
    main()

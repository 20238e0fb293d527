"""Reads on a streaming replica while the primary takes geotags (issue 16.4), and where the
time goes.

    .venv/bin/python bench/bench_replica.py [--outlets 200000] [--rate 500] [--read-rate 100]
        [--seconds 10] [--warmup 3] [--threads 4[,16]] [--near radius|all|nocount]
        [--phases tiles,near,writes,both] [--runs solo,primary,replica]
        [--server gunicorn|granian|gunicorn,granian]

Starts a throwaway durable primary (fsync on) loaded as bench/bench_geotag.py loads it (one
province, 16 cities, N outlets by one INSERT … SELECT), adds an admin's token for the reads,
and copies it into a hot-standby replica with ``geo-crm db replica``'s code (pg_basebackup
through a slot, streaming from the primary's socket). Each run serves the app with granian as
the README's production command (2 workers × ``--threads``, ``GEO_CRM_POOL_SIZE`` = the
threads; ``--server gunicorn``: gunicorn's 2 gthread workers × ``--threads``) and drives phases,
each one open-loop stream per kind on its own client thread (latency from each request's
*scheduled* start), a warm-up then the measured seconds:

- ``tiles``: outlet vector tiles at z 11-13 (points), ``--read-rate``/2 per second, alone;
- ``near``: the 20 outlets nearest a point, ``--read-rate``/2 per second, alone; ``--near
  radius`` (default) asks them within 5 km with their total, as bench_near does; ``all`` asks
  without a radius, so the total counts every outlet of the network on each request (what this
  bench asked before, 2026-12-06); ``nocount`` without a radius and without the total;
- ``writes``: geotag ``PUT``s at ``--rate``/s alone, every one a different outlet;
- ``both``: the three streams at once — the target's situation.

Runs: ``solo`` (the replica stopped: the primary alone, as bench_geotag has it), ``primary``
(the replica streaming, reads on the primary), ``replica`` (``DATABASE_REPLICA_URLS`` set: GET
reads on the replica); each once per ``--threads`` value.

Printed per phase: each stream's sent/ok/statuses and p50/p90/p99; CPU in cores and in ms per
request for every process group, read from /proc — the client, gunicorn, and for each cluster
its backends, walsender / walreceiver, startup (replay), checkpointer, bgwriter, walwriter,
autovacuum and the backends that exited (the postmaster's children's times: connections
opened and closed); WAL bytes, full-page images and WAL syncs per accepted geotag; what the
active backends of each cluster waited on (sampled every 0.2 s: ``CPU`` = no wait); hot-standby
conflicts and the replica's replay lag; transactions the replica ran (where the reads went).
The speed line of issue 16: reads on the replica with no error and p99 under 50 ms while the
primary takes 500 geotags/s.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
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
    geotag_requests,
    load,
    prime,
    report,
    start_server,
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
            text(
                "INSERT INTO users (username, role) VALUES ('bench_admin', 'admin') "
                "ON CONFLICT (username) DO UPDATE SET role = 'admin' RETURNING id"
            )
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


NEAR_QUERIES = {
    # the 20 nearest within 5 km with their total, as bench_near asks them (one index box)
    "radius": "radius_m=5000&limit=20",
    # no radius: the 20 nearest by KNN, and the total of every outlet the filters match — the
    # whole network for an admin, counted on every request (what this bench asked before; since
    # migration 0022's release a total without a radius is only counted when asked for)
    "all": "limit=20&count=true",
    "nocount": "limit=20&count=false",  # no radius, no total: the KNN page alone
}


def points(count: int, seed: int) -> list[tuple[float, float]]:
    rnd = random.Random(seed)
    return [
        (rnd.uniform(WEST + 0.1, EAST - 0.1), rnd.uniform(SOUTH + 0.1, NORTH - 0.1))
        for _ in range(count)
    ]


def tile_requests(count: int, token: str, seed: int) -> list[bytes]:
    """Outlet tiles at z 11-13 (points, not hexagons) around random points of the province."""
    rnd = random.Random(seed + 1)
    out = []
    for lon, lat in points(count, seed):
        z = rnd.choice((11, 12, 13))
        x, y = tile_of(lon, lat, z)
        out.append(http_get(f"/tiles/outlets/{z}/{x}/{y}.mvt", token))
    return out


def near_requests(count: int, token: str, seed: int, query: str) -> list[bytes]:
    return [
        http_get(f"/api/v1/outlets?lat={lat:.5f}&lon={lon:.5f}&{NEAR_QUERIES[query]}", token)
        for lon, lat in points(count, seed)
    ]


# -- what the run's processes cost (from /proc, as bench_geotag reads it) -------------------------

_TICK = os.sysconf("SC_CLK_TCK")
# a PostgreSQL process's title (``postgres: <what>``) -> the group it is counted in
_PG_KINDS = (
    ("walsender", "walsender"),
    ("walreceiver", "walreceiver"),
    ("startup", "startup (replay)"),
    ("checkpointer", "checkpointer"),
    ("background writer", "bgwriter"),
    ("walwriter", "walwriter"),
    ("autovacuum", "autovacuum"),
)


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, user+system ticks, ended children's user+system ticks) of a process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _title(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _pg_kind(title: str) -> str:
    body = title.removeprefix("postgres: ")
    for word, kind in _PG_KINDS:
        if body.startswith(word):
            return kind
    if "[local]" in body or "127.0.0.1" in body:
        return "backends"
    return "other"


def cpu_snapshot(gunicorn_pid: int | None, postmasters: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far per group: ``client`` (this process), ``gunicorn`` (master and
    workers), and per cluster (``primary``/``replica``) its backends, walsender or walreceiver,
    startup (replay), checkpointer … and ``exited`` (children that ended: the postmaster's
    children's times)."""
    parents: dict[int, tuple[int, int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                parents[int(entry.name)] = stat
    out: dict[str, float] = {}

    def add(key: str, ticks: int) -> None:
        out[key] = out.get(key, 0.0) + ticks / _TICK

    add("client", parents.get(os.getpid(), (0, 0, 0))[1])
    for pid, (ppid, ticks, _) in parents.items():
        if gunicorn_pid is not None and gunicorn_pid in (pid, ppid):
            add("gunicorn", ticks)
    for name, master in postmasters.items():
        if master not in parents:
            continue
        add(f"{name} postmaster", parents[master][1])
        add(f"{name} exited", parents[master][2])
        for pid, (ppid, ticks, _) in parents.items():
            if ppid == master:
                add(f"{name} {_pg_kind(_title(pid))}", ticks)
    return out


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in sorted(set(before) | set(after))}


def postmaster_pid(datadir: Path) -> int:
    return int((datadir / "postmaster.pid").read_text().split()[0])


# -- what the databases did (sampled during a run) ----------------------------------------------

_WAITS = (
    "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-'), count(*)"
    " FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'active'"
    " AND pid <> pg_backend_pid() GROUP BY 1, 2"
)
_CONFLICTS = (
    "SELECT coalesce(sum(confl_snapshot + confl_lock + confl_bufferpin + confl_deadlock"
    " + confl_tablespace), 0) FROM pg_stat_database_conflicts"
)
_REPLAYED = "SELECT pg_last_wal_replay_lsn()"
_WAL = "SELECT wal_bytes::bigint, wal_fpi, wal_sync FROM pg_stat_wal"
_INSERTED = "SELECT pg_current_wal_insert_lsn()"


class Sampler:
    """Every ``every_s``: what the active backends of each cluster wait on (``CPU``: nothing,
    running or runnable), and how many bytes of WAL the replica has still to replay."""

    def __init__(self, urls: dict[str, str], every_s: float = 0.2):
        import psycopg

        self.conns = {
            name: psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                                  autocommit=True)
            for name, url in urls.items()
        }  # fmt: skip
        self.every_s = every_s
        self.waits: dict[tuple[str, str, str], int] = {}
        self.samples = 0
        self.lag_bytes: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wal(self) -> tuple[int, int, int]:
        """The primary's WAL so far: bytes, full-page images, syncs (fsync of WAL files)."""
        row = self.conns["primary"].execute(_WAL).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def conflicts(self) -> int:
        if "replica" not in self.conns:
            return 0
        return int(self.conns["replica"].execute(_CONFLICTS).fetchone()[0])

    def start(self) -> None:
        self.waits, self.samples, self.lag_bytes = {}, 0, []
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.samples += 1
            for name, conn in self.conns.items():
                for kind, event, n in conn.execute(_WAITS).fetchall():
                    key = (name, kind, event)
                    self.waits[key] = self.waits.get(key, 0) + n
            if "replica" in self.conns:
                inserted = self.conns["primary"].execute(_INSERTED).fetchone()[0]
                replayed = self.conns["replica"].execute(_REPLAYED).fetchone()[0]
                self.lag_bytes.append(max(0, int(_lsn(inserted) - _lsn(replayed))))

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


def _lsn(value) -> int:
    hi, lo = str(value).split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def replica_transactions(url: str | None) -> int:
    from sqlalchemy import create_engine, text

    if url is None:  # no replica running
        return 0
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


# -- one configuration: a gunicorn, and the phases driven against it ---------------------------

RUNS = {
    "solo": "primary alone",  # the replica stopped: the primary as bench_geotag has it
    "primary": "reads on the primary",  # the replica streaming, not read from
    "replica": "reads on the replica",
}
PHASES = ("tiles", "near", "writes", "both")  # what each phase drives, below
STREAMS = {
    "tiles": ("tiles",),
    "near": ("near",),
    "writes": ("writes",),
    "both": ("writes", "tiles", "near"),
}


def _drive_into(done: dict, kind: str, port: int, requests, rate: float, conns: list) -> None:
    done[kind] = drive(port, requests, rate, idle=conns)


def one_run(
    name, env, streams_of, args, replica_url, sampler, postmasters, threads, split, server
) -> dict:
    """Serve the app under ``env`` with ``server`` (gunicorn or granian); for each phase warm
    up, then drive its streams at once (one client thread each, open loop), with CPU per process
    group and database samples.
    ``split``: the reads go to a second server of their own (as a load balancer sending GET
    requests to a read pool would), so they never wait for a thread behind the writes."""
    # a pooled connection per thread (the default pool of 5 opens and closes more per request)
    env = {"GEO_CRM_POOL_SIZE": str(max(5, threads)), **env}
    servers: dict[str, tuple[int, subprocess.Popen]] = {}
    results: dict = {}
    try:
        for pool in ("writes", "reads") if split else ("writes",):
            port = free_port()
            servers[pool] = (
                port,
                start_server(server, "bench_geotag:make_app", port, env, threads),
            )
            for _ in range(2 * WORKERS):  # first requests build each worker's engine: be patient
                first = [_Conn(port)]
                prime(first, timeout_s=120)
                close_all(first)

        def server_of(kind: str) -> tuple[int, subprocess.Popen]:
            return servers["writes" if kind == "writes" or not split else "reads"]

        def gunicorn_cpu() -> dict[str, float]:
            out: dict[str, float] = {}
            for pool, (_, proc) in servers.items():
                for key, value in cpu_snapshot(proc.pid, {}).items():
                    if key == "gunicorn":  # the server's master and workers, whichever it is
                        key = f"{server} {pool}" if split else server
                    if key != "client":
                        out[key] = out.get(key, 0.0) + value
            return out

        def snapshot() -> dict[str, float]:
            return {**cpu_snapshot(None, postmasters), **gunicorn_cpu()}

        for phase in args.phases:
            # fresh connections for each phase: gunicorn closes those idle for 30 s (keep-alive),
            # and drive() would reuse one it dropped while it waited
            conns = {
                kind: balanced_connections(
                    server_of(kind)[0],
                    server_of(kind)[1].pid,
                    PREOPEN // WORKERS // (1 if kind == "writes" else 4),
                )
                for kind in STREAMS[phase]
            }
            streams = streams_of(phase)  # kind -> (warm-up requests, measured requests, rate)
            for part in (0, 1):  # warm-up, then measured
                done: dict = {}
                clients = [
                    threading.Thread(
                        target=_drive_into,
                        args=(done, kind, server_of(kind)[0], reqs[part], rate, conns[kind]),
                    )
                    for kind, (*reqs, rate) in streams.items()
                ]
                if part:
                    before_tx = replica_transactions(replica_url)
                    before_conflicts = sampler.conflicts()
                    before_wal = sampler.wal()
                    before_cpu = snapshot()
                    sampler.start()
                t0 = time.monotonic()
                for t in clients:
                    t.start()
                for t in clients:
                    t.join()
                wall = time.monotonic() - t0
            sampler.stop()
            results[phase] = {
                "streams": done,
                "wall_s": wall,
                "cpu": cpu_used(before_cpu, snapshot()),
                "replica_tx": replica_transactions(replica_url) - before_tx,
                "conflicts": sampler.conflicts() - before_conflicts,
                "wal": [b - a for a, b in zip(before_wal, sampler.wal(), strict=True)],
                "waits": dict(sampler.waits),
                "samples": sampler.samples,
                "lag_bytes": list(sampler.lag_bytes),
            }
            print_phase(name, phase, results[phase])
            for pool in conns.values():
                close_all(pool)
    finally:
        for _, proc in servers.values():
            stop(proc)
    return results


def print_phase(run: str, phase: str, r: dict) -> None:
    print(
        f"-- {run} / {phase}: replica transactions {r['replica_tx']:,}, "
        f"hot-standby conflicts {r['conflicts']}",
        flush=True,
    )
    requests = 0
    for kind, result in r["streams"].items():
        result["samples"].pop(204, None)  # an empty tile: answered, nothing to show
        report(f"  {kind}", result)
        requests += result["sent"]
    wall, cpu = r["wall_s"], r["cpu"]
    shown = {k: v for k, v in cpu.items() if v >= 0.005}
    total = sum(cpu.values())
    print(
        f"  CPU over {wall:.1f} s, in cores (ms per request of the {requests:,}): "
        + ", ".join(f"{k} {v / wall:.2f} ({v / requests * 1000:.2f})" for k, v in shown.items())
        + f"; all {total / wall:.2f} cores",
        flush=True,
    )
    writes = r["streams"].get("writes")
    if writes is not None and writes["statuses"].get(200):
        ok = writes["statuses"][200]
        wal_bytes, fpi, syncs = r["wal"]
        print(
            f"  primary WAL per accepted geotag: {wal_bytes / ok / 1024:.1f} KB, full-page images "
            f"{fpi / ok:.2f}, WAL syncs {syncs / ok:.2f} ({syncs / wall:.0f}/s)",
            flush=True,
        )
    if r["samples"]:
        top = sorted(r["waits"].items(), key=lambda kv: -kv[1])[:6]
        print(
            f"  active backends, mean over {r['samples']} samples: "
            + (
                ", ".join(
                    f"{db} {kind}:{event} {n / r['samples']:.2f}" for (db, kind, event), n in top
                )
                or "none"
            ),
            flush=True,
        )
        lag = sorted(r["lag_bytes"])
        if lag:
            print(
                f"  replica replay behind the primary: median {lag[len(lag) // 2] / 1024:.0f} KB, "
                f"max {lag[-1] / 1024:.0f} KB",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outlets", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=500.0, help="geotags per second")
    parser.add_argument(
        "--read-rate", type=float, default=100.0, help="reads per second (half tiles, half near)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="per phase")
    parser.add_argument(
        "--threads",
        default="4",
        help="threads per gunicorn worker; comma-separated: each run once per thread count",
    )
    parser.add_argument(
        "--near",
        choices=sorted(NEAR_QUERIES),
        default="radius",
        help="the near read: radius (within 5 km, with total), all (no radius: total of the "
        "whole network per request), nocount (no radius, no total)",
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="comma-separated, in order: tiles, near (each read kind alone), writes (geotags "
        "alone), both (geotags and both reads at once)",
    )
    parser.add_argument(
        "--runs",
        default="solo,primary,replica",
        help="comma-separated: solo (replica stopped, reads on the primary), primary (replica "
        "streaming, reads on the primary), replica (reads on the replica)",
    )
    parser.add_argument(
        "--split",
        choices=("no", "yes", "both"),
        default="no",
        help="yes: the reads on a second gunicorn of their own (a read pool); both: each run "
        "once without, once with",
    )
    parser.add_argument(
        "--server",
        default="granian",
        help="granian (the README's production command) and/or gunicorn (comma-separated: "
        "each run once per server, the one beside the other)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the cluster folders")
    parser.add_argument(
        "--reuse",
        type=Path,
        help="a folder kept by --keep: start its primary and replica again, skip the load",
    )
    args = parser.parse_args()
    args.phases = [p for p in args.phases.split(",") if p]
    args.threads = [int(t) for t in args.threads.split(",") if t]
    args.split = {"no": [False], "yes": [True], "both": [False, True]}[args.split]
    args.server = [name for name in args.server.split(",") if name]
    if not args.server or set(args.server) - {"gunicorn", "granian"}:
        parser.error("--server: gunicorn and/or granian, comma-separated")
    runs = [r for r in args.runs.split(",") if r]
    if not set(args.phases) <= set(PHASES) or not set(runs) <= set(RUNS):
        parser.error(f"phases: {', '.join(PHASES)}; runs: {', '.join(RUNS)}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 shared cores)", flush=True)

    from geo_crm.db import ready_engine
    from geo_crm.db.cluster import LocalCluster
    from geo_crm.db.replica import LocalReplica

    warm_n, real_n = int(args.rate * args.warmup), int(args.rate * args.seconds)
    per_phase = warm_n + real_n
    write_phases = sum(1 for p in args.phases if "writes" in STREAMS[p]) * len(runs)
    write_phases *= len(args.threads) * len(args.split) * len(args.server)
    if args.reuse:
        base, args.keep = args.reuse.resolve(), True
    else:
        base = Path(tempfile.mkdtemp(prefix="gcrm-bench-replica-"))
        os.chmod(base, 0o755)
    primary = LocalCluster.for_dir(base / "pg", dbname="bench")
    replica = LocalReplica.of(primary)
    sampler = None
    try:
        url = primary.ensure_database()
        engine = ready_engine(url)
        needed = max(1, write_phases * per_phase)
        if args.reuse:
            print(f"reusing the clusters in {base}", flush=True)
        else:
            load(engine, args.outlets, rep_share=max(1, args.outlets // (needed + 1000)))
        writer = bench_token(engine)
        reader = admin_token(engine)
        jobs = targets(engine, needed)
        engine.dispose()
        t0 = time.perf_counter()
        replica.start()
        print(f"replica copied and started in {time.perf_counter() - t0:.1f} s", flush=True)
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret")
        env.pop("DATABASE_REPLICA_URLS", None)
        half = args.read_rate / 2
        rw, rr = int(half * args.warmup), int(half * args.seconds)
        tiles = tile_requests(rw + rr, reader, seed=11)  # the same reads in every phase and run
        near = near_requests(rw + rr, reader, seed=12, query=args.near)
        print(
            f"{args.outlets:,} outlets; per phase {args.warmup:.0f} s warm-up + "
            f"{args.seconds:.0f} s measured; geotags {args.rate:.0f}/s, outlet tiles z11-13 "
            f"{half:.0f}/s, near ({args.near}: {NEAR_QUERIES[args.near]}) {half:.0f}/s; "
            f"{'/'.join(args.server)} {WORKERS} workers x {'/'.join(map(str, args.threads))} "
            "threads",
            flush=True,
        )
        used = iter(range(write_phases))
        summary = {}
        combos = [
            (r, t, s, v)
            for r in runs
            for t in args.threads
            for s in args.split
            for v in args.server
        ]
        for run, threads, split, server in combos:
            extra = {"DATABASE_REPLICA_URLS": replica.url} if run == "replica" else {}
            label = RUNS[run]
            if len(args.threads) > 1:
                label += f", {threads} threads"
            if split:
                label += f", reads on their own {server}"
            if len(args.server) > 1:
                label += f", {server}"
            if run == "solo":
                replica.stop()
            elif not replica.is_running():
                replica.start()
                time.sleep(1.0)  # streaming again
            postmasters = {"primary": postmaster_pid(primary.datadir)}
            sampled = {"primary": url}
            if run != "solo":
                postmasters["replica"] = postmaster_pid(replica.datadir)
                sampled["replica"] = replica.url
            sampler = Sampler(sampled)

            def streams_of(phase: str) -> dict:
                out = {}
                for kind in STREAMS[phase]:
                    if kind == "writes":
                        k = next(used)
                        reqs = geotag_requests(jobs[k * per_phase : (k + 1) * per_phase], writer)
                        out[kind] = (reqs[:warm_n], reqs[warm_n:], args.rate)
                    else:
                        reqs = tiles if kind == "tiles" else near
                        out[kind] = (reqs[:rw], reqs[rw:], half)
                return out

            replica_url = replica.url if run != "solo" else None
            summary[label] = one_run(
                label,
                {**env, **extra},
                streams_of,
                args,
                replica_url,
                sampler,
                postmasters,
                threads,
                split,
                server,
            )
            sampler.close()
            sampler = None
        print("\nsummary: p99 ms (errors) per stream; CPU cores used")
        for label, phases in summary.items():
            for phase, r in phases.items():
                streams = "  ".join(
                    f"{kind} {s['statuses'].get(200, 0) / s['elapsed_s']:6.1f}/s "
                    f"p99 {s['p99_ms']:8.1f} ({errors(s)})"
                    for kind, s in r["streams"].items()
                )
                print(
                    f"  {label:<21} {phase:<6} {streams}  "
                    f"cores {sum(r['cpu'].values()) / r['wall_s']:.2f}"
                )
        if "both" in args.phases:
            for label, phases in summary.items():
                both = phases["both"]["streams"]
                reads_p99 = max(both[k]["p99_ms"] for k in ("tiles", "near"))
                read_errors = sum(errors(both[k]) for k in ("tiles", "near"))
                geotags = both["writes"]["statuses"].get(200, 0) / both["writes"]["elapsed_s"]
                met = reads_p99 < 50 and not read_errors and geotags >= 0.98 * args.rate
                print(
                    f"  target, {label}: reads p99 < 50 ms without errors while "
                    f"{args.rate:.0f} geotags/s are accepted: {'met' if met else 'NOT met'}"
                )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        if sampler is not None:
            sampler.close()
        try:
            replica.stop()
        finally:
            primary.stop()
        if args.keep:
            print(f"clusters kept in {base} (--reuse {base})")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

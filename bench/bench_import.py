"""Benchmark: importing an outlet CSV, set-based (COPY + one upsert) vs one ORM object per row.

    .venv/bin/python bench/bench_import.py --rows 100000 --baseline 10000

Starts a throwaway PostgreSQL + PostGIS cluster with durable settings (fsync on), migrates,
loads the shipped Chinese boundaries (so the outlet trigger's region look-up runs as in
production), writes a generated outlet CSV (UTF-8 with BOM, Chinese names and addresses, all
four tiers with their parents, rows shuffled so many parents come after their buyers, 5 %
without coordinates, some reps), then times in one run:

- ``import_outlets`` on the full file, then the same file again (every row unchanged);
- ``import_outlets`` on a ``--baseline``-row file;
- the naive import of that same baseline file: for each row look the code up with the ORM
  and create (or update) one ``Outlet`` object, then set parents from the objects, then commit
  once. Its per-row rate is extrapolated to the full file (it grows linearly: every step is an
  index look-up or a one-row statement).

Besides wall time it reports CPU seconds of this process and of its PostgreSQL backend (read
from /proc), which do not depend on what else the machine is running: the work is sequential
(client, then server), so on an idle machine the wall time is close to their sum.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from geoalchemy2 import WKTElement
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.i18n import TIER_NAMES
from geo_crm.io.boundaries import default_region_files, load_region_files
from geo_crm.io.imports import import_outlets
from geo_crm.io.imports.common import TIER_WORDS
from geo_crm.io.imports.outlets import OUTLET_COLUMNS
from geo_crm.models import Outlet, User

HEADER = [c for c in OUTLET_COLUMNS if c != "crs"]  # the import's columns, WGS-84 only
SHARE = {"distributor": 0.01, "wholesaler_2": 0.04, "wholesaler_3": 0.10, "retail": 0.85}
WORDS = list("鑫盛华联达兴隆源泰丰汇通顺宏福祥瑞安康永佳美新")
SUFFIX = {
    "distributor": "商贸有限公司",
    "wholesaler_2": "批发部",
    "wholesaler_3": "商行",
    "retail": ["超市", "便利店", "小卖部", "食品店", "烟酒店"],
}
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚")
ROADS = ["人民", "解放", "中山", "建设", "和平", "新华", "文化", "胜利", "团结", "光明"]
CHINESE_TIER = {tier: zh for tier, (zh, _) in TIER_NAMES.items()}  # as the pages show them
REPS = [f"rep{i:02d}" for i in range(20)]


def write_csv(path: Path, n: int, seed: int, cities: list[tuple[str, float, float]]) -> None:
    """A consistent network of n outlets as a spreadsheet user would have it."""
    rng = np.random.default_rng(seed)
    counts = [max(1, int(n * s)) for s in SHARE.values()]
    counts[-1] = n - sum(counts[:-1])
    tiers = np.repeat(np.arange(4), counts)
    codes = [f"{'DWTR'[t]}{i:07d}" for i, t in enumerate(tiers)]
    city = np.empty(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(counts)])
    city[: counts[0]] = rng.integers(0, len(cities), counts[0])
    for t in range(1, 4):
        lo, hi = start[t], start[t + 1]
        up_lo, up_hi = (start[t - 1], start[t]) if t < 3 else (start[1], start[3])
        parent[lo:hi] = rng.integers(up_lo, up_hi, hi - lo)  # retail buys from W2 or W3
        city[lo:hi] = city[parent[lo:hi]]
    lon = np.array([cities[c][1] for c in city]) + rng.normal(0, 0.05, n)
    lat = np.array([cities[c][2] for c in city]) + rng.normal(0, 0.05, n)
    untagged = rng.random(n) < 0.05
    order = rng.permutation(n)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, HEADER)
        writer.writeheader()
        for i in order.tolist():
            tier = list(SHARE)[tiers[i]]
            words = "".join(rng.choice(WORDS, 2))
            suffix = SUFFIX[tier] if tier != "retail" else SUFFIX["retail"][i % 5]
            city_name = cities[city[i]][0]
            writer.writerow(
                {
                    "code": codes[i],
                    "name": f"{city_name}{words}{suffix}",
                    "tier": CHINESE_TIER[tier] if i % 2 else tier,
                    "parent_code": codes[parent[i]] if parent[i] >= 0 else "",
                    "lat": "" if untagged[i] else repr(round(float(lat[i]), 6)),
                    "lon": "" if untagged[i] else repr(round(float(lon[i]), 6)),
                    "address": f"{city_name}{ROADS[i % 10]}路{i % 997 + 1}号",
                    "contact": rng.choice(SURNAMES) + rng.choice(GIVEN),
                    "phone": f"1{rng.integers(3, 10)}{rng.integers(0, 10**9):09d}",
                    "status": "active" if i % 50 else "inactive",
                    "rep": REPS[i % 20] if i % 10 == 0 else "",
                    "notes": "",
                }
            )


@dataclass
class Timing:
    wall: float
    client_cpu: float
    server_cpu: float

    @property
    def cpu(self) -> float:
        return self.client_cpu + self.server_cpu


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class Clock:
    """Wall time, this process's CPU time and the session's backend CPU time."""

    def __init__(self, session: Session):
        self.pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def __enter__(self):
        self.t0, self.c0, self.s0 = time.perf_counter(), time.process_time(), _backend_cpu(self.pid)
        return self

    def __exit__(self, *exc):
        self.timing = Timing(
            time.perf_counter() - self.t0,
            time.process_time() - self.c0,
            _backend_cpu(self.pid) - self.s0,
        )


def bulk(engine, path: Path) -> tuple[Timing, str]:
    with Session(engine) as session, Clock(session) as clock:
        report = import_outlets(session, path)
        session.commit()
    assert report.ok, report.problems[:5]
    return clock.timing, report.summary()


def naive(engine, path: Path) -> Timing:
    """Row by row with the ORM: look the code up, create or update the object; then parents."""
    tiers = TIER_WORDS
    with Session(engine) as session, Clock(session) as clock:
        reps = {u.username: u for u in session.scalars(select(User))}
        with path.open(encoding="utf-8-sig", newline="") as src:
            rows = list(csv.DictReader(src))
        by_code: dict[str, Outlet] = {}
        for r in rows:
            outlet = session.scalar(select(Outlet).where(Outlet.code == r["code"]))  # autoflushes
            if outlet is None:
                outlet = Outlet(code=r["code"])
                session.add(outlet)
            outlet.name = r["name"]
            outlet.tier = tiers[r["tier"]]
            if r["lat"]:
                outlet.location = WKTElement(f"POINT({r['lon']} {r['lat']})", srid=4326)
            outlet.address, outlet.contact, outlet.phone = r["address"], r["contact"], r["phone"]
            outlet.status = r["status"]
            outlet.rep_id = reps[r["rep"]].id if r["rep"] else None
            by_code[r["code"]] = outlet
        for r in rows:
            if r["parent_code"]:
                by_code[r["code"]].parent = by_code[r["parent_code"]]
        session.commit()
    return clock.timing


def clear(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE geotag_events, outlets CASCADE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=10_000, help="rows for the naive import")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="gcrm-bench-import-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="geo_crm_bench", fast_unsafe=False)
    try:
        t0 = time.perf_counter()
        engine = ready_engine(cluster.ensure_database())
        print(f"cluster + migrations: {time.perf_counter() - t0:.1f} s  ({os.cpu_count()} cores)")
        t0 = time.perf_counter()
        with Session(engine) as session:
            load_region_files(session, default_region_files())
            session.add_all(User(username=u, role="rep") for u in REPS)
            session.commit()
            cities = [
                tuple(r)
                for r in session.execute(
                    text(
                        "SELECT name, ST_X(label_point), ST_Y(label_point) FROM regions"
                        " WHERE level = 'city' ORDER BY code"
                    )
                )
            ]
        print(f"regions: {len(cities)} cities in {time.perf_counter() - t0:.1f} s")

        big, small = base / "outlets-big.csv", base / "outlets-small.csv"
        write_csv(big, args.rows, args.seed, cities)
        write_csv(small, args.baseline, args.seed + 1, cities)
        print(
            f"files: {big.stat().st_size / 1e6:.1f} MB ({args.rows:,} rows), "
            f"{small.stat().st_size / 1e6:.1f} MB ({args.baseline:,} rows)"
        )

        results = []

        def show(method: str, n: int, t: Timing, summary: str = "") -> None:
            results.append((method, n, t))
            print(
                f"{method:<9} {n:>8,} rows: {t.wall:6.1f} s wall, {t.cpu:6.1f} s CPU "
                f"(load {os.getloadavg()[0]:.1f})  {summary}",
                flush=True,
            )

        show("set-based", args.rows, *bulk(engine, big))
        show("re-import", args.rows, *bulk(engine, big))
        clear(engine)
        show("set-based", args.baseline, *bulk(engine, small))
        clear(engine)
        show("naive ORM", args.baseline, naive(engine, small))

        print(
            f"\n{'method':<10} {'rows':>8} {'wall s':>7} {'rows/s':>7} {'client CPU':>10} "
            f"{'server CPU':>10} {'CPU s':>6}"
        )
        for method, n, t in results:
            print(
                f"{method:<10} {n:>8,} {t.wall:>7.1f} {n / t.wall:>7,.0f} {t.client_cpu:>10.1f} "
                f"{t.server_cpu:>10.1f} {t.cpu:>6.1f}"
            )
        full, _, equal, orm = (r[2] for r in results)
        scale = args.rows / args.baseline
        print(
            f"\nnaive ORM extrapolated to {args.rows:,} rows (measured on {args.baseline:,}): "
            f"{orm.wall * scale:.0f} s wall, {orm.cpu * scale:.0f} s CPU"
        )
        print(
            f"speed-up at {args.rows:,} rows: {orm.wall * scale / full.wall:.1f}x wall, "
            f"{orm.cpu * scale / full.cpu:.1f}x CPU; at {args.baseline:,} rows (both measured): "
            f"{orm.wall / equal.wall:.1f}x wall, {orm.cpu / equal.cpu:.1f}x CPU"
        )
        print(
            f"target {args.rows:,} rows under 15 s: wall {full.wall:.1f} s, "
            f"CPU {full.cpu:.1f} s; target >= 10x: {orm.wall * scale / full.wall:.1f}x"
        )
        engine.dispose()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The tag statement's PostgreSQL CPU, two versions side by side on the same data, alternating.

    .venv/bin/python bench/bench_geotag_ab.py BASE_DIR BASE_CHECKOUT NEW_DIR NEW_CHECKOUT
        [--tags 400] [--rounds 8] [--offset 0]

BASE_DIR and NEW_DIR are cluster folders kept by ``bench_geotag.py --keep`` (a copy of one of
them for the other version: the same outlets), each migrated by its checkout (``--reuse`` once
with that checkout does it). Both clusters are started; the rep's tag statement of each
checkout (``domain.geotagging._tag_stmt``, read from the checkout's
``tests/golden/hot_sql/geotag_tag_rep.sql`` and its bound defaults) runs as the endpoint runs
it — alone, in autocommit, prepared — on one connection per cluster, tagging the same outlets
a few metres away, in windows of ``--tags`` that alternate between the two versions, so that
both see the same machine. Per tag: the backend's time on the CPU (``/proc/PID/schedstat``,
nanoseconds; not clock ticks, which at 10 ms are too coarse for one statement). A second run
of the statement when active outlets are near (with their names as checked) is counted too.
On a machine shared with other work the absolute figures are inflated; the two columns of
one round are what compare.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_DEFAULTS = (
    "import json; from geo_crm.domain.geotagging import _tag_stmt; "
    "print(json.dumps(_tag_stmt('rep').defaults))"
)


def statement_of(checkout: Path) -> tuple[str, dict]:
    """The rep's tag statement as the checkout compiles it, and its bound defaults."""
    sql = (checkout / "tests/golden/hot_sql/geotag_tag_rep.sql").read_text(encoding="utf-8")
    out = subprocess.check_output(
        [sys.executable, "-c", _DEFAULTS], cwd=checkout, env=dict(os.environ, PYTHONPATH=".")
    )
    return sql, json.loads(out)


def cpu_seconds(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


class Side:
    def __init__(self, name: str, folder: Path, checkout: Path, tags: int, offset: int):
        import psycopg

        from geo_crm.db.cluster import LocalCluster

        self.name = name
        self.cluster = LocalCluster.for_dir(folder / "pg", dbname="bench")
        self.cluster.start()
        self.sql, self.defaults = statement_of(checkout)
        self.conn = psycopg.connect(
            f"host={self.cluster.socket_dir} user=postgres dbname=bench", autocommit=True
        )
        self.pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.uid = self.conn.execute(
            "SELECT id FROM users WHERE username = 'bench_rep'"
        ).fetchone()[0]
        self.jobs = self.conn.execute(
            "SELECT code, ST_X(location), ST_Y(location) FROM outlets WHERE rep_id = %s "
            "ORDER BY code OFFSET %s LIMIT %s",
            (self.uid, offset, tags),
        ).fetchall()

    def tag(self, job) -> float:
        from psycopg.rows import namedtuple_row

        from geo_crm.analysis.geometry.geodesy import radius_in_degrees

        code, lon, lat = job
        version = self.conn.execute(
            "SELECT version FROM outlets WHERE code = %s", (code,)
        ).fetchone()[0]
        lon, lat = lon + 0.00003, lat + 0.00003
        values = dict(
            self.defaults,
            code=code, scope_uid=self.uid, version=version, lon=lon, lat=lat, accuracy_m=8.0,
            source="gps", crs="wgs84", user_id=self.uid, captured_at=dt.datetime.now(dt.UTC),
            radius_m=50.0, radius_deg=radius_in_degrees(lat, 50.0), max_jump_m=500.0,
            checked=None, dup_flags=[],
        )  # fmt: skip
        cursor = self.conn.cursor(row_factory=namedtuple_row)
        before = cpu_seconds(self.pid)
        row = cursor.execute(self.sql, values, prepare=True).fetchone()
        if row.event_id is None and row.nearby:  # active outlets near: the second run
            values["checked"] = row.nearby
            row = cursor.execute(self.sql, values, prepare=True).fetchone()
        spent = cpu_seconds(self.pid) - before
        if row.event_id is None:
            raise SystemExit(f"{self.name}: {code} was not tagged ({row})")
        return spent

    def close(self) -> None:
        self.conn.close()
        self.cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base_dir", type=Path)
    parser.add_argument("base_checkout", type=Path)
    parser.add_argument("new_dir", type=Path)
    parser.add_argument("new_checkout", type=Path)
    parser.add_argument("--tags", type=int, default=400, help="tags per window")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--offset", type=int, default=0, help="skip the rep's first outlets")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    warm = args.tags // 4
    need = warm + args.rounds * args.tags
    sides = [
        Side("base", args.base_dir.resolve(), args.base_checkout.resolve(), need, args.offset),
        Side("new", args.new_dir.resolve(), args.new_checkout.resolve(), need, args.offset),
    ]
    try:
        for side in sides:
            if len(side.jobs) < need:
                raise SystemExit(f"{side.name}: only {len(side.jobs)} outlets of the bench rep")
            for job in side.jobs[:warm]:  # prepared, planned, PL/pgSQL compiled
                side.tag(job)
        spent: dict[str, list[float]] = {side.name: [] for side in sides}
        for r in range(args.rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                lo = warm + r * args.tags
                total = sum(side.tag(job) for job in side.jobs[lo : lo + args.tags])
                spent[side.name].append(total / args.tags * 1000)
                print(
                    f"round {r + 1} {side.name:<4} {spent[side.name][-1]:.3f} ms per tag "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        wins = sum(1 for b, n in zip(spent["base"], spent["new"], strict=True) if n < b)
        for name, values in spent.items():
            ordered = sorted(values)
            print(
                f"{name:<4} per tag: median {ordered[len(ordered) // 2]:.3f} ms, "
                f"least {ordered[0]:.3f}, mean {sum(ordered) / len(ordered):.3f}"
            )
        print(f"new below base in {wins} of {args.rounds} rounds")
    finally:
        for side in sides:
            side.close()
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

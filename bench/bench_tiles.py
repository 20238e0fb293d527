"""Vector tiles and OGC API – Features over 1,000,000 outlets, each beside its naive baseline.

Run on demand (not a test):
    .venv/bin/python bench/bench_tiles.py [--scale 1.0] [--seconds 15] [--keep DIR]

1. Starts a throwaway PostgreSQL + PostGIS cluster (durable settings; ``--keep DIR`` keeps it
   and reuses its data), loads the shipped Chinese boundaries (34 provinces, 367 cities, 3,207
   districts) and 1,000,000 × scale outlets placed as the demo generator places them
   (``demo.generator.build_network``: every city, towns around its centre, tiers 1/4/10/85 %,
   3 % not active, 5 % not geotagged), each in its smallest region (districts, looked up in
   memory), written with COPY; then the hexagon bins are rebuilt (the COPY ran with triggers
   off), VACUUM ANALYZE, CHECKPOINT. A manager of Zhejiang (330000), and a rep holding 2,000
   outlets there.
2. In-process, per zoom band and role: the tile a map asks for at random outlets (weighted by
   where the outlets are, as users look where the network is), ``domain.tiles.tile`` through
   a Session — p50/p95/max — beside the naive tile of the same band in the same run:
   below zoom 10 hexagons computed live (``ST_HexagonGrid`` joined to the outlets), from zoom
   10 the outlets fetched as rows and encoded in Python with ``mapbox_vector_tile``.
3. Over HTTP under granian as the README's production command (2 workers × 4 threads,
   keep-alive; ``--server gunicorn,granian``: under gunicorn's 2 gthread workers × 4 threads
   too, the one beside the other): tiles/s from 8 keep-alive client threads in a closed loop
   over the same URLs (the client runs on the same 2 cores: it is charged to the result).
4. OGC API – Features: ``/ogc/collections/outlets/items?limit=1000`` (first page with
   numberMatched, and a page further on by its ``next`` link), in-process and over HTTP,
   beside the naive list: the same 1,000 outlets through the ORM, dumped as GeoJSON in Python.
"""

from __future__ import annotations

import argparse
import http.client
import io
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_crm.db import ready_engine
from geo_crm.db.cluster import LocalCluster
from geo_crm.models import TIERS

ROOT = Path(__file__).resolve().parent.parent
PROVINCE = "330000"  # Zhejiang, ~105,000 km²
SHARES = (0.01, 0.04, 0.10, 0.85)
REP_OUTLETS = 2000
BANDS = {"z4-9": range(4, 10), "z10-14": range(10, 15)}
TARGET_P95_MS = {"z4-9": 50.0, "z10-14": 15.0}
TARGET_TILES_PER_S = 300.0
TARGET_ITEMS_MS = 100.0


# -- data ------------------------------------------------------------------------------------


def load(engine, total: int, seed: int) -> dict:
    """The shipped boundaries and ``total`` outlets placed as the demo generator places them
    (cities weighted by a weak area term and noise; towns around each city centre, denser
    near it), each in its smallest region, written with COPY (triggers off), then the hexagon
    bins rebuilt as the migration's backfill does."""
    from geo_crm.demo.generator import build_network, fetch_areas
    from geo_crm.io.boundaries import default_region_files, load_region_files

    stages = {}
    t0 = time.perf_counter()
    with Session(engine) as session:
        load_region_files(session, default_region_files())
        session.commit()
        stages["regions"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        areas = fetch_areas(session)
        net = build_network(areas, outlets=total, seed=seed, months=1)
    with engine.connect() as conn:
        districts = conn.execute(
            text("SELECT id, ST_AsBinary(boundary) FROM regions WHERE level = 'district'")
        ).all()
    region = np.array([a.id for a in areas], dtype=np.int64)[net.area]  # the city
    tagged = net.tagged
    ids = np.array([r[0] for r in districts])
    tree = shapely.STRtree(shapely.from_wkb([bytes(r[1]) for r in districts]))
    where = np.flatnonzero(tagged)
    p_idx, g_idx = tree.query(shapely.points(net.x[where], net.y[where]), predicate="within")
    region[where[p_idx]] = ids[g_idx]  # the district, where one holds the point
    stages["generate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    buf = io.StringIO()
    tiers = np.array(TIERS)[net.tier].tolist()
    for i, (x, y, t, r, s, tag) in enumerate(
        zip(net.x.tolist(), net.y.tolist(), tiers, region.tolist(), net.status.tolist(),
            tagged.tolist(), strict=True)
    ):  # fmt: skip
        loc, reg = (f"SRID=4326;POINT({x:.6f} {y:.6f})", r) if tag else (r"\N", r"\N")
        buf.write(f"B{i}\t门店{i}\t{t}\t{s}\t{loc}\t{reg}\n")
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # regions set above
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY outlets (code, name, tier, status, location, region_id) FROM STDIN"
            ) as copy,
        ):
            copy.write(buf.getvalue())
        conn.execute(text("SET LOCAL session_replication_role = origin"))
        stages["copy"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute(text("SELECT geo_crm_outlet_bins_rebuild()"))  # the triggers did not fire
        stages["hexagon bins"] = time.perf_counter() - t0
        users(conn)
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        conn.execute(text("CHECKPOINT"))
    stages["analyze"] = time.perf_counter() - t0
    return stages


def users(conn) -> None:
    """bench_admin; bench_manager of Zhejiang; bench_rep with REP_OUTLETS outlets there."""
    conn.execute(
        text(
            "INSERT INTO users (username, role) VALUES ('bench_admin', 'admin'), "
            "('bench_manager', 'manager'), ('bench_rep', 'rep')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO user_regions (user_id, region_id) SELECT u.id, r.id FROM users u, "
            "regions r WHERE u.username = 'bench_manager' AND r.code = :p"
        ),
        {"p": PROVINCE},
    )
    conn.execute(  # the rep's outlets: REP_OUTLETS of one city of the manager's province
        text(
            "UPDATE outlets SET rep_id = (SELECT id FROM users WHERE username = 'bench_rep') "
            "WHERE id IN (SELECT o.id FROM outlets o JOIN regions r ON r.id = o.region_id "
            "JOIN regions c ON c.id = r.parent_id JOIN regions p ON p.id = c.parent_id "
            "WHERE p.code = :p AND o.location IS NOT NULL ORDER BY c.code, o.id LIMIT :n)"
        ),
        {"p": PROVINCE, "n": REP_OUTLETS},
    )


def tokens(engine) -> dict[str, str]:
    from geo_crm.auth.tokens import create_token

    out = {}
    with Session(engine) as session:
        for role in ("admin", "manager", "rep"):
            uid = session.execute(
                text("SELECT id FROM users WHERE username = :u"), {"u": f"bench_{role}"}
            ).scalar_one()
            out[role] = create_token(session, uid, "bench").token
        session.commit()
    return out


def principals(engine) -> dict:
    from geo_crm.domain.principal import Principal

    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT username, id FROM users")).all())
    return {
        role: Principal(id=ids[f"bench_{role}"], username=f"bench_{role}", role=role, via="token")
        for role in ("admin", "manager", "rep")
    }


# -- which tiles -----------------------------------------------------------------------------


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def sample(engine, per_band: int, seed: int) -> dict:
    """{role: {band: [(z, x, y)]}}: the tile under a random outlet the role may see, at a
    random zoom of the band (tiles holding many outlets come up more often, as they do when
    users look where the network is)."""
    where = {
        "admin": "TRUE",
        "manager": "o.region_id IN (SELECT r.id FROM regions r LEFT JOIN regions c "
        "ON c.id = r.parent_id LEFT JOIN regions p ON p.id = c.parent_id "
        f"WHERE '{PROVINCE}' IN (r.code, c.code, p.code))",
        "rep": "o.rep_id = (SELECT id FROM users WHERE username = 'bench_rep')",
    }
    rng = random.Random(seed)
    out: dict = {}
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
        for role, cond in where.items():
            points = conn.execute(
                text(
                    "SELECT ST_X(location), ST_Y(location) FROM outlets o WHERE o.status = "
                    f"'active' AND o.location IS NOT NULL AND {cond} ORDER BY random() LIMIT :n"
                ),
                {"n": per_band * len(BANDS)},
            ).all()
            out[role] = {}
            for b, (band, zooms) in enumerate(BANDS.items()):
                picks = points[b * per_band : (b + 1) * per_band]
                out[role][band] = [
                    (z, *tile_of(lon, lat, z))
                    for (lon, lat), z in ((p, rng.choice(list(zooms))) for p in picks)
                ]
    return out


# -- in process ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_tiles(engine, layer: str, tiles_: list, user) -> tuple[list[float], list[int]]:
    """Milliseconds and bytes of each tile, as the view gets it (Session, domain.tiles)."""
    from geo_crm.domain import tiles
    from geo_crm.domain.gis import TileAddress

    ms, sizes = [], []
    with Session(engine) as session:
        for z, x, y in tiles_[:10]:  # warm the pool's connections and caches
            tiles.tile(session, layer, TileAddress(z, x, y), user)
        for z, x, y in tiles_:
            t0 = time.perf_counter()
            data = tiles.tile(session, layer, TileAddress(z, x, y), user)
            ms.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(data))
    return ms, sizes


NAIVE_HEX = """
SELECT ST_AsMVT(t, 'outlet_bins', 4096, 'geom') FROM (
  SELECT ST_AsMVTGeom(h.geom, ST_TileEnvelope(:z, :x, :y)::box2d, 4096, 64) AS geom,
         count(*) AS outlets
    FROM ST_HexagonGrid(:side, ST_TileEnvelope(:z, :x, :y, margin => 0.140625)) h
    JOIN outlets o ON ST_Intersects(ST_Transform(h.geom, 4326), o.location)
   WHERE o.status = 'active'
   GROUP BY h.geom) t"""


def naive_hex_tile(conn, z: int, x: int, y: int) -> bytes:
    """Hexagons the obvious way: PostGIS's grid over the tile joined to the outlets live."""
    from geo_crm.domain.tiles import hex_side

    row = conn.execute(text(NAIVE_HEX), {"z": z, "x": x, "y": y, "side": hex_side(z)}).one()
    return bytes(row[0] or b"")


def naive_point_tile(conn, z: int, x: int, y: int) -> bytes:
    """Points the usual way without ST_AsMVT: the tile's rows found through the index, sent
    through SQLAlchemy, projected and encoded in Python (mapbox_vector_tile)."""
    import mapbox_vector_tile

    from geo_crm.domain.gis import TileAddress

    xmin, ymin, xmax, ymax = TileAddress(z, x, y).bounds_m()
    rows = conn.execute(
        text(
            "SELECT id, code, name, tier, ST_X(ST_Transform(location, 3857)) AS mx, "
            "ST_Y(ST_Transform(location, 3857)) AS my FROM outlets "
            "WHERE status = 'active' AND location && "
            "ST_Transform(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 3857), 4326)"
        ),
        {"x0": xmin, "y0": ymin, "x1": xmax, "y1": ymax},
    ).all()
    features = [
        {
            "geometry": f"POINT({r.mx} {r.my})",
            "properties": {"code": r.code, "name": r.name, "tier": r.tier},
            "id": r.id,
        }
        for r in rows
    ]
    return mapbox_vector_tile.encode(
        [{"name": "outlets", "features": features}],
        default_options={"quantize_bounds": (xmin, ymin, xmax, ymax), "extents": 4096},
    )


def naive_times(engine, band: str, tiles_: list) -> list[float]:
    fn = naive_hex_tile if band == "z4-9" else naive_point_tile
    ms = []
    with engine.connect() as conn:
        conn.execute(text("SET statement_timeout = '120s'"))
        for z, x, y in tiles_:
            t0 = time.perf_counter()
            fn(conn, z, x, y)
            ms.append((time.perf_counter() - t0) * 1000)
    return ms


def ogc_in_process(engine, user, runs: int) -> dict:
    """``features.items`` of 1,000 outlets: the first page (with numberMatched, a count of
    every outlet) and pages further on (after a random id: no count)."""
    from geo_crm.domain import features

    out: dict = {"first": [], "next": []}
    with engine.connect() as conn:
        top = conn.execute(text("SELECT max(id) FROM outlets")).scalar_one()
    rng = random.Random(3)
    with Session(engine) as session:
        for _ in range(runs):
            t0 = time.perf_counter()
            page = features.items(session, "outlets", features.ItemFilter(limit=1000), user)
            out["first"].append((time.perf_counter() - t0) * 1000)
            after = rng.randrange(0, top - 5000)
            t0 = time.perf_counter()
            more = features.items(
                session, "outlets", features.ItemFilter(limit=1000, after=after), user
            )
            out["next"].append((time.perf_counter() - t0) * 1000)
            assert len(page.features) == len(more.features) == 1000
    out["bytes"] = sum(len(f) for f in page.features)
    return out


def naive_items(engine, runs: int) -> list[float]:
    """1,000 outlets through the ORM (objects, parent and region codes by relationship) turned
    into GeoJSON in Python."""
    import json

    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from geo_crm.models import Outlet

    ms = []
    with Session(engine) as session:
        for _ in range(runs):
            t0 = time.perf_counter()
            outlets = session.scalars(
                select(Outlet)
                .options(selectinload(Outlet.parent), selectinload(Outlet.region))
                .order_by(Outlet.id)
                .limit(1000)
            ).all()
            coords = {
                i: (x, y)
                for i, x, y in session.execute(
                    select(Outlet.id, Outlet.location.ST_X(), Outlet.location.ST_Y()).where(
                        Outlet.id.in_([o.id for o in outlets])
                    )
                )
            }
            doc = {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": o.code,
                        "geometry": {"type": "Point", "coordinates": coords[o.id]}
                        if coords[o.id][0] is not None
                        else None,
                        "properties": {
                            "code": o.code,
                            "name": o.name,
                            "tier": o.tier,
                            "status": o.status,
                            "parent_code": o.parent.code if o.parent else None,
                            "region_code": o.region.code if o.region else None,
                            "address": o.address,
                            "created_at": o.created_at.isoformat(),
                            "updated_at": o.updated_at.isoformat(),
                        },  # fmt: skip
                    }
                    for o in outlets
                ],
            }
            json.dumps(doc, ensure_ascii=False)
            ms.append((time.perf_counter() - t0) * 1000)
            session.expunge_all()
    return ms


# -- cached gap and density cells (issue 16, wave 5) ----------------------------------------

CELL_SALES_EACH = 5  # sales from the manufacturer to each located distributor: density's data


def cached_cells(engine, codes: list[str]) -> dict[str, dict]:
    """Sales for the density analysis (``CELL_SALES_EACH`` records per located distributor,
    bought from the manufacturer: set-based, once),
    then the gaps and density analyses of ``codes`` as their region pages ask for them (default
    filters) computed and kept: {layer: {code: (result id, cells)}}."""
    from geo_crm.analysis import cache
    from geo_crm.analysis.params import MapFilters

    with engine.begin() as conn:
        if not conn.scalar(text("SELECT EXISTS (SELECT FROM sales_records)")):
            t0 = time.perf_counter()
            conn.execute(
                text(
                    "INSERT INTO products (sku, name, unit) VALUES ('BP1', '产品', '箱') "
                    "ON CONFLICT DO NOTHING;"
                    "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, "
                    "quantity, amount) SELECT NULL, o.id, current_date - ((o.id + k) % 300)::int, "
                    "(SELECT id FROM products WHERE sku = 'BP1'), 1 + o.id % 7, 10 + o.id % 500 "
                    f"FROM outlets o, generate_series(1, {CELL_SALES_EACH}) k "
                    "WHERE o.tier = 'distributor' AND o.location IS NOT NULL"
                )
            )
            print(f"sales for the density cells: {time.perf_counter() - t0:.1f} s")
    f = MapFilters()
    out: dict[str, dict] = {layer: {} for layer in ("gaps", "density")}
    with Session(engine) as session:
        for code in codes:
            area = session.execute(
                text("SELECT area_m2 FROM regions WHERE code = :c"), {"c": code}
            ).scalar_one()
            for kind in out:
                params = cache.page_params(kind, f, float(area or 0.0))
                key, filters = cache.filter_key(kind, params)
                t0 = time.perf_counter()
                computed = cache.refresh(session, kind, code, filters)
                session.commit()
                row = session.execute(
                    text(
                        "SELECT r.id, (SELECT count(*) FROM "
                        + ("analysis_gap_cells" if kind == "gaps" else "analysis_density_cells")
                        + " c WHERE c.result_id = r.id) FROM analysis_results r JOIN regions g "
                        "ON g.id = r.region_id WHERE r.kind = :k AND g.code = :c "
                        "AND r.filter_key = :key"
                    ),
                    {"k": kind, "c": code, "key": key},
                ).one()
                out[kind][code] = (row[0], row[1])
                if computed:
                    print(
                        f"  kept {kind} of {code}: {row[1]:,} cells "
                        f"({time.perf_counter() - t0:.1f} s)"
                    )
    return out


def cell_sample(engine, layer: str, result_id: int, per_band: int, seed: int) -> dict:
    """{band: [(z, x, y)]}: the tile under a random kept cell at a random zoom of the band."""
    table = "analysis_gap_cells" if layer == "gaps" else "analysis_density_cells"
    rng = random.Random(seed)
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
        points = conn.execute(
            text(
                f"SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM {table} "
                "WHERE result_id = :r ORDER BY random() LIMIT :n"
            ),
            {"r": result_id, "n": per_band * len(BANDS)},
        ).all()
    out = {}
    for b, (band, zooms) in enumerate(BANDS.items()):
        picks = points[b * per_band : (b + 1) * per_band] or points
        out[band] = [
            (z, *tile_of(lon, lat, z))
            for (lon, lat), z in ((p, rng.choice(list(zooms))) for p in picks)
        ]
    return out


def timed_cell_tiles(engine, layer, code, tiles_, user) -> tuple[list[float], list[int]]:
    """Milliseconds and bytes of each cached-cell tile as the view gets it
    (``analysis.cache_tiles.tile``: the caller's access to the region, the kept entry, the
    tile)."""
    from geo_crm.analysis import cache_tiles
    from geo_crm.analysis.params import MapFilters
    from geo_crm.domain.gis import TileAddress

    f = MapFilters()
    ms, sizes = [], []
    with Session(engine) as session:
        for z, x, y in tiles_[:10]:
            cache_tiles.tile(session, user, layer, TileAddress(z, x, y), code, f)
        for z, x, y in tiles_:
            t0 = time.perf_counter()
            data, _ = cache_tiles.tile(session, user, layer, TileAddress(z, x, y), code, f)
            ms.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(data))
    return ms, sizes


NAIVE_CELLS = {
    "gaps": "row, col, distance_m, shortfall_m, nearest_outlet, nearest_tier",
    "density": "row, col, buyers, records, amount::float8 AS amount, quantity::float8 AS quantity",
}


def naive_cell_times(engine, layer: str, result_id: int, tiles_: list) -> list[float]:
    """The cells of the tile the usual way without ST_AsMVT: rows through SQLAlchemy (the
    result named by id, no access check), projected in PostGIS, encoded in Python."""
    import mapbox_vector_tile

    from geo_crm.domain.gis import TileAddress

    table = "analysis_gap_cells" if layer == "gaps" else "analysis_density_cells"
    ms = []
    with engine.connect() as conn:
        for z, x, y in tiles_:
            t0 = time.perf_counter()
            xmin, ymin, xmax, ymax = TileAddress(z, x, y).bounds_m()
            rows = (
                conn.execute(
                    text(
                        f"SELECT rank, {NAIVE_CELLS[layer]}, "
                        "ST_AsBinary(ST_Transform(geom, 3857)) AS wkb FROM "
                        f"{table} WHERE result_id = :r AND geom && "
                        "ST_Transform(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 3857), 4326)"
                    ),
                    {"r": result_id, "x0": xmin, "y0": ymin, "x1": xmax, "y1": ymax},
                )
                .mappings()
                .all()
            )
            features = [
                {
                    "geometry": shapely.from_wkb(bytes(r["wkb"])).wkt,
                    "properties": {k: v for k, v in r.items() if k not in ("wkb", "rank")},
                    "id": r["rank"],
                }
                for r in rows
            ]
            mapbox_vector_tile.encode(
                [{"name": layer, "features": features}],
                default_options={"quantize_bounds": (xmin, ymin, xmax, ymax), "extents": 4096},
            )
            ms.append((time.perf_counter() - t0) * 1000)
    return ms


# -- over HTTP -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(name: str, port: int, env: dict) -> subprocess.Popen:
    """The README's production command (granian) or gunicorn's equivalent, 2 workers × 4
    threads each, keep-alive."""
    if name == "granian":
        granian = Path(sys.executable).with_name("granian")
        proc = subprocess.Popen(
            [str(granian), "--interface", "wsgi", "--factory", "--workers", "2",
             "--blocking-threads", "4", "--http", "1", "--no-ws", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "geo_crm.wsgi:create_server_app"],
            env={**env, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT), start_new_session=True,
        )  # fmt: skip
        return _listening(proc, port, name)
    return start_gunicorn(port, env)


def start_gunicorn(port: int, env: dict) -> subprocess.Popen:
    """gunicorn as the README's production command was before granian: 2 gthread workers × 4
    threads."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "-w", "2", "-k", "gthread", "--threads", "4", "--keep-alive", "30",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "geo_crm.wsgi:create_server_app()"],
        env=env, cwd=str(ROOT), start_new_session=True,
    )  # fmt: skip
    return _listening(proc, port, "gunicorn")


def _listening(proc: subprocess.Popen, port: int, name: str) -> subprocess.Popen:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with {proc.returncode}") from None
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"{name} did not start within 60 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU seconds of these processes and their children (from /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) in pids or int(fields[1]) in pids:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def drive(port: int, paths: list[str], token: str, seconds: float, clients: int) -> dict:
    """``clients`` threads, each on one keep-alive connection, asking ``paths`` in turn
    (closed loop) for ``seconds``: responses by status, latencies."""
    stop_at = time.perf_counter() + seconds
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    def run(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        mine_status: dict[int, int] = {}
        mine_ms: list[float] = []
        i = offset
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += clients
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            mine_ms.append((time.perf_counter() - t0) * 1000)
            mine_status[status] = mine_status.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine_ms)
            for k, v in mine_status.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": time.perf_counter() - t0, "statuses": statuses, "ms": latencies}


# -- report ----------------------------------------------------------------------------------


def line(label: str, ms: list[float], extra: str = "") -> str:
    return (
        f"  {label:<34} n={len(ms):>4}  p50 {pct(ms, 0.5):7.1f}  p95 {pct(ms, 0.95):7.1f}  "
        f"max {max(ms):8.1f} ms  {extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1,000,000 outlets")
    parser.add_argument("--tiles", type=int, default=200, help="tiles per band and role")
    parser.add_argument("--naive", type=int, default=25, help="naive tiles per band")
    parser.add_argument("--seconds", type=float, default=15.0, help="HTTP run length")
    parser.add_argument("--clients", type=int, default=8, help="HTTP client threads")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--server",
        type=lambda value: value.split(","),
        default=["granian"],
        metavar="NAME[,NAME]",
        help="the HTTP part under granian (the README's production command) and/or gunicorn, "
        "one after the other: 'gunicorn,granian' measures the one beside the other",
    )
    parser.add_argument("--keep", help="keep the cluster in this folder (reused if it has data)")
    parser.add_argument(
        "--cells",
        default=f"{PROVINCE},CN",
        help="regions whose kept gap and density cells are drawn as tiles (comma-separated "
        "codes; empty: none)",
    )
    parser.add_argument(
        "--warm",
        choices=("province", "city", "district"),
        help="also keep the gaps and density of every region of this level (many results' "
        "cells in the tables, as on a busy server)",
    )
    parser.add_argument(
        "--only-cells", action="store_true", help="skip the outlets/regions/OGC measurements"
    )
    args = parser.parse_args()
    total = round(1_000_000 * args.scale)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gcrm-bench-tiles-"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="bench")
    server = None
    try:
        url = cluster.ensure_database()
        postmaster = int((base / "pg" / "postmaster.pid").read_text().split()[0])
        engine = ready_engine(url)
        with engine.connect() as conn:
            have = conn.scalar(text("SELECT count(*) FROM outlets"))
        if not have:
            stages = load(engine, total, args.seed)
            print("loaded: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
        with engine.connect() as conn:
            counts = conn.execute(
                text(
                    "SELECT count(*), count(*) FILTER (WHERE status = 'active' AND location IS "
                    "NOT NULL), (SELECT count(*) FROM outlet_hex_bins), "
                    "(SELECT count(*) FROM regions) FROM outlets"
                )
            ).one()
        print(
            f"{counts[0]:,} outlets ({counts[1]:,} active and located), {counts[2]:,} hexagon "
            f"bin rows, {counts[3]:,} regions; load average {os.getloadavg()[0]:.2f}"
        )
        users_ = principals(engine)
        picks: dict = {}
        if not args.only_cells:
            picks = sample(engine, args.tiles, args.seed)
            results: dict = {}
            print("\nin process (domain.tiles.tile through a Session), ms per tile:")
            for layer in ("outlets", "regions"):
                for band in BANDS:
                    for role, user in users_.items():
                        ms, sizes = timed_tiles(engine, layer, picks[role][band], user)
                        results[(layer, band, role)] = ms
                        kb = statistics.median(sizes) / 1024
                        print(
                            line(
                                f"{layer} {band} {role}",
                                ms,
                                f"median {kb:.1f} KB, max {max(sizes) / 1024:.0f} KB  "
                                f"target p95 < {TARGET_P95_MS[band]:.0f}",
                            ),
                            flush=True,
                        )
            print("\nnaive baseline, same run (admin's tiles of the same sample):")
            for band in BANDS:
                ms = naive_times(engine, band, picks["admin"][band][: args.naive])
                ours = results[("outlets", band, "admin")][: args.naive]
                what = "ST_HexagonGrid ⋈ outlets, live" if band == "z4-9" else "rows + Python MVT"
                print(line(f"outlets {band} naive ({what})", ms))
                print(
                    f"  {'':<34} ours on the same {len(ours)} tiles: p50 {pct(ours, 0.5):.1f} ms "
                    f"→ naive is ×{pct(ms, 0.5) / pct(ours, 0.5):.0f} at the median"
                )
            print("\nOGC API – Features, 1,000 outlets a page (admin):")
            ogc = ogc_in_process(engine, users_["admin"], 20)
            print(line("items, first page (numberMatched)", ogc["first"]))
            print(line("items, a later page (cursor)", ogc["next"], f"{ogc['bytes'] / 1e6:.2f} MB"))
            naive = naive_items(engine, 10)
            print(line("naive: ORM objects → json.dumps", naive))

        cell_codes = [c for c in args.cells.split(",") if c]
        cell_paths: list[str] = []
        if cell_codes:
            print("\ncached gap and density cells (the region pages' default filters):")
            kept = cached_cells(engine, cell_codes)
            if args.warm:  # more kept results beside them: cells of many regions overlap a tile
                from geo_crm.analysis import cache
                from geo_crm.analysis.params import MapFilters

                t0 = time.perf_counter()
                with Session(engine) as session:
                    done, fresh = cache.warm(
                        session, MapFilters(), level=args.warm, kinds=("gaps", "density")
                    )
                    cells = session.execute(
                        text(
                            "SELECT (SELECT count(*) FROM analysis_gap_cells), "
                            "(SELECT count(*) FROM analysis_density_cells)"
                        )
                    ).one()
                print(
                    f"  warmed every {args.warm}: {done} computed, {fresh} fresh "
                    f"({time.perf_counter() - t0:.0f} s); kept cells in all: {cells[0]:,} gap, "
                    f"{cells[1]:,} density"
                )
            print("in process (analysis.cache_tiles.tile through a Session), ms per tile:")
            for layer, by_code in kept.items():
                for code, (result_id, n_cells) in by_code.items():
                    picks_ = cell_sample(engine, layer, result_id, args.tiles, args.seed)
                    roles = ("admin", "manager") if code == PROVINCE else ("admin",)
                    for band in BANDS:
                        for role in roles:
                            ms, sizes = timed_cell_tiles(
                                engine, layer, code, picks_[band], users_[role]
                            )
                            kb = statistics.median(sizes) / 1024
                            print(
                                line(
                                    f"{layer} {code} {band} {role}",
                                    ms,
                                    f"median {kb:.1f} KB  target p95 < {TARGET_P95_MS[band]:.0f}",
                                ),
                                flush=True,
                            )
                        naive = naive_cell_times(
                            engine, layer, result_id, picks_[band][: args.naive]
                        )
                        print(line(f"  naive (rows + Python MVT), {n_cells:,} kept", naive))
                        cell_paths += [
                            f"/tiles/{layer}/{z}/{x}/{y}.mvt?region={code}"
                            for z, x, y in picks_[band]
                        ]

        token = tokens(engine)
        env = dict(
            os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret", GEO_CRM_AUTH_REQUIRED="1"
        )
        for name in args.server:  # each over the same URLs, the one beside the other
            port = free_port()
            server = start_server(name, port, env)
            paths = [
                f"/tiles/{layer}/{z}/{x}/{y}.mvt"
                for layer in ("outlets", "regions")
                for band in BANDS
                for z, x, y in picks.get("admin", {}).get(band, [])
            ]
            random.Random(5).shuffle(paths)
            drive(port, (paths or cell_paths)[:200], token["admin"], 3, args.clients)  # warm both

            def measure(server, name: str, port: int, urls: list[str], heading: str) -> None:
                """Drive ``urls`` for the run's seconds and print rate, statuses, CPU per tile."""
                load0 = os.getloadavg()[0]
                cpu0 = cpu_seconds({server.pid}), cpu_seconds({postmaster})
                run = drive(port, urls, token["admin"], args.seconds, args.clients)
                cpu1 = cpu_seconds({server.pid}), cpu_seconds({postmaster})
                n = sum(run["statuses"].values())
                print(f"\nHTTP, {heading}, load average before {load0:.2f}:")
                print(
                    f"  {n / run['seconds']:,.0f} tiles/s (target ≥ {TARGET_TILES_PER_S:.0f}); "
                    f"statuses {dict(sorted(run['statuses'].items()))}; CPU per tile: {name} "
                    f"{(cpu1[0] - cpu0[0]) / n * 1000:.2f} ms, PostgreSQL "
                    f"{(cpu1[1] - cpu0[1]) / n * 1000:.2f} ms"
                )
                print(line("latency at the client", run["ms"]))

            if paths:
                measure(
                    server,
                    name,
                    port,
                    paths,
                    f"{name} 2 workers × 4 threads, {args.clients} keep-alive clients, admin "
                    f"token, {len(paths)} tile URLs (both layers, z4–14)",
                )
            if cell_paths:
                random.Random(6).shuffle(cell_paths)
                measure(
                    server,
                    name,
                    port,
                    cell_paths,
                    f"the same server and clients, {len(cell_paths)} cached gap and density "
                    "tile URLs (z4–14)",
                )
            if not args.only_cells:
                ogc_url = "/ogc/collections/outlets/items?limit=1000"
                items = drive(port, [ogc_url], token["admin"], 5, 1)
                print(line("HTTP /ogc/…/items?limit=1000, 1 client", items["ms"]))
            stop(server)
            server = None
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        if server is not None:
            stop(server)
        if not args.keep:
            cluster.stop()
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

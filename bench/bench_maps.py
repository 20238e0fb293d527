"""Region maps at scale: a province with 100,000 outlets and the country with 1,000,000, beside
the naive map (one ``folium.Marker`` per outlet), in one run.

Run on demand (not a test):  .venv/bin/python bench/bench_maps.py [--scale 1.0] [--keep DIR]

1. Starts a throwaway PostgreSQL + PostGIS cluster (``--keep DIR`` keeps and reuses it), loads
   the shipped Chinese boundaries and N outlets (100,000 × scale in Zhejiang 330000, the rest
   of 1,000,000 × scale over the country) clustered around random towns, tiers 1/4/10/85 %,
   region looked up in memory (STRtree over the cities) and written with COPY, then ANALYZE.
2. For each case builds the coverage map exactly as ``/maps/coverage/<code>`` does (the view:
   ``analysis.region_maps.region_map`` — coverage analysis, which also hands over the outlets
   it fetched, popup rows, catchments — then ``maps.region.region_map``) and reports: HTML
   size; end-to-end time (SQL + analyses + maps + render) and this process's CPU seconds for
   it (the coverage analysis runs threads, so CPU may exceed wall); the data part and the maps
   part alone (``maps.region.region_map`` + render, from data already read); and in headless
   Chromium with every network request except geo_crm's own assets refused (tiles blocked):
   time to "drawn" = navigation start → ``geoCrmReady`` + two animation frames, and the JS
   heap then (CDP ``Performance.getMetrics``).
3. The naive baseline: the same province's outlets as one ``folium.Marker`` each (tooltip =
   name, Leaflet served locally), on ``--naive`` outlets (10,000 by default: 100,000 markers
   take minutes to paint), with the same measurements, then the ratios per outlet.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

# this checkout's geo_crm (and its pages' scripts), not whichever the venv has installed; and
# Debian's Chromium with the flags the browser tests use: one definition for both
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from browser_helpers import ARGS, CHROMIUM  # noqa: E402

from geo_crm import create_app  # noqa: E402
from geo_crm.db import ready_engine  # noqa: E402
from geo_crm.db.cluster import LocalCluster  # noqa: E402
from geo_crm.models import TIERS  # noqa: E402

PROVINCE = "330000"
SHARES = (0.01, 0.04, 0.10, 0.85)
TARGETS = {"province": (2_000_000, 1.5, 1.5, 300), "country": (3_000_000, None, 2.0, None)}


# -- data ------------------------------------------------------------------------------------


def clustered_points(geom, n: int, rng, towns: int, spread_km: tuple[float, float]):
    """``n`` points inside ``geom``: gaussian clusters around ``towns`` random centres."""
    shapely.prepare(geom)
    xmin, ymin, xmax, ymax = geom.bounds
    centres = np.empty((0, 2))
    while len(centres) < towns:
        c = np.column_stack(
            [rng.uniform(xmin, xmax, towns * 4), rng.uniform(ymin, ymax, towns * 4)]
        )
        centres = np.vstack([centres, c[shapely.contains_xy(geom, c[:, 0], c[:, 1])]])
    centres = centres[:towns]
    weight = rng.pareto(1.2, towns) + 1
    out = np.empty((0, 2))
    while len(out) < n:
        k = rng.choice(towns, size=n, p=weight / weight.sum())
        sigma = rng.uniform(*spread_km, size=n) / 111.0
        pts = centres[k] + rng.normal(0, 1, (n, 2)) * sigma[:, None]
        out = np.vstack([out, pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]])
    return out[:n]


def load(engine, total: int, in_province: int, seed: int) -> dict:
    from geo_crm.io.boundaries import default_region_files, load_region_files

    stages = {}
    t0 = time.perf_counter()
    with Session(engine) as session:
        load_region_files(session, default_region_files())
        session.commit()
    stages["regions"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:

        def geom(code):
            return shapely.from_wkb(
                bytes(
                    conn.execute(
                        text("SELECT ST_AsBinary(boundary) FROM regions WHERE code = :c"),
                        {"c": code},
                    ).scalar_one()
                )
            )

        province, country = geom(PROVINCE), geom("CN")
        cities = conn.execute(
            text("SELECT id, ST_AsBinary(boundary) FROM regions WHERE level = 'city'")
        ).all()
        provinces = conn.execute(
            text("SELECT id, ST_AsBinary(boundary) FROM regions WHERE level = 'province'")
        ).all()
        country_id = conn.execute(text("SELECT id FROM regions WHERE code = 'CN'")).scalar_one()
    pts = np.vstack(
        [
            clustered_points(province, in_province, rng, max(50, in_province // 300), (1.0, 6.0)),
            clustered_points(
                shapely.difference(country, province),
                total - in_province,
                rng,
                max(200, (total - in_province) // 300),
                (1.0, 8.0),
            ),
        ]
    )
    region = np.full(len(pts), country_id, dtype=np.int64)
    for rows in (provinces, cities):  # the smallest region wins, as the outlets trigger decides
        ids = np.array([r[0] for r in rows])
        tree = shapely.STRtree(shapely.from_wkb([bytes(r[1]) for r in rows]))
        p_idx, g_idx = tree.query(shapely.points(pts), predicate="within")
        region[p_idx] = ids[g_idx]
    tier = rng.choice(len(TIERS), size=len(pts), p=SHARES)
    stages["generate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    buf = io.StringIO()
    for i, (x, y), t, r in zip(
        range(len(pts)), pts.tolist(), tier.tolist(), region.tolist(), strict=True
    ):
        buf.write(f"B{i}\t门店{i}\t{TIERS[t]}\tactive\tSRID=4326;POINT({x:.6f} {y:.6f})\t{r}\n")
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
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE outlets"))
    stages["copy + analyze"] = time.perf_counter() - t0
    return stages


# -- maps --------------------------------------------------------------------------------------


def build_case(app, code: str, runs: int = 3) -> dict:
    """End to end as the view does it (wall and this process's CPU seconds), then the data part
    (``analysis.region_maps.region_map``: SQL and the coverage analysis, which also hands over
    the outlets it fetched, popup rows and catchments) and the maps part (``maps.region`` +
    render, from data already read) one by one."""
    from geo_crm.analysis.region_maps import region_map
    from geo_crm.maps import region as region_maps
    from geo_crm.maps.base import render
    from geo_crm.web import maps as views
    from geo_crm.web.context import map_settings
    from geo_crm.web.filters import parse_filters
    from geo_crm.web.locale import current_translator

    ends, cpus, parts, datas = [], [], [], []
    html, layer = "", None
    for _ in range(runs):
        with app.test_request_context(f"/maps/coverage/{code}?lang=zh"):
            t0, c0 = time.perf_counter(), time.process_time()
            html = views.standalone("coverage", code).get_data(as_text=True)
            ends.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        with app.test_request_context(f"/maps/coverage/{code}?lang=zh"):
            from flask import request

            from geo_crm.db import get_session

            t = current_translator()
            f = parse_filters(request.args, t)
            settings = map_settings(t)
            s0 = time.perf_counter()
            data = region_map(
                get_session(), None, "coverage", code, f, point_limit=settings.point_limit
            )
            datas.append(time.perf_counter() - s0)
            layer = data.layer
            t0 = time.perf_counter()
            render(region_maps.region_map(data, settings))
            parts.append(time.perf_counter() - t0)
    return {
        "html": html,
        "end_to_end": statistics.median(ends),
        "cpu": statistics.median(cpus),
        "maps": statistics.median(parts),
        "stages": {
            "data (SQL + coverage analysis)": statistics.median(datas),
            "points": len(layer.rows) if layer.rows else 0,
            "counted": len(layer.coords) if layer.coords else 0,
        },
    }


def naive_case(app, code: str, n: int) -> dict:
    """One folium.Marker (default icon, tooltip) per outlet, Leaflet served locally."""
    import folium

    from geo_crm.maps.assets import apply_assets
    from geo_crm.maps.base import render
    from geo_crm.maps.elements import ReadySignal

    with app.test_request_context("/"):
        from geo_crm.db import get_session

        rows = (
            get_session()
            .execute(
                text(
                    "SELECT o.name, ST_Y(o.location), ST_X(o.location) FROM outlets o "
                    "JOIN regions r ON r.id = o.region_id JOIN regions p ON p.id = r.parent_id "
                    "WHERE p.code = :c ORDER BY o.id LIMIT :n"
                ),
                {"c": code, "n": n},
            )
            .all()
        )
    t0 = time.perf_counter()
    m = folium.Map(location=[29.2, 120.5], zoom_start=7, tiles="OpenStreetMap")
    for name, lat, lon in rows:
        folium.Marker([lat, lon], tooltip=name).add_to(m)
    m.add_child(ReadySignal())
    apply_assets(m)
    html = render(m)
    elapsed = time.perf_counter() - t0
    return {
        "html": html,
        "end_to_end": elapsed,
        "cpu": None,
        "maps": elapsed,
        "stages": {"markers": len(rows)},
    }


def browser_measure(
    pages: dict[str, str], runs: int = 3, timeout_s: float = 600
) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    from geo_crm.maps.assets import vendor_file

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            current = {}
            for label, html in pages.items():
                current["html"] = html
                drawn, heap = [], []
                for _ in range(runs if label != "naive" else 1):
                    context = browser.new_context(viewport={"width": 1400, "height": 900})
                    page = context.new_page()

                    def route(r):
                        url = r.request.url
                        if url == "http://bench.test/":
                            return r.fulfill(
                                body=current["html"], content_type="text/html; charset=utf-8"
                            )
                        if url.startswith("http://bench.test/static/vendor/"):
                            vendor, _, rest = url[
                                len("http://bench.test/static/vendor/") :
                            ].partition("/")
                            target = vendor_file(vendor, rest)
                            if target:
                                return r.fulfill(path=str(target))
                        return r.abort()  # tiles and anything else: blocked

                    page.route("**/*", route)
                    cdp = context.new_cdp_session(page)
                    cdp.send("Performance.enable")
                    page.goto("http://bench.test/", wait_until="commit", timeout=timeout_s * 1000)
                    page.wait_for_function(
                        "() => window.geoCrmReady === true", timeout=timeout_s * 1000, polling=50
                    )
                    ms = page.evaluate(
                        "() => new Promise(r => requestAnimationFrame(() => "
                        "requestAnimationFrame(() => r(performance.now()))))"
                    )
                    metrics = {
                        m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
                    }
                    drawn.append(ms / 1000.0)
                    heap.append(metrics["JSHeapUsedSize"] / 2**20)
                    context.close()
                out[label] = {"drawn": statistics.median(drawn), "heap_mb": statistics.median(heap)}
        finally:
            browser.close()
    return out


# -- pages in the browser (--landing) ---------------------------------------------------------

LANDING_DRAWN = "() => window.geoCrmDrawn"  # landing.js: regions tiles in, coloured by figures
# the region page's map drawn (its script run and its vector tiles in view in: runtime.js
# GeoCrm.whenDrawn) and its key figures in the page
REGION_DRAWN = """() => {
  const f = document.getElementById('map');
  const w = f && f.contentWindow;
  return w && w.geoCrmDrawn && document.querySelector('#figures table') !== null
    ? performance.now() : null;
}"""
# the same page's HTML parsed and its region table drawn: what the home page was before the map
TABLE_DRAWN = """() => {
  const t = performance.getEntriesByType('navigation')[0];
  return t && t.domContentLoadedEventEnd > 0 && document.getElementById('regions')
    ? t.domContentLoadedEventEnd : null;
}"""


def page_timings(base: str, pages: dict[str, tuple[str, str]], runs: int, timeout_s: float):
    """For each page: a warm-up visit, then ``runs`` visits in fresh browser contexts (no HTTP
    cache); per visit ms from navigation start to the page's "drawn" function returning a
    number, the HTML's time to first byte, and the slowest request of each kind."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for label, (path, drawn) in pages.items():
                rows = []
                for i in range(runs + 1):
                    context = browser.new_context(viewport={"width": 1400, "height": 900})
                    page = context.new_page()
                    page.route(
                        "**/*",
                        lambda r: r.continue_() if r.request.url.startswith(base) else r.abort(),
                    )
                    try:
                        page.goto(base + path, wait_until="commit", timeout=timeout_s * 1000)
                        handle = page.wait_for_function(drawn, timeout=timeout_s * 1000, polling=20)
                    except PlaywrightTimeout:  # recorded as "over the timeout", the run goes on
                        context.close()
                        if i:
                            rows.append({"drawn": None, "html": None, "slowest": {}})
                        continue
                    ms = float(handle.json_value())
                    detail = page.evaluate("""() => {
                      const nav = performance.getEntriesByType('navigation')[0];
                      const slowest = {};
                      // the page's requests and its map frame's (the region page's tiles),
                      // the frame's times moved to the page's clock
                      const frame = document.getElementById('map');
                      const inner = frame && frame.contentWindow ? frame.contentWindow.performance
                        : null;
                      const shift = inner ? inner.timeOrigin - performance.timeOrigin : 0;
                      const entries = [
                        ...performance.getEntriesByType('resource').map(r => [r, 0]),
                        ...(inner ? inner.getEntriesByType('resource').map(r => [r, shift]) : [])];
                      for (const [r, dt] of entries) {
                        const u = new URL(r.name), kind = u.pathname.startsWith('/tiles/') ? 'tiles'
                          : u.pathname.startsWith('/maps/') ? 'map' : u.pathname.split('/')[1];
                        const s = slowest[kind] || {n: 0, ms: 0, end: 0, kb: 0};
                        s.n += 1; s.ms = Math.max(s.ms, r.duration);
                        s.kb += (r.encodedBodySize || 0) / 1024;
                        s.end = Math.max(s.end, r.responseEnd + dt);
                        slowest[kind] = s;
                      }
                      return {ttfb: nav.responseStart, html: nav.responseEnd, slowest};
                    }""")
                    context.close()
                    if i:  # the first visit warms the server's caches
                        rows.append({"drawn": ms, **detail})
                out[label] = rows
        finally:
            browser.close()
    return out


def warm_country(app) -> None:
    """Keep the country page's analyses (coverage, gaps, density for the page's default form)
    fresh before its visits: "warm" is the target's condition, and the benchmark runs no worker
    to compute what a page would queue."""
    from werkzeug.datastructures import MultiDict

    from geo_crm.analysis import cache
    from geo_crm.db import get_session
    from geo_crm.domain.regions import get_region
    from geo_crm.i18n import Translator
    from geo_crm.web.filters import parse_filters

    with app.app_context():
        session = get_session()
        f = parse_filters(MultiDict(), Translator("zh"))
        area = get_region(session, "CN").area_m2
        for kind in ("coverage", "gaps", "density"):
            _, filters = cache.filter_key(kind, cache.page_params(kind, f, area))
            t0 = time.perf_counter()
            computed = cache.refresh(session, kind, "CN", filters)
            session.commit()
            state = f"computed in {time.perf_counter() - t0:.1f} s" if computed else "fresh"
            print(f"country {kind} analysis: {state}")


def every_row_written(groups, t):
    """The old way (before the landing work of issue 16's wave 5): every group's rows written
    into the home page (web.home.table_groups with nothing left for later)."""
    from geo_crm.web.home import table_row

    return [(g, [table_row(r, t) for r in (g.head, *g.rows)], len(g.rows), False) for g in groups]


def per_region_reads(session, figure: str, shown) -> dict:
    """The old way: the landing's coverage or gap figures as one ``cache.cached`` per region
    (the counter, the region and its kept row read for each)."""
    from geo_crm.analysis import cache
    from geo_crm.analysis.params import MapFilters

    f = MapFilters()
    return {
        r.code: cache.cached(
            session, figure, r.code, cache.page_params(figure, f, r.area_m2), cells=False,
            enqueue=None,
        )
        for r in shown
    }  # fmt: skip


def _figure(figure: str, got):
    if got.result is None:
        return None
    return got.result.region.ratio if figure == "coverage" else got.result.gap_cells


def landing_in_process(app, engine, runs: int, warm: bool) -> None:
    """The home page's HTML with every row written (old) and with the groups' heads only (new),
    and the landing map's coverage and gap figures of the provinces read per region (old) and
    in one batch (new): alternating, medians of ``runs``."""
    from unittest import mock

    from geo_crm.analysis import cache, landing
    from geo_crm.analysis.params import MapFilters
    from geo_crm.web import home

    client = app.test_client()

    def page() -> int:
        return len(client.get("/?lang=zh").data)

    sizes, ms = {"old": 0, "new": 0}, {"old": [], "new": []}
    for _ in range(runs):
        for way in ("old", "new"):
            patch = mock.patch.object(home, "table_groups", every_row_written)
            with patch if way == "old" else contextlib.nullcontext():
                t0 = time.perf_counter()
                sizes[way] = page()
                ms[way].append((time.perf_counter() - t0) * 1000)
    print("\nin process, medians of", runs, "(alternating old and new):")
    print(
        f"  home page HTML: every row written {statistics.median(ms['old']):7.0f} ms "
        f"{sizes['old'] / 1e6:.2f} MB   heads only {statistics.median(ms['new']):7.0f} ms "
        f"{sizes['new'] / 1e6:.3f} MB   (the rows: /landing/rows on opening a group)"
    )
    with Session(engine) as session:
        shown = landing._shown(landing.scope_regions(session, None), "province")
        if warm:
            t0 = time.perf_counter()
            done, fresh = cache.warm(
                session, MapFilters(), level="province", kinds=("coverage", "gaps")
            )
            print(f"  kept analyses of the provinces: {done} computed, {fresh} fresh "
                  f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
        for figure in ("coverage", "gaps"):
            regions = [(r.code, r.area_m2) for r in shown]
            old, new = [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                a = per_region_reads(session, figure, shown)
                old.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                b = cache.cached_many(session, figure, regions, MapFilters(), enqueue=None)
                new.append((time.perf_counter() - t0) * 1000)
                session.rollback()
            states = sorted({c.state for c in b.values()})
            same = {k: _figure(figure, c) for k, c in a.items()} == {
                k: _figure(figure, c) for k, c in b.items()
            }
            o, n = statistics.median(old), statistics.median(new)
            print(
                f"  {figure} figures of {len(shown)} provinces, kept ({'/'.join(states)}): "
                f"per region {o:6.1f} ms   one batch {n:6.1f} ms   × {o / n:.1f}   "
                f"same figures: {same}"
            )


def landing_case(
    url: str, engine, runs: int, timeout_s: float, only: set[str], warm: bool = True
) -> None:
    """The landing page (admin: the country) and the country's region page in Chromium, served
    by the app (threaded werkzeug on loopback, basemap off), beside the landing page's table
    and the old landing page (every table row written), then the in-process comparison
    (:func:`landing_in_process`)."""
    from unittest import mock

    from browser_helpers import serving

    from geo_crm.web import home

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "GEO_CRM_AUTH_REQUIRED": False,
            "GEO_CRM_BASEMAP": "none",
        }
    )
    app.extensions["geo_crm_db"].use_engine(engine)
    if only & {"region", "region-embedded"}:
        warm_country(app)
    pages = {
        name: page
        for name, page in {
            "table": ("/?lang=zh", TABLE_DRAWN),  # the home page's table drawn: the baseline
            "landing": ("/?lang=zh", LANDING_DRAWN),  # its map drawn
            "region": ("/regions/CN?lang=zh", REGION_DRAWN),  # the country's page: map + figures
            # the same page with everything in the map's page (cells and outlets embedded, as
            # before the vector tiles): the region page's baseline
            "region-embedded": ("/regions/CN?lang=zh&draw=embedded", REGION_DRAWN),
        }.items()
        if name in only
    }
    with serving(app, threaded=True) as base:
        result = {}
        if "old" in only:  # the same pages with every table row written, as before
            with mock.patch.object(home, "table_groups", every_row_written):
                old = page_timings(
                    base,
                    {
                        f"{k} (old: every row)": v
                        for k, v in pages.items()
                        if k in ("table", "landing")
                    },
                    runs,
                    timeout_s,
                )
        else:
            old = {}
        result = page_timings(base, pages, runs, timeout_s)
        result = {**old, **result}
    print(f"\nload average: {os.getloadavg()[0]:.2f}  (2 s target: request to drawn, warm)")
    print(f"{'page':<30} {'drawn ms (median; runs)':<36} {'HTML ms':>8}  slowest requests")
    for label, rows in result.items():
        if any(r["drawn"] is None for r in rows):
            print(f"{label:<30} over the {timeout_s:.0f} s timeout in {len(rows)} runs")
            continue
        drawn = [r["drawn"] for r in rows]
        last = rows[len(rows) // 2]
        slow = ", ".join(
            f"{k} ×{v['n']} ≤{v['ms']:.0f} ms {v['kb']:.0f} KB (done {v['end']:.0f})"
            for k, v in sorted(last["slowest"].items())
        )
        print(
            f"{label:<30} {statistics.median(drawn):>8.0f} "
            f"({', '.join(f'{d:.0f}' for d in drawn):<25}) {last['html']:>8.0f}  {slow}"
        )
    if "figures" in only:
        landing_in_process(app, engine, max(runs, 5), warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of 100,000 / 1,000,000 outlets"
    )
    parser.add_argument("--naive", type=int, default=10_000, help="outlets in the naive baseline")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--keep", help="keep the cluster in this folder (reused when it holds data)"
    )
    parser.add_argument(
        "--landing",
        action="store_true",
        help="instead: the landing page and the country region page drawn in Chromium",
    )
    parser.add_argument("--runs", type=int, default=3, help="--landing: visits per page")
    parser.add_argument(
        "--pages",
        default="old,table,landing,region,region-embedded,figures",
        help="--landing: which of old (the pages with every table row, as before), table, "
        "landing, region, region-embedded (the region page's map with everything embedded, "
        "as before), figures (in process: HTML and figures, old way beside new)",
    )
    parser.add_argument("--timeout", type=float, default=120, help="--landing: s per visit")
    args = parser.parse_args()
    total, in_province = round(1_000_000 * args.scale), round(100_000 * args.scale)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gcrm-bench-maps-"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="bench")
    try:
        url = cluster.ensure_database()
        engine = ready_engine(url)
        with engine.connect() as conn:
            have = conn.scalar(text("SELECT count(*) FROM outlets"))
        if not have:
            stages = load(engine, total, in_province, args.seed)
            print("loaded: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
        with engine.begin() as conn:  # the COPY ran with triggers off (also: a kept cluster)
            if not conn.scalar(text("SELECT EXISTS (SELECT FROM outlet_hex_bins)")):
                t0 = time.perf_counter()
                conn.execute(text("SELECT geo_crm_outlet_bins_rebuild()"))
                print(f"hexagon bins and region totals rebuilt: {time.perf_counter() - t0:.1f} s")
        with engine.connect() as conn:
            n_all = conn.scalar(text("SELECT count(*) FROM outlets"))
            n_prov = conn.scalar(
                text(
                    "SELECT count(*) FROM outlets o JOIN regions r ON r.id = o.region_id "
                    "LEFT JOIN regions p ON p.id = r.parent_id WHERE r.code = :c OR p.code = :c"
                ),
                {"c": PROVINCE},
            )
        print(f"network: {n_all:,} outlets, {n_prov:,} in province {PROVINCE}")
        if args.landing:
            landing_case(url, engine, args.runs, args.timeout, set(args.pages.split(",")))
            return
        app = create_app(
            {"DATABASE_URL": url, "SECRET_KEY": "bench", "GEO_CRM_AUTH_REQUIRED": False}
        )
        app.extensions["geo_crm_db"].use_engine(engine)
        cases = {
            "province": (build_case(app, PROVINCE), n_prov),
            "country": (build_case(app, "CN"), n_all),
            "naive": (naive_case(app, PROVINCE, args.naive), args.naive),
        }
        shown = browser_measure({k: v[0]["html"] for k, v in cases.items()})
        print()
        print(f"load average before the browser: {os.getloadavg()[0]:.2f}")
        print(
            f"{'map':<10} {'outlets':>10} {'HTML MB':>8} {'B/outlet':>9} {'end-to-end s':>13} "
            f"{'CPU s':>6} {'maps s':>7} {'drawn s':>8} {'heap MB':>8}   "
            "targets (MB, build s, drawn s, heap MB)"
        )
        for label, (res, n) in cases.items():
            size = len(res["html"].encode())
            b = shown[label]
            target = TARGETS.get(label, ("-", "-", "-", "-"))
            print(
                f"{label:<10} {n:>10,} {size / 1e6:>8.2f} {size / n:>9.1f} "
                f"{res['end_to_end']:>13.2f} "
                f"{res['cpu'] if res['cpu'] is not None else float('nan'):>6.2f} "
                f"{res['maps']:>7.2f} {b['drawn']:>8.2f} {b['heap_mb']:>8.0f}   {target}"
            )
            print(
                f"{'':<10} stages: "
                + ", ".join(
                    f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v:,}"
                    for k, v in res["stages"].items()
                )
            )
        prov, naive = cases["province"], cases["naive"]
        scale = prov[1] / naive[1]
        print()
        print(
            f"naive per outlet vs ours per outlet (province, {prov[1]:,} vs {naive[1]:,} outlets):"
        )
        for key, fmt in (
            ("size", "HTML bytes"),
            ("maps", "build s"),
            ("drawn", "drawn s"),
            ("heap_mb", "heap MB"),
        ):
            if key == "size":
                ours, theirs = len(prov[0]["html"].encode()), len(naive[0]["html"].encode())
            elif key == "maps":
                ours, theirs = prov[0]["maps"], naive[0]["maps"]
            else:
                ours, theirs = shown["province"][key], shown["naive"][key]
            print(
                f"  {fmt:<12} ours {ours:,.2f} for {prov[1]:,}; "
                f"naive {theirs:,.2f} for {naive[1]:,} "
                f"-> naive at {prov[1]:,} ≈ {theirs * scale:,.1f} (x{theirs * scale / ours:,.1f})"
            )
    finally:
        if not args.keep:
            cluster.stop()
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: region reports (#15) on a country-size network, beside a naive baseline.

    .venv/bin/python bench/bench_reports.py                 # 1,000,000 outlets, 5 M records
    .venv/bin/python bench/bench_reports.py --scale 0.1     # a tenth, to iterate
    .venv/bin/python bench/bench_reports.py --keep /tmp/b   # keep (and reuse) the cluster

Builds the network of bench_analysis.py (throwaway durable cluster, shipped boundaries,
100,000 outlets × scale in Zhejiang 330000 and the rest over the country, 5 M sales records ×
scale) plus twelve monthly plans per distributor, then times, as the command line runs them:

1. one province report (Zhejiang) in PDF: gathering the figures, then the PDF; file size —
   alternating with the PDF as written before #15's last speed-ups (``pdf_before``: cells one
   SVG ring each, maps inline as base64, the density read after the gaps), same data;
2. the same province as self-contained HTML (size) and XLSX / GeoPackage;
3. ``--level province`` in PDF for every province, in 2 processes (the 2-core target);

beside the naive baseline in the same run: the same PDF with every outlet drawn as its own
vector dot (no raster layer for dense points) — what a first attempt at "vector maps" does.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analysis import DENSE_PROVINCE, build  # noqa: E402

from geo_crm.db import Database, ready_engine  # noqa: E402
from geo_crm.db.cluster import LocalCluster  # noqa: E402
from geo_crm.domain.principal import SYSTEM  # noqa: E402
from geo_crm.reports import charts, pdf, render, write_formats  # noqa: E402
from geo_crm.reports import data as data_mod  # noqa: E402
from geo_crm.reports.batch import run_batch  # noqa: E402
from geo_crm.reports.data import ReportFilters, regions_of_level, report_data  # noqa: E402
from geo_crm.settings import Settings  # noqa: E402

PERIOD = ReportFilters(date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 12, 31))


def add_plans(engine) -> int:
    with engine.begin() as conn:
        if not conn.scalar(text("SELECT EXISTS (SELECT FROM sales_seller_months)")):
            # bench_analysis loads the records with triggers off and rebuilds 0003's buyer
            # rollup only; the seller rollup (0009), read by the ranking, as its backfill does
            conn.execute(text("SELECT geo_crm_sales_seller_rollup_rebuild()"))
        if conn.scalar(text("SELECT count(*) FROM sales_plans")):
            return 0
        return conn.execute(
            text("""
            INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity,
                                     target_amount)
            SELECT o.id, make_date(2024, m, 1), (SELECT min(id) FROM products), 100,
                   20000 + (o.id % 7) * 5000
              FROM outlets o, generate_series(1, 12) m WHERE o.tier = 'distributor'""")
        ).rowcount


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def cpu() -> float:
    """CPU seconds of this process (all threads): what the machine's other users cannot take."""
    return time.process_time()


def province_report(engine, out: Path, fmt: str, *, repeat: int) -> list[tuple]:
    """(seconds gathering, seconds writing, bytes, CPU seconds gathering, CPU writing) per run."""
    runs = []
    for i in range(repeat):
        with Session(engine) as session:
            t0, c0 = time.perf_counter(), cpu()
            data = report_data(session, SYSTEM, DENSE_PROVINCE, PERIOD, outlet_detail=fmt != "pdf")
            t1, c1 = time.perf_counter(), cpu()
            (w,) = write_formats(data, [fmt], out / f"{fmt}-{i}")
            runs.append((t1 - t0, time.perf_counter() - t1, w.bytes, c1 - c0, cpu() - c1))
            session.rollback()
    return runs


def pdf_before(data, path: Path) -> int:
    """The PDF as written before #15's last speed-ups: one SVG ring per hexagon cell, every map
    projecting and simplifying the outlines itself, the maps inline in the HTML as base64."""
    import weasyprint

    t = render.translator(data)
    maps = [
        pdf.MapImage(anchor, label, "data:image/svg+xml;base64,"
                     + base64.b64encode(charts.MAPS[kind](data, t).encode()).decode())
        for kind, anchor, label in (("coverage", "map-coverage", t("Coverage map")),
                                    ("gaps", "map-gaps", t("Gap map")),
                                    ("density", "map-density", t("Sales density map")))
    ]  # fmt: skip
    html, _ = pdf.paged_html(data)
    for old, new in zip(("geo-crm-map:coverage", "geo-crm-map:gaps", "geo-crm-map:density"),
                        maps, strict=True):  # fmt: skip
        html = html.replace(f'"{old}"', f'"{new.src}"')
    weasyprint.HTML(string=html, base_url=None).write_pdf(
        path, uncompressed_pdf=False, optimize_images=False, custom_metadata=True
    )
    return path.stat().st_size


def pdf_before_after(engine, out: Path, *, repeat: int) -> None:
    """The province PDF now and as before (``pdf_before``; the figures with the density read
    after the gaps on the main connection), alternating, same process, same data."""
    runs = {"before": [], "after": []}
    out.mkdir(parents=True, exist_ok=True)
    figures = {}
    for i in range(repeat):
        for mode in ("before", "after"):
            data_mod.DENSITY_BESIDE = charts.MERGE_CELLS = mode == "after"
            with Session(engine) as session:
                t0, c0 = time.perf_counter(), cpu()
                data = report_data(session, SYSTEM, DENSE_PROVINCE, PERIOD)
                t1, c1 = time.perf_counter(), cpu()
                if mode == "after":
                    (w,) = write_formats(data, ["pdf"], out / f"after-{i}")
                    size = w.bytes
                else:
                    size = pdf_before(data, out / f"before-{i}.pdf")
                runs[mode].append((t1 - t0, time.perf_counter() - t1, size, c1 - c0, cpu() - c1))
                session.rollback()
            figures[mode] = (data.figures, [(d.code, d.actual, d.debt) for d in data.distributors],
                             [(c.row, c.col, c.totals) for c in data.density.cells])  # fmt: skip
    data_mod.DENSITY_BESIDE = charts.MERGE_CELLS = True
    show("PDF before (cells one ring each, inline maps, density after gaps)", runs["before"])
    show("PDF after", runs["after"])
    b, a = (statistics.median(r[0] + r[1] for r in runs[m]) for m in ("before", "after"))
    bc, ac = (statistics.median(r[3] + r[4] for r in runs[m]) for m in ("before", "after"))
    print(f"  after / before: wall {a / b:.2f}, client CPU {ac / bc:.2f}; same figures: "
          f"{figures['before'] == figures['after']}")  # fmt: skip


def ranking(engine, *, repeat: int) -> None:
    """The distributor ranking of the province: two statements for every distributor (shipped)
    beside one ``plan_achievement`` and one ``buyer_debt`` per distributor (the naive way, what
    the reports did before), same session, same figures."""
    from geo_crm.analysis.distribution import plan_achievement
    from geo_crm.domain.sales import buyer_debt
    from geo_crm.reports.data import _distributor_figures, _distributor_rows

    f = PERIOD.checked()
    with Session(engine) as session:
        rows = _distributor_rows(session, SYSTEM, DENSE_PROVINCE, f)
        shipped, naive = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fast = _distributor_figures(session, rows, f, f.date_to.year)
            shipped.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        slow = []
        for r in rows:
            plan = plan_achievement(session, r["code"], f.date_to.year, month_to=f.date_to.month)
            owed = buyer_debt(session, r["id"])
            slow.append((sum(p.actual_amount for p in plan.rows), owed["debt"]))
        naive.append(time.perf_counter() - t0)
        session.rollback()
    same = [(d.actual, d.debt) for d in fast] == slow
    print(
        f"  ranking of {len(rows):,} distributors: {statistics.median(shipped) * 1000:7.0f} ms"
        f" (two statements)  vs naive {naive[0] * 1000:7.0f} ms (two calls per distributor);"
        f" same figures: {same}; load {os.getloadavg()[0]:.1f}"
    )


def show(label: str, runs) -> None:
    total = [r[0] + r[1] for r in runs]
    a, b, size, ca, cb = runs[total.index(statistics.median_low(total))]
    print(
        f"  {label:<40} {statistics.median(total):6.2f} s  (figures {a:.2f} s + file {b:.2f} s;"
        f" client CPU {ca:.2f} + {cb:.2f} s)  {mb(size):>9}   "
        f"runs: {', '.join(f'{x:.2f}' for x in total)}; load {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="processes for --level province")
    parser.add_argument("--no-batch", action="store_true")
    parser.add_argument("--pdf-only", action="store_true", help="the province PDF only")
    parser.add_argument("--no-naive", action="store_true", help="skip the (slow) naive PDF")
    parser.add_argument("--keep", help="keep the cluster in this folder (reused with its data)")
    args = parser.parse_args()
    outlets, records = round(1_000_000 * args.scale), round(5_000_000 * args.scale)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gcrm-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    cluster = LocalCluster.for_dir(base / "pg", dbname="bench")
    try:
        url = cluster.ensure_database()
        engine = ready_engine(url)
        with engine.connect() as conn:
            have = conn.scalar(text("SELECT count(*) FROM outlets"))
        if not have:
            t0 = time.perf_counter()
            stages = build(engine, outlets, records, args.seed)
            print(f"built in {time.perf_counter() - t0:.1f} s: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))  # fmt: skip
        plans = add_plans(engine)
        with engine.connect() as conn:
            n_all, n_dense, n_dist = conn.execute(
                text("""
                SELECT (SELECT count(*) FROM outlets),
                       (SELECT count(*) FROM outlets o JOIN regions c ON c.id = o.region_id
                          JOIN regions p ON p.id = c.parent_id WHERE p.code = :p),
                       (SELECT count(*) FROM outlets o JOIN regions c ON c.id = o.region_id
                          JOIN regions p ON p.id = c.parent_id
                         WHERE p.code = :p AND o.tier = 'distributor')"""),
                {"p": DENSE_PROVINCE},
            ).one()
        print(
            f"network: {n_all:,} outlets; Zhejiang {DENSE_PROVINCE}: {n_dense:,} outlets, "
            f"{n_dist:,} distributors; {plans:,} plans added; cores: {os.cpu_count()}, "
            f"load average {os.getloadavg()[0]:.1f} (other users of the machine)"
        )
        out = base / "reports"
        print(f"\nProvince report, Zhejiang (median of {args.repeat}; targets: PDF < 5 s, < 5 MB; "
              "HTML < 3 MB)")  # fmt: skip
        ranking(engine, repeat=args.repeat)
        pdf_before_after(engine, out / "before-after", repeat=args.repeat)
        raster = charts.RASTER_POINTS
        charts.RASTER_POINTS = 10**9  # naive: every outlet its own vector dot
        try:
            if not args.no_naive:
                show("PDF, naive (every outlet a vector dot)",
                     province_report(engine, out / "naive", "pdf", repeat=1))  # fmt: skip
        finally:
            charts.RASTER_POINTS = raster
        if args.pdf_only:
            return
        show("HTML (self-contained)", province_report(engine, out, "html", repeat=1))
        show("XLSX", province_report(engine, out, "xlsx", repeat=1))
        show("GeoPackage", province_report(engine, out, "gpkg", repeat=1))
        if args.no_batch:
            return
        with Session(engine) as session:
            codes = [c for c, _ in regions_of_level(session, SYSTEM, "province")]
        config = Settings.load({}, {"DATABASE_URL": url, "GEO_CRM_AUTO_MIGRATE": False})
        print(f"\n--level province, PDF, {len(codes)} provinces (target < 180 s on 2 cores)")
        for jobs in sorted({1, args.jobs}, reverse=True):
            if jobs == 1:  # the naive sequential run, on the first few provinces only
                sample = codes[:4]
                db = Database(config)
                t0 = time.perf_counter()
                results = run_batch(config, SYSTEM, sample, PERIOD, ["pdf"], out / "seq",
                                    lang="zh", company="", jobs=1, db=db)  # fmt: skip
                took = time.perf_counter() - t0
                db.dispose()
                whole = took / len(sample) * len(codes)
                print(f"  1 process, {len(sample)} provinces: {took:.1f} s "
                      f"→ {whole:.0f} s for all (extrapolated)")  # fmt: skip
                continue
            t0 = time.perf_counter()
            results = run_batch(config, SYSTEM, codes, PERIOD, ["pdf"], out / "level",
                                lang="zh", company="", jobs=jobs)  # fmt: skip
            took = time.perf_counter() - t0
            print(f"  (load average {os.getloadavg()[0]:.1f})")
            sizes = [f[2] for r in results for f in r.files]
            slow = sorted(results, key=lambda r: -r.seconds)[:3]
            print(
                f"  {jobs} processes: {took:.1f} s for {len(results)} provinces, "
                f"{len([r for r in results if r.error])} failed, total {mb(sum(sizes))}, "
                f"largest {mb(max(sizes))}; slowest: "
                + ", ".join(f"{r.code} {r.seconds:.1f} s" for r in slow)
            )
    finally:
        if not args.keep:
            cluster.stop()
            import shutil

            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

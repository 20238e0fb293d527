"""Many regions' reports in one run (``geo-crm report --level province``), in worker processes.

Writing a report is mostly single-threaded Python (page layout, SVG, workbook), so regions run
in ``jobs`` processes, each with its own database engine (engines never cross a fork: workers
are spawned and open their own). One region failing (a filter naming nothing there, say) is
reported and the run goes on.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ..domain.principal import Principal
from ..errors import GeoCrmError
from ..settings import Settings
from .data import ReportFilters


@dataclass
class RegionResult:
    code: str
    seconds: float
    files: list[tuple[str, str, int]]  # (format, path, bytes)
    error: str | None = None


_db = None  # the worker process's Database


def _init(settings: Settings) -> None:
    global _db
    from ..db import Database

    _db = Database(settings.replace(auto_migrate=False))


def _one(code: str, user: Principal, filters, formats, out_dir: str, lang, company, zone, db=None):
    from . import build_report

    started = time.perf_counter()
    session = (db or _db).session()
    try:
        outcome = build_report(
            session,
            user,
            code,
            filters,
            formats,
            Path(out_dir),
            lang=lang,
            company=company,
            zone=zone,
        )
        files = [(w.fmt, str(w.path), w.bytes) for w in outcome.files]
        return RegionResult(code, time.perf_counter() - started, files)
    except GeoCrmError as exc:
        return RegionResult(code, time.perf_counter() - started, [], exc.message)
    finally:
        session.rollback()
        session.close()


def run_batch(
    settings: Settings,
    user: Principal,
    codes: Sequence[str],
    filters: ReportFilters | None,
    formats: Sequence[str],
    out_dir: Path,
    *,
    lang: str,
    company: str,
    jobs: int = 1,
    db=None,
    on_done: Callable[[RegionResult], None] | None = None,
) -> list[RegionResult]:
    """Every region's report; ``jobs`` > 1 runs regions in that many spawned processes
    (``db``: the Database to use in this process when ``jobs`` is 1)."""
    done = on_done or (lambda r: None)
    results: list[RegionResult] = []
    args = (filters, tuple(formats), str(out_dir), lang, company, settings.timezone)
    if jobs <= 1:
        for code in codes:
            r = _one(code, user, *args, db=db)
            results.append(r)
            done(r)
        return results
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init, initargs=(settings,)
    ) as pool:
        pending = {pool.submit(_one, code, user, *args) for code in codes}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                r = future.result()
                results.append(r)
                done(r)
    order = {c: i for i, c in enumerate(codes)}
    return sorted(results, key=lambda r: order[r.code])

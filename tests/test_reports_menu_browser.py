"""The "Download report" menu in headless Chromium: a signed-in manager opens it on the region
page, picks a format and builds the report; the page shows the job's percent and stage while a
worker (a thread of this test) builds it, then the link, and the file downloads.

The worker reads committed data, so the app runs on a database of its own on the test cluster
(as in test_report_jobs.py), served by werkzeug from a thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

import pytest
from auth_helpers import PASSWORD
from browser_helpers import ARGS, CHROMIUM, serving
from open_connections import close_leftovers
from report_helpers import build_world
from sqlalchemy import create_engine

from geo_crm import create_app
from geo_crm.db import get_db, ready_engine
from geo_crm.jobs import runtime
from geo_crm.jobs.queue import QUEUE, make_app
from geo_crm.settings import settings_of

pytestmark = pytest.mark.browser

DB = "geo_crm_report_menu_test"


@pytest.fixture
def live(pg_cluster, tmp_path):
    """The app on a database of its own. Its teardown runs after the worker's (which uses
    it) and after the test's server has stopped, so nothing uses the database any more: it
    proves so (no connection checked out of the app's pool, none open anywhere in this
    process once the pool is disposed) before dropping it — a connection left open would
    otherwise be found by the garbage collector in some later test, as a ResourceWarning."""
    admin = create_engine(pg_cluster.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB}")
        conn.exec_driver_sql(f"CREATE DATABASE {DB}")
    url = pg_cluster.url.replace("/geo_crm_test?", f"/{DB}?")
    engine = ready_engine(url)
    with engine.begin() as conn:
        build_world(conn)
    engine.dispose()
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "t", "GEO_CRM_VAR_DIR": tmp_path,
         "GEO_CRM_AUTH_REQUIRED": True}
    )  # fmt: skip
    problems = []
    try:
        yield app, url
    finally:
        db = get_db(app)
        if db._engine is not None and db._engine.pool.checkedout():
            problems.append(f"{db._engine.pool.checkedout()} connection(s) still checked out")
        db.dispose()  # closes the pool's connections: every one is back in it by now
        problems += close_leftovers(DB)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.dispose()
    assert not problems, "connections to the test's database left open:\n" + "\n".join(problems)


@pytest.fixture
def worker(live, monkeypatch):
    """One procrastinate worker, in a thread, draining the queue until the test ends; its
    first progress report waits for ``resume`` (so the page can be seen mid-job). Stopped by
    cancelling it, which procrastinate turns into a graceful stop (a running job finishes),
    then joined: nothing of it runs once the fixture is done. (It used to be started again
    every 0.3 s with ``wait=False``, each time opening and closing a pool of connections.)"""
    app, url = live
    monkeypatch.setattr(runtime, "_current", None)  # the next test finds the runtime it had
    rt = runtime.configure(get_db(app), settings_of(app))
    paused, resume, stop = threading.Event(), threading.Event(), threading.Event()

    def hold(job_id, percent, stage):
        if not paused.is_set():
            paused.set()
            resume.wait(30)

    rt.on_progress.append(hold)
    queue = make_app(url)
    failed: list[BaseException] = []

    async def work():
        async with queue.open_async():
            task = asyncio.ensure_future(
                queue.run_worker_async(
                    queues=[QUEUE], install_signal_handlers=False, fetch_job_polling_interval=0.3
                )
            )
            while not stop.is_set() and not task.done():
                await asyncio.sleep(0.1)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def run():
        try:
            asyncio.run(work())
        except BaseException as exc:  # noqa: BLE001 - reported by the fixture, in this test
            failed.append(exc)

    thread = threading.Thread(target=run, name="report-worker", daemon=True)
    thread.start()
    yield paused, resume
    resume.set()
    stop.set()
    thread.join(120)
    assert not thread.is_alive(), "the report worker did not stop"
    assert not failed, failed


def test_download_report_menu_builds_and_fetches_the_file(live, worker):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    app, _ = live
    paused, resume = worker
    errors, outside = [], []
    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(accept_downloads=True, locale="en-US")
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                if r.request.url.startswith(base + "/"):
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()

            page.route("**/*", route)
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "rmanager_p")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/regions/RP?lang=en&from=2025-01-01&to=2025-12-31&cell_km=10")
            page.click("#report-open")
            page.check("input[name=format][value=xlsx]")
            page.click("#report-start")

            assert paused.wait(60), "the worker did not start the job"
            page.wait_for_function(
                "() => { const t = document.getElementById('report-percent').textContent;"
                " return t !== '0%' && t !== '100%'; }"
            )
            mid = page.evaluate(
                "() => [document.getElementById('report-percent').textContent,"
                " document.getElementById('report-stage').textContent,"
                " document.getElementById('report-progress').value]"
            )
            assert mid[0].endswith("%") and 0 < mid[2] < 100 and mid[1], mid
            page.screenshot(path="/tmp/report-menu-progress.png")
            resume.set()

            page.wait_for_selector("#report-link", state="visible", timeout=120_000)
            assert page.text_content("#report-percent") == "100%"
            assert page.text_content("#report-stage") == "Done"
            assert page.text_content("#report-link").startswith("Report ready: RP_Test_Province")
            with page.expect_download() as download:
                page.click("#report-link")
            path = download.value.path()
            assert Path(path).read_bytes()[:2] == b"PK"
            assert download.value.suggested_filename.endswith(".xlsx")
            page.screenshot(path="/tmp/report-menu-done.png")

            page.set_viewport_size({"width": 375, "height": 800})
            page.click("#report-open")  # closed, then open again: the panel fits a phone
            page.click("#report-open")
            box = page.locator("#report-menu .panel").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375, box
            page.screenshot(path="/tmp/report-menu-375.png")
        finally:
            browser.close()
    assert not errors, errors
    assert all("tile.openstreetmap.org" in u for u in outside), outside[:5]

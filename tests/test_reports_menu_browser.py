"""The "Download report" menu in headless Chromium: a signed-in manager opens it on the region
page, picks a format and builds the report; the page shows the job's percent and stage while a
worker (a thread of this test) builds it, then the link, and the file downloads.

The worker reads committed data, so the app runs on a database of its own on the test cluster
(as in test_report_jobs.py), served by werkzeug from a thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from auth_helpers import PASSWORD
from browser_helpers import ARGS, CHROMIUM, serving
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
    try:
        yield app, url
    finally:
        get_db(app).dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def worker(live):
    """A worker thread draining the queue until the test ends; its first progress report
    waits for ``resume`` (so the page can be seen mid-job)."""
    app, url = live
    rt = runtime.configure(get_db(app), settings_of(app))
    paused, resume, stop = threading.Event(), threading.Event(), threading.Event()

    def hold(job_id, percent, stage):
        if not paused.is_set():
            paused.set()
            resume.wait(30)

    rt.on_progress.append(hold)
    queue = make_app(url)

    def run():
        while not stop.is_set():
            queue.run_worker(queues=[QUEUE], wait=False, install_signal_handlers=False)
            stop.wait(0.3)

    thread = threading.Thread(target=run, name="report-worker", daemon=True)
    thread.start()
    yield paused, resume
    resume.set()
    stop.set()
    thread.join(60)


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

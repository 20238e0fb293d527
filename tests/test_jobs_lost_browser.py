"""The "Download report" menu in headless Chromium when the worker building the report dies: the
page, polling, says in the reader's language that the worker stopped and to ask again, the button
works again, and asking again queues a new job.

The worker's death is written the way a killed one leaves it (registered, the entry taken, the
job claimed, then no heartbeat for longer than GEO_CRM_WORKER_LOST_SECONDS); a real worker
process killed with SIGKILL is in tests/test_jobs_lost_worker.py. The page polls committed data,
so the app runs on a database of its own on the test cluster, served by werkzeug from a thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from auth_helpers import PASSWORD
from browser_helpers import ARGS, CHROMIUM, serving
from report_helpers import build_world
from sqlalchemy import create_engine, text

from geo_crm import create_app
from geo_crm.db import get_db, ready_engine

pytestmark = pytest.mark.browser

DB = "geo_crm_lost_menu_test"


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
         "GEO_CRM_AUTH_REQUIRED": True, "GEO_CRM_WORKER_LOST_SECONDS": 20}
    )  # fmt: skip
    try:
        yield app
    finally:
        get_db(app).dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.dispose()


def _worker_dies_building_the_job(engine) -> int:
    """A worker takes the waiting job, starts it, and is killed; a minute passes."""
    with engine.begin() as conn:
        worker = conn.execute(
            text("SELECT worker_id FROM jobs.procrastinate_register_worker_v1()")
        ).scalar_one()
        entry = conn.execute(
            text("SELECT id FROM jobs.procrastinate_fetch_job_v2(ARRAY['reports'], :w)"),
            {"w": worker},
        ).scalar_one()
        job = conn.execute(
            text(
                "UPDATE jobs.report_jobs SET state = 'running', percent = 1, stage = 'started', "
                "started_at = now() WHERE queue_job_id = :e RETURNING id"
            ),
            {"e": entry},
        ).scalar_one()
        conn.execute(
            text(
                "UPDATE jobs.procrastinate_workers "
                "SET last_heartbeat = now() - interval '1 minute' "
                "WHERE id = :w"
            ),
            {"w": worker},
        )
    return job


def test_the_menu_says_the_worker_stopped_and_the_report_can_be_asked_again(live):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    app = live
    engine = get_db(app).engine
    errors, outside = [], []
    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
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
            page.goto(f"{base}/regions/RP?lang=zh&from=2025-01-01&to=2025-12-31&cell_km=10")
            page.click("#report-open")
            page.check("input[name=format][value=xlsx]")
            with page.expect_response(lambda r: r.url.endswith("/report-jobs")) as queued:
                page.click("#report-start")
            first = queued.value.json()
            assert first["state"] == "queued"
            assert page.is_disabled("#report-start")

            assert _worker_dies_building_the_job(engine) == first["id"]
            page.wait_for_selector("#report-error", state="visible", timeout=30_000)
            message = page.text_content("#report-error")
            assert message == (
                "报告生成失败：生成此报告的后台任务进程在完成前已停止：请重新申请报告。"
            ), message
            assert page.text_content("#report-stage") == "失败"
            assert page.is_enabled("#report-start")
            box = page.locator("#report-menu .panel").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375, box
            page.screenshot(path="/tmp/report-menu-worker-lost-375.png")

            with page.expect_response(lambda r: r.url.endswith("/report-jobs")) as again:
                page.click("#report-start")
            second = again.value.json()
            assert second["id"] != first["id"] and second["state"] == "queued"
            assert page.is_hidden("#report-error")
            assert page.text_content("#report-stage") == "等待后台任务"
        finally:
            browser.close()
    assert not errors, errors
    assert all("tile.openstreetmap.org" in u for u in outside), outside[:5]

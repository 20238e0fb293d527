"""Region reports over the API (#15): a small region's file in the request, a large one (and
every POST) as a background job polled to its file; 404 out of scope, 422 naming the parameter,
jobs seen by their owner only, the same unfinished request answered with the same job."""

from __future__ import annotations

import openpyxl
import pytest
from auth_helpers import add_token, token_client
from report_helpers import PERIOD

from geo_crm.jobs import delivery
from geo_crm.jobs.store import REPORT_JOBS

pytest_plugins = ["report_fixtures"]

PERIOD_Q = f"date_from={PERIOD[0]}&date_to={PERIOD[1]}&cell_km=10"


@pytest.fixture
def clients(app, connection, report_world):
    ids = report_world
    return {role: token_client(app, add_token(connection, ids[role])) for role in ids}


def _error(response) -> dict:
    return response.get_json()["error"]


def test_a_small_region_is_answered_with_its_file(clients):
    r = clients["m_all"].get(f"/api/v1/regions/RP/report?format=xlsx&lang=en&{PERIOD_Q}")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype.startswith("application/vnd.openxmlformats")
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "RP_Test_Province" in disposition
    assert r.data[:2] == b"PK"


def test_a_pdf_of_a_distributors_territory(clients):
    r = clients["m_in"].get(f"/api/v1/distributors/D1/report?format=pdf&{PERIOD_Q}")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/pdf" and r.data[:5] == b"%PDF-"
    assert "RC1" in r.headers["Content-Disposition"] and "D1" in r.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("format=docx", "query.format"),
        ("", "query.format"),
        ("format=pdf&tier=boss", "query.tier.0"),
        ("format=pdf&date_from=2025-05-01&date_to=2025-01-01", "query.date_to"),
        ("format=pdf&radius_km=-1", "query.radius_km"),
        ("format=pdf&cell_km=x", "query.cell_km"),
        ("format=pdf&distributor=NOPE", "query.distributor"),
        ("format=pdf&measure=weight", "query.measure"),
        ("format=pdf&colour=red", "query.colour"),
    ],
)
def test_bad_format_or_filter_is_a_422_naming_the_parameter(clients, query, field):
    r = clients["m_all"].get(f"/api/v1/regions/RP/report?{query}")
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert field in _error(r)["fields"], _error(r)


def test_a_region_or_distributor_out_of_scope_is_unknown(clients):
    assert clients["m_in"].get("/api/v1/regions/RP/report?format=pdf").status_code == 404
    assert clients["m_in"].get("/api/v1/regions/RQ/report?format=pdf").status_code == 404
    assert clients["m_in"].get("/api/v1/distributors/D2/report?format=pdf").status_code == 404
    r = clients["m_in"].post("/api/v1/regions/RP/report-jobs", json={"format": "pdf"})
    assert r.status_code == 404
    assert clients["rep"].get("/api/v1/regions/RC1/report?format=pdf").status_code == 403


def test_a_large_region_becomes_a_job_polled_to_its_file(
    clients, connection, app, settings_override, tmp_path, monkeypatch
):
    monkeypatch.setattr(delivery, "INLINE_OUTLETS", 5)  # RP holds 23 outlets
    settings_override(app, var_dir=tmp_path)
    manager = clients["m_all"]
    r = manager.get(f"/api/v1/regions/RP/report?format=xlsx&lang=zh&{PERIOD_Q}")
    assert r.status_code == 202, r.get_data(as_text=True)[:300]
    job = r.get_json()
    assert r.headers["Location"] == job["url"] == f"/api/v1/report-jobs/{job['id']}"
    assert (job["state"], job["percent"], job["region_code"], job["format"]) == (
        "queued", 0, "RP", "xlsx",
    )  # fmt: skip
    assert job["file_url"] is None
    again = manager.get(f"/api/v1/regions/RP/report?format=xlsx&lang=zh&{PERIOD_Q}")
    assert again.status_code == 202 and again.get_json()["id"] == job["id"]  # no second job
    assert manager.get(job["url"]).get_json()["state"] == "queued"
    assert manager.get(f"{job['url']}/file").status_code == 404  # not done yet
    assert clients["m_in"].get(job["url"]).status_code == 404  # somebody else's job
    assert clients["admin"].get(job["url"]).status_code == 200

    # what a worker does (tests/test_report_jobs.py runs real workers on committed data)
    out = tmp_path / "reports" / str(job["id"])
    out.mkdir(parents=True)
    (out / "RP_测试省.xlsx").write_bytes(_workbook())
    connection.execute(
        REPORT_JOBS.update()
        .where(REPORT_JOBS.c.id == job["id"])
        .values(state="done", percent=100, stage="done", file_name="RP_测试省.xlsx")
    )
    done = manager.get(job["url"]).get_json()
    assert done["state"] == "done" and done["file_url"] == f"{job['url']}/file"
    f = manager.get(done["file_url"])
    assert f.status_code == 200 and f.data[:2] == b"PK"
    assert "filename*=UTF-8''RP_%E6%B5%8B" in f.headers["Content-Disposition"]
    f.close()
    assert clients["m_in"].get(done["file_url"]).status_code == 404


def test_post_always_queues_and_a_user_has_few_unfinished_jobs(clients, monkeypatch):
    monkeypatch.setattr(delivery, "MAX_UNFINISHED", 2)
    manager = clients["m_in"]
    body = {"format": "pdf", "date_from": "2025-01-01", "date_to": "2025-12-31"}
    first = manager.post("/api/v1/regions/RC1/report-jobs", json=body)
    assert first.status_code == 202, first.get_data(as_text=True)[:300]
    territory = manager.post("/api/v1/distributors/D1/report-jobs", json=body | {"lang": "en"})
    assert territory.status_code == 202
    assert territory.get_json()["region_code"] == "RC1" and territory.get_json()["lang"] == "en"
    same = manager.post("/api/v1/regions/RC1/report-jobs", json=body)
    assert same.get_json()["id"] == first.get_json()["id"]
    third = manager.post("/api/v1/regions/RC1/report-jobs", json=body | {"format": "gpkg"})
    assert third.status_code == 429 and _error(third)["code"] == "too_many_jobs"
    bad = manager.post("/api/v1/regions/RC1/report-jobs", json={"format": "pdf", "tier": ["x"]})
    assert bad.status_code == 422 and "body.tier.0" in _error(bad)["fields"]
    bad = manager.post(
        "/api/v1/regions/RC1/report-jobs", json={"format": "pdf", "date_from": "2025-13-01"}
    )
    assert bad.status_code == 422 and "body.date_from" in _error(bad)["fields"]


def _workbook() -> bytes:
    import io

    wb = openpyxl.Workbook()
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_region_and_distributor_pages_offer_the_report_menu(app, report_world):
    from auth_helpers import signed_in_client

    browser = signed_in_client(app, "rmanager_c1")
    page = browser.get("/regions/RC1?lang=en&from=2025-01-01&to=2025-12-31&tier=retail")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:500]
    assert 'data-jobs="/api/v1/regions/RC1/report-jobs"' in html
    assert "Download report" in html and "report_menu.js" in html
    assert "&#34;date_from&#34;: &#34;2025-01-01&#34;" in html or "2025-01-01" in html
    page = browser.get("/distributors/D1?lang=zh")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:500]
    assert 'data-jobs="/api/v1/distributors/D1/report-jobs"' in html and "下载报告" in html
    # the page's own client (cookie + CSRF header) queues a job
    r = browser.post(
        "/api/v1/distributors/D1/report-jobs",
        json={"format": "xlsx"},
        headers={"X-CSRFToken": browser.csrf},
    )
    assert r.status_code == 202, r.get_data(as_text=True)[:300]
    refused = browser.post("/api/v1/distributors/D1/report-jobs", json={"format": "xlsx"})
    assert refused.status_code == 400  # no CSRF token

"""Report jobs after they finish (#15): files kept GEO_CRM_REPORT_RETENTION_HOURS then deleted
(the job expired, its link 410 Gone), failures read in the reader's language, and jobs asked
for with authentication off (no owner). Workers themselves run in tests/test_report_jobs.py."""

from __future__ import annotations

import os
import time

import pytest
from auth_helpers import add_token, token_client
from report_helpers import PERIOD
from sqlalchemy import text

from geo_crm.domain.principal import SYSTEM, Principal
from geo_crm.errors import NotFound, ValidationError
from geo_crm.i18n import Translator
from geo_crm.jobs import delivery, failures
from geo_crm.jobs.cleanup import clean_reports
from geo_crm.jobs.store import REPORT_JOBS, report_job
from geo_crm.settings import settings_of

pytest_plugins = ["report_fixtures"]

PERIOD_Q = f"date_from={PERIOD[0]}&date_to={PERIOD[1]}&cell_km=10"


@pytest.fixture
def clients(app, connection, report_world):
    ids = report_world
    return {role: token_client(app, add_token(connection, ids[role])) for role in ids}


def _job(client, region="RP", fmt="xlsx") -> dict:
    r = client.post(f"/api/v1/regions/{region}/report-jobs", json={"format": fmt})
    assert r.status_code == 202, r.get_data(as_text=True)[:300]
    return r.get_json()


def _finish(connection, base, job_id, *, hours_ago: float, name="r.xlsx") -> None:
    """What a worker does, ``hours_ago``: the file written, the job done."""
    folder = base / str(job_id)
    folder.mkdir(parents=True)
    (folder / name).write_bytes(b"PK\x03\x04 report")
    connection.execute(
        text(
            "UPDATE jobs.report_jobs SET state = 'done', percent = 100, stage = 'done', "
            "file_name = :n, file_size = 10, "
            "finished_at = now() - make_interval(secs => :h * 3600) WHERE id = :id"
        ),
        {"n": name, "h": hours_ago, "id": job_id},
    )


def _age(path, hours: float) -> None:
    then = time.time() - hours * 3600
    for p in [path, *path.rglob("*")]:
        os.utime(p, (then, then))


# --- retention ----------------------------------------------------------------------------


def test_files_past_the_retention_are_deleted_and_their_jobs_expire(
    clients, connection, session, app, settings_override, tmp_path
):
    settings_override(app, var_dir=tmp_path, report_retention_hours=24)
    base = tmp_path / "reports"
    manager = clients["m_all"]
    old, recent = _job(manager, fmt="xlsx"), _job(manager, fmt="pdf")
    waiting = _job(manager, fmt="gpkg")  # queued: its folder (a worker starting) stays
    _finish(connection, base, old["id"], hours_ago=25)
    _finish(connection, base, recent["id"], hours_ago=1, name="r.pdf")
    (base / str(waiting["id"])).mkdir()
    _age(base / str(waiting["id"]), 48)
    stray = base / "999999"  # a leftover no job owns any more (its user was deleted)
    stray.mkdir()
    (stray / ".part-x.pdf").write_bytes(b"half")
    _age(stray, 30)
    fresh_stray = base / "999998"  # a leftover, but recent: left alone this time
    fresh_stray.mkdir()
    (base / "notes.txt").write_text("not ours")

    cleaned = clean_reports(session, base, 24)
    assert cleaned.expired == [old["id"]]
    assert cleaned.folders == 2 and cleaned.bytes == len(b"PK\x03\x04 report") + len(b"half")
    assert not (base / str(old["id"])).exists() and not stray.exists()
    assert (base / str(recent["id"]) / "r.pdf").is_file()
    assert (base / str(waiting["id"])).is_dir() and fresh_stray.is_dir()
    assert (base / "notes.txt").is_file()

    gone = manager.get(old["url"]).get_json()
    assert gone["state"] == "expired" and gone["file_url"] is None
    assert gone["error_code"] == "expired"
    r = manager.get(f"{old['url']}/file?lang=en")
    assert r.status_code == 410, r.get_data(as_text=True)[:300]
    error = r.get_json()["error"]
    assert error["code"] == "expired" and error["fields"] == {"job": "expired"}
    assert error["message"] == (
        "This report's file was deleted 24 hours after it was built: ask for the report again."
    )
    r = manager.get(f"{old['url']}/file?lang=zh")
    assert r.status_code == 410 and "24 小时后删除" in r.get_json()["error"]["message"]
    assert clients["m_in"].get(f"{old['url']}/file").status_code == 404  # not theirs
    kept = manager.get(f"{recent['url']}/file")
    assert kept.status_code == 200
    kept.close()

    assert clean_reports(session, base, 24).expired == []  # nothing more to do


def test_geo_crm_report_clean_uses_the_retention_setting(
    clients, connection, app, settings_override, tmp_path, cli
):
    settings_override(app, var_dir=tmp_path, GEO_CRM_REPORT_RETENTION_HOURS="0.5")
    base = tmp_path / "reports"
    job = _job(clients["m_all"])
    _finish(connection, base, job["id"], hours_ago=1)
    result = cli.invoke(args=["report", "clean"])
    assert result.exit_code == 0, result.output
    assert "1 report jobs expired, 1 folders deleted" in result.output
    assert "files of the last 0.5 hours" in result.output
    assert not (base / str(job["id"])).exists()
    state = connection.execute(REPORT_JOBS.select().where(REPORT_JOBS.c.id == job["id"])).one()
    assert (state.state, state.error_key, state.error_params) == (
        "expired", "expired", {"hours": 0.5},
    )  # fmt: skip
    refused = cli.invoke(args=["report", "clean", "--format", "pdf"])
    assert refused.exit_code == 1 and "report clean takes no options (--format)" in (refused.output)


def test_the_worker_cleans_every_hour_and_recovers_every_minute():
    from geo_crm.jobs.queue import CLEAN_TASK, QUEUE, RECOVER_TASK, make_app

    app = make_app("postgresql+psycopg://u@/db?host=/tmp")
    periodic = {p.task.name: p for p in app.periodic_registry.periodic_tasks.values()}
    assert sorted(periodic) == [CLEAN_TASK, RECOVER_TASK]
    assert {p.task.queue for p in periodic.values()} == {QUEUE}
    assert periodic[CLEAN_TASK].cron == "17 * * * *"
    assert periodic[RECOVER_TASK].cron == "* * * * *"
    assert periodic[RECOVER_TASK].task.queueing_lock == RECOVER_TASK  # one waiting at a time


def test_retention_is_a_setting_of_hours():
    s = settings_of_env({"GEO_CRM_REPORT_RETENTION_HOURS": "72"})
    assert s.report_retention_hours == 72.0
    assert settings_of_env({}).report_retention_hours == 24.0


def settings_of_env(env):
    from geo_crm.settings import Settings

    return Settings.load(env, {"DATABASE_URL": "postgresql+psycopg://u@/db"})


# --- failures in the reader's language ----------------------------------------------------


@pytest.mark.parametrize(
    "error, region, territory, key, en, zh",
    [
        (
            failures.OwnerGone("gone"), "RP", None, "owner_gone",
            "The user who asked for this report no longer exists or is disabled.",
            "申请此报告的用户已不存在或已停用。",
        ),
        (
            NotFound("region RP not found", fields={"region": "not found"}), "RP", None,
            "not_found",
            "Region RP is no longer there or no longer in your scope: ask for another report.",
            "区域 RP 已不存在或已不在您的权限范围内：请申请其他报告。",
        ),
        (
            NotFound("distributor D1 not found", fields={"distributor": "not found"}), "RC1",
            "D1", "not_found",
            "Distributor D1 is no longer there or no longer in your scope: ask for another "
            "report.",
            "经销商 D1 已不存在或已不在您的权限范围内：请申请其他报告。",
        ),
        (
            ValidationError("x", fields={"distributor": "not found", "date_to": "bad"}), "RP",
            None, "invalid",
            "The report's filters are no longer valid (Distributor, Period): change them and "
            "ask again.",
            "报告的筛选条件已失效（经销商、期间）：请修改后重新申请。",
        ),
        (
            RuntimeError("boom"), "RP", None, "internal",
            "The report could not be built because of an internal error: ask again later, or "
            "tell an administrator.",
            "内部错误，报告未能生成：请稍后重试，或联系管理员。",
        ),
    ],
)  # fmt: skip
def test_a_failure_is_stored_as_a_key_and_read_in_either_language(
    error, region, territory, key, en, zh
):
    failure = failures.of_error(error, region, territory)
    assert failure.key == key
    assert failure.english() == en
    assert failures.message(failure.key, failure.params, Translator("en")) == en
    assert failures.message(failure.key, failure.params, Translator("zh")) == zh


def test_an_unknown_key_falls_back_to_the_stored_english():
    assert failures.message("from_the_future", {}, Translator("zh")) is None
    assert failures.message(None, None, Translator("en")) is None


def test_a_failed_job_answers_in_the_readers_language(clients, connection, app, report_world):
    manager = clients["m_all"]
    job = _job(manager)
    failure = failures.of_error(ValidationError("x", fields={"product": "not found"}), "RP", None)
    connection.execute(
        REPORT_JOBS.update()
        .where(REPORT_JOBS.c.id == job["id"])
        .values(
            state="failed",
            stage="failed",
            error=failure.english(),
            error_key=failure.key,
            error_params=failure.params,
        )  # fmt: skip
    )
    en = manager.get(f"{job['url']}?lang=en").get_json()
    assert en["state"] == "failed" and en["error_code"] == "invalid"
    assert en["error"] == (
        "The report's filters are no longer valid (Product): change them and ask again."
    )
    zh = manager.get(f"{job['url']}?lang=zh").get_json()
    assert zh["error"] == "报告的筛选条件已失效（产品）：请修改后重新申请。"
    # without ?lang, the user's saved locale (then the browser's) decides
    connection.execute(
        text("UPDATE users SET locale = 'en' WHERE id = :id"), {"id": report_world["m_all"]}
    )
    assert manager.get(job["url"]).get_json()["error"].startswith("The report's filters")
    # a failure recorded before keys existed reads as it was stored
    connection.execute(
        REPORT_JOBS.update()
        .where(REPORT_JOBS.c.id == job["id"])
        .values(error="internal error", error_key=None, error_params=None)
    )
    old = manager.get(f"{job['url']}?lang=zh").get_json()
    assert old["error"] == "internal error" and old["error_code"] is None


# --- authentication off: jobs without an owner ---------------------------------------------


def test_with_auth_off_a_large_report_is_a_job_without_an_owner(
    app, anon_client, connection, settings_override, tmp_path, monkeypatch, report_world
):
    monkeypatch.setattr(delivery, "INLINE_OUTLETS", 5)  # RP holds 23 outlets
    settings_override(app, auth_required=False, var_dir=tmp_path)
    r = anon_client.get(f"/api/v1/regions/RP/report?format=xlsx&lang=en&{PERIOD_Q}")
    assert r.status_code == 202, r.get_data(as_text=True)[:300]
    job = r.get_json()
    owner = connection.execute(REPORT_JOBS.select().where(REPORT_JOBS.c.id == job["id"])).one()
    assert owner.user_id is None and owner.state == "queued"
    again = anon_client.get(f"/api/v1/regions/RP/report?format=xlsx&lang=en&{PERIOD_Q}")
    assert again.status_code == 202 and again.get_json()["id"] == job["id"]
    assert anon_client.get(job["url"]).get_json()["state"] == "queued"
    _finish(connection, tmp_path / "reports", job["id"], hours_ago=0)
    f = anon_client.get(f"{job['url']}/file")
    assert f.status_code == 200 and f.data[:2] == b"PK"
    f.close()

    # authentication back on: nobody but admins reads it, and a manager's own jobs are theirs
    settings_override(app, auth_required=True)
    manager = token_client(app, add_token(connection, report_world["m_all"]))
    assert manager.get(job["url"]).status_code == 404
    admin = token_client(app, add_token(connection, report_world["admin"]))
    assert admin.get(job["url"]).status_code == 200


def test_an_ownerless_job_is_built_as_the_system(session, report_world):
    from geo_crm.jobs.store import enqueue_report
    from geo_crm.reports.data import ReportFilters

    job_id = enqueue_report(session, SYSTEM, "RP", ReportFilters(), "pdf")
    assert report_job(session, SYSTEM, job_id).user_id is None
    nobody = Principal(None, "anonymous", "manager")  # not the system: still refused
    with pytest.raises(ValidationError) as refused:
        enqueue_report(session, nobody, "RP", ReportFilters(), "pdf")
    assert refused.value.fields == {"user": "required"}
    admin = Principal(report_world["admin"], "radmin", "admin")
    assert report_job(session, admin, job_id).id == job_id
    with pytest.raises(NotFound):
        report_job(session, Principal(report_world["m_all"], "rmanager_p", "manager"), job_id)


def test_settings_of_the_app_carry_the_retention(app):
    assert settings_of(app).report_retention_hours == 24.0


def test_geo_crm_report_clean_deletes_finished_jobs_past_their_retention(
    clients, connection, app, settings_override, tmp_path, cli
):
    """Finished report jobs (done, failed, expired) are deleted once they finished more than
    GEO_CRM_REPORT_JOB_RETENTION_DAYS ago, with any folder left; a queued or running job never
    is, however old; a job within the retention stays (an expired one still answers 410)."""
    settings_override(
        app,
        var_dir=tmp_path,
        GEO_CRM_REPORT_RETENTION_HOURS="1",
        GEO_CRM_REPORT_JOB_RETENTION_DAYS="2",
    )
    base = tmp_path / "reports"
    manager = clients["m_all"]
    jobs = {}
    for name in ("done", "failed", "expired", "recent"):  # one after another: each finished
        jobs[name] = _job(manager)
        if name in ("done", "recent"):  # recent: expired now, listed one more day
            _finish(connection, base, jobs[name]["id"], hours_ago=24 if name == "recent" else 72)
        else:
            connection.execute(
                text(
                    "UPDATE jobs.report_jobs SET state = :s, stage = :s, error_key = :s, "
                    "finished_at = now() - interval '3 days' WHERE id = :id"
                ),
                {"s": name, "id": jobs[name]["id"]},
            )
    jobs["q"], jobs["r"] = _job(manager, fmt="pdf"), _job(manager, fmt="gpkg")
    ids = {name: job["id"] for name, job in jobs.items()}
    assert len(set(ids.values())) == 6
    (base / str(ids["failed"])).mkdir(parents=True)
    (base / str(ids["failed"]) / "half.pdf").write_bytes(b"half")
    connection.execute(
        text(
            "UPDATE jobs.report_jobs SET state = :s, created_at = now() - interval '9 days', "
            "started_at = CASE WHEN :s = 'running' THEN now() - interval '9 days' END, "
            "finished_at = now() - interval '9 days' WHERE id = :id"  # even so: never deleted
        ),
        [{"s": "queued", "id": ids["q"]}, {"s": "running", "id": ids["r"]}],
    )
    result = cli.invoke(args=["report", "clean"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert "3 finished report jobs deleted" in first, result.output
    assert "finished jobs of the last 2 days" in first
    left = dict(connection.execute(select_states(list(ids.values()))).all())
    assert set(left) == {ids["recent"], ids["q"], ids["r"]}
    assert (left[ids["recent"]], left[ids["q"]], left[ids["r"]]) == ("expired", "queued", "running")
    assert not (base / str(ids["done"])).exists() and not (base / str(ids["failed"])).exists()
    assert manager.get(f"{jobs['recent']['url']}/file").status_code == 410
    assert manager.get(f"{jobs['done']['url']}/file").status_code == 404
    assert manager.get(jobs["done"]["url"]).status_code == 404

    again = cli.invoke(args=["report", "clean"])
    assert again.exit_code == 0 and "0 finished report jobs deleted" in again.output


def select_states(job_ids):
    j = REPORT_JOBS.c
    return REPORT_JOBS.select().with_only_columns(j.id, j.state).where(j.id.in_(job_ids))

"""What a worker runs. ``run_report`` builds one report job's file as the user who asked for it
(their scope, their language; the system for a job asked for with authentication off),
recording progress as it goes; the file lands whole in ``<GEO_CRM_VAR_DIR>/reports/<job id>/``
or not at all. A failure is stored as a key and values (``jobs.failures``), read in the
reader's language. ``clean_reports`` (hourly) deletes files past their retention time and old
queue rows; ``recover_jobs`` (every minute) fails or re-queues the jobs of stopped workers."""

from __future__ import annotations

import logging
import shutil
import time

from ..domain.principal import SYSTEM, Principal
from ..errors import GeoCrmError
from ..reports import build_report, company_name, reports_dir
from . import cleanup, failures, lost, runtime, store

LOGGER = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5  # at most two progress writes a second (the stage changes matter)


def run_report(job: int) -> None:
    """The procrastinate task ``geo_crm.report``."""
    rt = runtime.current()
    run_report_job(rt, job)


def clean_reports(timestamp: int) -> None:
    """The periodic procrastinate task ``geo_crm.clean_reports`` (``timestamp``: when it was
    due): delete report files and finished queue rows past
    ``GEO_CRM_REPORT_RETENTION_HOURS`` and finished report jobs past
    ``GEO_CRM_REPORT_JOB_RETENTION_DAYS``, after recovering the jobs of stopped workers."""
    rt = runtime.current()
    session = rt.db.session()
    try:
        cleaned = cleanup.clean(
            session,
            reports_dir(rt.settings),
            rt.settings.report_retention_hours,
            rt.settings.worker_lost_seconds,
            rt.settings.report_job_retention_days,
        )
    finally:
        session.rollback()
        session.close()
    LOGGER.info("report clean (due %s): %s", timestamp, cleaned.summary())


def recover_jobs(timestamp: int) -> None:
    """The periodic procrastinate task ``geo_crm.recover_jobs`` (every minute): fail the report
    jobs of workers that stopped, queue their analyses again (``jobs.lost``)."""
    rt = runtime.current()
    session = rt.db.session()
    try:
        recovered = lost.recover(session, rt.settings.worker_lost_seconds)
        session.commit()
    finally:
        session.rollback()
        session.close()
    if recovered:
        LOGGER.warning("recovered (due %s): %s", timestamp, recovered.summary())


def run_report_job(rt: runtime.Runtime, job_id: int) -> None:
    engine = rt.db.engine
    row = store.claim(engine, job_id)
    if row is None:
        LOGGER.info("report job %s is already finished", job_id)
        return
    out_dir = reports_dir(rt.settings) / str(job_id)
    last = {"t": 0.0, "stage": None}

    def progress(percent: int, stage: str) -> None:
        now = time.monotonic()
        if stage == last["stage"] and now - last["t"] < PROGRESS_EVERY_S:
            return
        last.update(t=now, stage=stage)
        percent = max(1, min(99, int(percent)))
        store.mark(engine, job_id, percent=percent, stage=stage)
        for hook in rt.on_progress:
            hook(job_id, percent, stage)

    session = rt.db.session()
    try:
        user = SYSTEM if row["user_id"] is None else _principal(session, row["user_id"])
        outcome = build_report(
            session,
            user,
            row["region_code"],
            store.decode_filters(row["filters"]),
            [row["format"]],
            out_dir,
            lang=row["lang"],
            company=company_name(rt.settings),
            zone=rt.settings.timezone,
            progress=progress,
            territory_of=row["territory_of"],
        )
        written = outcome.files[0]
        if not store.mark(
            engine,
            job_id,
            state="done",
            percent=100,
            stage="done",
            file_name=written.path.name,
            file_size=written.bytes,
        ):  # failed meanwhile as lost (jobs.lost): the user was told to ask again
            shutil.rmtree(out_dir, ignore_errors=True)
            LOGGER.warning("report job %s was failed as lost before it finished", job_id)
            return
        LOGGER.info("report job %s: %s (%d bytes)", job_id, written.path.name, written.bytes)
    except GeoCrmError as exc:  # the request went stale (scope, filters, data): say why
        shutil.rmtree(out_dir, ignore_errors=True)
        store.fail(engine, job_id, failures.of_error(exc, row["region_code"], row["territory_of"]))
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        store.fail(engine, job_id, failures.Failure("internal"))
        LOGGER.exception("report job %s failed", job_id)
        raise
    finally:
        session.rollback()
        session.close()


def _principal(session, user_id: int) -> Principal:
    """The user as they are now: a disabled user's jobs fail, a changed scope applies. (A job
    without an owner was asked for with authentication off: it is built as the system.)"""
    from ..models import User

    user = session.get(User, user_id)
    if user is None or not user.active:
        raise failures.OwnerGone(
            "the user who asked for this report no longer exists or is disabled"
        )
    return Principal(user.id, user.username, user.role, user.locale, via="job")

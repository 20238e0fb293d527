"""Report jobs: what a user asked for, its state and progress, and the file it wrote.

``enqueue_report`` checks the request at once (the API's access rule and the filters, so a bad
region or filter is a 404/422 to the caller, not a failed job later), then inserts the
``jobs.report_jobs`` row and defers the queue entry **in the caller's transaction**: both are
there after COMMIT, neither after a rollback. ``report_job`` reads a job's state for its owner
(admins see every job; anybody else's is as missing as an unknown one). Workers record
progress with ``mark`` in short transactions of their own, so readers see it while the report
is still being built.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from ..domain.principal import Principal
from ..errors import GeoCrmError, NotFound, ValidationError
from ..i18n import Translator, normalise_lang
from ..reports import MEDIA_TYPES, parse_formats
from ..reports.data import ReportFilters, check_access, territory_of
from . import failures
from .queue import QUEUE, REPORT_TASK, SCHEMA, deferring_app

METADATA = MetaData(schema=SCHEMA)  # not the app's models: migration 0008 owns this schema
REPORT_JOBS = Table(
    "report_jobs",
    METADATA,
    Column("id", BigInteger, primary_key=True),
    Column("queue_job_id", BigInteger),
    Column("user_id", Integer),  # NULL: asked for while GEO_CRM_AUTH_REQUIRED was off
    Column("region_code", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("lang", Text, nullable=False),
    Column("filters", JSONB, nullable=False),
    Column("territory_of", Text),
    Column("state", Text, nullable=False),
    Column("percent", SmallInteger, nullable=False),
    Column("stage", Text),
    Column("file_name", Text),
    Column("file_size", BigInteger),
    Column("error", Text),
    Column("error_key", Text),
    Column("error_params", JSONB(none_as_null=True)),
    Column("created_at", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)
STATES = ("queued", "running", "done", "failed", "expired")


def filters_json(f: ReportFilters) -> dict:
    return {
        "tiers": list(f.tiers),
        "distributor": f.distributor,
        "product": f.product,
        "date_from": f.date_from.isoformat() if f.date_from else None,
        "date_to": f.date_to.isoformat() if f.date_to else None,
        "radius_km": f.radius_km,
        "cell_km": f.cell_km,
        "measure": f.measure,
    }


def filters_from_json(d: dict) -> ReportFilters:
    def day(v):
        return dt.date.fromisoformat(v) if v else None

    return ReportFilters(
        tiers=tuple(d.get("tiers") or ()),
        distributor=d.get("distributor"),
        product=d.get("product"),
        date_from=day(d.get("date_from")),
        date_to=day(d.get("date_to")),
        radius_km=d.get("radius_km"),
        cell_km=d.get("cell_km"),
        measure=d.get("measure") or "amount",
    )


@dataclass
class ReportJob:
    id: int
    state: str
    percent: int
    stage: str | None
    region_code: str
    format: str
    lang: str
    file_name: str | None
    file_size: int | None
    error: str | None
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    user_id: int | None
    error_key: str | None = None
    error_params: dict | None = None

    def message(self, t: Translator) -> str | None:
        """Why the job failed (or expired), in ``t``'s language (the stored English for a
        failure recorded without a key)."""
        if self.error_key is None:
            return self.error
        return failures.message(self.error_key, self.error_params, t) or self.error

    def to_dict(self, t: Translator | None = None) -> dict:
        """The job as the API shows it; ``error`` in ``t``'s language (English without one)."""
        hidden = ("user_id", "error_key", "error_params")
        out = {k: v for k, v in vars(self).items() if k not in hidden}
        for k in ("created_at", "started_at", "finished_at"):
            out[k] = out[k].isoformat() if out[k] else None
        out["error"] = self.message(t or Translator("en"))
        out["error_code"] = self.error_key
        out["media_type"] = MEDIA_TYPES.get(self.format)
        return out


def enqueue_report(
    session: Session,
    user: Principal,
    region_code: str | None,
    filters: ReportFilters | None,
    fmt: str,
    *,
    lang: str = "zh",
    distributor_territory: str | None = None,
) -> int:
    """Queue one report (``fmt``) of ``region_code`` — or of the territory of the distributor
    ``distributor_territory`` — for ``user``; returns the job id. The caller commits.

    A user without an id (the system principal every request acts as while
    ``GEO_CRM_AUTH_REQUIRED`` is off) gets a job without an owner, built with everything in
    view and readable by whoever may read every job (that same principal, admins)."""
    (fmt,) = parse_formats(fmt)[:1]
    lang = normalise_lang(lang) or "zh"
    if user.id is None and not user.is_admin:
        raise ValidationError("a report job belongs to a user", fields={"user": "required"})
    f = filters or ReportFilters()
    if distributor_territory:
        region_code = territory_of(session, user, distributor_territory)
        f = replace(f, distributor=distributor_territory)
    if not region_code:
        raise ValidationError("name a region", fields={"region": "required"})
    check_access(session, user, region_code)
    f = f.checked()
    job_id = session.execute(
        REPORT_JOBS.insert()
        .values(
            user_id=user.id,
            region_code=region_code,
            format=fmt,
            lang=lang,
            filters=filters_json(f),
            territory_of=distributor_territory,
            state="queued",
            percent=0,
            stage="queued",
        )
        .returning(REPORT_JOBS.c.id)
    ).scalar_one()
    queue_id = defer_on_session(session, REPORT_TASK, job=job_id)
    session.execute(
        update(REPORT_JOBS).where(REPORT_JOBS.c.id == job_id).values(queue_job_id=queue_id)
    )
    return job_id


def defer_on_session(session: Session, task_name: str, **kwargs) -> int:
    """Defer a procrastinate job on the session's own connection and transaction."""
    driver = session.connection().connection.driver_connection
    previous = session.execute(text("SELECT current_setting('search_path')")).scalar_one()
    session.execute(
        text("SELECT set_config('search_path', :p, true)"), {"p": f"{SCHEMA}, {previous}"}
    )
    try:
        task = deferring_app().tasks[task_name]
        return task.configure(connection=driver, queue=QUEUE).defer(**kwargs)
    finally:
        session.execute(text("SELECT set_config('search_path', :p, true)"), {"p": previous})


def _job(row) -> ReportJob:
    return ReportJob(
        id=row.id,
        state=row.state,
        percent=row.percent,
        stage=row.stage,
        region_code=row.region_code,
        format=row.format,
        lang=row.lang,
        file_name=row.file_name,
        file_size=row.file_size,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        user_id=row.user_id,
        error_key=row.error_key,
        error_params=row.error_params,
    )


def report_job(session: Session, user: Principal | None, job_id: int) -> ReportJob:
    """A job as its owner (or an admin, or ``None``: the system) sees it; 404 otherwise. A job
    without an owner (asked for with authentication off) is seen by admins and the system."""
    stmt = select(REPORT_JOBS).where(REPORT_JOBS.c.id == job_id)
    if user is not None and not user.is_admin:
        stmt = stmt.where(REPORT_JOBS.c.user_id == user.id)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"report job {job_id} not found", fields={"job": "not found"})
    return _job(row)


class ReportExpired(GeoCrmError):
    """The job's file was deleted after the retention time (``jobs.cleanup``)."""

    status = 410
    code = "expired"


def report_file(
    session: Session, user: Principal | None, job_id: int, base: Path, t: Translator | None = None
) -> Path:
    """The file a finished job wrote: 404 until it is done (or when it is missing), 410 Gone
    once it expired (the message, in ``t``'s language, says to ask again)."""
    job = report_job(session, user, job_id)
    if job.state == "expired":
        raise ReportExpired(
            job.message(t or Translator("en")) or "this report expired: ask for it again",
            fields={"job": "expired"},
        )
    path = base / str(job.id) / (job.file_name or "")
    if job.state != "done" or not job.file_name or not path.is_file():
        raise NotFound(f"report job {job_id} has no file", fields={"job": job.state})
    return path


def claim(engine: Engine, job_id: int) -> dict | None:
    """Mark a queued (or interrupted) job running; None when it is already finished."""
    with engine.begin() as conn:
        row = conn.execute(
            update(REPORT_JOBS)
            .where(REPORT_JOBS.c.id == job_id, REPORT_JOBS.c.state.in_(("queued", "running")))
            .values(state="running", percent=1, stage="started", started_at=func.now())
            .returning(REPORT_JOBS)
        ).first()
    return dict(row._mapping) if row is not None else None


def mark(engine: Engine, job_id: int, **values) -> bool:
    """Record progress or the outcome of a running job in a transaction of its own (readers see
    it at once). False when the job is no longer running: it was failed meanwhile because its
    worker seemed to have stopped (``jobs.lost``), which the user has been told; that stands."""
    if values.get("state") in ("done", "failed"):
        values["finished_at"] = func.now()
    j = REPORT_JOBS.c
    with engine.begin() as conn:
        stmt = update(REPORT_JOBS).where(j.id == job_id, j.state == "running").values(**values)
        return conn.execute(stmt.returning(j.id)).first() is not None


def fail(engine: Engine, job_id: int, failure: failures.Failure) -> None:
    """Record a failed job: the key and values read in the reader's language, the English
    sentence for logs."""
    mark(
        engine, job_id, state="failed", stage="failed", error=failure.english(),
        error_key=failure.key, error_params=failure.params,
    )  # fmt: skip


def decode_filters(raw) -> ReportFilters:
    return filters_from_json(raw if isinstance(raw, dict) else json.loads(raw))

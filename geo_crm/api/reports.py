"""Region reports over HTTP: PDF, self-contained HTML, XLSX, GeoPackage, GeoJSON (zip).

``GET /regions/{code}/report?format=…`` (and ``/distributors/{code}/report`` for a
distributor's territory) answers with the file when the region is small enough to build in the
request (``jobs.delivery.INLINE_OUTLETS``), else **202** with a background job (``Location``:
the job). ``POST …/report-jobs`` always queues a job (the pages use it). Jobs are polled at
``/report-jobs/{id}`` (state, percent, stage) and their file fetched from
``/report-jobs/{id}/file`` once done; ``geo-crm worker`` must run for jobs to finish. A job is
its owner's (admins see all); anybody else's answers 404. A finished file is kept
``GEO_CRM_REPORT_RETENTION_HOURS`` (then 410 Gone). With ``GEO_CRM_AUTH_REQUIRED`` off a job
has no owner and anybody may read it. See docs/reports.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import Response, jsonify, send_file, url_for
from pydantic import Field

from ..analysis.params import LIMITS
from ..auth.policy import current_user
from ..db import get_session
from ..domain.principal import Principal
from ..errors import ValidationError
from ..i18n import LANGS
from ..jobs.delivery import InlineReport, request_report
from ..jobs.lost import check_report_job
from ..jobs.store import ReportJob, report_file, report_job
from ..reports import FORMATS, company_name, reports_dir
from ..reports.data import MEASURES, ReportFilters
from ..settings import current_settings
from ..web.locale import current_translator
from .framework import Body, Query, operation
from .schemas import IsoDate, Tier

TAGS = ["reports"]

Format = Literal[FORMATS]  # type: ignore[valid-type]
Measure = Literal[MEASURES]  # type: ignore[valid-type]
Lang = Literal[LANGS]  # type: ignore[valid-type]
MAX_RADIUS_KM = LIMITS.max_radius_m / 1000.0


class ReportQuery(Query):
    format: Format = Field(description=f"one of {', '.join(FORMATS)}")
    tier: list[Tier] = Field(
        default_factory=list, description="tiers (repeat or comma-separate; default all)"
    )
    distributor: str | None = Field(None, max_length=64, description="only this network")
    product: str | None = Field(None, max_length=64, description="product SKU")
    date_from: dt.date | None = Field(None, description="period start (default: 12 months)")
    date_to: dt.date | None = Field(None, description="period end (inclusive)")
    radius_km: float | None = Field(
        None, gt=0, le=MAX_RADIUS_KM, description="service radius of every chosen tier, km"
    )
    cell_km: float | None = Field(
        None, ge=LIMITS.min_cell_km, le=LIMITS.max_cell_km,
        description="hexagon size, km (default: from the region's size)",
    )  # fmt: skip
    measure: Measure = "amount"
    lang: Lang | None = Field(None, description="language (default: the caller's)")


class ReportJobIn(Body):
    format: Format = Field(description=f"one of {', '.join(FORMATS)}")
    tier: list[Tier] = Field(default_factory=list, description="tiers (default all)")
    distributor: str | None = Field(None, max_length=64)
    product: str | None = Field(None, max_length=64)
    date_from: IsoDate | None = None
    date_to: IsoDate | None = None
    radius_km: float | None = Field(None, gt=0, le=MAX_RADIUS_KM)
    cell_km: float | None = Field(None, ge=LIMITS.min_cell_km, le=LIMITS.max_cell_km)
    measure: Measure = "amount"
    lang: Lang | None = None


def _filters(p: ReportQuery | ReportJobIn) -> ReportFilters:
    return ReportFilters(
        tiers=tuple(p.tier), distributor=p.distributor or None, product=p.product or None,
        date_from=p.date_from, date_to=p.date_to, radius_km=p.radius_km, cell_km=p.cell_km,
        measure=p.measure,
    )  # fmt: skip


def _request(
    p: ReportQuery | ReportJobIn, prefix: str, *, region=None, territory=None, inline: bool
):
    """Ask for the report; a filter's problem names its parameter (``query.x`` / ``body.x``)."""
    user: Principal = current_user()
    settings = current_settings()
    try:
        return request_report(
            get_session(), user, region, _filters(p), p.format,
            lang=p.lang or current_translator().lang, company=company_name(settings),
            distributor_territory=territory, inline=inline, zone=settings.timezone,
        )  # fmt: skip
    except ValidationError as exc:
        exc.fields = {_param(k, prefix): v for k, v in exc.fields.items()}
        raise


_NAMES = {"tier": "tier", "date_to": "date_to", "region": "code", "user": "user"}


def _param(key: str, prefix: str) -> str:
    if key.startswith(("query.", "body.")):
        return key
    return f"{prefix}.{_NAMES.get(key, key)}"


def job_body(job: ReportJob) -> dict:
    """The job as JSON; why it failed or expired in the caller's language."""
    out = job.to_dict(current_translator())
    out["url"] = url_for("api.get_report_job", job_id=job.id)
    out["file_url"] = url_for("api.report_job_file", job_id=job.id) if job.state == "done" else None
    return out


def _answer(result: InlineReport | ReportJob):
    if isinstance(result, InlineReport):
        response = Response(result.content, mimetype=result.media_type)
        response.headers.set("Content-Disposition", "attachment", filename=result.file_name)
        return response
    get_session().commit()  # the job row and its queue entry, together
    response = jsonify(job_body(result))
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_report_job", job_id=result.id)
    return response


_REPORT_RESPONSES = {200: None, 202: None, 404: None, 422: None, 429: None}


@operation(
    "/regions/<code>/report",
    "GET",
    summary="A region's report (file now, or 202 with a background job)",
    tags=TAGS,
    query=ReportQuery,
    responses=_REPORT_RESPONSES,
    produces=["application/pdf", "application/json"],
)
def region_report(code: str, query: ReportQuery):
    """The file when the region is small enough to build in the request; else 202 with the job
    (the same unfinished job when asked again), its URL in ``Location``."""
    return _answer(_request(query, "query", region=code, inline=True))


@operation(
    "/regions/<code>/report-jobs",
    "POST",
    summary="Queue a region's report as a background job",
    tags=TAGS,
    body=ReportJobIn,
    responses={202: None, 404: None, 422: None, 429: None},
)
def create_region_report_job(code: str, body: ReportJobIn):
    """202 with the job (state, percent, stage); poll its ``url``."""
    return _answer(_request(body, "body", region=code, inline=False))


@operation(
    "/distributors/<code>/report",
    "GET",
    summary="A distributor's territory report (file now, or 202 with a background job)",
    tags=TAGS,
    query=ReportQuery,
    responses=_REPORT_RESPONSES,
    produces=["application/pdf", "application/json"],
)
def distributor_report(code: str, query: ReportQuery):
    """The report of the smallest region holding the distributor's geotagged network, filtered
    to that network; as for a region, a file or 202 with a job."""
    return _answer(_request(query, "query", territory=code, inline=True))


@operation(
    "/distributors/<code>/report-jobs",
    "POST",
    summary="Queue a distributor's territory report as a background job",
    tags=TAGS,
    body=ReportJobIn,
    responses={202: None, 404: None, 422: None, 429: None},
)
def create_distributor_report_job(code: str, body: ReportJobIn):
    """202 with the job; poll its ``url``."""
    return _answer(_request(body, "body", territory=code, inline=False))


@operation(
    "/report-jobs/<int:job_id>",
    "GET",
    summary="A report job's state and progress",
    tags=TAGS,
    responses={200: None, 404: None},
)
def get_report_job(job_id: int):
    """``state`` (queued, running, done, failed, expired), ``percent``, ``stage``; ``file_url``
    once done; ``error`` (in the caller's language) and ``error_code`` when failed or expired.
    Another user's job answers 404. A job whose worker stopped (killed, machine restarted) is
    answered failed (``error_code`` ``worker_lost``) once ``GEO_CRM_WORKER_LOST_SECONDS`` passed
    without its heartbeat: ask for the report again."""
    session = get_session()
    job, failed_now = check_report_job(
        session, current_user(), job_id, current_settings().worker_lost_seconds
    )
    if failed_now:
        session.commit()
    return jsonify(job_body(job))


@operation(
    "/report-jobs/<int:job_id>/file",
    "GET",
    summary="The file a finished report job wrote",
    tags=TAGS,
    responses={200: None, 404: None, 410: None},
    produces=["application/pdf", "application/octet-stream"],
)
def report_job_file(job_id: int):
    """The report file (404 until the job is done; 410 Gone once it expired: finished files
    are kept ``GEO_CRM_REPORT_RETENTION_HOURS``, then deleted; ask for the report again)."""
    session = get_session()
    user = current_user()
    path = report_file(session, user, job_id, reports_dir(current_settings()), current_translator())
    job = report_job(session, user, job_id)
    return send_file(
        path,
        mimetype=job.to_dict()["media_type"],
        as_attachment=True,
        download_name=path.name,
        max_age=0,
    )

"""Reports asked for over HTTP: built in the request when the region is small, else a job.

``request_report`` is what the API and the pages call. A region (or a distributor's territory)
whose outlets number at most :data:`INLINE_OUTLETS` is built while the caller waits: such a
report takes a second or two (bench/README.md), well inside a web worker's time. A larger one
becomes a background job (:func:`~geo_crm.jobs.store.enqueue_report`) that ``geo-crm worker``
runs and the caller polls; a province of 100,000 outlets takes seconds to a minute per format,
which must not hold a web worker.

A caller asking again for the same report (same region or territory, format, language and
filters) while their job is still queued or running gets that job back rather than a second
one, and nobody has more than :data:`MAX_UNFINISHED` unfinished jobs (429 beyond): a GET that
queues work, followed from another site or clicked twice, cannot pile jobs up. With
``GEO_CRM_AUTH_REQUIRED`` off every request acts as the system principal (no user id): its
jobs have no owner and count together.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.principal import Principal
from ..domain.regions import region_subtree
from ..errors import GeoCrmError
from ..i18n import normalise_lang
from ..models import Outlet
from ..reports import MEDIA_TYPES, build_report, parse_formats
from ..reports.data import ReportFilters, check_access, territory_of
from .store import REPORT_JOBS, ReportJob, enqueue_report, filters_json, report_job

INLINE_OUTLETS = 10_000  # active outlets of the region: at most this many, built in the request
MAX_UNFINISHED = 5  # queued or running jobs one user may have


class TooManyJobs(GeoCrmError):
    status = 429
    code = "too_many_jobs"


@dataclass
class InlineReport:
    """A report built in the request: its file name, media type and bytes."""

    file_name: str
    media_type: str
    content: bytes


def region_outlets(session: Session, region_code: str) -> int:
    """Active outlets in the region and every region below it (what sizes a report)."""
    tree = region_subtree(region_code, name="report_tree")
    o = Outlet.__table__
    stmt = select(func.count()).where(o.c.region_id.in_(select(tree.c.id)), o.c.status == "active")
    return session.scalar(stmt) or 0


def request_report(
    session: Session,
    user: Principal,
    region_code: str | None,
    filters: ReportFilters | None,
    fmt: str,
    *,
    lang: str,
    company: str = "",
    distributor_territory: str | None = None,
    inline: bool = True,
    zone: str | None = None,
) -> InlineReport | ReportJob:
    """The report of ``region_code`` (or of the distributor ``distributor_territory``'s
    territory) in ``fmt`` as ``user`` sees it: built now when ``inline`` and the region is
    small, else the caller's queued job (new, or the same request's unfinished one). Access and
    filters are checked first (404 out of scope, 422 naming the filter). The caller commits."""
    (fmt,) = parse_formats(fmt)[:1]
    lang = normalise_lang(lang) or "zh"
    f = filters or ReportFilters()
    if distributor_territory:
        region_code = territory_of(session, user, distributor_territory)
        f = replace(f, distributor=distributor_territory)
    if region_code:
        check_access(session, user, region_code)
    f = f.checked()
    if inline and region_code and region_outlets(session, region_code) <= INLINE_OUTLETS:
        with tempfile.TemporaryDirectory(prefix="geo-crm-report-") as tmp:
            outcome = build_report(
                session, user, region_code, f, [fmt], Path(tmp), lang=lang, company=company,
                territory_of=distributor_territory, zone=zone,
            )  # fmt: skip
            written = outcome.files[0]
            return InlineReport(written.path.name, MEDIA_TYPES[fmt], written.path.read_bytes())
    same = _unfinished(session, user, region_code, f, fmt, lang, distributor_territory)
    if same is not None:
        return report_job(session, user, same)
    if _unfinished_count(session, user) >= MAX_UNFINISHED:
        raise TooManyJobs(
            f"you have {MAX_UNFINISHED} reports being built: wait for one to finish",
            fields={"job": "too many unfinished"},
        )
    job_id = enqueue_report(
        session, user, None if distributor_territory else region_code, f, fmt, lang=lang,
        distributor_territory=distributor_territory,
    )  # fmt: skip
    return report_job(session, user, job_id)


def _unfinished(session, user, region_code, f, fmt, lang, territory) -> int | None:
    j = REPORT_JOBS.c
    return session.scalar(
        select(j.id)
        .where(
            _owned_by(user),
            j.state.in_(("queued", "running")),
            j.format == fmt,
            j.lang == lang,
            j.filters == filters_json(f),
            j.territory_of.is_(None) if territory is None else j.territory_of == territory,
            *([j.region_code == region_code] if region_code else []),
        )
        .order_by(j.id.desc())
        .limit(1)
    )


def _unfinished_count(session: Session, user: Principal) -> int:
    j = REPORT_JOBS.c
    stmt = select(func.count()).where(_owned_by(user), j.state.in_(("queued", "running")))
    return session.scalar(stmt) or 0


def _owned_by(user: Principal):
    """The user's jobs; with authentication off (no user id) the jobs without an owner, which
    everybody shares then."""
    j = REPORT_JOBS.c
    return j.user_id.is_(None) if user.id is None else j.user_id == user.id

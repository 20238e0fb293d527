"""How a page view queues the recomputation of a cached analysis: as the signed-in user, at
most ``GEO_CRM_ANALYSIS_JOBS_PER_USER`` of their jobs waiting at once
(:func:`geo_crm.jobs.analyses.enqueue_for`; beyond it the page shows what is kept and says
the analyses are busy)."""

from __future__ import annotations

from ..analysis.cache import Enqueue
from ..auth.policy import current_user
from ..jobs.analyses import enqueue_for
from ..settings import current_settings


def page_enqueue() -> Enqueue:
    """The request's way to queue analysis recomputations (pass as ``enqueue=``)."""
    return enqueue_for(current_user(), current_settings().analysis_jobs_per_user)

"""The home page: every region with its outlets per tier."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..analysis.overviews import home_overview
from ..auth.policy import current_user
from ..db import get_session, health
from ..errors import ServiceUnavailable, error_body
from ..models import TIERS

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """List regions, largest level first, with outlet counts per tier."""
    page = home_overview(get_session(), current_user())
    return render_template(
        "home.html",
        regions=page.regions,
        tiers=TIERS,
        untagged=page.untagged,
        outside=page.outside,
    )


@bp.get("/healthz")
def healthz():
    """Report whether the app's dependencies answer: 200 when all do, else 503."""
    checks = {"database": health.database_status(get_session)}
    if all(state == "ok" for state in checks.values()):
        return {"status": "ok", "checks": checks}
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    body = {
        "status": "unavailable",
        "checks": checks,
        **error_body(ServiceUnavailable.code, f"unavailable: {down}"),
    }
    return body, 503, {"Retry-After": str(ServiceUnavailable.retry_after_s)}

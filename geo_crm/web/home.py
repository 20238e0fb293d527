"""The home page: every region with its outlets per tier."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth.policy import current_user
from ..db import get_session, health
from ..domain.region_counts import region_outlet_counts, untagged_count
from ..errors import ServiceUnavailable, error_body
from ..models import TIERS

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """List regions, largest level first, with outlet counts per tier."""
    session = get_session()
    user = current_user()
    rows = region_outlet_counts(session, user=user)
    order = {"country": 0, "province": 1, "city": 2, "district": 3}
    rows.sort(key=lambda r: (order.get(r.level, 9), -r.total, r.code))
    return render_template(
        "home.html", regions=rows, tiers=TIERS, untagged=untagged_count(session, user=user)
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

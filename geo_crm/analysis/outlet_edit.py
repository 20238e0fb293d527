"""The outlet page with its edit form (issue 13b): the page's overview and the choices the form
offers (the active reps, and the outlet's own rep whoever that is)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..domain.principal import Principal
from ..models import User
from .overviews import OutletOverview, outlet_overview
from .params import MapFilters


@dataclass
class OutletEdit:
    overview: OutletOverview
    reps: list[tuple[int, str]]  # (id, username) to choose the owning rep from


def outlet_edit_page(
    session: Session, user: Principal | None, outlet_id: int, f: MapFilters
) -> OutletEdit:
    """:func:`~geo_crm.analysis.overviews.outlet_overview` and the reps the form offers."""
    overview = outlet_overview(session, user, outlet_id, f)
    u = User.__table__
    current = overview.outlet.get("rep_id")
    stmt = (
        select(u.c.id, u.c.username)
        .where(or_(u.c.role == "rep", u.c.id == current), or_(u.c.active, u.c.id == current))
        .order_by(u.c.username)
    )
    return OutletEdit(overview, [(r.id, r.username) for r in session.execute(stmt)])

"""Who changes outlets: the transaction setting the outlet change history reads.

Migration 0012's trigger writes one ``outlet_changes`` row per changed supplier, status or tier
of every UPDATE of ``outlets``, taking who from ``geo_crm.user_id`` — the setting
:func:`geo_crm.domain.plans.acting_as` sets for the plan history. Every outlet write path
(:func:`geo_crm.domain.outlets.update_outlet`, the outlet import) calls :func:`acting_user`
first, so a transaction never keeps an earlier writer's id; None is the system.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_SET_USER = text("SELECT set_config('geo_crm.user_id', :u, true)")


def acting_user(session: Session, user_id: int | None) -> None:
    """Tell this transaction who writes outlets (None: the system)."""
    session.execute(_SET_USER, {"u": "" if user_id is None else str(int(user_id))})

"""The outlet edit form on the outlet page (issue 13b): name, address, contact, phone, status,
parent and owning rep, written by the API's own ``domain.outlets.update_outlet`` with the
version the page was read at (a stale one changes nothing and the form says so)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ..analysis.outlet_edit import outlet_edit_page
from ..auth.policy import current_user, object_id
from ..db import get_session
from ..domain import outlets as svc
from ..models import OUTLET_STATUSES, TIERS
from .filters import parse_filters
from .forms import CONFLICT, FORM, FormReader, collecting
from .locale import current_translator

bp = Blueprint("outlet_form", __name__)

FIELDS = ("name", "address", "contact", "phone")


def render_outlet(*, errors=None, values=None, status: int = 200):
    """The outlet page with its edit form (refilled with ``values`` after a problem)."""
    t = current_translator()
    f = parse_filters(request.args, t)
    page = outlet_edit_page(get_session(), current_user(), object_id(), f)
    errors = errors or {}
    done = request.args.get("done") == "saved"
    html = render_template(
        "outlet.html",
        **vars(page.overview),
        f=f,
        tiers=TIERS,
        edit=True,
        reps=page.reps,
        statuses=OUTLET_STATUSES,
        errors=errors,
        values=values,
        saved=t("The outlet was saved.") if done else None,
        form_error=errors.get(FORM),
        conflict=errors.get(CONFLICT),
    )
    return html, status


@bp.post("/outlets/<code>/edit")
def edit_outlet(code: str):
    """Change the outlet read at the form's ``version``."""
    t = current_translator()
    form = FormReader(request.form, t)
    version = form.integer("version", required=True)
    changes = {"name": form.string("name", required=True, max_length=200)}
    for name in FIELDS[1:]:
        changes[name] = form.string(name, max_length=500)
    status = request.form.get("status") or ""
    if status not in OUTLET_STATUSES:
        form.errors["status"] = t("Unknown status")
    changes["status"] = status
    rep_raw = form.integer("rep_id") if request.form.get("rep_id") else None
    changes["rep_id"] = rep_raw
    parent_code = form.string("parent_code", max_length=64)
    # the parent is written only when changed: an outlet whose parent lies outside the
    # writer's scope keeps it when the rest of the form is saved
    parent_given = parent_code != (form.string("parent_was", max_length=64) or None)
    errors = form.errors
    saved = False
    if not errors:
        session = get_session()
        renames = {"parent": "parent_code", "lat": FORM, "tier": "parent_code"}
        with collecting(session, errors, t, renames=renames):
            svc.update_outlet(
                session,
                object_id(),
                version=version,
                changes=changes,
                parent_code=parent_code,
                parent_given=parent_given,
                user=current_user(),
            )
            session.commit()
            saved = True
    if not saved:
        refill = None if CONFLICT in errors else request.form
        return render_outlet(errors=errors, values=refill, status=409 if refill is None else 422)
    return redirect(url_for("network_pages.outlet_page", code=code, done="saved") + "#edit")

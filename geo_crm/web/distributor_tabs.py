"""The business tabs of the distributor page and their forms (issue 13b): purchases (sell-in,
a new sale, a payment), plans (plan against actual, the plan form with its schedule and
support lines, copy last month's, history), payments and debt (ageing, credit limit).

``GET /distributors/<code>?tab=…`` renders a tab (the overview tab is the network page's);
every form posts to its own route, which calls ONE domain function — the API's — and on
success redirects back to the tab (post/redirect/get) with a note of what was done; a
problem re-renders the tab with the errors beside the fields (422), nothing written. Plans
carry their ``version`` in a hidden field: a stale one is a conflict the form states, with
the plan as it is now.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for

from .. import i18n
from ..analysis.distributor_tabs import TABS, distributor_tab
from ..analysis.overviews import NotADistributor
from ..auth.policy import current_user, object_id
from ..db import get_session
from ..domain import credit as credit_svc
from ..domain import plans as plan_svc
from ..domain import sales as sales_svc
from ..domain.debt import BUCKETS
from ..errors import NotFound
from ..models import SUPPORT_KINDS
from .forms import CONFLICT, FORM, FormReader, collecting
from .locale import current_translator

bp = Blueprint("distributor_tabs", __name__)

i18n.add_messages(
    "plan_progress",  # the plans tab's progress line: against the whole plan and to date
    {
        "Day {day} of {days}: sell-in is {done} of the whole month's plan, {gone} of the month "
        "gone.": "第 {day}/{days} 天：进货已达全月计划的 {done}，时间进度 {gone}。",
        "Against the {expected} the plan expects by today: {ratio}.": (
            "按计划截至今天应完成 {expected}，实际完成其 {ratio}。"
        ),
        "The plan's schedule expects nothing by today yet.": "按计划进度，截至今天尚无应完成额。",
    },
)

STEP_ROWS = 4  # schedule rows on the plan form (10th, 20th, end, one more)
SUPPORT_ROWS = 3  # empty support lines offered beyond the plan's own
DEFAULT_DAYS = ("10", "20", "")  # "" is the month's last day

DONE = {
    "sale": "The sale was recorded.",
    "sale_flagged": "The sale was recorded and put up for review: over the credit limit.",
    "payment": "The payment was recorded.",
    "plan": "The plan was saved.",
    "copied": "Last month's plans were copied.",
    "credit": "The credit limit was saved.",
}


def _month_arg(t, errors: dict) -> dt.date | None:
    raw = (request.values.get("month") or "").strip()
    if not raw:
        return None
    try:
        return plan_svc.parse_month(raw)
    except Exception:  # noqa: BLE001 - shown beside the month picker
        errors["month"] = t("Enter a month (YYYY-MM)")
        return None


def render_tab(
    code: str,
    tab: str,
    *,
    errors=None,
    values=None,
    status: int = 200,
    plan_id: int | None = None,
    month: dt.date | None = None,
):
    """Render tab ``tab`` of distributor ``code`` (resolved by the access policy); ``errors``
    and ``values`` refill a form that failed."""
    t = current_translator()
    errors = dict(errors or {})
    if tab not in TABS:
        tab = "purchases"
    month = month or _month_arg(t, errors)
    reader = FormReader(request.args, t, {})
    try:
        data = distributor_tab(
            get_session(),
            current_user(),
            object_id(),
            tab,
            month=month,
            plan_id=plan_id or reader.integer("plan"),
            offset=reader.integer("offset", low=0, high=1_000_000) or 0,
        )
    except NotADistributor:
        raise NotFound(t("{code} is not a distributor", code=code)) from None
    done = DONE.get(request.args.get("done", ""))
    html = render_template(
        "distributor_business.html",
        d=data,
        outlet=data.outlet,
        tabs=TABS,
        errors=errors,
        values=values,
        done=t(done) if done else None,
        buckets=BUCKETS,
        month_days=plan_svc.month_days(data.month),
        support_kinds=SUPPORT_KINDS,
        step_rows=STEP_ROWS,
        support_rows=SUPPORT_ROWS,
        default_days=DEFAULT_DAYS,
        today=dt.date.today(),
        form_error=errors.get(FORM),
        conflict=errors.get(CONFLICT),
    )
    return html, status


def _back(code: str, tab: str, done: str, **args):
    return redirect(
        url_for("network_pages.distributor_page", code=code, tab=tab, done=done, **args)
    )


# -- purchases: a new sell-in, a payment ----------------------------------------------------


@bp.post("/distributors/<code>/sales")
def add_sale(code: str):
    """Record a sell-in (the manufacturer's sale to this distributor)."""
    t = current_translator()
    form = FormReader(request.form, t)
    values = {
        "product_sku": form.string("product", required=True, max_length=64),
        "sale_date": form.date("sale_date", required=True),
        "quantity": form.decimal("quantity", required=True, places=3),
        "unit_price": form.decimal("unit_price"),
        "amount": form.decimal("amount"),
        "spec": form.string("spec", max_length=200),
        "reference": form.string("reference", max_length=64),
    }
    errors = form.errors
    row = None
    if not errors:
        session = get_session()
        renames = {"product_sku": "product", "buyer_code": FORM, "amount_paid": "amount"}
        with collecting(session, errors, t, renames=renames):
            row = sales_svc.create_sale(session, buyer_code=code, user=current_user(), **values)
            session.commit()
    if row is None:
        return render_tab(code, "purchases", errors=errors, values=request.form, status=422)
    return _back(code, "purchases", "sale_flagged" if row["flags"] else "sale")


@bp.post("/distributors/<code>/payments")
def add_payment(code: str):
    """Record a payment against one of this distributor's unpaid sell-in records."""
    t = current_translator()
    form = FormReader(request.form, t)
    sale_id = form.integer("sale_id", required=True)
    amount = form.decimal("pay_amount", required=True, positive=True)
    paid_on = form.date("paid_on") or dt.date.today()
    note = form.string("note", max_length=200)
    tab = "payments" if request.form.get("from_tab") == "payments" else "purchases"
    errors = form.errors
    done = False
    if not errors:
        session = get_session()
        renames = {"amount": "pay_amount", "amount_paid": "pay_amount", "paid_on": "paid_on"}
        with collecting(session, errors, t, renames=renames):
            visible = sales_svc.resolve_sale(session, sale_id, user=current_user())
            sale = sales_svc.get_sale(session, sale_id) if visible else None
            if sale is None or sale["buyer_code"] != code or sale["seller_code"] is not None:
                errors["sale_id"] = t("Choose an unpaid sale of this distributor")
            else:
                sales_svc.add_payment(
                    session,
                    sale_id,
                    amount=amount,
                    paid_on=paid_on,
                    note=note,
                    user_id=current_user().id,
                )
                session.commit()
                done = True
    if not done:
        return render_tab(code, tab, errors=errors, values=request.form, status=422)
    return _back(code, tab, "payment")


# -- plans ----------------------------------------------------------------------------------


def _plan_form(form: FormReader, *, new: bool) -> tuple[dict, dict]:
    """(values for the domain, renames from the domain's field names to the inputs)."""
    renames: dict[str, str] = {
        "distributor_code": FORM,
        "product_sku": "product",
        "schedule": "schedule",
        "support": "support",
    }
    steps: list[plan_svc.Step] = []
    for i in range(STEP_ROWS):
        day_raw = (form.form.get(f"step-{i}-day") or "").strip()
        qty = form.decimal(f"step-{i}-quantity", places=3)
        amount = form.decimal(f"step-{i}-amount")
        day = None
        if day_raw:
            day = form.integer(f"step-{i}-day", low=1, high=31)
        if qty is None and amount is None:
            continue
        n = len(steps)
        renames[f"schedule.{n}.by_day"] = f"step-{i}-day"
        renames[f"schedule.{n}.target_quantity"] = f"step-{i}-quantity"
        renames[f"schedule.{n}.target_amount"] = f"step-{i}-amount"
        renames[f"schedule.{n}"] = f"step-{i}-quantity"
        steps.append(plan_svc.Step(day, qty, amount))
    renames["schedule."] = "schedule"
    lines: list[plan_svc.Support] = []
    for i in range(int(form.form.get("support_rows") or SUPPORT_ROWS)):
        if i > 100:
            break
        kind = form.string(f"support-{i}-kind", max_length=32)
        description = form.string(f"support-{i}-description", max_length=500)
        amount = form.decimal(f"support-{i}-amount")
        if not description and amount is None:
            continue
        n = len(lines)
        for part in ("kind", "description", "amount"):
            renames[f"support.{n}.{part}"] = f"support-{i}-{part}"
        lines.append(plan_svc.Support(kind or "other", description or "", amount))
    renames["support."] = "support"
    values = {
        "target_quantity": form.decimal("target_quantity", required=True, places=3),
        "target_amount": form.decimal("target_amount", required=True),
        "support_notes": form.string("support_notes", max_length=2000),
        "schedule": steps,
        "support": lines,
    }
    if new:
        values["product_sku"] = form.string("product", required=True, max_length=64)
    return values, renames


@bp.post("/distributors/<code>/plans")
def create_plan(code: str):
    """A new plan of this distributor for the form's month and product."""
    t = current_translator()
    form = FormReader(request.form, t)
    values, renames = _plan_form(form, new=True)
    month_raw = form.string("month", required=True, max_length=10)
    errors = form.errors
    plan = None
    if not errors:
        session = get_session()
        with collecting(session, errors, t, renames=renames):
            plan = plan_svc.create_plan(
                session, distributor_code=code, month=month_raw, user=current_user(), **values
            )
            session.commit()
    if plan is None:
        return render_tab(code, "plans", errors=errors, values=request.form, status=422)
    return _back(code, "plans", "plan", month=f"{plan['month']:%Y-%m}", plan=plan["id"])


@bp.post("/distributors/<code>/plans/<int:plan_id>")
def update_plan(code: str, plan_id: int):
    """Change a plan read at the form's ``version``; a stale version changes nothing and the
    form says so, showing the plan as it is now."""
    t = current_translator()
    session = get_session()
    plan_id = object_id("plan_id")
    current = plan_svc.get_plan(session, plan_id)
    if current["distributor_code"] != code:
        raise NotFound(f"no plan with id {plan_id} of distributor {code}")
    form = FormReader(request.form, t)
    version = form.integer("version", required=True)
    values, renames = _plan_form(form, new=False)
    errors = form.errors
    plan = None
    if not errors:
        with collecting(session, errors, t, renames=renames):
            plan = plan_svc.update_plan(
                session, plan_id, version=version, user=current_user(), **values
            )
            session.commit()
    if plan is None:
        # a conflict shows the stored plan (the form refilled from it, its new version);
        # other errors refill the form with what was typed
        refill = None if CONFLICT in errors else request.form
        return render_tab(
            code, "plans", errors=errors, values=refill, status=409 if refill is None else 422,
            plan_id=plan_id, month=current["month"],
        )  # fmt: skip
    return _back(code, "plans", "plan", month=f"{plan['month']:%Y-%m}", plan=plan["id"])


@bp.post("/distributors/<code>/plans/copy")
def copy_plans(code: str):
    """Copy this distributor's plans of the month before into the form's month (products
    already planned are skipped)."""
    t = current_translator()
    form = FormReader(request.form, t)
    month_raw = form.string("month", required=True, max_length=10)
    errors = form.errors
    report = None
    if not errors:
        session = get_session()
        with collecting(session, errors, t, renames={"to_month": "month", "from_month": "month"}):
            report = plan_svc.copy_plans(
                session, to_month=month_raw, distributor_code=code, user=current_user()
            )
            session.commit()
    if report is None:
        errors.setdefault(FORM, errors.get("month", t("The plans were not copied.")))
        return render_tab(code, "plans", errors=errors, values=None, status=422)
    return _back(code, "plans", "copied", month=f"{report.to_month:%Y-%m}",
                 copied=report.copied, skipped=len(report.skipped))  # fmt: skip


# -- debt: the credit limit (admins) --------------------------------------------------------


@bp.post("/distributors/<code>/credit")
def set_credit(code: str):
    """Set or (left empty) remove the distributor's credit limit."""
    t = current_translator()
    form = FormReader(request.form, t)
    limit = form.decimal("credit_limit")
    errors = form.errors
    done = False
    if not errors:
        session = get_session()
        with collecting(session, errors, t, renames={"distributor": FORM}):
            credit_svc.set_credit_limit(session, code, limit, user=current_user())
            session.commit()
            done = True
    if not done:
        return render_tab(code, "debt", errors=errors, values=request.form, status=422)
    return _back(code, "debt", "credit")

"""``geo-crm sales|payments|plans|credit|settings|debt|distributors …``: the distributor
business on the command line. Each command calls one domain function; ``--as USERNAME`` acts
as that user (their scope; the plans' history names them), else as the system (an admin)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation

import click
from flask.cli import with_appcontext

from ..db import get_db
from ..domain import credit as credit_svc
from ..domain import distributors as list_svc
from ..domain import plans as plan_svc
from ..domain import sales as sales_svc
from ..domain.debt import BUCKETS, debt_ageing
from ..errors import ValidationError
from .analyse import _fmt, _pct, _table
from .report import _acting

as_option = click.option("--as", "as_user", metavar="USERNAME", help="Act as this user.")


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        raise ValidationError(f"bad --{name} {value!r}", fields={name: "not a number"}) from None
    if not number.is_finite():
        raise ValidationError(f"bad --{name} {value!r}", fields={name: "not a finite number"})
    return number


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"bad --{name} {value!r}", fields={name: "use YYYY-MM-DD"}) from None


def _json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# -- sales and payments ---------------------------------------------------------------------


@click.group("sales", help="Sales records: record one, review flagged ones.")
def sales_group() -> None:
    pass


@sales_group.command("add")
@click.option("--buyer", required=True, metavar="CODE")
@click.option("--seller", metavar="CODE", help="Default: the manufacturer (sell-in).")
@click.option("--product", required=True, metavar="SKU")
@click.option("--date", "sale_date", metavar="YYYY-MM-DD", help="Default: today.")
@click.option("--quantity", required=True)
@click.option("--amount", help="The amount, or give --unit-price.")
@click.option("--unit-price", help="amount = round(quantity × unit price, 2).")
@click.option("--spec")
@click.option("--reference", help="Invoice or delivery number (unique).")
@as_option
@with_appcontext
def sales_add_cmd(
    buyer, seller, product, sale_date, quantity, amount, unit_price, spec, reference, as_user
) -> None:
    """Record a sale (without --seller: the manufacturer's sale to a distributor)."""
    with get_db().session() as session:
        sale = sales_svc.create_sale(
            session,
            seller_code=seller,
            buyer_code=buyer,
            product_sku=product,
            sale_date=_date(sale_date, "date") or dt.date.today(),
            quantity=_decimal(quantity, "quantity"),
            amount=_decimal(amount, "amount"),
            unit_price=_decimal(unit_price, "unit-price"),
            spec=spec,
            reference=reference,
            user=_acting(session, as_user),
        )
        session.commit()
    seller_text = sale["seller_code"] or "manufacturer"
    click.echo(
        f"sale {sale['id']}: {seller_text} → {sale['buyer_code']} {sale['product_sku']} "
        f"{sale['quantity']} for {sale['amount']} ({sale['settlement']})"
    )
    for warning in sales_svc.warnings_of(sale):
        click.echo(f"warning: {warning['message']} ({warning['detail']})", err=True)


@sales_group.command("reviews")
@click.option("--state", type=click.Choice(["pending", "accepted", "rejected"]), default="pending")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@as_option
@with_appcontext
def sales_reviews_cmd(state, limit, as_user) -> None:
    """Flagged sales records in a review state."""
    with get_db().session() as session:
        page = sales_svc.sale_reviews(
            session, user=_acting(session, as_user), state=state, limit=limit
        )
    _table(
        ["id", "date", "buyer", "amount", "flags"],
        [[r["id"], r["sale_date"], r["buyer_code"], r["amount"], ",".join(r["flags"])]
         for r in page.rows],
    )  # fmt: skip
    click.echo(f"{page.total} {state}")


@sales_group.command("review")
@click.argument("sale_id", type=int)
@click.argument("decision", type=click.Choice(["accept", "reject"]))
@click.option("--note")
@as_option
@with_appcontext
def sales_review_cmd(sale_id, decision, note, as_user) -> None:
    """Accept or reject a flagged sales record."""
    with get_db().session() as session:
        user = _acting(session, as_user)
        if sales_svc.resolve_sale(session, sale_id, user=user) is None:
            raise ValidationError(f"no sales record with id {sale_id}", fields={"sale": "unknown"})
        sale = sales_svc.review_sale(session, sale_id, decision, user=user, note=note)
        session.commit()
    click.echo(f"sale {sale_id}: {sale['review_state']}")


@click.group("payments", help="Payments against sales records.")
def payments_group() -> None:
    pass


@payments_group.command("add")
@click.argument("sale_id", type=int)
@click.option("--amount", required=True)
@click.option("--date", "paid_on", metavar="YYYY-MM-DD", help="Default: today.")
@click.option("--note")
@as_option
@with_appcontext
def payments_add_cmd(sale_id, amount, paid_on, note, as_user) -> None:
    """Record a payment; paying more than is owed is refused."""
    with get_db().session() as session:
        user = _acting(session, as_user)
        if sales_svc.resolve_sale(session, sale_id, user=user) is None:
            raise ValidationError(f"no sales record with id {sale_id}", fields={"sale": "unknown"})
        result = sales_svc.add_payment(
            session,
            sale_id,
            amount=_decimal(amount, "amount"),
            paid_on=_date(paid_on, "date") or dt.date.today(),
            note=note,
            user_id=user.id,
        )
        session.commit()
    sale = result["sale"]
    click.echo(
        f"sale {sale_id}: paid {sale['amount_paid']} of {sale['amount']}, {sale['debt']} owed"
    )


# -- plans ----------------------------------------------------------------------------------


@click.group("plans", help="Monthly sales plans: list, set, copy, history, close months.")
def plans_group() -> None:
    pass


@plans_group.command("list")
@click.option("--distributor", metavar="CODE")
@click.option("--region", metavar="CODE")
@click.option("--product", metavar="SKU")
@click.option("--month", metavar="YYYY-MM")
@click.option("--json", "as_json", is_flag=True)
@as_option
@with_appcontext
def plans_list_cmd(distributor, region, product, month, as_json, as_user) -> None:
    """Plans with their targets, schedules and support."""
    first = plan_svc.parse_month(month) if month else None
    with get_db().session() as session:
        page = plan_svc.plan_page(
            session,
            plan_svc.PlanFilters(distributor, region, product, first, first),
            user=_acting(session, as_user),
            limit=1000,
        )
    if as_json:
        _json(page.rows)
        return
    _table(
        ["id", "month", "distributor", "product", "quantity", "amount", "schedule", "v"],
        [
            [
                r["id"], r["month"].isoformat()[:7], r["distributor_code"], r["product_sku"],
                r["target_quantity"], r["target_amount"],
                " ".join(f"{s['by_day']}:{s['target_amount'] or s['target_quantity']}"
                         for s in r["schedule"]),
                r["version"],
            ]
            for r in page.rows
        ],
    )  # fmt: skip
    click.echo(f"{page.total} plans, amount {page.target_amount}")


@plans_group.command("set")
@click.option("--distributor", required=True, metavar="CODE")
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--product", required=True, metavar="SKU")
@click.option("--quantity", required=True)
@click.option("--amount", required=True)
@click.option(
    "--by",
    "steps",
    multiple=True,
    metavar="DAY=AMOUNT",
    help="Cumulative amount by a day (repeat; DAY 'end' for the month's end).",
)
@click.option(
    "--support",
    multiple=True,
    metavar="KIND:TEXT[:AMOUNT]",
    help="A support line (promotion, materials, staff, other); repeat.",
)
@click.option("--notes")
@as_option
@with_appcontext
def plans_set_cmd(distributor, month, product, quantity, amount, steps, support, notes, as_user):
    """Create a plan, or change the existing one for that distributor, month and product."""
    schedule = []
    for item in steps:
        day, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(f"bad --by {item!r}", fields={"by": "write DAY=AMOUNT"})
        by_day = None if day.strip().lower() == "end" else int(day)
        schedule.append(plan_svc.Step(by_day, None, _decimal(value, "by")))
    lines = []
    for item in support:
        parts = item.split(":")
        if len(parts) < 2:
            raise ValidationError(f"bad --support {item!r}", fields={"support": "KIND:TEXT"})
        lines.append(
            plan_svc.Support(parts[0], parts[1], _decimal(parts[2], "support") if len(parts) > 2
                             else None)
        )  # fmt: skip
    first = plan_svc.parse_month(month)
    with get_db().session() as session:
        user = _acting(session, as_user)
        found = plan_svc.plan_page(
            session, plan_svc.PlanFilters(distributor, None, product, first, first), user=user
        ).rows
        qty, amt = _decimal(quantity, "quantity"), _decimal(amount, "amount")
        if found:
            plan = plan_svc.update_plan(
                session, found[0]["id"], version=found[0]["version"], target_quantity=qty,
                target_amount=amt, schedule=schedule if steps else None,
                support=lines if support else None,
                **({"support_notes": notes} if notes is not None else {}), user=user,
            )  # fmt: skip
        else:
            plan = plan_svc.create_plan(
                session, distributor_code=distributor, month=first, product_sku=product,
                target_quantity=qty, target_amount=amt, schedule=schedule, support=lines,
                support_notes=notes, user=user,
            )  # fmt: skip
        session.commit()
    click.echo(
        f"plan {plan['id']} {plan['distributor_code']} {plan['month']:%Y-%m} "
        f"{plan['product_sku']}: {plan['target_quantity']} / {plan['target_amount']} "
        f"(version {plan['version']})"
    )


@plans_group.command("copy")
@click.option("--to", "to_month", required=True, metavar="YYYY-MM")
@click.option("--from", "from_month", metavar="YYYY-MM", help="Default: the month before.")
@click.option("--distributor", metavar="CODE")
@click.option("--region", metavar="CODE")
@as_option
@with_appcontext
def plans_copy_cmd(to_month, from_month, distributor, region, as_user) -> None:
    """Copy a month's plans to another month (products already planned are skipped)."""
    with get_db().session() as session:
        report = plan_svc.copy_plans(
            session, to_month=to_month, from_month=from_month, distributor_code=distributor,
            region=region, user=_acting(session, as_user),
        )  # fmt: skip
        session.commit()
    click.echo(
        f"copied {report.copied} plans from {report.from_month:%Y-%m} to {report.to_month:%Y-%m},"
        f" skipped {len(report.skipped)} already planned"
    )
    for s in report.skipped:
        click.echo(f"  skipped {s['distributor_code']} {s['product_sku']}")


@plans_group.command("history")
@click.argument("plan_id", type=int)
@with_appcontext
def plans_history_cmd(plan_id) -> None:
    """Every change of a plan, its schedule and support: who, when, before, after."""
    with get_db().session() as session:
        rows = plan_svc.plan_history(session, plan_id)
    for r in rows:
        click.echo(
            f"{r['changed_at']:%Y-%m-%d %H:%M:%S} {r['user'] or 'system'} {r['action']} "
            f"{r['table_name']} {json.dumps(r['new'] or r['old'], ensure_ascii=False)}"
        )


@plans_group.command("close")
@click.argument("month")
@with_appcontext
def plans_close_cmd(month) -> None:
    """Close MONTH (YYYY-MM): from now on only an admin changes its plans."""
    with get_db().session() as session:
        plan_svc.close_month(session, month, user=None)
        session.commit()
    click.echo(f"closed {plan_svc.parse_month(month):%Y-%m}")


@plans_group.command("reopen")
@click.argument("month")
@with_appcontext
def plans_reopen_cmd(month) -> None:
    """Reopen MONTH (YYYY-MM)."""
    with get_db().session() as session:
        plan_svc.reopen_month(session, month)
        session.commit()
    click.echo(f"reopened {plan_svc.parse_month(month):%Y-%m}")


# -- credit, settings, debt, distributors ---------------------------------------------------


@click.group("credit", help="Credit limits of distributors.")
def credit_group() -> None:
    pass


@credit_group.command("set")
@click.argument("distributor")
@click.argument("limit")
@with_appcontext
def credit_set_cmd(distributor, limit) -> None:
    """Set DISTRIBUTOR's credit limit (LIMIT 'none' removes it)."""
    value = None if limit.strip().lower() == "none" else _decimal(limit, "limit")
    with get_db().session() as session:
        result = credit_svc.set_credit_limit(session, distributor, value, user=None)
        session.commit()
    click.echo(
        f"{result['distributor_code']}: limit {result['credit_limit'] or 'none'}, owes "
        f"{result['debt']} (policy {result['policy']})"
    )


@click.group("settings", help="Business settings (credit_policy: warn | refuse).")
def settings_group() -> None:
    pass


@settings_group.command("list")
@with_appcontext
def settings_list_cmd() -> None:
    """Every setting, its value and choices."""
    with get_db().session() as session:
        rows = credit_svc.list_settings(session)
    for r in rows:
        click.echo(f"{r['key']} = {r['value']}  ({' | '.join(r['choices'])}) {r['doc']}")


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@with_appcontext
def settings_set_cmd(key, value) -> None:
    """Set KEY to VALUE, e.g. ``geo-crm settings set credit_policy refuse``."""
    with get_db().session() as session:
        row = credit_svc.set_setting(session, key, value, user=None)
        session.commit()
    click.echo(f"{row['key']} = {row['value']}")


@click.command("debt")
@click.option("--region", metavar="CODE")
@click.option("--distributor", metavar="CODE")
@click.option("--as-of", metavar="YYYY-MM-DD", help="Count ages to this day (default today).")
@click.option("--level", type=click.Choice(["province", "city", "district"]), default="province")
@click.option("--json", "as_json", is_flag=True)
@as_option
@with_appcontext
def debt_cmd(region, distributor, as_of, level, as_json, as_user) -> None:
    """Debt ageing: what each distributor owes the manufacturer beside what its buyers owe it."""
    with get_db().session() as session:
        result = debt_ageing(
            session, user=_acting(session, as_user), as_of=_date(as_of, "as-of"), region=region,
            distributor=distributor, level=level,
        )  # fmt: skip
    if as_json:
        _json(result.to_dict())
        return
    _table(
        ["distributor", "owed", *BUCKETS, "oldest", "days", "receivable"],
        [
            [r.code, float(r.owed.total), *(float(r.owed.buckets[b]) for b in BUCKETS),
             r.oldest_invoice, (result.as_of - r.owed.oldest).days if r.owed.oldest else None,
             float(r.receivable.total)]
            for r in result.rows
        ],
    )  # fmt: skip
    click.echo(f"\nas of {result.as_of}, by {level}:")
    _table(
        ["region", "distributors", "owed", *BUCKETS],
        [
            [g["code"] or "(none)", g["distributors"], float(g["owed"].total),
             *(float(g["owed"].buckets[b]) for b in BUCKETS)]
            for g in result.by_region
        ],
    )  # fmt: skip


@click.group("distributors", help="The distributor list with its month's figures.")
def distributors_group() -> None:
    pass


@distributors_group.command("list")
@click.option("--q", metavar="TEXT", help="Code, name or pinyin initials (e.g. hdz).")
@click.option("--region", metavar="CODE")
@click.option("--month", metavar="YYYY-MM")
@click.option("--sort", type=click.Choice(list_svc.SORTS), default="code", show_default=True)
@click.option("--desc", is_flag=True)
@click.option("--limit", type=click.IntRange(1, list_svc.MAX_LIMIT), default=50)
@as_option
@with_appcontext
def distributors_list_cmd(q, region, month, sort, desc, limit, as_user) -> None:
    """Distributors with the month's sell-in, sell-out, plan, achievement and debt."""
    with get_db().session() as session:
        page = list_svc.distributor_list(
            session,
            list_svc.DistributorQuery(
                q=q, region=region, month=plan_svc.parse_month(month) if month else None,
                sort=sort, desc=desc, limit=limit,
            ),
            user=_acting(session, as_user),
        )  # fmt: skip
    _table(
        ["code", "name", "sell-in", "sell-out", "plan", "achieved", "debt", "oldest unpaid"],
        [
            [r["code"], r["name"], float(r["sell_in_amount"]), float(r["sell_out_amount"]),
             _fmt(float(r["plan_amount"])) if r["plan_amount"] is not None else None,
             _pct(r["achievement"]), float(r["debt"]), r["oldest_unpaid"]]
            for r in page.rows
        ],
    )  # fmt: skip
    click.echo(f"{page.total} distributors, {page.month:%Y-%m}")


COMMANDS = [
    sales_group,
    payments_group,
    plans_group,
    credit_group,
    settings_group,
    debt_cmd,
    distributors_group,
]

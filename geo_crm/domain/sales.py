"""Products, sales records, payments, debts and the review of flagged records.

The database keeps the money right: a payments trigger adds each payment to the record's
``amount_paid``, the record's CHECK refuses paying more than the amount, and ``debt`` and
``settlement`` are generated columns. A record without a seller is sell-in (进货): the
manufacturer sold to a distributor (docs/business.md); the tier trigger allows that for
distributors only, and the credit trigger flags (or refuses) a sell-in over the distributor's
credit limit. This module only builds statements and names the inputs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    any_,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound, ValidationError
from ..models import REVIEW_STATES, Outlet, Payment, Product, SalesFlagged, SalesRecord, User
from .access import distributor_scope, outlet_scope
from .outlets import contains_text, resolve_outlet, unknown_references
from .principal import Principal
from .regions import region_subtree

LOGGER = logging.getLogger(__name__)

PRODUCTS = Product.__table__
SALES = SalesRecord.__table__
FLAGGED = SalesFlagged.__table__  # the flagged records' ids and review state (migration 0021)
PAYMENTS = Payment.__table__
OUTLETS = Outlet.__table__
_SELLER = OUTLETS.alias("seller")
_BUYER = OUTLETS.alias("buyer")
_REVIEWER = User.__table__.alias("reviewer")

# the words that name the manufacturer as a seller where a seller code is asked for
MANUFACTURER_WORDS = ("manufacturer", "厂家", "厂方", "厂商", "公司", "本公司")

# what a flag code means, for messages and pages (issue 14 adds cross-territory sales here)
FLAG_MESSAGES = {
    "over_credit_limit": "this sale takes the distributor over its credit limit",
    "outside_territory": "the buyer lies outside the territory of the seller's distributor",
    "other_network": "the buyer belongs to another distributor's network",
}


# -- products ------------------------------------------------------------------------------


def product_columns() -> list[ColumnElement]:
    p = PRODUCTS
    return [p.c.id, p.c.sku, p.c.name, p.c.spec, p.c.unit, p.c.active]


def create_product(
    session: Session,
    *,
    sku: str,
    name: str,
    unit: str,
    spec: str | None = None,
    active: bool = True,
) -> dict:
    row = (
        session.execute(
            PRODUCTS.insert()
            .values(sku=sku, name=name, unit=unit, spec=spec, active=active)
            .returning(*product_columns())
        )
        .mappings()
        .one()
    )
    return dict(row)


def select_products(*, q: str | None = None, active: bool | None = None) -> Select:
    p = PRODUCTS
    stmt = select(*product_columns()).order_by(p.c.id)
    if q:
        stmt = stmt.where(contains_text(q, p.c.sku, p.c.name))
    if active is not None:
        stmt = stmt.where(p.c.active.is_(active))
    return stmt


def product_id(session: Session, sku: str, *, field: str = "product") -> int:
    """The id of the product with this SKU; a 422 naming ``field`` when there is none."""
    found = session.scalar(select(PRODUCTS.c.id).where(PRODUCTS.c.sku == sku))
    if found is None:
        raise ValidationError(
            f"no product with SKU {sku!r}", fields={field: f"no product with SKU {sku!r}"}
        )
    return found


def product_unit(session: Session, sku: str) -> str | None:
    """The unit a product's quantities are counted in (None: no such product)."""
    return session.scalar(select(PRODUCTS.c.unit).where(PRODUCTS.c.sku == sku))


def list_products(
    session: Session, *, q: str | None = None, active: bool | None = None
) -> list[dict]:
    """Every product matching ``q`` (SKU or name) and ``active``, by id."""
    return [dict(r) for r in session.execute(select_products(q=q, active=active)).mappings()]


def product_page(
    session: Session, *, q: str | None, active: bool | None, limit: int, offset: int
) -> tuple[list[dict], int]:
    """At most ``limit`` products from ``offset`` (by id) and how many match in all."""
    stmt = select_products(q=q, active=active)
    rows = session.execute(stmt.limit(limit).offset(offset)).mappings().all()
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return [dict(r) for r in rows], total or 0


# -- sales records -------------------------------------------------------------------------


@dataclass
class SalesFilters:
    """Every filter combines with the others (AND)."""

    date_from: dt.date | None = None  # inclusive
    date_to: dt.date | None = None  # inclusive
    seller: str | None = None  # outlet code
    buyer: str | None = None  # outlet code
    product: str | None = None  # SKU
    region: str | None = None  # region code: the buyer lies in it or one of its sub-regions
    unpaid: bool = False  # only records with debt left
    sell_in: bool | None = None  # True: only sales by the manufacturer; False: only by outlets
    distributor: str | None = None  # code: its sell-in (as buyer) and sell-out (as seller)
    review: str | None = None  # review state of flagged records (pending, accepted, rejected)


def sale_columns() -> list[ColumnElement]:
    s = SALES
    return [
        s.c.id,
        s.c.sale_date,
        _SELLER.c.code.label("seller_code"),
        _BUYER.c.code.label("buyer_code"),
        PRODUCTS.c.sku.label("product_sku"),
        s.c.spec,
        s.c.quantity,
        s.c.unit_price,
        s.c.amount,
        s.c.amount_paid,
        s.c.debt,
        s.c.settlement,
        s.c.reference,
        s.c.created_at,
        s.c.flags,
        s.c.review_state,
    ]


def _sales_from():
    s = SALES
    return (
        s.outerjoin(_SELLER, _SELLER.c.id == s.c.seller_id)
        .join(_BUYER, _BUYER.c.id == s.c.buyer_id)
        .join(PRODUCTS, PRODUCTS.c.id == s.c.product_id)
    )


def _sales_conditions(f: SalesFilters) -> list[ColumnElement]:
    s = SALES
    conds: list[ColumnElement] = []
    if f.date_from is not None:
        conds.append(s.c.sale_date >= f.date_from)
    if f.date_to is not None:
        conds.append(s.c.sale_date <= f.date_to)
    if f.seller is not None:
        conds.append(
            s.c.seller_id
            == select(OUTLETS.c.id).where(OUTLETS.c.code == f.seller).scalar_subquery()
        )
    if f.buyer is not None:
        conds.append(
            s.c.buyer_id == select(OUTLETS.c.id).where(OUTLETS.c.code == f.buyer).scalar_subquery()
        )
    if f.product is not None:
        conds.append(
            s.c.product_id
            == select(PRODUCTS.c.id).where(PRODUCTS.c.sku == f.product).scalar_subquery()
        )
    if f.region is not None:
        tree = region_subtree(f.region)
        buyers = select(OUTLETS.c.id).where(OUTLETS.c.region_id.in_(select(tree.c.id)))
        conds.append(s.c.buyer_id.in_(buyers))
    if f.unpaid:
        conds.append(s.c.amount_paid < s.c.amount)
    if f.sell_in is not None:
        conds.append(s.c.seller_id.is_(None) if f.sell_in else s.c.seller_id.is_not(None))
    if f.distributor is not None:
        d = select(OUTLETS.c.id).where(OUTLETS.c.code == f.distributor).scalar_subquery()
        conds.append(or_(s.c.seller_id == d, and_(s.c.seller_id.is_(None), s.c.buyer_id == d)))
    if f.review is not None:
        conds.append(in_review(f.review))
    return conds


def in_review(state: str) -> ColumnElement:
    """The records in review ``state``: their ids read from ``sales_flagged`` (no index of
    sales_records reads the review state, so that a flag or review write can be a HOT
    update) and probed through the primary key, the record's own column kept as the
    condition it stands for. The ids come as one array (``= ANY``): as a join, the planner
    prices tens of thousands of primary-key probes above a scan of every record."""
    flagged = select(func.array_agg(FLAGGED.c.id)).where(FLAGGED.c.review_state == state)
    ids = cast(flagged.scalar_subquery(), ARRAY(BigInteger))
    return and_(SALES.c.id == any_(ids), SALES.c.review_state == state)


def select_sales(filters: SalesFilters, *, after_id: int | None = None) -> Select:
    """Sales records matching ``filters`` in id order (stable pages: new records come last)."""
    conds = _sales_conditions(filters)
    if after_id is not None:
        conds.append(SALES.c.id > after_id)
    return select(*sale_columns()).select_from(_sales_from()).where(*conds).order_by(SALES.c.id)


def sales_visible(outlet_scope: ColumnElement) -> ColumnElement:
    """Records whose seller or buyer satisfies ``outlet_scope`` (a condition on ``outlets``)."""
    visible = select(OUTLETS.c.id).where(outlet_scope)
    return or_(SALES.c.seller_id.in_(visible), SALES.c.buyer_id.in_(visible))


def sales_totals(filters: SalesFilters) -> Select:
    """(count, amount, paid, debt) over every record matching ``filters``."""
    s = SALES
    return select(
        func.count(),
        func.coalesce(func.sum(s.c.amount), 0),
        func.coalesce(func.sum(s.c.amount_paid), 0),
        func.coalesce(func.sum(s.c.debt), 0),
    ).where(*_sales_conditions(filters))


def check_sales_filters(
    session: Session, f: SalesFilters, user: Principal | None = None
) -> dict[str, str]:
    """Filter values that name no row, by field (so a typo is not mistaken for "no sales"); an
    outlet or region outside ``user``'s scope is as unknown as a missing one."""
    problems = unknown_references(
        session, user=user, outlets={"seller": f.seller, "buyer": f.buyer}, region=f.region
    )
    if f.distributor is not None:  # a distributor whose business the user may read
        try:
            resolve_outlet(session, f.distributor, user=user, field="distributor", reading=True)
        except ValidationError as exc:
            problems.update(exc.fields)
    if f.review is not None and f.review not in REVIEW_STATES:
        problems["review"] = f"must be one of {', '.join(REVIEW_STATES)}"
    if f.product is not None:
        try:
            product_id(session, f.product)
        except ValidationError as exc:
            problems.update(exc.fields)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        problems["date_to"] = "must not be before date_from"
    return problems


@dataclass(frozen=True)
class SalesTotals:
    """Over every record matching a filter: how many, sold, paid, still owed."""

    records: int
    amount: Decimal
    paid: Decimal
    debt: Decimal


@dataclass
class SalesPage:
    """A page of sales records (dicts of :func:`sale_columns`), whether more follow, and the
    totals over every matching record (None unless asked for)."""

    rows: list[dict]
    more: bool
    totals: SalesTotals | None = None


def _visible(
    user: Principal | None, filters: SalesFilters | None = None
) -> ColumnElement[bool] | None:
    """Records ``user`` may see (a seller or buyer in their scope); None: every record. The
    records of one distributor (the ``distributor`` filter) are its business, which whoever
    may read that distributor sees whole: for a manager this narrows nothing more (its seller
    or buyer is in scope), and a rep reads their outlets' distributors
    (:func:`~geo_crm.domain.access.distributor_scope`)."""
    if user is None or user.is_admin:
        return None
    if filters is not None and filters.distributor is not None:
        o = OUTLETS
        return (
            select(o.c.id)
            .where(o.c.code == filters.distributor, distributor_scope(user, o))
            .exists()
        )
    return sales_visible(outlet_scope(user, OUTLETS))


def sales_summary(
    session: Session, filters: SalesFilters, *, user: Principal | None = None
) -> SalesTotals:
    """:class:`SalesTotals` over the records matching ``filters`` that ``user`` (None: the
    system) may see."""
    stmt = sales_totals(filters)
    visible = _visible(user, filters)
    if visible is not None:
        stmt = stmt.where(visible)
    return SalesTotals(*session.execute(stmt).one())


def sales_page(
    session: Session,
    filters: SalesFilters,
    *,
    user: Principal | None,
    limit: int,
    offset: int = 0,
    after_id: int | None = None,
    with_totals: bool = True,
) -> SalesPage:
    """At most ``limit`` records matching ``filters`` that ``user`` may see, in id order from
    ``offset`` or after the record ``after_id`` (a cursor), with the totals over all of them.

    Filter values naming nothing (an unknown or out-of-scope outlet, region or product, a
    crossed period) are a 422 by field, unprefixed: a typo is not "no sales"."""
    problems = check_sales_filters(session, filters, user)
    if problems:
        raise ValidationError("unknown filter value", fields=problems)
    stmt = select_sales(filters, after_id=after_id)
    visible = _visible(user, filters)
    if visible is not None:
        stmt = stmt.where(visible)
    rows = session.execute(stmt.limit(limit + 1).offset(offset)).mappings().all()
    totals = sales_summary(session, filters, user=user) if with_totals else None
    return SalesPage([dict(r) for r in rows[:limit]], len(rows) > limit, totals)


def get_sale(session: Session, sale_id: int) -> dict:
    """A sales record with its ``flag_detail`` and review (404 when there is none)."""
    extra = [
        SALES.c.flag_detail,
        SALES.c.reviewed_at,
        SALES.c.review_note,
        _REVIEWER.c.username.label("reviewed_by"),
    ]
    row = (
        session.execute(
            select(*sale_columns(), *extra)
            .select_from(
                _sales_from().outerjoin(_REVIEWER, _REVIEWER.c.id == SALES.c.reviewed_by_id)
            )
            .where(SALES.c.id == sale_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no sales record with id {sale_id}")
    return dict(row)


def resolve_sale(session: Session, sale_id: int, *, user: Principal | None) -> int | None:
    """The record's id when it exists and ``user`` (None: the system) may see it."""
    from .access import resolve
    from .principal import SYSTEM

    return resolve(session, "sale", user or SYSTEM, sale_id)


def is_manufacturer(code: str | None) -> bool:
    """A blank seller, or a word naming the manufacturer (厂家, manufacturer …): sell-in."""
    if code is None or not code.strip():
        return True
    return code.strip().lower() in MANUFACTURER_WORDS


def sale_amount(
    quantity: Decimal, amount: Decimal | None, unit_price: Decimal | None
) -> tuple[Decimal, Decimal | None]:
    """(amount, unit_price) of a record given either or both: amount = round(quantity ×
    unit_price, 2), half away from zero (as PostgreSQL's round); both given must agree."""
    if amount is None and unit_price is None:
        message = "give the amount or the unit price"
        raise ValidationError(message, fields={"amount": message})
    if unit_price is None:
        return amount, None
    computed = (quantity * unit_price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount is not None and amount != computed:
        message = f"{amount} is not quantity × unit_price = {computed}"
        raise ValidationError(message, fields={"amount": message})
    return computed, unit_price


def check_sale_date(sale_date: dt.date, *, field: str = "sale_date") -> None:
    """No sale is dated after today (the database checks it too)."""
    if sale_date > dt.date.today():
        message = f"{sale_date} is in the future"
        raise ValidationError(message, fields={field: message})


def create_sale(
    session: Session,
    *,
    buyer_code: str,
    product_sku: str,
    sale_date: dt.date,
    quantity: Decimal,
    seller_code: str | None = None,
    amount: Decimal | None = None,
    unit_price: Decimal | None = None,
    spec: str | None = None,
    reference: str | None = None,
    user: Principal | None = None,
) -> dict:
    """Record a delivery. No seller (or a word naming the manufacturer) is sell-in: the
    manufacturer sold to a distributor. The database checks that the seller is of a higher tier
    than the buyer (and that only distributors buy from the manufacturer), that the date is
    not in the future, and the distributor's credit limit (a sale over it is refused, or
    stored with the flag ``over_credit_limit`` for review, as the admin's ``credit_policy``
    says). Seller and buyer must both be outlets ``user`` (None: the system) may see."""
    check_sale_date(sale_date)
    amount, unit_price = sale_amount(quantity, amount, unit_price)
    seller_id = None
    if not is_manufacturer(seller_code):
        seller_id = resolve_outlet(session, seller_code, user=user, field="seller_code")
    values = {
        "seller_id": seller_id,
        "buyer_id": resolve_outlet(session, buyer_code, user=user, field="buyer_code"),
        "product_id": product_id(session, product_sku, field="product_sku"),
        "sale_date": sale_date,
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": amount,
        "spec": spec,
        "reference": reference,
    }
    sale_id = session.execute(SALES.insert().values(**values).returning(SALES.c.id)).scalar_one()
    return get_sale(session, sale_id)


def warnings_of(sale: dict) -> list[dict]:
    """The record's flags as warnings to show beside it: code, message and detail."""
    detail = sale.get("flag_detail") or {}
    return [
        {"code": f, "message": FLAG_MESSAGES.get(f, f), "detail": detail.get(f)}
        for f in sale.get("flags") or ()
    ]


# -- review of flagged records -------------------------------------------------------------


@dataclass
class ReviewPage:
    rows: list[dict]
    total: int


def sale_reviews(
    session: Session,
    *,
    user: Principal | None,
    state: str = "pending",
    flag: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> ReviewPage:
    """Flagged records in ``state`` (oldest first) that ``user`` may see, with their flags'
    detail; ``flag`` keeps those carrying that flag code."""
    if state not in REVIEW_STATES:
        raise ValidationError(
            "unknown review state", fields={"state": f"must be one of {', '.join(REVIEW_STATES)}"}
        )
    conds = [in_review(state)]
    if flag is not None:
        conds.append(literal(flag) == any_(SALES.c.flags))
    visible = _visible(user)
    if visible is not None:
        conds.append(visible)
    stmt = (
        select(*sale_columns(), SALES.c.flag_detail, _BUYER.c.name.label("buyer_name"))
        .select_from(_sales_from())
        .where(*conds)
        .order_by(SALES.c.id)
    )
    rows = session.execute(stmt.limit(limit).offset(offset)).mappings().all()
    if visible is None and flag is None:  # every record in the state: the side table's count
        counted = select(func.count()).where(FLAGGED.c.review_state == state)
    else:
        counted = select(func.count()).select_from(SALES).where(*conds)
    total = session.scalar(counted) or 0
    return ReviewPage([dict(r) for r in rows], total)


def review_sale(
    session: Session,
    sale_id: int,
    decision: str,
    *,
    user: Principal | None,
    note: str | None = None,
) -> dict:
    """Accept or reject a flagged record (the record stays: rejecting says it needs undoing,
    e.g. a return or a credit note). A record without flags has nothing to review (409)."""
    state = {"accept": "accepted", "reject": "rejected"}.get(decision)
    if state is None:
        raise ValidationError("unknown decision", fields={"decision": "must be accept or reject"})
    current = session.execute(
        select(SALES.c.review_state).where(SALES.c.id == sale_id).with_for_update()
    ).first()
    if current is None:
        raise NotFound(f"no sales record with id {sale_id}")
    if current.review_state is None:
        raise Conflict("this record has no flags to review", fields={"sale": "not flagged"})
    session.execute(
        SALES.update()
        .where(SALES.c.id == sale_id)
        .values(
            review_state=state,
            reviewed_by_id=user.id if user is not None else None,
            reviewed_at=func.now(),
            review_note=note,
        )
    )
    return get_sale(session, sale_id)


# -- payments and debt ---------------------------------------------------------------------


def payment_columns() -> list[ColumnElement]:
    p = PAYMENTS
    return [p.c.id, p.c.sales_record_id, p.c.paid_on, p.c.amount, p.c.note, p.c.created_at]


def add_payment(
    session: Session,
    sale_id: int,
    *,
    amount: Decimal,
    paid_on: dt.date,
    note: str | None = None,
    user_id: int | None = None,
) -> dict:
    """Record a payment; a trigger raises the record's amount_paid, a CHECK refuses overpaying."""
    if session.scalar(select(SALES.c.id).where(SALES.c.id == sale_id).with_for_update()) is None:
        raise NotFound(f"no sales record with id {sale_id}")
    payment = (
        session.execute(
            PAYMENTS.insert()
            .values(
                sales_record_id=sale_id, amount=amount, paid_on=paid_on, note=note, user_id=user_id
            )
            .returning(*payment_columns())
        )
        .mappings()
        .one()
    )
    return {"payment": dict(payment), "sale": get_sale(session, sale_id)}


def list_payments(session: Session, sale_id: int) -> list[dict]:
    stmt = (
        select(*payment_columns())
        .where(PAYMENTS.c.sales_record_id == sale_id)
        .order_by(PAYMENTS.c.id)
    )
    return [dict(r) for r in session.execute(stmt).mappings()]


def sale_detail(session: Session, sale_id: int) -> dict:
    """A sales record (404 when there is none) with its ``payments``, oldest first."""
    return {**get_sale(session, sale_id), "payments": list_payments(session, sale_id)}


def buyer_debt(session: Session, buyer_id: int) -> dict:
    """What a buyer still owes: in total, per seller (``seller_code`` None: the manufacturer,
    a distributor's sell-in), and since when."""
    s = SALES
    per_seller = (
        session.execute(
            select(
                _SELLER.c.code.label("seller_code"),
                func.count().label("records"),
                func.sum(s.c.debt).label("debt"),
                func.min(s.c.sale_date).label("oldest_unpaid"),
            )
            .select_from(s.outerjoin(_SELLER, _SELLER.c.id == s.c.seller_id))
            .where(s.c.buyer_id == buyer_id, s.c.amount_paid < s.c.amount)
            .group_by(_SELLER.c.code)
            .order_by(_SELLER.c.code.nulls_first())
        )
        .mappings()
        .all()
    )
    sellers = [dict(r) for r in per_seller]
    return {
        "debt": sum((r["debt"] for r in sellers), Decimal("0.00")),
        "unpaid_records": sum(r["records"] for r in sellers),
        "oldest_unpaid": min((r["oldest_unpaid"] for r in sellers), default=None),
        "by_seller": sellers,
    }


def outlet_debt(session: Session, outlet_id: int) -> dict:
    """:func:`buyer_debt` of an outlet, with the ``outlet`` (id, code, name, tier) it is about;
    404 when there is no such outlet."""
    o = OUTLETS
    row = session.execute(
        select(o.c.id, o.c.code, o.c.name, o.c.tier).where(o.c.id == outlet_id)
    ).first()
    if row is None:
        raise NotFound(f"no outlet with id {outlet_id}")
    return {"outlet": dict(row._mapping), **buyer_debt(session, outlet_id)}


def seller_summary(
    session: Session, seller_id: int, *, date_from: dt.date | None, date_to: dt.date | None
) -> dict:
    """What an outlet sold in the period (``amount``, ``quantity``) and what its buyers still
    owe it (``receivable``, all time)."""
    s = SALES
    period = [s.c.seller_id == seller_id]
    if date_from is not None:
        period.append(s.c.sale_date >= date_from)
    if date_to is not None:
        period.append(s.c.sale_date <= date_to)
    amount, quantity = session.execute(
        select(
            func.coalesce(func.sum(s.c.amount), 0), func.coalesce(func.sum(s.c.quantity), 0)
        ).where(*period)
    ).one()
    owed = session.scalar(
        select(func.coalesce(func.sum(s.c.debt), 0)).where(
            s.c.seller_id == seller_id, s.c.amount_paid < s.c.amount
        )
    )
    return {"amount": amount, "quantity": quantity, "receivable": owed}


def distributor_payments(session: Session, distributor_id: int, *, limit: int = 50) -> list[dict]:
    """The latest payments against a distributor's sell-in (what it paid the manufacturer),
    newest first, each with its record's date, reference, amount and what is still owed."""
    p, s = PAYMENTS, SALES
    stmt = (
        select(
            *payment_columns(),
            s.c.sale_date,
            s.c.reference,
            s.c.amount.label("sale_amount"),
            s.c.debt.label("sale_debt"),
            PRODUCTS.c.sku.label("product_sku"),
        )
        .select_from(
            p.join(s, s.c.id == p.c.sales_record_id).join(PRODUCTS, PRODUCTS.c.id == s.c.product_id)
        )
        .where(s.c.buyer_id == distributor_id, s.c.seller_id.is_(None))
        .order_by(p.c.paid_on.desc(), p.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in session.execute(stmt).mappings()]

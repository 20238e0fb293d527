"""Products, sales records, payments and debts.

The database keeps the money right: a payments trigger adds each payment to the record's
``amount_paid``, the record's CHECK refuses paying more than the amount, and ``debt`` and
``settlement`` are generated columns. This module only builds statements and names the inputs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from ..errors import NotFound, ValidationError
from ..models import Outlet, Payment, Product, SalesRecord
from .outlets import region_known, region_subtree, resolve_outlet
from .principal import Principal

LOGGER = logging.getLogger(__name__)

PRODUCTS = Product.__table__
SALES = SalesRecord.__table__
PAYMENTS = Payment.__table__
OUTLETS = Outlet.__table__
_SELLER = OUTLETS.alias("seller")
_BUYER = OUTLETS.alias("buyer")


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
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(p.c.sku.ilike(pattern, escape="\\"), p.c.name.ilike(pattern, escape="\\"))
        )
    if active is not None:
        stmt = stmt.where(p.c.active.is_(active))
    return stmt


def product_id_by_sku(session: Session, sku: str, *, field: str) -> int:
    product_id = session.scalar(select(PRODUCTS.c.id).where(PRODUCTS.c.sku == sku))
    if product_id is None:
        raise ValidationError(
            f"no product with SKU {sku!r}", fields={field: f"no product with SKU {sku!r}"}
        )
    return product_id


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
        s.c.amount,
        s.c.amount_paid,
        s.c.debt,
        s.c.settlement,
        s.c.reference,
        s.c.created_at,
    ]


def _sales_from():
    s = SALES
    return (
        s.join(_SELLER, _SELLER.c.id == s.c.seller_id)
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
    return conds


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
    problems: dict[str, str] = {}
    for field, code in (("seller", f.seller), ("buyer", f.buyer)):
        if code is not None:
            try:
                resolve_outlet(session, code, user=user, field=field)
            except ValidationError as exc:
                problems.update(exc.fields)
    if (
        f.product is not None
        and session.scalar(select(PRODUCTS.c.id).where(PRODUCTS.c.sku == f.product)) is None
    ):
        problems["product"] = f"no product with SKU {f.product!r}"
    if f.region is not None and not region_known(session, f.region, user):
        problems["region"] = f"no region with code {f.region!r}"
    if f.date_from and f.date_to and f.date_from > f.date_to:
        problems["date_to"] = "must not be before date_from"
    return problems


def get_sale(session: Session, sale_id: int) -> dict:
    row = (
        session.execute(
            select(*sale_columns()).select_from(_sales_from()).where(SALES.c.id == sale_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no sales record with id {sale_id}")
    return dict(row)


def create_sale(
    session: Session,
    *,
    seller_code: str,
    buyer_code: str,
    product_sku: str,
    sale_date: dt.date,
    quantity: Decimal,
    amount: Decimal,
    spec: str | None = None,
    reference: str | None = None,
    user: Principal | None = None,
) -> dict:
    """Record a delivery; the database checks that the seller is of a higher tier than the buyer.
    Seller and buyer must both be outlets ``user`` (None: the system) may see."""
    values = {
        "seller_id": resolve_outlet(session, seller_code, user=user, field="seller_code"),
        "buyer_id": resolve_outlet(session, buyer_code, user=user, field="buyer_code"),
        "product_id": product_id_by_sku(session, product_sku, field="product_sku"),
        "sale_date": sale_date,
        "quantity": quantity,
        "amount": amount,
        "spec": spec,
        "reference": reference,
    }
    sale_id = session.execute(SALES.insert().values(**values).returning(SALES.c.id)).scalar_one()
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


def buyer_debt(session: Session, buyer_id: int) -> dict:
    """What a buyer still owes: in total, per seller, and since when."""
    s = SALES
    per_seller = (
        session.execute(
            select(
                _SELLER.c.code.label("seller_code"),
                func.count().label("records"),
                func.sum(s.c.debt).label("debt"),
                func.min(s.c.sale_date).label("oldest_unpaid"),
            )
            .select_from(s.join(_SELLER, _SELLER.c.id == s.c.seller_id))
            .where(s.c.buyer_id == buyer_id, s.c.amount_paid < s.c.amount)
            .group_by(_SELLER.c.code)
            .order_by(_SELLER.c.code)
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

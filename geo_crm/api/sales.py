"""Products, sales records, payments and a buyer's debt over HTTP.

Money travels as decimal strings ("1234.50") both ways, so no amount is ever a binary float.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

from flask import jsonify, make_response, url_for
from pydantic import Field

from ..auth.policy import current_user, object_id
from ..db import get_session
from ..domain import sales as svc
from ..errors import ValidationError
from .framework import Body, Out, Query, operation
from .schemas import (
    CleanText,
    Code,
    IsoDate,
    Money,
    Name,
    PositiveMoney,
    Quantity,
    decode_cursor,
    encode_cursor,
    field_names,
    jsonable,
)

LOGGER = logging.getLogger(__name__)

TAGS = ["sales"]
Sku = Code


# -- shapes --------------------------------------------------------------------------------


class ProductIn(Body):
    sku: Sku
    name: Name
    unit: str = Field(min_length=1, max_length=16, description="e.g. 箱, case, bottle")
    spec: CleanText | None = Field(None, description="规格, e.g. 500ml×12")
    active: bool = True


class ProductOut(Out):
    id: int
    sku: str
    name: str
    spec: str | None
    unit: str
    active: bool


class ProductListQuery(Query):
    q: str | None = Field(None, min_length=1, max_length=100, description="text in SKU or name")
    active: bool | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class ProductPage(Out):
    items: list[ProductOut]
    total: int
    limit: int
    offset: int


class SaleIn(Body):
    seller_code: Code | None = Field(
        None,
        description="the selling outlet; null, absent or a word such as 厂家/manufacturer: the "
        "manufacturer (sell-in, only to a distributor)",
    )
    buyer_code: Code
    product_sku: Sku
    sale_date: IsoDate = Field(description="not after today")
    quantity: Quantity
    amount: Money | None = Field(None, description="give amount, unit_price or both (agreeing)")
    unit_price: Money | None = Field(None, description="amount = round(quantity × unit_price, 2)")
    spec: CleanText | None = None
    reference: str | None = Field(
        None, min_length=1, max_length=64, description="unique, e.g. invoice no."
    )


class SaleOut(Out):
    id: int
    sale_date: dt.date
    seller_code: str | None = Field(description="null: the manufacturer (sell-in)")
    buyer_code: str
    product_sku: str
    spec: str | None
    quantity: str
    unit_price: str | None
    amount: str
    amount_paid: str
    debt: str
    settlement: str = Field(description="unpaid, partial or paid")
    reference: str | None
    created_at: dt.datetime
    flags: list[str] = Field(description="review flags, e.g. over_credit_limit")
    review_state: str | None = Field(description="pending, accepted or rejected (flagged only)")


class Warning(Out):
    code: str
    message: str
    detail: dict | None


class SaleCreated(SaleOut):
    warnings: list[Warning] = Field(description="the flags of the new record, to show the user")


class PaymentOut(Out):
    id: int
    sales_record_id: int
    paid_on: dt.date
    amount: str
    note: str | None
    created_at: dt.datetime


class SaleDetail(SaleOut):
    payments: list[PaymentOut]
    flag_detail: dict
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    review_note: str | None


class SalesListQuery(Query):
    date_from: IsoDate | None = Field(None, description="first day, inclusive (YYYY-MM-DD)")
    date_to: IsoDate | None = Field(None, description="last day, inclusive")
    seller: str | None = Field(None, min_length=1, max_length=64, description="seller outlet code")
    buyer: str | None = Field(None, min_length=1, max_length=64, description="buyer outlet code")
    product: str | None = Field(None, min_length=1, max_length=64, description="product SKU")
    region: str | None = Field(
        None, min_length=1, max_length=32, description="buyer inside this region or its sub-regions"
    )
    unpaid: bool = Field(False, description="only records with debt left")
    sell_in: bool | None = Field(
        None, description="true: only the manufacturer's sales; false: only outlets' sales"
    )
    distributor: str | None = Field(
        None, max_length=64, description="a distributor's sell-in and sell-out"
    )
    review: Literal["pending", "accepted", "rejected"] | None = Field(
        None, description="flagged records in this review state"
    )
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000)
    cursor: str | None = Field(None, max_length=200)
    count: bool = True


class SalesTotals(Out):
    records: int
    amount: str
    paid: str
    debt: str


class SalesPage(Out):
    items: list[SaleOut]
    totals: SalesTotals | None
    limit: int
    offset: int
    next_cursor: str | None


class PaymentIn(Body):
    amount: PositiveMoney
    paid_on: IsoDate | None = Field(None, description="default: today")
    note: CleanText | None = None


class PaymentResult(Out):
    payment: PaymentOut
    sale: SaleOut


class SellerDebt(Out):
    seller_code: str | None = Field(description="null: the manufacturer")
    records: int
    debt: str
    oldest_unpaid: dt.date


class DebtOut(Out):
    outlet: dict
    debt: str
    unpaid_records: int
    oldest_unpaid: dt.date | None
    by_seller: list[SellerDebt]


# -- products ------------------------------------------------------------------------------


@operation(
    "/products",
    "POST",
    summary="Create a product",
    tags=TAGS,
    body=ProductIn,
    responses={201: ProductOut, 409: None, 422: None},
)
def create_product(body: ProductIn):
    """Create a product; the SKU is unique."""
    session = get_session()
    with field_names(session):
        row = svc.create_product(session, **body.model_dump())
        session.commit()
    return make_response(jsonify(jsonable(row)), 201)


@operation(
    "/products",
    "GET",
    summary="List products",
    tags=TAGS,
    query=ProductListQuery,
    responses={200: ProductPage},
)
def list_products(query: ProductListQuery):
    """Products by id, optionally matching text or active state."""
    rows, total = svc.product_page(
        get_session(), q=query.q, active=query.active, limit=query.limit, offset=query.offset
    )
    return jsonify(
        {
            "items": [jsonable(r) for r in rows],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


# -- sales records -------------------------------------------------------------------------

_DETAIL_ONLY = ("flag_detail", "reviewed_by", "reviewed_at", "review_note")


def sales_filters(query) -> svc.SalesFilters:
    """The list's filters from its query (the export takes the same)."""
    return svc.SalesFilters(
        date_from=query.date_from,
        date_to=query.date_to,
        seller=query.seller,
        buyer=query.buyer,
        product=query.product,
        region=query.region,
        unpaid=query.unpaid,
        sell_in=query.sell_in,
        distributor=query.distributor,
        review=query.review,
    )


@operation(
    "/sales",
    "POST",
    summary="Record a sale",
    tags=TAGS,
    body=SaleIn,
    responses={201: SaleCreated, 409: None, 422: None},
)
def create_sale(body: SaleIn):
    """Record a delivery from a seller to a buyer of a lower tier; without a seller, the
    manufacturer's sale to a distributor (sell-in). A sell-in over the distributor's credit
    limit is refused (422 on ``amount``) or recorded with a warning and put up for review, as
    the ``credit_policy`` setting says."""
    session = get_session()
    renames = {"seller": "seller_code", "buyer": "buyer_code", "amount_paid": "amount"}
    with field_names(session, renames=renames):
        row = svc.create_sale(session, **body.model_dump(), user=current_user())
        session.commit()
    warnings = svc.warnings_of(row)
    body_out = {**jsonable(row, drop=_DETAIL_ONLY), "warnings": warnings}
    response = make_response(jsonify(body_out), 201)
    response.headers["Location"] = url_for("api.get_sale", sale_id=row["id"])
    return response


@operation(
    "/sales",
    "GET",
    summary="List sales records",
    tags=TAGS,
    query=SalesListQuery,
    responses={200: SalesPage, 422: None},
)
def list_sales(query: SalesListQuery):
    """Sales records in id order with every filter given; totals cover all matching records."""
    filters = sales_filters(query)
    if query.cursor is not None and query.offset:
        raise ValidationError(
            "use cursor or offset, not both", fields={"query.offset": "must be 0 with cursor"}
        )
    after = decode_cursor(query.cursor, length=1)[0] if query.cursor is not None else None
    session = get_session()
    with field_names(session, prefix="query"):
        page = svc.sales_page(
            session,
            filters,
            user=current_user(),
            limit=query.limit,
            offset=query.offset,
            after_id=after,
            with_totals=query.count,
        )
    next_cursor = encode_cursor([page.rows[-1]["id"]]) if page.more else None
    totals = None
    if page.totals is not None:
        t = page.totals
        totals = {
            "records": t.records,
            "amount": str(t.amount),
            "paid": str(t.paid),
            "debt": str(t.debt),
        }
    return jsonify(
        {
            "items": [jsonable(r) for r in page.rows],
            "totals": totals,
            "limit": query.limit,
            "offset": query.offset,
            "next_cursor": next_cursor,
        }
    )


@operation(
    "/sales/<int:sale_id>",
    "GET",
    summary="Get a sales record",
    tags=TAGS,
    responses={200: SaleDetail, 404: None},
)
def get_sale(sale_id: int):
    """One sales record with its payments."""
    detail = svc.sale_detail(get_session(), object_id("sale_id"))
    payments = [jsonable(p) for p in detail.pop("payments")]
    return jsonify({**jsonable(detail), "payments": payments})


@operation(
    "/sales/<int:sale_id>/payments",
    "POST",
    summary="Record a payment",
    tags=TAGS,
    body=PaymentIn,
    responses={201: PaymentResult, 404: None, 422: None},
)
def add_payment(sale_id: int, body: PaymentIn):
    """Add a payment to a sales record; paying more than is owed is refused (422)."""
    session = get_session()
    with field_names(session, renames={"amount_paid": "amount"}):
        result = svc.add_payment(
            session,
            object_id("sale_id"),
            amount=body.amount,
            paid_on=body.paid_on or dt.date.today(),
            note=body.note,
            user_id=current_user().id,
        )
        session.commit()
    sale = jsonable(result["sale"], drop=_DETAIL_ONLY)
    return make_response(jsonify({"payment": jsonable(result["payment"]), "sale": sale}), 201)


@operation(
    "/outlets/<code>/debt",
    "GET",
    summary="A buyer's outstanding debt",
    tags=TAGS,
    responses={200: DebtOut, 404: None},
)
def outlet_debt(code: str):
    """What the outlet still owes its sellers: total, per seller, oldest unpaid delivery."""
    debt = svc.outlet_debt(get_session(), object_id())
    return jsonify(
        {
            "outlet": debt["outlet"],
            "debt": str(debt["debt"]),
            "unpaid_records": debt["unpaid_records"],
            "oldest_unpaid": debt["oldest_unpaid"].isoformat() if debt["oldest_unpaid"] else None,
            "by_seller": [jsonable(r) for r in debt["by_seller"]],
        }
    )


# -- review of flagged records -------------------------------------------------------------


class ReviewQuery(Query):
    state: Literal["pending", "accepted", "rejected"] = "pending"
    flag: str | None = Field(None, max_length=64, description="only records with this flag")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class ReviewItem(SaleOut):
    buyer_name: str
    flag_detail: dict


class ReviewPage(Out):
    items: list[ReviewItem]
    total: int
    limit: int
    offset: int


class ReviewIn(Body):
    note: CleanText | None = None


@operation(
    "/sales-reviews",
    "GET",
    summary="Flagged sales records to review",
    tags=TAGS,
    query=ReviewQuery,
    responses={200: ReviewPage, 422: None},
)
def list_sale_reviews(query: ReviewQuery):
    """Sales records with flags (e.g. over a credit limit) in a review state, oldest first,
    among those the caller may see."""
    page = svc.sale_reviews(
        get_session(),
        user=current_user(),
        state=query.state,
        flag=query.flag,
        limit=query.limit,
        offset=query.offset,
    )
    return jsonify(
        {
            "items": [jsonable(r) for r in page.rows],
            "total": page.total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


def _review(sale_id: int, decision: str, body: ReviewIn):
    session = get_session()
    with field_names(session):
        row = svc.review_sale(
            session, object_id("sale_id"), decision, user=current_user(), note=body.note
        )
        session.commit()
    return jsonify(jsonable(row))


@operation(
    "/sales-reviews/<int:sale_id>/accept",
    "POST",
    summary="Accept a flagged sales record",
    tags=TAGS,
    body=ReviewIn,
    responses={200: SaleDetail, 404: None, 409: None},
)
def accept_sale_review(sale_id: int, body: ReviewIn):
    """Mark a flagged record as reviewed and accepted."""
    return _review(sale_id, "accept", body)


@operation(
    "/sales-reviews/<int:sale_id>/reject",
    "POST",
    summary="Reject a flagged sales record",
    tags=TAGS,
    body=ReviewIn,
    responses={200: SaleDetail, 404: None, 409: None},
)
def reject_sale_review(sale_id: int, body: ReviewIn):
    """Mark a flagged record as reviewed and rejected (the record stays; undo it with a return
    or a credit note)."""
    return _review(sale_id, "reject", body)

"""Import sales records, upserted by ``reference`` when they have one (columns:
docs/import-export.md "Sales records"). An empty seller, or a word naming the manufacturer
(厂家, manufacturer …), is sell-in: the manufacturer's sale to a distributor."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Unpack

from sqlalchemy.orm import Session

from ..tabular import cell_date, cell_decimal, cell_text
from .common import (
    RANK,
    FileOptions,
    ImportReport,
    Source,
    cells,
    duplicates,
    finish,
    lookup,
    open_rows,
    stage_rows,
    to_write,
    upsert_by_key,
)

# column -> accepted header names (compared fold-ed: NFKC, lower case, without spaces, _ and -)
SALES_COLUMNS: dict[str, tuple[str, ...]] = {
    "reference": ("reference", "ref", "单号", "单据号", "订单号"),
    "date": ("date", "sale_date", "日期", "销售日期"),
    "seller_code": ("seller_code", "seller", "卖方编码", "供货方编码", "销售方编码"),
    "buyer_code": ("buyer_code", "buyer", "买方编码", "购货方编码", "客户编码"),
    "sku": ("sku", "产品编码", "商品编码", "货号"),
    "spec": ("spec", "规格"),
    "quantity": ("quantity", "qty", "数量"),
    "unit_price": ("unit_price", "price", "单价"),
    "amount": ("amount", "金额"),
    "amount_paid": ("amount_paid", "paid", "已付金额", "已付", "实收金额"),
}
_REQUIRED = ("date", "buyer_code", "sku", "quantity")
_SALES_STAGE = "geo_crm_sales_stage"
# the stored columns, staged (after the row number) and upserted in this order
_STORED = (
    "reference",
    "sale_date",
    "seller_id",
    "buyer_id",
    "product_id",
    "spec",
    "quantity",
    "unit_price",
    "amount",
    "amount_paid",
)
_SALES_TARGET = {
    "date": "sale_date",
    "seller_code": "seller_id",
    "buyer_code": "buyer_id",
    "sku": "product_id",
    "spec": "spec",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "amount": "amount",
    "amount_paid": "amount_paid",
}


def import_sales(session: Session, source: Source, **options: Unpack[FileOptions]) -> ImportReport:
    """Validate and write sales records; rows with a ``reference`` are upserted by it.

    Rows without a reference are always inserted: re-importing such a file adds them again.
    A blank spec takes the product's; a blank ``amount_paid`` is 0. A blank amount with a
    unit price is round(quantity × unit price, 2); both given must agree. A blank seller (or
    no seller column) is the manufacturer: the buyer must then be a distributor.
    """
    from ...domain.sales import is_manufacturer

    rows, report, started = open_rows("sales", source, SALES_COLUMNS, _REQUIRED, **options)
    ref = rows.text("reference", max_len=64)
    duplicates(rows, "reference", ref)
    seller, buyer = rows.text("seller_code"), rows.text("buyer_code")
    sku, spec = rows.text("sku"), rows.text("spec")
    dates = cells(rows, "date", cell_date)
    quantity = cells(rows, "quantity", lambda v: cell_decimal(v, 3))
    amount = cells(rows, "amount", lambda v: cell_decimal(v, 2))
    price = cells(rows, "unit_price", lambda v: cell_decimal(v, 2))
    paid = cells(rows, "amount_paid", lambda v: cell_decimal(v, 2))
    seller = [None if is_manufacturer(v) else v for v in seller]
    outlets = lookup(
        session, "SELECT code, id, tier FROM outlets WHERE code = ANY(:k)", [*seller, *buyer]
    )
    today = dt.date.today()
    products = lookup(session, "SELECT sku, id, spec FROM products WHERE sku = ANY(:k)", sku)
    paid_by_payments = lookup(
        session,
        "SELECT r.reference, r.id, r.amount_paid FROM sales_records r WHERE r.reference"
        " = ANY(:k) AND EXISTS (SELECT 1 FROM payments p WHERE p.sales_record_id = r.id)",
        ref,
    )
    for i in range(rows.n):
        for column, values in (
            ("date", dates),
            ("buyer_code", buyer),
            ("sku", sku),
            ("quantity", quantity),
        ):
            if values[i] is None and cell_text(rows.raw(column)[i]) is None:
                rows.required(i, column)
        if dates[i] is not None and dates[i] > today:
            rows.add(i, "date", f"{dates[i]} is in the future")
        for column, values in (
            ("quantity", quantity),
            ("amount", amount),
            ("unit_price", price),
            ("amount_paid", paid),
        ):
            if values[i] is not None and values[i] < 0:
                rows.add(i, column, f"{column} may not be negative ({values[i]})")
        if price[i] is not None and quantity[i] is not None and price[i] >= 0:
            computed = (quantity[i] * price[i]).quantize(Decimal("0.01"), ROUND_HALF_UP)
            if amount[i] is None and cell_text(rows.raw("amount")[i]) is None:
                amount[i] = computed
            elif amount[i] is not None and amount[i] != computed:
                rows.add(i, "amount", f"{amount[i]} is not quantity × unit_price = {computed}")
        if amount[i] is None and cell_text(rows.raw("amount")[i]) is None and price[i] is None:
            rows.add(i, "amount", "amount is required (or give unit_price)")
        if paid[i] is None and cell_text(rows.raw("amount_paid")[i]) is None:
            paid[i] = Decimal(0)
        if amount[i] is not None and paid[i] is not None and 0 <= amount[i] < paid[i]:
            rows.add(i, "amount_paid", f"paid {paid[i]} is more than the amount {amount[i]}")
        for column, code, what in (
            ("seller_code", seller[i], "seller"),
            ("buyer_code", buyer[i], "buyer"),
        ):
            if code is not None and code not in outlets:
                rows.add(i, column, f"unknown {what} {code!r}: no outlet has this code")
        if seller[i] is not None and seller[i] == buyer[i]:
            rows.add(i, "buyer_code", "seller and buyer must differ")
        elif seller[i] is None and buyer[i] in outlets:
            if outlets[buyer[i]][1] != "distributor":
                rows.add(
                    i,
                    "seller_code",
                    f"only distributors buy from the manufacturer: name the seller of "
                    f"{buyer[i]!r}, a {outlets[buyer[i]][1]}",
                )
        elif seller[i] in outlets and buyer[i] in outlets and outlets[buyer[i]][1] == "distributor":
            rows.add(
                i, "seller_code", "a distributor buys only from the manufacturer: leave it empty"
            )
        elif seller[i] in outlets and buyer[i] in outlets:
            s_tier, b_tier = outlets[seller[i]][1], outlets[buyer[i]][1]
            if RANK[s_tier] >= RANK[b_tier]:
                rows.add(
                    i,
                    "seller_code",
                    f"a {b_tier} outlet may not buy from {seller[i]!r}, a "
                    f"{s_tier}: the seller must be of a higher tier",
                )
        if sku[i] is not None and sku[i] not in products:
            rows.add(i, "sku", f"unknown sku {sku[i]!r}: import the product first")
        if (
            ref[i] in paid_by_payments
            and rows.has("amount_paid")
            and paid[i] != paid_by_payments[ref[i]][1]
        ):
            rows.add(
                i,
                "amount_paid",
                "this record has payments: record a payment instead of changing amount_paid",
            )
    keep = to_write(rows, report)
    if keep is None:
        return finish(report, rows, started)
    stage_rows(
        session,
        _SALES_STAGE,
        "rn integer, reference text, sale_date date, seller_id bigint, buyer_id bigint,"
        " product_id integer, spec text, quantity numeric(14, 3), unit_price numeric(14, 2),"
        " amount numeric(14, 2), amount_paid numeric(14, 2)",
        ("rn", *_STORED),
        (
            (
                rows.numbers[i],
                ref[i],
                dates[i],
                outlets[seller[i]][0] if seller[i] is not None else None,
                outlets[buyer[i]][0],
                products[sku[i]][0],
                spec[i] if spec[i] is not None else products[sku[i]][1],
                quantity[i],
                price[i],
                amount[i],
                paid[i],
            )
            for i in keep
        ),
        len(keep),
        rows.progress,
    )
    upsert_by_key(
        session,
        report,
        len(keep),
        stage=_SALES_STAGE,
        table="sales_records",
        key="reference",
        columns=_STORED,
        values=[f"s.{c}" for c in _STORED],
        targets=[
            t
            for c, t in _SALES_TARGET.items()
            if rows.has(c) or (c == "amount" and rows.has("unit_price"))
        ],
    )
    return finish(report, rows, started)

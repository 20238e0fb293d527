"""Translate database errors into the rule that was broken, never SQL or a stack trace."""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError

from .errors import Conflict, GeoCrmError, ValidationError

# constraint name -> (field, message) for CHECK/UNIQUE constraints of the schema
_KNOWN: dict[str, tuple[str, str]] = {
    "outlets_code_key": ("code", "an outlet with this code already exists"),
    "products_sku_key": ("sku", "a product with this SKU already exists"),
    "regions_code_key": ("code", "a region with this code already exists"),
    "users_username_key": ("username", "this username is taken"),
    "sales_records_reference_key": (
        "reference",
        "a sales record with this reference already exists",
    ),
    "uq_sales_plan_distributor_month_product": (
        "month",
        "a plan for this distributor, month and product already exists",
    ),
    "outlet_tier_known": ("tier", "must be one of distributor, wholesaler_2, wholesaler_3, retail"),
    "outlet_status_known": ("status", "must be one of active, inactive, closed"),
    "outlet_location_valid": (
        "location",
        "must be a valid point with lon in [-180, 180], lat in [-90, 90]",
    ),
    "outlet_distributor_no_parent": ("parent", "a distributor buys from nobody and has no parent"),
    "outlet_not_own_parent": ("parent", "an outlet cannot be its own parent"),
    "outlet_parent_cycle": ("parent", "the parent lies in this outlet's own downstream network"),
    "outlet_code_name_present": ("code", "code and name must not be blank"),
    "sales_record_paid_not_above_amount": ("amount_paid", "paid may not exceed the amount"),
    "sales_record_seller_not_buyer": ("buyer", "seller and buyer must differ"),
    "payment_amount_positive": ("amount", "a payment must be positive"),
    "sales_record_seller_tier": ("seller", "the seller must be of a higher tier than the buyer"),
}

_NOT_NULL = re.compile(r'null value in column "(?P<col>[^"]+)"')


def translate(exc: DBAPIError) -> GeoCrmError | None:
    """A user-facing error for an integrity or data error, or None when it is not one of ours."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    sqlstate = getattr(orig, "sqlstate", None) or ""
    constraint = getattr(diag, "constraint_name", None) or ""
    primary = (getattr(diag, "message_primary", None) or "").strip()
    if constraint in _KNOWN:
        field, message = _KNOWN[constraint]
        cls = Conflict if sqlstate == "23505" else ValidationError
        return cls(message, fields={field: message})
    if sqlstate == "23505":
        return Conflict(
            "a row with the same key already exists", fields={constraint or "key": "duplicate"}
        )
    if sqlstate == "23514":  # check_violation: trigger messages are written for people
        field = constraint.split("_")[1] if constraint.count("_") >= 2 else "body"
        return ValidationError(
            primary or "a data rule was broken", fields={field: primary or constraint}
        )
    if sqlstate == "23503":
        return ValidationError(
            "a referenced row does not exist or is still in use",
            fields={getattr(diag, "column_name", None) or "reference": "not found or in use"},
        )
    if sqlstate == "23502":
        match = _NOT_NULL.search(primary)
        col = match.group("col") if match else "field"
        return ValidationError(f"{col} is required", fields={col: "required"})
    if sqlstate.startswith("22"):  # data exceptions: out of range numbers, bad geometry text
        return ValidationError("a value is out of range or malformed", fields={"body": primary})
    return None

"""Translate database errors into the rule that was broken, never SQL or a stack trace; tell
an unreachable database (:func:`outage_reason`) from a query that failed."""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError

from ..errors import NUL_PROBLEM, Conflict, GeoCrmError, ValidationError

_NO_SRID = "must be WGS-84 longitude/latitude (SRID 4326); a geometry without an SRID is refused"

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
    **{
        name: (column, _NO_SRID)
        for name, column in (
            ("outlet_location_srid", "location"),
            ("region_boundary_srid", "boundary"),
            ("region_label_point_srid", "label_point"),
            ("region_part_geom_srid", "geom"),
            ("geotag_old_location_srid", "old_location"),
            ("geotag_new_location_srid", "new_location"),
        )
    },
    "outlet_distributor_no_parent": ("parent", "a distributor buys from nobody and has no parent"),
    "outlet_not_own_parent": ("parent", "an outlet cannot be its own parent"),
    "outlet_parent_cycle": ("parent", "the parent lies in this outlet's own downstream network"),
    "outlet_code_name_present": ("code", "code and name must not be blank"),
    "sales_record_paid_not_above_amount": ("amount_paid", "paid may not exceed the amount"),
    "sales_record_seller_not_buyer": ("buyer", "seller and buyer must differ"),
    "payment_amount_positive": ("amount", "a payment must be positive"),
    "sales_record_seller_tier": ("seller", "the seller must be of a higher tier than the buyer"),
}

# constraint name -> field, for rules whose own message (a trigger's, written for people, with
# the values involved) is the one to show
_FIELDS: dict[str, str] = {
    "sales_record_date_not_future": "sale_date",
    "sales_record_credit_limit": "amount",
    "sales_record_unit_price_amount": "unit_price",
    "sales_plan_month_closed": "month",
    "sales_plans_distributor_tier": "distributor",
    "distributor_credit_distributor_tier": "distributor",
    "sales_plan_schedule_day_range": "schedule",
    "uq_sales_plan_schedule_plan_day": "schedule",
    "sales_plan_quantity_nonneg": "target_quantity",
    "sales_plan_amount_nonneg": "target_amount",
    "sales_plan_support_kind_known": "support",
    "sales_plan_support_description_present": "support",
    "sales_plan_support_amount_nonneg": "support",
    "credit_limit_nonneg": "credit_limit",
    "app_setting_credit_policy_known": "value",
    "sales_record_quantity_nonneg": "quantity",
    "sales_record_amount_nonneg": "amount",
}

NUL_TEXT = "cannot contain NUL (0x00) bytes"  # psycopg's words for a NUL in a text parameter
_NOT_NULL = re.compile(r'null value in column "(?P<col>[^"]+)"')


def translate(exc: DBAPIError) -> GeoCrmError | None:
    """A user-facing error for an integrity or data error, or None when it is not one of ours."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    sqlstate = getattr(orig, "sqlstate", None) or ""
    constraint = getattr(diag, "constraint_name", None) or ""
    primary = (getattr(diag, "message_primary", None) or "").strip()
    if not sqlstate and NUL_TEXT in str(orig):  # psycopg refuses to send it: a last guard
        return ValidationError(f"a value {NUL_PROBLEM}", fields={"text": NUL_PROBLEM})
    if constraint in _KNOWN:
        field, message = _KNOWN[constraint]
        cls = Conflict if sqlstate == "23505" else ValidationError
        return cls(message, fields={field: message})
    if constraint in _FIELDS:
        message = primary or constraint
        cls = Conflict if sqlstate == "23505" else ValidationError
        return cls(message, fields={_FIELDS[constraint]: message})
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


# SQLSTATEs that mean the server cannot serve this connection, whatever the statement was
_OUTAGE_STATES = {
    "57P01": "server shut down",  # admin_shutdown
    "57P02": "server crashed",  # crash_shutdown
    "57P03": "server starting up or shutting down",  # cannot_connect_now
    "53300": "too many connections",
    "28000": "authentication failed",
    "28P01": "authentication failed",
    "3D000": "database does not exist",
}
# a client-side connection failure (no SQLSTATE): a fragment of libpq's message -> reason
_CONNECT_FAILURES = (
    ("Connection refused", "connection refused"),
    ("No such file or directory", "connection refused"),  # no server at the Unix socket
    ("timeout expired", "connection timed out"),
    ("timed out", "connection timed out"),
    ("could not translate host name", "unknown host"),
    ("Name or service not known", "unknown host"),
    ("server closed the connection", "connection closed by the server"),
    ("terminating connection", "connection closed by the server"),
    ("the connection is closed", "connection lost"),
    ("connection is lost", "connection lost"),
    ("consuming input failed", "connection lost"),
    ("connection failed", "connection failed"),
    ("connection is bad", "connection failed"),
)


def outage_reason(exc: BaseException | None) -> str | None:
    """A short reason (no host, path or SQL) when ``exc`` means the database cannot be reached
    — refused, closed, shut down, out of connections — or None when it is an error of the
    statement itself. Looks through SQLAlchemy's wrapper and a DatabaseSetupError's cause."""
    from psycopg import Error as PsycopgError
    from psycopg import InterfaceError
    from psycopg import OperationalError as PsycopgOperationalError

    from ..errors import DatabaseSetupError

    seen = 0
    while exc is not None and seen < 5:
        seen += 1
        if isinstance(exc, DatabaseSetupError):
            if exc.__cause__ is None:
                return "not set up"  # e.g. no PostGIS on the server: the log says what to do
            exc = exc.__cause__
            continue
        if isinstance(exc, DBAPIError):
            reason = outage_reason(exc.orig) if exc.orig is not None else None
            if reason is None and exc.connection_invalidated:
                reason = "connection lost"
            return reason
        if isinstance(exc, PsycopgError):
            sqlstate = exc.sqlstate or ""
            if sqlstate in _OUTAGE_STATES:
                return _OUTAGE_STATES[sqlstate]
            if sqlstate.startswith("08"):  # connection_exception
                return "connection failed"
            if sqlstate or not isinstance(exc, PsycopgOperationalError | InterfaceError):
                return None
            text = str(exc)
            for fragment, reason in _CONNECT_FAILURES:
                if fragment in text:
                    return reason
            # an OperationalError without SQLSTATE comes from libpq's side of the connection;
            # an InterfaceError unmatched above is a misuse (a closed cursor), not an outage
            return "connection failed" if isinstance(exc, PsycopgOperationalError) else None
        return None
    return None


def summary(exc: BaseException) -> str:
    """The driver's first line of an error, for the log (SQLAlchemy's text adds the SQL)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__

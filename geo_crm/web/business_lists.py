"""The business list pages (issue 13b): the distributor list (``/distributors``) and the sales
list (``/sales``), each with its filters, totals, paging and CSV/XLSX downloads of the same
filters. Each calls the function the API's list calls; a filter naming nothing shows its
error beside the filter (422), as the API names the field.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, url_for

from ..auth.policy import current_user
from ..db import get_session
from ..domain import distributors as list_svc
from ..domain import sales as sales_svc
from ..domain.plans import parse_month
from ..errors import ValidationError
from ..io.distributor_export import export_distributors
from ..models import OUTLET_STATUSES, REVIEW_STATES
from .forms import FORM, FormReader, collecting
from .locale import current_translator

bp = Blueprint("business_lists", __name__)

PAGE_SIZE = 50
FIGURE_SORTS = ("sell_in", "sell_out", "plan", "achievement", "debt", "oldest_unpaid",
                "credit_limit")  # fmt: skip


def page_url(endpoint: str, **changes) -> str:
    """This page's URL with some query arguments changed (None drops one)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in changes]
    args += [(k, str(v)) for k, v in changes.items() if v is not None]
    return url_for(endpoint) + ("?" + urlencode(args) if args else "")


def _offset(reader: FormReader) -> int:
    return reader.integer("offset", low=0, high=1_000_000) or 0


# -- distributors ---------------------------------------------------------------------------


def distributor_query(args, t, errors: dict) -> list_svc.DistributorQuery:
    """The list's query from the page's arguments (the download takes the same)."""
    reader = FormReader(args, t, errors)
    month = None
    raw_month = reader.string("month", max_length=10)
    if raw_month:
        try:
            month = parse_month(raw_month)
        except ValidationError:
            errors["month"] = t("Enter a month (YYYY-MM)")
    sort = args.get("sort") or "code"
    if sort not in list_svc.SORTS:
        errors["sort"] = t("Unknown sort")
        sort = "code"
    status = [s for s in args.getlist("status") if s]
    if any(s not in OUTLET_STATUSES for s in status):
        errors["status"] = t("Unknown status")
        status = []
    return list_svc.DistributorQuery(
        q=reader.string("q", max_length=100),
        region=reader.string("region", max_length=32),
        rep=reader.string("rep", max_length=64),
        status=status or None,
        month=month,
        sort=sort,
        desc=args.get("desc") in ("1", "true", "on"),
        limit=PAGE_SIZE,
        offset=_offset(reader),
    )


@bp.get("/distributors")
def distributor_list_page():
    """Every distributor in my scope with the month's sell-in, sell-out, plan, achievement,
    debt and credit; searched by name, code or pinyin initials, filtered, sorted, paged."""
    t = current_translator()
    errors: dict[str, str] = {}
    query = distributor_query(request.args, t, errors)
    page = None
    if not errors:
        with collecting(get_session(), errors, t):
            page = list_svc.distributor_list(get_session(), query, user=current_user())
    downloads = {
        fmt: url_for("business_lists.distributor_list_file", fmt=fmt)
        + ("?" + request.query_string.decode() if request.query_string else "")
        for fmt in ("csv", "xlsx")
    }
    html = render_template(
        "distributors.html",
        page=page,
        query=query,
        errors=errors,
        args=request.args,
        statuses=OUTLET_STATUSES,
        sorts=list_svc.SORTS,
        figure_sorts=FIGURE_SORTS,
        page_size=PAGE_SIZE,
        page_url=lambda **c: page_url("business_lists.distributor_list_page", **c),
        downloads=downloads,
    )
    return html, 422 if errors else 200


@bp.get("/distributors.<any(csv, xlsx):fmt>")
def distributor_list_file(fmt: str):
    """The distributor list with the page's filters and sort, every match, as CSV or XLSX."""
    t = current_translator()
    errors: dict[str, str] = {}
    query = distributor_query(request.args, t, errors)
    if errors:
        raise ValidationError("invalid distributor list query", fields=errors)
    session = get_session()
    export = export_distributors(session, fmt, query, user=current_user())
    body = b"".join(export.chunks)  # at most a few MB: the list's figures, no history
    return Response(
        body,
        content_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


# -- sales ----------------------------------------------------------------------------------


def sales_filters(args, t, errors: dict) -> sales_svc.SalesFilters:
    reader = FormReader(args, t, errors)
    review = args.get("review") or None
    if review is not None and review not in REVIEW_STATES:
        errors["review"] = t("Unknown review state")
        review = None
    kind = args.get("kind") or ""
    return sales_svc.SalesFilters(
        date_from=reader.date("date_from"),
        date_to=reader.date("date_to"),
        seller=reader.string("seller", max_length=64),
        buyer=reader.string("buyer", max_length=64),
        product=reader.string("product", max_length=64),
        region=reader.string("region", max_length=32),
        unpaid=args.get("unpaid") in ("1", "true", "on"),
        sell_in={"in": True, "out": False}.get(kind),
        distributor=reader.string("distributor", max_length=64),
        review=review,
    )


def _export_args(f: sales_svc.SalesFilters, fmt: str) -> dict:
    out = {"format": fmt}
    for name in ("date_from", "date_to", "seller", "buyer", "product", "region", "distributor",
                 "review"):  # fmt: skip
        value = getattr(f, name)
        if value is not None:
            out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    if f.unpaid:
        out["unpaid"] = "true"
    if f.sell_in is not None:
        out["sell_in"] = "true" if f.sell_in else "false"
    return out


@bp.get("/sales")
def sales_list_page():
    """Sales records in my scope with filters (region, distributor, product, period, seller,
    buyer, flagged), the totals over every match, paging and downloads."""
    t = current_translator()
    errors: dict[str, str] = {}
    filters = sales_filters(request.args, t, errors)
    offset = _offset(FormReader(request.args, t, errors))
    page = None
    if not errors:
        session = get_session()
        with collecting(session, errors, t):
            page = sales_svc.sales_page(
                session, filters, user=current_user(), limit=PAGE_SIZE, offset=offset
            )
    downloads = {
        fmt: url_for("api.export_sales_file", **_export_args(filters, fmt))
        for fmt in ("csv", "xlsx")
    }
    html = render_template(
        "sales.html",
        page=page,
        errors=errors,
        form_error=errors.get(FORM),
        args=request.args,
        offset=offset,
        page_size=PAGE_SIZE,
        review_states=REVIEW_STATES,
        page_url=lambda **c: page_url("business_lists.sales_list_page", **c),
        downloads=downloads,
    )
    return html, 422 if errors else 200

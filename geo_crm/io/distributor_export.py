"""Export the distributor list — the page's filters, sort and month — as CSV (UTF-8 with a BOM
for Excel) or XLSX, with the outlet export's writers and formula guard (issue 13b).

The rows are :func:`~geo_crm.domain.distributors.distributor_list`'s, fetched a page of
``MAX_LIMIT`` at a time, so the file holds exactly what the list shows, every page of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from sqlalchemy.orm import Session

from ..domain import distributors as list_svc
from ..domain.principal import Principal
from .business_exports import SPREADSHEETS, _write
from .exports import Export, new_export

DISTRIBUTOR_COLUMNS = (
    "code", "name", "status", "region_code", "region_name", "rep", "month", "sell_in_amount",
    "sell_in_quantity", "sell_out_amount", "sell_out_quantity", "plan_amount", "plan_quantity",
    "achievement", "debt", "oldest_unpaid", "oldest_unpaid_days", "credit_limit", "over_limit",
)  # fmt: skip


def export_distributors(
    session: Session,
    fmt: str,
    query: list_svc.DistributorQuery,
    *,
    user: Principal | None,
    encoding: str | None = None,
) -> Export:
    """Every distributor ``user`` may see matching ``query`` (its paging ignored), in its
    sort, with the month's figures."""
    export, codec = new_export("distributors", fmt, encoding, SPREADSHEETS)
    first = dataclasses.replace(query, limit=list_svc.MAX_LIMIT, offset=0)
    page = list_svc.distributor_list(session, first, user=user)  # checks the query now

    def rows() -> Iterator[list[dict]]:
        current, offset = page, 0
        month = f"{page.month:%Y-%m}"
        while current.rows:
            yield [{**r, "month": month} for r in current.rows]
            offset += len(current.rows)
            if offset >= current.total:
                return
            step = dataclasses.replace(first, offset=offset)
            current = list_svc.distributor_list(session, step, user=user)

    return _write(export, codec, rows(), DISTRIBUTOR_COLUMNS, "distributors")

"""Import products, upserted by ``sku`` (columns: docs/import-export.md "Products")."""

from __future__ import annotations

from typing import Unpack

from sqlalchemy import text
from sqlalchemy.orm import Session

from .common import (
    FileOptions,
    ImportReport,
    Source,
    duplicates,
    finish,
    open_rows,
    stage_rows,
    to_write,
    upsert_by_key,
)

# column -> accepted header names (compared fold-ed: NFKC, lower case, without spaces, _ and -)
PRODUCT_COLUMNS: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "编码", "产品编码", "商品编码", "货号"),
    "name": ("name", "名称", "产品名称", "商品名称"),
    "spec": ("spec", "规格"),
    "unit": ("unit", "单位"),
}
_PRODUCT_STAGE = "geo_crm_product_stage"


def import_products(
    session: Session, source: Source, **options: Unpack[FileOptions]
) -> ImportReport:
    """Validate and upsert products by ``sku``."""
    rows, report, started = open_rows("products", source, PRODUCT_COLUMNS, ("sku",), **options)
    sku = rows.text("sku", max_len=64)
    names, spec, unit = rows.text("name"), rows.text("spec"), rows.text("unit", max_len=16)
    duplicates(rows, "sku", sku)
    wanted = sorted({s for s in sku if s is not None})
    stored = (
        set(
            session.execute(
                text("SELECT sku FROM products WHERE sku = ANY(:s)"), {"s": wanted}
            ).scalars()
        )
        if wanted
        else set()
    )
    for i, s in enumerate(sku):
        if s is None:
            rows.required(i, "sku")
            continue
        for column, values in (("name", names), ("unit", unit)):
            if values[i] is None and (rows.has(column) or s not in stored):
                rows.add(
                    i,
                    column,
                    f"{column} is required"
                    + ("" if rows.has(column) else " for a new product (no such column)"),
                )
    keep = to_write(rows, report)
    if keep is None:
        return finish(report, rows, started)
    stage_rows(
        session,
        _PRODUCT_STAGE,
        "rn integer, sku text, name text, spec text, unit text",
        ("rn", "sku", "name", "spec", "unit"),
        ((rows.numbers[i], sku[i], names[i], spec[i], unit[i]) for i in keep),
        len(keep),
        rows.progress,
    )
    # absent columns keep the stored value; a new product needs name and unit (checked)
    values = [
        f"s.{c}" if c == "sku" or rows.has(c) else f"(SELECT {c} FROM products WHERE sku = s.sku)"
        for c in ("sku", "name", "spec", "unit")
    ]
    upsert_by_key(
        session,
        report,
        len(keep),
        stage=_PRODUCT_STAGE,
        table="products",
        key="sku",
        columns=("sku", "name", "spec", "unit"),
        values=values,
        targets=[c for c in ("name", "spec", "unit") if rows.has(c)],
    )
    return finish(report, rows, started)

"""Hot statements (the ``near`` list, the geotag, the per-request object resolution and token
lookup: what bench_near and bench_geotag measure) compile to the SQL recorded here, so a
refactor cannot change them unnoticed. A deliberate change re-records them (python
tests/test_hot_sql.py --write) together with a bench_near / bench_geotag run."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from sqlalchemy.dialects.postgresql.psycopg import dialect

from geo_crm.auth import tokens
from geo_crm.domain import access, geotagging, outlets

GOLDEN = Path(__file__).parent / "golden" / "hot_sql"
ROLES = ("admin", "manager", "rep")
SHAPES = {
    "plain": {}, "tier_status": {"tier": True, "status": True}, "region": {"region": True},
    "distributor": {"distributor": True}, "geotagged": {"geotagged": True},
    "bbox_q": {"bbox": True, "q": True}, "near": {"near": True},
    "near_radius": {"near": True, "radius": True}, "near_knn": {"near": True, "knn": True},
    "near_radius_knn_after": {"near": True, "radius": True, "knn": True, "after": True},
    "region_distributor_near_radius": {
        "region": True, "distributor": True, "near": True, "radius": True,
    },
}  # fmt: skip


def _sql(statement) -> str:
    return statement.sql if hasattr(statement, "sql") else str(statement.compile(dialect=dialect()))


def statements() -> dict[str, str]:
    out = {}
    for name, fields in SHAPES.items():
        shape = dataclasses.replace(outlets._Shape(), **fields)
        for total in (False, True):
            out[f"outlets_page_{name}_{'total' if total else 'page'}"] = _sql(
                outlets._page_template(shape, total)
            )
        out[f"outlets_count_{name}"] = _sql(outlets._count_template(shape))
    for role in ROLES:
        out[f"geotag_tag_{role}"] = _sql(geotagging._tag_stmt(role))
        for kind in access.OBJECT_KINDS:
            out[f"object_{kind}_{role}"] = _sql(access._resolve_stmt(kind, role))
    for kind in (None, *access.OBJECT_KINDS):
        out[f"token_{kind}"] = _sql(tokens._resolve(kind))
    return out


@pytest.mark.parametrize("name", sorted(statements()))
def test_hot_statement_sql_is_unchanged(name):
    recorded = GOLDEN / f"{name}.sql"
    assert recorded.is_file(), f"no golden SQL for {name}: python {__file__} --write"
    assert statements()[name] == recorded.read_text(encoding="utf-8")


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, sql in statements().items():
        (GOLDEN / f"{name}.sql").write_text(sql, encoding="utf-8")
    print(f"wrote {len(statements())} statements to {GOLDEN}")

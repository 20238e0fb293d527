"""Import outlets, upserted by ``code`` (columns: docs/import-export.md "Outlets").

Besides the cells, a file is checked as a network: parents exist (in the file or stored),
are of a higher tier and never loop, and a tier change leaves the stored buyers below it.
Location changes are kept as geotag events (source ``import``).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass
from typing import Unpack

import numpy as np
from sqlalchemy import Text, any_, bindparam, literal_column, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ...coords import CRS_NAMES, to_wgs84
from ...domain.network import OUTLETS, outlet_tree
from ...domain.outlet_changes import acting_user
from ...domain.outlets import point_sql
from ...errors import ValidationError
from ..tabular import Progress, cell_text, float_column
from .common import (
    CRS_HINT,
    CRS_WORDS,
    RANK,
    STATUS_HINT,
    STATUS_WORDS,
    TIER_HINT,
    TIER_WORDS,
    FileOptions,
    ImportReport,
    Rows,
    Source,
    drop_stage,
    duplicates,
    finish,
    fold,
    is_distinct,
    new_ids,
    open_rows,
    refused,
    stage_rows,
    to_write,
)

# column -> accepted header names (compared fold-ed: NFKC, lower case, without spaces, _ and -)
OUTLET_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "outlet_code", "编码", "代码", "编号", "客户编码", "网点编码"),
    "name": ("name", "名称", "客户名称", "网点名称"),
    "tier": ("tier", "级别", "类型", "层级"),
    "parent_code": ("parent_code", "parent", "上级编码", "上级代码", "上级"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "long", "longitude", "经度"),
    "crs": ("crs", "坐标系"),
    "address": ("address", "地址"),
    "contact": ("contact", "联系人"),
    "phone": ("phone", "tel", "telephone", "电话", "联系电话", "手机"),
    "status": ("status", "状态"),
    "rep": ("rep", "rep_username", "业务员"),
    "notes": ("notes", "note", "remarks", "备注"),
}


@dataclass
class _Known:
    """An outlet as stored: what validation needs of the file's outlets, parents and ancestors."""

    id: int
    tier: str
    parent_code: str | None
    name: str
    status: str


_OUTLET_STAGE = "geo_crm_outlet_stage"
_OUTLET_STAGE_DDL = (
    "rn integer, ord integer, id bigint, code text, name text, tier text, parent_id bigint,"
    " lon double precision, lat double precision, crs text, address text, contact text,"
    " phone text, status text, rep_id integer, notes text"
)
_OUTLET_STAGE_COLUMNS = (
    "rn",
    "ord",
    "id",
    "code",
    "name",
    "tier",
    "parent_id",
    "lon",
    "lat",
    "crs",
    "address",
    "contact",
    "phone",
    "status",
    "rep_id",
    "notes",
)
# file column -> stored column (lat/lon -> location is handled apart)
_OUTLET_TARGET = {
    "name": "name",
    "tier": "tier",
    "parent_code": "parent_id",
    "address": "address",
    "contact": "contact",
    "phone": "phone",
    "status": "status",
    "rep": "rep_id",
    "notes": "notes",
}


def import_outlets(
    session: Session,
    source: Source,
    *,
    crs: str | None = None,
    user_id: int | None = None,
    **options: Unpack[FileOptions],
) -> ImportReport:
    """Validate and upsert outlets by ``code``; location changes are kept as geotag events.

    ``crs`` is the coordinate system of rows whose ``crs`` cell is blank (default wgs84);
    ``user_id`` is who imports (``created_by`` of new outlets, ``user`` of geotag events).
    """
    default_crs = _crs_option(crs)
    rows, report, started = open_rows("outlets", source, OUTLET_COLUMNS, ("code",), **options)
    cols = _parse_outlets(session, rows, default_crs)
    known = _known_outlets(session, cols)
    _check_required(rows, cols, known)
    children = _stored_children(session, rows, cols, known)
    _check_network(rows, cols, known, children, report.skip_invalid)
    keep = to_write(rows, report)
    if keep is None:
        return finish(report, rows, started)
    order = _write_order(rows, cols, known, children, keep)
    _write_outlets(session, rows, cols, known, keep, order, report, user_id, rows.progress)
    return finish(report, rows, started)


def _crs_option(crs: str | None) -> str:
    if crs is None or not crs.strip():
        return "wgs84"
    found = {fold(k): v for k, v in CRS_WORDS.items()}.get(fold(crs))
    if found is None:
        raise ValidationError(
            f"unknown coordinate system {crs!r}: use {CRS_HINT}",
            fields={"crs": f"must be one of {', '.join(CRS_NAMES)}"},
        )
    return found


@dataclass
class _OutletCols:
    code: list[str | None]
    name: list[str | None]
    tier: list[str | None]
    parent: list[str | None]
    lon: np.ndarray  # WGS-84, NaN when blank or bad
    lat: np.ndarray
    crs: list[str]
    address: list[str | None]
    contact: list[str | None]
    phone: list[str | None]
    status: list[str | None]
    rep_id: list[int | None]
    notes: list[str | None]


def _parse_outlets(session: Session, rows: Rows, default_crs: str) -> _OutletCols:
    code = rows.text("code", max_len=64)
    for i, c in enumerate(code):
        if c is None:
            rows.required(i, "code")
    duplicates(rows, "code", code)
    parent = rows.text("parent_code", max_len=64)
    crs = [c or default_crs for c in rows.words("crs", CRS_WORDS, "coordinate system", CRS_HINT)]
    lon, lat = _coordinates(session, rows, crs)
    return _OutletCols(
        code=code,
        name=rows.text("name"),
        parent=parent,
        lon=lon,
        lat=lat,
        crs=crs,
        tier=rows.words("tier", TIER_WORDS, "tier", TIER_HINT),
        address=rows.text("address"),
        contact=rows.text("contact"),
        phone=rows.text("phone", max_len=32),
        status=rows.words("status", STATUS_WORDS, "status", STATUS_HINT),
        rep_id=_reps(session, rows),
        notes=rows.text("notes"),
    )


def _coordinates(session: Session, rows: Rows, crs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse lat/lon, catch ranges and swaps, convert to WGS-84; NaN where blank or invalid."""
    n = rows.n
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    if not (rows.has("lat") or rows.has("lon")):
        return lon, lat
    ys, y_problems = float_column(rows.raw("lat"))
    xs, x_problems = float_column(rows.raw("lon"))
    for i, (y, x) in enumerate(zip(ys, xs, strict=True)):
        y_problem, x_problem = y_problems.get(i), x_problems.get(i)
        if y_problem:
            rows.add(i, "lat", f"latitude {y_problem}")
        if x_problem:
            rows.add(i, "lon", f"longitude {x_problem}")
        if y_problem or x_problem:
            continue
        if (x is None) != (y is None):
            rows.add(
                i,
                "lat" if y is None else "lon",
                f"{'latitude' if y is None else 'longitude'} is missing: give both or neither",
            )
        elif x is not None:
            lat[i], lon[i] = y, x
    given = ~np.isnan(lat)
    lat_out = given & (np.abs(lat) > 90)
    lon_out = given & (np.abs(lon) > 180)
    swapped = _swap_evidence(
        session, lon, lat, lat_out & (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    )
    for i in np.flatnonzero(lat_out | lon_out).tolist():
        if lat_out[i]:
            why = f"latitude {lat[i]:g} is outside [-90, 90]"
            if i in swapped:
                why += (
                    f"; swapped, the point (lat {lon[i]:g}, lon {lat[i]:g}) {swapped[i]}: "
                    "lat and lon look swapped"
                )
            rows.add(i, "lat", why)
        if lon_out[i]:
            rows.add(i, "lon", f"longitude {lon[i]:g} is outside [-180, 180]")
    bad = lat_out | lon_out
    lat[bad] = lon[bad] = np.nan
    crs_arr = np.array(crs, dtype=object)
    for name in ("gcj02", "bd09"):
        mask = (crs_arr == name) & ~np.isnan(lat)
        if mask.any():
            lon[mask], lat[mask] = to_wgs84(lon[mask], lat[mask], name)
    _swapped_by_region(session, rows, lon, lat)
    return lon, lat


def _swap_evidence(
    session: Session, lon: np.ndarray, lat: np.ndarray, swappable: np.ndarray
) -> dict[int, str]:
    """Rows whose latitude is out of range but would fit as a longitude (and the longitude as a
    latitude) are called swapped only when the swapped point makes sense: it falls in a
    loaded region, or among the file's other points (their extent, widened by a degree). A
    latitude of 95 beside a longitude of -80 in a file of US addresses is a typo, not a swap.
    Returns where each such swapped point lies, by row."""
    idx = np.flatnonzero(swappable)
    if not len(idx):
        return {}
    out: dict[int, str] = {}
    if session.execute(text("SELECT EXISTS (SELECT 1 FROM region_parts)")).scalar():
        found = session.execute(
            text(
                "SELECT t.i, r.name FROM unnest(CAST(:i AS integer[]), CAST(:x AS float8[]),"
                " CAST(:y AS float8[])) AS t(i, x, y)"
                " CROSS JOIN LATERAL (SELECT rp.region_id FROM region_parts rp"
                "   WHERE ST_Intersects(rp.geom, ST_SetSRID(ST_MakePoint(t.x, t.y), 4326))"
                "   ORDER BY rp.depth DESC LIMIT 1) AS hit JOIN regions r ON r.id = hit.region_id"
            ),
            {"i": idx.tolist(), "x": lat[idx].tolist(), "y": lon[idx].tolist()},
        ).all()
        out.update((i, f"falls in {region}") for i, region in found)
    fine = ~np.isnan(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if fine.any():
        x0, x1 = lon[fine].min() - 1, lon[fine].max() + 1
        y0, y1 = lat[fine].min() - 1, lat[fine].max() + 1
        for i in idx.tolist():
            if i not in out and x0 <= lat[i] <= x1 and y0 <= lon[i] <= y1:
                out[i] = "lies among the file's other points"
    return out


def _swapped_by_region(session: Session, rows: Rows, lon: np.ndarray, lat: np.ndarray) -> None:
    """A point in no known region whose swapped twin lies in one was probably typed swapped."""
    candidates = np.flatnonzero(~np.isnan(lat) & (np.abs(lon) <= 90))
    if (
        not len(candidates)
        or not session.execute(text("SELECT EXISTS (SELECT 1 FROM region_parts)")).scalar()
    ):
        return
    found = session.execute(
        text(
            "SELECT t.i, r.name FROM unnest(CAST(:i AS integer[]), CAST(:x AS float8[]),"
            " CAST(:y AS float8[])) AS t(i, x, y)"
            " CROSS JOIN LATERAL (SELECT rp.region_id FROM region_parts rp"
            "   WHERE ST_Intersects(rp.geom, ST_SetSRID(ST_MakePoint(t.y, t.x), 4326))"
            "   ORDER BY rp.depth DESC LIMIT 1) AS hit JOIN regions r ON r.id = hit.region_id"
            " WHERE NOT EXISTS (SELECT 1 FROM region_parts rp"
            "   WHERE ST_Intersects(rp.geom, ST_SetSRID(ST_MakePoint(t.x, t.y), 4326)))"
        ),
        {"i": candidates.tolist(), "x": lon[candidates].tolist(), "y": lat[candidates].tolist()},
    ).all()
    for i, region in found:
        rows.add(
            i,
            "lat",
            f"the point (lat {lat[i]:g}, lon {lon[i]:g}) lies in no known region "
            f"but swapped it falls in {region}: lat and lon look swapped",
        )
        lat[i] = lon[i] = np.nan


def _reps(session: Session, rows: Rows) -> list[int | None]:
    names = rows.text("rep", max_len=64)
    wanted = sorted({n for n in names if n is not None})
    ids = (
        dict(
            session.execute(
                text("SELECT username, id FROM users WHERE username = ANY(:names)"),
                {"names": wanted},
            ).all()
        )
        if wanted
        else {}
    )
    out: list[int | None] = []
    for i, n in enumerate(names):
        if n is not None and n not in ids:
            rows.add(i, "rep", f"unknown rep {n!r}: no user has this username")
        out.append(ids.get(n) if n is not None else None)
    return out


_O, _P = OUTLETS.alias("o"), OUTLETS.alias("p")
_KNOWN = select(_O.c.code, _O.c.id, _O.c.tier, _P.c.code, _O.c.name, _O.c.status).select_from(
    _O.outerjoin(_P, _P.c.id == _O.c.parent_id)
)
_CODES = bindparam("codes", type_=ARRAY(Text))
_KNOWN_BY_CODE = _KNOWN.where(_O.c.code == any_(_CODES))
_UP = outlet_tree(OUTLETS.c.code == any_(_CODES), up=True, depth=False, distinct=True, name="up")
_KNOWN_ABOVE = _KNOWN.join(_UP, _UP.c.id == _O.c.id)


def _known_outlets(session: Session, cols: _OutletCols) -> dict[str, _Known]:
    """The stored outlets the file names (as rows or parents) and all their stored ancestors
    (a file usually holds the parents too, so the walk up rarely has work)."""
    codes = sorted({c for c in (*cols.code, *cols.parent) if c is not None})
    if not codes:
        return {}
    known = {
        code: _Known(id_, tier, parent, name, status)
        for code, id_, tier, parent, name, status in session.execute(
            _KNOWN_BY_CODE, {"codes": codes}
        )
    }
    outside = sorted({k.parent_code for k in known.values() if k.parent_code} - known.keys())
    if outside:
        for code, id_, tier, parent, name, status in session.execute(
            _KNOWN_ABOVE, {"codes": outside}
        ):
            known.setdefault(code, _Known(id_, tier, parent, name, status))
    return known


def _check_required(rows: Rows, cols: _OutletCols, known: dict[str, _Known]) -> None:
    """Name and tier: a present column may not be blank; an absent one is needed for new rows."""
    for column, values in (("name", cols.name), ("tier", cols.tier)):
        present = rows.has(column)
        raw = rows.raw(column)
        for i, code in enumerate(cols.code):
            if code is None or values[i] is not None:
                continue
            if present and cell_text(raw[i]) is not None:
                continue  # an unknown word, already reported
            if present or code not in known:
                why = "" if present else " for a new outlet (no such column)"
                rows.add(i, column, f"{column} is required{why}")


def _check_network(
    rows: Rows,
    cols: _OutletCols,
    known: dict[str, _Known],
    children: dict[str, list[tuple]],
    skip_invalid: bool,
) -> None:
    """Parents exist, buy from nobody of the same or lower tier, and never loop.

    All-or-nothing: checked once over every row. With ``skip_invalid`` rows found bad are left
    out (their stored state stands) and the rest checked again, until nothing new turns up;
    a row whose parent's row is skipped is skipped too.
    """
    included = [
        i
        for i in range(rows.n)
        if cols.code[i] is not None and not (skip_invalid and i in rows.bad)
    ]
    while True:
        before = len(rows.problems)
        skipped = {
            cols.code[i]: rows.numbers[i]
            for i in range(rows.n)
            if skip_invalid and i in rows.bad and cols.code[i] is not None
        }
        in_file = {}
        for i in included:
            in_file.setdefault(cols.code[i], i)
        _check_parents(rows, cols, known, included, in_file, skipped)
        _check_children(rows, cols, known, children, in_file)
        _check_cycles(rows, cols, known, included, in_file)
        if not skip_invalid or len(rows.problems) == before:
            return
        included = [i for i in included if i not in rows.bad]


def _tier_of(i: int, cols: _OutletCols, known: dict[str, _Known]) -> str | None:
    if cols.tier[i] is not None:
        return cols.tier[i]
    stored = known.get(cols.code[i])
    return stored.tier if stored else None


def _parent_of(i: int, rows: Rows, cols: _OutletCols, known: dict[str, _Known]) -> str | None:
    if rows.has("parent_code"):
        return cols.parent[i]
    stored = known.get(cols.code[i])
    return stored.parent_code if stored else None


def _check_parents(rows, cols, known, included, in_file, skipped) -> None:
    column = "parent_code" if rows.has("parent_code") else "tier"
    for i in included:
        parent = _parent_of(i, rows, cols, known)
        tier = _tier_of(i, cols, known)
        if parent is None:
            continue
        if parent == cols.code[i]:
            rows.add(i, column, "an outlet cannot be its own parent")
            continue
        if tier == "distributor":
            rows.add(
                i,
                column,
                f"a distributor buys from nobody: leave parent_code empty (got {parent!r})",
            )
            continue
        if parent in skipped and parent not in in_file:
            rows.add(
                i,
                column,
                f"its parent {parent!r} (row {skipped[parent]}) is invalid and was skipped",
            )
            continue
        if parent in in_file:
            parent_tier = _tier_of(in_file[parent], cols, known)
        elif parent in known:
            parent_tier = known[parent].tier
        else:
            rows.add(i, column, f"unknown parent {parent!r}: not in this file or the database")
            continue
        if tier is not None and parent_tier is not None and RANK[parent_tier] >= RANK[tier]:
            rows.add(
                i,
                column,
                f"a {tier} outlet may not buy from {parent!r}, a {parent_tier}: "
                f"the parent must be of a higher tier",
            )


def _stored_children(session, rows: Rows, cols: _OutletCols, known) -> dict[str, list[tuple]]:
    """Stored buyers of outlets whose tier the file changes; and their plans/evaluations."""
    changed = {
        cols.code[i]: known[cols.code[i]].id
        for i in range(rows.n)
        if cols.code[i] in known
        and cols.tier[i] is not None
        and cols.tier[i] != known[cols.code[i]].tier
    }
    if not changed:
        return {}
    out: dict[str, list[tuple]] = defaultdict(list)
    for parent, code, tier in session.execute(
        text(
            "SELECT p.code, c.code, c.tier FROM outlets c JOIN outlets p ON p.id = c.parent_id"
            " WHERE c.parent_id = ANY(:ids)"
        ),
        {"ids": list(changed.values())},
    ):
        out[parent].append((code, tier))
    for (code,) in session.execute(
        text(
            "SELECT o.code FROM outlets o WHERE o.id = ANY(:ids) AND o.tier = 'distributor'"
            " AND (EXISTS (SELECT 1 FROM sales_plans p WHERE p.distributor_id = o.id)"
            "   OR EXISTS (SELECT 1 FROM evaluations e WHERE e.distributor_id = o.id))"
        ),
        {"ids": list(changed.values())},
    ):
        out[code].append((None, "distributor"))
    return out


def _check_children(rows, cols, known, children, in_file) -> None:
    """A tier change must leave the stored buyers that stay put of a lower tier."""
    for code, kids in children.items():
        i = in_file.get(code)
        if i is None:
            continue
        tier = cols.tier[i]
        for kid, kid_tier in kids:
            if kid is None:
                rows.add(
                    i,
                    "tier",
                    f"cannot become {tier}: it has sales plans or evaluations as "
                    f"a distributor and must stay one",
                )
                continue
            if kid in in_file:
                continue  # the buyer's own row checks its (new) parent's tier
            if RANK[kid_tier] <= RANK[tier]:
                rows.add(
                    i,
                    "tier",
                    f"cannot become {tier}: its buyer {kid!r} is a {kid_tier} and "
                    f"would no longer buy from a higher tier",
                )


def _check_cycles(rows, cols, known, included, in_file) -> None:
    def parent_of(code: str) -> str | None:
        if code in in_file:
            parent = _parent_of(in_file[code], rows, cols, known)
        else:
            parent = known[code].parent_code if code in known else None
        return None if parent == code else parent

    column = "parent_code" if rows.has("parent_code") else "tier"
    done: set[str] = set()
    for i in included:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = cols.code[i]
        while node is not None and node not in done and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = parent_of(node)
        if node is not None and node in on_path:
            loop = path[on_path[node] :]
            shown = " → ".join([*loop, loop[0]])
            for code in loop:
                if code in in_file:
                    rows.add(in_file[code], column, f"parent cycle: {shown}")
        done.update(path)


def _write_outlets(
    session,
    rows: Rows,
    cols: _OutletCols,
    known: dict[str, _Known],
    keep: list[int],
    order: dict[int, int],
    report: ImportReport,
    user_id: int | None,
    progress: Progress | None,
) -> None:
    new = [i for i in keep if cols.code[i] not in known]
    if report.dry_run:
        fresh = [-(k + 1) for k in range(len(new))]  # placeholders: never stored
    else:
        fresh = new_ids(session, "outlets", len(new))
    ids = {cols.code[i]: known[cols.code[i]].id for i in keep if cols.code[i] in known}
    ids.update({cols.code[i]: id_ for i, id_ in zip(new, fresh, strict=True)})

    def record(i: int) -> tuple:
        code = cols.code[i]
        stored = known.get(code)
        parent = _parent_of(i, rows, cols, known)
        parent_id = (ids.get(parent) or known[parent].id) if parent is not None else None
        lon, lat = cols.lon[i], cols.lat[i]
        return (
            rows.numbers[i],
            order[i],
            ids[code],
            code,
            cols.name[i] if cols.name[i] is not None else stored.name,
            _tier_of(i, cols, known),
            parent_id,
            None if np.isnan(lon) else float(lon),
            None if np.isnan(lat) else float(lat),
            cols.crs[i],
            cols.address[i],
            cols.contact[i],
            cols.phone[i],
            cols.status[i] or (stored.status if stored else "active"),
            cols.rep_id[i],
            cols.notes[i],
        )

    all_new = len(new) == len(keep)  # a first load: nothing stored to join against
    stage_rows(
        session,
        _OUTLET_STAGE,
        _OUTLET_STAGE_DDL,
        _OUTLET_STAGE_COLUMNS,
        (record(i) for i in keep),
        len(keep),
        progress,
        analyze=not all_new,
    )
    present = [c for c in _OUTLET_TARGET if rows.has(c)]
    has_location = rows.has("lat") or rows.has("lon")
    if report.dry_run:
        counts = _count_outlets(session, present, has_location)
    else:
        acting_user(session, user_id)  # the outlet change history's who
        with refused():
            counts = _upsert_outlets(session, present, has_location, user_id, all_new=all_new)
    report.inserted, report.updated, report.geotag_events = counts
    report.unchanged = len(keep) - report.inserted - report.updated
    report.written = not report.dry_run and bool(report.inserted or report.updated)
    drop_stage(session, _OUTLET_STAGE)
    if progress:
        progress("write", len(keep), len(keep))


def _write_order(
    rows: Rows,
    cols: _OutletCols,
    known: dict[str, _Known],
    children: dict[str, list[tuple]],
    keep: list[int],
) -> dict[int, int]:
    """Each row's position in the upsert, which the tier trigger checks row by row against
    the rows written before it (rows are checked only in their final state by validation).

    By tier, parents first, then row number; but a row comes after its stored parent when
    that parent's old tier would refuse it, and a demoted outlet after those of its stored
    buyers in the file that its new tier would block until they have changed.
    """
    at = {cols.code[i]: i for i in keep}
    follow: dict[int, list[int]] = defaultdict(list)
    waits: dict[int, int] = defaultdict(int)
    for i in keep:
        parent = _parent_of(i, rows, cols, known)
        j = at.get(parent) if parent in known else None
        stored = known.get(cols.code[i])
        checked = (
            stored is None
            or stored.parent_code != parent
            or stored.tier != _tier_of(i, cols, known)
        )
        if j is not None and checked and RANK[known[parent].tier] >= RANK[_tier_of(i, cols, known)]:
            follow[j].append(i)
            waits[i] += 1
    for code, kids in children.items():
        i = at.get(code)
        for kid, kid_tier in kids:
            k = at.get(kid) if kid is not None else None
            if i is not None and k is not None and RANK[kid_tier] <= RANK[cols.tier[i]]:
                follow[k].append(i)
                waits[i] += 1

    def base(i: int) -> tuple[int, int]:
        return RANK[_tier_of(i, cols, known)], rows.numbers[i]

    if not follow:
        return {i: base(i)[0] for i in keep}  # the usual case; ties go by row number in SQL
    ready = [(base(i), i) for i in keep if not waits[i]]
    heapq.heapify(ready)
    out: dict[int, int] = {}
    while ready:
        _, i = heapq.heappop(ready)
        out[i] = len(out)
        for t in follow[i]:
            waits[t] -= 1
            if not waits[t]:
                heapq.heappush(ready, (base(t), t))
    for i in sorted((i for i in keep if i not in out), key=base):
        out[i] = len(out)  # a loop no order can satisfy: the database names the broken rule
    return out


# the staged row's point, as SQL text for the statements below
_POINT = str(
    point_sql(literal_column("s.lon"), literal_column("s.lat")).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
)


def _outlet_changes(
    present: list[str], has_location: bool, new: str, point: str
) -> list[tuple[str, str, str]]:
    """(stored column, old value, new value) for every column the file sets."""
    out = [
        (_OUTLET_TARGET[c], f"o.{_OUTLET_TARGET[c]}", f"{new}.{_OUTLET_TARGET[c]}") for c in present
    ]
    if has_location:  # a blank lat/lon keeps the stored location: an import never erases one
        out.append(("location", "o.location", f"coalesce({point}, o.location)"))
    return out


def _count_outlets(
    session: Session, present: list[str], has_location: bool
) -> tuple[int, int, int]:
    distinct = is_distinct(
        [(o, n) for _, o, n in _outlet_changes(present, has_location, "s", _POINT)]
    )
    moved = (
        f"{_POINT} IS NOT NULL AND {_POINT} IS DISTINCT FROM o.location"
        if has_location
        else "FALSE"
    )
    row = session.execute(
        text(
            f"SELECT count(*) FILTER (WHERE o.id IS NULL),"
            f" count(*) FILTER (WHERE o.id IS NOT NULL AND {distinct}),"
            f" count(*) FILTER (WHERE {moved})"
            f" FROM {_OUTLET_STAGE} s LEFT JOIN outlets o ON o.code = s.code"
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _upsert_outlets(
    session: Session, present: list[str], has_location: bool, user_id: int | None, *, all_new: bool
) -> tuple[int, int, int]:
    """One statement: upsert in write order, geotag events for new or moved points.

    Every part of a WITH statement sees the table as it was before the statement, so ``prev``
    is the stored state: no row there means inserted, and its location is the old one. When
    nothing in the file is stored yet (a first load) there is no stored state to consult: a
    plain INSERT (a concurrent insert of the same code then fails the import instead of
    being updated), and no look-ups of previous rows.
    """
    if all_new:
        source, conflict, prev, previous = "", "", "", "NULL"
        inserted, updated = "count(*)", "0"
    else:
        changes = _outlet_changes(present, has_location, "excluded", "excluded.location")
        sets = ", ".join(f"{t} = {n}" for t, _, n in changes)
        update = (
            f"DO UPDATE SET {sets} WHERE {is_distinct([(o, n) for _, o, n in changes])}"
            if changes
            else "DO NOTHING"
        )
        conflict = f"ON CONFLICT (code) {update}"
        # unchanged rows never reach the INSERT: its row trigger would run for them all the same
        same = is_distinct(
            [(o, n) for _, o, n in _outlet_changes(present, has_location, "s", _POINT)]
        )
        source = (
            f"WHERE NOT EXISTS (SELECT 1 FROM outlets o WHERE o.code = s.code AND NOT ({same}))"
        )
        prev, previous = " LEFT JOIN outlets prev ON prev.id = up.id", "prev.location"
        inserted, updated = (
            "count(*) FILTER (WHERE prev.id IS NULL)",
            "count(*) FILTER (WHERE prev.id IS NOT NULL)",
        )
    row = session.execute(
        text(
            f"WITH up AS ("
            " INSERT INTO outlets AS o (id, code, name, tier, parent_id, location, address, "
            "contact,"
            f"  phone, status, rep_id, notes, created_by_id)"
            f" SELECT s.id, s.code, s.name, s.tier, s.parent_id, {_POINT}, s.address, s.contact,"
            f"  s.phone, s.status, s.rep_id, s.notes, CAST(:user_id AS integer)"
            f"  FROM {_OUTLET_STAGE} s {source} ORDER BY s.ord, s.rn {conflict}"
            f" RETURNING o.id, o.location),"
            f" ev AS ("
            " INSERT INTO geotag_events (outlet_id, old_location, new_location, source, crs, "
            "user_id)"
            f" SELECT up.id, {previous}, up.location, 'import', s.crs, CAST(:user_id AS integer)"
            f"  FROM up JOIN {_OUTLET_STAGE} s ON s.id = up.id{prev}"
            f"  WHERE up.location IS NOT NULL AND up.location IS DISTINCT FROM {previous}"
            f" RETURNING 1)"
            f" SELECT {inserted}, {updated}, (SELECT count(*) FROM ev) FROM up{prev}"
        ),
        {"user_id": user_id},
    ).one()
    return int(row[0]), int(row[1]), int(row[2])

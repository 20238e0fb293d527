"""Cross-territory sales (窜货): the flagged sell-out records of a region and period, and the
detection of past records over the whole history in one statement.

A sell-out record (a seller outlet, not the manufacturer) is cross-territory when

- ``outside_territory``: the distributor at the top of the seller's supply chain has a
  territory (``distributor_territories``) that does not cover the buyer's location; the detail
  keeps the distance in metres from the territory to the buyer;
- ``other_network``: the buyer's supply chain leads to another distributor.

Migration 0012's trigger flags a record when it is recorded; :func:`detect_all` applies the
same rules to every stored record at once (records kept before a territory was set, or after
one changed). It reads no record to find the pairs: the (seller, buyer) pairs of the sell-out
records are a rollup (``sales_pairs``, migration 0017) kept by statement triggers with each
pair's record count and how many of its records carry each flag. One statement judges every
pair and keeps those whose flag counts disagree with the verdict; one UPDATE rewrites the
records of those pairs whose flags change. A re-check that finds nothing new reads no record.
The distributors whose territory was written since the last run (migration 0020) have the
distance of their records that stay flagged ``outside_territory`` measured again.
Both leave other flags (``over_credit_limit``) alone and put a record whose flags changed back
in the review list. The reading before the UPDATE may be shared out over several database
sessions on the detection's snapshot (``workers``: GEO_CRM_DETECT_WORKERS); what they find
is written in the detection's own transaction, one UPDATE per share as each is read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import time
from dataclasses import asdict, dataclass, field

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from ..db import snapshot_workers
from ..domain.principal import Principal
from ..errors import NotFound, ValidationError
from .params import find_region

LOGGER = logging.getLogger(__name__)
FLAGS = ("outside_territory", "other_network")
DEFAULT_LIMIT = 2_000
MAX_LIMIT = 10_000

# Every pair judged once, in one statement, and kept when its flag counts disagree with the
# verdict (on a re-check that finds nothing new: no pair). The distributor at the top of every
# outlet's supply chain (NULL when the chain ends below the distributor tier) is kept by the
# database (``outlet_roots``, migration 0023: statement triggers on outlets), read here for
# the pairs' sellers and buyers, not worked out again per run. Whether the seller's
# distributor's territory covers the buyer is asked of the territory's parts (migration 0014:
# small polygons, found by distributor, a bounding-box test first inside _ST_Covers) and, for
# the few pairs no part covers, of the whole territory, as the recording trigger (0012, 0017)
# asks it, so that both answer alike to the last point on a border. The pairs are judged in
# the order of their seller's distributor: one territory's parts are then asked one pair after
# another (in the order of the hash joins' input they alternate, and the test cost a fifth more
# at 5,000,000 records: bench/README.md, 2026-12-07, w8-root).
_JUDGE_SQL = """
CREATE TEMPORARY TABLE geo_crm_crossing ON COMMIT DROP AS
WITH judged AS MATERIALIZED (  -- each verdict made once, not again for the pairs kept
    SELECT q.seller_id, q.buyer_id, q.records, q.other_network, q.outside_territory,
           q.seller_root, q.buyer_root, q.location,
           q.outside_territory > 0 AND q.seller_root = ANY(CAST(:stale AS bigint[])) AS stale,
           (q.buyer_root <> q.seller_root) IS TRUE AS other,
           (q.location IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM distributor_territory_parts tp
                             WHERE tp.distributor_id = q.seller_root
                               AND _ST_Covers(tp.geom, q.location))
            AND coalesce((SELECT NOT ST_Covers(t.geom, q.location)
                            FROM distributor_territories t
                           WHERE t.distributor_id = q.seller_root), false)) AS outside
      FROM (SELECT p.seller_id, p.buyer_id, p.records, p.other_network, p.outside_territory,
                   s.root_id AS seller_root, b.root_id AS buyer_root, bo.location
              FROM sales_pairs p
              JOIN outlet_roots s ON s.outlet_id = p.seller_id
              JOIN outlet_roots b ON b.outlet_id = p.buyer_id
              JOIN outlets bo ON bo.id = p.buyer_id
             {share}
             ORDER BY s.root_id) q
)
SELECT seller_id, buyer_id, seller_root, buyer_root, other, outside,
       stale AND outside AS refresh,
       CASE WHEN outside THEN location END AS buyer_location  -- to measure from, below
  FROM judged
 WHERE other_network <> CASE WHEN other THEN records ELSE 0 END
    OR outside_territory <> CASE WHEN outside THEN records ELSE 0 END
    OR (stale AND outside)
"""
_JUDGE = text(_JUDGE_SQL.replace("{share}", ""))
# a helper session's share of the pairs (N sessions, below): the pairs of the sellers listed,
# or of every seller the other shares do not list (so that every pair is judged exactly once,
# whatever was recorded after the shares were made)
_JUDGE_SHARE = text(
    _JUDGE_SQL.replace("{share}", "WHERE p.seller_id = ANY(CAST(:sellers AS bigint[]))")
)
_JUDGE_REST = text(
    _JUDGE_SQL.replace("{share}", "WHERE p.seller_id <> ALL(CAST(:sellers AS bigint[]))")
)

# The records of the pairs kept whose cross-territory flags differ from the verdict (and, for
# the pairs of a territory changed since the last run, the records flagged outside it, whose
# distance may be stale), each pair's found through the (seller, buyer) index, with what they
# become. The detail (the distributors' codes, the distance from the territory on the
# spheroid, as the trigger measures it: the same function of the same values) is made once
# per crossing pair kept. The distance is the costly part of a first run: each territory is
# made a geography once, not once per pair (the cast of a 257-vertex disc costs about as much
# as a cached distance), and its pairs are measured one after another from arrays, so that
# PostGIS keeps the territory's edge tree from one call to the next (bench/README.md). Other
# flags (over_credit_limit) are kept; a record whose flags changed goes back to the review
# list, a record whose distance alone changed keeps its review.
_CHANGED = text("""
CREATE TEMPORARY TABLE geo_crm_changed ON COMMIT DROP AS
WITH target AS MATERIALIZED (  -- with the flags and detail read here, not fetched again
    SELECT s.id, s.seller_id, s.buyer_id, s.flags, s.flag_detail, s.flags_changed
      FROM geo_crm_crossing c
     CROSS JOIN LATERAL (  -- each pair's records through the pair index, not a scan of all
            SELECT s.id, s.seller_id, s.buyer_id, s.flags, s.flag_detail,
                   (s.flags @> ARRAY['other_network']) <> c.other
                     OR (s.flags @> ARRAY['outside_territory']) <> c.outside AS flags_changed
              FROM sales_records s
             WHERE s.seller_id = c.seller_id AND s.buyer_id = c.buyer_id OFFSET 0) s
     WHERE s.flags_changed OR (c.refresh AND s.flags @> ARRAY['outside_territory'])
), distance AS MATERIALIZED (  -- per territory: made a geography once, then its pairs
    SELECT x.seller_id, x.buyer_id, round(ST_Distance(r.geog, x.location::geography)) AS m
      FROM (SELECT g.sellers, g.buyers, g.locations,
                   (SELECT t.geom::geography FROM distributor_territories t
                     WHERE t.distributor_id = g.seller_root) AS geog
              FROM (SELECT c.seller_root, array_agg(c.seller_id) AS sellers,
                           array_agg(c.buyer_id) AS buyers,
                           array_agg(c.buyer_location) AS locations
                      FROM geo_crm_crossing c  -- the buyer's location kept by the judge
                     WHERE c.outside
                     GROUP BY c.seller_root) g
            OFFSET 0) r
     CROSS JOIN LATERAL unnest(r.sellers, r.buyers, r.locations)
           AS x(seller_id, buyer_id, location)
), detail AS MATERIALIZED (
    SELECT c.seller_id, c.buyer_id,
           CASE WHEN c.other THEN ARRAY['other_network'] ELSE ARRAY[]::text[] END
             || CASE WHEN c.outside THEN ARRAY['outside_territory'] ELSE ARRAY[]::text[] END
             AS cross_flags,
           CASE WHEN c.other THEN jsonb_build_object('other_network', jsonb_build_object(
                  'seller_distributor', so.code, 'buyer_distributor', bo.code))
                ELSE '{}'::jsonb END
             || CASE WHEN c.outside THEN jsonb_build_object('outside_territory',
                  jsonb_build_object('distributor', so.code, 'distance_m', d.m))
                ELSE '{}'::jsonb END AS cross_detail
      FROM geo_crm_crossing c
      LEFT JOIN distance d ON d.seller_id = c.seller_id AND d.buyer_id = c.buyer_id
      LEFT JOIN outlets so ON so.id = c.seller_root
      LEFT JOIN outlets bo ON bo.id = c.buyer_root
     WHERE c.other OR c.outside
)
SELECT c.id, c.seller_id, c.buyer_id, c.flags_changed, c.new_flags, c.new_detail
  FROM (SELECT t.id, t.seller_id, t.buyer_id, t.flags_changed, t.flag_detail,
               CASE WHEN t.flags_changed
                    THEN array_remove(array_remove(t.flags, 'other_network'), 'outside_territory')
                         || coalesce(d.cross_flags, ARRAY[]::text[])
                    ELSE t.flags END AS new_flags,
               (t.flag_detail - 'outside_territory' - 'other_network')
                 || coalesce(d.cross_detail, '{}'::jsonb) AS new_detail
          FROM target t
          LEFT JOIN detail d ON d.seller_id = t.seller_id AND d.buyer_id = t.buyer_id) c
 WHERE c.flags_changed OR c.new_detail IS DISTINCT FROM c.flag_detail
 ORDER BY c.id  -- the heap's order
""")

# The records are written one by one through the primary key in the order of their ids (the
# heap's order): a merge or hash join with every record (the planner's choice for tens of
# thousands of ids at 5,000,000 records) reads the whole table to write 1 % of it. A record
# whose seller or buyer changed since it was read (the write sees what was committed since:
# READ COMMITTED, or the helper sessions' snapshot, is older) is left alone: its flags were
# worked out for its old pair, and the recording trigger (0012, 0017) judged it again when its
# pair changed.
_WRITE = text("""
WITH written AS (
    UPDATE sales_records s
       SET flags = c.new_flags,
           flag_detail = c.new_detail,
           review_state = CASE WHEN NOT c.flags_changed THEN s.review_state
                               WHEN cardinality(c.new_flags) = 0 THEN NULL
                               ELSE 'pending' END,
           reviewed_by_id = CASE WHEN c.flags_changed THEN NULL ELSE s.reviewed_by_id END,
           reviewed_at = CASE WHEN c.flags_changed THEN NULL ELSE s.reviewed_at END
      FROM geo_crm_changed c
     WHERE s.id = c.id AND s.seller_id = c.seller_id AND s.buyer_id = c.buyer_id
    RETURNING s.flags, c.flags_changed
)
SELECT count(*) FILTER (WHERE flags_changed) AS changed,
       count(*) FILTER (WHERE NOT flags_changed) AS refreshed,
       count(*) FILTER (WHERE flags_changed AND 'outside_territory' = ANY(flags))
         AS outside_territory,
       count(*) FILTER (WHERE flags_changed AND 'other_network' = ANY(flags)) AS other_network
  FROM written
""")


_JOINS = text("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')")
_SET_JOINS = text(
    "SELECT set_config('enable_hashjoin', :hash, true), "
    "set_config('enable_mergejoin', :merge, true)"
)

# The distributors whose territory was written since the last run (migration 0020's trigger),
# taken: their pairs' records flagged outside the territory get their distance re-measured.
_STALE = text("DELETE FROM territory_distances_stale RETURNING distributor_id")


# The sellers of the pair rollup with their number of pairs and the distributor at the top of
# their chain (outlet_roots, as the judge reads it), to share the pairs out by distributor
_SELLERS = text("""
SELECT p.seller_id, p.pairs, r.root_id AS root
  FROM (SELECT seller_id, count(*) AS pairs FROM sales_pairs GROUP BY seller_id) p
  JOIN outlet_roots r ON r.outlet_id = p.seller_id
""")
_CHANGED_COLUMNS = "id, seller_id, buyer_id, flags_changed, new_flags, new_detail"
# the helper sessions' results land here, typed as _CHANGED makes them
_CHANGED_EMPTY = text("""
CREATE TEMPORARY TABLE geo_crm_changed ON COMMIT DROP AS
SELECT id, seller_id, buyer_id, true AS flags_changed, flags AS new_flags,
       flag_detail AS new_detail
  FROM sales_records WITH NO DATA
""")


@dataclass
class Detection:
    changed: int  # records whose cross-territory flags changed
    outside_territory: int  # of those, now flagged outside_territory
    other_network: int
    flagged_total: dict[str, int]  # every sell-out record carrying each flag after the run
    seconds: float
    refreshed: int = 0  # records whose flags stay but whose distance changed with the territory
    sessions: int = 1  # database sessions that read side by side (see detect_all)

    def to_dict(self) -> dict:
        return asdict(self)


def detect_all(session: Session, *, workers: int = 1) -> Detection:
    """Apply the cross-territory rules to every stored sell-out record: every (seller, buyer)
    pair of the pair rollup judged once, one UPDATE of the records whose flags change (or, for
    a territory changed since the last run, whose distance from it changed: ``refreshed``).
    ``seconds`` times those; the totals after them are read from the pair rollup.

    With ``workers`` > 1 (GEO_CRM_DETECT_WORKERS) the reading — judging the pairs, finding
    their records, measuring the distances — is shared out over that many helper sessions
    reading the snapshot of this transaction side by side (db/snapshot_workers.py), each the
    pairs of a share of the distributors; their results come back here and are written in
    this transaction, all or nothing: one UPDATE per share, the first as soon as its share is
    read, while the others still read (the shares are cut unevenly for it: see
    ``_LAST_SHARE_WEIGHT``). A transaction that has written anything already, or runs in a
    savepoint, cannot share its snapshot: it reads alone (``sessions`` says how many read)."""
    started = time.perf_counter()
    alone = "one session asked for" if workers <= 1 else snapshot_workers.can_export(session)
    if alone and workers > 1:
        LOGGER.info("the cross-territory detection reads in one session: %s", alone)
    session.execute(text("DROP TABLE IF EXISTS geo_crm_crossing, geo_crm_changed"))
    if alone:
        stale = list(session.execute(_STALE).scalars())
        session.execute(_JUDGE, {"stale": stale})
        session.execute(text("ANALYZE geo_crm_crossing"))
        session.execute(_CHANGED)
        sessions, written = 1, _write(session)
    else:
        sessions, written = _read_side_by_side(session, workers)
    session.execute(text("DROP TABLE IF EXISTS geo_crm_changed, geo_crm_crossing"))
    seconds = round(time.perf_counter() - started, 3)
    totals = session.execute(
        text(
            "SELECT coalesce(sum(outside_territory), 0), coalesce(sum(other_network), 0) "
            "FROM sales_pairs"
        )
    ).one()
    return Detection(
        changed=written["changed"],
        outside_territory=written["outside_territory"],
        other_network=written["other_network"],
        refreshed=written["refreshed"],
        flagged_total={"outside_territory": int(totals[0]), "other_network": int(totals[1])},
        seconds=seconds,
        sessions=sessions,
    )


def _write(session: Session) -> dict[str, int]:
    """The UPDATE of the records listed in ``geo_crm_changed``: how many it wrote, by kind."""
    joins = session.execute(_JOINS).one()
    session.execute(_SET_JOINS, {"hash": "off", "merge": "off"})  # by the primary key: above
    try:
        return dict(session.execute(_WRITE).one()._mapping)
    finally:
        session.execute(_SET_JOINS, {"hash": joins[0], "merge": joins[1]})


def seller_shares(
    sellers: list[tuple[int, int, int | None]], n: int, weights: list[float] | None = None
) -> list[list[int]]:
    """The sellers ``(seller_id, pairs, root)`` cut into ``n`` shares of about as many pairs
    (or in the proportions of ``weights``), every distributor's sellers in one share (its
    territory is then measured from by one session only: PostGIS keeps a territory's edge tree
    from one distance to the next), each share's sellers in distributor order. Sellers with no
    distributor above them go with the first share. Largest distributors first, each to the
    share furthest below its part so far."""
    weights = weights or [1.0] * n
    by_root: dict[int | None, list[int]] = {}
    weight: dict[int | None, int] = {}
    for seller_id, pairs, root in sellers:
        by_root.setdefault(root, []).append(seller_id)
        weight[root] = weight.get(root, 0) + pairs
    loads = [0] * n
    roots: list[list[int | None]] = [[] for _ in range(n)]
    for root in sorted(weight, key=lambda r: (-weight[r], r is None, r or 0)):
        k = 0 if root is None else min(range(n), key=lambda i: (loads[i] / weights[i], i))
        loads[k] += weight[root]
        roots[k].append(root)
    shares = []
    for share in roots:
        share.sort(key=lambda r: (r is None, r or 0))
        shares.append([seller for root in share for seller in by_root[root]])
    return shares


# With N reading sessions the first share (of the pairs: 0) is the largest, the others
# 1 / _LAST_SHARE_WEIGHT of it: a smaller share finishes reading first and is written while
# the largest still reads. With a reading of R seconds of CPU in all and a write of W, two
# sessions finish soonest when the smaller share is R / (2R + W) of the pairs: 0.42 at
# 5,000,000 records (R ≈ 11 s, W ≈ 3.5 s; bench/README.md).
_LAST_SHARE_WEIGHT = 1.4


def _read_side_by_side(session: Session, workers: int) -> tuple[int, dict[str, int]]:
    """The reading of :func:`detect_all` over ``workers`` helper sessions on this transaction's
    snapshot, and the write of what they find: each share's records to change are copied into
    this session's ``geo_crm_changed`` (in id order: the write's order) and written as soon as
    the share is read, while the others still read. Returns the number of sessions that read
    and what the writes wrote."""
    sellers = [tuple(r) for r in session.execute(_SELLERS).all()]
    weights = [_LAST_SHARE_WEIGHT] + [1.0] * (workers - 1)
    shares = seller_shares(sellers, workers, weights)
    # taken before the snapshot: a territory written after it stays listed for the next run
    stale = list(session.execute(_STALE).scalars())
    # share 0 takes every seller the others do not list (a seller recorded since the shares)
    jobs = [(_JUDGE_REST, [s for share in shares[1:] for s in share])]
    jobs += [(_JUDGE_SHARE, share) for share in shares[1:]]

    def read(conn: Connection, job) -> bytes:
        judge, listed = job
        conn.execute(judge, {"stale": stale, "sellers": listed})
        conn.execute(text("ANALYZE geo_crm_crossing"))
        conn.execute(_CHANGED)
        with conn.connection.dbapi_connection.cursor() as cursor:
            with cursor.copy(f"COPY geo_crm_changed ({_CHANGED_COLUMNS}) TO STDOUT") as copy:
                return b"".join(bytes(block) for block in copy)  # in id order (_CHANGED)

    written = dict.fromkeys(("changed", "refreshed", "outside_territory", "other_network"), 0)
    session.execute(_CHANGED_EMPTY)
    empty = True
    started = time.perf_counter()
    # closed on the way out whatever happens: helpers still reading are stopped then
    with contextlib.closing(snapshot_workers.as_done(session, jobs, read)) as found:
        for index, data in found:
            read_at = time.perf_counter() - started
            if not data:
                LOGGER.debug(
                    "share %d of %d read at %.2f s: nothing to write",
                    index, len(jobs), read_at,
                )  # fmt: skip
                continue
            if not empty:
                session.execute(text("TRUNCATE geo_crm_changed"))
            with session.connection().connection.dbapi_connection.cursor() as cursor:
                with cursor.copy(f"COPY geo_crm_changed ({_CHANGED_COLUMNS}) FROM STDIN") as copy:
                    copy.write(data)
            empty = False
            for key, value in _write(session).items():
                written[key] += value
            LOGGER.debug(
                "share %d of %d read at %.2f s, written at %.2f s (%d records in all so far)",
                index, len(jobs), read_at, time.perf_counter() - started,
                written["changed"] + written["refreshed"],
            )  # fmt: skip
    return len(jobs), written


@dataclass
class CrossSale:
    id: int
    sale_date: dt.date
    flags: list[str]
    review_state: str | None
    amount: str
    seller_code: str
    seller_name: str
    seller_lon: float | None
    seller_lat: float | None
    buyer_code: str
    buyer_name: str
    buyer_lon: float | None
    buyer_lat: float | None
    distributor: str | None  # the seller's distributor
    buyer_distributor: str | None  # other_network: the buyer's
    distance_m: float | None  # outside_territory: from the territory to the buyer

    def to_dict(self) -> dict:
        out = asdict(self)
        out["sale_date"] = self.sale_date.isoformat()
        return out


@dataclass
class CrossSelling:
    region_code: str
    region_name: str
    date_from: dt.date
    date_to: dt.date
    counts: dict[str, int]
    sales: list[CrossSale] = field(default_factory=list)
    total: int = 0
    truncated: bool = False

    def to_dict(self) -> dict:
        return {
            "region": {"code": self.region_code, "name": self.region_name},
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "counts": self.counts,
            "sales": [s.to_dict() for s in self.sales],
            "total": self.total,
            "truncated": self.truncated,
        }


@functools.cache
def _list_statement():
    return text("""
WITH RECURSIVE sub AS (
    SELECT id FROM regions WHERE id = :region_id
    UNION ALL
    SELECT r.id FROM regions r JOIN sub ON r.parent_id = sub.id
)
SELECT s.id, s.sale_date, s.flags, s.review_state, s.amount::text AS amount,
       so.code AS seller_code, so.name AS seller_name,
       ST_X(so.location) AS seller_lon, ST_Y(so.location) AS seller_lat,
       b.code AS buyer_code, b.name AS buyer_name,
       ST_X(b.location) AS buyer_lon, ST_Y(b.location) AS buyer_lat,
       coalesce(s.flag_detail #>> '{outside_territory,distributor}',
                s.flag_detail #>> '{other_network,seller_distributor}') AS distributor,
       s.flag_detail #>> '{other_network,buyer_distributor}' AS buyer_distributor,
       (s.flag_detail #>> '{outside_territory,distance_m}')::float8 AS distance_m
  FROM sales_records s
  JOIN outlets b ON b.id = s.buyer_id
  JOIN outlets so ON so.id = s.seller_id
 WHERE s.id IN (SELECT id FROM sales_flagged)  -- the flagged records (migration 0021)
   AND s.review_state IS NOT NULL
   AND s.flags && ARRAY['outside_territory', 'other_network']
   AND b.region_id IN (SELECT id FROM sub)
   AND s.sale_date BETWEEN :date_from AND :date_to
 ORDER BY s.sale_date DESC, s.id DESC
""")


def cross_selling(
    session: Session,
    region_code: str,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    limit: int = DEFAULT_LIMIT,
    user: Principal | None = None,
) -> CrossSelling:
    """The region's cross-territory sales (buyers in the region or below) of the period
    (default: the last 365 days to today), newest first, with their distance from the
    seller's distributor's territory; counts per flag over the whole period."""
    region = find_region(session, region_code)
    if user is not None and not user.is_admin:
        from ..domain.outlets import region_known

        if not region_known(session, region_code, user):
            raise NotFound(f"no region with code {region_code!r}", fields={"region": "not found"})
    date_to = date_to or dt.date.today()
    date_from = date_from or date_to - dt.timedelta(days=364)
    if date_from > date_to:
        raise ValidationError(
            "date_from: after date_to", fields={"date_from": "must not be after date_to"}
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(
            f"limit: between 1 and {MAX_LIMIT}", fields={"limit": f"between 1 and {MAX_LIMIT}"}
        )
    rows = session.execute(
        _list_statement(), {"region_id": region.id, "date_from": date_from, "date_to": date_to}
    ).all()
    counts = {f: sum(1 for r in rows if f in r.flags) for f in FLAGS}
    return CrossSelling(
        region_code=region.code,
        region_name=region.name,
        date_from=date_from,
        date_to=date_to,
        counts=counts,
        sales=[
            CrossSale(**{k: getattr(r, k) for k in CrossSale.__dataclass_fields__})
            for r in rows[:limit]
        ],
        total=len(rows),
        truncated=len(rows) > limit,
    )

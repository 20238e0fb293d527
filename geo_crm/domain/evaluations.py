"""Evaluations of distributors (经销商评估) and their score.

An evaluation is a dated assessment, never overwritten (the table's trigger): initiative (积极性)
and credit (信誉) on 1–5, business capability (经营能力: capital, best-selling brands carried,
warehouses and their area, vehicles, staff), social relations (社会关系) and notes as free text,
the evaluator, and the *reach* of the distributor's network when it was recorded (active
downstream outlets per tier, covered km², the sub-regions reached) — computed by the caller
(:func:`geo_crm.analysis.judging.network_reach`), never typed.

Nothing about people's health, religion or family is asked for or stored; the free-text
fields are about the business (docs/business.md).

The score (0–100) is computed on read from the latest version of the weights
(``evaluation_weights``), so a change of weights re-scores the whole history without
rewriting it. One SQL definition (:data:`SCORE_SQL`) serves every reader: the lists here and
the ranking's set-based statement.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models import TIERS
from .network import distributor as find_distributor
from .principal import Principal

CRITERIA = ("initiative", "capability", "credit", "reach")
FULL_MARKS = (
    "full_capital",
    "full_warehouse_m2",
    "full_vehicles",
    "full_staff",
    "full_brands",
    "full_outlets",
)
SMALLINT_MAX = 32767
MAX_BRANDS = 50
MAX_TEXT = 4000
CLASSES = ("A", "B", "C", "D")
# class: (lowest score, lowest plan achievement of the year to date); D is everything else
CLASS_RULES = (("A", 80.0, 1.0), ("B", 65.0, 0.85), ("C", 50.0, 0.7))

# criterion sub-scores in [0, 1] and the score in [0, 100] of evaluation ``e`` under weights
# ``w`` (docs/business.md "Score and class"): the one definition every reader uses
SUB_SCORES_SQL = {
    "initiative": "(e.initiative - 1) / 4.0",
    "credit": "(e.credit - 1) / 4.0",
    "capability": (
        "(least(1.0, coalesce(e.capital, 0)::float8 / w.full_capital::float8)"
        " + least(1.0, coalesce(e.warehouse_area_m2, 0) / w.full_warehouse_m2)"
        " + least(1.0, coalesce(e.vehicles, 0)::float8 / w.full_vehicles)"
        " + least(1.0, coalesce(e.staff, 0)::float8 / w.full_staff)"
        " + least(1.0, cardinality(e.brands_carried)::float8 / w.full_brands)) / 5.0"
    ),
    "reach": "least(1.0, e.reach_outlets::float8 / w.full_outlets)",
}
SCORE_SQL = (
    "100.0 * ("
    + " + ".join(f"w.{c}::float8 * ({SUB_SCORES_SQL[c]})" for c in CRITERIA)
    + ") / (w.initiative + w.capability + w.credit + w.reach)::float8"
)
LATEST_WEIGHTS_SQL = "SELECT * FROM evaluation_weights ORDER BY version DESC LIMIT 1"


@dataclass(frozen=True)
class Reach:
    """What a distributor's network reaches when an evaluation is recorded."""

    by_tier: dict[str, int]  # active downstream outlets per tier
    km2: float | None  # covered area (None: no located outlet)
    territory: str | None  # the region whose sub-regions are counted
    regions: list[str]  # codes of the sub-regions reached
    units: int  # sub-regions of the territory

    @property
    def outlets(self) -> int:
        return sum(self.by_tier.values())


ReachOf = Callable[[Session, str], Reach]


@dataclass
class EvaluationIn:
    """One evaluation as typed (API body, CLI options, a row of a sheet)."""

    distributor: str
    evaluated_on: dt.date | None = None  # default today
    initiative: int | None = None
    credit: int | None = None
    capital: Decimal | None = None
    brands_carried: list[str] = field(default_factory=list)
    warehouses: int | None = None
    warehouse_area_m2: float | None = None
    vehicles: int | None = None
    staff: int | None = None
    social_relations: str | None = None
    notes: str | None = None


def check_evaluation(item: EvaluationIn, *, today: dt.date | None = None) -> dict[str, str]:
    """The problems of one evaluation that need no database, by field (empty: none)."""
    today = today or dt.date.today()
    problems: dict[str, str] = {}
    for name in ("initiative", "credit"):
        value = getattr(item, name)
        if value is None:
            problems[name] = f"{name} is required (1 to 5)"
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            problems[name] = f"must be a whole number from 1 to 5 (got {value!r})"
    if item.evaluated_on is not None and item.evaluated_on > today:
        problems["evaluated_on"] = f"may not be after today ({item.evaluated_on} > {today})"
    if item.capital is not None:
        try:
            bad = not Decimal(item.capital).is_finite() or item.capital < 0
            too_big = not bad and item.capital >= Decimal("1e12")
        except (InvalidOperation, TypeError):
            bad, too_big = True, False
        if bad:
            problems["capital"] = "must be a number of yuan ≥ 0"
        elif too_big:
            problems["capital"] = "must be below 1,000,000,000,000 yuan"
    for name in ("warehouses", "vehicles", "staff"):
        value = getattr(item, name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SMALLINT_MAX
        ):
            problems[name] = f"must be a whole number from 0 to {SMALLINT_MAX}"
    area = item.warehouse_area_m2
    if area is not None and (
        not isinstance(area, int | float) or not math.isfinite(area) or area < 0
    ):
        problems["warehouse_area_m2"] = "must be a finite number of m² ≥ 0"
    brands = item.brands_carried or []
    if len(brands) > MAX_BRANDS:
        problems["brands_carried"] = f"at most {MAX_BRANDS} brands"
    elif any(not isinstance(b, str) or not b.strip() or len(b) > 100 for b in brands):
        problems["brands_carried"] = "each brand a name of 1 to 100 characters"
    for name in ("social_relations", "notes"):
        value = getattr(item, name)
        if value is not None and len(value) > MAX_TEXT:
            problems[name] = f"at most {MAX_TEXT} characters"
    return problems


_INSERT = text("""
INSERT INTO evaluations (distributor_id, evaluated_on, initiative, capital, brands_carried,
    warehouses, warehouse_area_m2, vehicles, staff, credit, social_relations, notes,
    evaluator_id, reach_by_tier, reach_outlets, reach_km2, reach_territory, reach_regions,
    reach_units)
VALUES (:distributor_id, :evaluated_on, :initiative, :capital, :brands_carried, :warehouses,
    :warehouse_area_m2, :vehicles, :staff, :credit, :social_relations, :notes, :evaluator_id,
    CAST(:reach_by_tier AS jsonb), :reach_outlets, :reach_km2, :reach_territory,
    :reach_regions, :reach_units)
RETURNING id
""")


def insert_params(
    item: EvaluationIn, distributor_id: int, reach: Reach, evaluator_id: int | None
) -> dict:
    """The row of one checked evaluation (the importer writes many with it)."""
    import json

    return {
        "distributor_id": distributor_id,
        "evaluated_on": item.evaluated_on or dt.date.today(),
        "initiative": item.initiative,
        "capital": item.capital,
        "brands_carried": [b.strip() for b in item.brands_carried or []],
        "warehouses": item.warehouses,
        "warehouse_area_m2": item.warehouse_area_m2,
        "vehicles": item.vehicles,
        "staff": item.staff,
        "credit": item.credit,
        "social_relations": item.social_relations,
        "notes": item.notes,
        "evaluator_id": evaluator_id,
        "reach_by_tier": json.dumps(reach.by_tier),
        "reach_outlets": reach.outlets,
        "reach_km2": reach.km2,
        "reach_territory": reach.territory,
        "reach_regions": list(reach.regions),
        "reach_units": reach.units,
    }


def create_evaluation(
    session: Session, item: EvaluationIn, *, user: Principal | None, reach_of: ReachOf
) -> dict:
    """Record one evaluation of a distributor ``user`` may see, with the reach of its network
    now (``reach_of``); a 422 naming each bad field, nothing written. Returns it as listed."""
    problems = check_evaluation(item)
    ref = None
    try:
        ref = find_distributor(session, item.distributor, user=user)
    except ValidationError as exc:
        problems.update(exc.fields)
    if problems:
        raise ValidationError("invalid evaluation", fields=problems)
    assert ref is not None
    reach = reach_of(session, ref.code)
    evaluator = None if user is None else user.id
    new_id = session.execute(_INSERT, insert_params(item, ref.id, reach, evaluator)).scalar_one()
    return list_evaluations(session, ref.code, user=None, ids=[new_id])[0]


def insert_many(session: Session, rows: Iterable[dict]) -> int:
    """Insert checked rows (:func:`insert_params`); how many."""
    rows = list(rows)
    if rows:
        session.execute(_INSERT, rows)
    return len(rows)


# -- reading, with the score of the latest weights ------------------------------------------

_LIST = (
    """
WITH w AS ("""
    + LATEST_WEIGHTS_SQL
    + """)
SELECT e.id, d.code AS distributor_code, d.name AS distributor_name, e.evaluated_on,
       e.initiative, e.capital, e.brands_carried, e.warehouses, e.warehouse_area_m2,
       e.vehicles, e.staff, e.credit, e.social_relations, e.notes, u.username AS evaluator,
       e.created_at, e.reach_by_tier, e.reach_outlets, e.reach_km2, e.reach_territory,
       e.reach_regions, e.reach_units, w.version AS weights_version,
       """
    + ", ".join(f"({SUB_SCORES_SQL[c]}) AS s_{c}" for c in CRITERIA)
    + """,
       """
    + SCORE_SQL
    + """ AS score
  FROM evaluations e
  JOIN outlets d ON d.id = e.distributor_id
  CROSS JOIN w
  LEFT JOIN users u ON u.id = e.evaluator_id
 WHERE d.id = :distributor_id AND (CAST(:ids AS bigint[]) IS NULL OR e.id = ANY(:ids))
 ORDER BY e.evaluated_on DESC, e.id DESC
 LIMIT :limit
"""
)


def _row(r: Mapping) -> dict:
    out = {k: v for k, v in r.items() if not k.startswith("s_")}
    out["scores"] = {c: round(100.0 * float(r[f"s_{c}"]), 2) for c in CRITERIA}
    out["score"] = round(float(r["score"]), 2)
    out["reach"] = {
        "by_tier": {t: int(r["reach_by_tier"].get(t, 0)) for t in TIERS[1:]},
        "outlets": r["reach_outlets"],
        "km2": r["reach_km2"],
        "territory": r["reach_territory"],
        "regions": list(r["reach_regions"]),
        "units": r["reach_units"],
    }
    for k in ("reach_by_tier", "reach_outlets", "reach_km2", "reach_territory",
              "reach_regions", "reach_units"):  # fmt: skip
        out.pop(k)
    return out


def list_evaluations(
    session: Session,
    distributor: str,
    *,
    user: Principal | None,
    limit: int = 200,
    ids: list[int] | None = None,
) -> list[dict]:
    """The evaluations of a distributor ``user`` may see, newest first, each with its
    criterion sub-scores (0–100) and score under the latest weights."""
    if not 1 <= limit <= 1000:
        raise ValidationError("invalid limit", fields={"limit": "from 1 to 1000"})
    ref = find_distributor(session, distributor, user=user, reading=True)
    rows = session.execute(
        text(_LIST), {"distributor_id": ref.id, "ids": ids, "limit": limit}
    ).mappings()
    return [_row(r) for r in rows]


# -- weights --------------------------------------------------------------------------------


@dataclass
class WeightsIn:
    initiative: Decimal
    capability: Decimal
    credit: Decimal
    reach: Decimal
    full_capital: Decimal | None = None  # None: keep the current version's
    full_warehouse_m2: float | None = None
    full_vehicles: int | None = None
    full_staff: int | None = None
    full_brands: int | None = None
    full_outlets: int | None = None
    note: str | None = None


_WEIGHTS = """
SELECT w.version, w.initiative, w.capability, w.credit, w.reach, w.full_capital,
       w.full_warehouse_m2, w.full_vehicles, w.full_staff, w.full_brands, w.full_outlets,
       w.note, w.created_at, u.username AS created_by
  FROM evaluation_weights w LEFT JOIN users u ON u.id = w.created_by_id
"""


def current_weights(session: Session) -> dict:
    """The weights in force: the latest version."""
    return dict(
        session.execute(text(_WEIGHTS + " ORDER BY w.version DESC LIMIT 1")).mappings().one()
    )


def weights_history(session: Session) -> list[dict]:
    """Every version of the weights, newest first."""
    return [
        dict(r) for r in session.execute(text(_WEIGHTS + " ORDER BY w.version DESC")).mappings()
    ]


def set_weights(
    session: Session, new: WeightsIn, *, user: Principal | None, expected_version: int | None = None
) -> dict:
    """Store a new version of the weights (an admin's act: the caller checks the role).
    Weights are ≥ 0 and sum to a positive number; full marks are positive; a 422 names each
    bad field. ``expected_version``: the version the admin saw (409 when another was stored
    since)."""
    from ..errors import Conflict

    current = current_weights(session)
    if expected_version is not None and expected_version != current["version"]:
        raise Conflict(
            f"the weights changed since version {expected_version} (now {current['version']})",
            fields={"version": f"now {current['version']}"},
        )
    problems: dict[str, str] = {}
    values: dict[str, object] = {}
    for name in CRITERIA:
        value = getattr(new, name)
        try:
            number = Decimal(str(value))
            ok = number.is_finite() and number >= 0 and number < 100000
        except (InvalidOperation, TypeError):
            ok = False
        if not ok:
            problems[name] = "must be a number from 0 to 99,999"
        else:
            values[name] = number.quantize(Decimal("0.001"))
    if not problems and sum(values[c] for c in CRITERIA) <= 0:  # type: ignore[misc]
        problems["weights"] = "the weights must sum to a positive number"
    for name in FULL_MARKS:
        value = getattr(new, name)
        if value is None:
            values[name] = current[name]
            continue
        if name in ("full_capital", "full_warehouse_m2"):
            ok = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
            ok = ok and math.isfinite(float(value)) and 0 < float(value) < 1e12
        else:
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31
        if not ok:
            problems[name] = "must be a positive number"
        else:
            values[name] = value
    if new.note is not None and len(new.note) > MAX_TEXT:
        problems["note"] = f"at most {MAX_TEXT} characters"
    if problems:
        raise ValidationError("invalid evaluation weights", fields=problems)
    values.update(
        version=current["version"] + 1,
        note=new.note,
        created_by_id=None if user is None else user.id,
    )
    session.execute(
        text(
            "INSERT INTO evaluation_weights (version, initiative, capability, credit, reach,"
            " full_capital, full_warehouse_m2, full_vehicles, full_staff, full_brands,"
            " full_outlets, note, created_by_id) VALUES (:version, :initiative, :capability,"
            " :credit, :reach, :full_capital, :full_warehouse_m2, :full_vehicles, :full_staff,"
            " :full_brands, :full_outlets, :note, :created_by_id)"
        ),
        values,
    )
    return current_weights(session)


def class_of(score: float | None, achievement: float | None) -> str | None:
    """A/B/C/D from the latest score and the year's plan achievement to date (None: no plan,
    the score alone decides); None without an evaluation."""
    if score is None:
        return None
    for name, lowest_score, lowest_achievement in CLASS_RULES:
        if score >= lowest_score and (achievement is None or achievement >= lowest_achievement):
            return name
    return "D"

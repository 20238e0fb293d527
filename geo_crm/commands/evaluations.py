"""``geo-crm evaluations add|list|weights|class``: judging distributors on the command line.

Each command calls one domain or analysis function; ``--as USERNAME`` acts as that user (their
scope; the evaluation names them as evaluator), else as the system.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..analysis.judging import distributor_class, record_evaluation
from ..analysis.ranking import FIGURES, ranking
from ..db import get_db
from ..domain import evaluations as ev
from ..errors import ValidationError
from . import _guard
from .analyse import _pct, _table, analyse_group
from .business import _date, _decimal, _json, as_option
from .report import _acting


@click.group("evaluations", help="Evaluations of distributors (经销商评估), weights and class.")
def evaluations_group() -> None:
    pass


@evaluations_group.command("add")
@click.argument("distributor", metavar="CODE")
@click.option("--date", "evaluated_on", metavar="YYYY-MM-DD", help="Default: today.")
@click.option("--initiative", type=int, required=True, help="积极性, 1 to 5.")
@click.option("--credit", type=int, required=True, help="信誉, 1 to 5.")
@click.option("--capital", help="Operating capital, yuan.")
@click.option("--brand", "brands", multiple=True, help="A best-selling brand carried (repeat).")
@click.option("--warehouses", type=int)
@click.option("--warehouse-area", type=float, help="m².")
@click.option("--vehicles", type=int)
@click.option("--staff", type=int)
@click.option("--social-relations", help="社会关系: business relations, free text.")
@click.option("--notes")
@as_option
@with_appcontext
def add_cmd(distributor, evaluated_on, initiative, credit, capital, brands, warehouses,
            warehouse_area, vehicles, staff, social_relations, notes, as_user) -> None:  # fmt: skip
    """Record an evaluation; the reach of the network now is computed and stored with it."""
    item = ev.EvaluationIn(
        distributor=distributor,
        evaluated_on=_date(evaluated_on, "date"),
        initiative=initiative,
        credit=credit,
        capital=_decimal(capital, "capital"),
        brands_carried=list(brands),
        warehouses=warehouses,
        warehouse_area_m2=warehouse_area,
        vehicles=vehicles,
        staff=staff,
        social_relations=social_relations,
        notes=notes,
    )
    with get_db().session() as session:
        row = record_evaluation(session, item, user=_acting(session, as_user))
        session.commit()
    reach = row["reach"]
    click.echo(
        f"evaluation {row['id']} of {row['distributor_code']} on {row['evaluated_on']}: "
        f"score {row['score']:.1f}; reach {reach['outlets']} outlets, "
        f"{reach['km2'] if reach['km2'] is not None else '-'} km², "
        f"{len(reach['regions'])}/{reach['units']} sub-regions"
    )


@evaluations_group.command("list")
@click.argument("distributor", metavar="CODE")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@as_option
@with_appcontext
def list_cmd(distributor, limit, as_json, as_user) -> None:
    """A distributor's evaluations, newest first, scored under the current weights."""
    with get_db().session() as session:
        rows = ev.list_evaluations(
            session, distributor, user=_acting(session, as_user), limit=limit
        )
    if as_json:
        _json(rows)
        return
    _table(
        ["id", "date", *ev.CRITERIA, "score", "outlets", "km2", "evaluator"],
        [[r["id"], r["evaluated_on"], *(r["scores"][c] for c in ev.CRITERIA), r["score"],
          r["reach"]["outlets"], r["reach"]["km2"], r["evaluator"]] for r in rows],
    )  # fmt: skip


@evaluations_group.command("weights")
@click.option("--initiative", help="Weight of initiative (≥ 0).")
@click.option("--capability", help="Weight of business capability.")
@click.option("--credit", help="Weight of credit.")
@click.option("--reach", help="Weight of reach.")
@click.option("--full-capital", help="Capital earning full marks, yuan.")
@click.option("--full-warehouse-m2", type=float)
@click.option("--full-vehicles", type=int)
@click.option("--full-staff", type=int)
@click.option("--full-brands", type=int)
@click.option("--full-outlets", type=int)
@click.option("--note")
@as_option
@with_appcontext
def weights_cmd(
    initiative,
    capability,
    credit,
    reach,
    full_capital,
    full_warehouse_m2,
    full_vehicles,
    full_staff,
    full_brands,
    full_outlets,
    note,
    as_user,
) -> None:
    """Show the weights (no option), or store a new version (all four weights given)."""
    weights = {"initiative": initiative, "capability": capability, "credit": credit,
               "reach": reach}  # fmt: skip
    with get_db().session() as session:
        if all(v is None for v in weights.values()) and note is None:
            _table(
                ["version", *ev.CRITERIA, "created_at", "by", "note"],
                [[w["version"], *(w[c] for c in ev.CRITERIA), w["created_at"], w["created_by"],
                  w["note"]] for w in ev.weights_history(session)],
            )  # fmt: skip
            return
        missing = [k for k, v in weights.items() if v is None]
        if missing:
            raise ValidationError("give all four weights", fields={k: "required" for k in missing})
        row = ev.set_weights(
            session,
            ev.WeightsIn(
                **{k: _decimal(v, k) for k, v in weights.items()},
                full_capital=_decimal(full_capital, "full-capital"),
                full_warehouse_m2=full_warehouse_m2,
                full_vehicles=full_vehicles,
                full_staff=full_staff,
                full_brands=full_brands,
                full_outlets=full_outlets,
                note=note,
            ),
            user=_acting(session, as_user),
        )
        session.commit()
    click.echo(f"weights version {row['version']} stored")


@evaluations_group.command("class")
@click.argument("distributor", metavar="CODE")
@click.option("--as-of", metavar="YYYY-MM-DD", help="The year's achievement runs to this day.")
@as_option
@with_appcontext
def class_cmd(distributor, as_of, as_user) -> None:
    """A distributor's class (A/B/C/D) from its latest score and the year's plan achievement."""
    with get_db().session() as session:
        result = distributor_class(
            session, distributor, user=_acting(session, as_user), as_of=_date(as_of, "as-of")
        )
    d = result.to_dict()
    score = "-" if d["score"] is None else f"{d['score']:.1f}"
    achieved = "-" if d["achievement"] is None else f"{100 * d['achievement']:.1f}%"
    click.echo(
        f"{d['code']} {d['name']}: class {d['class'] or '-'} "
        f"(score {score}, {d['year']} plan achievement to date {achieved})"
    )


@analyse_group.command("ranking")
@click.argument("region")
@click.option(
    "--by", type=click.Choice(FIGURES), default="achievement", show_default=True,
    help="The figure distributors are ranked by.",
)  # fmt: skip
@click.option("--period", metavar="YYYY-MM|YYYY", help="A month or a year (default: this month).")
@click.option(
    "--compare",
    type=click.Choice(["mom", "yoy"]),
    default="mom",
    show_default=True,
    help="Growth against the month before (mom) or a year earlier (yoy); to date while the "
    "period runs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@as_option
@with_appcontext
def ranking_cmd(region, by, period, compare, as_json, as_user) -> None:
    """Distributors of REGION ranked by plan achievement, growth, sell-out, 铺货率, breadth,
    debt age or score over a period."""
    with get_db().session() as session:
        user = _acting(session, as_user)
        result = ranking(session, region, by=by, period=period, user=user, compare=compare)
    if as_json:
        _json(result.to_dict())
        return
    percent = {"achievement", "growth", "distribution_rate", "breadth"}
    _table(
        ["rank", "code", "name", by, "sell_in", "sell_out", "plan", "debt_age", "score"],
        [[r["rank"], r["code"], r["name"], _pct(r[by]) if by in percent else r[by],
          r["sell_in"], r["sell_out"], r["plan"], r["debt_age"], r["score"]]
         for r in result.rows],
    )  # fmt: skip
    g = result.growth
    click.echo(
        f"{len(result.rows)} distributors in {result.region['code']}, {result.period.label()}; "
        f"growth {g.start}..{g.end} against {g.before_start}..{g.before_end}"
        + (" (to date)" if g.to_date else "")
    )


_guard(ranking_cmd)  # a subcommand of ``analyse``, registered after it was guarded

COMMANDS = [evaluations_group]

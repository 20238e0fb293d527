"""``geo-crm analyse outlet-changes REGION``: new, lost and re-assigned outlets (客户变动) per
month — the API's figures (``analysis.outlet_changes``), as a table or JSON."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..analysis.outlet_changes import DEFAULT_LIMIT, KINDS, outlet_changes
from ..db import get_db
from . import _guard
from .analyse import _emit, _table, analyse_group

COMMANDS: list[click.Command] = []  # attached to the analyse group below


@analyse_group.command("outlet-changes")
@click.argument("region")
@click.option(
    "--from", "month_from", metavar="YYYY-MM", help="First month (default: 11 before --to)."
)
@click.option("--to", "month_to", metavar="YYYY-MM", help="Last month (default: this one).")
@click.option(
    "--months",
    type=int,
    help="Stopped buying after this many months without a purchase (default: the setting "
    "stopped_buying_months).",
)
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS), help="Only these kinds.")
@click.option("--events", "show_events", is_flag=True, help="List the events after the months.")
@click.option("--limit", type=int, default=DEFAULT_LIMIT, show_default=True, help="Events listed.")
@click.option("--as", "as_user", metavar="USERNAME", help="Act as this user (their scope).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def outlet_changes_cmd(
    region, month_from, month_to, months, kinds, show_events, limit, as_user, as_json
) -> None:
    """Outlets that started buying, stopped buying, changed supplier or closed, per month."""
    from .report import _acting

    with get_db().session() as session:
        result = outlet_changes(
            session,
            region,
            month_from=month_from,
            month_to=month_to,
            stopped_months=months,
            kinds=list(kinds) or None,
            limit=limit,
            user=_acting(session, as_user),
        )
    if _emit(result, as_json):
        return
    click.echo(
        f"{result.region_code} {result.region_name} "
        f"{result.month_from:%Y-%m}..{result.month_to:%Y-%m} "
        f"(stopped = {result.stopped_months} months without a purchase)"
    )
    _table(
        ["month", *result.kinds],
        [
            [m.month.strftime("%Y-%m"), *(getattr(m, k) for k in result.kinds)]
            for m in result.months
        ],
    )
    totals = result.totals()
    click.echo("total: " + ", ".join(f"{k} {totals[k]:,}" for k in result.kinds))
    if show_events:
        _table(
            ["month", "kind", "outlet", "name", "tier", "from", "to", "by", "last purchase"],
            [
                [e.month.strftime("%Y-%m"), e.kind, e.outlet_code, e.outlet_name, e.tier,
                 e.old_value, e.new_value, e.changed_by,
                 e.last_purchase.strftime("%Y-%m") if e.last_purchase else None]
                for e in result.events
            ],
        )  # fmt: skip
        if result.truncated:
            click.echo(f"(the newest {len(result.events):,} of {result.total:,} events)")


_guard(outlet_changes_cmd)  # the analyse group was guarded before this command joined it

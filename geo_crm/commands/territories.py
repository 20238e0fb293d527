"""``geo-crm territory set|show`` (经销区域) and ``geo-crm analyse cross-selling`` (窜货)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..analysis import cross_selling as cross
from ..db import get_db
from ..domain import territories as service
from ..errors import ValidationError
from ..settings import current_settings
from . import _guard
from .analyse import _emit, _table, analyse_group


@click.group("territory", help="Distributor territories (经销区域): a set of regions or a polygon.")
def territory_group() -> None:
    pass


def _show(result: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    if result["kind"] is None:
        click.echo(f"{result['distributor_code']} {result['distributor_name']}: no territory")
        return
    what = ", ".join(result["regions"]) if result["kind"] == "regions" else "drawn polygon"
    click.echo(
        f"{result['distributor_code']} {result['distributor_name']}: {what}, "
        f"{result['area_km2']:,.1f} km² (set by {result['updated_by'] or 'the system'} "
        f"at {result['updated_at']:%Y-%m-%d %H:%M})"
    )


@territory_group.command("set")
@click.argument("distributor")
@click.option("--region", "regions", multiple=True, metavar="CODE", help="A region (repeat).")
@click.option(
    "--polygon",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A GeoJSON file: Polygon, MultiPolygon or a Feature of one (WGS-84).",
)
@click.option("--as", "as_user", metavar="USERNAME", help="Act as this user (their scope).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def territory_set_cmd(distributor, regions, polygon, as_user, as_json) -> None:
    """Assign DISTRIBUTOR's territory: --region CODE ... or --polygon FILE."""
    from .report import _acting

    shape = None
    if polygon is not None:
        try:
            shape = polygon.read_text(encoding="utf-8")
        except OSError as exc:
            message = f"cannot read {polygon}: {exc.strerror}"
            raise ValidationError(message, fields={"polygon": message}) from None
    with get_db().session() as session:
        result = service.set_territory(
            session,
            distributor,
            regions=list(regions) if regions else None,
            polygon=shape,
            user=_acting(session, as_user),
        )
        session.commit()
    _show(result, as_json)


@territory_group.command("show")
@click.argument("distributor")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def territory_show_cmd(distributor, as_json) -> None:
    """Show DISTRIBUTOR's territory."""
    with get_db().session() as session:
        result = service.get_territory(session, distributor)
    _show(result, as_json)


@analyse_group.command("cross-selling")
@click.argument("region", required=False)
@click.option("--all", "all_history", is_flag=True, help="Re-check every stored record first.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day.")
@click.option("--limit", type=int, default=cross.DEFAULT_LIMIT, show_default=True)
@click.option("--as", "as_user", metavar="USERNAME", help="Act as this user (their scope).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@with_appcontext
def cross_selling_cmd(region, all_history, date_from, date_to, limit, as_user, as_json) -> None:
    """Cross-territory sales (窜货): --all flags past records in one statement; REGION lists
    the flagged sales into it with their distance from the territory."""
    from .report import _acting

    if not region and not all_history:
        message = "name a REGION, or --all"
        raise ValidationError(message, fields={"region": "required without --all"})
    with get_db().session() as session:
        if all_history:
            found = cross.detect_all(session, workers=current_settings().detect_workers)
            session.commit()
            if as_json and not region:
                click.echo(json.dumps(found.to_dict(), indent=2))
                return
            click.echo(
                f"checked the whole history in {found.seconds:.2f} s "
                f"({found.sessions} reading session{'s' if found.sessions > 1 else ''}): "
                f"{found.changed:,} records "
                f"changed ({found.outside_territory:,} outside a territory, "
                f"{found.other_network:,} into another network), {found.refreshed:,} refreshed "
                "(distance re-measured); flagged now: "
                + ", ".join(f"{k} {v:,}" for k, v in found.flagged_total.items())
            )
        if not region:
            return
        result = cross.cross_selling(
            session,
            region,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            limit=limit,
            user=_acting(session, as_user),
        )
    if _emit(result, as_json):
        return
    click.echo(
        f"{result.region_code} {result.region_name} {result.date_from}..{result.date_to}: "
        + ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    )
    _table(
        ["date", "seller", "buyer", "flags", "distributor", "buyer's", "km", "amount", "review"],
        [
            [s.sale_date.isoformat(), s.seller_code, f"{s.buyer_code} {s.buyer_name}",
             ",".join(s.flags), s.distributor, s.buyer_distributor,
             None if s.distance_m is None else s.distance_m / 1000, s.amount, s.review_state]
            for s in result.sales
        ],
    )  # fmt: skip


_guard(cross_selling_cmd)  # the analyse group was guarded before this command joined it
COMMANDS = [territory_group]

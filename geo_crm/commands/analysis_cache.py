"""``geo-crm analyse cache warm|status``: the region pages' analyses kept ahead of the pages.

``warm`` computes the coverage, gaps and density a region page shows with its default filters
(every tier, the last twelve months) for every region of a level where they are not fresh, so
the first manager to open a province does not wait for them; ``status`` lists what is kept and
whether it is fresh (the change counter has not moved since it was computed).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..analysis import cache
from ..analysis.params import MapFilters
from ..db import get_db
from ..models import REGION_LEVELS
from ..web.filters import default_period


@click.group("cache", help="The region pages' analyses kept per region and filter.")
def cache_group() -> None:
    pass


@cache_group.command("warm")
@click.option(
    "--level", type=click.Choice(REGION_LEVELS), default=None,
    help="Only regions of this level (default: every region).",
)  # fmt: skip
@click.option(
    "--kind", "kinds", type=click.Choice(cache.KINDS), multiple=True,
    help="Only these analyses (repeat; default: coverage, gaps and density).",
)  # fmt: skip
@with_appcontext
def warm_cmd(level: str | None, kinds: tuple[str, ...]) -> None:
    """Compute the analyses region pages show by default where they are not fresh."""
    start, end = default_period()
    f = MapFilters(date_from=start, date_to=end)

    def progress(kind: str, code: str, computed: bool) -> None:
        click.echo(f"{code} {kind}: {'computed' if computed else 'fresh'}")

    with get_db().session() as session:
        done, fresh = cache.warm(
            session, f, level=level, kinds=kinds or cache.KINDS, progress=progress
        )
    click.echo(f"{done} computed, {fresh} already fresh")


@cache_group.command("status")
@with_appcontext
def status_cmd() -> None:
    """List the kept analyses: region, kind, when computed, in how long, fresh or stale."""
    with get_db().session() as session:
        kept = cache.entries(session)
    if not kept:
        click.echo("no analyses kept")
        return
    width = max(len(e.region_code) for e in kept)
    for e in kept:
        state = "fresh" if e.fresh else "stale"
        filters = ", ".join(f"{k}={v}" for k, v in sorted(e.filters.items()) if v not in (None, []))
        click.echo(
            f"{e.region_code.ljust(width)}  {e.kind:<8}  {state:<5}  "
            f"{e.computed_at:%Y-%m-%d %H:%M:%S}  {e.compute_ms:>7,} ms  {e.cells:>5} cells  "
            f"{filters}"
        )
    stale = sum(not e.fresh for e in kept)
    click.echo(f"{len(kept)} kept, {stale} stale")

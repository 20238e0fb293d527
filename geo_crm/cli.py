"""The ``geo-crm`` command line: a Flask CLI group with geo_crm's own commands."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from .errors import GeoCrmError


def _create_app():
    from . import create_app

    return create_app()


class GeoCrmGroup(FlaskGroup):
    """Turns domain errors into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GeoCrmError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for field, problem in exc.fields.items():
                click.echo(f"  {field}: {problem}", err=True)
            ctx.exit(1)


@click.group(cls=GeoCrmGroup, create_app=_create_app, add_default_commands=True,
             help="geo_crm: a manufacturer's distribution network on a map.")
def main_group() -> None:
    pass


def init_app(app: Flask) -> None:
    """Register geo_crm's commands on the app (so ``flask`` and ``geo-crm`` both see them)."""
    from .commands import register

    register(app.cli)


def main() -> None:
    main_group.main(args=sys.argv[1:], prog_name="geo-crm")

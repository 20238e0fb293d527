"""The ``geo-crm`` command line: a Flask CLI group with geo_crm's own commands."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup


def _create_app():
    from . import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=True,
    help="geo_crm: a manufacturer's distribution network on a map.",
)
def main_group() -> None:
    pass


def _one_line_usage() -> None:
    from .commands import one_line_usage

    one_line_usage(main_group)  # `geo-crm --bogus`, `geo-crm nosuchcommand`: one error line


_one_line_usage()


def init_app(app: Flask) -> None:
    """Register geo_crm's commands on the app (so ``flask`` and ``geo-crm`` both see them)."""
    from .commands import register

    register(app.cli)


def main() -> None:
    main_group.main(args=sys.argv[1:], prog_name="geo-crm")

"""CLI command groups, one module each; registered on the Flask app's CLI."""

from __future__ import annotations

import importlib

import click

_MODULES = ("db",)


def register(group: click.Group) -> None:
    for name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for command in module.COMMANDS:
            group.add_command(command)

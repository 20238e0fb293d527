"""CLI command groups, one module each; registered on the Flask app's CLI."""

from __future__ import annotations

import functools
import importlib

import click

from ..errors import GeoCrmError, ValidationError

_MODULES = (
    "db",
    "demo",
    "regions",
    "transfer",
    "users",
    "analyse",
    "outlet_changes",
    "territories",
    "business",
    "report",
    "worker",
    "evaluations",
)


class CliError(click.ClickException):
    """A domain error on the command line: ``error: …`` and its fields on stderr, exit 1."""

    def __init__(self, error: GeoCrmError):
        super().__init__(error.message)
        self.error = error

    def show(self, file=None) -> None:
        click.echo(f"error: {self.error.message}", err=True)
        for field, problem in self.error.fields.items():
            click.echo(f"  {field}: {problem}", err=True)


class FloatRange(click.FloatRange):
    """A bounded number option (bounds from one place, e.g. ``analysis.params.LIMITS``) whose
    bad value is reported like every other bad option: ``error: …`` naming it, exit 1."""

    def fail(self, message: str, param: click.Parameter | None = None, ctx=None):
        name = param.name if param is not None and param.name else "value"
        option = param.opts[0] if param is not None and param.opts else name
        raise CliError(ValidationError(f"bad {option}: {message}", fields={name: message}))


def _guard(command: click.Command) -> None:
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _guard(sub)
    callback = command.callback
    if callback is None or getattr(callback, "_geo_crm_guarded", False):
        return

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        from sqlalchemy.exc import DBAPIError

        from ..db.translate import translate

        try:
            return callback(*args, **kwargs)
        except GeoCrmError as exc:
            raise CliError(exc) from exc
        except DBAPIError as exc:  # a database rule broken (a trigger's, a CHECK): name it
            error = translate(exc)
            if error is None:
                raise
            raise CliError(error) from exc

    guarded._geo_crm_guarded = True  # type: ignore[attr-defined]
    command.callback = guarded


def register(group: click.Group) -> None:
    for name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for command in module.COMMANDS:
            _guard(command)
            group.add_command(command)

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
    "jobs",
)


def _flat(text: object) -> str:
    return " ".join(str(text).splitlines())


def error_line(error: GeoCrmError) -> str:
    """A domain error as the one line after ``error: ``: the message, then in brackets what
    its fields add to it (a field repeating the message adds nothing)."""
    message = _flat(error.message)
    extra = [f"{f}: {_flat(p)}" for f, p in error.fields.items() if _flat(p) not in message]
    return message + (f" ({'; '.join(extra)})" if extra else "")


class CliError(click.ClickException):
    """A domain error on the command line: one line ``error: …`` on stderr, exit 1 (the
    README's promise)."""

    def __init__(self, error: GeoCrmError):
        super().__init__(error.message)
        self.error = error

    def show(self, file=None) -> None:
        click.echo(f"error: {error_line(self.error)}", err=True)


class CliUsageError(click.UsageError):
    """A usage error (unknown command or option, a missing argument, a bad option value) as one
    line ``error: …`` naming the command's help, exit 2, instead of click's usage block."""

    def __init__(self, error: click.UsageError):
        super().__init__(error.format_message(), error.ctx)

    def show(self, file=None) -> None:
        where = f" (see {self.ctx.command_path} --help)" if self.ctx is not None else ""
        click.echo(f"error: {_flat(self.message)}{where}", err=True)


def one_line_usage(command: click.Command) -> None:
    """Make ``command`` report its usage errors as :class:`CliUsageError`: they arise while
    its arguments are parsed (``make_context``) or, for a group, its subcommand is looked up
    (``resolve_command``); the top-level command prints whichever error reaches it."""
    for name in ("make_context", "resolve_command"):
        method = getattr(command, name, None)
        if method is None or getattr(method, "_geo_crm_one_line", False):
            continue

        def guarded(*args, _method=method, **kwargs):
            try:
                return _method(*args, **kwargs)
            except click.UsageError as exc:
                if isinstance(exc, CliUsageError):
                    raise
                raise CliUsageError(exc) from exc

        guarded._geo_crm_one_line = True  # type: ignore[attr-defined]
        setattr(command, name, guarded)


class FloatRange(click.FloatRange):
    """A bounded number option (bounds from one place, e.g. ``analysis.params.LIMITS``) whose
    bad value is reported like every other bad option: ``error: …`` naming it, exit 1."""

    def fail(self, message: str, param: click.Parameter | None = None, ctx=None):
        name = param.name if param is not None and param.name else "value"
        option = param.opts[0] if param is not None and param.opts else name
        raise CliError(ValidationError(f"bad {option}: {message}", fields={name: message}))


def _guard(command: click.Command) -> None:
    one_line_usage(command)
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

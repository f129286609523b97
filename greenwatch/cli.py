"""The ``greenwatch`` command: the composition root.

It reads settings once (``runtime.settings``) and hands them to the command groups that
each package contributes. Packages never read settings themselves. A command's modules are
imported only when that command runs (``greenwatch.lazy_commands``): a long-running service
keeps only its own.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError

from greenwatch.lazy_commands import LazyGroup
from runtime.command_line import mark_command_line
from runtime.settings import load_settings


class _Greenwatch(typer.Typer):
    """The top-level app: called with no arguments, it is the process's own command line."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and kwargs.get("args") is None:  # click reads sys.argv
            mark_command_line()
        return super().__call__(*args, **kwargs)


app = _Greenwatch(
    name="greenwatch",
    help="Greenwatch: real-time enforcement of emission and energy provisions "
    "(HJ 212 ingest, Kafka streams, PostgreSQL/TimescaleDB, alerts).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


@app.callback()
def main(ctx: typer.Context) -> None:
    """Load settings (environment, prefix GREENWATCH_) once for every command.

    A caller that already holds settings (tests, the demo) passes them as ``obj``.
    """
    if ctx.obj is None:
        try:
            ctx.obj = load_settings()
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                name = ".".join(str(part) for part in error["loc"])
                typer.echo(f"error: setting GREENWATCH_{name.upper()}: {error['msg']}", err=True)
            raise typer.Exit(2) from None

"""``greenwatch evasion``: evasion rules over stored data that need several devices at once."""

from __future__ import annotations

import typer

from streams.identical_job import identical_command

evasion_app = typer.Typer(
    help="Evasion rules over stored data that need several devices at once.",
    no_args_is_help=True,
)
evasion_app.command("identical")(identical_command)

"""The ``greenwatch`` command's subcommands, each imported only when it is used.

Importing every command's modules at start cost every long-running service (gateway, API,
alerts, energy worker) ~73 MiB it never uses: FastAPI and uvicorn, pyarrow and numpy, apprise,
grafana-client (docs/perf.md, "Fourth slice" and "Fifth slice (lean)"). Here a subcommand is
an entry of ``COMMANDS``: its name and where its typer object lives, as text. ``LazyGroup``,
the top-level group's class, lists the names without importing anything and imports one
entry's module the first time click asks for that command (to run it, or to print a help
that shows it), then builds the click command exactly as an eager
``app.add_typer``/``app.command`` registration would (``Registration.register``), help
reflowed (``greenwatch.help_text``). So ``greenwatch gateway run`` imports the gateway's
modules only, and ``greenwatch --help`` still shows every command with its own text.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click  # typer's own click: its groups' base classes
from typer.core import TyperGroup

from greenwatch.help_text import reflow_help


@dataclass(frozen=True, slots=True)
class Registration:
    """One subcommand: its ``name``, the module and attribute of its typer object, and
    whether that object is a ``typer.Typer`` group (``add_typer``) or a command function
    (``command``)."""

    name: str
    module: str
    attribute: str
    group: bool = False

    def register(self, app: typer.Typer) -> None:
        """Import the object and register it on ``app`` as the eager CLI did."""
        target: Any = getattr(importlib.import_module(self.module), self.attribute)
        if self.group:
            app.add_typer(target, name=self.name)
        else:
            app.command(self.name)(target)


COMMANDS: tuple[Registration, ...] = (
    Registration("simulate", "ingest.cli", "simulate_command"),
    Registration("worker", "streams.cli", "worker_command"),
    Registration("energy-worker", "streams.cli", "energy_worker_command"),
    Registration("simulate-energy", "ingest.energy.cli", "simulate_energy_command"),
    Registration("replay", "streams.cli", "replay_command"),
    Registration("demo", "greenwatch.demo", "demo_command"),
    Registration("stack", "deploy.stack_cli", "stack_app", group=True),
    Registration("db", "deploy.db_cli", "db_app", group=True),
    Registration("grafana", "grafana.cli", "grafana_app", group=True),
    Registration("schemas", "schemas.cli", "schemas_app", group=True),
    Registration("hj212", "ingest.hj212.cli", "hj212_app", group=True),
    Registration("gateway", "ingest.cli", "gateway_app", group=True),
    Registration("alerts", "alerts.cli", "alerts_app", group=True),
    Registration("plan", "streams.plan_cli", "plan_app", group=True),
    Registration("report", "streams.plan_cli", "report_app", group=True),
    Registration("energy", "streams.surcharge_cli", "energy_app", group=True),
    Registration("api", "audit.cli", "api_app", group=True),
    Registration("audit", "audit.cli", "audit_app", group=True),
    Registration("archive", "deploy.archive_cli", "archive_app", group=True),
    Registration("evasion", "greenwatch.evasion_cli", "evasion_app", group=True),
)
"""Every subcommand, in the order ``greenwatch --help`` lists them (typer lists the commands
before the groups)."""


def build_command(registration: Registration, group: TyperGroup) -> click.Command:
    """The click command of ``registration``, as an eager registration on the typer app of
    ``group`` builds it (the group's rich markup mode and suggestion setting, typer's default
    exception settings as the app has; help reflowed)."""
    app = typer.Typer(rich_markup_mode=group.rich_markup_mode,
                      suggest_commands=group.suggest_commands)  # fmt: skip
    registration.register(app)
    reflow_help(app)
    return typer.main.get_group(app).commands[registration.name]


class _LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands: ``COMMANDS``' names, each built on first access."""

    def __init__(self, group: TyperGroup) -> None:
        self._group = group
        self._pending = {r.name: r for r in COMMANDS}
        self._built: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            registration = self._pending[name]  # KeyError: no such command
            self._built[name] = build_command(registration, self._group)
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._pending.pop(name, None)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._pending
        yield from (name for name in self._built if name not in self._pending)

    def __len__(self) -> int:
        return len(self._pending.keys() | self._built.keys())


class LazyGroup(TyperGroup):
    """The top-level group (``typer.Typer(cls=LazyGroup)``): its commands are ``COMMANDS``,
    each imported when first used; the group's own callback and options as typer made them."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        try:
            return self.commands[cmd_name]
        except KeyError:
            return None

"""``greenwatch`` imports a command's modules only when that command runs
(``greenwatch.lazy_commands``), with every ``--help`` text as the eager registration gave."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from greenwatch import cli
from greenwatch.help_text import reflow_help
from greenwatch.lazy_commands import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(180)


def _eager_app() -> typer.Typer:
    """The command as it was built before: every command imported and registered at once."""
    eager = typer.Typer(name="greenwatch", help=cli.app.info.help, no_args_is_help=True,
                        pretty_exceptions_enable=False)  # fmt: skip
    eager.callback()(cli.main)
    for registration in COMMANDS:
        registration.register(eager)
    reflow_help(eager)
    return eager


def _paths(command: object, path: list[str]) -> Iterator[list[str]]:
    yield path
    if isinstance(command, TyperGroup):
        context = typer.Context(command)
        for name in command.list_commands(context):
            yield from _paths(command.get_command(context, name), [*path, name])


def _helps(app: typer.Typer) -> dict[str, str]:
    runner = CliRunner()
    helps = {}
    for path in _paths(typer.main.get_command(app), []):
        done = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert done.exit_code == 0, (path, done.output)
        helps[" ".join(path)] = done.output
    return helps


def test_every_help_text_is_the_eager_registrations() -> None:
    lazy, eager = _helps(cli.app), _helps(_eager_app())
    assert list(lazy) == list(eager)
    assert len(lazy) > 60  # every group's subcommands too
    for path, text in eager.items():
        assert lazy[path] == text, path


SERVICES = {
    "gateway hj212": ("pyarrow", "numpy", "apprise", "grafana_client", "faust"),
    "gateway energy": ("pyarrow", "numpy", "apprise", "grafana_client", "faust"),
    "alerts run": ("fastapi", "uvicorn", "pyarrow", "numpy", "grafana_client", "faust"),
    "api serve": ("apprise", "grafana_client", "faust", "kafka"),
    "energy-worker": ("fastapi", "uvicorn", "pyarrow", "numpy", "apprise", "grafana_client"),
    "worker": ("fastapi", "uvicorn", "pyarrow", "numpy", "apprise", "grafana_client"),
}
"""Each long-running service's command and modules of other commands it must not import."""


@pytest.mark.parametrize("command", sorted(SERVICES))
def test_a_service_imports_only_its_own_commands_modules(command: str) -> None:
    """The command's module is what ``greenwatch COMMAND`` imports before it runs: resolving
    it for its ``--help`` imports the same modules, without needing Kafka or PostgreSQL."""
    script = (
        "import sys\n"
        "from greenwatch.cli import app\n"
        f"sys.argv = ['greenwatch', *{command.split()!r}, '--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {SERVICES[command]!r} if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert done.stderr.strip().splitlines()[-1] == "[]"

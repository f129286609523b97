"""A refused PostgreSQL login is the user's to fix (runtime.db_connect, issue 11): on the
real server, a command whose role's password is wrong exits 2 with one line naming the
command and the role, no traceback and no password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings


@pytest.mark.parametrize(
    ("args", "command", "login"),
    [
        (
            ["plan", "credit-list", "--year", "2025", "--out", "x.csv"],
            "plan credit-list",
            "gw_plan",
        ),
        (["alerts", "list"], "alerts", "gw_alerts"),
        (["db", "rekey-passwords"], "db rekey-passwords", "gw_registry"),
    ],
)
def test_a_refused_login_exits_2_with_one_line(
    services: Any, tmp_path: Path, args: list[str], command: str, login: str
) -> None:
    if services.origin != "local":
        pytest.skip("the service roles and their passwords are the local stack's")
    # a state dir of its own: passwords the server never heard of
    settings = Settings(state_dir=tmp_path, postgres_port=services.settings.postgres_port)
    result = CliRunner().invoke(app, args, obj=settings)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{command}: cannot connect to PostgreSQL as {login}: ")
    assert "password authentication failed" in lines[0]
    secret = (tmp_path / "secrets" / f"postgres-{login}.password").read_text().strip()
    assert secret not in result.output and "Traceback" not in result.output

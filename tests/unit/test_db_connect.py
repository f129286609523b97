"""One connect-or-exit-2 helper (runtime.db_connect, issue 11): every command that connects
says, on one line of stderr, which command could not reach PostgreSQL as which role and
why, and exits 2 — never a traceback, never the password."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["db", "migrate"], "db migrate"),
        (["db", "rekey-passwords"], "db rekey-passwords"),
        (["plan", "progress", "--region", "520000", "--as-of", "2026-01-31"], "plan progress"),
        (["alerts", "list"], "alerts"),
        (["api", "token", "list"], "api token list"),
        (["api", "serve", "--port", "1"], "api serve"),
        (["audit", "verify"], "audit verify"),
        (["grafana", "check"], "grafana check"),
    ],
)
def test_a_server_that_does_not_answer_exits_2_with_one_line(args: list[str], command: str) -> None:
    dsn = f"postgresql://someone:s3cret-pw@127.0.0.1:{_closed_port()}/greenwatch"
    result = CliRunner().invoke(app, args, obj=Settings(database_url=dsn, device_key="k"))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{command}: cannot connect to PostgreSQL as the configured user")
    assert "Connection refused" in lines[0] or "connection" in lines[0].lower()
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output

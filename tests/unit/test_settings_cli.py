"""A bad TimescaleDB policy setting is a user's mistake: exit 2 naming the variable, no
traceback (the CLI root's settings check, applied to the new settings)."""

from __future__ import annotations

from typer.testing import CliRunner

from greenwatch.cli import app


def test_invalid_setting_exits_2_naming_the_variable() -> None:
    result = CliRunner().invoke(app, ["db", "migrate"], env={"GREENWATCH_COMPRESS_AFTER_DAYS": "0"})
    assert result.exit_code == 2
    assert "GREENWATCH_COMPRESS_AFTER_DAYS" in result.output
    assert "greater than or equal to 1" in result.output
    assert "Traceback" not in result.output

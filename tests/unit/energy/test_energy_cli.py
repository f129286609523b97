"""The energy commands refuse to start on a user's mistake with a clear message and exit 2."""

from __future__ import annotations

import re
from pathlib import Path

from energy_support import EXAMPLE, KEY_SECRET
from pydantic import SecretStr
from typer.testing import CliRunner

from greenwatch.cli import app
from ingest.energy.keys import key_digest
from runtime.settings import Settings

runner = CliRunner()


def _plain(text: str) -> str:
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())


def test_gateway_energy_without_the_key_secret_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gateway", "energy"], obj=Settings(state_dir=tmp_path))
    assert result.exit_code == 2
    assert "GREENWATCH_ENERGY_KEY_SECRET is not set" in _plain(result.output)


def test_gateway_energy_with_a_broken_registry_exits_2_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "registry.yaml"
    broken.write_text("version: [unclosed\n", "utf-8")
    settings = Settings(state_dir=tmp_path, energy_key_secret=SecretStr(KEY_SECRET))
    result = runner.invoke(app, ["gateway", "energy", "--registry", str(broken)], obj=settings)
    assert result.exit_code == 2
    assert "registry.yaml" in _plain(result.output)


def test_energy_key_prints_a_key_and_its_digest_under_the_secret(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, energy_key_secret=SecretStr(KEY_SECRET))
    result = runner.invoke(app, ["gateway", "energy-key"], obj=settings)
    assert result.exit_code == 0
    key = result.output.split("key: ")[1].split()[0]
    digest = result.output.split("api_key_hmac: ")[1].split()[0]
    assert digest == key_digest(SecretStr(KEY_SECRET), key) and len(key) >= 40


def test_replay_energy_counts_lines_that_are_not_energy_records(tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    lines = tmp_path / "energy.jsonl"
    lines.write_text('{"not": "a record"}\nnot json\n', "utf-8")
    result = runner.invoke(
        app, ["replay", "--registry", str(registry), "--energy", str(lines)],
        obj=Settings(state_dir=tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0
    assert "energy 2 lines, 0 records, 2 undecodable" in _plain(result.output)

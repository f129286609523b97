"""``greenwatch simulate`` as a user runs it (no gateway needed for these)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings
from schemas.registry import load_registry

runner = CliRunner()


def test_write_registry_only_writes_a_loadable_registry(tmp_path: Path) -> None:
    out = tmp_path / "province.yaml"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--enterprises",
            "8",
            "--seed",
            "9",
            "--registry-out",
            str(out),
            "--write-registry-only",
        ],
        obj=Settings(state_dir=tmp_path / "state"),
    )
    assert result.exit_code == 0, result.output
    registry = load_registry(out)
    assert registry.version == "sim-s9-n8"
    assert len(registry.enterprises) == 8


def test_a_faster_than_real_time_registry_suits_accelerated_time(tmp_path: Path) -> None:
    written = {}
    for speed in ("1", "600"):
        out = tmp_path / f"speed-{speed}.yaml"
        args = ["simulate", "--enterprises", "1", "--speed", speed, "--registry-out", str(out)]
        result = runner.invoke(
            app, [*args, "--write-registry-only"], obj=Settings(state_dir=tmp_path)
        )
        assert result.exit_code == 0, result.output
        policy = load_registry(out).policy
        written[speed] = (policy.clock_skew_seconds, policy.quality_pending_minutes)
    assert written == {"1": (600, 5), "600": (0, 0)}


def test_default_registry_path_is_under_the_state_dir(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["simulate", "--enterprises", "2", "--seed", "1", "--write-registry-only"],
        obj=Settings(state_dir=tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "simulator" / "registry-s1-n2.yaml").exists()


def test_a_bad_episode_spec_is_refused_with_its_reason(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--enterprises",
            "1",
            "--registry-out",
            str(tmp_path / "r.yaml"),
            "--episodes",
            "meltdown@*+1h/1h",
            "--hours",
            "1",
        ],
        obj=Settings(state_dir=tmp_path),
    )
    assert result.exit_code == 2
    assert "unknown kind" in result.output

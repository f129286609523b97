"""A simulated communication loss (comm_loss, 补发) through ``greenwatch replay``: the frames
as the simulator sends them (each stamped with the simulated time it is sent), the hours of
the loss end up with valid hourly values and the gap is still reported as an event-time
``silent`` pair; an ``outage`` of the same hours leaves them without data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from greenwatch.cli import app
from ingest.hj212 import CHINA_TZ
from ingest.simulator.episodes import EpisodeBook, parse_episodes
from ingest.simulator.profiles import load_profiles
from ingest.simulator.province import build_province
from ingest.simulator.script import DeviceScript
from ingest.simulator.session import write_registry

pytestmark = pytest.mark.e2e

START = datetime(2026, 3, 2, tzinfo=CHINA_TZ)
PROVINCE = build_province(1, seed=7, ack_fraction=0.0, realtime_fraction=0.0)
DEVICE = PROVINCE.devices[0]  # a coal-fired unit stack: SO2, NOx, PM hourly limits
LOST_HOURS = [START + timedelta(hours=2), START + timedelta(hours=3)]
runner = CliRunner()


def _replay(tmp_path: Path, kind: str) -> list[dict[str, Any]]:
    """Six simulated hours of DEVICE with ``kind`` over 02:00–04:00, replayed with --quality."""
    registry = tmp_path / "registry.yaml"
    write_registry(PROVINCE, registry)
    book = EpisodeBook(parse_episodes(f"{kind}@{DEVICE.mn}+2h/2h"), PROVINCE.devices)
    script = DeviceScript(DEVICE, PROVINCE.seed, START, book, load_profiles())
    lines = []
    for minute in range(6 * 60):
        sent_at = (START + timedelta(minutes=minute + 1)).isoformat()
        for frame in script.minute(minute).frames:
            lines.append(f"{sent_at}\t{frame.data.decode().rstrip()}")
    frames = tmp_path / "frames.txt"
    frames.write_text("\n".join(lines) + "\n", "utf-8")
    result = runner.invoke(
        app, ["replay", "--registry", str(registry), "--input", str(frames), "--quality"]
    )
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _hourly_so2(lines: list[dict[str, Any]]) -> dict[datetime, dict[str, Any]]:
    return {
        datetime.fromisoformat(line["period_start"]): line
        for line in lines
        if line["kind"] == "hourly" and line["factor"] == "a21026"
    }


def _silent(lines: list[dict[str, Any]]) -> list[tuple[bool, str]]:
    return [
        (line["active"], line["detail"]["basis"])
        for line in lines
        if line["kind"] == "quality" and line["signal"] == "silent"
    ]


def test_the_hours_of_a_comm_loss_are_valid_once_back_filled(tmp_path: Path) -> None:
    lines = _replay(tmp_path, "comm_loss")
    hourly = _hourly_so2(lines)
    assert [(hourly[h]["valid"], hourly[h]["valid_count"]) for h in LOST_HOURS] == [(True, 60)] * 2
    verdicts = {
        datetime.fromisoformat(line["period_start"])
        for line in lines
        if line["kind"] == "verdict" and line["rule"] == "hourly_concentration"
    }
    assert set(LOST_HOURS) <= verdicts
    assert _silent(lines) == [(True, "event_time"), (False, "event_time")]  # gap still shown


def test_the_hours_of_an_outage_stay_without_data(tmp_path: Path) -> None:
    lines = _replay(tmp_path, "outage")
    hourly = _hourly_so2(lines)
    assert not any(hourly.get(h, {}).get("valid") for h in LOST_HOURS)
    assert _silent(lines) == [(True, "event_time"), (False, "event_time")]

"""``python -m bench pipeline``'s replay figure is what a user runs: ``greenwatch replay``'s
default ``--jobs`` (the usable cores), with one process printed beside it as the baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import pipeline_fleet, replay_fraction
from streams.replay_parallel import usable_cores

pytestmark = pytest.mark.timeout(120)


def test_the_replay_figure_is_the_default_jobs_beside_one_process(tmp_path: Path) -> None:
    replay = replay_fraction.measure(pipeline_fleet.registry(), tmp_path, devices=20, minutes=70)
    assert replay.jobs == usable_cores()
    assert replay.rate == replay.as_run.rate > 0
    assert replay.as_run.measurements == replay.one_process.measurements == 20 * 70 * 8
    assert replay.as_run.outputs == replay.one_process.outputs > 0
    line = replay_fraction.describe(replay)
    assert f"--jobs {usable_cores()}, the default" in line
    assert f"{replay.as_run.rate:,.0f} measurements/s" in line
    assert f"one process {replay.one_process.rate:,.0f}/s" in line

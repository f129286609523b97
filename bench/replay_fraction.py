"""``greenwatch replay`` at speed: a fraction of a province-day replayed from a file.

A province-day is 10 000 devices × 1 440 minutes × 8 factors ≈ 115 M values. The benchmark
writes ``BENCH_REPLAY_DEVICES`` devices × ``BENCH_REPLAY_MINUTES`` minute frames of the
pipeline fleet (``bench.pipeline_fleet``) to a file, one frame per line behind its receive
time and a TAB (a dump of the raw topic), then times ``streams.replay.replay_lines`` over
that file (what ``greenwatch replay --input FILE`` runs: decode, normalise, the engine,
every hourly and daily value and verdict, the sorted latest outputs). Writing the file and
loading the registry are not timed. No services needed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench import pipeline_fleet
from schemas.registry import Registry
from streams.replay import replay_lines

REPLAY_DEVICES = int(os.environ.get("BENCH_REPLAY_DEVICES", "1000"))
REPLAY_MINUTES = int(os.environ.get("BENCH_REPLAY_MINUTES", "90"))
PROVINCE_DAY_VALUES = 10_000 * 1_440 * 8


@dataclass(frozen=True, slots=True)
class ReplayFigure:
    """One timed replay: measurements replayed, lines, outputs printed, seconds."""

    measurements: int
    lines: int
    outputs: int
    seconds: float

    @property
    def rate(self) -> float:
        """Measurements per second."""
        return self.measurements / self.seconds if self.seconds else 0.0


def write_fraction(path: Path) -> int:
    """Write the fraction's frames to ``path`` (receive time TAB frame, CR LF); returns lines."""
    lines = 0
    with path.open("wb") as out:
        for minute in range(REPLAY_MINUTES):
            for index in range(min(REPLAY_DEVICES, pipeline_fleet.DEVICES)):
                at = pipeline_fleet.DAY0 + timedelta(minutes=minute)
                received = at + timedelta(minutes=1, seconds=3)
                frame = pipeline_fleet.frame(pipeline_fleet.mn(index), at, received)
                out.write(received.isoformat().encode() + b"\t" + frame.value)
                lines += 1
    return lines


def measure(registry: Registry, directory: Path) -> ReplayFigure:
    """Write the fraction under ``directory`` and time its replay."""
    path = directory / "province-day-fraction.hj212"
    write_fraction(path)
    started = time.perf_counter()
    with path.open("rb") as lines:
        outputs, stats = replay_lines(lines, registry)
    seconds = time.perf_counter() - started
    return ReplayFigure(stats.measurements, stats.lines, len(outputs), seconds)


def describe(figure: ReplayFigure) -> str:
    """The report line of a replay figure."""
    share = figure.measurements / PROVINCE_DAY_VALUES
    day_s = PROVINCE_DAY_VALUES / figure.rate if figure.rate else float("inf")
    return (
        f"replay from a file: {figure.rate:,.0f} measurements/s ({figure.measurements} values "
        f"= {share:.2%} of a province-day, {figure.lines} lines, {figure.outputs} outputs, "
        f"{figure.seconds:.1f} s; a whole province-day ≈ {day_s / 60:.0f} min at this rate)"
    )

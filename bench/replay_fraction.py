"""``greenwatch replay`` at speed: a fraction of a province-day replayed from a file.

A province-day is 10 000 devices × 1 440 minutes × 8 factors ≈ 115 M values. The benchmark
writes ``BENCH_REPLAY_DEVICES`` devices × ``BENCH_REPLAY_MINUTES`` minute frames of the
pipeline fleet (``bench.pipeline_fleet``) to a file, one frame per line behind its receive
time and a TAB (a dump of the raw topic), then times ``streams.replay.replay_lines`` over
that file (what ``greenwatch replay --input FILE`` runs: decode, normalise, the engine,
every hourly and daily value and verdict, the sorted latest outputs). Writing the file and
loading the registry are not timed. No services needed.

``measure`` (the figure ``python -m bench pipeline`` prints) times what a user runs:
``greenwatch replay``'s default ``--jobs``, the usable cores (``streams.replay_parallel``),
and beside it one process (``replay_lines``) as the baseline, both in the same run.

Run as a script (``python bench/replay_fraction.py --input FILE``, what ``bench_replay`` does
for this tree and for main's, each on its own ``PYTHONPATH``) it replays ``FILE`` (written
first when missing) with whatever ``streams.replay`` its path gives and prints the figure as
one JSON line (``--jobs N``: ``streams.replay_parallel.replay_file`` in N processes, this
tree's ``greenwatch replay --jobs N``); ``--profile N`` then prints the top ``N`` costs of a
replay under cProfile (own time, µs per measurement, as ``make profile`` does for the
worker's pipeline).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import sys
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from bench import pipeline_fleet
from schemas.registry import Registry
from streams.process_memory import resident_mib
from streams.replay import replay_lines

REPLAY_DEVICES = int(os.environ.get("BENCH_REPLAY_DEVICES", "1000"))
REPLAY_MINUTES = int(os.environ.get("BENCH_REPLAY_MINUTES", "90"))
PROVINCE_DAY_VALUES = 10_000 * 1_440 * 8


@dataclass(frozen=True, slots=True)
class ReplayFigure:
    """One timed replay: measurements replayed, lines, outputs printed, seconds (wall clock),
    the process's CPU seconds, and its peak resident memory (MiB) before and after the replay
    (before: the interpreter, the modules and the registry)."""

    measurements: int
    lines: int
    outputs: int
    seconds: float
    cpu_seconds: float = 0.0
    rss_before_mib: float = 0.0
    peak_rss_mib: float = 0.0

    @property
    def rate(self) -> float:
        """Measurements per second."""
        return self.measurements / self.seconds if self.seconds else 0.0


def write_fraction(path: Path, devices: int = REPLAY_DEVICES, minutes: int = REPLAY_MINUTES) -> int:
    """Write ``devices`` × ``minutes`` frames to ``path`` (receive time TAB frame, CR LF);
    returns lines."""
    lines = 0
    with path.open("wb") as out:
        for minute in range(minutes):
            for index in range(min(devices, pipeline_fleet.DEVICES)):
                at = pipeline_fleet.DAY0 + timedelta(minutes=minute)
                received = at + timedelta(minutes=1, seconds=3)
                frame = pipeline_fleet.frame(pipeline_fleet.mn(index), at, received)
                out.write(received.isoformat().encode() + b"\t" + frame.value)
                lines += 1
    return lines


@dataclass(frozen=True, slots=True)
class ReplayAsRun:
    """``greenwatch replay`` as a user runs it (``jobs``: its default ``--jobs``) beside one
    process (``replay_lines``), the baseline, over the same file in the same run."""

    jobs: int
    as_run: ReplayFigure
    one_process: ReplayFigure

    @property
    def rate(self) -> float:
        """Measurements per second of the replay as a user runs it."""
        return self.as_run.rate


def measure(
    registry: Registry,
    directory: Path,
    devices: int = REPLAY_DEVICES,
    minutes: int = REPLAY_MINUTES,
) -> ReplayAsRun:
    """Write the fraction under ``directory`` and time its replay: one process first (the
    baseline), then the default ``--jobs``."""
    from streams.replay_parallel import usable_cores

    path = directory / "province-day-fraction.hj212"
    write_fraction(path, devices, minutes)
    one_process = measure_file(registry, path)
    jobs = usable_cores()
    return ReplayAsRun(jobs, measure_file(registry, path, jobs), one_process)


def measure_file(registry: Registry, path: Path, jobs: int | None = None) -> ReplayFigure:
    """Time a replay of the lines of ``path`` (wall clock and CPU, its processes' included)
    and take the process's peak RSS (``VmHWM``) before and after it. ``jobs`` None: the tree's
    ``replay_lines`` (main's, whose replay has no ``--jobs``); else ``replay_file`` in that
    many processes (what ``greenwatch replay --jobs N`` runs), its rows read in print order
    and counted, and the peak RSS the sum of this process's and every partition process's."""
    before = _peak_rss_mib()
    started, cpu = time.perf_counter(), _cpu_seconds()
    children: list[float] = []
    if jobs is None:
        with path.open("rb") as lines:
            outputs, stats = replay_lines(lines, registry)
        count = len(outputs)
    else:
        from streams.replay_parallel import replay_file  # this tree's only

        replayed = replay_file(path, registry, jobs=jobs)
        count = sum(1 for _ in replayed.rows)
        stats, children = replayed.stats, replayed.peak_rss_mib
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    peak = _peak_rss_mib() + sum(children)
    return ReplayFigure(stats.measurements, stats.lines, count, seconds, cpu, before, peak)


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its waited-for children (the partitions)."""
    own = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + children.ru_utime + children.ru_stime


def _peak_rss_mib() -> float:
    """This process's peak resident set so far, MiB: ``VmHWM`` of ``/proc/self/status``
    (since ``exec``; ``ru_maxrss`` would carry the peak of the benchmark that forked it),
    else ``ru_maxrss``."""
    memory = resident_mib()
    if memory is not None:
        return memory[1]
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def describe(replay: ReplayAsRun) -> str:
    """The report line of a replay as run, with the one-process baseline beside it."""
    figure = replay.as_run
    share = figure.measurements / PROVINCE_DAY_VALUES
    day_s = PROVINCE_DAY_VALUES / figure.rate if figure.rate else float("inf")
    return (
        f"replay from a file (--jobs {replay.jobs}, the default): {figure.rate:,.0f} "
        f"measurements/s, one process {replay.one_process.rate:,.0f}/s "
        f"({figure.measurements} values = {share:.2%} of a province-day, {figure.lines} lines, "
        f"{figure.outputs} outputs, {figure.seconds:.1f} s; a whole province-day ≈ "
        f"{day_s / 60:.0f} min at this rate)"
    )


def top_costs(path: Path, registry: Registry, top: int) -> list[str]:
    """The ``top`` functions by own time of a replay of ``path`` under cProfile."""
    profile = cProfile.Profile()
    profile.enable()
    figure = measure_file(registry, path)
    profile.disable()
    stats = pstats.Stats(profile)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    per = max(figure.measurements, 1)
    lines = [
        f"under cProfile: {figure.measurements} measurements in {figure.seconds:.2f} s "
        f"({figure.seconds / per * 1e6:.1f} µs per measurement)",
        f"{'µs/meas':>8} {'share':>6} {'calls/meas':>10}  function (own time)",
    ]
    root = str(Path(__file__).resolve().parent.parent) + "/"
    for (file, line, name), (_, calls, own, _cum, _) in ranked:
        short = file.removeprefix(root).split("site-packages/")[-1]
        lines.append(
            f"{own / per * 1e6:8.2f} {own / total:6.1%} {calls / per:10.2f}  {short}:{line}({name})"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/replay_fraction.py", description=__doc__)
    parser.add_argument(
        "--input", type=Path, required=True, help="fraction file (written if missing)"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N costs")
    parser.add_argument(
        "--jobs", type=int, default=None, help="replay_file in N processes (default: replay_lines)"
    )
    args = parser.parse_args(argv)
    registry = pipeline_fleet.registry()
    if not args.input.exists():
        write_fraction(args.input)
    print(json.dumps(asdict(measure_file(registry, args.input, args.jobs))), flush=True)
    if args.profile:
        for line in top_costs(args.input, registry, args.profile):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

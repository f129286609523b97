"""Where a worker's time goes per measurement: cProfile over ``Pipeline.prepare`` + ``commit``.

``python -m bench.profile_pipeline [--sink] [--top N] [--rounds N] [--batch N]`` (``make
profile``) builds the pipeline benchmark's fleet (``bench.pipeline_fleet``;
``BENCH_PIPELINE_DEVICES`` devices × ``BENCH_PIPELINE_FRAMES_PER_DEVICE`` minute frames × 8
factors, every device new, as in the benchmark's drain; ``make profile`` uses 2 000 devices,
``make profile PROFILE_DEVICES=10000 PROFILE_ARGS=--sink`` is the drain's shape), turns each
raw-topic value into a ``RawRecord`` as the faust agent does, and runs the worker's
``streams.pipeline.Pipeline`` over batches of 2 000 records (``--batch``) under cProfile:
decode, normalise, the engine and, with ``--sink``, the real ``PgSink``/``PgStore`` on a fresh
migrated schema (the local stack's PostgreSQL; without ``--sink`` an in-memory store and a sink
that only counts). Kafka and faust are left out: this is the CPU a worker spends per
measurement between the consumer and the database.

Prints the process's CPU time per measurement of unprofiled runs (``time.process_time``: load
from other processes on a shared machine changes it little; with ``--sink`` the database
server's CPU is not in it; ``--rounds N``: the median of N runs), first under Python's default
collector thresholds, then under the worker's (``streams.worker.tune_garbage_collector``: the
regime the worker really runs in, which the profiled run keeps), then the top ``N`` functions
of a profiled run by own time (``tottime``, wall clock), each as µs per measurement and share
of the profiled time.
Profiling slows Python code several times, most where calls are many and short: compare
shares, and the unprofiled CPU µs before and after.

``--stages`` prints instead the CPU per measurement by stage (decode, ``Engine.prepare`` and its
store reads, ``Engine.ingest``, commit: ``bench.profile_stages``), and ``--baseline DIR`` the
same for the code of another checkout (a worktree of main) beside this tree's, rounds
alternating which goes first: ``make profile PROFILE_ARGS="--sink --baseline ../base --rounds 4"``.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench import pipeline_fleet, profile_stages
from bench.profile_stages import CountingSink, batches_of, records, run
from bench.profile_stages import pipeline as _pipeline
from schemas.registry import Registry
from streams.pipeline import RawRecord
from streams.worker import tune_garbage_collector


def main(argv: list[str] | None = None) -> int:
    parser = profile_stages.argument_parser("python -m bench.profile_pipeline", __doc__)
    parser.add_argument("--top", type=int, default=10, help="functions to print (default 10)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="unprofiled runs per collector regime (default 1)"
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="only the CPU per measurement by stage (bench.profile_stages), in child processes",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="with --stages: a checkout (e.g. a worktree of main) measured beside this tree, "
        "alternating rounds",
    )
    args = parser.parse_args(argv)
    if args.stages or args.baseline is not None:
        stages = ["--batch", str(args.batch), "--rounds", str(args.rounds)]
        stages += ["--sink"] if args.sink else []
        stages += ["--baseline", str(args.baseline)] if args.baseline is not None else []
        return profile_stages.main(stages)
    registry = pipeline_fleet.registry()
    batches = batches_of(records(), args.batch)
    print(_unprofiled("without the profiler", registry, batches, args.sink, args.rounds))
    tune_garbage_collector()  # from here on as the worker runs (streams.worker)
    print(_unprofiled("the same, worker's collector", registry, batches, args.sink, args.rounds))
    with _pipeline(registry, args.sink) as pipeline:
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        measurements = run(batches, pipeline)
        profile.disable()
        seconds = time.perf_counter() - started
    for line in report(profile, measurements, seconds, args.top, args.sink):
        print(line)
    return 0


def _unprofiled(
    label: str, registry: Registry, batches: Sequence[Sequence[RawRecord]], sink: bool, rounds: int
) -> str:
    """CPU µs per measurement of ``rounds`` unprofiled runs (each on a new pipeline)."""
    figures: list[float] = []
    for _ in range(max(rounds, 1)):
        with _pipeline(registry, sink) as pipeline:
            started = time.process_time()
            measurements = run(batches, pipeline)
            cpu = time.process_time() - started
        figures.append(cpu / max(measurements, 1) * 1e6)
    each = ", ".join(f"{f:.1f}" for f in figures)
    return (
        f"{label}: {statistics.median(figures):.1f} µs of this process's CPU per measurement "
        f"(median of {len(figures)}: {each}; {measurements} measurements a run)"
    )


def report(
    profile: cProfile.Profile, measurements: int, seconds: float, top: int, with_sink: bool
) -> list[str]:
    """The header and the ``top`` functions by own time, per measurement."""
    stats = pstats.Stats(profile)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    where = "PgSink + PgStore (PostgreSQL)" if with_sink else "no database (in-memory store)"
    lines = [
        f"under cProfile: {measurements} measurements in {seconds:.2f} s "
        f"({seconds / max(measurements, 1) * 1e6:.1f} µs per measurement; {where})",
        f"{'µs/meas':>8} {'share':>6} {'calls/meas':>10}  function (own time)",
    ]
    for (path, line, name), (_, calls, own, _cum, _) in ranked:
        short = _short(path)
        lines.append(
            f"{own / max(measurements, 1) * 1e6:8.2f} {own / total:6.1%} "
            f"{calls / max(measurements, 1):10.2f}  {short}:{line}({name})"
        )
    return lines


def _short(path: str) -> str:
    """A profiled file relative to the repository or to site-packages."""
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return path.removeprefix(root).split("site-packages/")[-1]


__all__ = ["CountingSink", "main", "report"]  # CountingSink: bench.memory_pipeline


if __name__ == "__main__":
    sys.exit(main())

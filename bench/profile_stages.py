"""The worker's CPU per measurement by stage over the pipeline benchmark's drain, this tree beside
a baseline tree in the same run (``make profile``'s ``--stages``, ``--baseline DIR``).

The drain's shape (``bench.pipeline_fleet``: ``BENCH_PIPELINE_DEVICES`` devices × 6 minute frames
× 8 factors, every device new, in production order) is turned into raw-topic records and run
through the worker's ``streams.pipeline.Pipeline`` in batches of ``--batch`` records (the
worker's ``batch_size``), ``prepare`` then ``commit``, with the real ``PgSink``/``PgStore`` on a
fresh migrated schema (``--sink``) or an in-memory store and a counting sink. Each stage's
thread CPU (``time.thread_time``: the database server's CPU and the time spent waiting for it
are not in it) is summed over the run and printed as µs per measurement:

- ``decode`` (``decode_records``: raw record, HJ 212, normalise),
- ``Engine.prepare`` (hydration; of which ``store reads``: the ``Store`` methods' client side),
- ``Engine.ingest`` (windows, judgement, signals),
- ``commit`` (``Pipeline.commit``: the sink's client side),
- ``total`` (the whole loop, under the worker's garbage collector regime).

With ``--baseline DIR`` every round runs this harness twice, each in a fresh child process, once
over this tree's code and once over ``DIR``'s (``PYTHONPATH``; e.g. a detached worktree of
main), alternating which goes first; the medians are printed side by side with their ratio.
The harness itself is this file, so both trees are measured the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bench import pipeline_fleet
from schemas.registry import Registry
from streams.domain.engine import Engine
from streams.domain.normalize import normalize_packet
from streams.domain.store import MemoryStore
from streams.pipeline import Pipeline, RawRecord
from streams.sink import FlushResult, SinkBatch, SourcePosition

T = TypeVar("T")
BATCH = 2000
"""Raw records per batch: the worker's ``batch_size``."""
STAGES = ("decode", "Engine.prepare", "  store reads", "Engine.ingest", "commit", "total")
_STORE_READS = ("closed_hours", "device_hours", "daily_years", "rate_histories", "recent")
_ROOT = Path(__file__).resolve().parent.parent


class CountingSink:
    """A sink that writes nothing (decode + engine alone)."""

    def flush(self, batch: SinkBatch) -> FlushResult:
        return FlushResult(len(batch.measurements), len(batch.aggregates), len(batch.verdicts),
                           len(batch.dead_letters), {}, 0.0)  # fmt: skip

    def with_retry(self, read: Callable[[], T]) -> T:
        return read()

    def stop(self) -> None:
        return None


def records() -> list[RawRecord]:
    """The fleet's backlog as raw-topic records, in production order."""
    received = datetime.now(UTC)
    found: list[RawRecord] = []
    for offset, (mn, at) in enumerate(pipeline_fleet.backlog_times()):
        frame = pipeline_fleet.frame(mn, at, at + timedelta(seconds=3))
        position = SourcePosition("bench.raw.hj212", 0, offset)
        found.append(RawRecord(position, frame.value, received, frame.headers))
    return found


@contextlib.contextmanager
def pipeline(registry: Registry, with_sink: bool) -> Iterator[Pipeline]:
    """The worker's pipeline over PostgreSQL (a fresh migrated schema) or in memory."""
    if not with_sink:
        yield Pipeline(registry, engine_factory=Engine, normalize=normalize_packet,
                       sink=CountingSink(), store=MemoryStore())  # fmt: skip
        return
    from bench.db import migrated_schema, unreachable
    from runtime.settings import Settings, database_dsn
    from streams.sink import PgSink, create_pool
    from streams.store import PgStore

    dsn = database_dsn(Settings())
    if missing := unreachable(dsn):
        raise SystemExit(missing[0])
    with migrated_schema(dsn, "profile") as scoped, create_pool(scoped) as pool:
        pool.wait(timeout=30)
        yield Pipeline(registry, engine_factory=Engine, normalize=normalize_packet,
                       sink=PgSink(pool), store=PgStore(pool))  # fmt: skip


def run(batches: Sequence[Sequence[RawRecord]], worker: Pipeline) -> int:
    """Prepare and commit every batch in order; returns the measurements committed."""
    measurements = 0
    for batch in batches:
        measurements += worker.commit(worker.prepare(batch)).measurements
    return measurements


def batches_of(raw: Sequence[RawRecord], size: int) -> list[Sequence[RawRecord]]:
    return [raw[i : i + size] for i in range(0, len(raw), size)]


@contextlib.contextmanager
def _timed_stages(spent: dict[str, float]) -> Iterator[None]:
    """Add each stage's thread CPU seconds to ``spent`` while inside (patches, then restores)."""
    from streams import pipeline as pipeline_module
    from streams import store as pg_store

    patched: list[tuple[Any, str, Any]] = [
        (pipeline_module, "decode_records", "decode"),
        # a tree whose worker hands the engine frames (``Engine.ingest_frames``) is timed there
        (Engine, _frames_or(Engine, "prepare"), "Engine.prepare"),
        (Engine, _frames_or(Engine, "ingest"), "Engine.ingest"),
        (Pipeline, "commit", "commit"),
        *((cls, name, "  store reads") for cls in (pg_store.PgStore, MemoryStore)
          for name in _STORE_READS),
    ]  # fmt: skip
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    for (owner, name, stage), (_, _, original) in zip(patched, originals, strict=True):
        setattr(owner, name, _timing(original, stage, spent))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _frames_or(owner: type, name: str) -> str:
    """``name + "_frames"`` when ``owner`` has it (the worker calls that), else ``name``."""
    return f"{name}_frames" if hasattr(owner, f"{name}_frames") else name


def _timing(function: Callable[..., T], stage: str, spent: dict[str, float]) -> Callable[..., T]:
    clock = time.thread_time

    def timed(*args: Any, **kwargs: Any) -> T:
        started = clock()
        try:
            return function(*args, **kwargs)
        finally:
            spent[stage] = spent.get(stage, 0.0) + clock() - started

    return timed


def measure(with_sink: bool, batch: int) -> dict[str, float]:
    """One run in this process: µs of thread CPU per measurement by stage (``STAGES``)."""
    from streams.worker import tune_garbage_collector

    tune_garbage_collector()
    registry = pipeline_fleet.registry()
    batches = batches_of(records(), batch)
    spent: dict[str, float] = {}
    with pipeline(registry, with_sink) as worker, _timed_stages(spent):
        started = time.thread_time()
        measurements = run(batches, worker)
        spent["total"] = time.thread_time() - started
    return {stage: spent.get(stage, 0.0) / max(measurements, 1) * 1e6 for stage in STAGES}


def _child(tree: Path, with_sink: bool, batch: int) -> dict[str, float]:
    """``measure`` in a fresh process over ``tree``'s code (``bench.trees.child_figures``)."""
    from bench.trees import child_figures  # here: a base tree's child may not have it

    args = ["--child", "--batch", str(batch), *(["--sink"] if with_sink else [])]
    return child_figures(Path(__file__), tree, args)


def compare(baseline: Path | None, with_sink: bool, batch: int, rounds: int) -> list[str]:
    """Rounds of this tree (and ``baseline``, alternating first) and the table of medians."""
    trees = {"this": _ROOT} | ({"baseline": baseline.resolve()} if baseline else {})
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_ in range(max(rounds, 1)):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in order:
            runs[name].append(_child(trees[name], with_sink, batch))
    where = "PgSink + PgStore" if with_sink else "in-memory store, counting sink"
    lines = [
        f"CPU µs per measurement by stage ({pipeline_fleet.DEVICES} devices × "
        f"{pipeline_fleet.FRAMES_PER_DEVICE} frames × 8 factors, every device new; batches of "
        f"{batch}; {where}; worker's collector; median of {max(rounds, 1)} rounds"
        + (", alternating which tree goes first)" if baseline else ")"),
        f"{'stage':<16}" + "".join(f"{name:>22}" for name in trees)
        + ("   ratio" if baseline else ""),
    ]  # fmt: skip
    for stage in STAGES:
        medians = {name: statistics.median(r[stage] for r in runs[name]) for name in trees}
        cells = "".join(
            f"{medians[name]:8.2f} ({', '.join(f'{r[stage]:.1f}' for r in runs[name])})".rjust(22)
            for name in trees
        )
        ratio = f"  ×{medians['this'] / medians['baseline']:.2f}" if baseline else ""
        if baseline and not medians["baseline"]:
            ratio = ""
        lines.append(f"{stage:<16}{cells}{ratio}")
    return lines


def argument_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """The options both profiles share: ``--sink`` and ``--batch``."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sink", action="store_true", help="write to PostgreSQL (PgSink)")
    parser.add_argument(
        "--batch", type=int, default=BATCH, help=f"raw records per batch (default {BATCH})"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("python -m bench.profile_stages", __doc__)
    parser.add_argument("--rounds", type=int, default=1, help="runs per tree (default 1)")
    parser.add_argument("--baseline", type=Path, help="a checkout to measure beside this tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    if args.baseline is not None and not (args.baseline / "streams" / "pipeline.py").is_file():
        parser.error(f"--baseline {args.baseline}: not a Greenwatch checkout")
    if args.child:
        print(json.dumps(measure(args.sink, args.batch)))
        return 0
    for line in compare(args.baseline, args.sink, args.batch, args.rounds):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

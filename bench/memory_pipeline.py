"""Where a worker's memory goes: the engine's held state after the pipeline benchmark's backlog.

``python -m bench.memory_pipeline [--top N]`` builds the pipeline benchmark's fleet
(``bench.pipeline_fleet``: ``BENCH_PIPELINE_DEVICES`` devices × ``BENCH_PIPELINE_FRAMES_PER_DEVICE``
minute frames × 8 factors; 60 frames is a real hour's steady state) and runs the worker's
``streams.pipeline.Pipeline`` over it in batches of 2 000 raw records, as the worker does, with a
store that holds nothing (what the benchmark's worker reads from its fresh schema: no stored
hour of these devices) and a sink that only counts. Records are made batch by batch and dropped
after their batch, as a consumer's are, so what stays is what the pipeline and its engine hold.

Prints the process's RSS (``VmRSS``, MiB) after the registry and after the drain, the engine's
held windows, and with ``--top N`` the ``N`` largest ``tracemalloc`` allocation sites of what
is still allocated after the drain (the tracing itself costs memory: the RSS printed under
``--top`` is not the figure to compare; run without it for that).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import pipeline_fleet
from bench.profile_pipeline import CountingSink
from streams.domain.engine import Engine
from streams.domain.normalize import normalize_packet
from streams.domain.store import MemoryStore
from streams.pipeline import Pipeline, RawRecord
from streams.process_memory import resident_mib
from streams.sink import SourcePosition

BATCH = 2000


class NothingStored(MemoryStore):
    """A store to which nothing is ever written: every read finds nothing, as the benchmark
    worker's reads of its fresh schema do."""

    def add(self, measurements: object) -> None:
        return None

    def record(self, outputs: object) -> None:
        return None


def batches() -> Iterator[list[RawRecord]]:
    """The fleet's backlog as raw-topic records in production order, a batch at a time."""
    received = datetime.now(UTC)
    batch: list[RawRecord] = []
    for offset, (mn, at) in enumerate(pipeline_fleet.backlog_times()):
        frame = pipeline_fleet.frame(mn, at, at + timedelta(seconds=3))
        batch.append(RawRecord(SourcePosition("bench.raw.hj212", 0, offset), frame.value,
                               received, frame.headers))  # fmt: skip
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def rss_mib() -> float:
    """This process's resident set size (``VmRSS``) in MiB."""
    memory = resident_mib()
    return memory[0] if memory is not None else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory_pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--top", type=int, default=0, help="tracemalloc sites to print")
    args = parser.parse_args(argv)
    registry = pipeline_fleet.registry()
    gc.collect()
    gc.freeze()  # as the worker does (streams.worker.tune_garbage_collector)
    gc.set_threshold(50_000, 20, 100)
    before = rss_mib()
    if args.top:
        tracemalloc.start(1)
    pipeline = Pipeline(registry, engine_factory=Engine, normalize=normalize_packet,
                        sink=CountingSink(), store=NothingStored())  # fmt: skip
    measurements = 0
    for batch in batches():
        measurements += pipeline.commit(pipeline.prepare(batch)).measurements
    gc.collect()
    after = rss_mib()
    hours, days = pipeline._engine.held_windows()
    print(
        f"{pipeline_fleet.DEVICES} devices × {pipeline_fleet.FRAMES_PER_DEVICE} minutes: "
        f"{measurements} measurements; RSS {before:.0f} MiB after the registry, {after:.0f} MiB "
        f"after the drain (+{after - before:.0f} MiB); held: {hours} hour buffers, {days} days"
    )
    if args.top:
        snapshot = tracemalloc.take_snapshot()
        stats = snapshot.statistics("lineno")
        traced = sum(s.size for s in stats)
        print(f"traced after the drain: {traced / 2**20:.1f} MiB; top {args.top} sites:")
        root = str(Path(__file__).resolve().parent.parent) + "/"
        for stat in stats[: args.top]:
            frame = stat.traceback[0]
            where = frame.filename.removeprefix(root).split("site-packages/")[-1]
            print(f"{stat.size / 2**20:8.1f} MiB {stat.count:9d} objects  {where}:{frame.lineno}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One and two workers draining the pipeline benchmark's backlog, this tree beside a base tree,
with the CPU budget of each drain (issue 15, fifth slice: the two-worker figure and the start).

Each round and each worker count: fresh topics, a fresh schema migrated by the round's tree,
the whole backlog of ``bench.bench_pipeline`` (``DEVICES`` devices × ``FRAMES_PER_DEVICE``
minute frames × 8 factors) produced first, then ``greenwatch worker`` processes of that tree
(``PYTHONPATH``) started on it. Per drain: the steady and the first-row clocks
(``bench.pipeline_drain``), each worker's start (spawned → partitions assigned), and the CPU
budget of the steady window (``bench.cpu_budget``). Rounds alternate the trees (base, this,
this, base, …) so that load from elsewhere on the shared machine falls on both alike; the
summary gives medians: measurements/s, and µs of CPU per measurement (less sensitive to load).

``BENCH_DRAINS_JOINED=1``: the workers start on the empty raw topic and the backlog is produced
only once every worker owns partitions, so no rebalance moves a device between workers during
the drain (its new owner would read that device's state from the store again); the backlog is
produced by a thread of the benchmark while the drain is scraped (its CPU is in the
benchmark's line), so the drain also waits for the producer: compare CPU per measurement
rather than the rates.

Settings: ``BENCH_DRAINS_BASE`` a checkout of the base (``git worktree add --detach DIR
main``; without it only this tree runs), ``BENCH_DRAINS_ROUNDS`` (repetitions of base, this,
this, base; default 1), ``BENCH_DRAINS_WORKERS`` (worker counts, default ``1,2``), and the
pipeline benchmark's ``BENCH_PIPELINE_DEVICES`` / ``BENCH_PIPELINE_FRAMES_PER_DEVICE``.
Needs the local stack (``greenwatch stack up``). Nothing asserts a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median

from bench import bench_pipeline, cpu_budget, pipeline_fleet
from bench.bench_latency import _schema
from bench.db import unreachable
from bench.kafka import service_env
from bench.pipeline_drain import Drain
from bench.pipeline_fleet import Frame
from bench.trees import compared
from runtime.kafka_access import Principal
from runtime.settings import Settings, database_dsn
from schemas.registry import dump_registry

BASE = os.environ.get("BENCH_DRAINS_BASE", "")
ROUNDS = int(os.environ.get("BENCH_DRAINS_ROUNDS", "1"))
WORKERS = [int(n) for n in os.environ.get("BENCH_DRAINS_WORKERS", "1,2").split(",")]
JOINED = os.environ.get("BENCH_DRAINS_JOINED", "") == "1"
HERE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Measured:
    """One drain's figures (rates in measurements/s, CPU in µs per measurement)."""

    tree: str
    workers: int
    steady: float
    first_row: float
    start_s: float
    worker_us: float
    main_thread_us: float
    postgres_us: float
    kafka_us: float


def run() -> list[str]:
    settings = Settings()
    dsn = database_dsn(settings)
    if missing := unreachable(dsn):
        return missing
    trees, order = compared(HERE, BASE)
    backlog = [
        pipeline_fleet.frame(mn, at, at + timedelta(seconds=3))
        for mn, at in pipeline_fleet.backlog_times()
    ]
    lines = [
        f"fleet: {pipeline_fleet.DEVICES} devices × {pipeline_fleet.FRAMES_PER_DEVICE} frames "
        f"× 8 = {len(backlog) * 8:,} measurements per drain; base: {BASE or 'none'}; "
        + ("backlog produced once every worker owns partitions" if JOINED
           else "backlog produced before the workers start")
    ]  # fmt: skip
    measured: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="gw-drains-") as tmp:
        registry_file = Path(tmp) / "registry.yaml"
        registry_file.write_text(dump_registry(pipeline_fleet.registry()), "utf-8")
        for index in range(ROUNDS):
            for step, name in enumerate(order if index % 2 == 0 else order[::-1]):
                for count in WORKERS:
                    where = Path(tmp) / f"r{index}-{step}-{name}-{count}"
                    drained = _round(settings, dsn, trees[name], registry_file, backlog,
                                     count, where)  # fmt: skip
                    figures = _figures(name, count, drained)
                    print(f"   ({name}, {count} worker(s): {figures.steady:,.0f}/s steady)",
                          file=sys.stderr, flush=True)  # fmt: skip
                    measured.append(figures)
                    lines += bench_pipeline._drain_lines(f"{name}, {count} worker(s)", drained)
    return [*lines, *_medians(measured, trees, WORKERS)]


def _round(
    settings: Settings,
    dsn: str,
    tree: Path,
    registry_file: Path,
    backlog: list[Frame],
    count: int,
    tmp: Path,
) -> Drain[cpu_budget.Sample | None]:
    login = service_env(settings, Principal.WORKER)
    with _schema(dsn, tree) as schema, bench_pipeline._topics(settings) as (kafka, prefix):
        if not JOINED:
            bench_pipeline._produce(kafka, prefix, backlog)
        ports = [bench_pipeline._free_port() for _ in range(count)]
        spawned = time.monotonic()
        workers = [
            bench_pipeline._start_worker(
                login, schema, prefix, registry_file, port, tmp / f"w{n}", tree=tree
            )
            for n, port in enumerate(ports)
        ]
        probe = cpu_budget.stack_probe(
            settings, {f"worker {n + 1}": w.pid for n, w in enumerate(workers)}
        )
        try:
            producer = None
            if JOINED:  # produced while the drain is scraped: its clock starts before a row
                _await_partitions(ports, workers)
                producer = threading.Thread(
                    target=bench_pipeline._produce, args=(kafka, prefix, backlog), daemon=True
                )
                producer.start()
            drained = bench_pipeline._drain_clocks(ports, workers, len(backlog) * 8, probe, spawned)
            if producer is not None:
                producer.join()
            return drained
        finally:
            bench_pipeline._stop_workers(workers)


def _await_partitions(ports: list[int], workers: list[subprocess.Popen[bytes]]) -> None:
    """Block until every worker reports assigned raw partitions (raises after 300 s or when
    a worker exits)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and all(w.poll() is None for w in workers):
        assigned = [
            bench_pipeline._metric(port, "greenwatch_streams_assigned_partitions") for port in ports
        ]
        if all(a > 0 for a in assigned):
            return
        time.sleep(0.1)
    raise RuntimeError(
        f"the workers did not all own partitions (exits {[w.poll() for w in workers]})"
    )


def _figures(tree: str, count: int, drained: Drain[cpu_budget.Sample | None]) -> Measured:
    steady = drained.steady
    spent: dict[str, float] = {}
    if steady.start.extra is not None and steady.end.extra is not None:
        spent = cpu_budget.seconds_by_role(steady.start.extra, steady.end.extra)
    per = 1e6 / max(steady.rows, 1.0)

    def total(suffix: str) -> float:
        return sum(v for k, v in spent.items() if k.startswith("worker") and k.endswith(suffix))

    workers = sum(v for k, v in spent.items() if k.startswith("worker") and ":" not in k)
    return Measured(
        tree=tree,
        workers=count,
        steady=steady.rate,
        first_row=drained.first_row.rate,
        start_s=max((s for s in drained.starts if s is not None), default=float("nan")),
        worker_us=workers * per,
        main_thread_us=total(": main thread") * per,
        postgres_us=spent.get("PostgreSQL (postmaster and backends)", 0.0) * per,
        kafka_us=spent.get("Kafka broker", 0.0) * per,
    )


def _medians(measured: Sequence[Measured], trees: dict[str, Path], counts: list[int]) -> list[str]:
    lines = [
        "medians (steady clock; CPU in µs per measurement over the steady window):",
        f"{'tree, workers':<16} {'steady/s':>9} {'first-row/s':>11} {'start s':>8} "
        f"{'workers':>8} {'main thr':>8} {'postgres':>8} {'kafka':>6}",
    ]
    for name in trees:
        for count in counts:
            mine = [m for m in measured if m.tree == name and m.workers == count]
            if not mine:
                continue
            lines.append(
                f"{name + ', ' + str(count):<16} {median(m.steady for m in mine):>9,.0f} "
                f"{median(m.first_row for m in mine):>11,.0f} "
                f"{median(m.start_s for m in mine):>8.1f} "
                f"{median(m.worker_us for m in mine):>8.1f} "
                f"{median(m.main_thread_us for m in mine):>8.1f} "
                f"{median(m.postgres_us for m in mine):>8.1f} "
                f"{median(m.kafka_us for m in mine):>6.1f}"
            )
    return lines

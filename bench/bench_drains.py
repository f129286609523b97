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

``BENCH_DRAINS_MODES``: how the backlog meets the workers (``bench.pipeline_two``), a
comma-separated list of ``backlog-first`` (the default: produced before the workers start;
with two, one drains alone until a rebalance moves half the devices) and ``joined`` (produced
once every worker owns partitions, while the workers are paused: no rebalance, and the
benchmark's producer is not on the CPU during the drain); ``BENCH_DRAINS_JOINED=1`` is
``joined`` alone.

Settings: ``BENCH_DRAINS_BASE`` a checkout of the base (``git worktree add --detach DIR
main``; without it only this tree runs), ``BENCH_DRAINS_ROUNDS`` (repetitions of base, this,
this, base; default 1), ``BENCH_DRAINS_WORKERS`` (worker counts, default ``1,2``),
``BENCH_DRAINS_MODES``, and the pipeline benchmark's ``BENCH_PIPELINE_DEVICES`` /
``BENCH_PIPELINE_FRAMES_PER_DEVICE``.
Needs the local stack (``greenwatch stack up``). Nothing asserts a time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median

from bench import bench_pipeline, cpu_budget, pipeline_fleet, pipeline_two
from bench.bench_latency import _schema
from bench.db import unreachable
from bench.kafka import service_env
from bench.pipeline_drain import Drain
from bench.pipeline_fleet import Frame
from bench.pipeline_two import Mode
from bench.trees import compared
from runtime.kafka_access import Principal
from runtime.settings import Settings, database_dsn
from schemas.registry import dump_registry

BASE = os.environ.get("BENCH_DRAINS_BASE", "")
ROUNDS = int(os.environ.get("BENCH_DRAINS_ROUNDS", "1"))
WORKERS = [int(n) for n in os.environ.get("BENCH_DRAINS_WORKERS", "1,2").split(",")]
_MODES = {"backlog-first": Mode.BACKLOG_FIRST, "joined": Mode.JOINED}
MODES = [
    _MODES[name.strip()]
    for name in (
        "joined"
        if os.environ.get("BENCH_DRAINS_JOINED", "") == "1"
        else os.environ.get("BENCH_DRAINS_MODES", "backlog-first")
    ).split(",")
]
HERE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Measured:
    """One drain's figures (rates in measurements/s, CPU in µs per measurement)."""

    tree: str
    workers: int
    mode: Mode
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
        f"× 8 = {len(backlog) * 8:,} measurements per drain; base: {BASE or 'none'}",
        *(f"mode {mode.name}: {mode.value}" for mode in MODES),
    ]
    measured: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="gw-drains-") as tmp:
        registry_file = Path(tmp) / "registry.yaml"
        registry_file.write_text(dump_registry(pipeline_fleet.registry()), "utf-8")
        for index in range(ROUNDS):
            for step, name in enumerate(order if index % 2 == 0 else order[::-1]):
                for mode in MODES:
                    for count in WORKERS:
                        where = Path(tmp) / f"r{index}-{step}-{name}-{mode.name}-{count}"
                        drained, paused = _round(settings, dsn, trees[name], registry_file,
                                                 backlog, mode, count, where)  # fmt: skip
                        figures = _figures(name, count, mode, drained)
                        label = f"{name}, {mode.name}, {count} worker(s)"
                        print(f"   ({label}: {figures.steady:,.0f}/s steady)",
                              file=sys.stderr, flush=True)  # fmt: skip
                        measured.append(figures)
                        lines += bench_pipeline._drain_lines(label, drained)
                        if mode is Mode.JOINED:
                            lines.append(pipeline_two.describe_pause(paused))
    return [*lines, *_medians(measured, trees, WORKERS, MODES)]


def _round(
    settings: Settings,
    dsn: str,
    tree: Path,
    registry_file: Path,
    backlog: list[Frame],
    mode: Mode,
    count: int,
    tmp: Path,
) -> tuple[Drain[cpu_budget.Sample | None], float]:
    login = service_env(settings, Principal.WORKER)
    with _schema(dsn, tree) as schema, bench_pipeline._topics(settings) as (kafka, prefix):
        start = [tmp / f"w{n}" for n in range(count)]
        return pipeline_two.drain(
            mode, settings, kafka, prefix, backlog, start, login, schema, registry_file, tree
        )


def _figures(
    tree: str, count: int, mode: Mode, drained: Drain[cpu_budget.Sample | None]
) -> Measured:
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
        mode=mode,
        steady=steady.rate,
        first_row=drained.first_row.rate,
        start_s=max((s for s in drained.starts if s is not None), default=float("nan")),
        worker_us=workers * per,
        main_thread_us=total(": main thread") * per,
        postgres_us=spent.get("PostgreSQL (postmaster and backends)", 0.0) * per,
        kafka_us=spent.get("Kafka broker", 0.0) * per,
    )


def _medians(
    measured: Sequence[Measured], trees: dict[str, Path], counts: list[int], modes: list[Mode]
) -> list[str]:
    lines = [
        "medians (steady clock; CPU in µs per measurement over the steady window):",
        f"{'tree, mode, workers':<28} {'steady/s':>9} {'first-row/s':>11} {'start s':>8} "
        f"{'workers':>8} {'main thr':>8} {'postgres':>8} {'kafka':>6}",
    ]
    for name in trees:
        for mode, count in ((mode, count) for mode in modes for count in counts):
            mine = [m for m in measured if (m.tree, m.mode, m.workers) == (name, mode, count)]
            if not mine:
                continue
            lines.append(
                f"{f'{name}, {mode.name}, {count}':<28} {median(m.steady for m in mine):>9,.0f} "
                f"{median(m.first_row for m in mine):>11,.0f} "
                f"{median(m.start_s for m in mine):>8.1f} "
                f"{median(m.worker_us for m in mine):>8.1f} "
                f"{median(m.main_thread_us for m in mine):>8.1f} "
                f"{median(m.postgres_us for m in mine):>8.1f} "
                f"{median(m.kafka_us for m in mine):>6.1f}"
            )
    return lines

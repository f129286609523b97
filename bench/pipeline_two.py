"""Several ``greenwatch worker`` processes draining the pipeline benchmark's backlog, in the two
ways a backlog can meet them (issue 15, eighth slice: the two-worker figure).

- ``JOINED``: the workers start on the empty raw topic; once every one owns raw partitions
  (one consumer-group generation, no rebalance to come) they are paused (``SIGSTOP``), the
  backlog is produced, and they are resumed (``SIGCONT``) before the first scrape. So the
  drain's steady window holds the platform only (workers, PostgreSQL, Kafka), as a backlog
  that piled up while the workers were up (a gateway's link or PostgreSQL back after an
  outage: the workers own their partitions and the records are there) would be drained; the
  benchmark's producer is not on the box's CPU during the drain. The pause is shorter than
  the workers' session timeout (printed; the drain fails as a rebalance if it is not).
- ``BACKLOG_FIRST``: the backlog is produced, then the workers start. The local stack's
  broker lets the first one take every partition at once (``group.initial.rebalance.delay.ms``
  is 0 there), so it drains alone until the others join; the rebalance then moves devices to
  a new owner, which reads their open hours from the store again. That is what scaling out
  on a backlog costs.

Either way the figure is ``bench.pipeline_drain``'s steady clock (from the first scrape at
which every worker owns partitions, or the last without a committed row when later) with the
CPU budget of the steady window (``bench.cpu_budget``). Works with any tree's worker (``tree``):
nothing is asked of the worker but its command line and its metrics.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from pathlib import Path

from bench import bench_pipeline, cpu_budget
from bench.pipeline_drain import Drain
from bench.pipeline_fleet import Frame
from runtime.kafka_access import KafkaAccess
from runtime.settings import Settings
from streams.app import WorkerTuning

#: how long a paused worker may miss its heartbeats before its group would move its partitions
SESSION_TIMEOUT_S = WorkerTuning().session_timeout_s


class Mode(Enum):
    """How the backlog meets the workers (module docstring)."""

    JOINED = "joined: every worker owns partitions, then the backlog (produced while paused)"
    BACKLOG_FIRST = "backlog first: the workers start on it (one drains alone, then a rebalance)"


class PausedTooLong(RuntimeError):
    """Producing the backlog took longer than the workers' session timeout."""


def drain(
    mode: Mode,
    settings: Settings,
    kafka: KafkaAccess,
    prefix: str,
    backlog: list[Frame],
    start: list[Path],
    login: dict[str, str],
    dsn: str,
    registry_file: Path,
    tree: Path | None = None,
) -> tuple[Drain[cpu_budget.Sample | None], float]:
    """One drain of ``backlog`` by ``len(start)`` workers (each given its directory in
    ``start``); returns the drain and how long the workers were paused (0 for
    ``BACKLOG_FIRST``). Raises ``RuntimeError`` when a worker exits or the drain stalls."""
    if mode is Mode.BACKLOG_FIRST:
        bench_pipeline._produce(kafka, prefix, backlog)
    ports = [bench_pipeline._free_port() for _ in start]
    spawned = time.monotonic()
    with _workers(login, dsn, prefix, registry_file, ports, start, tree) as workers:
        probe = cpu_budget.stack_probe(
            settings, {f"worker {n + 1}": w.pid for n, w in enumerate(workers)}
        )
        paused = 0.0
        if mode is Mode.JOINED:
            await_partitions(ports, workers)
            paused = produce_paused(
                workers, lambda: bench_pipeline._produce(kafka, prefix, backlog)
            )
        total = len(backlog) * 8
        return bench_pipeline._drain_clocks(ports, workers, total, probe, spawned), paused


def describe_pause(paused: float) -> str:
    return (
        f"  workers paused {paused:.1f} s while the backlog was produced (session timeout "
        f"{SESSION_TIMEOUT_S:.0f} s)"
    )


@contextlib.contextmanager
def _workers(
    login: dict[str, str],
    dsn: str,
    prefix: str,
    registry_file: Path,
    ports: list[int],
    start: list[Path],
    tree: Path | None,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for port, where in zip(ports, start, strict=True):
            workers.append(
                bench_pipeline._start_worker(login, dsn, prefix, registry_file, port, where, tree)
            )
        yield workers
    finally:
        for worker in workers:  # a paused worker would never see its SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGCONT)
        bench_pipeline._stop_workers(workers)


def produce_paused(
    workers: Sequence[subprocess.Popen[bytes]],
    produce: Callable[[], object],
    session_timeout_s: float = SESSION_TIMEOUT_S,
) -> float:
    """Call ``produce`` (the backlog's producer) while every worker is stopped (``SIGSTOP``),
    then resume them (``SIGCONT``, also when ``produce`` raises); returns the seconds they
    were stopped. Raises ``PausedTooLong`` when that reached ``session_timeout_s`` (their
    group would have moved their partitions: not a joined drain)."""
    began = time.monotonic()
    for worker in workers:
        os.kill(worker.pid, signal.SIGSTOP)
    try:
        for worker in workers:  # a signal is delivered when the process is next scheduled
            _await_stopped(worker.pid)
        produce()
    finally:
        for worker in workers:
            os.kill(worker.pid, signal.SIGCONT)
    paused = time.monotonic() - began
    if paused >= session_timeout_s:
        raise PausedTooLong(
            f"the workers were paused {paused:.1f} s, their session timeout is "
            f"{session_timeout_s:.0f} s: a rebalance, not the joined drain"
        )
    return paused


def _await_stopped(pid: int, timeout_s: float = 10.0) -> None:
    """Block until process ``pid`` is stopped (its state in /proc is ``T``); raises
    ``RuntimeError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cpu_budget.process_state(pid) == "T":
            return
        time.sleep(0.005)
    raise RuntimeError(f"process {pid} did not stop within {timeout_s:.0f} s")


def await_partitions(ports: list[int], workers: list[subprocess.Popen[bytes]]) -> None:
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

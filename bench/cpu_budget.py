"""Where a benchmark window's CPU went: each worker (its main thread and its other threads),
PostgreSQL, the Kafka broker, the benchmark itself, and the box's idle share.

Read from /proc (Linux): ``/proc/PID/stat`` fields 14–17 (utime, stime, cutime, cstime, in
clock ticks), ``/proc/PID/task/TID/stat`` for a thread, ``/proc/stat``'s ``cpu`` line for the
whole box. No library: psutil would give the same numbers through the same files, and the
parsing is a few lines; the benchmark runs where the stack runs (Linux) anyway.

A role's CPU is its process tree's: the process's own time, plus the time of its children
already reaped (cutime + cstime, so a backend or a forked registry reader that exits inside the
window is not lost), plus the live children's own time. For PostgreSQL the tree is the
postmaster's (every backend is its child); a worker's includes its registry child. The
worker's main thread (the event loop: faust, aiokafka, take and ack) is the task whose id is
the pid; its "other threads" are the rest (``asyncio.to_thread`` executors running the
pipeline's prepare and commit, librdkafka/aiokafka helpers, the metrics server).

``take(probe)`` reads one ``Sample`` (a few hundred small files: ~ms of the benchmark's CPU,
which the benchmark's own line shows); ``describe(before, after, measurements)`` prints the
table: CPU seconds, share of one core over the window, µs per measurement.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy import kafka_service, postgres_service
from runtime.settings import Settings

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class StatTimes:
    """One /proc/PID/stat's CPU fields, in clock ticks, and its parent pid."""

    ppid: int
    own: int  # utime + stime
    reaped: int  # cutime + cstime: children already waited for


def _stat_fields(text: str) -> list[str]:
    """The fields of a /proc/PID/stat (or task stat) line after the command name, which may
    hold spaces and ``)``: counted from the last ``)``. Raises ValueError on a line that is
    not one."""
    close = text.rfind(")")
    if close < 0:
        raise ValueError(f"not a /proc stat line: {text[:60]!r}")
    return text[close + 2 :].split()


def parse_stat(text: str) -> StatTimes:
    """Parse a /proc/PID/stat (or task stat) line's CPU fields and parent pid. Raises
    ValueError on a line that is not one."""
    fields = _stat_fields(text)
    # after the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
    return StatTimes(
        ppid=int(fields[1]),
        own=int(fields[11]) + int(fields[12]),
        reaped=int(fields[13]) + int(fields[14]),
    )


def process_state(pid: int) -> str:
    """The state letter of process ``pid`` (``/proc/PID/stat``: ``R``, ``S``, ``T`` stopped…)."""
    return _stat_fields((PROC / str(pid) / "stat").read_text())[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (its ``/proc/PID/stat``)."""
    return parse_stat((PROC / str(pid) / "stat").read_text()).own * TICK_S


def parse_box(text: str) -> tuple[int, int]:
    """(idle ticks, total ticks) of the box from /proc/stat's first ``cpu`` line; idle counts
    iowait too; guest time is already inside user time, so only the first 8 columns add up."""
    first = text.split("\n", 1)[0].split()
    if not first or first[0] != "cpu":
        raise ValueError("/proc/stat does not start with the cpu line")
    ticks = [int(value) for value in first[1:9]]
    return ticks[3] + ticks[4], sum(ticks)


@dataclass(frozen=True, slots=True)
class Probe:
    """What to measure: worker pids by label, the postmaster and broker pids (None when not
    local: then their lines are left out) and the benchmark's own pid."""

    workers: Mapping[str, int]
    postmaster: int | None
    broker: int | None
    bench: int = field(default_factory=os.getpid)


def stack_probe(settings: Settings, workers: Mapping[str, int]) -> Probe:
    """A probe of ``workers`` and of the local stack's postmaster and broker (their pid
    files under the state directory; None for a service the settings point elsewhere)."""
    postmaster = broker = None
    if settings.database_url is None:
        pg = postgres_service.layout(settings.state_dir, settings.postgres_port)
        postmaster = postgres_service.running_pid(pg)
    if settings.kafka_bootstrap is None:
        kafka = kafka_service.layout(
            settings.state_dir, settings.kafka_port, settings.kafka_controller_port
        )
        broker = kafka_service.running_pid(kafka)
    return Probe(workers=workers, postmaster=postmaster, broker=broker)


@dataclass(frozen=True, slots=True)
class Sample:
    """CPU ticks by role (see the module docstring) and the box's (idle, total) at ``at``."""

    at: float
    ticks: Mapping[str, int]
    box: tuple[int, int]


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # a process or thread that ended between listing and reading
        return None


def _all_stats() -> dict[int, StatTimes]:
    stats = {}
    for entry in os.scandir(PROC):
        if entry.name.isdigit() and (text := _read(PROC / entry.name / "stat")) is not None:
            stats[int(entry.name)] = parse_stat(text)
    return stats


def tree_ticks(root: int, stats: Mapping[int, StatTimes]) -> int:
    """CPU ticks of ``root``'s process tree: its own and reaped children's time, plus every
    live descendant's own time (their reaped children are inside their ``reaped``)."""
    if root not in stats:
        return 0
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(stat.ppid, []).append(pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += stats[pid].own + stats[pid].reaped
        pending.extend(children.get(pid, ()))
    return total


def take(probe: Probe) -> Sample:
    """Read every role's CPU ticks now (see ``Probe``)."""
    stats = _all_stats()
    ticks: dict[str, int] = {}
    for label, pid in probe.workers.items():
        ticks[label] = tree_ticks(pid, stats)
        main = _read(PROC / str(pid) / "task" / str(pid) / "stat")
        ticks[f"{label}: main thread"] = parse_stat(main).own if main else 0
    if probe.postmaster is not None:
        ticks["PostgreSQL (postmaster and backends)"] = tree_ticks(probe.postmaster, stats)
    if probe.broker is not None:
        ticks["Kafka broker"] = tree_ticks(probe.broker, stats)
    own = stats.get(probe.bench)
    ticks["the benchmark itself"] = own.own if own else 0
    box = parse_box(_read(PROC / "stat") or "")
    return Sample(at=time.monotonic(), ticks=ticks, box=box)


def seconds_by_role(before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds per role between two samples; a worker's ``: main thread`` entry is
    followed by its ``: other threads`` (the rest of its tree)."""
    spent: dict[str, float] = {}
    for name, ticks in after.ticks.items():
        if name.endswith(": main thread"):
            continue
        spent[name] = (ticks - before.ticks.get(name, 0)) * TICK_S
        main = f"{name}: main thread"
        if main in after.ticks:
            spent[main] = (after.ticks[main] - before.ticks.get(main, 0)) * TICK_S
            spent[f"{name}: other threads"] = spent[name] - spent[main]
    return spent


def describe(before: Sample, after: Sample, measurements: float) -> list[str]:
    """The budget between two samples: per role, CPU seconds, % of one core, µs per
    measurement; a worker's main thread and its other threads on their own lines; then the
    box's idle share (of all its cores). Pure arithmetic (unit-tested)."""
    wall = after.at - before.at
    count = max(measurements, 1.0)
    lines = [f"{'CPU over ' + format(wall, '.1f') + ' s':<44} {'CPU s':>7} {'% core':>7} "
             f"{'µs/meas':>8}"]  # fmt: skip
    for name, seconds in seconds_by_role(before, after).items():
        share = seconds / wall if wall > 0 else float("nan")
        shown = name
        if name.endswith(": main thread"):
            shown = "  main thread (event loop)"
        elif name.endswith(": other threads"):
            shown = "  other threads (+ children)"
        lines.append(f"{shown:<44} {seconds:>7.2f} {share:>7.0%} {seconds * 1e6 / count:>8.1f}")
    idle = after.box[0] - before.box[0]
    total = after.box[1] - before.box[1]
    cores = os.cpu_count() or 1
    share = idle / total if total > 0 else float("nan")
    lines.append(f"box idle: {share:.0%} of {cores} cores ({idle * TICK_S:.1f} core-seconds)")
    return lines

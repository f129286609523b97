"""``greenwatch replay --jobs N``: one replay per partition of the enterprises, in N processes,
their lines merged into exactly the one-process replay's output (issue 15).

What the engine computes for a device depends on that device's data and, through its outlet
(the annual ledgers, daily loads, substitutions: keyed by outlet) and the cross-device
``identical_devices`` step (two devices **of one enterprise**), on the other devices of its
enterprise; nothing crosses enterprises. So the input is partitioned by enterprise: a
registered MN goes to partition ``crc32(enterprise id) mod N`` (stable across runs and
machines), an unknown MN to ``crc32(MN) mod N`` (it is only counted), a line without a
readable MN to partition 0. Each partition runs ``streams.replay.Replay``, the same code as
``--jobs 1``, on its lines in file order, the identical-devices step included (over its own
enterprises' stored values: the same pairs as over all of them); the printed lines of all
partitions are merged by their print-order key (unique per line across partitions: it holds
the outlet or the device), and the counts on stderr are the sums.

Passing lines between processes would cost about what it saves, so each process reads the
file itself and skips the other partitions' lines by the MN in the frame's header (a few
``bytes.find`` per line, ``Partitioner``); only the outputs travel, through files in a private
temporary directory (0700, deleted at the end), already in print order. The processes are
forked (the parsed registry is shared, not pickled). An unreadable input is reported as
``OSError`` as in one process; a line no process can decode is counted once, by the one
process whose partition it is.
"""

from __future__ import annotations

import heapq
import os
import pickle
import sys
import tempfile
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, Final

from ingest.hj212 import inspect
from schemas.registry import Registry
from streams.process_memory import resident_mib
from streams.replay import BATCH_LINES, ReplayStats, replay_rows
from streams.replay_output import Row

_CHUNK: Final = 10_000
"""Rows per pickle written by a partition's process (the parent holds one chunk each)."""
_MN: Final = b";MN="
_CP: Final = b";CP=&&"


def usable_cores() -> int:
    """The CPUs this process may run on (``--jobs``' default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Partitioner:
    """The partition (0 … ``jobs`` − 1) of an input line, from the MN in its frame's header.

    Exact for every line that decodes: its header has one ``MN=`` field before ``;CP=&&``
    (``ingest.hj212.parse_segment`` refuses a repeated field), which is what is read; other
    forms (MN first in the segment, a non-ASCII MN) are parsed by ``inspect``."""

    def __init__(self, registry: Registry, jobs: int) -> None:
        self._jobs = jobs
        self._known = {
            device.mn.encode(): _slot(enterprise.id.encode(), jobs)
            for enterprise in registry.enterprises
            for outlet in enterprise.outlets
            for device in outlet.devices
        }

    def __call__(self, line: bytes) -> int:
        head = line.find(_CP)
        start = line.rfind(_MN, 0, head) if head > 0 else -1
        if start >= 0:
            mn = line[start + 4 : line.find(b";", start + 4)]
            slot = self._known.get(mn)
            if slot is not None:
                return slot
            if mn.isascii():
                return _slot(mn, self._jobs)
        return self._parsed(line)

    def _parsed(self, line: bytes) -> int:
        frame = line.rstrip(b"\r\n").split(b"\t", 1)[-1]
        packet = inspect(frame).packet
        if packet is None:
            return 0
        mn = packet.mn.encode("utf-8", "surrogateescape")
        slot = self._known.get(mn)
        return slot if slot is not None else _slot(mn, self._jobs)


@dataclass(slots=True)
class ParallelReplay:
    """What ``replay_file`` gives: the printed lines in print order (read back lazily from the
    partitions' files), the summed counts, and each partition process's peak RSS (MiB)."""

    rows: Iterator[Row]
    stats: ReplayStats
    peak_rss_mib: list[float] = field(default_factory=list)


class ReplayProcessError(RuntimeError):
    """A partition's process failed for another reason than an unreadable input (a bug): its
    traceback is the message."""


def replay_file(
    path: Path,
    registry: Registry,
    include_quality: bool = False,
    jobs: int = 1,
    batch_lines: int = BATCH_LINES,
) -> ParallelReplay:
    """Replay the lines of ``path`` in ``jobs`` processes (1: in this one); blocks until every
    partition is replayed. Raises ``OSError`` when the input cannot be read,
    ``ReplayProcessError`` when a process fails otherwise."""
    if jobs <= 1:
        with path.open("rb") as lines:
            rows, stats = replay_rows(lines, registry, include_quality, batch_lines)
        return ParallelReplay(rows, stats)
    holder = tempfile.TemporaryDirectory(prefix="gw-replay-")
    directory = Path(holder.name)
    context = get_context("fork")
    started: list[tuple[Any, Connection]] = []
    for slot in range(jobs):
        receiver, sender = context.Pipe(duplex=False)
        task = (path, registry, include_quality, jobs, slot, batch_lines, directory, sender)
        process = context.Process(target=_partition, args=task, daemon=True)
        process.start()
        sender.close()
        started.append((process, receiver))
    results = [_result(slot, process, receiver) for slot, (process, receiver) in enumerate(started)]
    stats = ReplayStats()
    for partial, _ in results:
        stats.add(partial)
    outputs = [_read(directory / f"{slot}.outputs") for slot in range(jobs)]
    signals = [_read(directory / f"{slot}.signals") for slot in range(jobs)]
    rows = _merged(holder, outputs, signals)
    return ParallelReplay(rows, stats, [peak for _, peak in results])


def _partition(
    path: Path,
    registry: Registry,
    include_quality: bool,
    jobs: int,
    slot: int,
    batch_lines: int,
    directory: Path,
    report: Connection,
) -> None:
    """The body of one partition's process: replay its lines, write its rows in print order
    (outputs, then signals), report ``(stats, peak RSS)`` or the error."""
    try:
        partition = Partitioner(registry, jobs)
        with path.open("rb") as lines:
            mine = (line for line in lines if partition(line) == slot)
            rows, stats = replay_rows(mine, registry, include_quality, batch_lines)
        with (
            (directory / f"{slot}.outputs").open("wb") as outputs,
            (directory / f"{slot}.signals").open("wb") as signals,
        ):
            chunks: dict[bool, list[Row]] = {False: [], True: []}
            for row in rows:
                chunk = chunks[row[1] == "quality"]
                chunk.append(row)
                if len(chunk) >= _CHUNK:
                    pickle.dump(chunk, signals if row[1] == "quality" else outputs)
                    chunk.clear()
            pickle.dump(chunks[False], outputs)
            pickle.dump(chunks[True], signals)
        report.send(("ok", (stats, _peak_rss_mib())))
    except OSError as error:
        report.send(("oserror", (error.errno, error.strerror, error.filename)))
    except BaseException:  # a bug: its traceback goes to the parent
        report.send(("error", traceback.format_exc()))
    finally:
        report.close()
        sys.stdout.flush()


def _result(slot: int, process: Any, receiver: Connection) -> tuple[ReplayStats, float]:
    try:
        status, payload = receiver.recv()
    except EOFError:
        process.join()
        raise ReplayProcessError(
            f"replay partition {slot} ended without a result (exit code {process.exitcode})"
        ) from None
    process.join()
    if status == "oserror":
        raise OSError(*payload)
    if status == "error":
        raise ReplayProcessError(f"replay partition {slot} failed:\n{payload}")
    stats, peak = payload
    return stats, peak


def _read(path: Path) -> Iterator[Row]:
    with path.open("rb") as stream:
        yield from _chunks(stream)


def _chunks(stream: BinaryIO) -> Iterator[Row]:
    while True:
        try:
            chunk: list[Row] = pickle.load(stream)  # our own private file, written above
        except EOFError:
            return
        yield from chunk


def _merged(
    holder: tempfile.TemporaryDirectory[str],
    outputs: list[Iterator[Row]],
    signals: list[Iterator[Row]],
) -> Iterator[Row]:
    with holder:
        yield from heapq.merge(*outputs, key=itemgetter(0))
        yield from heapq.merge(*signals, key=itemgetter(0))


def _slot(key: bytes, jobs: int) -> int:
    return zlib.crc32(key) % jobs


def _peak_rss_mib() -> float:
    """This process's peak resident set (``VmHWM``), MiB; 0 where /proc is not there."""
    memory = resident_mib()
    return memory[1] if memory is not None else 0.0

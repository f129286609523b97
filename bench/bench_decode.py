"""HJ 212 decode throughput on one core: ``ingest.hj212.decode`` over every line of the 2016
field capture (shared/data/hj212/capture-2016/, beside the repository), repeated for ~2.5 s.

Target (gateway issue): ≥ 50 000 decoded frames/s on one core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.hj212 import DecodeError, decode

CAPTURE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hj212" / "capture-2016"
TARGET_FRAMES_PER_S = 50_000
DURATION_S = 2.5


def capture_lines() -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted(CAPTURE.glob("*.h212")):
        lines.extend(line for line in path.read_bytes().split(b"\n") if line.strip())
    return lines


@contextmanager
def _one_core() -> Iterator[str]:
    """Pin this process to one core while measuring; restore the affinity afterwards so the
    next benchmark in the same process is unaffected."""
    if not hasattr(os, "sched_setaffinity"):
        yield "not pinned"
        return
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        yield f"pinned to core {core}"
    finally:
        os.sched_setaffinity(0, before)


def run() -> list[str]:
    lines = capture_lines()
    if not lines:
        return [f"no capture found at {CAPTURE}"]
    size = sum(len(line) for line in lines)
    frames = rejected = passes = 0
    with _one_core() as pinning:
        started = time.perf_counter()
        elapsed = 0.0
        while elapsed < DURATION_S:
            for line in lines:
                try:
                    decode(line)
                except DecodeError:
                    rejected += 1
            frames += len(lines)
            passes += 1
            elapsed = time.perf_counter() - started
    rate = frames / elapsed
    verdict = "meets" if rate >= TARGET_FRAMES_PER_S else "BELOW"
    return [
        f"decode: {rate:,.0f} frames/s, {size * passes / elapsed / 1e6:.1f} MB/s "
        f"({frames:,} frames in {elapsed:.2f} s, {pinning}, 1 thread)",
        f"target {TARGET_FRAMES_PER_S:,} frames/s: {verdict}",
        f"rejected {rejected // passes} of {len(lines)} capture lines per pass",
    ]

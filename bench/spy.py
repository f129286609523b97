"""py-spy on a benchmark's worker: ``BENCH_PIPELINE_SPY=DIR`` records the pipeline benchmark's
one worker while it drains the backlog (from its first committed row to the last), as a flame
graph (``DIR/worker.svg``) and as collapsed stacks (``DIR/worker.txt``, read by
``python -m bench.spy_top``). Without the variable nothing is recorded. Two samplers at 100 Hz
cost the worker CPU on a small machine: the one-worker figure of such a run is marked, and is
not the throughput figure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

SPY_DIR = os.environ.get("BENCH_PIPELINE_SPY", "")


def start(pid: int) -> list[subprocess.Popen[bytes]]:
    """Start recording ``pid`` (two py-spy processes: svg and raw); [] when not asked for."""
    if not SPY_DIR:
        return []
    directory = Path(SPY_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    started = []
    for fmt, name in (("flamegraph", "worker.svg"), ("raw", "worker.txt")):
        args = [spy, "record", "--pid", str(pid), "--rate", "100", "--nonblocking",
                "--format", fmt, "--output", str(directory / name)]  # fmt: skip
        started.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return started


def stop(spies: list[subprocess.Popen[bytes]]) -> None:
    """Stop recording (SIGINT: py-spy writes its output) and wait for the files."""
    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()

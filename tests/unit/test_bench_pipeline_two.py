"""The joined two-worker drain's pause (``bench.pipeline_two.produce_paused``) on real
processes: the workers are stopped while the backlog is produced and running again after,
also when producing fails, and a pause as long as the session timeout is refused (a
rebalance would have moved partitions: not a joined drain)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.pipeline_two import PausedTooLong, produce_paused


def _state(process: subprocess.Popen[bytes]) -> str:
    """The process's state letter from /proc (``T``: stopped)."""
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_the_workers_are_stopped_while_the_backlog_is_produced(
    workers: list[subprocess.Popen[bytes]],
) -> None:
    seen: list[list[str]] = []
    paused = produce_paused(workers, lambda: seen.append([_state(w) for w in workers]))
    assert seen == [["T", "T"]]
    assert all(_state(w) != "T" for w in workers)
    assert 0 <= paused < 5


def test_the_workers_run_again_when_producing_fails(
    workers: list[subprocess.Popen[bytes]],
) -> None:
    def refused() -> None:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        produce_paused(workers, refused)
    assert all(_state(w) != "T" for w in workers)


def test_a_pause_as_long_as_the_session_timeout_is_refused(
    workers: list[subprocess.Popen[bytes]],
) -> None:
    with pytest.raises(PausedTooLong, match="session timeout"):
        produce_paused(workers, lambda: time.sleep(0.2), session_timeout_s=0.1)
    assert all(_state(w) != "T" for w in workers)

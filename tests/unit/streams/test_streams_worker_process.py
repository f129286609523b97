"""``greenwatch worker`` runs in a process image of the worker's own modules."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.settings import load_settings
from streams.worker_process import should_exec

ROOT = Path(__file__).resolve().parents[3]
NOT_THE_WORKERS = ("fastapi", "uvicorn", "pyarrow", "numpy", "apprise", "grafana_client")


def test_the_worker_image_imports_no_other_commands_modules() -> None:
    script = (
        "import sys, streams.worker_process, streams.worker; "
        f"print([m for m in {NOT_THE_WORKERS!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_worker_image_refuses_a_bad_registry_with_exit_2_and_its_reason(
    tmp_path: Path,
) -> None:
    options = {
        "tuning": {},
        "metrics_port": 0,
        "loglevel": "warning",
        "registry_file": str(tmp_path / "missing.yaml"),
        "registry_wait_s": 0.0,
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams.worker_process", json.dumps(options)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("worker: ") and "missing.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_worker_called_in_process_is_not_re_executed() -> None:
    assert not should_exec(load_settings())


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _forks(pid: int) -> list[int]:
    """``pid``'s children forked from its current image and still in it 0.3 s later (the
    registry reader), not the programs its imports run (``file``, between fork and exec)."""

    def forks() -> set[int]:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(c) for c in children if _cmdline(int(c)) == _cmdline(pid)}

    first = forks()
    if not first:
        return []
    time.sleep(0.3)
    return sorted(first & forks())


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture(params=["python -m greenwatch", "console script"])
def starting_worker(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[subprocess.Popen[str]]:
    """``greenwatch worker`` started as a command, held in its start: its registry file is a
    FIFO nobody writes, so its registry reader (a forked child) blocks on it."""
    fifo = tmp_path / "registry.yaml"
    os.mkfifo(fifo)
    launch = {"python -m greenwatch": [sys.executable, "-m", "greenwatch"],
              "console script": [str(Path(sys.executable).parent / "greenwatch")]}  # fmt: skip
    worker = subprocess.Popen(
        [*launch[request.param], "worker", "--registry", str(fifo)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not _forks(worker.pid):
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "no registry reader within 90 s"
            time.sleep(0.05)
        yield worker
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.communicate()


def test_every_way_of_starting_the_worker_command_runs_the_lean_image(
    starting_worker: subprocess.Popen[str],
) -> None:
    command = _cmdline(starting_worker.pid).split(b"\0")
    assert command[1:3] == [b"-m", b"streams.worker_process"]


def test_a_worker_told_to_stop_while_it_reads_its_registry_exits_0_and_leaves_nothing(
    starting_worker: subprocess.Popen[str],
) -> None:
    [reader] = _forks(starting_worker.pid)
    starting_worker.send_signal(signal.SIGTERM)
    _, stderr = starting_worker.communicate(timeout=20)  # the reader held the pipes open
    assert starting_worker.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert not Path(f"/proc/{reader}").exists() or _state(reader) == "Z"

"""Process and port helpers for the local stack: pid files, liveness, ports, stopping.

Linux only (reads ``/proc``). Nothing here knows about Kafka or PostgreSQL.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

Notify = Callable[[str], None]


def read_pid(pid_file: Path) -> int | None:
    """The pid stored on the first line of ``pid_file``, or None if absent or unreadable."""
    try:
        first = pid_file.read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def command_line(pid: int) -> list[str] | None:
    """Arguments of running process ``pid`` (from /proc), or None if it does not exist.

    A process in the middle of ``execve`` (the java launcher re-executes itself at start)
    shows an empty command line for a moment: read again for up to ~0.5 s before calling
    it gone, so a broker that just started is never taken for a stale pid.
    """
    for _ in range(50):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if raw:
            return raw.rstrip(b"\0").decode(errors="replace").split("\0")
        if _is_zombie(pid):
            return None
        time.sleep(0.01)
    return None  # a kernel thread


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in {"Z", "X"}


def is_running(pid: int, *markers: str) -> bool:
    """True if ``pid`` is alive and every marker occurs in its command line."""
    args = command_line(pid)
    if args is None:
        return False
    joined = " ".join(args)
    return all(marker in joined for marker in markers)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on ``host:port`` (a bind probe; TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def port_answers(port: int, host: str = "127.0.0.1", timeout_s: float = 0.5) -> bool:
    """True if a TCP connection to ``host:port`` succeeds within ``timeout_s`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_answers(url: str, timeout_s: float = 1.0) -> bool:
    """True if an HTTP GET of ``url`` gets an answer (any status) within ``timeout_s``."""
    try:
        httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return True


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.25) -> bool:
    """Call ``predicate`` every ``interval_s`` until it returns True or ``timeout_s`` passes.

    Blocks; returns the last result (False on timeout).
    """
    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_fixed(interval_s),
        retry=retry_if_result(lambda ok: not ok),
        retry_error_callback=lambda state: False,
        reraise=False,
    )
    return bool(retrying(predicate))


def terminate(pid: int, timeout_s: float) -> bool:
    """Send SIGTERM to process group/process ``pid``, wait up to ``timeout_s``, then SIGKILL.

    Blocks. Returns True if the process is gone (it was ours to stop: started in its own session,
    so its pid is also its process group id).
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_until(lambda: not _alive(pid), timeout_s):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return wait_until(lambda: not _alive(pid), 5.0)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie; reaps it if it is our child."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return command_line(pid) is not None


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file, or "" if it cannot be read."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16_384))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])

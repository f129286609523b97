"""``tests/services.wait_for_http``, the one "wait until a started HTTP service answers" of the
tests (the audit API's and the energy API's harnesses use it), against real processes on
127.0.0.1: Python's own HTTP server, and a service that dies before it listens."""

from __future__ import annotations

import subprocess
import sys

import pytest

try:
    from services import free_port, wait_for_http
except ImportError:  # pragma: no cover
    from tests.services import free_port, wait_for_http


def test_returns_once_the_service_answers() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", server, timeout_s=30)
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_service_that_dies_first_fails_with_its_stderr() -> None:
    dying = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.exit('config error: no database')"],
        stderr=subprocess.PIPE,
        text=True,
    )
    with pytest.raises(AssertionError, match=r"exit 1\).*config error: no database"):
        wait_for_http(f"http://127.0.0.1:{free_port()}/", dying, timeout_s=30)


def test_a_service_that_never_answers_is_killed_at_the_deadline() -> None:
    silent = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], stderr=subprocess.PIPE, text=True
    )
    with pytest.raises(AssertionError, match="did not answer"):
        wait_for_http(f"http://127.0.0.1:{free_port()}/", silent, timeout_s=0.5)
    assert silent.returncode is not None

"""Whether this process is the ``greenwatch`` command run from its own command line.

Set by the command's entry point (``greenwatch.cli.app`` called with no arguments: the console
script, ``python -m greenwatch``, and so every launch of ``greenwatch worker`` by the demo, CI
and the tests' subprocesses), never by an in-process call (a test's ``CliRunner``, a caller
passing its own arguments). ``streams.worker_process.should_exec`` reads it: only such a
process may re-execute itself, since only its ``sys.argv`` is the command it runs.
"""

from __future__ import annotations

_STATE = {"from_command_line": False}


def mark_command_line() -> None:
    """Record that this process runs the command its ``sys.argv`` gives (entry point only)."""
    _STATE["from_command_line"] = True


def runs_command_line() -> bool:
    """True once ``mark_command_line`` was called in this process."""
    return _STATE["from_command_line"]

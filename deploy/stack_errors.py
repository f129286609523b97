"""Errors of the local stack (``deploy.stack`` and its services).

Hierarchy::

    StackError                      every failure of `greenwatch stack ...` (a DeployError)
    ├── MissingDependency           a binary or the Kafka jars are absent (run `make install`)
    ├── PortInUse                   a port the stack needs is held by a process that is not ours
    ├── ServiceStartFailed          a service exited or did not answer before its deadline
    └── ServiceStopFailed           a service did not stop before its deadline

Every error carries the data a user needs (service, port, log file) and a ready message.
"""

from __future__ import annotations

from pathlib import Path

from deploy.errors import DeployError


class StackError(DeployError):
    """Root of the local stack's errors."""


class MissingDependency(StackError):
    """Something `make install` provides is absent (``what``), with the fix in ``hint``."""

    def __init__(self, what: str, hint: str) -> None:
        self.what = what
        self.hint = hint
        super().__init__(f"{what} is missing: {hint}")


class PortInUse(StackError):
    """``port`` is already bound by a process the stack did not start."""

    def __init__(self, service: str, port: int, setting: str) -> None:
        self.service = service
        self.port = port
        self.setting = setting
        super().__init__(
            f"{service}: port 127.0.0.1:{port} is already in use by a process that is not "
            f"the local stack's; stop it or choose another port with {setting}=<port>"
        )


class ServiceStartFailed(StackError):
    """``service`` did not become healthy; ``log_file`` says why, ``log_tail`` is its end."""

    def __init__(self, service: str, reason: str, log_file: Path, log_tail: str = "") -> None:
        self.service = service
        self.reason = reason
        self.log_file = log_file
        self.log_tail = log_tail
        message = f"{service}: {reason}; see {log_file}"
        if log_tail:
            message += f"\n--- last lines of {log_file} ---\n{log_tail}"
        super().__init__(message)


class ServiceStopFailed(StackError):
    """``service`` (process ``pid``) was still running after its stop deadline."""

    def __init__(self, service: str, pid: int, log_file: Path) -> None:
        self.service = service
        self.pid = pid
        self.log_file = log_file
        super().__init__(f"{service}: process {pid} did not stop; see {log_file}")

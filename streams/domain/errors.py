"""Errors of the stream domain core.

Hierarchy (one root for the package)::

    StreamsError                root of the streams package; catch this to catch everything
    ├── StreamsDomainError      everything streams.domain raises
    │   └── NormalizeError      a decoded HJ 212 packet cannot become measurements;
    │                           carries a stable ``NormalizeReason``
    └── WorkerError             the worker cannot start (streams.worker)

Callers branch on ``NormalizeError.reason``, never on message text. Messages name fields and
codes, never passwords, so they may go to logs and the dead-letter topic as they are.
"""

from __future__ import annotations

from enum import StrEnum


class NormalizeReason(StrEnum):
    """Why a packet was refused by ``normalize_packet``. Values are stable (logs, metrics)."""

    UNKNOWN_DEVICE = "unknown_device"
    """The packet's MN is not in the registry."""
    MISSING_DATA_TIME = "missing_data_time"
    """A measurement command (2011/2051/2061/2031) without a readable ``DataTime``."""


class StreamsError(Exception):
    """Root of every error the ``streams`` package raises (here, in its purest module, so
    the domain core depends on nothing above it)."""


class StreamsDomainError(StreamsError):
    """Root of every error the stream domain core raises."""


class NormalizeError(StreamsDomainError):
    """A packet cannot be normalized; ``reason`` is stable, ``message`` for people.

    ``mn`` is the device id of the packet (for counting and dead-letter routing).
    """

    def __init__(self, reason: NormalizeReason, message: str, mn: str | None = None) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
        self.mn = mn

    def __reduce__(
        self,
    ) -> tuple[type[NormalizeError], tuple[NormalizeReason, str, str | None]]:
        return (NormalizeError, (self.reason, self.message, self.mn))

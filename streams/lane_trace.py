"""A per-batch timeline of the worker's commit lane, for measuring where a batch waits.

Off unless ``GREENWATCH_LANE_TRACE`` names a file (``{pid}`` in it becomes the process id, so
several workers write apart): then every step of every batch appends one
line ``<perf_counter seconds> <thread> <batch> <step>`` to it (steps: ``taken``, the agent
handed the batch to the lane; ``prepare``/``prepared``; ``read_wait``/``read_go``, a prepare
waiting for the batch before's COMMIT to read the store; ``commit``/``committed``, the
sink's transaction; ``published``; ``acked``; ``returned``, the lane gave the agent back).
Debugging aid only (docs/perf.md "Seventh slice (deep)"): the file is written from the
event loop and the executor threads under a lock, unbuffered per line, never rotated.
"""

from __future__ import annotations

import os
import threading
import time
from typing import IO, Final

ENV: Final = "GREENWATCH_LANE_TRACE"


class LaneTrace:
    """Appends timeline lines to ``path``; ``None`` path: does nothing (the default)."""

    __slots__ = ("_file", "_lock")

    def __init__(self, path: str | None) -> None:
        self._file: IO[str] | None = open(path, "a", buffering=1) if path else None  # noqa: SIM115
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> LaneTrace:
        """The trace ``GREENWATCH_LANE_TRACE`` asks for (off when unset or empty)."""
        path = os.environ.get(ENV) or None
        return cls(path.replace("{pid}", str(os.getpid())) if path else None)

    @property
    def on(self) -> bool:
        return self._file is not None

    def mark(self, batch: int, step: str) -> None:
        """Record that ``batch`` reached ``step`` now (a no-op when the trace is off)."""
        if self._file is None:
            return
        line = f"{time.perf_counter():.6f} {threading.current_thread().name} {batch} {step}\n"
        with self._lock:
            self._file.write(line)


OFF: Final = LaneTrace(None)
"""The trace that records nothing."""

"""The raw agent's take: batches by size while the worker is busy, at once when quiet.

faust's ``noack_take(n, within)`` waits for ``n`` messages or ``within`` seconds counted from
the end of the previous batch, and adds nothing to its buffer while the agent processes a
batch. So a lone frame that closes an hour waited up to ``within`` (0.25 s) before anything
looked at it: the largest share of the p99 event → verdict latency at 5 000 measurements/s
(docs/perf.md "Fourth slice"). ``ChunkTake`` instead:

- keeps filling its buffer (up to ``max_``, then ``put`` waits: backpressure, nothing
  dropped) while the agent prepares and commits the batch before, so a busy worker gets a
  batch of everything that arrived meanwhile, up to ``max_`` (batching by size);
- hands a batch over as soon as the agent asks for one and its first message has waited
  ``linger_s`` (or the buffer is full); a quiet stream's lone frame waits at most
  ``linger_s``, not a whole window.

Records come in one at a time by ``offer``/``put`` (the raw topic's conductor callback,
``streams.chunk``: no faust ``Event``, stream queue or per-record drainer) and go out a batch
at a time by ``batches``: the agent is woken once per batch, not per record. It never acks
(the agent acks after the database commit and the publication, ``streams.agents``).
``clear`` drops what is buffered (a rebalance: those records were not handed to the agent,
so nothing acks them and they are read again from the committed offset). ``TakeBuffer`` is
the pure part (bounded list, arrival time of the first message, clock passed in).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from streams.metrics import StreamMetrics


class TakeBuffer:
    """Events waiting for the agent, at most ``max_``; ``first_at``: when the oldest came."""

    __slots__ = ("events", "first_at", "max_")

    def __init__(self, max_: int) -> None:
        self.max_ = max_
        self.events: list[Any] = []
        self.first_at = 0.0

    @property
    def full(self) -> bool:
        return len(self.events) >= self.max_

    def add(self, event: Any, now: float) -> None:
        """Append ``event`` (arrived at ``now``); call only when not ``full``."""
        if not self.events:
            self.first_at = now
        self.events.append(event)

    def due(self, now: float, linger_s: float) -> bool:
        """Whether the agent should get the batch at ``now``: full, or its first message
        waited ``linger_s``."""
        return bool(self.events) and (self.full or now - self.first_at >= linger_s)

    def take(self) -> list[Any]:
        """Every waiting event, oldest first; the buffer is empty after."""
        taken, self.events = self.events, []
        return taken


class ChunkTake:
    """Records handed in one by one, handed to the agent as batches (module docstring).

    Runs on the event loop only. ``offer`` and ``put`` are called by the producer of records
    (one at a time, in order), ``batches`` by the one agent; observes each batch's
    ``take_wait`` (its first record's wait, seconds) in ``metrics``.
    """

    __slots__ = (
        "__weakref__",
        "_arrived",
        "_clock",
        "_filled",
        "_linger_s",
        "_metrics",
        "_room",
        "buffer",
    )

    def __init__(
        self,
        max_: int,
        linger_s: float,
        metrics: StreamMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.buffer = TakeBuffer(max_)
        self._linger_s = linger_s
        self._metrics = metrics
        self._clock = clock
        self._arrived = asyncio.Event()  # the buffer is not empty
        self._filled = asyncio.Event()  # the buffer is full
        self._room = asyncio.Event()  # the agent took the buffer
        self._room.set()

    def offer(self, record: Any) -> bool:
        """Buffer ``record`` unless the buffer is full; whether it was buffered. Never waits."""
        buffer = self.buffer
        if buffer.full:
            return False
        buffer.add(record, self._clock())
        self._arrived.set()
        if buffer.full:
            self._filled.set()
        return True

    async def put(self, record: Any) -> None:
        """Buffer ``record``, waiting while the buffer is full (until the agent takes it)."""
        while not self.offer(record):
            self._room.clear()
            await self._room.wait()

    def clear(self) -> None:
        """Drop every buffered record (not handed to the agent: nobody acks them)."""
        self.buffer.take()
        self._arrived.clear()
        self._filled.clear()
        self._room.set()

    async def batches(self) -> AsyncIterator[list[Any]]:
        """The batches, oldest first, each at most ``max_`` records; runs until cancelled."""
        buffer, clock, linger_s = self.buffer, self._clock, self._linger_s
        while True:
            now = clock()
            if buffer.due(now, linger_s):
                if self._metrics is not None:
                    wait = now - buffer.first_at
                    self._metrics.stage_seconds.labels("take_wait").observe(wait)
                batch = buffer.take()
                self._arrived.clear()
                self._filled.clear()
                self._room.set()
                yield batch
            elif buffer.events:  # the first record has not waited linger_s yet
                remaining = linger_s - (now - buffer.first_at)
                try:
                    async with asyncio.timeout(remaining):
                        await self._filled.wait()
                except TimeoutError:
                    pass
            else:
                await self._arrived.wait()

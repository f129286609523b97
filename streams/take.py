"""The raw agent's take buffer: batches by size while the worker is busy, at once when quiet.

faust's ``noack_take(n, within)`` waits for ``n`` messages or ``within`` seconds counted from
the end of the previous batch, and adds nothing to its buffer while the agent processes a
batch. So a lone frame that closes an hour waited up to ``within`` (0.25 s) before anything
looked at it: the largest share of the p99 event → verdict latency at 5 000 measurements/s
(docs/perf.md "Fourth slice"). ``adaptive_take`` instead:

- keeps filling its buffer (up to ``max_``, then the stream waits: backpressure, nothing
  dropped) while the agent prepares and commits the batch before, so a busy worker gets a
  batch of everything that arrived meanwhile, up to ``max_`` (batching by size);
- hands a batch over as soon as the agent asks for one and its first message has waited
  ``linger_s`` (or the buffer is full); a quiet stream's lone frame waits at most
  ``linger_s``, not a whole window.

Like ``noack_take`` it never acks (the agent acks after the database commit and the
publication, ``streams.agents``) and yields the faust events themselves, in arrival order.
``TakeBuffer`` is the pure part (bounded list, arrival time of the first message, clock
passed in); ``adaptive_take`` wires it to a faust stream with the same private hooks
``noack_take`` uses (``add_processor``, ``_enable_passive``) on faust-streaming 0.15.
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


async def adaptive_take(
    stream: Any,
    max_: int,
    linger_s: float,
    metrics: StreamMetrics | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[list[Any]]:
    """Batches of ``stream``'s events (see the module docstring); ends when the stream stops.

    Observes each batch's ``take_wait`` (its first message's wait) in ``metrics``.
    """
    buffer = TakeBuffer(max_)
    arrived = asyncio.Event()  # the buffer is not empty
    filled = asyncio.Event()  # the buffer is full
    room = asyncio.Event()  # the agent took the buffer
    room.set()

    async def add_to_buffer(value: Any) -> Any:
        while buffer.full and not stream.should_stop:
            room.clear()
            await stream.wait(room)
        buffer.add(stream.current_event, clock())
        arrived.set()
        if buffer.full:
            filled.set()
        return value

    previous_acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    stream._enable_passive(stream.channel.__aiter__())
    try:
        while not stream.should_stop:
            now = clock()
            if buffer.due(now, linger_s):
                if metrics is not None:
                    metrics.stage_seconds.labels("take_wait").observe(now - buffer.first_at)
                batch = buffer.take()
                arrived.clear()
                filled.clear()
                room.set()
                yield batch
            elif buffer.events:  # the first message has not waited linger_s yet
                remaining = linger_s - (now - buffer.first_at)
                await stream.wait_for_stopped(filled, timeout=remaining)
            else:
                await stream.wait_for_stopped(arrived, timeout=1.0)
    finally:
        stream.enable_acks = previous_acks
        stream._processors.remove(add_to_buffer)

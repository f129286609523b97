"""The raw agent's take buffer (``streams.take``, issue 15 p99 slice): a quiet stream's lone
frame is handed over after the short linger, not a whole window; while the agent works on a
batch the buffer keeps filling, so the next batch is everything that arrived meanwhile (a
busy worker batches by size); a full buffer makes the stream wait (nothing dropped, no
batch larger than its maximum); nothing is acked by the take."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from streams.take import TakeBuffer, adaptive_take


class FakeStream:
    """What ``adaptive_take`` uses of a faust stream; ``deliver`` is faust's passive
    consumption of one event (the processors run with ``current_event`` set)."""

    def __init__(self) -> None:
        self.enable_acks = True
        self.should_stop = False
        self.current_event: Any = None
        self._processors: list[Callable[[Any], Awaitable[Any]]] = []
        self.channel = self
        self.passive = False

    def __aiter__(self) -> FakeStream:
        return self

    def add_processor(self, processor: Callable[[Any], Awaitable[Any]]) -> None:
        self._processors.append(processor)

    def _enable_passive(self, channel: Any) -> None:
        self.passive = True

    async def wait(self, event: asyncio.Event) -> None:
        await event.wait()

    async def wait_for_stopped(self, event: asyncio.Event, timeout: float | None = None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def deliver(self, event: Any) -> None:
        self.current_event = event
        for processor in self._processors:
            await processor(event)


def test_the_buffer_is_due_when_full_or_when_its_first_message_waited() -> None:
    buffer = TakeBuffer(3)
    assert not buffer.due(10.0, 0.02)
    buffer.add("a", 10.0)
    buffer.add("b", 10.015)
    assert not buffer.due(10.019, 0.02)
    assert buffer.due(10.025, 0.02)
    buffer.add("c", 10.019)
    assert buffer.full and buffer.due(10.019, 0.02)
    assert buffer.take() == ["a", "b", "c"] and buffer.events == []


async def _next(batches: Any) -> list[Any]:
    return list(await asyncio.wait_for(batches.__anext__(), 5))


@pytest.mark.parametrize("linger_s", [0.0, 0.01])
def test_a_lone_frame_is_handed_over_after_the_linger(linger_s: float) -> None:
    async def scenario() -> None:
        stream = FakeStream()
        batches = adaptive_take(stream, 100, linger_s)
        first = asyncio.ensure_future(_next(batches))
        await asyncio.sleep(0.01)
        assert stream.passive and not stream.enable_acks
        await stream.deliver("closing-frame")
        assert await first == ["closing-frame"]
        await batches.aclose()
        assert stream.enable_acks and stream._processors == []

    asyncio.run(scenario())


def test_the_buffer_fills_while_the_agent_works_and_waits_when_full() -> None:
    async def scenario() -> None:
        stream = FakeStream()
        batches = adaptive_take(stream, 3, 0.0)
        first = asyncio.ensure_future(_next(batches))
        await asyncio.sleep(0.01)
        await stream.deliver(1)
        assert await first == [1]
        # the agent is busy with batch [1]: the next messages are buffered meanwhile
        await stream.deliver(2)
        await stream.deliver(3)
        await stream.deliver(4)
        fifth = asyncio.ensure_future(stream.deliver(5))  # the buffer is full: it waits
        await asyncio.sleep(0.01)
        assert not fifth.done()
        assert await _next(batches) == [2, 3, 4]
        await asyncio.wait_for(fifth, 5)
        assert await _next(batches) == [5]
        await batches.aclose()

    asyncio.run(scenario())

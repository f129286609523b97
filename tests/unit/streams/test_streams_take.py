"""The raw agent's take (``streams.take``, issue 15 p99 and chunk slices): a quiet stream's
lone frame is handed over after the short linger, not a whole window; while the agent works
on a batch the buffer keeps filling, so the next batch is everything that arrived meanwhile
(a busy worker batches by size); a full buffer makes the producer of records wait (nothing
dropped, no batch larger than its maximum); the agent is woken once per batch, not per
record; a cleared take (a rebalance) hands nothing of what it held to the agent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.take import ChunkTake, TakeBuffer


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
        take = ChunkTake(100, linger_s)
        batches = take.batches()
        first = asyncio.ensure_future(_next(batches))
        await asyncio.sleep(0.01)
        assert not first.done()
        await take.put("closing-frame")
        assert await first == ["closing-frame"]
        await batches.aclose()

    asyncio.run(scenario())


def test_the_buffer_fills_while_the_agent_works_and_waits_when_full() -> None:
    async def scenario() -> None:
        take = ChunkTake(3, 0.0)
        batches = take.batches()
        first = asyncio.ensure_future(_next(batches))
        await asyncio.sleep(0.01)
        await take.put(1)
        assert await first == [1]
        # the agent is busy with batch [1]: the next records are buffered meanwhile
        assert take.offer(2) and take.offer(3)
        await take.put(4)
        assert not take.offer(5), "a full take refuses without waiting"
        fifth = asyncio.ensure_future(take.put(5))  # the buffer is full: it waits
        await asyncio.sleep(0.01)
        assert not fifth.done()
        assert await _next(batches) == [2, 3, 4]
        await asyncio.wait_for(fifth, 5)
        assert await _next(batches) == [5]
        await batches.aclose()

    asyncio.run(scenario())


def test_a_partial_batch_waits_for_the_linger_or_a_full_buffer() -> None:
    async def scenario() -> None:
        now = [100.0]
        take = ChunkTake(4, 0.05, clock=lambda: now[0])
        batches = take.batches()
        nxt = asyncio.ensure_future(_next(batches))
        await asyncio.sleep(0.01)
        for record in range(3):
            assert take.offer(record)
        await asyncio.sleep(0.08)
        assert not nxt.done(), "the first record has not waited the linger (clock stands)"
        take.offer(3)  # the fourth fills the take: handed over at once, linger or not
        assert await nxt == [0, 1, 2, 3]
        take.offer(4)
        now[0] += 0.06  # the lone record waited the linger
        assert await _next(batches) == [4]
        await batches.aclose()

    asyncio.run(scenario())


def test_a_cleared_take_hands_nothing_of_what_it_held_and_makes_room() -> None:
    async def scenario() -> None:
        take = ChunkTake(2, 0.0)
        take.offer("old-1")
        take.offer("old-2")
        waiting = asyncio.ensure_future(take.put("new-1"))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        take.clear()  # a rebalance: the buffered records are dropped, unacked
        await asyncio.wait_for(waiting, 5)
        batches = take.batches()
        assert await _next(batches) == ["new-1"]
        await batches.aclose()

    asyncio.run(scenario())

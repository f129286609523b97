"""faust's fetch loop without four asyncio tasks per Kafka record.

faust-streaming's ``Consumer._drain_messages`` hands every fetched record to the conductor
with ``await self.wait_first(callback(message), self.suspend_flow.wait())``: mode's
``wait_first`` wraps the callback, the flow-suspension event and the service's stopped and
crashed events in four tasks, runs ``asyncio.wait`` over them and cancels the losers, for
every record. In the one-worker drain that was ~20 % of the event-loop thread's samples
(docs/perf.md "Fifth slice (loop)"), while the callback (find the partition's channels,
decode the raw bytes, put the event in the stream's queue) almost never waits.

``LeanConsumer`` keeps faust's loop and overrides only ``wait_first``: it first steps the
awaited coroutine itself (``first_step``); when that finishes without waiting (the stream's
queue had room, the flow was not suspended) nothing else is created, and the other awaitables
(the suspension event's unstarted ``wait()``) are closed; when it has to wait, the rest of it
goes through mode's ``wait_first`` exactly as before (``resume``), so suspending the flow
during a rebalance or stopping the service abandons it as faust does. Records, their order,
read offsets, gaps and the commit-every rule are faust's own code.

``LeanTransport`` is faust's aiokafka transport with this consumer (and the conductor of
``streams.chunk``); ``streams.app`` builds the worker's App with it. Written against
faust-streaming 0.15 (``deploy/constraints.txt`` pins it);
``tests/unit/streams/test_streams_fetch.py`` checks the loop on a real faust consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from types import CoroutineType
from typing import Any, ClassVar, cast

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.transports import ConductorT, ConsumerT
from mode import Service
from mode.services import WaitResults

from streams.chunk import ChunkConductor


class Suspended(Exception):
    """Internal: ``first_step`` stopped at an await; carries what the coroutine yielded."""


def first_step(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run ``coro`` on the calling (event-loop) thread up to its first real wait.

    Returns ``(True, result)`` when it finished without waiting, else ``(False, yielded)``:
    what it yielded to the event loop (a future, or None for a bare ``sleep(0)``), to be
    passed to ``resume``. Exceptions of ``coro`` propagate.
    """
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, yielded


async def resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Go on running ``coro`` from where ``first_step`` left it (it had yielded ``yielded``),
    as an asyncio task would: wait for the future it waits for, then send it on; a cancel
    is thrown into it. Returns its result."""
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                await _Waiting(yielded)
        except BaseException as error:  # handed to the coroutine, as a Task does
            try:
                yielded = coro.throw(error)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


class _Waiting:
    """Awaits the future a suspended coroutine yielded (its result is read by the coroutine
    itself when it is sent on, as ``Future.__await__`` does)."""

    __slots__ = ("future",)

    def __init__(self, future: Any) -> None:
        self.future = future

    def __await__(self) -> Generator[Any, None, None]:
        future = self.future
        if not future.done():
            yield future


class LeanConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer whose ``wait_first`` steps the awaited coroutine first.

    faust's fetch loop (``Consumer._drain_messages``, unchanged) delivers each record with
    ``await self.wait_first(callback(message), self.suspend_flow.wait())``. When the first
    argument is a coroutine that finishes without waiting, and neither the flow is suspended
    nor the service stopping or crashed, this returns what mode's ``wait_first`` returns
    for it (that coroutine the winner, its result, not stopped) and closes the others
    unstarted; otherwise mode's ``wait_first`` runs as before, with the stepped coroutine
    resumed where it stopped (``resume``).
    """

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        first = coros[0] if coros else None
        if type(first) is not CoroutineType or self._slow_path_needed():
            return await super().wait_first(*coros, timeout=timeout)
        finished, yielded = first_step(first)
        if finished:
            for other in coros[1:]:
                if type(other) is CoroutineType:
                    other.close()  # never started: nothing to unwind, no "never awaited"
            return WaitResults([first], [yielded], False)
        return await super().wait_first(resume(first, yielded), *coros[1:], timeout=timeout)

    def _slow_path_needed(self) -> bool:
        """The flow is suspended or the service stopping: then mode's ``wait_first`` decides
        at once, as faust does, whether the record is delivered."""
        service = cast(Service, self)
        return bool(
            self.suspend_flow.is_set() or service._stopped.is_set() or service._crashed.is_set()
        )


class LeanTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport whose consumer is ``LeanConsumer`` and whose conductor is
    ``streams.chunk.ChunkConductor`` (the raw topic's records go to the agent's take)."""

    Consumer: ClassVar[type[ConsumerT]] = LeanConsumer
    Conductor: ClassVar[type[ConductorT]] = ChunkConductor

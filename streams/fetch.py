"""faust's fetch loop without four asyncio tasks per Kafka record.

faust-streaming's ``Consumer._drain_messages`` hands every fetched record to the conductor
with ``await self.wait_first(callback(message), self.suspend_flow.wait())``: mode's
``wait_first`` wraps the callback, the flow-suspension event and the service's stopped and
crashed events in four tasks, runs ``asyncio.wait`` over them and cancels the losers, for
every record. In the one-worker drain that was ~20 % of the event-loop thread's samples
(docs/perf.md "Fifth slice (loop)"), while the callback (find the partition's channels,
decode the raw bytes, put the event in the stream's queue) almost never waits.

``LeanConsumer`` runs the same loop, but first steps the callback itself
(``first_step``): when it finishes without waiting (its queue had room, the flow was not
suspended, the producer buffer was not full) nothing else is created; when it has to wait,
the rest of it goes through ``wait_first`` exactly as before (``resume``), so suspending the
flow during a rebalance or stopping the service abandons it as faust does. Records, their
order, read offsets, gaps and the commit-every rule are faust's, line for line.

``LeanTransport`` is faust's aiokafka transport with this consumer; ``streams.app`` builds the
worker's App with it. Written against faust-streaming 0.15 (``deploy/constraints.txt`` pins
it); ``tests/unit/streams/test_streams_fetch.py`` checks the loop on a real faust consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Generator
from types import CoroutineType
from typing import Any, ClassVar, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.transports import ConsumerT
from mode import Service


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
    """faust's aiokafka consumer whose fetch loop steps each record's callback itself."""

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - see the test
        # faust.transport.consumer.Consumer._drain_messages (0.15), with the callback's
        # first step taken here instead of in wait_first's four tasks.
        callback = self.callback
        getmany = self.getmany
        service = cast(Service, self)
        consumer_should_stop = service._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        slow_path_needed = self._slow_path_needed

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = cast(AsyncIterator[Any], getmany(timeout=1.0))
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            delivery = callback(message)
                            if type(delivery) is CoroutineType and not slow_path_needed():
                                finished, yielded = first_step(delivery)
                                if not finished:
                                    await self.wait_first(
                                        resume(delivery, yielded), self.suspend_flow.wait()
                                    )
                            else:
                                await self.wait_first(delivery, self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev("DROPPED MESSAGE ROFF %r", offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

    def _slow_path_needed(self) -> bool:
        """The flow is suspended or the service stopping: then ``wait_first`` decides at once,
        as faust does, whether the record is delivered."""
        service = cast(Service, self)
        return bool(
            self.suspend_flow.is_set() or service._stopped.is_set() or service._crashed.is_set()
        )


class LeanTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport whose consumer is ``LeanConsumer``."""

    Consumer: ClassVar[type[ConsumerT]] = LeanConsumer

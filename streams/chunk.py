"""The raw topic's records from faust's fetch loop straight to the agent's take, in chunks.

On faust's own path every raw record became a faust ``Event`` in the conductor's callback
(``ConductorHandler``: decode with the raw serializers, put in the stream's queue, flow and
producer-buffer checks), was taken out again by the stream's passive drainer task (queue get,
sensors, the take's processor) and acked one by one through ``stream.ack``: ~30 µs of the
event-loop thread per raw record and several task wake-ups between the fetch loop, the
drainer and the agent (docs/perf.md "Fifth slice (loop)").

``ChunkConductor`` is faust's conductor that hands the records of a routed topic to a
callback of its own instead (``route``; the topic must have that one subscriber).
``RawChunks.on_message`` is that callback for the raw topic: it keeps what faust's handler
and stream did that matters here and nothing else:

- it waits while the app's flow is suspended (a rebalance) and while the producer's buffer
  is over its limit, as faust's handler does; a record fetched before the rebalance (another
  consumer generation) is dropped, as faust's stream skips it (not acked: it is read again
  from the committed offset);
- it records when the partition's stream last took a record (``Monitor.stream_inbound_time``,
  read by faust's "stream idle" check) and puts the ``ConsumerMessage`` itself into the
  ``ChunkTake``, waiting while that is full (so faust's fetch loop waits: backpressure);
- the agent gets the messages a batch at a time (``batches``), each checked against the
  consumer generation again when it is taken: a ``put`` that waited for room across a
  rebalance buffers its record after the take was cleared, so a record of the generation
  before can sit in the take; it is dropped there (unacked, read again by the partition's
  owner); ``track`` registers the rest with faust's consumer as pending
  (``Consumer.unacked``, what ``wait_empty`` waits for at a rebalance and a stop) when the
  agent takes them, and ``ack`` acks them through ``Consumer.ack`` after the
  commit (the bookkeeping ``Event.ack`` → ``Message.ack`` ends in; faust's commit timer
  commits the offset after the longest run of acked messages);
- the take is cleared with faust's stream queues (``FlowControlEvent.clear`` at a
  rebalance): records buffered but not taken are never acked by this worker.

Written against faust-streaming 0.15 (``deploy/constraints.txt`` pins it): the private hook
is ``Conductor._build_handler``; ``tests/unit/streams/test_streams_chunk.py`` pins it on a
real faust app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, MutableSet
from time import monotonic
from typing import Any

from faust.exceptions import ImproperlyConfigured
from faust.transport.conductor import Conductor
from faust.types import TP, AppT
from faust.types.transports import ConsumerCallback

from streams.take import ChunkTake


class ChunkConductor(Conductor):
    """faust's conductor; records of a ``route``d topic go to that route's callback."""

    def __init__(self, app: AppT, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._routes: dict[str, ConsumerCallback] = {}

    def _compile_message_handler(self) -> ConsumerCallback:
        """faust's per-record entry (``Consumer.callback``): the partition's handler, looked
        up under the lock that ``_update_indices`` holds while it rebuilds the map; when the
        lock is free (always, but while resubscribing) it is looked up without the three
        coroutines of ``async with``, which cannot yield on a free lock anyway."""
        handlers = self._tp_to_callback
        lock = self._tp_to_callback_lock
        faust_on_message = super()._compile_message_handler()

        async def on_message(message: Any) -> None:
            if lock.locked():
                await faust_on_message(message)
            else:
                await handlers[message.tp](message)

        return on_message

    def route(self, topic: str, callback: ConsumerCallback) -> None:
        """Hand every record of ``topic`` to ``callback`` (from the next assignment on).

        Call before the worker subscribes; ``topic`` must then have exactly one subscriber
        (the agent that reads what ``callback`` buffers), else the assignment fails.
        """
        self._routes[topic] = callback

    def _build_handler(self, tp: TP, channels: MutableSet[Any]) -> ConsumerCallback:
        callback = self._routes.get(tp.topic)
        if callback is None:
            return super()._build_handler(tp, channels)
        if len(channels) != 1:
            raise ImproperlyConfigured(
                f"topic {tp.topic!r} is routed to one agent but has {len(channels)} subscribers"
            )
        return callback


class RawChunks:
    """The raw topic's conductor callback and the acking of what the agent took (module
    docstring). Event loop only."""

    def __init__(self, app: AppT, take: ChunkTake) -> None:
        self.take = take
        self._app = app
        self._flow_control = app.flow_control
        self._flow_control.manage_queue(take)  # type: ignore[arg-type]  # cleared at a rebalance
        self._inbound: dict[TP, float] = {}
        self._producer_buffer: Any = None
        self._pending: Any = None

    def subscribe(self, topic: Any) -> None:
        """Route the records of faust ``topic`` here and subscribe the worker to it."""
        app = self._app
        conductor = app.topics
        if not isinstance(conductor, ChunkConductor):
            raise ImproperlyConfigured("the app's transport has no ChunkConductor")
        self._producer_buffer = app.producer.buffer
        if not app.conf.producer_threaded:  # the queue ``ProducerBuffer.size`` counts
            self._pending = self._producer_buffer.pending._queue
        if app.monitor is not None:
            self._inbound = app.monitor.stream_inbound_time
        for name in topic.topics:
            conductor.route(name, self.on_message)
        topic.__aiter__()  # faust's way to add a topic to the conductor's subscription

    async def on_message(self, message: Any) -> None:
        """Buffer one fetched record for the agent (faust's fetch loop awaits this)."""
        flow_control = self._flow_control
        if not flow_control.is_active():
            await flow_control.acquire()
        producer_buffer = self._producer_buffer
        # ``ProducerBuffer.size`` without its settings lookup per record
        pending = len(self._pending) if self._pending is not None else producer_buffer.size
        if pending > producer_buffer.max_messages:
            await producer_buffer.wait_until_ebb()
        if message.generation_id != self._app.consumer_generation_id:
            return  # fetched before a rebalance: read again from the committed offset
        self._inbound[message.tp] = monotonic()
        if not self.take.offer(message):
            await self.take.put(message)

    async def batches(self) -> AsyncIterator[list[Any]]:
        """The agent's batches (``ChunkTake.batches``), oldest first, runs until cancelled.

        Each batch keeps only the records of the consumer generation current when it is taken
        (a batch of none is skipped) and is registered as pending acks (``track``) before it
        is yielded.
        """
        app = self._app
        async for taken in self.take.batches():
            generation = app.consumer_generation_id
            messages = [m for m in taken if m.generation_id == generation]
            if messages:
                self.track(messages)
                yield messages

    def track(self, messages: Iterable[Any]) -> None:
        """Register ``messages`` (just taken by the agent) with faust's consumer as pending
        acks: a rebalance or a stop waits for them (``Consumer.wait_empty``)."""
        add_unacked: Callable[[Any], None] = self._app.consumer.unacked.add
        for message in messages:
            message.tracked = True
            add_unacked(message)

    def ack(self, messages: Iterable[Any]) -> None:
        """Ack ``messages`` through faust's consumer (their offsets become committable)."""
        ack = self._app.consumer.ack
        for message in messages:
            ack(message)

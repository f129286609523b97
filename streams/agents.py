"""The faust agent and timer of the stream worker: thin adapters around ``Pipeline``.

How "offsets committed only after the database commit" holds (docs/streams.md); these are the
steps of ``runtime.runner`` (consume → process → write → publish-and-await → commit) on
faust's producer, with the sink's commit before the publication (the outputs are re-derived
from the stored rows on a replay):

1. The agent reads the raw topic in batches of faust's ``ConsumerMessage``s handed straight
   from the fetch loop to its take (``streams.chunk``, ``streams.take``): nothing acks them
   but the agent, after step 3 (faust's ``take`` would ack a batch in a ``finally``, even one
   whose flush failed); each batch keeps, when the agent takes it, only the records of the
   current consumer generation (``RawChunks.batches``) and is registered with faust's
   consumer as pending acks, so a rebalance or a stop waits for it.
2. For each batch, ``Pipeline.prepare`` (decode, engine) runs in a thread, then the batch
   goes to the ``CommitLane``: ``Pipeline.commit`` returns only after the sink's transaction
   COMMITTED (it retries while PostgreSQL is unreachable; meanwhile the take fills and
   faust's fetch loop waits for room in it). Commits run one at a time in
   order; while one commits, the next batches are prepared, at most ``WorkerTuning.lane_depth``
   of them prepared and not yet committed (``CommitLane``).
3. The outputs are published and Kafka acknowledged them, then each message is acked
   (``Consumer.ack``, ``RawChunks.ack``). faust's commit timer commits, per partition, the
   offset after the longest run of acked messages; so a committed offset always follows
   committed rows and published outputs.
4. Any unexpected failure of a batch ends the process at once (exit code 70) without
   acking: the batch and everything after it are re-read from the last committed offset
   by the restarted worker (the kill -9 path), and the upserts make that harmless.

Published outputs (aggregates → ``hourly``, verdicts → ``verdicts`` with a ``revision``
header, quality signals → ``quality``, dead letters → ``deadletter``) are at least once: a
crash between the database commit and the offset commit re-publishes them. Consumers
deduplicate on the natural keys.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

import faust

from runtime.raw_record import Headers
from runtime.runner import Outgoing
from schemas.registry import Registry
from streams.app import StreamTopics, WorkerTuning
from streams.chunk import RawChunks
from streams.lane_trace import OFF, LaneTrace
from streams.metrics import StreamMetrics
from streams.pipeline import BatchOutcome, Pipeline, PreparedBatch, RawRecord
from streams.sink import SourcePosition
from streams.take import ChunkTake

log = logging.getLogger(__name__)

EXIT_BATCH_FAILED: Final = 70
"""Exit status of a worker that stopped because a batch failed (EX_SOFTWARE)."""
EXIT_STOPPED_UNFLUSHED: Final = 75
"""Exit status of a worker told to stop while its batch waited for the database
(EX_TEMPFAIL): the batch was not committed and is re-read by the next worker."""


def raw_record(message: Any) -> RawRecord:
    """The position, value, broker timestamp and headers of a faust message of the raw topic."""
    return RawRecord(
        position=SourcePosition(message.topic, message.partition, message.offset),
        value=message.value,
        timestamp=datetime.fromtimestamp(message.timestamp or 0.0, UTC),
        headers=_headers(message.headers),
    )


def prepare_messages(pipeline: Pipeline, messages: Sequence[Any]) -> PreparedBatch:
    """``Pipeline.prepare`` of a batch of raw-topic messages; runs in the lane's thread, so
    the ``RawRecord``s are built there rather than on the event loop. Blocks."""
    return pipeline.prepare([raw_record(message) for message in messages])


def _headers(headers: Any) -> Headers:
    """A faust message's headers (a list of pairs, a mapping, or None) as a tuple of pairs.

    aiokafka already hands a tuple of ``(str, bytes)`` pairs: that tuple is kept as it is
    (checked, not rebuilt: this runs on the event loop for every raw record); a null
    header value (None) becomes ``b""``.
    """
    if not headers:
        return ()
    if type(headers) is tuple:
        for name, value in headers:
            if type(value) is not bytes or type(name) is not str:
                break
        else:
            return cast(Headers, headers)
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), bytes(value or b"")) for name, value in pairs)


class Publisher:
    """Sends a batch's outputs with faust's (aiokafka) producer and waits for the broker's
    acknowledgement of every one (acks=all) before returning, so the agent acks the raw
    messages only after their outputs are durable in Kafka."""

    def __init__(self, app: faust.App, topics: StreamTopics, metrics: StreamMetrics | None) -> None:
        self._app = app
        self._names = {
            "hourly": topics.hourly.get_topic_name(),
            "verdicts": topics.verdicts.get_topic_name(),
            "quality": topics.quality.get_topic_name(),
            "deadletter": topics.dead_letters.get_topic_name(),
        }
        self._metrics = metrics

    async def publish(self, outcome: BatchOutcome) -> None:
        """Send every output of ``outcome``; returns when Kafka acknowledged all of them.

        Raises the producer's error when one cannot be delivered.
        """
        await self.delivered(outcome, await self.send(outcome))

    async def send(self, outcome: BatchOutcome) -> list[Awaitable[Any]]:
        """Hand every output of ``outcome`` to the producer, in order; returns the pending
        deliveries (await them with ``delivered``). Outputs of batches sent one after the
        other keep that order per partition."""
        producer = self._app.producer
        return [
            await producer.send(m.topic, m.key, m.value, None, None, dict(m.headers) or None)
            for m in self.outgoing(outcome)
        ]

    async def delivered(self, outcome: BatchOutcome, pending: Sequence[Awaitable[Any]]) -> None:
        """Wait until Kafka acknowledged every one of ``pending`` (``outcome``'s outputs)."""
        if pending:
            await asyncio.gather(*pending)
            self._count(outcome)

    def outgoing(self, outcome: BatchOutcome) -> list[Outgoing]:
        """The records ``outcome`` publishes, in order (``runtime.runner.Outgoing``)."""
        names = self._names
        messages: list[Outgoing] = []
        for aggregate in outcome.aggregates:
            value = aggregate.model_dump_json().encode()
            messages.append(Outgoing(names["hourly"], aggregate.outlet_id.encode(), value))
        for verdict in outcome.verdicts:
            natural = (verdict.outlet_id, verdict.factor, verdict.rule.value, verdict.period_start)
            revision = (("revision", str(outcome.flush.revisions.get(natural, 1)).encode()),)
            value = verdict.model_dump_json().encode()
            messages.append(
                Outgoing(names["verdicts"], verdict.outlet_id.encode(), value, revision)
            )
        for signal in outcome.quality:
            value = signal.model_dump_json().encode()
            messages.append(Outgoing(names["quality"], signal.device_id.encode(), value))
        for letter in outcome.dead_letters:
            device = letter.device_id.encode() if letter.device_id else None
            messages.append(
                Outgoing(names["deadletter"], device, letter.model_dump_json().encode())
            )
        return messages

    def _count(self, outcome: BatchOutcome) -> None:
        if self._metrics is None:
            return
        published = self._metrics.outputs_published
        published.labels("hourly").inc(len(outcome.aggregates))
        published.labels("verdicts").inc(len(outcome.verdicts))
        published.labels("quality").inc(len(outcome.quality))
        published.labels("deadletter").inc(len(outcome.dead_letters))


class CommitLane:
    """Runs batches through ``Pipeline.prepare`` and ``Pipeline.commit``: prepares are
    serialised (so batches are committed in the order they were prepared); while one batch
    commits, up to ``depth`` − 1 more wait prepared behind it and the next is prepared, and a
    batch's publication overlaps the next batch's commit.

    Per batch, in order: its commit starts once the batch before committed; its outputs go
    to the producer once the batch before's did (so outputs stay in batch order: a batch
    with many outputs, such as the one closing an hour of every device, no longer holds the
    next COMMIT while the event loop hands them over); its acks wait until its own
    outputs and every earlier batch's are acknowledged by Kafka (so an acked raw message
    always has its rows committed and its outputs durable). ``run`` of batch n returns once
    batch n − ``depth`` committed and batch n − ``depth`` − 1 is acked, which bounds what is
    in flight: at most ``depth`` batches prepared and not committed, one more publishing.
    ``depth`` 1 (the worker's default, ``WorkerTuning.lane_depth``) prepares the next batch
    only while one commits; 2 lets the prepare thread run on while a long commit holds the
    one before (measured neither faster nor slower: docs/perf.md, "Seventh slice (deep)").
    A prepare that must read the store still waits for every earlier batch's COMMIT first
    when its rows could be in flight (``streams.committed_reads``).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        publisher: Publisher,
        metrics: StreamMetrics | None = None,
        *,
        depth: int = 1,
        trace: LaneTrace = OFF,
    ) -> None:
        if depth < 1:
            raise ValueError(f"a commit lane's depth is at least 1, not {depth}")
        self._pipeline = pipeline
        self._publisher = publisher
        self._metrics = metrics
        self._depth = depth
        self._ordering = asyncio.Lock()
        # the latest batches, oldest first: the ones run waits for and those after them
        self._queued: deque[_Queued] = deque(maxlen=depth + 2)
        self._swaps: set[asyncio.Task[None]] = set()
        self._trace = trace
        self._batches = 0

    def swap_registry(self, registry: Registry) -> None:
        """Queue ``registry`` to be swapped in between two batches (``prepare_registry``).

        Call on the event loop (``runtime.registry_watch.RegistryWatch`` hands it over there);
        returns at once. Swaps queued one after the other are applied in that order.
        """
        run = self.run(functools.partial(self._pipeline.prepare_registry, registry), None)
        task = asyncio.get_running_loop().create_task(run)
        self._swaps.add(task)
        task.add_done_callback(self._swaps.discard)

    async def run(
        self,
        prepare: Callable[[], PreparedBatch],
        acknowledge: Callable[[], Awaitable[None]] | None,
    ) -> None:
        """Prepare a batch (in a thread), queue its commit, and return once the batch queued
        ``depth`` before it committed and the one before that is done. Ends the process on
        failure (``die``)."""
        trace = self._trace
        async with self._ordering:
            self._batches += 1
            batch = self._batches
            trace.mark(batch, "taken")
            started = time.perf_counter()
            try:
                prepared = await asyncio.to_thread(prepare)
            except Exception as error:
                die(error, stopping=self._pipeline.stopping)
            self._observe("prepare", started)
            trace.mark(batch, "prepared")
            queued = self._queued
            previous = queued[-1] if queued else None
            loop = asyncio.get_running_loop()
            committed: asyncio.Future[None] = loop.create_future()
            sent: asyncio.Future[None] = loop.create_future()
            done = loop.create_task(
                self._commit(batch, previous, (committed, sent), prepared, acknowledge)
            )
            queued.append(_Queued(committed, sent, done))
            depth = self._depth
            if len(queued) > depth:
                await asyncio.shield(queued[-depth - 1].committed)
            if len(queued) > depth + 1:  # at most one publication waits beside the commits
                await asyncio.shield(queued[-depth - 2].done)
            trace.mark(batch, "returned")

    async def _commit(
        self,
        batch: int,
        previous: _Queued | None,
        mine: tuple[asyncio.Future[None], asyncio.Future[None]],
        prepared: PreparedBatch,
        acknowledge: Callable[[], Awaitable[None]] | None,
    ) -> None:
        started = time.perf_counter()
        if previous is not None:
            await previous.committed
        self._observe("commit_wait", started)
        trace = self._trace
        try:
            trace.mark(batch, "commit")
            outcome = await asyncio.to_thread(self._pipeline.commit, prepared)
            trace.mark(batch, "committed")
            committed, sent = mine
            committed.set_result(None)  # the next batch's COMMIT may start
            if previous is not None:  # outputs go to the producer in batch order
                await previous.sent
            started = time.perf_counter()
            pending = await self._publisher.send(outcome)
            sent.set_result(None)
            await self._publisher.delivered(outcome, pending)
            self._observe("publish", started)
            trace.mark(batch, "published")
        except Exception as error:
            die(error, stopping=self._pipeline.stopping)
        if previous is not None:
            await previous.done
        if acknowledge is not None:
            await acknowledge()
            trace.mark(batch, "acked")

    def _observe(self, stage: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.stage_seconds.labels(stage).observe(time.perf_counter() - started)


class _Queued:
    """One batch in the lane: ``committed`` once its rows are COMMITTED (the next batch's
    COMMIT may start), ``sent`` once its outputs are handed to the producer (the next batch's
    may follow), ``done`` (the task) once it is acked."""

    __slots__ = ("committed", "done", "sent")

    def __init__(
        self,
        committed: asyncio.Future[None],
        sent: asyncio.Future[None],
        done: asyncio.Task[None],
    ) -> None:
        self.committed = committed
        self.sent = sent
        self.done = done


def die(error: BaseException, *, stopping: bool = False) -> None:
    """Stop the process at once without acking anything more (see the module docstring).

    ``stopping``: the worker was told to stop while the batch waited for the database; faust
    would wait for the batch's acks forever, so the process ends here instead.
    """
    if stopping:
        log.warning("stopped while the database was unreachable; the batch will be re-read")
        logging.shutdown()
        os._exit(EXIT_STOPPED_UNFLUSHED)
    log.critical("batch failed, stopping without committing it: %r", error, exc_info=error)
    logging.shutdown()
    os._exit(EXIT_BATCH_FAILED)


def _report_lag(app: faust.App, messages: Sequence[Any], metrics: StreamMetrics | None) -> None:
    if metrics is None or not messages:
        return
    last: dict[Any, int] = {}
    for message in messages:  # in offset order per partition
        last[message.tp] = message.offset
    for tp, offset in last.items():
        highwater = app.consumer.highwater(tp)
        if highwater is not None:
            metrics.consumer_lag.labels(str(tp.partition)).set(max(highwater - offset - 1, 0))


def register_agents(
    app: faust.App,
    topics: StreamTopics,
    pipeline: Pipeline,
    tuning: WorkerTuning,
    metrics: StreamMetrics | None = None,
) -> CommitLane:
    """Add the raw-topic and dead-letter agents, the tick timer and the rebalance hook; the
    lane their batches go through (``CommitLane.swap_registry`` queues a registry swap)."""
    publisher = Publisher(app, topics, metrics)

    lane = CommitLane(pipeline, publisher, metrics, depth=tuning.lane_depth, trace=pipeline.trace)

    chunks = RawChunks(app, ChunkTake(tuning.batch_size, tuning.batch_within_s, metrics))

    async def process_raw(stream: Any) -> None:
        # faust's stream of the agent carries nothing: its topic's records go to the take.
        chunks.subscribe(stream.channel)
        async for messages in chunks.batches():  # tracked, of the current generation

            async def acknowledge(taken: Sequence[Any] = messages) -> None:
                chunks.ack(taken)
                _report_lag(app, taken, metrics)

            await lane.run(functools.partial(prepare_messages, pipeline, messages), acknowledge)

    app.agent(topics.raw, name="raw-hj212", concurrency=1)(process_raw)

    async def store_dead_letters(stream: Any) -> None:
        # Gateway and alert-service dead letters into the table; acked after the COMMIT.
        async for events in stream.noack_take(tuning.batch_size, within=tuning.batch_within_s):
            records = [raw_record(event.message) for event in events]
            try:
                await asyncio.to_thread(pipeline.store_dead_letters, records)
            except Exception as error:
                die(error, stopping=pipeline.stopping)
            for event in events:
                await stream.ack(event)

    app.agent(topics.dead_letters, name="dead-letters", concurrency=1)(store_dead_letters)

    async def tick() -> None:
        await lane.run(functools.partial(pipeline.prepare_tick, datetime.now(UTC)), None)

    app.timer(tuning.tick_interval_s, name="engine-tick")(tick)

    async def on_assigned(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Sent after every rebalance, once the revoked partitions' taken events were acked
        # (no raw batch in flight). The engine keeps the devices of partitions this worker
        # still owns, forgets the others and watches its devices for silence from now.
        raw = topics.raw.get_topic_name()
        owned = {tp.partition for tp in app.consumer.assignment() if tp.topic == raw}
        # The consumer's metadata may not know the topic yet at a first join: then the
        # catalogue's count, which the topic is created with (a wrong count can only misplace
        # the silence watch of devices never received: the others go by their frames).
        count = app.consumer.topic_partitions(raw) or topics.raw.partitions
        await asyncio.to_thread(pipeline.own, owned, count, datetime.now(UTC))
        if metrics is not None:
            metrics.assigned_partitions.set(len(owned))

    # mode's handler type spells the keyword-only ``signal`` argument in a way mypy rejects.
    app.on_partitions_assigned.connect(cast(Any, on_assigned))
    return lane

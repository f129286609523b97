"""The faust agent and timer of the stream worker: thin adapters around ``Pipeline``.

How "offsets committed only after the database commit" holds (docs/streams.md):

1. The agent reads the raw topic with ``stream.noack_take(n, within)``: faust neither acks
   the events it yields nor acks them when the generator is closed (``take`` would ack a
   batch in a ``finally``, even one whose flush failed).
2. For each batch, ``Pipeline.process`` runs in a thread and returns only after the sink's
   transaction COMMITTED (it retries while PostgreSQL is unreachable; meanwhile the take
   buffer and faust's per-partition buffers fill and fetching pauses).
3. The outputs are handed to faust's producer, then each event is acked
   (``stream.ack(event)``). faust's commit timer commits, per partition, the offset after
   the longest run of acked messages, and flushes the producer before it commits; so a
   committed offset always follows committed rows and published outputs.
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
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

import faust

from streams.app import StreamTopics, WorkerTuning
from streams.metrics import StreamMetrics
from streams.pipeline import BatchOutcome, Pipeline, RawRecord
from streams.sink import SourcePosition

log = logging.getLogger(__name__)

EXIT_BATCH_FAILED: Final = 70
"""Exit status of a worker that stopped because a batch failed (EX_SOFTWARE)."""
EXIT_STOPPED_UNFLUSHED: Final = 75
"""Exit status of a worker told to stop while its batch waited for the database
(EX_TEMPFAIL): the batch was not committed and is re-read by the next worker."""


def raw_record(event: Any) -> RawRecord:
    """The position, value and broker timestamp of a faust event of the raw topic."""
    message = event.message
    return RawRecord(
        position=SourcePosition(message.topic, message.partition, message.offset),
        value=message.value,
        timestamp=datetime.fromtimestamp(message.timestamp or 0.0, UTC),
    )


class Publisher:
    """Sends a batch's outputs through faust's producer (flushed by faust before commits)."""

    def __init__(self, topics: StreamTopics, metrics: StreamMetrics | None) -> None:
        self._topics = topics
        self._metrics = metrics

    async def publish(self, outcome: BatchOutcome) -> None:
        """Hand every output of ``outcome`` to the producer; returns when all are queued."""
        topics = self._topics
        for aggregate in outcome.aggregates:
            await topics.hourly.send(
                key=aggregate.outlet_id.encode(), value=aggregate.model_dump_json().encode()
            )
        for verdict in outcome.verdicts:
            key = (verdict.outlet_id, verdict.factor, verdict.rule.value, verdict.period_start)
            revision = outcome.flush.revisions.get(key, 1)
            await topics.verdicts.send(
                key=verdict.outlet_id.encode(),
                value=verdict.model_dump_json().encode(),
                headers={"revision": str(revision).encode()},
            )
        for signal in outcome.quality:
            await topics.quality.send(
                key=signal.device_id.encode(), value=signal.model_dump_json().encode()
            )
        for letter in outcome.dead_letters:
            await topics.dead_letters.send(
                key=(letter.device_id or "").encode() or None,
                value=letter.model_dump_json().encode(),
            )
        self._count(outcome)

    def _count(self, outcome: BatchOutcome) -> None:
        if self._metrics is None:
            return
        published = self._metrics.outputs_published
        published.labels("hourly").inc(len(outcome.aggregates))
        published.labels("verdicts").inc(len(outcome.verdicts))
        published.labels("quality").inc(len(outcome.quality))
        published.labels("deadletter").inc(len(outcome.dead_letters))


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


def _report_lag(app: faust.App, events: Sequence[Any], metrics: StreamMetrics | None) -> None:
    if metrics is None or not events:
        return
    last: dict[Any, int] = {}
    for event in events:
        last[event.message.tp] = max(last.get(event.message.tp, -1), event.message.offset)
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
) -> None:
    """Add the raw-topic agent, the tick timer and the rebalance hook to ``app``."""
    publisher = Publisher(topics, metrics)

    async def process_raw(stream: Any) -> None:
        async for events in stream.noack_take(tuning.batch_size, within=tuning.batch_within_s):
            try:
                records = [raw_record(event) for event in events]
                outcome = await asyncio.to_thread(pipeline.process, records)
                await publisher.publish(outcome)
            except Exception as error:
                die(error, stopping=pipeline.stopping)
            for event in events:
                await stream.ack(event)
            _report_lag(app, events, metrics)

    app.agent(topics.raw, name="raw-hj212", concurrency=1)(process_raw)

    async def tick() -> None:
        try:
            outcome = await asyncio.to_thread(pipeline.tick, datetime.now(UTC))
            await publisher.publish(outcome)
        except Exception as error:
            die(error, stopping=pipeline.stopping)

    app.timer(tuning.tick_interval_s, name="engine-tick")(tick)

    async def on_revoked(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        # faust sends (app, revoked partitions) after it waited for every taken event to be
        # acked: no batch is in flight. The new assignment is re-read from the store.
        if args and args[0]:
            await asyncio.to_thread(pipeline.reset)

    async def on_assigned(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        if metrics is not None:
            owned = [
                tp for tp in app.consumer.assignment() if tp.topic == topics.raw.get_topic_name()
            ]
            metrics.assigned_partitions.set(len(owned))

    # mode's handler type spells the keyword-only ``signal`` argument in a way mypy rejects.
    app.on_partitions_revoked.connect(cast(Any, on_revoked))
    app.on_partitions_assigned.connect(cast(Any, on_assigned))

"""The raw topic's chunk path on the worker's real faust App (``streams.chunk``, issue 15 chunk
slice, written against faust-streaming 0.15): the conductor hands the raw topic's records to
the agent's take as faust's ``ConsumerMessage``s (no ``Event``, no stream queue), other
topics keep faust's handler; a record of an older consumer generation is dropped unacked, also
when its put waited across a rebalance (checked again when the agent takes it); a
suspended flow (a rebalance) makes the callback wait and clears the take; the agent's batch
is pending in faust's consumer once taken (so ``wait_empty`` waits for it) and its acks are
faust's offset bookkeeping (the committable offset follows the longest acked run)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from faust.exceptions import ImproperlyConfigured
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from runtime.settings import Settings
from streams.app import WorkerTuning, create_app
from streams.chunk import ChunkConductor, RawChunks
from streams.take import ChunkTake

RAW = "gw.raw.hj212"


def _app(tmp_path: Path) -> Any:
    return create_app(Settings(state_dir=tmp_path), WorkerTuning())


def _message(app: Any, partition: int, offset: int) -> ConsumerMessage:
    tp = TP(RAW, partition)
    return ConsumerMessage(
        RAW,
        partition,
        offset,
        1_765_000_000.0,
        0,
        (("gw-version", b"2"),),
        b"MN1",
        b"##frame",
        None,
        3,
        7,
        tp,
        generation_id=app.consumer_generation_id,
    )


def _chunks(app: Any, max_: int = 100) -> RawChunks:
    chunks = RawChunks(app, ChunkTake(max_, 0.0))
    chunks.subscribe(app.topic(RAW, key_serializer="raw", value_serializer="raw"))
    return chunks


def test_the_raw_topics_records_go_to_the_take_and_other_topics_to_faust(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(tmp_path)
        conductor = app.topics
        assert isinstance(conductor, ChunkConductor)
        chunks = _chunks(app)
        app.topic("gw.deadletter").__aiter__()  # an agent of faust's own kind
        await conductor._update_indices()
        assert RAW in conductor.acking_topics, "acks of the raw topic count for commits"
        await conductor.on_partitions_assigned({TP(RAW, 0), TP("gw.deadletter", 0)})
        assert conductor._tp_to_callback[TP(RAW, 0)] == chunks.on_message
        assert conductor._tp_to_callback[TP("gw.deadletter", 0)] != chunks.on_message
        app.flow_control.resume()  # as after an assignment
        message = _message(app, 0, 5)
        await conductor.on_message(message)  # what faust's fetch loop calls per record
        assert chunks.take.buffer.events == [message], "the ConsumerMessage itself"
        assert app.monitor.stream_inbound_time[TP(RAW, 0)] > 0, "faust's idle check sees it"
        assert message not in app.consumer.unacked, "pending only once the agent took it"

    asyncio.run(scenario())


def test_a_routed_topic_with_a_second_subscriber_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(tmp_path)
        _chunks(app)
        app.topic(RAW).__aiter__()
        await app.topics._update_indices()
        with pytest.raises(ImproperlyConfigured, match="2 subscribers"):
            await app.topics.on_partitions_assigned({TP(RAW, 0)})

    asyncio.run(scenario())


def test_a_record_of_an_older_generation_is_dropped_unacked(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(tmp_path)
        chunks = _chunks(app)
        app.flow_control.resume()
        stale = _message(app, 0, 5)
        app.consumer_generation_id = (app.consumer_generation_id or 0) + 1
        await chunks.on_message(stale)
        assert chunks.take.buffer.events == []
        assert not stale.acked

    asyncio.run(scenario())


def test_a_suspended_flow_makes_the_callback_wait_and_clears_the_take(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(tmp_path)
        chunks = _chunks(app)
        app.flow_control.resume()
        buffered = _message(app, 0, 1)
        await chunks.on_message(buffered)
        # a rebalance: faust suspends the flow and clears its queues, and the take with them
        app.flow_control.suspend()
        app.flow_control.clear()
        assert chunks.take.buffer.events == []
        waiting = asyncio.ensure_future(chunks.on_message(_message(app, 0, 2)))
        await asyncio.sleep(0.01)
        assert not waiting.done() and chunks.take.buffer.events == []
        app.flow_control.resume()
        await asyncio.wait_for(waiting, 5)
        assert [m.offset for m in chunks.take.buffer.events] == [2]
        assert not buffered.acked, "a record dropped at the rebalance is read again"

    asyncio.run(scenario())


def test_a_record_whose_put_waited_across_a_rebalance_is_dropped_when_taken(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        app = _app(tmp_path)
        chunks = _chunks(app, max_=1)
        app.flow_control.resume()
        await chunks.on_message(_message(app, 0, 1))  # the take is full
        stale = _message(app, 0, 2)
        waiting = asyncio.ensure_future(chunks.on_message(stale))  # checked, waits for room
        await asyncio.sleep(0.01)
        assert not waiting.done()
        # a rebalance: the flow suspended, the take cleared (the waiting put gets its room),
        # a new consumer generation, the flow resumed
        app.flow_control.suspend()
        app.flow_control.clear()
        app.consumer_generation_id = (app.consumer_generation_id or 0) + 1
        app.flow_control.resume()
        await asyncio.wait_for(waiting, 5)
        assert chunks.take.buffer.events == [stale], "buffered after the take was cleared"
        batches = chunks.batches()
        taken = asyncio.ensure_future(batches.__anext__())
        fresh = _message(app, 0, 2)  # the partition's owner reads it again
        await asyncio.wait_for(chunks.on_message(fresh), 5)
        assert await asyncio.wait_for(taken, 5) == [fresh]
        assert stale not in app.consumer.unacked and not stale.acked
        assert fresh in app.consumer.unacked, "the batch taken is pending"
        await batches.aclose()

    asyncio.run(scenario())


def test_a_taken_batch_is_pending_until_acked_and_the_acks_make_offsets_committable(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        app = _app(tmp_path)
        chunks = _chunks(app)
        await app.topics._update_indices()
        consumer = app.consumer
        tp = TP(RAW, 0)
        consumer._committed_offset[tp] = 10
        app.flow_control.resume()
        for offset in (10, 11, 12):
            await chunks.on_message(_message(app, 0, offset))
        batches = chunks.take.batches()
        taken = await asyncio.wait_for(batches.__anext__(), 5)
        chunks.track(taken)
        assert set(consumer.unacked) == set(taken), "a rebalance's wait_empty waits for them"
        chunks.ack([taken[0], taken[2]])
        assert consumer._new_offset(tp) == 11, "committable up to the first gap"
        chunks.ack([taken[1]])
        assert consumer._new_offset(tp) == 13 and not consumer.unacked
        await asyncio.wait_for(consumer.wait_empty(), 5)
        await batches.aclose()

    asyncio.run(scenario())


def test_a_record_waits_while_the_conductor_rebuilds_its_partition_map(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(tmp_path)
        chunks = _chunks(app)
        conductor = app.topics
        await conductor._update_indices()
        await conductor.on_partitions_assigned({TP(RAW, 0)})
        app.flow_control.resume()
        async with conductor._tp_to_callback_lock:  # as ``_update_indices`` holds it
            delivery = asyncio.ensure_future(conductor.on_message(_message(app, 0, 1)))
            await asyncio.sleep(0.01)
            assert not delivery.done()
        await asyncio.wait_for(delivery, 5)
        assert [m.offset for m in chunks.take.buffer.events] == [1]

    asyncio.run(scenario())


def test_a_record_waits_while_the_producers_buffer_is_over_its_limit(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(tmp_path)
        chunks = _chunks(app)
        app.flow_control.resume()
        buffer = app.producer.buffer
        for _ in range(buffer.max_messages + 1):  # faust's send_soon queue over its limit
            buffer.pending.put_nowait(None)
        ebbs: list[int] = []

        async def wait_until_ebb() -> None:  # faust flushes it to the broker
            ebbs.append(buffer.size)
            while not buffer.pending.empty():
                buffer.pending.get_nowait()

        buffer.wait_until_ebb = wait_until_ebb
        await chunks.on_message(_message(app, 0, 1))
        assert ebbs == [buffer.max_messages + 1]
        await chunks.on_message(_message(app, 0, 2))
        assert len(ebbs) == 1 and len(chunks.take.buffer.events) == 2

    asyncio.run(scenario())

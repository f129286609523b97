"""Crash and scale-out of real workers: ``kill -9`` mid-stream then a restart, and two workers
sharing the partitions, leave exactly the rows one uninterrupted worker leaves (the replay of
the same input is the oracle for aggregates and verdicts)."""

from __future__ import annotations

import time

import psycopg
import pytest
from conftest import StackFactory
from stream_dataset import Input, dataset, frame_count, poison_reasons, replay_input
from worker_harness import (
    StreamStack,
    assert_stored_as_replayed,
    count,
    replay_lines,
    replay_outputs,
)

from schemas.topics import Topic


def assert_exactly_the_dataset(stack: StreamStack, inputs: list[Input]) -> None:
    """Measurements, aggregates, verdicts and dead letters equal the single-pass oracles."""
    expected = replay_outputs(replay_lines(stack.registry, replay_input(inputs)))
    values = (i.value for i in inputs)
    assert_stored_as_replayed(stack, values, expected, frame_count(), poison_reasons())


@pytest.mark.integration
def test_kill_9_mid_stream_then_restart_loses_and_duplicates_nothing(
    stream_stack_factory: StackFactory,
) -> None:
    stack = stream_stack_factory()
    inputs = dataset()
    stack.produce((i.key, i.value, i.partition) for i in inputs)
    first = stack.start_worker("--tick-interval", "1", "--batch-size", "10")
    total = frame_count()
    with psycopg.connect(stack.direct_dsn, autocommit=True) as conn:
        deadline = time.monotonic() + 90
        while count(conn, "measurements") < total * 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.kill9()
        at_kill = count(conn, "measurements")
    assert 0 < at_kill < total, f"the worker was killed at {at_kill}/{total} rows"

    stack.start_worker("--tick-interval", "1", "--batch-size", "200")
    assert_exactly_the_dataset(stack, inputs)
    # Dead letters re-published after the crash are allowed on the topic, never in the table.
    topic = sorted({letter["reason"] for letter in stack.read_topic(Topic.DEADLETTER)})
    assert topic == sorted(set(poison_reasons()))


@pytest.mark.integration
def test_two_workers_split_the_partitions_and_store_what_one_stores(
    stream_stack_factory: StackFactory,
) -> None:
    """The second worker joins mid-stream: the rebalance moves devices whose windows are
    open to it, and it rebuilds them from the committed rows."""
    stack = stream_stack_factory()
    inputs = dataset()
    half = len(inputs) // 2
    first = stack.start_worker("--tick-interval", "1", "--batch-size", "100")
    stack.produce((i.key, i.value, i.partition) for i in inputs[:half])
    with psycopg.connect(stack.direct_dsn, autocommit=True) as conn:
        stack.wait_for("the first half's rows", lambda: count(conn, "measurements") > 0,
                       deadline_s=60)  # fmt: skip
    second = stack.start_worker("--tick-interval", "1", "--batch-size", "100")
    workers = [first, second]
    stack.wait_for(
        "both workers to own raw partitions",
        lambda: (
            sorted(w.metric("greenwatch_streams_assigned_partitions") for w in workers)
            == [2.0, 2.0]
        ),
        deadline_s=60,
    )
    stack.produce((i.key, i.value, i.partition) for i in inputs[half:])
    assert_exactly_the_dataset(stack, inputs)
    taken = [worker.metric("greenwatch_streams_raw_messages_total") for worker in workers]
    assert all(worker.alive() for worker in workers)
    assert all(n > 0 for n in taken), f"raw messages taken per worker: {taken}"
    assert sum(taken) >= len(inputs)

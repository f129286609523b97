"""Replay equals streaming: the same HJ 212 input through ``greenwatch replay`` (offline) and
through the real path (raw topic → ``greenwatch worker`` → PostgreSQL) gives the same hourly
and daily values and verdicts, and the poison inputs end in the dead-letter topic and table
while the stream goes on."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import StackFactory
from stream_dataset import dataset, frame_count, poison_reasons, replay_input
from worker_harness import assert_stored_as_replayed, replay_lines, replay_outputs

from schemas.topics import Topic


@pytest.mark.integration
def test_worker_stores_what_replay_prints(stream_stack_factory: StackFactory) -> None:
    stack = stream_stack_factory()
    inputs = dataset()
    expected = replay_outputs(replay_lines(stack.registry, replay_input(inputs)))
    assert len(expected) > 1000  # hourly, daily and every rule's verdicts

    # Past data: every device looks silent to the 1 s tick, which closes its windows as the
    # replay's end of input does; data arriving after a window closed re-aggregate it.
    stack.start_worker("--tick-interval", "1", "--batch-size", "200")
    stack.produce((i.key, i.value, i.partition) for i in inputs)
    values = (i.value for i in inputs)
    assert_stored_as_replayed(stack, values, expected, frame_count(), poison_reasons())

    letters = stack.read_topic(Topic.DEADLETTER)
    assert sorted(letter["reason"] for letter in letters) == poison_reasons()
    verdicts = Counter(v["status"] for v in stack.read_topic(Topic.VERDICTS))
    assert verdicts["exceedance"] > 0 and verdicts["severe"] > 0

"""Replay equals streaming: the same HJ 212 input through ``greenwatch replay`` (offline) and
through the real path (raw topic → ``greenwatch worker`` → PostgreSQL) gives the same hourly
and daily values and verdicts, and the poison inputs end in the dead-letter topic and table
while the stream goes on."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import psycopg
import pytest
from conftest import StackFactory
from stream_dataset import dataset, frame_count, poison_reasons, replay_input
from worker_harness import (
    GREENWATCH,
    count,
    differences,
    expected_measurements,
    replay_outputs,
    snapshot,
    stored_outputs,
)

from schemas.registry import load_registry
from schemas.topics import Topic


def replay(stack_registry: str, input_bytes: bytes) -> list[dict[str, object]]:
    done = subprocess.run(
        [str(GREENWATCH), "replay", "--registry", stack_registry, "--input", "-"],
        input=input_bytes,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.integration
def test_worker_stores_what_replay_prints(stream_stack_factory: StackFactory) -> None:
    stack = stream_stack_factory()
    inputs = dataset()
    expected = replay_outputs(replay(str(stack.registry), replay_input(inputs)))
    assert len(expected) > 1000  # hourly, daily and every rule's verdicts

    # Past data: every device looks silent to the 1 s tick, which closes its windows as the
    # replay's end of input does; data arriving after a window closed re-aggregate it.
    stack.start_worker("--tick-interval", "1", "--batch-size", "200")
    stack.produce((i.key, i.value, i.partition) for i in inputs)
    with psycopg.connect(stack.direct_dsn, autocommit=True) as conn:
        stack.wait_for(
            "every measurement and dead letter",
            lambda: (
                count(conn, "measurements") == frame_count()
                and count(conn, "dead_letters") == len(poison_reasons())
            ),
            deadline_s=90,
        )
    stack.wait_for("the stored outputs to equal the replay's",
                   lambda: stored_outputs(stack.direct_dsn) == expected, deadline_s=60)  # fmt: skip
    assert differences(expected, stored_outputs(stack.direct_dsn)) == ""
    registry = load_registry(stack.registry)
    stored = snapshot(stack.direct_dsn)
    assert stored.measurements == expected_measurements((i.value for i in inputs), registry)
    assert sorted(letter[1] for letter in stored.dead_letters) == poison_reasons()

    letters = stack.read_topic(Topic.DEADLETTER)
    assert sorted(letter["reason"] for letter in letters) == poison_reasons()
    verdicts = Counter(v["status"] for v in stack.read_topic(Topic.VERDICTS))
    assert verdicts["exceedance"] > 0 and verdicts["severe"] > 0

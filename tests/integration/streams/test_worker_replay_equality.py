"""Replay equals streaming: the same HJ 212 input through ``greenwatch replay`` (offline) and
through the real path (raw topic → ``greenwatch worker`` → PostgreSQL) gives the same hourly
and daily values and verdicts, and the poison inputs end in the dead-letter topic and table
while the stream goes on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from conftest import StackFactory
from stream_dataset import (
    DAY0,
    GAS,
    HOURS,
    LATE_DEVICE,
    LATE_HOUR,
    WATER,
    dataset,
    frame_count,
    poison_reasons,
    replay_input,
)
from worker_harness import assert_stored_as_replayed, replay_lines, replay_outputs

from schemas.topics import Topic
from streams.revisions import measurement_history


@pytest.mark.integration
def test_worker_stores_what_replay_prints(stream_stack_factory: StackFactory) -> None:
    stack = stream_stack_factory()
    inputs = dataset()
    printed = replay_lines(stack.registry, replay_input(inputs), "--quality")
    expected = replay_outputs(printed)
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

    # The devices report 5 minutes an hour: 55 minutes without data are a gap in event time
    # (allowed: 5 × 60 s), so replay prints a silent pair for every hour of every device.
    # The worker emits the same pairs, except for gaps its 1 s wall-clock tick had already
    # reported (the data are months old, so every device looks silent to it).
    quality = stack.read_topic(Topic.QUALITY)
    replayed = event_time_silences(r for r in printed if r["kind"] == "quality")
    streamed = event_time_silences(quality)
    assert len(replayed) == 2 * len(GAS + WATER) * (HOURS - 1)
    assert streamed and streamed <= replayed, sorted(streamed - replayed)[:4]

    # Issue 13 item 7: the flags (hour 5 of the gas stacks is flagged M, undeclared) and the
    # re-sent minute come out the same way: the M run's signals, the hours invalid by flags
    # (equal verdicts above, with their ``invalid_cause`` and flags beyond the allowance), and
    # the re-sent minute's first value kept in the revision history.
    assert flag_runs(quality) == flag_runs(r for r in printed if r["kind"] == "quality") != set()
    flagged_hour = (DAY0 + timedelta(hours=5)).astimezone(UTC)
    hour5 = [
        row for key, row in expected.items()
        if key[0] == "verdict" and key[3] == "hourly_concentration" and key[4] == flagged_hour
        and row["evidence"]["device_id"] in GAS
    ]  # fmt: skip
    assert hour5 and all(r["evidence"]["flag_allowance_exceeded"] == ["M"] for r in hour5)
    with psycopg.connect(stack.direct_dsn, autocommit=True) as conn:
        late = measurement_history(conn, LATE_DEVICE, "a21026", "minute",
                                   LATE_HOUR + timedelta(minutes=2))  # fmt: skip
    assert [(v["avg"], v["current"]) for v in late] == [(late[0]["avg"], False), (80.0, True)]
    assert late[0]["avg"] != 80.0 and late[0]["reason"] == "resent"


def flag_runs(signals: Iterable[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """(device, factor, active, observed_at) of the ``flagged`` signals among ``signals``."""
    return {
        (s["device_id"], s["factor"], s["active"], datetime.fromisoformat(s["observed_at"]))
        for s in signals
        if s.get("signal", s.get("kind")) == "flagged"
    }


def event_time_silences(signals: Iterable[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """(device, active, observed_at, gap) of the event-time silent signals among ``signals``
    (replay's quality lines name the signal kind ``signal``, the topic's ``kind``)."""
    return {
        (s["device_id"], s["active"], datetime.fromisoformat(s["observed_at"]),
         s["detail"]["last_event_at"], s["detail"]["gap_seconds"])
        for s in signals
        if s.get("signal", s.get("kind")) == "silent" and s["detail"].get("basis") == "event_time"
    }  # fmt: skip

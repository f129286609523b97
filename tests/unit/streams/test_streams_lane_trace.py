"""``GREENWATCH_LANE_TRACE``: the commit lane's per-batch timeline (docs/perf.md, seventh
slice), and ``bench.lane_timeline``'s sums over it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, cast

import pytest

from bench.lane_timeline import load, summary
from streams.agents import CommitLane
from streams.lane_trace import ENV, LaneTrace


class _Pipeline:
    stopping = False

    def commit(self, n: int) -> int:
        return n


class _Publisher:
    async def send(self, n: int) -> list[Any]:
        return []

    async def delivered(self, n: int, pending: list[Any]) -> None:
        return None


def test_the_trace_records_each_step_of_each_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "lane-{pid}.log"))
    trace = LaneTrace.from_env()
    lane = CommitLane(cast(Any, _Pipeline()), cast(Any, _Publisher()), trace=trace)

    async def two_batches() -> None:
        async def acked() -> None:
            return None

        for n in (1, 2):
            await lane.run(lambda n=n: n, acked)  # type: ignore[misc]
        await asyncio.sleep(0.1)

    asyncio.run(two_batches())
    batches = load(tmp_path / f"lane-{os.getpid()}.log")
    steps = ["taken", "prepared", "returned", "commit", "committed", "published", "acked"]
    assert sorted(batches) == [1, 2]
    for marks in batches.values():
        assert set(marks) == set(steps)
        assert marks["taken"] <= marks["prepared"] <= marks["returned"]
        assert marks["prepared"] <= marks["commit"] <= marks["committed"]
        assert marks["committed"] <= marks["published"] <= marks["acked"]
    assert batches[1]["committed"] <= batches[2]["commit"]  # commits in batch order
    assert summary(batches)["wall"] > 0


def test_without_the_variable_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    trace = LaneTrace.from_env()
    trace.mark(1, "taken")
    assert not trace.on
    assert list(tmp_path.iterdir()) == []

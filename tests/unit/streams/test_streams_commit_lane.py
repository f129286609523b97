"""The commit lane (``streams.agents.CommitLane``, issue 15 p99 slice): a batch's publication
overlaps the next batch's commit, while what the crash tests rely on stays: commits in batch
order, outputs handed to the producer in batch order, and a batch acked only after its rows
are committed and its outputs and every earlier batch's are acknowledged by Kafka."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

from streams.agents import CommitLane


class FakePipeline:
    stopping = False

    def __init__(self) -> None:
        self.log: list[str] = []
        self._lock = threading.Lock()

    def prepare(self, n: int) -> int:
        return n

    def commit(self, n: int) -> int:
        with self._lock:
            self.log.append(f"commit {n}")
        return n


class FakePublisher:
    """Deliveries of batch n wait for ``released[n]`` (Kafka's acknowledgement)."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.released: dict[int, asyncio.Event] = {}

    async def send(self, n: int) -> list[Any]:
        self.log.append(f"send {n}")
        return [self.released.setdefault(n, asyncio.Event()).wait()]

    async def delivered(self, n: int, pending: list[Any]) -> None:
        await asyncio.gather(*pending)
        self.log.append(f"delivered {n}")

    async def publish(self, n: int) -> None:  # main's lane publishes in one step
        await self.delivered(n, await self.send(n))


async def _until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_the_next_commit_does_not_wait_for_the_publication_and_acks_stay_in_order() -> None:
    async def scenario() -> None:
        pipeline = FakePipeline()
        publisher = FakePublisher(pipeline.log)
        lane = CommitLane(cast(Any, pipeline), cast(Any, publisher))
        log = pipeline.log

        def ack(n: int) -> Any:
            async def acknowledge() -> None:
                log.append(f"ack {n}")

            return acknowledge

        async def run(n: int) -> None:
            await lane.run(lambda: pipeline.prepare(n), ack(n))

        await run(1)
        await asyncio.wait_for(run(2), 5)  # main's lane waited here for batch 1's publication
        # batch 1's outputs are not acknowledged by Kafka yet; batch 2 commits anyway
        await _until(lambda: "send 2" in log)
        assert log == ["commit 1", "send 1", "commit 2", "send 2"]
        publisher.released[2].set()
        await asyncio.sleep(0.05)
        assert "ack 2" not in log  # batch 2 is acked after batch 1, never before
        publisher.released[1].set()
        await _until(lambda: "ack 2" in log)
        assert log[4:] == ["delivered 2", "delivered 1", "ack 1", "ack 2"]

    asyncio.run(scenario())

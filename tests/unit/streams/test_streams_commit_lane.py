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


class BlockingPipeline(FakePipeline):
    """Batch n's commit blocks (in its thread) until ``go[n]`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.go: dict[int, threading.Event] = {n: threading.Event() for n in range(1, 6)}

    def commit(self, n: int) -> int:
        self.go[n].wait(10)
        return super().commit(n)


def test_the_worker_prepares_on_while_a_long_commit_holds_the_batch_before() -> None:
    """Seventh slice (deep): with depth 2 (``--lane-depth 2``) the agent gets the lane back
    while batch 1's COMMIT is still running, so batch 3 is prepared meanwhile; batch 3's
    ``run`` returns only once batch 1 committed (two prepared, uncommitted batches at most),
    and commits, publications and acks stay in batch order."""

    async def scenario() -> None:
        pipeline = BlockingPipeline()
        publisher = FakePublisher(pipeline.log)
        depth = 2
        lane = CommitLane(cast(Any, pipeline), cast(Any, publisher), depth=depth)
        log = pipeline.log
        prepared: list[int] = []

        def ack(n: int) -> Any:
            async def acknowledge() -> None:
                log.append(f"ack {n}")

            return acknowledge

        def run(n: int) -> Any:
            def prepare() -> int:
                prepared.append(n)
                return pipeline.prepare(n)

            return lane.run(prepare, ack(n))

        for n in range(1, 6):
            publisher.released[n] = asyncio.Event()
            publisher.released[n].set()
        await asyncio.wait_for(run(1), 5)
        await asyncio.wait_for(run(2), 5)  # a depth-1 lane waits here for commit 1
        third = asyncio.ensure_future(run(3))
        await _until(lambda: prepared == [1, 2, 3])  # prepared while commit 1 runs
        await asyncio.sleep(0.1)
        assert not third.done()  # three uncommitted batches: the agent waits
        assert log == []
        pipeline.go[1].set()
        await asyncio.wait_for(third, 5)
        assert log[:2] == ["commit 1", "send 1"]
        pipeline.go[3].set()  # batch 3 is ready first, but commits after batch 2
        await asyncio.sleep(0.1)
        assert "commit 3" not in log
        pipeline.go[2].set()
        await _until(lambda: "ack 3" in log)
        assert [e for e in log if e.startswith("commit")] == ["commit 1", "commit 2", "commit 3"]
        assert [e for e in log if e.startswith("ack")] == ["ack 1", "ack 2", "ack 3"]
        for n in (1, 2, 3):  # each batch acked after its commit and its publication
            assert log.index(f"commit {n}") < log.index(f"delivered {n}") < log.index(f"ack {n}")

    asyncio.run(scenario())


def test_a_lane_of_depth_one_prepares_the_next_batch_only_while_one_commits() -> None:
    async def scenario() -> None:
        pipeline = BlockingPipeline()
        lane = CommitLane(cast(Any, pipeline), cast(Any, FakePublisher(pipeline.log)), depth=1)
        await asyncio.wait_for(lane.run(lambda: pipeline.prepare(1), None), 5)
        second = asyncio.ensure_future(lane.run(lambda: pipeline.prepare(2), None))
        await asyncio.sleep(0.1)
        assert not second.done()
        pipeline.go[1].set()
        await asyncio.wait_for(second, 5)
        pipeline.go[2].set()
        await _until(lambda: pipeline.log[-2:] == ["commit 2", "send 2"])

    asyncio.run(scenario())


class SlowHandOver(FakePublisher):
    """Handing batch n's outputs to the producer takes until ``handed[n]`` is set (thousands
    of outputs, or the producer's buffer full)."""

    def __init__(self, log: list[str]) -> None:
        super().__init__(log)
        self.handed: dict[int, asyncio.Event] = {}

    async def send(self, n: int) -> list[Any]:
        await self.handed.setdefault(n, asyncio.Event()).wait()
        return await super().send(n)


def test_the_next_commit_does_not_wait_while_the_outputs_before_are_handed_over() -> None:
    """Seventh slice (deep): batch 2's COMMIT runs while batch 1's outputs are still being
    handed to the producer; batch 2's outputs still follow batch 1's, and acks stay in order."""

    async def scenario() -> None:
        pipeline = FakePipeline()
        publisher = SlowHandOver(pipeline.log)
        lane = CommitLane(cast(Any, pipeline), cast(Any, publisher))
        log = pipeline.log
        for n in (1, 2):
            publisher.handed[n] = asyncio.Event()
            publisher.released[n] = asyncio.Event()
            publisher.released[n].set()
        await asyncio.wait_for(lane.run(lambda: pipeline.prepare(1), None), 5)
        await asyncio.wait_for(lane.run(lambda: pipeline.prepare(2), None), 5)
        await _until(lambda: "commit 2" in log)  # main's lane waited for send 1 here
        publisher.handed[2].set()
        await asyncio.sleep(0.05)
        assert log == ["commit 1", "commit 2"]  # batch 2's outputs wait for batch 1's
        publisher.handed[1].set()
        await _until(lambda: "delivered 2" in log)
        assert log[2:4] == ["send 1", "send 2"]

    asyncio.run(scenario())

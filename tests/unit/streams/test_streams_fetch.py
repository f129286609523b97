"""The worker's faust fetch loop (``streams.fetch``, issue 15 loop slice): the worker's App
consumes with ``LeanConsumer``, whose ``wait_first`` hands each record to the conductor's
callback without mode's four asyncio tasks per record when the callback does not wait, and
through mode's ``wait_first`` as faust does when it waits: records arrive in order, read
offsets advance as faust's, a waiting callback is awaited to its end, and a callback still
waiting when the flow is suspended (a rebalance) is abandoned as faust abandons it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from runtime.settings import Settings
from streams.app import WorkerTuning, create_app
from streams.fetch import LeanConsumer, first_step, resume
from streams.lean_monitor import LeanMonitor

RAW = TP("raw", 0)
_FETCH = ("Event.wait",)  # faust's loop sleeps once per fetch (mode's Service.sleep)


@dataclass
class Record:
    topic: str
    offset: int


class _Stopper:
    """The Fetcher service the loop is given: stops the loop when ``_stopped`` is set."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()


def _consumer(tmp_path: Path) -> Any:
    app = create_app(Settings(state_dir=tmp_path), WorkerTuning())
    return app.consumer


async def _drain(consumer: Any, offsets: list[int], deliver: Any, stopper: _Stopper) -> list[str]:
    """Run faust's fetch loop of ``consumer`` over records of ``offsets`` (one getmany);
    returns the names of the coroutines it ran as asyncio tasks, the loop's own excepted."""
    loop = asyncio.get_running_loop()
    created: list[str] = []

    def count(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        created.append(coro.__qualname__)
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Record]]:
        for offset in offsets:
            yield RAW, Record("raw", offset)
        stopper._stopped.set()

    consumer.getmany = getmany
    consumer.callback = deliver
    loop.set_task_factory(count)
    try:
        await asyncio.wait_for(consumer._drain_messages(stopper), 10)
    finally:
        loop.set_task_factory(None)
    return [name for name in created if name != "Consumer._drain_messages"]


def test_the_worker_app_consumes_with_the_lean_fetch_loop(tmp_path: Path) -> None:
    async def scenario() -> None:
        consumer = _consumer(tmp_path)
        assert isinstance(consumer, LeanConsumer)
        seen: list[int] = []

        async def deliver(message: Record) -> None:
            seen.append(message.offset)

        none = await _drain(_consumer(tmp_path / "none"), [], deliver, _Stopper())
        created = await _drain(consumer, [5, 6, 7], deliver, _Stopper())
        assert seen == [5, 6, 7]
        assert consumer._read_offset[RAW] == 7
        assert created == none, "a callback that does not wait needs no task"
        many = await _drain(_consumer(tmp_path / "many"), list(range(30)), deliver, _Stopper())
        assert many == none

    asyncio.run(scenario())


def test_a_waiting_callback_goes_through_wait_first_and_is_awaited_to_its_end(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        consumer = _consumer(tmp_path)
        seen: list[int] = []
        room = asyncio.Event()

        async def deliver(message: Record) -> None:
            if message.offset == 1:
                asyncio.get_running_loop().call_later(0.05, room.set)
                await room.wait()  # the stream's queue is full until the agent takes
            seen.append(message.offset)

        created = await _drain(consumer, [0, 1, 2], deliver, _Stopper())
        assert seen == [0, 1, 2]
        assert sorted(created) == sorted(
            [*_FETCH, "resume", "Event.wait", "Event.wait", "Event.wait"]
        ), "mode's wait_first for the one waiting record: four tasks"
        assert consumer._read_offset[RAW] == 2

    asyncio.run(scenario())


def test_a_callback_waiting_when_the_flow_is_suspended_is_abandoned_as_faust_does(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        consumer = _consumer(tmp_path)
        seen: list[int] = []
        cancelled: list[int] = []

        async def deliver(message: Record) -> None:
            if message.offset == 1:
                consumer.suspend_flow.set()  # a rebalance starts while the record waits
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    cancelled.append(message.offset)
                    raise
            seen.append(message.offset)

        created = await _drain(consumer, [0, 1], deliver, _Stopper())
        assert seen == [0] and cancelled == [1]
        assert sorted(created) == sorted(
            [*_FETCH, "resume", "Event.wait", "Event.wait", "Event.wait"]
        ), "mode's wait_first for the one waiting record: four tasks"
        consumer.suspend_flow.clear()

    asyncio.run(scenario())


def test_an_error_of_the_callback_ends_the_loop(tmp_path: Path) -> None:
    async def scenario() -> None:
        consumer = _consumer(tmp_path)

        async def deliver(message: Record) -> None:
            raise ValueError(f"cannot deliver {message.offset}")

        with pytest.raises(ValueError, match="cannot deliver 3"):
            await _drain(consumer, [3], deliver, _Stopper())

    asyncio.run(scenario())


def test_resume_runs_a_suspended_coroutine_as_a_task_would() -> None:
    async def scenario() -> None:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def job() -> int:
            await asyncio.sleep(0)
            value = await future
            return value + 1

        coro = job()
        finished, yielded = first_step(coro)
        assert not finished
        task = asyncio.ensure_future(resume(coro, yielded))
        await asyncio.sleep(0.01)
        assert not task.done()
        future.set_result(41)
        assert await task == 42

        async def done_at_once() -> str:
            return "done"

        assert first_step(done_at_once()) == (True, "done")

    asyncio.run(scenario())


def test_cancelling_a_resumed_coroutine_cancels_what_it_waits_for() -> None:
    async def scenario() -> None:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def job() -> int:
            return await future

        coro = job()
        _, yielded = first_step(coro)
        task = asyncio.ensure_future(resume(coro, yielded))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert future.cancelled()

    asyncio.run(scenario())


def test_the_worker_apps_monitor_keeps_only_when_a_stream_took_an_event(tmp_path: Path) -> None:
    """faust's consumer reads ``stream_inbound_time`` to warn about idle streams; the per-message
    counters and timings of faust's Monitor are not kept (``streams.lean_monitor``)."""

    async def scenario() -> None:
        app = create_app(Settings(state_dir=tmp_path), WorkerTuning())
        list(app.on_init_dependencies())  # what starting the App does: the sensor is added
        assert isinstance(app.monitor, LeanMonitor) and app.monitor in set(app.sensors)
        message = Record("raw", 9)
        app.sensors.on_message_in(RAW, 9, message)  # type: ignore[arg-type]
        state = app.sensors.on_stream_event_in(RAW, 9, object(), object())  # type: ignore[arg-type]
        app.sensors.on_stream_event_out(RAW, 9, object(), object(), state)  # type: ignore[arg-type]
        app.sensors.on_message_out(RAW, 9, message)  # type: ignore[arg-type]
        assert RAW in app.monitor.stream_inbound_time
        assert app.monitor.messages_received_total == 0 and app.monitor.events_total == 0
        assert not hasattr(message, "time_in")

    asyncio.run(scenario())

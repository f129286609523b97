"""The simulated fleet on the wire: one TCP connection per device to the gateway, driven by a
simulated clock that runs ``speed`` times faster than the wall clock.

Every ``tick_s`` of wall time the fleet advances the simulated clock and lets each device send
what its ``DeviceScript`` says for every minute that has ended. A device whose connection is
not up (connecting, reconnecting after the gateway closed it) or whose socket buffer is full
waits; it catches up later in order, so the frames never depend on timing. Replies are read
and counted: 9014 acks, 9011 answers by ``QnRtn``.

At the end (``hours`` of simulated time), the fleet waits briefly for the last acks and closes.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from ingest.simulator.episodes import EpisodeBook
from ingest.simulator.script import DeviceScript, MinuteOutput

_MINUTE: Final = timedelta(minutes=1)
_CN: Final = re.compile(rb";CN=(\d{4});")
_QN_RTN: Final = re.compile(rb"QnRtn=(\d+)")


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Where to send and how fast: ``speed`` simulated seconds per wall second; ``hours`` of
    simulated time to run (None: until stopped)."""

    host: str
    port: int
    start: datetime
    speed: float = 1.0
    hours: float | None = None
    tick_s: float = 0.05
    reconnect_delay_s: float = 1.0
    max_write_buffer: int = 256 * 1024
    drain_s: float = 5.0


@dataclass(slots=True)
class FleetStats:
    """What the fleet did (counters since start). ``sent`` by CN includes the frames re-sent
    after a comm_loss, also counted in ``backfilled`` by CN."""

    sent: Counter[str] = field(default_factory=Counter)
    backfilled: Counter[str] = field(default_factory=Counter)
    corrupted: Counter[str] = field(default_factory=Counter)
    acks: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    connect_failures: int = 0
    closed_by_gateway: int = 0
    connected: int = 0
    sim_minutes: int = 0

    @property
    def frames_sent(self) -> int:
        return sum(self.sent.values())


class _Link(asyncio.Protocol):
    """One device's TCP connection; counts the gateway's replies."""

    def __init__(self, stats: FleetStats, on_lost: Callable[[bool], None]) -> None:
        self._stats = stats
        self._on_lost = on_lost
        self._buffer = b""
        self.transport: asyncio.Transport | None = None
        self.closing_by_us = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._stats.connected += 1

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\r\n")
        for line in lines:
            cn = _CN.search(line)
            if cn is None:
                continue
            if cn.group(1) == b"9014":
                self._stats.acks += 1
            elif (rtn := _QN_RTN.search(line)) is not None:
                self._stats.answers[rtn.group(1).decode()] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._stats.connected -= 1
        self._on_lost(not self.closing_by_us)

    def close(self) -> None:
        self.closing_by_us = True
        if self.transport is not None:
            self.transport.close()


class _DeviceRun:
    """The runtime state of one device: its script, next minute, connection."""

    def __init__(self, script: DeviceScript, book: EpisodeBook, fleet: Fleet) -> None:
        self.script = script
        self.mn = script.device.mn
        self.book = book
        self.fleet = fleet
        self.next_minute = 0
        self.link: _Link | None = None
        self.connecting: asyncio.Task[None] | None = None

    def ready(self) -> bool:
        link = self.link
        return (
            link is not None
            and link.transport is not None
            and not link.transport.is_closing()
            and link.transport.get_write_buffer_size() < self.fleet.config.max_write_buffer
        )

    def advance(self, due: int) -> None:
        """Send every minute that has ended, while the connection takes it."""
        while self.next_minute < due:
            offline = self.book.offline(self.mn, self.next_minute * _MINUTE)
            if not offline and not self.ready():
                self.connect()
                return
            output = self.script.minute(self.next_minute)
            self.next_minute += 1
            self._deliver(output)

    def _deliver(self, output: MinuteOutput) -> None:
        stats = self.fleet.stats
        if not output.online:
            self.disconnect()
            return
        assert self.link is not None and self.link.transport is not None
        self.link.transport.write(b"".join(f.data for f in output.frames))
        for frame in output.frames:
            stats.sent[frame.cn] += 1
            if frame.corruption is not None:
                stats.corrupted[frame.corruption] += 1
            if frame.backfill:
                stats.backfilled[frame.cn] += 1
        if output.reconnect:
            self.disconnect()

    def connect(self, delay_s: float = 0.0) -> None:
        if self.connecting is None and (self.link is None or self.link.transport is None):
            self.connecting = asyncio.create_task(self._connect(delay_s))

    def disconnect(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None

    async def _connect(self, delay_s: float) -> None:
        fleet = self.fleet
        loop = asyncio.get_running_loop()
        try:
            if delay_s:
                await asyncio.sleep(delay_s)
            while True:
                try:
                    _, link = await loop.create_connection(
                        functools.partial(_Link, fleet.stats, self._lost),
                        fleet.config.host,
                        fleet.config.port,
                    )
                    fleet.stats.connects += 1
                    self.link = link
                    return
                except OSError:
                    fleet.stats.connect_failures += 1
                    await asyncio.sleep(fleet.config.reconnect_delay_s)
        finally:
            self.connecting = None

    def _lost(self, by_gateway: bool) -> None:
        if by_gateway:
            self.fleet.stats.closed_by_gateway += 1
            self.link = None
            self.connect(self.fleet.config.reconnect_delay_s)


class Fleet:
    """All devices of a province, sending to one gateway."""

    def __init__(
        self, config: FleetConfig, scripts: Sequence[DeviceScript], book: EpisodeBook
    ) -> None:
        self.config = config
        self.stats = FleetStats()
        self._runs = [_DeviceRun(script, book, self) for script in scripts]

    def sim_time(self, elapsed_wall_s: float) -> datetime:
        """Simulated time after ``elapsed_wall_s`` of wall time."""
        return self.config.start + timedelta(seconds=elapsed_wall_s * self.config.speed)

    async def run(self, stop: asyncio.Event | None = None) -> FleetStats:
        """Send until ``hours`` of simulated time are done (or ``stop`` is set)."""
        config = self.config
        end = None if config.hours is None else round(config.hours * 60)
        began = time.monotonic()
        for run in self._runs:
            run.connect()
        try:
            while stop is None or not stop.is_set():
                elapsed = (self.sim_time(time.monotonic() - began) - config.start) / _MINUTE
                due = int(elapsed) if end is None else min(int(elapsed), end)
                for run in self._runs:
                    run.advance(due)
                self.stats.sim_minutes = min(r.next_minute for r in self._runs)
                if end is not None and self.stats.sim_minutes >= end:
                    break
                await asyncio.sleep(config.tick_s)
            await self._drain()
        finally:
            for run in self._runs:
                if run.connecting is not None:
                    run.connecting.cancel()
                run.disconnect()
            await asyncio.sleep(0.05)
        return self.stats

    async def _drain(self) -> None:
        """Wait for the last replies: until no new ack for 0.5 s, at most ``drain_s``."""
        deadline = time.monotonic() + self.config.drain_s
        last = -1
        while time.monotonic() < deadline and self.stats.acks != last:
            last = self.stats.acks
            await asyncio.sleep(0.5)

"""What one simulated device sends, minute by minute: its frames (HJ 212-2017 via the codec's
``encode``) with the episodes applied. Pure: no I/O; simulated time only.

For minute ``m`` after the start (period ``[start + m min, start + (m+1) min)``) a device sends,
at the end of the minute: real-time data (CN 2011) every ``realtime_interval_s`` if it is a
real-time device, the minute data (CN 2051, DataTime = minute start), and after the last
minute of an hour the hourly data (CN 2061, DataTime = hour start). QN is the device clock when
sending (the period end), so it is deterministic too. Flag = 5 (version 1, A bit: wants a 9014)
on devices with ``ack``, else 4.

During a ``rewrite`` the minutes are sent as an exceedance and kept as measured without it;
``REWRITE_DELAY`` after the episode they are re-sent (same DataTime) after the live frames,
paced like a back-fill: the rewrite trick of issue 13.

During a ``comm_loss`` the device is offline but keeps its 2051/2061 frames (not 2011: units do
not store real-time data); once back online it sends each minute its live frames first, then up
to ``backfill_per_minute`` stored frames in the order they were measured (per CN, DataTime
order; an hour's 2061 after its minutes), byte for byte the frames an uninterrupted run sends.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from ingest.hj212 import encode
from ingest.simulator.episodes import Episode, EpisodeBook, EpisodeKind
from ingest.simulator.profiles import Profiles
from ingest.simulator.province import SimDevice
from ingest.simulator.signals import (
    DeviceSignal,
    FactorValues,
    HourAccumulator,
    Reading,
    significant,
)

CN_REALTIME: Final = "2011"
CN_MINUTE: Final = "2051"
CN_HOURLY: Final = "2061"
FLAG_ACK: Final = 5  # version 1 (HJ 212-2017), A bit set
FLAG_NO_ACK: Final = 4
BACKFILL_PER_MINUTE: Final = 30
"""Stored frames re-sent per simulated minute after a comm_loss (one every 2 s on average),
after the minute's live frames: a 2 h loss (122 frames) is re-sent in 5 minutes, a day's loss
(1,464 frames) in 49 minutes, without a burst."""
REWRITE_DELAY: Final = timedelta(minutes=30)
"""How long after a ``rewrite`` episode ends its lower minutes are re-sent: after the grace
of its last hour, so every hour of it was judged an exceedance first."""
_MINUTE: Final = timedelta(minutes=1)
_CORRUPTIONS: Final = ("bad_crc", "lost_characters", "line_noise")
_LINE_NOISE: Final = b"\x00\xffAT+CSQ\r\n+CSQ: 18,99\r\n"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """Bytes to write for one frame; ``corruption``: how it was damaged (None: intact)."""

    data: bytes
    cn: str
    corruption: str | None = None
    backfill: bool = False
    """A stored frame re-sent after a comm_loss (补发), with its original DataTime and QN."""


@dataclass(frozen=True, slots=True)
class MinuteOutput:
    """What a device does at the end of one minute: ``online`` False during an outage (no
    connection); ``reconnect`` True when it drops and re-opens the connection afterwards."""

    frames: tuple[Outgoing, ...]
    online: bool = True
    reconnect: bool = False


class DeviceScript:
    """Frames of one device for successive minutes; call ``minute(m)`` for m = 0, 1, 2…"""

    def __init__(
        self,
        device: SimDevice,
        seed: int,
        start: datetime,
        book: EpisodeBook,
        profiles: Profiles,
        realtime_interval_s: int = 30,
        backfill_per_minute: int = BACKFILL_PER_MINUTE,
    ) -> None:
        self.device = device
        self._start = start
        self._book = book
        self._signal = DeviceSignal(device, seed, profiles)
        self._rng = random.Random(f"script:{seed}:{device.mn}")
        self._hour = HourAccumulator()
        self._realtime_interval_s = max(1, min(60, realtime_interval_s))
        self._frozen: Reading | None = None
        self._backlog: deque[Outgoing] = deque()
        self._backfill_per_minute = max(1, backfill_per_minute)
        self._rewrites: list[tuple[int, Outgoing]] = []
        """(minute index to re-send at, frame) of ``rewrite`` episodes, in order."""

    def minute(self, index: int) -> MinuteOutput:
        """The output at the end of minute ``index`` (must be called in order)."""
        period = self._start + index * _MINUTE
        episodes = self._book.active(self.device.mn, index * _MINUTE)
        measured = self._signal.minute(period)
        rewrite = next((e for e in episodes if e.kind is EpisodeKind.REWRITE), None)
        honest = dict(measured) if rewrite is not None else None
        reading = self._apply(measured, episodes)
        if rewrite is not None and honest is not None:
            self._keep_rewrite(rewrite, period, honest, episodes)
        while self._rewrites and self._rewrites[0][0] <= index:
            self._backlog.append(self._rewrites.pop(0)[1])
        self._hour.add(reading)
        hourly = self._hour.take() if (index + 1) % 60 == 0 else None
        if any(e.kind is EpisodeKind.OUTAGE for e in episodes):
            return MinuteOutput((), online=False)
        frames = self._live(period, reading, hourly, episodes)
        if any(e.kind is EpisodeKind.COMM_LOSS for e in episodes):
            self._backlog.extend(replace(f, backfill=True) for f in frames if f.cn != CN_REALTIME)
            return MinuteOutput((), online=False)
        corrupt = next((e for e in episodes if e.kind is EpisodeKind.CORRUPT), None)
        if corrupt is not None:
            frames = [self._maybe_corrupt(f, corrupt.value or 0.3) for f in frames]
        for _ in range(min(self._backfill_per_minute, len(self._backlog))):
            frames.append(self._backlog.popleft())
        storm = any(e.kind is EpisodeKind.RECONNECT_STORM for e in episodes)
        return MinuteOutput(tuple(frames), reconnect=storm)

    def _keep_rewrite(
        self, episode: Episode, period: datetime, honest: Reading, episodes: tuple[Episode, ...]
    ) -> None:
        """Keep the minute frame as measured without the exceedance, to re-send it
        ``REWRITE_DELAY`` after the ``rewrite`` episode ends (the rewrite trick)."""
        others = tuple(e for e in episodes if e.kind is not EpisodeKind.REWRITE)
        lower = self._apply(honest, others)
        frame = self._frame(CN_MINUTE, period, period + _MINUTE, lower, timedelta(0), others)
        release = int((episode.start + episode.duration + REWRITE_DELAY) / _MINUTE)
        self._rewrites.append((release, replace(frame, backfill=True)))

    @property
    def backlog(self) -> int:
        """Frames stored during a comm_loss and not re-sent yet."""
        return len(self._backlog)

    def _live(
        self,
        period: datetime,
        reading: Reading,
        hourly: Reading | None,
        episodes: tuple[Episode, ...],
    ) -> list[Outgoing]:
        """The frames of the minute starting at ``period`` as measured (before corruption).
        Also built during a comm_loss, so the random stream (QN milliseconds, 2011 jitter)
        stays that of an uninterrupted run and the re-sent frames are its frames."""
        skew = next((e.value or 3600.0 for e in episodes if e.kind is EpisodeKind.CLOCK_SKEW), 0.0)
        clock = timedelta(seconds=skew)
        frames: list[Outgoing] = []
        if self.device.realtime:
            frames.extend(self._realtime(period, reading, clock, episodes))
        frames.append(self._frame(CN_MINUTE, period, period + _MINUTE, reading, clock, episodes))
        if hourly is not None:
            hour_start = period + _MINUTE - timedelta(hours=1)
            frames.append(
                self._frame(CN_HOURLY, hour_start, period + _MINUTE, hourly, clock, episodes)
            )
        return frames

    # -- values ----------------------------------------------------------------------------

    def _apply(self, reading: Reading, episodes: tuple[Episode, ...]) -> Reading:
        pollutants = self.device.kind.pollutants
        if not any(e.kind is EpisodeKind.FLATLINE for e in episodes):
            self._frozen = None
        for episode in episodes:
            kind = episode.kind
            touched = [c for c in pollutants if episode.factor in (None, c)]
            if kind in (EpisodeKind.EXCEEDANCE, EpisodeKind.REWRITE):
                for code in touched:
                    multiple = episode.value or max(2.0, 1.5 / pollutants[code].fraction)
                    reading[code] = _scaled(reading[code], multiple)
            elif kind is EpisodeKind.CALIBRATION:
                for code in touched:
                    span = self.device.limits[code] * 1.6  # span gas near 80 % of a 2× range
                    reading[code] = _constant(span, "C", reading[code].zs is not None)
            elif kind is EpisodeKind.MAINTENANCE:
                for code in touched:
                    reading[code] = _constant(0.0, "M", reading[code].zs is not None)
            elif kind is EpisodeKind.FLATLINE:
                if self._frozen is None:
                    self._frozen = dict(reading)
                reading = {code: _flat(self._frozen.get(code, v)) for code, v in reading.items()}
        return reading

    # -- frames ----------------------------------------------------------------------------

    def _frame(
        self,
        cn: str,
        data_time: datetime,
        sent_at: datetime,
        reading: Reading,
        clock: timedelta,
        episodes: tuple[Episode, ...],
    ) -> Outgoing:
        values = {code: _suffixes(v) for code, v in reading.items()}
        return Outgoing(self._encode(cn, data_time + clock, sent_at + clock, values, episodes), cn)

    def _realtime(
        self, period: datetime, reading: Reading, clock: timedelta, episodes: tuple[Episode, ...]
    ) -> list[Outgoing]:
        frames = []
        for second in range(0, 60, self._realtime_interval_s):
            instant = period + timedelta(seconds=second)
            values: dict[str, dict[str, float | str]] = {}
            for code, v in reading.items():
                jitter = 1 + self._rng.uniform(-0.02, 0.02)
                item: dict[str, float | str] = {"Rtd": significant(v.avg * jitter)}
                if v.zs is not None:
                    item["ZsRtd"] = significant(v.zs * jitter)
                item["Flag"] = v.flag
                values[code] = item
            data = self._encode(CN_REALTIME, instant + clock, instant + clock, values, episodes)
            frames.append(Outgoing(data, CN_REALTIME))
        return frames

    def _encode(
        self,
        cn: str,
        data_time: datetime,
        sent_at: datetime,
        values: dict[str, dict[str, float | str]],
        episodes: tuple[Episode, ...],
    ) -> bytes:
        device = self.device
        wrong_pw = any(e.kind is EpisodeKind.BAD_PASSWORD for e in episodes)
        qn = sent_at.strftime("%Y%m%d%H%M%S") + f"{self._rng.randrange(1000):03d}"
        return encode(
            st=device.st,
            cn=cn,
            mn=device.mn,
            pw=f"x{device.password[::-1]}" if wrong_pw else device.password,
            qn=qn,
            flag=FLAG_ACK if device.ack else FLAG_NO_ACK,
            data_time=data_time,
            values=values,
        ).encode()

    def _maybe_corrupt(self, frame: Outgoing, fraction: float) -> Outgoing:
        if self._rng.random() >= fraction:
            return frame
        mode = self._rng.choice(_CORRUPTIONS)
        data = frame.data
        if mode == "bad_crc":
            cp = data.index(b"CP=&&") + 5
            position = next(i for i in range(cp, len(data)) if data[i : i + 1].isdigit())
            digit = b"7" if data[position : position + 1] != b"7" else b"3"
            data = data[:position] + digit + data[position + 1 :]
        elif mode == "lost_characters":
            middle = len(data) // 2
            data = data[:middle] + data[middle + 3 :]
        else:
            data = _LINE_NOISE + data
        return replace(frame, data=data, corruption=mode)


def _suffixes(values: FactorValues) -> dict[str, float | str]:
    item: dict[str, float | str] = {"Avg": values.avg, "Min": values.min, "Max": values.max}
    if values.zs is not None:
        item["ZsAvg"] = values.zs
    if values.cou is not None:
        item["Cou"] = values.cou
    item["Flag"] = values.flag
    return item


def _scaled(values: FactorValues, multiple: float) -> FactorValues:
    return replace(
        values,
        avg=significant(values.avg * multiple),
        min=significant(values.min * multiple),
        max=significant(values.max * multiple),
        zs=None if values.zs is None else significant(values.zs * multiple),
        cou=None if values.cou is None else significant(values.cou * multiple),
    )


def _constant(value: float, flag: str, corrected: bool) -> FactorValues:
    return FactorValues(
        avg=value, min=value, max=value, zs=value if corrected else None, cou=0.0, flag=flag
    )


def _flat(values: FactorValues) -> FactorValues:
    return replace(values, min=values.avg, max=values.avg, flag="N")

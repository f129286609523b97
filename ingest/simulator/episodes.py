"""Injectable episodes: what goes wrong, on which devices, when (simulated time).

Spec syntax (``--episodes``), episodes separated by ``;``::

    KIND@TARGET+START/DURATION[:PARAM]

- ``TARGET``: a device MN, an enterprise id (all its devices) or ``*`` (every device).
- ``START``: offset from the simulation start; ``DURATION``: length; both like ``90m``,
  ``2h``, ``1h30m``, ``1d``, ``45s``.
- ``PARAM`` by kind: ``exceedance`` and ``rewrite`` ``[FACTOR]xMULTIPLE`` (e.g.
  ``a21026x3``, ``x2.5``; default: every pollutant, enough to exceed its limit);
  ``calibration``/``maintenance`` optional ``FACTOR``; ``clock_skew`` seconds (``+3600``,
  ``-7200``; default +3600); ``corrupt`` the fraction of frames damaged (default 0.3).

Example: ``exceedance@E-TP-001+2h/3h:a21026x3;outage@SIMCM001K1+6h/45m``; a communication
loss whose data are re-sent on reconnection (补发): ``comm_loss@SIMCC001F1+16h/2h``.

``plan_episodes`` draws a seeded plan instead: every kind at least once when there are enough
devices, then about one episode per ten devices per simulated day. Pure: no I/O, no clock.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Final

from ingest.simulator.province import SimDevice


class EpisodeKind(StrEnum):
    """What happens during an episode."""

    EXCEEDANCE = "exceedance"
    """Pollutant concentrations (and loads) multiplied: a real exceedance (超标)."""
    CALIBRATION = "calibration"
    """Analyser calibration: flag C, span-gas values well above the limit (not valid data)."""
    MAINTENANCE = "maintenance"
    """Maintenance: flag M, values near zero."""
    OUTAGE = "outage"
    """The device is off the network: no connection, no data (data lost, not re-sent)."""
    COMM_LOSS = "comm_loss"
    """Communication loss (通信中断): offline like an outage, but the data acquisition unit
    (数采仪) stores its minute (2051) and hourly (2061) frames and re-sends them after it
    reconnects (补发, bǔfā; HJ 212-2017), at a bounded pace."""
    FLATLINE = "flatline"
    """Values frozen at the last reading, flagged normal (a stuck or tampered analyser)."""
    CLOCK_SKEW = "clock_skew"
    """The device clock is off: QN and DataTime shifted by PARAM seconds."""
    CORRUPT = "corrupt"
    """A fraction of frames damaged on the wire: bad CRC, lost characters, line noise."""
    RECONNECT_STORM = "reconnect_storm"
    """The device drops and re-opens its TCP connection after every frame."""
    BAD_PASSWORD = "bad_password"
    """The device sends a wrong PW (misconfigured after a swap, or an impostor)."""
    REWRITE = "rewrite"
    """The rewrite trick (issue 13): an exceedance sent live (as ``exceedance``, same PARAM),
    then, ``REWRITE_DELAY`` after the episode ends, the episode's minute frames (CN 2051, same
    DataTime) re-sent with the values measured without the exceedance: lower values that
    would turn the judged hours compliant."""


DATA_KINDS: Final = frozenset(
    {
        EpisodeKind.EXCEEDANCE,
        EpisodeKind.CALIBRATION,
        EpisodeKind.MAINTENANCE,
        EpisodeKind.FLATLINE,
        EpisodeKind.REWRITE,
    }
)
"""Kinds that change the values; the others change how frames travel."""
OFFLINE_KINDS: Final = frozenset({EpisodeKind.OUTAGE, EpisodeKind.COMM_LOSS})
"""Kinds during which the device has no connection."""
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_SPEC: Final = re.compile(
    r"^(?P<kind>\w+)@(?P<target>[^+]+)\+(?P<start>[^/]+)/(?P<duration>[^:]+)(?::(?P<param>.+))?$"
)
_EXCEEDANCE_PARAM: Final = re.compile(r"^(?P<factor>[A-Za-z]\w*)?x(?P<multiple>\d+(?:\.\d+)?)$")


class EpisodeSpecError(ValueError):
    """An ``--episodes`` item cannot be read (carries the item and the reason)."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"episode {spec!r}: {reason}")
        self.spec = spec
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Episode:
    """One episode. ``factor``: the factor it touches (None: all pollutants); ``value``: the
    multiple (exceedance), the clock offset in s (clock_skew) or the fraction (corrupt)."""

    kind: EpisodeKind
    target: str
    start: timedelta
    duration: timedelta
    factor: str | None = None
    value: float | None = None

    def applies_to(self, device: SimDevice) -> bool:
        return self.target in ("*", device.mn, device.enterprise_id)

    def active(self, offset: timedelta) -> bool:
        """Whether the episode is on ``offset`` after the simulation start."""
        return self.start <= offset < self.start + self.duration

    def spec(self) -> str:
        """The episode in ``--episodes`` syntax."""
        text = f"{self.kind.value}@{self.target}+{_format(self.start)}/{_format(self.duration)}"
        if self.kind in (EpisodeKind.EXCEEDANCE, EpisodeKind.REWRITE):
            return text + f":{self.factor or ''}x{self.value:g}" if self.value else text
        if self.kind is EpisodeKind.CLOCK_SKEW and self.value is not None:
            return text + f":{self.value:+g}"
        if self.kind is EpisodeKind.CORRUPT and self.value is not None:
            return text + f":{self.value:g}"
        return text + f":{self.factor}" if self.factor else text


def parse_duration(text: str) -> timedelta:
    """``90m``, ``1h30m``, ``2d``, ``45s`` → timedelta. Raises ``ValueError``."""
    parts = _DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"{text!r} is not a duration like 90m, 2h, 1h30m, 1d")
    return timedelta(seconds=sum(float(n) * _UNIT_S[unit] for n, unit in parts))


def parse_episodes(text: str) -> list[Episode]:
    """Episodes of a spec string (empty string: none). Raises ``EpisodeSpecError``."""
    return [_parse_one(item.strip()) for item in text.split(";") if item.strip()]


def _parse_one(spec: str) -> Episode:
    match = _SPEC.match(spec)
    if match is None:
        raise EpisodeSpecError(spec, "expected KIND@TARGET+START/DURATION[:PARAM]")
    try:
        kind = EpisodeKind(match["kind"])
    except ValueError:
        kinds = ", ".join(k.value for k in EpisodeKind)
        raise EpisodeSpecError(spec, f"unknown kind; one of {kinds}") from None
    try:
        start, duration = parse_duration(match["start"]), parse_duration(match["duration"])
    except ValueError as error:
        raise EpisodeSpecError(spec, str(error)) from None
    if duration <= timedelta(0):
        raise EpisodeSpecError(spec, "duration must be positive")
    factor, value = _param(spec, kind, match["param"])
    return Episode(kind, match["target"], start, duration, factor, value)


def _param(spec: str, kind: EpisodeKind, param: str | None) -> tuple[str | None, float | None]:
    if param is None:
        return None, None
    try:
        if kind in (EpisodeKind.EXCEEDANCE, EpisodeKind.REWRITE):
            found = _EXCEEDANCE_PARAM.match(param)
            if found is None:
                raise ValueError("exceedance PARAM is [FACTOR]xMULTIPLE, e.g. a21026x3")
            return found["factor"], float(found["multiple"])
        if kind is EpisodeKind.CLOCK_SKEW:
            return None, float(param)
        if kind is EpisodeKind.CORRUPT:
            fraction = float(param)
            if not 0 < fraction <= 1:
                raise ValueError("corrupt PARAM is a fraction in (0, 1]")
            return None, fraction
    except ValueError as error:
        raise EpisodeSpecError(spec, str(error)) from None
    if kind in (EpisodeKind.CALIBRATION, EpisodeKind.MAINTENANCE):
        return param, None
    raise EpisodeSpecError(spec, f"{kind.value} takes no PARAM")


def plan_episodes(devices: Sequence[SimDevice], seed: int, hours: float) -> list[Episode]:
    """A seeded plan over ``hours`` of simulated time: each kind once (while there are
    devices for it), then about one episode per ten devices per simulated day."""
    if not devices or hours <= 0:
        return []
    rng = random.Random(f"episodes:{seed}")
    span_min = int(hours * 60)
    count = max(len(EpisodeKind), round(len(devices) / 10 * hours / 24))
    kinds = list(EpisodeKind)
    shuffled = rng.sample(list(devices), k=len(devices))
    plan: list[Episode] = []
    for index in range(min(count, len(devices) * 2)):
        kind = kinds[index] if index < len(kinds) else rng.choice(kinds)
        device = shuffled[index % len(shuffled)]
        length = rng.randint(20, 180) if kind is not EpisodeKind.RECONNECT_STORM else 10
        length = min(length, max(1, span_min // 3))
        start = rng.randint(0, max(0, span_min - length))
        plan.append(_planned(kind, device, timedelta(minutes=start), timedelta(minutes=length)))
    return plan


def _planned(kind: EpisodeKind, device: SimDevice, start: timedelta, length: timedelta) -> Episode:
    if kind is EpisodeKind.CLOCK_SKEW:
        return Episode(kind, device.mn, start, length, value=3600.0)
    if kind is EpisodeKind.CORRUPT:
        return Episode(kind, device.mn, start, length, value=0.3)
    return Episode(kind, device.mn, start, length)


class EpisodeBook:
    """Episodes indexed by device, for the per-frame question "what is on now?"."""

    def __init__(self, episodes: Iterable[Episode], devices: Iterable[SimDevice]) -> None:
        self.episodes = tuple(episodes)
        self._by_mn = {d.mn: tuple(e for e in self.episodes if e.applies_to(d)) for d in devices}

    def active(self, mn: str, offset: timedelta) -> tuple[Episode, ...]:
        """Episodes on for ``mn`` at ``offset`` after the start."""
        return tuple(e for e in self._by_mn.get(mn, ()) if e.active(offset))

    def first(self, mn: str, offset: timedelta, kind: EpisodeKind) -> Episode | None:
        return next((e for e in self.active(mn, offset) if e.kind is kind), None)

    def offline(self, mn: str, offset: timedelta) -> bool:
        """Whether ``mn`` has no connection at ``offset`` (an outage or a comm_loss)."""
        return any(e.kind in OFFLINE_KINDS for e in self.active(mn, offset))


def _format(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

"""Cumulative registers (表码) to consumption deltas: rollover, declared replacement, and the
data-quality marks that never lose energy.

``register_deltas(meter, readings)`` walks one meter's readings in instant order and returns
the consumption between consecutive accepted readings (``Delta``, unit of the meter ×
multiplier) and the marks of the readings that were not plain:

- ``rollover``: the register passed ``meter.rollover`` and restarted at 0; the delta is
  ``rollover − previous + current`` (only when that is under half the register and plausible);
- ``replacement``: a declared ``MeterReplacement`` lies between the two readings; the delta is
  the old register's rest (``old_final − previous``) plus the new one's run (``current −
  new_initial``), over every replacement crossed;
- ``backwards``: the register went down without a rollover or a declared replacement. The
  reading is kept and marked, but it is not a baseline: the next reading at or above the last
  accepted one is measured from that one, so a glitch loses nothing and nothing is negative;
  a real, undeclared swap leaves consumption pending until the replacement is declared;
- ``implausible_jump``: more than ``meter.max_per_hour`` per hour; kept, counted and marked.

Pure and deterministic; quantities are never negative.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from schemas.energy import Meter

ROLLOVER = "rollover"
REPLACEMENT = "replacement"
BACKWARDS = "backwards"
IMPLAUSIBLE_JUMP = "implausible_jump"


@dataclass(frozen=True, slots=True)
class RegisterReading:
    """A raw register value (unmultiplied) at an instant (aware)."""

    instant: datetime
    raw: float


@dataclass(frozen=True, slots=True)
class Delta:
    """Consumption between two accepted readings, in the meter's unit (× multiplier)."""

    start: datetime
    end: datetime
    quantity: float
    marks: frozenset[str] = frozenset()


@dataclass(slots=True)
class RegisterWalk:
    """What ``register_deltas`` found: the deltas and the marks per reading instant."""

    deltas: list[Delta] = field(default_factory=list)
    marks: dict[datetime, frozenset[str]] = field(default_factory=dict)


def register_deltas(meter: Meter, readings: Sequence[RegisterReading]) -> RegisterWalk:
    """Deltas of ``readings`` (sorted by instant, one per instant) of cumulative ``meter``."""
    walk = RegisterWalk()
    swaps = sorted(meter.replacements, key=lambda r: r.at)
    swap_times = [s.at for s in swaps]
    base: RegisterReading | None = None
    for reading in readings:
        if base is None:
            base = reading
            continue
        first, last = (
            bisect_right(swap_times, base.instant),
            bisect_right(swap_times, reading.instant),
        )
        marks: set[str] = set()
        if last > first:
            crossed = swaps[first:last]
            raw = max(0.0, crossed[0].old_final - base.raw)
            for before, after in pairwise(crossed):
                raw += max(0.0, after.old_final - before.new_initial)
            if reading.raw < crossed[-1].new_initial:
                walk.marks[reading.instant] = frozenset({BACKWARDS})
                continue
            raw += reading.raw - crossed[-1].new_initial
            marks.add(REPLACEMENT)
        elif reading.raw >= base.raw:
            raw = reading.raw - base.raw
        elif meter.rollover is not None and _wrap_plausible(meter, base, reading):
            raw = meter.rollover - base.raw + reading.raw
            marks.add(ROLLOVER)
        else:
            walk.marks[reading.instant] = frozenset({BACKWARDS})
            continue
        quantity = raw * meter.multiplier
        if _implausible(meter, base.instant, reading.instant, quantity):
            marks.add(IMPLAUSIBLE_JUMP)
        frozen = frozenset(marks)
        walk.deltas.append(Delta(base.instant, reading.instant, quantity, frozen))
        if frozen:
            walk.marks[reading.instant] = frozen
        base = reading
    return walk


def _wrap_plausible(meter: Meter, base: RegisterReading, reading: RegisterReading) -> bool:
    assert meter.rollover is not None
    wrapped = meter.rollover - base.raw + reading.raw
    if wrapped < 0 or wrapped > meter.rollover / 2:
        return False
    return not _implausible(meter, base.instant, reading.instant, wrapped * meter.multiplier)


def _implausible(meter: Meter, start: datetime, end: datetime, quantity: float) -> bool:
    if meter.max_per_hour is None:
        return False
    hours = max((end - start).total_seconds() / 3600.0, meter.interval_minutes / 60.0)
    return quantity > meter.max_per_hour * hours

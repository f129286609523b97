"""Minute values (分钟数据) of one factor from minute (2051) and real-time (2011) data.

Validity (HJ 75-2017, HJ 212-2017 data flags; MEE marking rules 2022): values flagged
F/M/C/D/B (stopped, maintenance, calibration, fault, communication fault; the set
``INVALID_FOR_COMPLIANCE``) are not valid for compliance; T (over range) and S (manually
set) are kept and their flag counted.

- A minute the device reported with CN 2051 is used as sent (its ``Avg``); real-time values of
  the same minute are then ignored.
- Otherwise the minute is the mean of the real-time values sampled in it:
  gas: the minute is normal when at least ``normal_fraction`` of its values are normal (the
  "75 % of values" rule) and its value is then the mean of the normal values; water: any
  abnormal value makes the minute abnormal (domain.md §3).
- An abnormal minute carries its most frequent invalid flag (ties: alphabetical); a normal
  minute carries ``T`` or ``S`` when one of its values did (T before S), else ``N``.

Means are ``math.fsum`` based and iterate in time order, so the result does not depend on the
order the values arrived in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from math import fsum
from typing import NamedTuple

from schemas.measurement import INVALID_FOR_COMPLIANCE, Measurement, PeriodKind
from schemas.registry import Medium
from streams.domain import factors
from streams.domain.periods import minute_start

_MARKED_FLAGS = ("T", "S")
"""Flags of values that stay valid but are marked, in order of precedence."""


class Reading(NamedTuple):
    """One reported value of one factor: a real-time sample or a device minute.

    A named tuple (immutable, built in C): the engine keeps one per measurement
    (docs/perf.md)."""

    value: float
    flag: str = "N"
    device_corrected: float | None = None
    """The device's own O2-corrected value (ZsRtd / ZsAvg), if sent."""
    low: float | None = None
    high: float | None = None

    @property
    def valid(self) -> bool:
        return self.flag not in INVALID_FOR_COMPLIANCE


@dataclass(frozen=True, slots=True)
class Resent:
    """A value re-sent for a period already held with another value or flag (补发/重发).

    ``first`` is the earliest reading this engine held for the period (received live, or read
    back from the store when the hour was rebuilt), ``resent`` the latest one, which replaced it.
    """

    period: PeriodKind
    period_start: datetime
    first: Reading
    resent: Reading

    def as_json(self) -> dict[str, object]:
        return {
            "period": self.period.value,
            "period_start": self.period_start.isoformat(),
            "first": self.first.value,
            "first_flag": self.first.flag,
            "resent": self.resent.value,
            "resent_flag": self.resent.flag,
        }


@dataclass(slots=True)
class FactorReadings:
    """What one device reported for one factor in one hour, keyed by time (idempotent)."""

    rtd: dict[datetime, Reading] = field(default_factory=dict)
    minutes: dict[datetime, Reading] = field(default_factory=dict)
    resent: dict[tuple[PeriodKind, datetime], Resent] = field(default_factory=dict)
    """Periods re-sent with a value or flag differing from the one first held."""

    def add(self, measurement: Measurement) -> bool:
        """Store ``measurement`` (a re-sent one replaces the earlier, and is kept in
        ``resent`` when its value or flag differs); False when it carries no usable value
        (not rtd/minute, or no Rtd/Avg)."""
        if measurement.period is PeriodKind.RTD:
            value, corrected, target = measurement.rtd, measurement.zs_rtd, self.rtd
        elif measurement.period is PeriodKind.MINUTE:
            value, corrected, target = measurement.avg, measurement.zs_avg, self.minutes
        else:
            return False
        if value is None:
            return False
        start = measurement.period_start
        reading = Reading(value, measurement.flag, corrected, measurement.min, measurement.max)
        held = target.get(start)
        if held is not None and (held.value, held.flag) != (reading.value, reading.flag):
            key = (measurement.period, start)
            known = self.resent.get(key)
            first = known.first if known is not None else held
            self.resent[key] = Resent(measurement.period, start, first, reading)
        target[start] = reading
        return True


class MinuteValue(NamedTuple):
    """The value of one factor for one minute, with its validity and flag (a named tuple:
    one per minute and factor of every hour closed)."""

    value: float
    valid: bool
    flag: str
    device_corrected: float | None = None
    low: float | None = None
    high: float | None = None


def minute_values(
    readings: FactorReadings, medium: Medium, normal_fraction: float
) -> dict[datetime, MinuteValue]:
    """Minute start → minute value, in time order (device minutes first, then real-time)."""
    result: dict[datetime, MinuteValue] = {}
    invalid = INVALID_FOR_COMPLIANCE
    for start, (value, flag, corrected, low, high) in readings.minutes.items():
        valid = flag not in invalid
        result[minute_start(start)] = MinuteValue(value, valid, flag, corrected, low, high)
    grouped: dict[datetime, list[Reading]] = {}
    for instant in sorted(readings.rtd):
        start = minute_start(instant)
        if start not in result:
            grouped.setdefault(start, []).append(readings.rtd[instant])
    for start, samples in grouped.items():
        result[start] = _minute_from_samples(samples, medium, normal_fraction)
    return dict(sorted(result.items()))


def _minute_from_samples(
    samples: list[Reading], medium: Medium, normal_fraction: float
) -> MinuteValue:
    normal = [s for s in samples if s.valid]
    if medium is Medium.WATER:
        valid = len(normal) == len(samples)
    else:
        valid = len(normal) >= normal_fraction * len(samples)
    used = normal if valid else samples
    values = [s.value for s in used]
    corrected = [s.device_corrected for s in used if s.device_corrected is not None]
    return MinuteValue(
        value=_mean(values),
        valid=valid,
        flag=_minute_flag(samples, valid),
        device_corrected=_mean(corrected) if corrected else None,
        low=min(values),
        high=max(values),
    )


def _minute_flag(samples: Iterable[Reading], valid: bool) -> str:
    flags = Counter(s.flag for s in samples)
    if not valid:
        invalid = [
            (-count, flag) for flag, count in flags.items() if flag in INVALID_FOR_COMPLIANCE
        ]
        return min(invalid)[1]
    for marked in _MARKED_FLAGS:
        if marked in flags:
            return marked
    return "N"


def derive_nox(by_factor: dict[str, dict[datetime, MinuteValue]]) -> None:
    """Add NOx as NO2 (``NO × 46/30 + NO2``, HJ 75-2017) for the minutes that have both NO
    (a21003) and NO2 (a21004), when the device did not report NOx (a21002) itself."""
    if factors.NOX in by_factor:
        return
    nitric = by_factor.get(factors.NO)
    dioxide = by_factor.get(factors.NO2)
    if not nitric or not dioxide:
        return
    derived: dict[datetime, MinuteValue] = {}
    for start, no in nitric.items():
        no2 = dioxide.get(start)
        if no2 is None:
            continue
        valid = no.valid and no2.valid
        flag = no.flag if no.flag != "N" else no2.flag
        if not valid:
            flag = no.flag if not no.valid else no2.flag
        derived[start] = MinuteValue(no.value * factors.NO_TO_NO2 + no2.value, valid, flag)
    if derived:
        by_factor[factors.NOX] = derived


def _mean(values: list[float]) -> float:
    return fsum(values) / len(values)

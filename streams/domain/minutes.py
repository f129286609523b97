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

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from math import fsum
from typing import Final, NamedTuple

from ingest.hj212.packet import CHINA_TZ
from schemas.measurement import INVALID_FOR_COMPLIANCE, DataFlag, Measurement, PeriodKind
from schemas.registry import Medium
from streams.domain import factors

_MARKED_FLAGS = ("T", "S")
"""Flags of values that stay valid but are marked, in order of precedence."""


class Reading(NamedTuple):
    """One reported value of one factor: a real-time sample or a device minute.

    A named tuple (immutable, built in C). The engine holds its values in a
    ``FactorReadings``' arrays and makes a ``Reading`` of a value only to read it back
    (closing its hour, or keeping a re-sent value's first one)."""

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


class FactorReadings:
    """What one device reported for one factor in one hour, keyed by time (idempotent).

    Held compactly (docs/perf.md, "Fourth slice"): the engine keeps one per device, factor and
    open hour, and at 10 000 devices × 60 minutes × 8 factors a named tuple and a dict entry
    per value were most of a worker's memory. Each kind of data (real-time, minute) is a
    ``_Series`` of parallel arrays, ~17 bytes per value instead of ~150; ``minute_values``
    gives exactly what the dicts of ``Reading``s keyed by datetime gave.
    """

    __slots__ = ("_minutes", "_resent", "_rtd")

    def __init__(self) -> None:
        self._rtd: _Series | None = None
        self._minutes: _Series | None = None
        self._resent: dict[tuple[PeriodKind, datetime], Resent] | None = None

    @property
    def resent(self) -> dict[tuple[PeriodKind, datetime], Resent]:
        """Periods re-sent with a value or flag differing from the one first held."""
        return self._resent if self._resent is not None else {}

    def add(self, measurement: Measurement) -> bool:
        """Store ``measurement`` (a re-sent one replaces the earlier, and is kept in
        ``resent`` when its value or flag differs); False when it carries no usable value
        (not rtd/minute, or no Rtd/Avg)."""
        period = measurement.period
        if period is not PeriodKind.RTD and period is not PeriodKind.MINUTE:
            return False
        start = measurement.period_start
        # µs since _EPOCH: exact, equal for equal instants in any time zone (as datetime keys
        # of a dict are). The factors of one frame share its start (the same object): the last
        # one is remembered (one datetime kept alive; a (start, at) pair swapped atomically)
        global _LAST_INSTANT
        last = _LAST_INSTANT
        if last[0] is start:
            at = last[1]
        else:
            at = (start - _EPOCH) // _MICROSECOND
            _LAST_INSTANT = (start, at)
        return self.add_at(measurement, at, period is PeriodKind.RTD)

    def add_at(self, measurement: Measurement, at: int, rtd: bool) -> bool:
        """``add`` of an rtd (``rtd``) or minute ``measurement`` whose period start is the
        instant ``at`` (µs since ``_EPOCH``): what ``add`` and ``add_frame`` (which computes a
        frame's instant once) both do once the instant is known."""
        if rtd:
            value, corrected = measurement.rtd, measurement.zs_rtd
            series = self._rtd
            if series is None and value is not None:
                series = self._rtd = _Series()
        else:
            value, corrected = measurement.avg, measurement.zs_avg
            series = self._minutes
            if series is None and value is not None:
                series = self._minutes = _Series()
        if value is None or series is None:
            return False
        flag = measurement.flag
        times = series.at
        if not times or (series.ordered and at > times[-1]):  # the usual case: a new instant
            low, high = measurement.min, measurement.max
            code = _FLAG_CODES.get(flag)
            if (
                code is not None
                and series.extra is None
                and corrected is None
                and low is None
                and high is None
            ):  # ... with a known flag and no optional number: the row is the three
                times.append(at)  # arrays' next item (``_Series.append`` does the rest)
                series.value.append(value)
                series.flag.append(code)
                return True
            series.append(at, value, flag, corrected, low, high)
            return True
        row = series.find(at)
        if row < 0:
            series.append(at, value, flag, corrected, measurement.min, measurement.max)
            return True
        held = series.reading(row)
        if (held.value, held.flag) != (value, flag):
            period, start = measurement.period, measurement.period_start
            key = (period, start)
            resent = self._resent
            if resent is None:
                resent = self._resent = {}
            known = resent.get(key)
            first = known.first if known is not None else held
            reading = Reading(value, flag, corrected, measurement.min, measurement.max)
            resent[key] = Resent(period, start, first, reading)
        series.put(row, value, flag, corrected, measurement.min, measurement.max)
        return True


def add_frame(
    buffer: dict[str, FactorReadings], measurements: Sequence[Measurement]
) -> Measurement | None:
    """Put one frame's measurements (all of one period and period start: a ``Frame``'s) in
    their factors' readings of the hour ``buffer``, in order, as ``FactorReadings.add`` each
    would; the first that added a value (the one that may move the watermark), None when
    none did. The frame's instant is computed once (``FactorReadings.add_at``)."""
    first_added: Measurement | None = None
    if not measurements:
        return first_added
    period = measurements[0].period
    rtd = period is PeriodKind.RTD
    if not rtd and period is not PeriodKind.MINUTE:
        for measurement in measurements:
            if measurement.factor not in buffer:  # as add_reading: the factor is held
                buffer[measurement.factor] = FactorReadings()
        return first_added
    at = (measurements[0].period_start - _EPOCH) // _MICROSECOND
    for m in measurements:
        readings = buffer.get(m.factor)
        if readings is None:
            readings = buffer[m.factor] = FactorReadings()
        if readings.add_at(m, at, rtd) and first_added is None:
            first_added = m
    return first_added


_EPOCH: Final = datetime(2000, 1, 1, tzinfo=CHINA_TZ)
"""Instants are held as integer microseconds since this China-time midnight (minute-aligned:
a minute start is an instant minus its remainder of ``_MINUTE_US``)."""
_MICROSECOND: Final = timedelta(microseconds=1)
_LAST_INSTANT: tuple[datetime, int] = (_EPOCH, 0)
"""The last period start ``FactorReadings.add`` converted, and its instant."""
_MINUTE_US: Final = 60_000_000
_NOT_HELD: Final = -1


@lru_cache(maxsize=1 << 12)
def _moment(instant: int) -> datetime:
    """The China-time datetime of ``instant`` (what ``periods.minute_start`` gives)."""
    return _EPOCH + instant * _MICROSECOND


_FLAG_CODES: dict[str, int] = {}
_FLAG_TEXTS: list[str] = []
_ODD_FLAG: Final = 255
"""The code of a flag beyond the first 255 distinct ones seen: the row's flag is then in
its series' ``odd`` dict (flags are one letter in HJ 212-2017; this only bounds the table)."""


def _flag_code(flag: str) -> int:
    code = _FLAG_CODES.get(flag)
    if code is None:
        if len(_FLAG_TEXTS) >= _ODD_FLAG:
            return _ODD_FLAG
        code = _FLAG_CODES[flag] = len(_FLAG_TEXTS)
        _FLAG_TEXTS.append(flag)
    return code


for _known in ("N", *sorted(f.value for f in DataFlag if f.value != "N")):
    _flag_code(_known)

_CORRECTED, _LOW, _HIGH = 1, 2, 4
"""Bits of a row's ``present`` byte: which of its optional numbers were sent."""


class _Series:
    """One factor-hour's values of one kind as parallel arrays, one row per period start,
    rows in the order first received (a re-sent period replaces its row in place, as a dict
    keeps a replaced key's place): instants (µs since ``_EPOCH``), values, flag codes, and,
    once any row has one, the optional device-corrected value, low and high (``extra``:
    three per row, with ``present`` bits saying which were sent)."""

    __slots__ = ("at", "extra", "flag", "odd", "ordered", "present", "value")

    def __init__(self) -> None:
        self.at = array("q")
        self.value = array("d")
        self.flag = bytearray()
        self.extra: array[float] | None = None
        self.present: bytearray | None = None
        self.odd: dict[int, str] | None = None
        self.ordered = True
        """Rows are in time order (the usual case: no search for a new instant, no sort
        when the hour closes)."""

    def find(self, at: int) -> int:
        """The row of instant ``at``, or ``_NOT_HELD``."""
        held = self.at
        if not held or (self.ordered and at > held[-1]):
            return _NOT_HELD
        try:
            return held.index(at)
        except ValueError:
            return _NOT_HELD

    def append(
        self, at: int, value: float, flag: str, corrected: float | None,
        low: float | None, high: float | None,
    ) -> None:  # fmt: skip
        times = self.at
        if self.ordered and times and at < times[-1]:
            self.ordered = False
        row = len(times)
        times.append(at)
        self.value.append(value)
        self.flag.append(0)
        if self.extra is not None:
            self.extra.extend((0.0, 0.0, 0.0))
            assert self.present is not None
            self.present.append(0)
        self._set(row, value, flag, corrected, low, high)

    def put(
        self, row: int, value: float, flag: str, corrected: float | None,
        low: float | None, high: float | None,
    ) -> None:  # fmt: skip
        self.value[row] = value
        self._set(row, value, flag, corrected, low, high)

    def _set(
        self, row: int, value: float, flag: str, corrected: float | None,
        low: float | None, high: float | None,
    ) -> None:  # fmt: skip
        code = _flag_code(flag)
        self.flag[row] = code
        if code == _ODD_FLAG:
            if self.odd is None:
                self.odd = {}
            self.odd[row] = flag
        elif self.odd is not None:
            self.odd.pop(row, None)
        extra, present = self.extra, self.present
        if corrected is None and low is None and high is None:
            if present is not None:
                present[row] = 0
            return
        if extra is None or present is None:
            extra = self.extra = array("d", bytes(24 * len(self.at)))
            present = self.present = bytearray(len(self.at))
        bits = 0
        base = 3 * row
        if corrected is not None:
            extra[base] = corrected
            bits |= _CORRECTED
        if low is not None:
            extra[base + 1] = low
            bits |= _LOW
        if high is not None:
            extra[base + 2] = high
            bits |= _HIGH
        present[row] = bits

    def flag_of(self, row: int) -> str:
        code = self.flag[row]
        if code == _ODD_FLAG and self.odd is not None:
            return self.odd[row]
        return _FLAG_TEXTS[code]

    def reading(self, row: int) -> Reading:
        """Row ``row`` as the ``Reading`` it was made from."""
        value, flag = self.value[row], self.flag_of(row)
        present = self.present
        if present is None or not present[row]:
            return Reading(value, flag)
        bits, extra, base = present[row], self.extra, 3 * row
        assert extra is not None
        return Reading(
            value,
            flag,
            extra[base] if bits & _CORRECTED else None,
            extra[base + 1] if bits & _LOW else None,
            extra[base + 2] if bits & _HIGH else None,
        )

    def rows_in_time_order(self) -> Iterable[int]:
        rows = range(len(self.at))
        return rows if self.ordered else sorted(rows, key=self.at.__getitem__)


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
    result: dict[int, MinuteValue] = {}
    invalid = INVALID_FOR_COMPLIANCE
    minutes = readings._minutes
    if minutes is not None:
        for row in range(len(minutes.at)):
            value, flag, corrected, low, high = minutes.reading(row)
            at = minutes.at[row]
            start = at - at % _MINUTE_US
            result[start] = MinuteValue(value, flag not in invalid, flag, corrected, low, high)
    rtd = readings._rtd
    if rtd is not None:
        grouped: dict[int, list[Reading]] = {}
        for row in rtd.rows_in_time_order():
            at = rtd.at[row]
            start = at - at % _MINUTE_US
            if start not in result:
                samples = grouped.get(start)
                if samples is None:
                    grouped[start] = [rtd.reading(row)]
                else:
                    samples.append(rtd.reading(row))
        for start, samples in grouped.items():
            result[start] = _minute_from_samples(samples, medium, normal_fraction)
    return {_moment(start): result[start] for start in sorted(result)}


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

"""What the engine reads back of what was written: the ``Store`` protocol, and ``MemoryStore``,
its in-memory implementation (the replay's database).

``Engine.prepare(measurements, store)`` asks a ``Store`` for the windows a batch needs and the
engine holds no state for (a restart, a rebalance, a new day, late data for a dropped day).
Two implementations answer the same contract (tests/integration/streams/test_store_contract.py
runs one suite against both): ``streams.store.PgStore`` over the sink's tables, and
``MemoryStore`` over what ``greenwatch replay`` has processed so far. So replay and streaming
hydrate by the same code, and equal by construction as long as both stores keep the contract.

Pure: no I/O here (``PgStore`` is the adapter).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Final, Protocol, TypeVar

from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.verdict import Rule, Verdict
from streams.domain.annual_substitution import SubstitutedLoad
from streams.domain.load_substitution import LOOK_BACK, StoredRates, quarter_start, staircase
from streams.domain.periods import HOUR, MINUTE, china_date, china_time, day_start, hour_start

DeviceHour = tuple[str, datetime]
"""(device MN, start of the China-time hour, aware UTC+8)."""
OutletYear = tuple[str, str, int]
"""(outlet id, factor, China calendar year)."""
RateKey = tuple[str, str, str, datetime]
"""(device MN, outlet id, factor, China day start): the valid hourly rates before that day."""

AGGREGATED: Final = frozenset({PeriodKind.RTD, PeriodKind.MINUTE})
"""Periods the engine aggregates; hour (2061) and day (2031) data are stored, not aggregated
(a 2061 pollutant value is only compared with our hour by the evasion rules)."""
RECENT_REACH: Final = timedelta(days=2)
"""How far from a batch's time a device's latest stored value is looked for (``recent``)."""
WATERMARK_REACH: Final = timedelta(hours=2)
"""How far past its last requested hour a device's stored watermark is looked for: enough
for a grace of up to an hour; a later watermark only makes the last hours read as minutes."""


@dataclass(frozen=True, slots=True)
class StoredYear:
    """What ``Store.daily_years`` found for one outlet, factor and China year: the stored
    daily loads (China day → kg) and the days' substitutions (HJ 75-2017)."""

    loads: dict[date, float] = field(default_factory=dict)
    substituted: dict[date, SubstitutedLoad] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredHours:
    """What ``Store.closed_hours`` found: per device, the watermark of its stored data in the
    requested range (None: no data); per requested device-hour, its hourly aggregates."""

    watermarks: dict[str, datetime | None]
    hourly: dict[DeviceHour, list[AggregateValue]]


class Store(Protocol):
    """Reads of what the sink (or the replay) has written. Every requested key is in each
    result (empty when nothing is stored). Implementations may block (I/O) and raise their
    own errors; the caller decides about retries."""

    def device_hours(self, keys: Iterable[DeviceHour]) -> Mapping[DeviceHour, list[Measurement]]:
        """Stored real-time and minute measurements of each device-hour, in time order."""
        ...

    def closed_hours(
        self, keys: Iterable[DeviceHour], outlets: Mapping[str, str], skew: timedelta
    ) -> StoredHours:
        """Stored hourly aggregates of each device-hour and each device's stored watermark
        (the latest rtd/minute event time, leaving out data more than ``skew`` ahead of their
        reception) over its requested hours and ``WATERMARK_REACH`` beyond. ``outlets``:
        device MN → outlet id; devices without an outlet are left out."""
        ...

    def stored_devices(
        self, spans: Mapping[str, tuple[datetime, datetime]], outlets: Mapping[str, str]
    ) -> set[str]:
        """The devices of ``spans`` (MN → [start, end)) that have a stored rtd or minute
        measurement (data beyond the clock-skew bound too) or an hourly aggregate of their
        outlet (``outlets``: MN → outlet id) starting in their span: at least every device
        for which ``device_hours`` or ``closed_hours`` over that span could find anything (it
        may say more, never less). ``Engine.prepare_frames`` holds the day of a new device it
        does not return without asking for its hours one by one."""
        ...

    def daily_years(self, keys: Iterable[OutletYear]) -> Mapping[OutletYear, StoredYear]:
        """Each outlet, factor and China year's stored daily loads (China day → kg) and the
        HJ 75-2017 substituted kg by method of its days (read from the stored daily load
        verdicts' evidence; days without substitution are absent), in one read: the two
        share their key and year window (``Engine.prepare``'s annual quota ledgers)."""
        ...

    def rate_histories(self, keys: Iterable[RateKey]) -> Mapping[RateKey, StoredRates]:
        """The valid hourly emission rates of each device, outlet and factor before the day
        (HJ 75-2017 substitution, ``load_substitution``): the staircase of the last
        ``LOOK_BACK``, how many, the latest valid hour, and the valid hours of the day's
        quarter before it. Every requested key is in the result."""
        ...

    def recent(
        self, anchors: Mapping[str, datetime], span: timedelta, skew: timedelta
    ) -> Mapping[str, list[Measurement]]:
        """Each device's latest stored rtd/minute measurements: those within ``span`` before
        its latest stored period start (data more than ``skew`` ahead of their reception
        left out) and up to it, in time order; the latest is looked for within
        ``RECENT_REACH`` of the device's ``anchors`` time. Every requested device is in the
        result. ``Engine.prepare`` rebuilds the signal state of a device from it."""
        ...


def event_end(measurement: Measurement) -> datetime:
    """The event time a stored rtd/minute value moves a watermark to (a minute's end)."""
    if measurement.period is PeriodKind.MINUTE:
        return measurement.period_start + MINUTE
    return measurement.period_start


class ColdHours(Protocol):
    """Where ``MemoryStore`` keeps minute values outside memory (``streams.replay_spill.
    SpilledHours``: a temporary file). Blocking I/O is allowed."""

    def append(self, hours: Mapping[DeviceHour, list[Measurement]]) -> None:
        """Add values of device-hours (one batch); a later value of the same natural key
        (factor, period, period start) replaces an earlier one."""
        ...

    def get(self, key: DeviceHour) -> list[Measurement]:
        """The device-hour's values, one per natural key, the latest written ([] when none)."""
        ...

    def hours(self) -> list[DeviceHour]:
        """Every device-hour that has values here (any order; hour starts may be in any time
        zone, the same instants as added)."""
        ...


HourValues = dict[tuple[str, PeriodKind, datetime], Measurement]
"""One device-hour's stored values by natural key (factor, period, period start)."""


class MemoryStore:
    """``Store`` over what was written to it: measurements by natural key (last write wins,
    like the sink's upsert) and the aggregates issued (hourly, and daily loads).

    With ``cold`` the minute values go there as they are added and are read from there when
    asked for (late data for a closed hour, a rebuilt day, a device's recent values): memory
    no longer grows with the input's minute values, and every read answers as if they were
    held. With ``hourly`` (``streams.replay_spill.SpilledAggregates``) the hourly aggregates
    go to a mapping that keeps them outside memory too. Rates and daily loads (a few floats per
    device-hour) stay in memory. Without either everything stays in memory."""

    def __init__(
        self,
        cold: ColdHours | None = None,
        hourly: MutableMapping[DeviceHour, dict[str, AggregateValue]] | None = None,
    ) -> None:
        self._minutes: dict[DeviceHour, HourValues] = {}
        self._hourly = hourly if hourly is not None else {}
        self._daily_loads: dict[OutletYear, dict[date, float]] = {}
        self._substitutions: dict[OutletYear, dict[date, SubstitutedLoad]] = {}
        self._rates: dict[tuple[str, str, str], dict[datetime, float | None]] = {}
        self._cold = cold
        self._spans: dict[str, tuple[datetime, datetime]] = {}
        """Per device, its first and last hour with values (held or in ``cold``): reads
        outside it find nothing without looking (a new device's day, its recent values)."""
        self._hourly_spans: dict[str, tuple[datetime, datetime]] = {}
        """Per device, its first and last hour with a recorded hourly aggregate."""

    def add(self, measurements: Iterable[Measurement]) -> None:
        """Write measurements (only rtd and minute values are read back)."""
        held: dict[DeviceHour, HourValues] = {} if self._cold is not None else self._minutes
        spans = self._spans
        bucket: HourValues = {}
        device, start = "", None
        for m in measurements:
            if m.period not in AGGREGATED:
                continue
            if m.period_start is not start or m.device_id is not device:  # a new frame
                device, start = m.device_id, m.period_start
                hour = hour_start(start)
                bucket = held.setdefault((device, hour), {})
                widen_span(spans, device, hour)
            bucket[(m.factor, m.period, start)] = m
        if self._cold is not None and held:
            self._cold.append({key: list(values.values()) for key, values in held.items()})

    def held_hours(self) -> int:
        """Device-hours whose minute values are held in memory (none with ``cold``)."""
        return len(self._minutes)

    def _hour_values(self, key: DeviceHour) -> Iterable[Measurement]:
        """A device-hour's stored values, from memory or ``cold``."""
        if self._cold is None:
            found = self._minutes.get(key)
            return () if found is None else found.values()
        span = self._spans.get(key[0])
        if span is None or not span[0] <= key[1] <= span[1]:
            return ()
        return self._cold.get(key)

    def record(self, outputs: Iterable[object]) -> None:
        """Write the aggregates among ``outputs`` (hourly ones and daily loads are read back)
        and the substitutions of the daily load verdicts (``daily_years``); other
        verdicts and signals are not read back."""
        for output in outputs:
            if isinstance(output, Verdict) and output.rule is Rule.DAILY_LOAD:
                self._record_substitution(output)
            if not isinstance(output, AggregateValue):
                continue
            if output.period is PeriodKind.HOUR:
                key = (output.device_id, hour_start(output.period_start))
                self._hourly.setdefault(key, {})[output.factor] = output
                widen_span(self._hourly_spans, output.device_id, key[1])
                rates = self._rates.setdefault(
                    (output.device_id, output.outlet_id, output.factor), {}
                )
                rate = output.emission_rate_kgh
                rates[key[1]] = rate if output.valid else None
            if output.period is PeriodKind.DAY:
                day = china_date(output.period_start)
                loads = self._daily_loads.setdefault(
                    (output.outlet_id, output.factor, day.year), {}
                )
                if output.load_kg is None:
                    loads.pop(day, None)
                else:
                    loads[day] = output.load_kg

    def device_hours(self, keys: Iterable[DeviceHour]) -> dict[DeviceHour, list[Measurement]]:
        found: dict[DeviceHour, list[Measurement]] = {}
        for device, hour in keys:
            key = (device, china_time(hour))
            stored = self._hour_values(key)
            found[key] = sorted(stored, key=_time_order) if stored else []
        return found

    def closed_hours(
        self, keys: Iterable[DeviceHour], outlets: Mapping[str, str], skew: timedelta
    ) -> StoredHours:
        wanted = {(d, china_time(h)) for d, h in keys if d in outlets}
        found = StoredHours({}, {})
        spans: dict[str, tuple[datetime, datetime]] = {}
        hourly, stored_hourly = found.hourly, self._hourly
        for key in wanted:
            device, hour = key
            widen_span(spans, device, hour)
            held = stored_hourly.get(key)
            outlet = outlets[device]
            hourly[key] = (
                [] if held is None else [a for a in held.values() if a.outlet_id == outlet]
            )
        for device, (first, last) in spans.items():
            found.watermarks[device] = _watermark(
                self._stored_between(device, first, last + HOUR + WATERMARK_REACH), skew
            )
        return found

    def stored_devices(
        self, spans: Mapping[str, tuple[datetime, datetime]], outlets: Mapping[str, str]
    ) -> set[str]:
        """Devices whose held hours (minute values, hourly aggregates of any outlet: more
        than asked, as the contract allows) meet their span; no per-hour look-up."""
        found: set[str] = set()
        for device, (start, end) in spans.items():
            for held in (self._spans.get(device), self._hourly_spans.get(device)):
                if held is not None and held[0] < end and held[1] + HOUR > start:
                    found.add(device)
                    break
        return found

    def daily_years(self, keys: Iterable[OutletYear]) -> dict[OutletYear, StoredYear]:
        return {
            key: StoredYear(
                dict(self._daily_loads.get(key, {})), dict(self._substitutions.get(key, {}))
            )
            for key in keys
        }

    def day_series(
        self,
    ) -> Iterator[tuple[datetime, dict[tuple[str, str], dict[datetime, float]]]]:
        """Each China day's stored values by (device, factor) and time stamp, minute values over
        real-time ones at the same time stamp (``streams.domain.identical``), one day at a time
        in day order (from ``cold`` too: a day's series is all that is held at once)."""
        held = self._cold.hours() if self._cold is not None else list(self._minutes)
        by_day = sorted((day_start(hour), device, hour) for device, hour in held)
        for day, keys in groupby(by_day, key=itemgetter(0)):
            series: dict[tuple[str, str], dict[datetime, float]] = {}
            for _, device, hour in keys:
                stored = self._hour_values((device, hour))
                for m in sorted(stored, key=lambda m: m.period is PeriodKind.MINUTE):
                    value = m.avg if m.avg is not None else m.rtd
                    if value is not None:
                        series.setdefault((device, m.factor), {})[m.period_start] = value
            if series:
                yield day, series

    def _record_substitution(self, verdict: Verdict) -> None:
        day = china_date(verdict.period_start)
        days = self._substitutions.setdefault((verdict.outlet_id, verdict.factor, day.year), {})
        found = SubstitutedLoad.from_evidence(verdict.evidence)
        if found is None:
            days.pop(day, None)
        else:
            days[day] = found

    def rate_histories(self, keys: Iterable[RateKey]) -> dict[RateKey, StoredRates]:
        found: dict[RateKey, StoredRates] = {}
        for device, outlet, factor, before in keys:
            before = china_time(before)
            rates = self._rates.get((device, outlet, factor), {})
            valid = [(h, r) for h, r in sorted(rates.items()) if h < before and r is not None]
            quarter = quarter_start(before)
            found[(device, outlet, factor, before)] = StoredRates(
                staircase([r for _, r in valid]),
                min(len(valid), LOOK_BACK),
                valid[-1][0] if valid else None,
                sum(1 for h, _ in valid if h >= quarter),
                next((h for h, _ in valid if h >= quarter), None),
            )
        return found

    def recent(
        self, anchors: Mapping[str, datetime], span: timedelta, skew: timedelta
    ) -> dict[str, list[Measurement]]:
        found: dict[str, list[Measurement]] = {}
        for device, anchor in anchors.items():
            near = self._stored_between(
                device, hour_start(anchor - RECENT_REACH), anchor + RECENT_REACH
            )
            found[device] = recent_of(near, span, skew)
        return found

    def _stored_between(self, device: str, start: datetime, end: datetime) -> list[Measurement]:
        span = self._spans.get(device)
        if span is None or end <= span[0] or start >= span[1] + HOUR:
            return []  # nothing stored in [start, end): no hour to look at
        hour, found = start, list[Measurement]()
        while hour < end:
            found.extend(self._hour_values((device, hour)))
            hour += HOUR
        return [m for m in found if start <= m.period_start < end]


K = TypeVar("K")


def widen_span(spans: dict[K, tuple[datetime, datetime]], key: K, hour: datetime) -> None:
    """Widen ``key``'s (first, last) hour span to take in ``hour`` (a new key: that hour)."""
    span = spans.get(key)
    if span is None:
        spans[key] = (hour, hour)
    elif hour < span[0]:
        spans[key] = (hour, span[1])
    elif hour > span[1]:
        spans[key] = (span[0], hour)


def _time_order(m: Measurement) -> tuple[datetime, str, PeriodKind]:
    return m.period_start, m.factor, m.period


def recent_of(stored: Sequence[Measurement], span: timedelta, skew: timedelta) -> list[Measurement]:
    """``stored`` within ``span`` before the latest period start not beyond ``skew``, in time
    order (the contract of ``Store.recent``)."""
    starts = [m.period_start for m in stored if m.period_start <= m.received_at + skew]
    if not starts:
        return []
    latest = max(starts)
    kept = [m for m in stored if latest - span < m.period_start <= latest]
    return sorted(kept, key=_time_order)


def _watermark(stored: Sequence[Measurement], skew: timedelta) -> datetime | None:
    ends = [event_end(m) for m in stored if m.period_start <= m.received_at + skew]
    return max(ends) if ends else None

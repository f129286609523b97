"""One meter's consumption by hour, day and month, and its completeness per day, derived
incrementally.

``MeterState`` holds everything posted for a meter and what was derived from it; ``add_*``
record new values and remember the earliest time touched. ``meter_consumption(meter, state,
…)`` re-derives only from the China day of the last accepted reading before that time
(``affected_from``) and returns the rows of the hours, days and months from there on:

- cumulative registers: the deltas of ``registers.register_deltas``, walked from the last
  accepted reading before that day (readings before it are unchanged, and so is whether each
  was accepted: that depends only on earlier readings), each spread over the hours it spans in
  proportion to time (a delta across an outage covers the outage, marked ``interpolated``,
  until back-filled readings split it: late data re-aggregate);
- interval quantities: real-time quantities over their ``interval_minutes``, day quantities
  over their day; month and year figures are kept as reported but not spread (they would
  double-count the finer data; the day-vs-month check is not built yet).

Completeness of a day = distinct real-time readings in it ÷ the expected number
(1440 ÷ interval_minutes), the key-energy-user rule. Live traffic (each batch appends a
few readings) re-derives about a day per meter, whatever the history held.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.energy import Meter, ReadingKind, StatType
from schemas.energy_reference import EnergyReference
from streams.domain.energy.conversion import convert
from streams.domain.energy.model import ConsumptionRow
from streams.domain.energy.registers import BACKWARDS, RegisterReading, register_deltas
from streams.domain.periods import DAY, HOUR, china_time, day_start, hour_start

INTERPOLATED = "interpolated"


@dataclass(slots=True)
class MeterState:
    """What is held for one meter: register values by instant (``instants`` sorted),
    quantities by (stat type, period start), the marks of the last walk, and per day the
    hourly quantities derived so far; ``dirty_from`` = earliest time touched since the last
    derivation (None: nothing new)."""

    registers: dict[datetime, float] = field(default_factory=dict)
    instants: list[datetime] = field(default_factory=list)
    quantities: dict[tuple[StatType, datetime], float] = field(default_factory=dict)
    realtime: list[datetime] = field(default_factory=list)
    marks: dict[datetime, frozenset[str]] = field(default_factory=dict)
    hourly: dict[datetime, float] = field(default_factory=dict)
    daily: dict[datetime, float] = field(default_factory=dict)
    dirty_from: datetime | None = None

    def add_register(self, at: datetime, raw: float) -> None:
        if at not in self.registers:
            insort(self.instants, at)
        self.registers[at] = raw
        self._touch(at)

    def add_quantity(self, stat: StatType, start: datetime, value: float) -> None:
        key = (stat, start)
        if stat is StatType.REALTIME and key not in self.quantities:
            insort(self.realtime, start)
        self.quantities[key] = value
        self._touch(start)

    def realtime_times(self) -> list[datetime]:
        """Sorted times of the real-time values (register instants or period starts)."""
        return self.instants if self.registers else self.realtime

    def _touch(self, at: datetime) -> None:
        if self.dirty_from is None or at < self.dirty_from:
            self.dirty_from = at


@dataclass(slots=True)
class MeterResult:
    rows: list[ConsumptionRow]
    """Rows of every hour, day and month from ``affected_from`` on (earlier ones unchanged)."""
    marks: dict[datetime, frozenset[str]]
    """Marks of the readings from ``affected_from`` on (an absent instant: none)."""
    affected_from: datetime | None


def meter_consumption(
    meter: Meter,
    enterprise_id: str,
    state: MeterState,
    reference: EnergyReference,
    region_code: str,
) -> MeterResult:
    """Re-derive ``meter`` from the day its new data can change; see the module docstring."""
    if state.dirty_from is None:
        return MeterResult([], {}, None)
    step = timedelta(minutes=meter.interval_minutes)
    if meter.kind is ReadingKind.CUMULATIVE:
        boundary, hourly, day_marks, marks = _registers(meter, state, step)
    else:
        boundary = day_start(state.dirty_from)
        hourly, day_marks, marks = _quantities(meter, state, step, boundary), {}, {}
    state.dirty_from = None
    for hour in [h for h in state.hourly if h >= boundary]:
        del state.hourly[hour]
    state.hourly.update(hourly)
    for at in [a for a in state.marks if a >= boundary]:
        del state.marks[at]
    state.marks.update(marks)
    rows: list[ConsumptionRow] = []
    for hour, quantity in sorted(hourly.items()):
        rows.append(_row(meter, enterprise_id, "hour", hour, quantity, reference, region_code))
    daily: dict[datetime, float] = defaultdict(float)
    for hour, quantity in hourly.items():
        daily[day_start(hour)] += quantity
    times = state.realtime_times()
    counts: dict[datetime, int] = defaultdict(int)
    for at in times[bisect_left(times, boundary) :]:
        counts[day_start(at)] += 1
    for day in [d for d in state.daily if d >= boundary]:
        del state.daily[day]
    expected = round(DAY / step)
    for day in sorted(set(daily) | set(counts)):
        state.daily[day] = daily.get(day, 0.0)
        rows.append(
            _row(
                meter,
                enterprise_id,
                "day",
                day,
                state.daily[day],
                reference,
                region_code,
                readings=counts.get(day, 0),
                expected=expected,
                marks=tuple(sorted(day_marks.get(day, ()))),
            )
        )
    first_month = boundary.replace(day=1)
    monthly: dict[datetime, float] = defaultdict(float)
    for day, quantity in state.daily.items():
        if day >= first_month:
            monthly[day.replace(day=1)] += quantity
    for month, quantity in sorted(monthly.items()):
        rows.append(_row(meter, enterprise_id, "month", month, quantity, reference, region_code))
    return MeterResult(rows, marks, boundary)


def _registers(
    meter: Meter, state: MeterState, step: timedelta
) -> tuple[
    datetime, dict[datetime, float], dict[datetime, set[str]], dict[datetime, frozenset[str]]
]:
    """(boundary, hourly quantities from it, marks per day, marks per reading) of a register."""
    assert state.dirty_from is not None
    instants = state.instants
    index = bisect_left(instants, state.dirty_from) - 1
    while index >= 0 and BACKWARDS in state.marks.get(instants[index], frozenset()):
        index -= 1  # the last accepted reading before the first new one
    boundary = day_start(instants[index]) if index >= 0 else day_start(instants[0])
    start = bisect_left(instants, boundary) - 1
    while start >= 0 and BACKWARDS in state.marks.get(instants[start], frozenset()):
        start -= 1  # the walk starts from the last accepted reading before the boundary
    start = max(start, 0)
    walk = register_deltas(
        meter, [RegisterReading(at, state.registers[at]) for at in instants[start:]]
    )
    hourly: dict[datetime, float] = defaultdict(float)
    day_marks: dict[datetime, set[str]] = defaultdict(set)
    for delta in walk.deltas:
        extra = {INTERPOLATED} if delta.end - delta.start > step * 1.5 else set()
        for hour, quantity in spread(delta.start, delta.end, delta.quantity):
            if hour >= boundary:
                hourly[hour] += quantity
                day_marks[day_start(hour)] |= delta.marks | extra
    marks = {at: m for at, m in walk.marks.items() if at >= boundary}
    for at, reading_marks in marks.items():
        day_marks[day_start(at)] |= reading_marks
    return boundary, hourly, day_marks, marks


def _quantities(
    meter: Meter, state: MeterState, step: timedelta, boundary: datetime
) -> dict[datetime, float]:
    hourly: dict[datetime, float] = defaultdict(float)
    for (stat, start), quantity in state.quantities.items():
        if stat is StatType.REALTIME:
            end = start + step
        elif stat is StatType.DAY:
            end = start + DAY
        else:
            continue
        if end <= boundary:
            continue
        for hour, part in spread(start, end, quantity * meter.multiplier):
            if hour >= boundary:
                hourly[hour] += part
    return hourly


def spread(start: datetime, end: datetime, quantity: float) -> list[tuple[datetime, float]]:
    """``quantity`` over [start, end) split into China-time hours in proportion to time."""
    if end <= start:
        return [(hour_start(end), quantity)]
    cursor = china_time(start)
    first = cursor.replace(minute=0, second=0, microsecond=0)
    if end <= first + HOUR:  # within one hour: the usual 15-min step
        return [(first, quantity)]
    total = (end - start).total_seconds()
    parts: list[tuple[datetime, float]] = []
    while cursor < end:
        hour = hour_start(cursor)
        upto = min(hour + HOUR, end)
        parts.append((hour, quantity * (upto - cursor).total_seconds() / total))
        cursor = upto
    return parts


def _row(
    meter: Meter,
    enterprise_id: str,
    period: str,
    start: datetime,
    quantity: float,
    reference: EnergyReference,
    region_code: str,
    readings: int | None = None,
    expected: int | None = None,
    marks: tuple[str, ...] = (),
) -> ConsumptionRow:
    converted = convert(
        reference, meter.carrier, quantity, start.year, region_code, feedstock=meter.feedstock
    )
    return ConsumptionRow(
        meter_id=meter.id,
        enterprise_id=enterprise_id,
        carrier=meter.carrier.value,
        product=meter.product,
        feedstock=meter.feedstock,
        period=period,
        period_start=start,
        quantity=quantity,
        kgce_calorific=converted.kgce_calorific,
        kgce_equivalent=converted.kgce_equivalent,
        co2_kg=converted.co2_kg,
        readings=readings,
        expected=expected,
        marks=marks,
        evidence=converted.evidence,
    )

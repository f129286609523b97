"""One meter's consumption by hour, day and month, and its completeness per day.

``meter_consumption(meter, state, ...)`` derives, from everything held for the meter, the
consumption rows of every hour, day and month it has data for:

- cumulative registers: the deltas of ``registers.register_deltas``, each spread over the hours
  it spans in proportion to time (a delta across an outage covers the outage, marked
  ``interpolated``, until back-filled readings split it: late data re-aggregate);
- interval quantities: real-time quantities over their ``interval_minutes``, day quantities
  over their day; month and year figures are kept as reported but not spread (they would
  double-count the finer data; the day-vs-month check is not built yet).

Completeness of a day = distinct real-time readings in it ÷ the expected number
(1440 ÷ interval_minutes), the key-energy-user rule; it is computed for every day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.energy import Meter, ReadingKind, StatType
from schemas.energy_reference import EnergyReference
from streams.domain.energy.conversion import convert
from streams.domain.energy.model import ConsumptionRow
from streams.domain.energy.registers import RegisterReading, register_deltas
from streams.domain.periods import DAY, HOUR, china_time, day_start, hour_start

INTERPOLATED = "interpolated"


@dataclass(slots=True)
class MeterState:
    """Everything held for one meter: register values by instant, quantities by
    (stat type, period start); the latest posted value of a key wins."""

    registers: dict[datetime, float] = field(default_factory=dict)
    quantities: dict[tuple[StatType, datetime], float] = field(default_factory=dict)

    def realtime_times(self) -> list[datetime]:
        if self.registers:
            return list(self.registers)
        return [at for (stat, at) in self.quantities if stat is StatType.REALTIME]


@dataclass(slots=True)
class MeterResult:
    rows: list[ConsumptionRow]
    marks: dict[datetime, frozenset[str]]


def meter_consumption(
    meter: Meter,
    enterprise_id: str,
    state: MeterState,
    reference: EnergyReference,
    region_code: str,
) -> MeterResult:
    """All consumption rows (hour, day, month) of ``meter`` from ``state``."""
    hourly: dict[datetime, float] = defaultdict(float)
    day_marks: dict[datetime, set[str]] = defaultdict(set)
    marks: dict[datetime, frozenset[str]] = {}
    step = timedelta(minutes=meter.interval_minutes)
    if meter.kind is ReadingKind.CUMULATIVE:
        readings = [RegisterReading(at, raw) for at, raw in sorted(state.registers.items())]
        walk = register_deltas(meter, readings)
        marks = walk.marks
        for delta in walk.deltas:
            extra = {INTERPOLATED} if delta.end - delta.start > step * 1.5 else set()
            for hour, quantity in spread(delta.start, delta.end, delta.quantity):
                hourly[hour] += quantity
                day_marks[day_start(hour)] |= delta.marks | extra
        for at, reading_marks in walk.marks.items():
            day_marks[day_start(at)] |= reading_marks
    else:
        for (stat, start), quantity in state.quantities.items():
            if stat is StatType.REALTIME:
                end = start + step
            elif stat is StatType.DAY:
                end = start + DAY
            else:
                continue
            for hour, part in spread(start, end, quantity * meter.multiplier):
                hourly[hour] += part
    counts: dict[datetime, int] = defaultdict(int)
    for at in set(state.realtime_times()):
        counts[day_start(at)] += 1
    expected = round(DAY / step)
    rows: list[ConsumptionRow] = []
    daily: dict[datetime, float] = defaultdict(float)
    for hour, quantity in sorted(hourly.items()):
        rows.append(_row(meter, enterprise_id, "hour", hour, quantity, reference, region_code))
        daily[day_start(hour)] += quantity
    for day in sorted(set(daily) | set(counts)):
        rows.append(
            _row(
                meter,
                enterprise_id,
                "day",
                day,
                daily.get(day, 0.0),
                reference,
                region_code,
                readings=counts.get(day, 0),
                expected=expected,
                marks=tuple(sorted(day_marks.get(day, ()))),
            )
        )
    monthly: dict[datetime, float] = defaultdict(float)
    for day, quantity in daily.items():
        monthly[day.replace(day=1)] += quantity
    for month, quantity in sorted(monthly.items()):
        rows.append(_row(meter, enterprise_id, "month", month, quantity, reference, region_code))
    return MeterResult(rows, marks)


def spread(start: datetime, end: datetime, quantity: float) -> list[tuple[datetime, float]]:
    """``quantity`` over [start, end) split into China-time hours in proportion to time."""
    if end <= start:
        return [(hour_start(end), quantity)]
    total = (end - start).total_seconds()
    parts: list[tuple[datetime, float]] = []
    cursor = china_time(start)
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

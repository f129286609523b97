"""The engine's compact hour buffer gives the minute values the dicts of readings gave.

``FactorReadings`` holds an hour's values as parallel arrays (docs/perf.md, "Fourth slice").
The oracle below is the form it replaced, written plainly: a dict of ``Reading``s per kind
keyed by the period start (insertion order kept, a re-sent period replacing its value in
place), minutes from device minutes first, then the real-time samples of minutes without
one. Random hours (re-sent and out-of-order values, odd flags, optional numbers, instants
in other time zones) must give the same minute values, re-sent records and return values.
"""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.hj212.packet import CHINA_TZ
from schemas.measurement import INVALID_FOR_COMPLIANCE, Measurement, PeriodKind
from schemas.registry import Medium
from streams.domain.minutes import (
    FactorReadings,
    MinuteValue,
    Reading,
    Resent,
    _minute_from_samples,
    minute_values,
)
from streams.domain.periods import minute_start

HOUR = datetime(2026, 3, 2, 10, tzinfo=CHINA_TZ)
ZONES = (CHINA_TZ, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)))
FLAGS = ("N", "N", "N", "T", "S", "F", "M", "C", "D", "B", "X", "Q?")


class DictReadings:
    """The oracle: one dict of readings per kind keyed by period start."""

    def __init__(self) -> None:
        self.rtd: dict[datetime, Reading] = {}
        self.minutes: dict[datetime, Reading] = {}
        self.resent: dict[tuple[PeriodKind, datetime], Resent] = {}

    def add(self, m: Measurement) -> bool:
        if m.period is PeriodKind.RTD:
            value, corrected, target = m.rtd, m.zs_rtd, self.rtd
        elif m.period is PeriodKind.MINUTE:
            value, corrected, target = m.avg, m.zs_avg, self.minutes
        else:
            return False
        if value is None:
            return False
        reading = Reading(value, m.flag, corrected, m.min, m.max)
        held = target.get(m.period_start)
        if held is not None and (held.value, held.flag) != (reading.value, reading.flag):
            known = self.resent.get((m.period, m.period_start))
            first = known.first if known is not None else held
            self.resent[(m.period, m.period_start)] = Resent(
                m.period, m.period_start, first, reading
            )
        target[m.period_start] = reading
        return True

    def minute_values(self, medium: Medium, fraction: float) -> dict[datetime, MinuteValue]:
        result: dict[datetime, MinuteValue] = {}
        for start, r in self.minutes.items():
            result[minute_start(start)] = MinuteValue(
                r.value, r.flag not in INVALID_FOR_COMPLIANCE, r.flag, *r[2:]
            )
        grouped: dict[datetime, list[Reading]] = {}
        for instant in sorted(self.rtd):
            if minute_start(instant) not in result:
                grouped.setdefault(minute_start(instant), []).append(self.rtd[instant])
        for start, samples in grouped.items():
            result[start] = _minute_from_samples(samples, medium, fraction)
        return dict(sorted(result.items()))


def _value(period: PeriodKind, at: datetime, value: float | None, flag: str = "N") -> Measurement:
    """A real-time (Rtd) or minute (Avg) value of SO2."""
    is_rtd = period is PeriodKind.RTD
    return Measurement(
        device_id="D1",
        factor="a21026",
        factor_as_sent="a21026",
        period=period,
        period_start=at,
        rtd=value if is_rtd else None,
        avg=None if is_rtd else value,
        flag=flag,
        received_at=at,
    )


numbers = st.one_of(
    st.none(),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([0.0, -0.0, 20.0, 20.5]),
)


@st.composite
def measurements(draw: st.DrawFn) -> Measurement:
    period = draw(st.sampled_from([PeriodKind.RTD, PeriodKind.MINUTE, PeriodKind.HOUR]))
    if period is PeriodKind.MINUTE:
        # on the minute as decoded, now and then not (two values of one minute)
        offset = timedelta(
            minutes=draw(st.integers(0, 59)), seconds=draw(st.sampled_from([0, 0, 30]))
        )
    else:  # a few seconds apart, often the same instant again (re-sent)
        offset = timedelta(
            seconds=draw(st.integers(0, 3599)) // 450 * 450 + draw(st.integers(0, 2))
        )
    start = (HOUR + offset).astimezone(draw(st.sampled_from(ZONES)))
    value = draw(st.one_of(st.none(), st.sampled_from([20.0, 20.5, 0.0]), numbers))
    is_rtd = period is PeriodKind.RTD
    numbers_sent = {
        "min": draw(numbers),
        "max": draw(numbers),
        "zs_rtd" if is_rtd else "zs_avg": draw(numbers),
        "received_at": HOUR + timedelta(hours=1),
    }
    flag = draw(st.sampled_from(FLAGS))
    return _value(period, start, value, flag).model_copy(update=numbers_sent)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(measurements(), max_size=60),
    st.sampled_from([Medium.GAS, Medium.WATER]),
    st.sampled_from([0.5, 0.75, 1.0]),
)
def test_compact_readings_give_the_minute_values_of_the_dicts(
    values: list[Measurement], medium: Medium, fraction: float
) -> None:
    compact, oracle = FactorReadings(), DictReadings()
    for m in values:
        assert compact.add(m) == oracle.add(m)
    got = minute_values(compact, medium, fraction)
    expected = oracle.minute_values(medium, fraction)
    assert list(got.items()) == list(expected.items())
    assert [k.tzinfo for k in got] == [k.tzinfo for k in expected]
    assert compact.resent == oracle.resent


def test_more_distinct_flags_than_a_byte_codes_keep_each_flag() -> None:
    """Flags beyond the code table (255 distinct ones) are kept per row, not lost."""
    compact, oracle = FactorReadings(), DictReadings()
    for second in range(300):
        m = _value(PeriodKind.RTD, HOUR + timedelta(seconds=second * 10), second, f"Z{second}")
        compact.add(m)
        oracle.add(m)
    for second in range(0, 300, 7):  # re-sent with a known flag: the odd one is replaced
        m = _value(PeriodKind.RTD, HOUR + timedelta(seconds=second * 10), 1.5)
        compact.add(m)
        oracle.add(m)
    got = minute_values(compact, Medium.WATER, 0.75)
    assert got == oracle.minute_values(Medium.WATER, 0.75)
    assert compact.resent == oracle.resent


def test_an_open_hour_holds_few_bytes_per_value() -> None:
    """What an hour of minute values keeps once its measurements are gone (the engine holds
    one per device, factor and open hour): about 150-200 bytes per value as dicts of named
    tuples keyed by datetime (each value's float and datetime kept alive), under 64 now."""
    hours, minutes = 100, 60
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = []
        for hour in range(hours):
            readings = FactorReadings()
            for minute in range(minutes):
                at = HOUR + timedelta(minutes=minute, microseconds=hour)  # fresh objects
                readings.add(_value(PeriodKind.MINUTE, at, 20.0 + minute + hour / 1000))
            held.append(readings)
        per_value = (tracemalloc.get_traced_memory()[0] - before) / (hours * minutes)
    finally:
        tracemalloc.stop()
    assert len(held) == hours
    assert per_value < 64, f"{per_value:.0f} bytes per held minute value"

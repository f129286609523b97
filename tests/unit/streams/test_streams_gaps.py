"""Silence in event time: a gap in a device's DataTime gives one retroactive ``silent`` pair
when its data resume, unless the wall clock already reported that outage."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from streams_support import GAS, SO2, T0, make_registry, measurement

from schemas.alert import QualityKind, QualitySignal
from schemas.measurement import Measurement, PeriodKind
from streams.domain.engine import Engine, Output

REGISTRY = make_registry()  # interval 60 s, silence after 5 intervals: 300 s allowed
MINUTE = timedelta(minutes=1)


def silent(outputs: list[Output]) -> list[QualitySignal]:
    return [o for o in outputs if isinstance(o, QualitySignal) and o.kind is QualityKind.SILENT]


def minute_at(index: int) -> Measurement:
    """SO2 minute ``index`` after T0, received when it ends."""
    return measurement(SO2, T0 + index * MINUTE, 10.0 + index % 7)


def test_a_two_hour_outage_gives_one_pair_stamped_in_event_time() -> None:
    engine = Engine(REGISTRY)
    before = engine.ingest([minute_at(i) for i in range(60)])  # 00:00–00:59, watermark 01:00
    resumed = engine.ingest([minute_at(i) for i in range(180, 190)])  # back at 03:00
    assert silent(before) == []
    start, end = silent(resumed)
    assert (start.active, start.observed_at) == (True, T0 + timedelta(hours=1, minutes=5))
    assert (end.active, end.observed_at) == (False, T0 + timedelta(hours=3))
    assert (
        start.detail
        == end.detail
        == {
            "basis": "event_time",
            "last_event_at": (T0 + timedelta(hours=1)).isoformat(),
            "resumed_at": (T0 + timedelta(hours=3)).isoformat(),
            "gap_seconds": 7200.0,
            "allowed_seconds": 300.0,
        }
    )
    assert (start.device_id, start.outlet_id, start.factor) == (GAS, "G1", None)


def test_the_allowed_silence_itself_is_no_gap() -> None:
    engine = Engine(REGISTRY)
    five_missing = [minute_at(0), minute_at(6)]  # 00:01 → 00:06: 300 s without data
    six_missing = [minute_at(7), minute_at(14)]  # 00:08 → 00:14: 360 s
    assert silent(engine.ingest(five_missing)) == []
    assert [s.active for s in silent(engine.ingest(six_missing))] == [True, False]


def test_real_time_data_count_from_their_sampling_instant() -> None:
    engine = Engine(REGISTRY)
    rtd = [
        measurement(SO2, T0 + timedelta(seconds=s), 10.0, period=PeriodKind.RTD)
        for s in (0, 30, 60, 360, 661)
    ]
    pairs = silent(engine.ingest(rtd))
    assert [(s.active, s.detail["gap_seconds"]) for s in pairs] == [(True, 301.0), (False, 301.0)]


def test_late_and_re_sent_data_never_make_a_gap() -> None:
    engine = Engine(REGISTRY)
    engine.ingest([minute_at(i) for i in range(100, 110)])
    late = [minute_at(i) for i in (0, 30, 60, 99)]  # older than the watermark, with holes
    assert silent(engine.ingest(late)) == []
    assert silent(engine.ingest([minute_at(110)])) == []


def test_an_outage_the_wall_clock_reported_gives_no_second_pair() -> None:
    engine = Engine(REGISTRY)
    engine.ingest([minute_at(i) for i in range(60)])  # last received 01:00
    [raised] = silent(engine.tick(T0 + timedelta(hours=1, minutes=6)))
    assert raised.active and raised.detail["basis"] == "wall_clock"
    late = engine.ingest([minute_at(10)])  # a re-sent minute: received, but no progress
    assert [s.active for s in silent(late)] == [False]
    resumed = engine.ingest([minute_at(180)])
    assert silent(resumed) == []
    again = engine.ingest([minute_at(300)])  # a later outage nobody ticked through
    assert [s.detail["basis"] for s in silent(again)] == ["event_time", "event_time"]


def test_future_data_beyond_the_clock_skew_bound_neither_end_nor_make_a_gap() -> None:
    engine = Engine(REGISTRY)
    engine.ingest([minute_at(0)])
    ahead = measurement(SO2, T0 + timedelta(hours=5), 10.0, received_at=T0 + 2 * MINUTE)
    assert silent(engine.ingest([ahead])) == []
    assert silent(engine.ingest([minute_at(2)])) == []


def _stream(steps: list[int]) -> list[Measurement]:
    minutes, index = [], 0
    for step in steps:
        index += step
        minutes.append(minute_at(index))
    return minutes


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
    late=st.lists(st.integers(min_value=0, max_value=59), max_size=8),
)
def test_each_gap_longer_than_allowed_gives_exactly_one_pair(
    steps: list[int], cuts: list[int], late: list[int]
) -> None:
    data = _stream(steps)
    # Late copies of earlier minutes go after the data they are older than.
    resent = {position: data[position % len(data)] for position in late}
    arrival: list[Measurement] = []
    for position, value in enumerate(data):
        arrival.append(value)
        if position in resent and resent[position].period_start <= value.period_start:
            arrival.append(resent[position])
    bounds = sorted({0, len(arrival), *(c % (len(arrival) + 1) for c in cuts)})
    engine = Engine(REGISTRY)
    found: list[QualitySignal] = []
    for low, high in pairwise(bounds):
        found += silent(engine.ingest(arrival[low:high]))

    gaps = [
        (previous.period_start + MINUTE, value.period_start)
        for previous, value in pairwise(data)
        if value.period_start - previous.period_start - MINUTE > timedelta(minutes=5)
    ]
    expected: list[tuple[bool, datetime]] = []
    for last, resumed in gaps:
        expected += [(True, last + timedelta(minutes=5)), (False, resumed)]
    assert [(s.active, s.observed_at) for s in found] == expected


def test_data_back_filled_after_the_resume_do_not_hide_the_gap_whatever_the_batching() -> None:
    """A unit back from a link loss sends its live minute, then re-sends the lost ones (补发):
    the gap is reported in one batch as in minute-by-minute batches (replay = streaming)."""
    live, lost = minute_at(180), [minute_at(i) for i in range(60, 180)]
    arrivals = [minute_at(i) for i in range(60)] + [live, *lost, minute_at(181)]

    whole = Engine(REGISTRY)
    in_one_batch = silent(whole.ingest(arrivals[:60])) + silent(whole.ingest(arrivals[60:]))
    one_by_one = Engine(REGISTRY)
    in_many = [s for m in arrivals for s in silent(one_by_one.ingest([m]))]

    assert [(s.active, s.observed_at) for s in in_one_batch] == [
        (True, T0 + timedelta(hours=1, minutes=5)),
        (False, T0 + timedelta(hours=3)),
    ]
    assert in_many == in_one_batch


def test_data_back_filled_before_the_live_data_close_the_gap_in_order() -> None:
    """Stored minutes re-sent before any live one: the record has no gap, nothing is reported."""
    engine = Engine(REGISTRY)
    engine.ingest([minute_at(i) for i in range(60)])
    assert silent(engine.ingest([minute_at(i) for i in range(60, 182)])) == []

"""A new device's day hydrated in one step (issue 15, fifth slice (engine)): the hours the store
holds nothing for are held per device at once (``Engine.hydrate_hours``,
``DeviceState.hold_hours``), with the same state and outputs as hydrating them one by one; and
the sink's COPY rows skip the key dictionary when the batch says its keys are distinct."""

from __future__ import annotations

from datetime import timedelta

from streams_support import GAS, O2, SO2, T0, make_registry, measurement

from schemas.measurement import Measurement
from streams.domain.engine import DeviceHour, Engine
from streams.domain.periods import day_hours, day_start
from streams.domain.windows import NOTHING_HELD
from streams.revisions import batch_source
from streams.sink import SourcePosition
from streams.store import _windows
from streams.upserts import measurement_rows

REGISTRY = make_registry()
DAY = day_start(T0 + timedelta(hours=5))
STORED_HOUR = DAY + timedelta(hours=3)
STORED: dict[DeviceHour, list[Measurement]] = {
    (GAS, STORED_HOUR): [
        measurement(SO2, STORED_HOUR + timedelta(minutes=m), 10.0 + m) for m in range(5)
    ]
}
BATCH = [
    measurement(factor, DAY + timedelta(hours=5, minutes=m), 12.0)
    for m in range(3)
    for factor in (SO2, O2)
]


def _hydrated_one_by_one() -> Engine:
    engine = Engine(REGISTRY)
    for key in [(GAS, hour) for hour in day_hours(DAY)]:
        engine.hydrate(key, STORED.get(key, []))
    return engine


def test_a_days_hours_with_nothing_stored_are_held_at_once_like_one_by_one() -> None:
    engine = Engine(REGISTRY)
    engine.hydrate_hours({(GAS, hour) for hour in day_hours(DAY)}, STORED)
    reference = _hydrated_one_by_one()
    assert engine.held_windows() == reference.held_windows() == (24, 1)
    assert engine.ingest(BATCH) == reference.ingest(BATCH)
    assert engine.close_all() == reference.close_all()


def test_held_hours_have_no_buffer_of_their_own_and_stored_ones_their_readings() -> None:
    engine = Engine(REGISTRY)
    engine.hydrate_hours({(GAS, hour) for hour in day_hours(DAY)}, STORED)
    assert not engine.missing_hours(BATCH)
    state = engine._devices[GAS]  # the held windows themselves
    assert list(state.hours[STORED_HOUR]) == [SO2]  # a buffer of its own, with the readings
    assert all(state.hours[h] is NOTHING_HELD for h in day_hours(DAY) if h != STORED_HOUR)
    assert list(state.days) == [DAY]


def test_copy_rows_of_a_key_sent_twice_keep_the_last() -> None:
    assert len(measurement_rows(BATCH)) == len(BATCH)
    twice = [*BATCH, BATCH[0]._replace(avg=99.0)]
    rows = measurement_rows(twice)
    assert len(rows) == len(BATCH) and rows[0][7] == 99.0  # the last of a key wins


def test_store_reads_one_range_per_device_and_china_day() -> None:
    day = day_hours(DAY)
    keys = [(GAS, h) for h in day] + [("B", day[23]), ("B", day[23] + timedelta(hours=1))]
    keys += [("B", day[5])]
    assert _windows(keys) == [
        ("B", day[5], day[23] + timedelta(hours=1)),
        ("B", day[23] + timedelta(hours=1), day[23] + timedelta(hours=2)),
        (GAS, day[0], day[23] + timedelta(hours=1)),
    ]


def test_a_batch_source_spans_each_partitions_offsets() -> None:
    shared = SourcePosition("raw", 0, 7)
    sources = {("D", f, "minute", T0): shared for f in (SO2, O2)}
    sources[("D", SO2, "minute", T0 + timedelta(minutes=1))] = SourcePosition("raw", 0, 3)
    sources[("E", SO2, "minute", T0)] = SourcePosition("raw", 1, 5)
    found = batch_source(sources)
    assert found is not None and found.obj == {
        "positions": [
            {"topic": "raw", "partition": 0, "first": 3, "last": 7},
            {"topic": "raw", "partition": 1, "first": 5, "last": 5},
        ]
    }

"""A new device's days hydrated without a read per hour (issue 15, eighth slice (engine)).

``Engine.prepare_frames`` asks the store once whether it holds anything in the days of the
devices that hold no hour (``Store.stored_devices``); a device of which it holds nothing gets
those days held at once, and its hours are never sent to ``closed_hours`` / ``device_hours``
(at 10 000 new devices that was ~24 keys a device through every layer of the store reads).
A device the store has data for is hydrated hour by hour as before, and every output is the
one the hour-by-hour hydration gives (a store that answers "every device" is that path)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from streams_support import COD, GAS, O2, SO2, T0, WATER, make_registry, measurement

from schemas.measurement import Measurement
from streams.domain.engine import Engine, Output
from streams.domain.periods import day_hours, day_start
from streams.domain.store import DeviceHour, MemoryStore, StoredHours
from streams.domain.windows import NOTHING_HELD

REGISTRY = make_registry()  # grace 10 minutes
MINUTE = timedelta(minutes=1)
DAY = day_start(T0 + timedelta(days=1))


class CountingStore(MemoryStore):
    """A ``MemoryStore`` that records the device-hours asked for; ``everyone`` answers
    ``stored_devices`` with every device asked about (what the contract allows: "at least"),
    which is the hour-by-hour hydration of before."""

    def __init__(self, *, everyone: bool = False) -> None:
        super().__init__()
        self.everyone = everyone
        self.asked: list[DeviceHour] = []

    def stored_devices(
        self, spans: Mapping[str, tuple[datetime, datetime]], outlets: Mapping[str, str]
    ) -> set[str]:
        return set(spans) if self.everyone else super().stored_devices(spans, outlets)

    def device_hours(self, keys: Iterable[DeviceHour]) -> dict[DeviceHour, list[Measurement]]:
        wanted = list(keys)
        self.asked.extend(wanted)
        return super().device_hours(wanted)

    def closed_hours(
        self, keys: Iterable[DeviceHour], outlets: Mapping[str, str], skew: timedelta
    ) -> StoredHours:
        wanted = list(keys)
        self.asked.extend(wanted)
        return super().closed_hours(wanted, outlets, skew)


def _minutes(start: datetime, count: int, value: float) -> list[Measurement]:
    return [
        m
        for i in range(count)
        for m in (
            measurement(SO2, start + i * MINUTE, value + i % 3),
            measurement(O2, start + i * MINUTE, 6.0),
            measurement(COD, start + i * MINUTE, 30.0 + i, device=WATER),
        )
    ]


BATCHES = [
    _minutes(DAY + timedelta(minutes=3), 20, 12.0),  # two new devices, one day each
    _minutes(DAY + timedelta(minutes=23), 50, 14.0),  # closes 00:00 (grace 10 min)
    _minutes(DAY + timedelta(hours=1, minutes=13), 5, 20.0),
]


def _run(store: CountingStore, engine: Engine | None = None) -> tuple[list[Output], Engine]:
    engine = engine or Engine(REGISTRY)
    outputs: list[Output] = []
    for batch in BATCHES:
        engine.prepare(batch, store)
        found = engine.ingest(batch)
        store.add(batch)
        store.record(found)
        outputs.extend(found)
    return [*outputs, *engine.close_all()], engine


def test_new_devices_the_store_has_nothing_of_are_held_without_a_read_per_hour() -> None:
    store = CountingStore()
    engine = Engine(REGISTRY)
    engine.prepare(BATCHES[0], store)

    assert store.asked == []  # on main: 96 device-hours (48 a device) through both reads
    yesterday = DAY - timedelta(days=1)  # 00:03 is within the grace: yesterday may be open
    for device in (GAS, WATER):
        state = engine._devices[device]
        assert set(state.hours) == {*day_hours(yesterday), *day_hours(DAY)}
        assert all(buffer is NOTHING_HELD for buffer in state.hours.values())
        assert sorted(state.days) == [yesterday, DAY]
    assert not engine.missing_hours(BATCHES[0])


def test_outputs_equal_the_hour_by_hour_hydration() -> None:
    fast, _ = _run(CountingStore())
    hour_by_hour_store = CountingStore(everyone=True)
    hour_by_hour, _ = _run(hour_by_hour_store)

    assert hour_by_hour_store.asked  # the reference did read hour by hour
    assert any(o for o in fast)  # aggregates, verdicts and signals, not an empty list
    assert fast == hour_by_hour


def test_a_restarted_engine_reads_the_hours_of_a_device_the_store_has_data_for() -> None:
    store = CountingStore()
    first = Engine(REGISTRY)
    for batch in BATCHES[:2]:
        first.prepare(batch, store)
        outputs = first.ingest(batch)
        store.add(batch)
        store.record(outputs)
    restarted = Engine(REGISTRY)  # holds nothing: both devices are new to it
    store.asked.clear()
    restarted.prepare(BATCHES[2], store)

    assert {d for d, _ in store.asked} == {GAS, WATER}  # their day is read back hour by hour
    assert restarted.ingest(BATCHES[2]) == first.ingest(BATCHES[2])
    assert restarted.close_all() == first.close_all()


def test_data_stored_just_after_the_day_count_as_the_watermark_read_would_see_them() -> None:
    """Only data stored within the watermark read's reach past the day (next day 00:20):
    the device is read hour by hour, and the late hour closes at once under that watermark."""
    next_day = DAY + timedelta(days=1)
    after = [measurement(SO2, next_day + timedelta(minutes=20 + i), 9.0) for i in range(10)]
    late = [measurement(SO2, DAY + timedelta(hours=23, minutes=40 + i), 11.0) for i in range(5)]
    outputs: dict[bool, list[Output]] = {}
    for everyone in (False, True):
        store = CountingStore(everyone=everyone)
        store.add(after)
        engine = Engine(REGISTRY)  # a restarted worker: the device holds no hour
        engine.prepare(late, store)
        assert {d for d, _ in store.asked} == {GAS}
        outputs[everyone] = engine.ingest(late)
    assert any(
        getattr(o, "period_start", None) == DAY + timedelta(hours=23) for o in outputs[False]
    )
    assert outputs[False] == outputs[True]

"""A worker's engine after a restart or a rebalance: hydration from stored hourly aggregates,
forgetting devices, and silence of devices it was told to expect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams_support import COD, GAS, SO2, T0, WATER, gas_minutes, make_registry, measurement

from schemas.alert import QualityKind, QualitySignal
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.verdict import Verdict
from streams.domain.engine import AGGREGATED, DeviceHour, Engine, Output
from streams.domain.periods import hour_start

REGISTRY = make_registry()  # grace 10 minutes
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


class Store:
    """What PostgreSQL holds after each committed batch (latest value per natural key)."""

    def __init__(self) -> None:
        self.measurements: dict[tuple[Any, ...], Measurement] = {}
        self.aggregates: dict[tuple[Any, ...], AggregateValue] = {}
        self.verdicts: dict[tuple[Any, ...], Verdict] = {}

    def add(self, batch: Sequence[Measurement], outputs: Sequence[Output]) -> None:
        for m in batch:
            self.measurements[(m.device_id, m.factor, m.period, m.period_start)] = m
        for o in outputs:
            if isinstance(o, AggregateValue):
                self.aggregates[(o.outlet_id, o.factor, o.period, o.period_start)] = o
            elif isinstance(o, Verdict):
                self.verdicts[(o.outlet_id, o.factor, o.rule, o.period_start)] = o

    def minutes(self, key: DeviceHour) -> list[Measurement]:
        return [
            m
            for m in self.measurements.values()
            if m.device_id == key[0] and hour_start(m.period_start) == key[1]
        ]

    def hourly(self, key: DeviceHour) -> list[AggregateValue]:
        return [
            a
            for a in self.aggregates.values()
            if a.device_id == key[0] and a.period is PeriodKind.HOUR and a.period_start == key[1]
        ]

    def daily_loads(self, outlet: str, factor: str) -> dict[date, float]:
        return {
            a.period_start.date(): a.load_kg
            for a in self.aggregates.values()
            if (a.outlet_id, a.factor, a.period) == (outlet, factor, PeriodKind.DAY)
            and a.load_kg is not None
        }

    def watermark(self, device: str, skew: timedelta) -> datetime | None:
        events = [
            m.period_start + (MINUTE if m.period is PeriodKind.MINUTE else timedelta(0))
            for m in self.measurements.values()
            if m.device_id == device
            and m.period in AGGREGATED
            and m.period_start <= m.received_at + skew
        ]
        return max(events, default=None)

    def latest(self) -> dict[tuple[Any, ...], dict[str, Any]]:
        rows = {k: a.model_dump() for k, a in self.aggregates.items()}
        rows.update({k: v.model_dump() for k, v in self.verdicts.items()})
        return rows


class Worker:
    """Drives an engine as ``streams.pipeline`` does: hydrate, ingest, then commit."""

    def __init__(self, store: Store, *, summaries: bool = True) -> None:
        self.engine = Engine(REGISTRY)
        self.store = store
        self.summaries = summaries
        self.minutes_read = 0

    def process(self, batch: Sequence[Measurement]) -> list[Output]:
        plan = self.engine.hydration_plan(batch)
        to_read = set(plan.minutes)
        if self.summaries:
            for device in sorted({d for d, _ in plan.closed}):
                self.engine.hydrate_watermark(
                    device, self.store.watermark(device, self.engine.skew)
                )
            for key in sorted(plan.closed):
                if not self.engine.hydrate_closed(key, self.store.hourly(key)):
                    to_read.add(key)
        else:
            to_read |= plan.closed
        for key in sorted(to_read):
            rows = self.store.minutes(key)
            self.minutes_read += len(rows)
            self.engine.hydrate(key, rows)
        for outlet, factor, year in sorted(self.engine.missing_years(batch)):
            self.engine.hydrate_year(outlet, factor, year, self.store.daily_loads(outlet, factor))
        outputs = self.engine.ingest(batch)
        self.store.add(batch, outputs)
        return outputs

    def tick(self, now: datetime) -> None:
        self.store.add([], self.engine.tick(now))


def _day(until_hour: int) -> list[Measurement]:
    """Gas minutes from 20:00 the day before T0 to ``until_hour`` on T0, with an exceedance
    (SO2 80 mg/m³) from 21:00 to 22:00 and one hour of flagged (invalid) minutes at 02:00."""
    data: list[Measurement] = []
    for index in range(-4, until_hour):
        hour = T0 + index * HOUR
        so2 = 80.0 if index == -3 else 10.0 + index
        data += gas_minutes(hour, so2, flag="D" if index == 2 else "N")
    return data


def _batches(data: list[Measurement], size: int) -> list[list[Measurement]]:
    ordered = sorted(data, key=lambda m: m.period_start)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def test_a_restart_late_in_the_day_reads_minutes_only_of_the_hours_it_needs() -> None:
    data = _day(18)
    before = [m for m in data if m.period_start < T0 + 15 * HOUR + 30 * MINUTE]
    after = [m for m in data if m.period_start >= T0 + 15 * HOUR + 30 * MINUTE]
    store = Store()
    running = Worker(store)
    for batch in _batches(before, 400):
        running.process(batch)

    restarted, full = Worker(store), Worker(_copy(store), summaries=False)
    first = _batches(after, 40)[0]  # 15:30 to 15:40
    restarted.process(first)
    full.process(first)
    # Hour 15 is open (the batch touches it) and hour 14 closes at 15:10 + grace: only hour
    # 15's 30 stored minutes (4 factors) are read; the rebuild from minutes reads all 15.5
    # hours of the day.
    assert restarted.minutes_read == 30 * 4
    assert full.minutes_read == (15 * 60 + 30) * 4
    rest = [m for m in after if m not in first]
    for each in (restarted, full):
        for batch in _batches(rest, 400):
            each.process(batch)
        each.store.add([], each.engine.close_all())
    assert restarted.store.latest() == full.store.latest()


def _copy(store: Store) -> Store:
    copy = Store()
    copy.measurements = dict(store.measurements)
    copy.aggregates = dict(store.aggregates)
    copy.verdicts = dict(store.verdicts)
    return copy


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    restart=st.integers(min_value=1, max_value=60),
    size=st.sampled_from([37, 200, 500]),
    tick_at=st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
)
def test_a_restart_anywhere_leaves_what_an_uninterrupted_worker_leaves(
    restart: int, size: int, tick_at: int | None
) -> None:
    # Includes midnight, an exceedance, an invalid hour, a late re-send of a closed hour, and
    # a tick that closes the open hour of a "silent" device whose data then keep coming.
    data = _day(4)
    late = [m.model_copy(update={"received_at": T0 + 3 * HOUR}) for m in gas_minutes(T0, 30.0)]
    batches = _batches(data, size)
    batches.insert(len(batches) * 3 // 4, late)
    cut = restart * len(batches) // 61
    reference, stored = Worker(Store()), Store()
    worker = Worker(stored)
    for index, batch in enumerate(batches):
        if index == cut:
            worker = Worker(stored)  # restart: a fresh engine over the same database
        for each in (reference, worker):
            each.process(batch)
            if tick_at is not None and index == tick_at * len(batches) // 61:
                each.tick(batch[-1].period_start + timedelta(days=1))
    for each in (reference, worker):
        each.store.add([], each.engine.close_all())
    assert stored.latest() == reference.store.latest()


def test_an_hour_closed_by_tick_then_continued_is_rebuilt_from_its_minutes() -> None:
    store = Store()
    worker = Worker(store)
    worker.process(gas_minutes(T0, 10.0, minutes=30))
    worker.tick(T0 + 2 * HOUR)  # silent: hour 00 is closed with 30 minutes and stored
    worker.process(gas_minutes(T0 + 30 * MINUTE, 10.0, minutes=30))  # hour 00 open again
    restarted = Worker(store)
    outputs = restarted.process(gas_minutes(T0 + HOUR, 10.0, minutes=15))
    [so2] = [
        o
        for o in outputs
        if isinstance(o, AggregateValue) and o.factor == SO2 and o.period is PeriodKind.HOUR
    ]
    assert (so2.period_start, so2.valid_count) == (T0, 60)


def test_expected_devices_are_reported_silent_without_any_data() -> None:
    engine = Engine(REGISTRY)  # interval 60 s, silence after 5 intervals
    engine.expect([GAS, "NOBODY"], T0)
    engine.expect([GAS], T0 + 2 * MINUTE)  # a later rebalance keeping the device
    assert engine.tick(T0 + 5 * MINUTE) == []
    [signal] = engine.tick(T0 + 5 * MINUTE + timedelta(seconds=1))
    assert isinstance(signal, QualitySignal)
    assert (signal.device_id, signal.kind, signal.active) == (GAS, QualityKind.SILENT, True)
    assert signal.detail["last_received_at"] is None
    assert signal.detail["expected_since"] == T0.isoformat()
    [cleared] = engine.ingest([measurement(SO2, T0 + 6 * MINUTE, 10.0)])
    assert isinstance(cleared, QualitySignal) and not cleared.active


def test_expecting_a_device_already_heard_from_keeps_its_last_reception() -> None:
    engine = Engine(REGISTRY)
    engine.ingest([measurement(COD, T0, 10.0, device=WATER)])  # received at T0 + 1 min
    engine.expect([WATER], T0 + HOUR)
    [signal] = engine.tick(T0 + 7 * MINUTE)
    assert isinstance(signal, QualitySignal) and signal.device_id == WATER


def test_forgotten_devices_lose_their_windows_and_are_hydrated_again() -> None:
    engine = Engine(REGISTRY)
    engine.ingest([*gas_minutes(T0, 10.0, minutes=5), measurement(COD, T0, 1.0, device=WATER)])
    assert engine.held_windows() == (2, 2)
    engine.forget([GAS])
    assert engine.held_windows() == (1, 1)
    assert engine.tick(T0 + HOUR) != []  # the water device is still watched
    assert {d for d, _ in engine.missing_hours(gas_minutes(T0, 10.0, minutes=1))} == {GAS}


def _event_time_silences(outputs: Sequence[Output]) -> list[tuple[bool, datetime, Any]]:
    return [
        (o.active, o.observed_at, o.detail)
        for o in outputs
        if isinstance(o, QualitySignal)
        and o.kind is QualityKind.SILENT
        and o.detail.get("basis") == "event_time"
    ]


@pytest.mark.parametrize("size", [29, 400])
def test_a_gap_spanning_a_restart_is_found_from_the_stored_watermark(size: int) -> None:
    # Data 00:00–03:00, nothing until 05:30 (the device was off), then data to 07:00; the
    # worker restarts before each batch in turn (the gap's end starts a batch).
    before = [m for h in range(3) for m in gas_minutes(T0 + h * HOUR, 12.0)]
    after = [
        *gas_minutes(T0 + 5 * HOUR + 30 * MINUTE, 12.0, minutes=30),
        *gas_minutes(T0 + 6 * HOUR, 12.0),
    ]
    batches = _batches(before, size) + _batches(after, size)
    reference: list[Output] = []
    uninterrupted = Worker(Store())
    for batch in batches:
        reference += uninterrupted.process(batch)
    expected = _event_time_silences(reference)
    assert [(active, at) for active, at, _ in expected] == [
        (True, T0 + 3 * HOUR + 5 * MINUTE),
        (False, T0 + 5 * HOUR + 30 * MINUTE),
    ]
    for cut in range(1, len(batches)):
        stored, found = Store(), []
        worker = Worker(stored)
        for index, batch in enumerate(batches):
            if index == cut:
                worker = Worker(stored)  # restart: a fresh engine over the same database
            found += worker.process(batch)
        assert _event_time_silences(found) == expected, f"restart before batch {cut}"

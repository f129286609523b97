"""The replay in bounded memory (issue 15): its store keeps the minute values in a private
file instead of memory, and answers every read as before."""

from __future__ import annotations

from datetime import datetime, timedelta

from streams_support import CHINA, GAS, SO2, gas_minutes, measurement
from test_streams_hot_path import EXPECTED, LINES, REGISTRY

from schemas.measurement import Measurement
from streams.domain.store import MemoryStore
from streams.replay import Replay
from streams.replay_spill import SpilledHours

H0 = datetime(2026, 3, 2, 20, 0, tzinfo=CHINA)
HOUR = timedelta(hours=1)
SKEW = timedelta(minutes=5)


def _hours(count: int) -> list[Measurement]:
    return [m for index in range(count) for m in gas_minutes(H0 + index * HOUR, 20.0 + index)]


def test_memory_holds_no_minute_values_whatever_the_input_length() -> None:
    for hours in (3, 12):
        store = MemoryStore(cold=SpilledHours())
        for index in range(hours):
            store.add(gas_minutes(H0 + index * HOUR, 20.0))
        assert store.held_hours() == 0
        newest = (GAS, H0 + (hours - 1) * HOUR)
        assert len(store.device_hours([newest])[newest]) == 60 * 4  # read back from the file


def test_a_spilled_store_answers_every_read_as_one_holding_everything() -> None:
    everything, spilled = MemoryStore(), MemoryStore(cold=SpilledHours())
    late = measurement(SO2, H0 + timedelta(minutes=7), 99.0, received_at=H0 + 9 * HOUR)
    for store in (everything, spilled):
        store.add(_hours(8))
        store.add([late])  # a re-sent minute of a spilled hour, last write wins
        store.add(gas_minutes(H0 + 8 * HOUR, 30.0, minutes=5))
    keys = [(GAS, H0 + index * HOUR) for index in range(10)]
    assert spilled.device_hours(keys) == everything.device_hours(keys)
    resent = [m for m in spilled.device_hours(keys)[(GAS, H0)] if m.factor == SO2]
    assert resent[7].avg == 99.0 and resent[8].avg == 20.0
    assert spilled.closed_hours(keys, {GAS: "G1"}, SKEW) == everything.closed_hours(
        keys, {GAS: "G1"}, SKEW
    )
    anchors = {GAS: H0 + 8 * HOUR}
    assert spilled.recent(anchors, 3 * HOUR, SKEW) == everything.recent(anchors, 3 * HOUR, SKEW)
    assert spilled.held_hours() == 0 and everything.held_hours() == 9
    # the cross-device evasion step's input (issue 13), day by day, across a China midnight
    days = list(spilled.day_series())
    assert days == list(everything.day_series())
    assert len(days) == 2 and days[0][1][(GAS, SO2)][H0 + timedelta(minutes=7)] == 99.0


def test_replay_with_a_spilled_store_equals_one_holding_everything() -> None:
    """The episode of test_streams_hot_path (an outage back-filled after the live data, a
    minute re-sent hours late) with the minute values in the file."""
    everything = Replay(REGISTRY, include_quality=True, store=MemoryStore())
    spilled = Replay(REGISTRY, include_quality=True, store=MemoryStore(cold=SpilledHours()))
    for replay in (everything, spilled):
        replay.feed_lines(LINES, batch_lines=50)
    assert everything.finish() == EXPECTED
    assert spilled.finish() == EXPECTED

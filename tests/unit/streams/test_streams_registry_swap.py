"""A new registry version swapped into a running engine (``Engine.use_registry``): the hours
that close after the swap are judged under the new limits and carry the new version, the
hours closed before keep theirs; removed devices are dropped, added ones start; an equal
registry changes nothing."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams_support import (
    ADDED,
    COD,
    GAS,
    SO2,
    T0,
    WATER,
    edition,
    gas_minutes,
    make_registry,
    measurement,
    registry_document,
)
from test_streams_engine import EPISODE, hourly, verdicts

from schemas.measurement import AggregateValue, PeriodKind
from schemas.registry import parse_registry
from schemas.verdict import VerdictStatus
from streams.domain.engine import Engine
from streams.replay import Replay

HOUR = timedelta(hours=1)


def test_an_hour_closing_after_the_swap_is_judged_under_the_new_limit_and_version() -> None:
    engine = Engine(make_registry())  # SO2 limit 35 mg/m³ (ULE-coal-power), grace 10 min
    before = engine.ingest(gas_minutes(T0, 20.0) + gas_minutes(T0 + HOUR, 20.0, minutes=10))
    [hour0] = verdicts(before)
    assert (hour0.status, hour0.limit, hour0.registry_version) == (
        VerdictStatus.COMPLIANT,
        35.0,
        "test-1",
    )

    swap = engine.use_registry(edition("test-2", so2_limit=15.0))

    assert (swap.previous_version, swap.version, swap.dropped) == ("test-1", "test-2", ())
    after = engine.ingest(gas_minutes(T0 + HOUR + timedelta(minutes=10), 20.0, minutes=60))
    [hour1] = verdicts(after)
    assert hour1.period_start == T0 + HOUR
    assert (hour1.status, hour1.limit, hour1.registry_version) == (
        VerdictStatus.EXCEEDANCE,
        15.0,
        "test-2",
    )
    assert hour1.standard == "permit:G1"
    [aggregate] = hourly(after)
    assert aggregate.valid_count == 60  # the 10 minutes held across the swap count
    assert aggregate.registry_version == "test-2"
    assert [v.period_start for v in verdicts(after)] == [T0 + HOUR]  # hour 0 not re-judged


def test_a_day_closing_after_the_swap_carries_the_new_version() -> None:
    engine = Engine(make_registry())
    for index in range(24):
        engine.ingest(gas_minutes(T0 + index * HOUR, 10.0))
    engine.use_registry(edition("test-2"))
    closing = engine.ingest(gas_minutes(T0 + 24 * HOUR, 10.0, minutes=11))
    daily = [o for o in closing if isinstance(o, AggregateValue) and o.period is PeriodKind.DAY]
    assert {d.registry_version for d in daily} == {"test-2"}
    assert [d.valid_count for d in daily if d.factor == SO2] == [24]


def test_a_removed_device_is_dropped_and_its_later_data_skipped() -> None:
    engine = Engine(make_registry())
    engine.ingest([measurement(COD, T0 + timedelta(minutes=m), 30.0, device=WATER)
                   for m in range(30)])  # fmt: skip
    engine.ingest(gas_minutes(T0, 20.0, minutes=30))
    assert engine.held_windows() == (2, 2)

    swap = engine.use_registry(edition("test-2", without_water=True))

    assert swap.dropped == (WATER,)
    assert engine.held_windows() == (1, 1)  # the gas device keeps its open hour
    later = engine.ingest([measurement(COD, T0 + 2 * HOUR, 30.0, device=WATER)])
    assert later == [] and engine.skipped == 1
    closed = engine.close_all() + engine.tick(T0 + 30 * HOUR)
    assert {o.device_id for o in closed if hasattr(o, "device_id")} == {GAS}


def test_an_added_device_starts_on_its_first_data() -> None:
    engine = Engine(make_registry())
    early = measurement(SO2, T0, 20.0, device=ADDED)
    assert engine.ingest([early]) == [] and engine.skipped == 1  # unknown to test-1

    engine.use_registry(edition("test-2", added=ADDED))

    data = [measurement(SO2, T0 + HOUR + timedelta(minutes=m), 20.0, device=ADDED)
            for m in range(71)]  # fmt: skip
    [aggregate] = hourly(engine.ingest(data))
    assert (aggregate.device_id, aggregate.outlet_id) == (ADDED, "G1")
    assert (aggregate.period_start, aggregate.registry_version) == (T0 + HOUR, "test-2")
    assert engine.skipped == 1


def test_a_tightened_policy_applies_after_the_swap() -> None:
    engine = Engine(make_registry())  # grace 10 min
    engine.ingest(gas_minutes(T0, 20.0))
    engine.use_registry(parse_registry({**registry_document(grace_minutes=30), "version": "p"}))
    assert hourly(engine.ingest(gas_minutes(T0 + HOUR, 20.0, minutes=11))) == []
    [hour0] = hourly(engine.ingest(gas_minutes(T0 + HOUR + timedelta(minutes=11), 20.0,
                                               minutes=20)))  # fmt: skip
    assert hour0.registry_version == "p"


BASELINE = Replay(make_registry(), include_quality=True)
for _m in EPISODE:
    BASELINE.process([_m])
UNSWAPPED = BASELINE.finish()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    swaps=st.integers(min_value=1, max_value=12),
)
def test_swapping_in_an_equal_registry_changes_no_output(seed: int, swaps: int) -> None:
    cuts = set(random.Random(seed).sample(range(1, len(EPISODE)), swaps))
    replay = Replay(make_registry(), include_quality=True)
    for index, one in enumerate(EPISODE):
        if index in cuts:
            replay.use_registry(make_registry())  # an equal registry, another object
        replay.process([one])
    assert replay.finish() == UNSWAPPED


def test_the_same_episode_under_a_lower_limit_does_change_the_verdicts() -> None:
    # The property above could not fail if swaps were ignored: a swap that matters shows.
    replay = Replay(make_registry(), include_quality=True)
    replay.use_registry(edition("test-1", so2_limit=1.0))
    for one in EPISODE:
        replay.process([one])
    assert replay.finish() != UNSWAPPED

"""HJ 75-2017 substitution wired into the daily load (issue 13 item 5): the hours of a day
with no data are filled by the maximum of the previous valid hourly rates, marked with their
method code, shown apart from the measured load, and the same after a restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from streams_support import SO2, T0, gas_minutes, make_registry, pick

from schemas.measurement import Measurement
from schemas.verdict import Verdict
from streams.domain.engine import Engine
from streams.domain.load_substitution import RateHistory, StoredRates, staircase
from streams.domain.store import MemoryStore
from streams.replay import Replay

REGISTRY = make_registry()
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MISSING = range(10, 14)
"""Hours of day 2 without data (a 4-hour gap)."""


def hour_of(index: int, so2: float) -> list[Measurement]:
    return gas_minutes(T0 + index * HOUR, so2)


def two_days() -> list[list[Measurement]]:
    """Day 1 complete (hour 5 at 50 mg/m³, the rest 20), day 2 without hours 10–13."""
    first = [hour_of(h, 50.0 if h == 5 else 20.0) for h in range(24)]
    second = [hour_of(24 + h, 20.0) for h in range(24) if h not in MISSING]
    return [*first, *second, gas_minutes(T0 + 48 * HOUR, 20.0, minutes=15)]


def daily_load(rows: list[dict[str, Any]], day: int) -> dict[str, Any]:
    start = (T0 + day * DAY).isoformat()
    [verdict] = pick(rows, "verdict", rule="daily_load", factor=SO2, period_start=start)
    return verdict


def hourly_rate(rows: list[dict[str, Any]], hour: int) -> float:
    start = (T0 + hour * HOUR).isoformat()
    [row] = pick(rows, "hourly", factor=SO2, period_start=start)
    return float(row["emission_rate_kgh"])


def test_a_gap_is_filled_by_the_max_of_the_previous_180_valid_hours_apart_from_measured() -> None:
    replay = Replay(REGISTRY)
    for batch in two_days():
        replay.process(batch)
    rows = replay.finish()
    verdict = daily_load(rows, 1)
    evidence = verdict["evidence"]
    peak = hourly_rate(rows, 5)  # the highest valid rate before the gap
    assert [h["hour"] for h in evidence["substituted_hours"]] == [
        (T0 + DAY + h * HOUR).isoformat() for h in MISSING
    ]
    assert {
        (h["method"], h["rate_kgh"], h["gap_hours"]) for h in evidence["substituted_hours"]
    } == {("hj75_max180", peak, 4)}
    assert evidence["quarter_capture_rate"] == pytest.approx(44 / 48)
    measured = evidence["measured_load_kg"]
    assert evidence["substituted_load_kg"] == pytest.approx(4 * peak)
    assert verdict["value"] == pytest.approx(measured + 4 * peak)
    [day2] = pick(rows, "daily", factor=SO2, period_start=(T0 + DAY).isoformat())
    assert day2["load_kg"] == pytest.approx(measured)  # the daily value stays measured only
    assert "substituted_hours" not in daily_load(rows, 0)["evidence"]  # day 1 had no gap


def outputs(batches: Sequence[list[Measurement]], restart_before: int | None) -> list[Any]:
    store = MemoryStore()
    engine = Engine(REGISTRY)
    latest: dict[Any, Verdict] = {}
    for index, batch in enumerate(batches):
        if index == restart_before:
            engine = Engine(REGISTRY)
        engine.prepare(batch, store)
        store.add(batch)
        out = engine.ingest(batch)
        store.record(out)
        for o in out:
            if isinstance(o, Verdict) and o.rule.value == "daily_load":
                latest[o.period_start] = o
    return [latest[k].model_dump() for k in sorted(latest)]


def test_a_worker_restarted_on_the_second_day_substitutes_the_same() -> None:
    batches = two_days()
    assert outputs(batches, restart_before=30) == outputs(batches, restart_before=None)


def test_below_75_percent_capture_nothing_is_substituted_and_the_hours_say_so() -> None:
    """A day with 14 of 24 hours: capture 58 %: no tier of HJ 75-2017 applies."""
    replay = Replay(REGISTRY)
    for h in range(24):
        if h < 14:
            replay.process(hour_of(h, 20.0))
    replay.process(gas_minutes(T0 + DAY, 20.0, minutes=15))
    evidence = daily_load(replay.finish(), 0)["evidence"]
    assert evidence["substituted_hours"] == [] and evidence["unsubstituted_hours"] == 10
    assert evidence["substituted_load_kg"] == 0.0


def test_the_staircase_keeps_what_the_max_of_any_suffix_needs() -> None:
    rates = [5.0, 9.0, 3.0, 7.0, 2.0, 4.0]
    history = RateHistory.of(T0, [(T0 + i * HOUR, r) for i, r in enumerate(rates)], 0)
    for count in range(1, 7):
        assert history.max_of_last(count) == max(rates[-count:])
    assert staircase(rates) == ((0, 4.0), (2, 7.0), (4, 9.0))  # (valid hours after, rate)
    stored = RateHistory.stored(T0, StoredRates(staircase(rates), len(rates), T0 + 5 * HOUR))
    assert [stored.max_of_last(c) for c in range(1, 7)] == [
        history.max_of_last(c) for c in range(1, 7)
    ]

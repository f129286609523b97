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


def outputs(
    batches: Sequence[list[Measurement]], restart_before: int | None, rule: str = "daily_load"
) -> list[Any]:
    """The latest ``rule`` verdicts of an engine over a store, restarted before a batch."""
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
        for o in [*out, *(engine.close_all() if index == len(batches) - 1 else [])]:
            if isinstance(o, Verdict) and o.rule.value == rule:
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


def annual_load(rows: list[dict[str, Any]], day: int) -> dict[str, Any]:
    start = (T0 + day * DAY).isoformat()
    [verdict] = pick(rows, "verdict", rule="annual_load", factor=SO2, period_start=start)
    return verdict


def test_the_annual_load_judges_measured_plus_substituted_and_shows_them_apart() -> None:
    """Worked example (issue 13 item 5): day 1 complete, day 2 missing hours 10–13. Through
    day 2 the year holds the two measured daily loads plus the 4 substituted hours at the
    maximum valid rate before the gap (method hj75_max180)."""
    replay = Replay(REGISTRY)
    for batch in two_days():
        replay.process(batch)
    rows = replay.finish()
    peak = hourly_rate(rows, 5)
    [day1, day2] = (
        pick(rows, "daily", factor=SO2, period_start=(T0 + d * DAY).isoformat())[0] for d in (0, 1)
    )
    measured = day1["load_kg"] + day2["load_kg"]
    first = annual_load(rows, 0)["evidence"]
    assert "ytd_substituted_load_kg" not in first  # nothing substituted through day 1
    verdict = annual_load(rows, 1)
    evidence = verdict["evidence"]
    assert evidence["ytd_measured_load_kg"] == pytest.approx(measured)
    assert evidence["ytd_substituted_load_kg"] == pytest.approx(4 * peak)
    assert evidence["substituted_hours"] == 4
    assert evidence["substituted_by_method"] == {
        "hj75_max180": {"hours": 4, "load_kg": pytest.approx(4 * peak)}
    }
    assert evidence["days_with_substitution"] == 1
    assert verdict["value"] == pytest.approx(measured + 4 * peak)
    assert evidence["ytd_load_kg"] == pytest.approx(measured + 4 * peak)


def three_days() -> list[list[Measurement]]:
    """``two_days`` and a complete third day: its annual verdict counts day 2's substitution."""
    third = [hour_of(48 + h, 20.0) for h in range(24)]
    return [*two_days()[:-1], *third, gas_minutes(T0 + 72 * HOUR, 20.0, minutes=15)]


def test_a_worker_restarted_after_a_substituted_day_keeps_it_in_the_annual_load() -> None:
    batches = three_days()
    restarted = outputs(batches, 60, "annual_load")  # during day 3: day 2 is stored
    assert restarted == outputs(batches, None, "annual_load")
    assert restarted[-1]["evidence"]["ytd_substituted_load_kg"] > 0

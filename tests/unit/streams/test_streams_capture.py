"""Why an hour or a day is invalid (issue 13 item 3): the hourly verdict names the cause
(flags or too few minutes) and the flags beyond their allowance; a day with too few data
gives a ``low_capture`` signal, cleared by a day with enough."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from streams_support import SO2, T0, gas_minutes, make_registry, pick

from streams.replay import Replay

HOUR = timedelta(hours=1)


def hourly_evidence(rows: list[dict[str, Any]], hour: int) -> dict[str, Any]:
    start = (T0 + hour * HOUR).isoformat()
    [verdict] = pick(rows, "verdict", rule="hourly_concentration", period_start=start)
    return dict(verdict["evidence"])


def flagged_hour(start: Any, flagged: int, flag: str = "C") -> list[Any]:
    return gas_minutes(start, 20.0, minutes=flagged, flag=flag) + gas_minutes(
        start + timedelta(minutes=flagged), 20.0, minutes=60 - flagged
    )


def run(*batches: list[Any]) -> list[dict[str, Any]]:
    replay = Replay(make_registry(), include_quality=True)
    for batch in batches:
        replay.process(batch)
    return replay.finish()


def test_an_hour_with_20_of_60_minutes_is_invalid_for_low_capture() -> None:
    rows = run(gas_minutes(T0, 20.0, minutes=20), gas_minutes(T0 + HOUR, 20.0))
    evidence = hourly_evidence(rows, 0)
    assert evidence["invalid_cause"] == "low_capture"
    assert "invalid_cause" not in hourly_evidence(rows, 1)


def test_an_hour_invalid_by_flags_names_the_flags_beyond_the_allowance() -> None:
    rows = run(flagged_hour(T0, 40, flag="M"), gas_minutes(T0 + HOUR, 20.0))
    evidence = hourly_evidence(rows, 0)
    assert evidence["invalid_cause"] == "flags"
    assert evidence["flag_allowance_exceeded"] == ["M"]  # M has no allowance


def test_a_calibration_within_its_allowance_is_not_beyond_it() -> None:
    rows = run(flagged_hour(T0, 20), gas_minutes(T0 + HOUR, 20.0, minutes=9))
    evidence = hourly_evidence(rows, 0)
    assert evidence["flag_allowance_exceeded"] == [] and evidence["invalid_cause"] == "flags"


def test_a_day_with_too_few_hours_reported_raises_low_capture_and_a_full_day_clears_it() -> None:
    short_day = [m for h in range(10) for m in gas_minutes(T0 + h * HOUR, 20.0)]
    full_day = [m for h in range(24, 48) for m in gas_minutes(T0 + h * HOUR, 20.0)]
    rows = run(short_day, full_day, gas_minutes(T0 + 48 * HOUR, 20.0, minutes=5))
    days = [
        (r["observed_at"], r["active"], r["detail"]["valid_hours"])
        for r in pick(rows, "quality", signal="low_capture", factor=SO2)
    ]
    assert days[:2] == [
        ((T0 + 24 * HOUR).isoformat(), True, 10),
        ((T0 + 48 * HOUR).isoformat(), False, 24),
    ]


def test_a_day_invalid_only_by_flags_is_not_low_capture() -> None:
    day = [m for h in range(24) for m in flagged_hour(T0 + h * HOUR, 30 if h < 10 else 0)]
    rows = run(day, gas_minutes(T0 + 24 * HOUR, 20.0, minutes=5))
    [first] = pick(rows, "quality", signal="low_capture", factor=SO2)[:1]
    assert first["active"] is False and first["detail"]["hours_invalid_by_flags"] == 10

"""Re-sent data whose values differ from what was first held are flagged as such (issue 13,
item 2): the hourly verdict's evidence lists them, first and re-sent value side by side."""

from __future__ import annotations

from datetime import timedelta

from streams_support import T0, gas_minutes, make_registry, pick

from streams.replay import Replay

REGISTRY = make_registry()
HOUR = timedelta(hours=1)


def hour_zero(replay: Replay) -> dict[str, object]:
    [verdict] = pick(
        replay.finish(), "verdict", rule="hourly_concentration", period_start=T0.isoformat()
    )
    return verdict


def test_minutes_resent_lower_after_an_exceedance_are_flagged_in_the_verdict() -> None:
    replay = Replay(REGISTRY)
    replay.process(gas_minutes(T0, 100.0))
    replay.process(gas_minutes(T0 + HOUR, 20.0, minutes=15))  # closes hour 0
    assert hour_zero(replay)["status"] == "exceedance"
    replay.process(gas_minutes(T0, 5.0))  # the enterprise re-sends the hour at 5.0
    verdict = hour_zero(replay)
    assert verdict["status"] == "compliant"
    evidence = verdict["evidence"]
    assert evidence["resent_values"] == 60
    first = evidence["resent"][0]
    assert first["period_start"] == T0.isoformat() and first["period"] == "minute"
    assert (first["first"], first["resent"]) == (100.0, 5.0)
    assert len(evidence["resent"]) == 10


def test_the_first_value_is_kept_across_several_resends_of_an_open_hour() -> None:
    replay = Replay(REGISTRY)
    replay.process(gas_minutes(T0, 100.0, minutes=1))
    replay.process(gas_minutes(T0, 60.0, minutes=1))
    replay.process(gas_minutes(T0, 5.0, minutes=1))
    replay.process(gas_minutes(T0 + HOUR, 20.0, minutes=15))
    [resent] = hour_zero(replay)["evidence"]["resent"]
    assert (resent["first"], resent["resent"]) == (100.0, 5.0)


def test_identical_resends_and_late_gap_filling_are_not_flagged() -> None:
    replay = Replay(REGISTRY)
    replay.process(gas_minutes(T0, 20.0, minutes=45))
    replay.process(gas_minutes(T0, 20.0, minutes=45))  # re-sent, same values
    replay.process(gas_minutes(T0 + HOUR, 20.0, minutes=15))
    replay.process(gas_minutes(T0 + timedelta(minutes=45), 20.0, minutes=15))  # late, new
    evidence = hour_zero(replay)["evidence"]
    assert "resent" not in evidence and "resent_values" not in evidence

"""Data-quality signals: emitted when a condition starts and when it ends, never per value."""

from __future__ import annotations

from datetime import timedelta

from streams_support import COD, GAS, SO2, T0, WATER, make_registry, measurement

from schemas.alert import QualityKind, QualitySignal
from schemas.measurement import Measurement, PeriodKind
from streams.domain.engine import Engine, Output

REGISTRY = make_registry()  # flatline 30 min, clock skew 600 s, silence 5 × 60 s


def signals(outputs: list[Output], kind: QualityKind) -> list[QualitySignal]:
    return [o for o in outputs if isinstance(o, QualitySignal) and o.kind is kind]


def minutes(values: list[float], flags: str | None = None, device: str = GAS) -> list[Measurement]:
    factor = SO2 if device == GAS else COD
    return [
        measurement(
            factor,
            T0 + timedelta(minutes=i),
            v,
            device=device,
            flag=(flags or "N" * len(values))[i],
        )
        for i, v in enumerate(values)
    ]


def test_flags_raise_one_signal_while_flagged_and_one_when_normal_data_resume() -> None:
    engine = Engine(REGISTRY)
    data = minutes([10.0 + i for i in range(12)], flags="NNMMMCCNNNDN")
    flagged = signals(engine.ingest(data), QualityKind.FLAGGED)
    assert [(s.active, s.detail["flag"], s.observed_at.minute) for s in flagged] == [
        (True, "M", 2),
        (False, "N", 7),
        (True, "D", 10),
        (False, "N", 11),
    ]
    assert all(s.factor == SO2 and s.outlet_id == "G1" and s.enterprise_id == "E1" for s in flagged)


def test_late_flagged_values_do_not_change_the_state() -> None:
    engine = Engine(REGISTRY)
    engine.ingest(minutes([10.0, 11.0, 12.0]))
    late = measurement(SO2, T0, 10.0, flag="D")
    assert signals(engine.ingest([late]), QualityKind.FLAGGED) == []


def test_a_flatline_starts_after_the_policy_minutes_and_ends_when_the_value_moves() -> None:
    engine = Engine(REGISTRY)
    outputs = engine.ingest(minutes([12.5] * 40 + [13.0]))
    flat = signals(outputs, QualityKind.FLATLINE)
    assert [(s.active, s.observed_at.minute) for s in flat] == [(True, 29), (False, 40)]
    assert flat[0].detail["value"] == 12.5


def test_zero_values_and_water_analysers_are_not_flatlines() -> None:
    engine = Engine(REGISTRY)
    assert signals(engine.ingest(minutes([0.0] * 60)), QualityKind.FLATLINE) == []
    assert signals(engine.ingest(minutes([40.0] * 60, device=WATER)), QualityKind.FLATLINE) == []


def test_clock_skew_is_signalled_once_and_cleared() -> None:
    engine = Engine(REGISTRY)
    now = T0 + timedelta(hours=2)

    def rtd(at: timedelta, received: timedelta) -> Measurement:
        return measurement(SO2, now + at, 10.0, period=PeriodKind.RTD, received_at=now + received)

    data = [
        rtd(timedelta(0), timedelta(seconds=5)),
        rtd(timedelta(minutes=30), timedelta(seconds=35)),  # device clock 30 minutes fast
        rtd(timedelta(minutes=31), timedelta(seconds=95)),
        rtd(timedelta(minutes=2), timedelta(seconds=125)),  # fixed
    ]
    skew = [s for batch in data for s in signals(engine.ingest([batch]), QualityKind.CLOCK_SKEW)]
    assert [s.active for s in skew] == [True, False]
    assert skew[0].detail["skew_seconds"] == -1765.0


def test_a_zero_clock_skew_policy_turns_the_check_off() -> None:
    engine = Engine(make_registry(clock_skew_seconds=0))
    ahead = T0 + timedelta(hours=30)  # a simulation running faster than real time
    data = measurement(SO2, ahead, 10.0, period=PeriodKind.RTD, received_at=T0)
    assert signals(engine.ingest([data]), QualityKind.CLOCK_SKEW) == []


def test_future_data_do_not_close_the_devices_windows() -> None:
    engine = Engine(REGISTRY)
    engine.ingest(minutes([10.0] * 30))
    ahead = measurement(SO2, T0 + timedelta(hours=5), 10.0, received_at=T0 + timedelta(minutes=31))
    outputs = engine.ingest([ahead])
    assert [o for o in outputs if not isinstance(o, QualitySignal)] == []


def test_silence_is_found_by_tick_cleared_by_data_and_closes_the_last_hour() -> None:
    engine = Engine(REGISTRY)
    engine.ingest(minutes([10.0] * 50))  # last received 00:50
    assert engine.tick(T0 + timedelta(minutes=54)) == []
    late = engine.tick(T0 + timedelta(minutes=56))
    [silent] = signals(late, QualityKind.SILENT)
    assert silent.active and silent.detail["allowed_seconds"] == 300
    assert signals(engine.tick(T0 + timedelta(minutes=58)), QualityKind.SILENT) == []
    closing = engine.tick(T0 + timedelta(hours=1, minutes=10))
    assert [o.factor for o in closing if not isinstance(o, QualitySignal)][:1] == [SO2]
    resumed = engine.ingest([measurement(SO2, T0 + timedelta(hours=2), 10.0)])
    assert [s.active for s in signals(resumed, QualityKind.SILENT)] == [False]

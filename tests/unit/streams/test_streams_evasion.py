"""Evasion signals (issue 13, item 4): each rule fires on synthetic data made to evade and
stays quiet on honest data; the engine emits them as ``tampering`` signals on transitions, and
an exceedance while one fires is an Art. 6(1) case for the alert ladder."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from streams_support import FLOW, GAS, O2, SO2, T0, make_registry, measurement

from alerts.engine import Batch, World
from alerts.ladder import Basis
from schemas.alert import AlertLevel, QualityKind, QualitySignal
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.registry import EvasionPolicy
from schemas.verdict import Rule, Verdict
from streams.domain.engine import Engine, Output
from streams.domain.evasion import (
    EvasionRule,
    device_hourly_mismatch,
    flat_near_limit,
    flow_bypass,
    identical_devices,
    o2_correction_mismatch,
    o2_dilution,
)

POLICY = EvasionPolicy()
HOUR = timedelta(hours=1)
LIMIT = 35.0  # SO2, ULE-coal-power, at 6 % O2


def noisy(mean: float, rel: float, count: int = 60, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [mean * (1 + rel * rng.gauss(0, 1)) for _ in range(count)]


# --- the rules, one by one --------------------------------------------------------------


def test_flat_just_under_the_limit_fires_and_honest_variation_does_not() -> None:
    held = [34.0 + 0.01 * (i % 3) for i in range(60)]
    finding = flat_near_limit(held, 34.0, LIMIT, POLICY)
    assert finding is not None and finding.rule is EvasionRule.FLAT_NEAR_LIMIT
    assert finding.detail["cv_pct"] < 1.0
    assert flat_near_limit(noisy(33.0, 0.08), 33.0, LIMIT, POLICY) is None  # honest, near
    assert flat_near_limit([20.0] * 60, 20.0, LIMIT, POLICY) is None  # flat but far below
    off = EvasionPolicy(flat_band_fraction=None)
    assert flat_near_limit(held, 34.0, LIMIT, off) is None


def test_o2_dilution_fires_when_air_thins_the_stack_and_not_at_normal_o2() -> None:
    finding = o2_dilution(14.5, 6.0, 30.0, LIMIT, POLICY)  # factor 15 / 6.5 = 2.3
    assert finding is not None and finding.detail["correction_factor"] == pytest.approx(15 / 6.5)
    assert o2_dilution(7.5, 6.0, 30.0, LIMIT, POLICY) is None  # a coal unit at part load
    assert o2_dilution(14.5, 6.0, 50.0, LIMIT, POLICY) is None  # exceeding anyway: not hiding
    assert o2_dilution(14.5, None, 30.0, LIMIT, POLICY) is None  # no reference O2


def test_flow_drop_while_running_is_a_bypass_and_a_stop_or_a_load_change_is_not() -> None:
    finding = flow_bypass(150.0, 500.0, True, POLICY)
    assert finding is not None and finding.detail["ratio"] == pytest.approx(0.3)
    assert flow_bypass(150.0, 500.0, False, POLICY) is None  # the process stopped (flag F)
    assert flow_bypass(400.0, 500.0, True, POLICY) is None  # load following


def test_identical_minutes_on_two_devices_fire_and_independent_analysers_do_not() -> None:
    minutes = [T0 + timedelta(minutes=i) for i in range(60)]
    first = dict(zip(minutes, noisy(30.0, 0.05), strict=True))
    finding = identical_devices(first, dict(first), POLICY)
    assert finding is not None and finding.detail["identical_minutes"] == 60
    other = dict(zip(minutes, noisy(30.0, 0.05, seed=2), strict=True))
    assert identical_devices(first, other, POLICY) is None
    constant = dict.fromkeys(minutes, 0.0)
    assert identical_devices(constant, dict(constant), POLICY) is None  # both off: flatline


def test_device_hourly_value_contradicting_our_minutes_fires_and_rounding_does_not() -> None:
    finding = device_hourly_mismatch(18.0, 40.0, POLICY)
    assert finding is not None and finding.rule is EvasionRule.DEVICE_HOURLY_MISMATCH
    assert device_hourly_mismatch(40.3, 40.0, POLICY) is None


def test_device_o2_correction_disagreeing_with_ours_is_a_signal() -> None:
    def aggregate(disagrees: bool) -> AggregateValue:
        return AggregateValue(
            outlet_id="G1", device_id=GAS, factor=SO2, period=PeriodKind.HOUR,
            period_start=T0, valid=True, valid_count=60, invalid_count=0, mean=20.0,
            o2_corrected=30.0, device_o2_corrected=20.0 if disagrees else 30.1,
            o2_disagrees=disagrees, registry_version="test-1",
        )  # fmt: skip

    assert o2_correction_mismatch(aggregate(True), POLICY) is not None
    assert o2_correction_mismatch(aggregate(False), POLICY) is None


# --- through the engine ------------------------------------------------------------------


def hour_of(
    start: datetime, so2: list[float], o2: float = 6.0, flow: float = 500.0, zs: bool = False
) -> list[Measurement]:
    out = []
    for index, value in enumerate(so2):
        minute = start + timedelta(minutes=index)
        out.append(measurement(SO2, minute, value, zs=value if zs else None))
        out.append(measurement(O2, minute, o2))
        out.append(measurement(FLOW, minute, flow))
    return out


def tampering(outputs: list[Output]) -> list[QualitySignal]:
    return [o for o in outputs if isinstance(o, QualitySignal) and o.kind is QualityKind.TAMPERING]


def run(*hours: list[Measurement]) -> list[Output]:
    engine = Engine(make_registry())
    outputs: list[Output] = []
    for data in hours:
        outputs.extend(engine.ingest(data))
    outputs.extend(engine.close_all())
    return outputs


def test_honest_noisy_hours_raise_no_evasion_signal() -> None:
    hours = [
        hour_of(T0 + h * HOUR, noisy(20.0, 0.1, seed=h), flow=500.0 - 20 * h) for h in range(4)
    ]
    assert tampering(run(*hours)) == []


def test_an_hour_held_flat_under_the_limit_starts_and_the_next_honest_hour_ends_a_signal() -> None:
    flat = [34.0 + 0.01 * (i % 3) for i in range(60)]
    outputs = run(hour_of(T0, flat), hour_of(T0 + HOUR, noisy(20.0, 0.1)))
    started, ended = tampering(outputs)
    assert started.active and started.factor == SO2
    assert started.detail["rules"] == ["flat_near_limit"]
    assert started.observed_at == T0 + HOUR
    assert not ended.active and ended.detail["previous_rules"] == ["flat_near_limit"]


def test_dilution_and_a_flow_bypass_are_found_in_closed_hours() -> None:
    diluted = hour_of(T0, noisy(12.0, 0.1), o2=14.5)  # corrected ≈ 27.7: under 35
    bypassed = hour_of(T0 + HOUR, noisy(12.0, 0.1), o2=14.5, flow=120.0)
    signals = tampering(run(diluted, bypassed))
    rules = {(s.factor, tuple(s.detail["rules"])) for s in signals if s.active}
    assert (SO2, ("o2_dilution",)) in rules
    assert (FLOW, ("flow_bypass",)) in rules


def test_device_corrected_values_that_disagree_with_ours_raise_a_signal() -> None:
    data = hour_of(T0, noisy(20.0, 0.1), o2=9.0)
    lied = [
        m.model_copy(update={"zs_avg": m.avg}) if m.factor == SO2 else m for m in data
    ]  # the device "corrects" by nothing at 9 % O2
    [signal] = tampering(run(lied))
    assert signal.detail["rules"] == ["o2_correction_mismatch"]


def test_a_device_faking_compliance_while_exceeding_leads_to_the_art6_1_recommendation() -> None:
    """The device reports ZsAvg 30 (compliant) while our correction gives 50 (exceeding): the
    streams emit the exceedance verdict and a tampering signal; the alert ladder makes it an
    Order No. 30 Art. 6(1) case (exceeding while evading supervision)."""
    registry = make_registry(quality_pending_minutes=0)
    faked = [
        m.model_copy(update={"zs_avg": 30.0}) if m.factor == SO2 else m
        for m in hour_of(T0, noisy(50.0, 0.1))
    ]
    outputs = run(faked)
    [signal] = tampering(outputs)
    verdicts = [
        o
        for o in outputs
        if isinstance(o, Verdict) and o.factor == SO2 and o.rule is Rule.HOURLY_CONCENTRATION
    ]
    assert [v.status.value for v in verdicts] == ["exceedance"]
    batch = Batch(World(registry), {}, T0 + timedelta(days=1))
    batch.signal(signal)
    batch.verdict(verdicts[0])
    record = batch.records[f"G1/{SO2}/hourly_concentration"]
    assert record.level is AlertLevel.SUSPEND_FOR_RECTIFICATION
    assert record.basis == Basis.ART6_EVASION.value


def device_hour(value: float, start: datetime = T0) -> Measurement:
    """The device's own hourly value (CN 2061) of SO2 for the hour at ``start``."""
    return measurement(SO2, start, value, period=PeriodKind.HOUR)


@pytest.mark.parametrize("after_close", [False, True])
def test_a_device_hourly_value_contradicting_our_minutes_raises_a_signal(after_close: bool) -> None:
    engine = Engine(make_registry())
    minutes = hour_of(T0, noisy(30.0, 0.1))
    closing = hour_of(T0 + HOUR, noisy(20.0, 0.1), flow=500.0)[:45]
    if after_close:
        outputs = engine.ingest(minutes + closing) + engine.ingest([device_hour(12.0)])
    else:
        outputs = engine.ingest([*minutes, device_hour(12.0)]) + engine.ingest(closing)
    [signal] = tampering(outputs)
    assert signal.active and signal.detail["rules"] == ["device_hourly_mismatch"]
    assert signal.detail["findings"]["device_hourly_mismatch"]["device_hourly"] == 12.0


def test_a_device_hourly_value_matching_our_minutes_stays_quiet() -> None:
    engine = Engine(make_registry())
    values = noisy(30.0, 0.1)
    mean = sum(values) / len(values)
    closing = hour_of(T0 + HOUR, noisy(20.0, 0.1))[:45]
    outputs = engine.ingest([*hour_of(T0, values), device_hour(round(mean, 1)), *closing])
    outputs += engine.ingest([device_hour(round(mean, 2))])  # re-sent after the close
    assert tampering(outputs) == []


def test_an_hour_with_flagged_minutes_is_not_compared_with_the_device_hourly_value() -> None:
    """A device may average its maintenance-flagged minutes into its 2061 value; we do not."""
    engine = Engine(make_registry())
    minutes = hour_of(T0, noisy(30.0, 0.1))
    flagged = [
        m.model_copy(update={"flag": "M", "avg": 300.0})
        if m.factor == SO2 and m.period_start < T0 + timedelta(minutes=5)
        else m
        for m in minutes
    ]
    closing = hour_of(T0 + HOUR, noisy(20.0, 0.1))[:45]
    outputs = engine.ingest([*flagged, device_hour(52.0), *closing])
    outputs += engine.ingest([device_hour(52.5)])
    assert tampering(outputs) == []

"""Hourly aggregation: validity, flags, rtd → minutes, O2 correction, flow and load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from streams_support import (
    COD,
    FLOW,
    GAS,
    O2,
    SO2,
    T0,
    TEMP,
    WATER,
    gas_minutes,
    make_registry,
    measurement,
)

from schemas.measurement import Measurement, PeriodKind
from streams.domain.context import device_context
from streams.domain.hourly import HourResult, aggregate_hour
from streams.domain.minutes import FactorReadings

REGISTRY = make_registry()


def hour_of(measurements: Sequence[Measurement], device: str = GAS) -> dict[str, HourResult]:
    readings: dict[str, FactorReadings] = {}
    for m in measurements:
        readings.setdefault(m.factor, FactorReadings()).add(m)
    context = device_context(REGISTRY, device)
    assert context is not None
    results = aggregate_hour(context, T0, readings, REGISTRY.policy)
    return {r.aggregate.factor: r for r in results}


@pytest.mark.parametrize(("minutes", "valid"), [(44, False), (45, True), (60, True)])
def test_an_hour_needs_45_valid_minutes(minutes: int, valid: bool) -> None:
    so2 = hour_of(gas_minutes(T0, 20.0, minutes=minutes))[SO2].aggregate
    assert so2.valid is valid
    assert so2.valid_count == minutes


def test_the_threshold_comes_from_the_policy() -> None:
    registry = make_registry(valid_minutes_per_hour=30)
    context = device_context(registry, GAS)
    assert context is not None
    readings: dict[str, FactorReadings] = {}
    for m in gas_minutes(T0, 20.0, minutes=30):
        readings.setdefault(m.factor, FactorReadings()).add(m)
    results = aggregate_hour(context, T0, readings, registry.policy)
    assert all(r.aggregate.valid for r in results)


def test_flagged_minutes_are_excluded_and_counted_t_is_kept() -> None:
    data = gas_minutes(T0, 20.0, minutes=40)
    later = T0 + timedelta(minutes=40)
    data += [measurement(SO2, later + timedelta(minutes=i), 900.0, flag="M") for i in range(10)]
    data += [measurement(SO2, later + timedelta(minutes=10 + i), 30.0, flag="T") for i in range(6)]
    data += [measurement(SO2, later + timedelta(minutes=16 + i), 500.0, flag="C") for i in range(4)]
    so2 = hour_of(data)[SO2].aggregate
    assert so2.valid_count == 46 and so2.valid
    assert so2.invalid_count == 14
    assert so2.flag_counts == {"C": 4, "M": 10, "N": 40, "T": 6}
    assert so2.mean == pytest.approx((40 * 20.0 + 6 * 30.0) / 46)
    assert so2.max == 30.0


def test_realtime_values_make_minute_means_and_device_minutes_win() -> None:
    data = [
        measurement(SO2, T0 + timedelta(seconds=s), v, period=PeriodKind.RTD)
        for s, v in ((0, 10.0), (20, 20.0), (40, 30.0))
    ]
    data.append(measurement(SO2, T0 + timedelta(minutes=1, seconds=5), 99.0, period=PeriodKind.RTD))
    data.append(measurement(SO2, T0 + timedelta(minutes=1), 50.0))  # the device's own minute
    so2 = hour_of(data)[SO2].aggregate
    assert so2.valid_count == 2
    assert so2.mean == pytest.approx((20.0 + 50.0) / 2)


def test_gas_minute_is_normal_with_75_percent_normal_values_water_with_all() -> None:
    def samples(device: str, factor: str) -> list[Measurement]:
        flags = ["N", "N", "N", "D"]
        return [
            measurement(
                factor,
                T0 + timedelta(seconds=10 * i),
                10.0 + i,
                device=device,
                period=PeriodKind.RTD,
                flag=flag,
            )
            for i, flag in enumerate(flags)
        ]

    gas = hour_of(samples(GAS, SO2))[SO2].aggregate
    assert gas.valid_count == 1 and gas.mean == pytest.approx(11.0)
    water = hour_of(samples(WATER, COD), device=WATER)[COD].aggregate
    assert water.valid_count == 0 and water.invalid_count == 1
    assert water.flag_counts == {"D": 1}


def test_o2_correction_uses_each_minutes_o2() -> None:
    data = gas_minutes(T0, 30.0, minutes=30, o2=9.0)  # × 15/12 → 37.5
    data += gas_minutes(T0 + timedelta(minutes=30), 30.0, minutes=30, o2=6.0)  # → 30
    result = hour_of(data)[SO2]
    so2 = result.aggregate
    assert so2.mean == pytest.approx(30.0)
    assert so2.o2_measured == pytest.approx(7.5)
    assert so2.o2_reference == 6.0
    assert so2.o2_corrected == pytest.approx((37.5 + 30.0) / 2)
    assert result.o2_guard_minutes == 0 and result.o2_missing_minutes == 0


def test_o2_at_or_above_21_gives_no_correction_and_is_counted() -> None:
    data = gas_minutes(T0, 30.0, minutes=50, o2=6.0)
    data += gas_minutes(T0 + timedelta(minutes=50), 30.0, minutes=10, o2=21.0)
    result = hour_of(data)[SO2]
    assert result.o2_guard_minutes == 10
    assert result.aggregate.o2_corrected == pytest.approx(30.0)


def test_device_corrected_values_are_kept_and_compared() -> None:
    close = [measurement(SO2, T0 + timedelta(minutes=i), 30.0, zs=31.0) for i in range(60)]
    close += [measurement(O2, T0 + timedelta(minutes=i), 6.0) for i in range(60)]
    far = [measurement(SO2, T0 + timedelta(minutes=i), 30.0, zs=40.0) for i in range(60)]
    far += [measurement(O2, T0 + timedelta(minutes=i), 6.0) for i in range(60)]
    near_agg, far_agg = hour_of(close)[SO2].aggregate, hour_of(far)[SO2].aggregate
    assert near_agg.device_o2_corrected == pytest.approx(31.0) and not near_agg.o2_disagrees
    assert far_agg.device_o2_corrected == pytest.approx(40.0) and far_agg.o2_disagrees


def test_rate_and_load_use_the_measured_concentration_and_dry_standard_flow() -> None:
    # 100 mg/m³ measured (O2 9 % → 125 corrected), 10 m³/s at 0 °C, no pressure/moisture:
    # Qsnd = 36 000 m³/h; G = 100 × 36 000 × 1e-6 = 3.6 kg/h; one hour → 3.6 kg.
    result = hour_of(gas_minutes(T0, 100.0, o2=9.0))[SO2]
    so2 = result.aggregate
    assert so2.o2_corrected == pytest.approx(125.0)
    assert so2.flow_std_m3h == pytest.approx(36000.0)
    assert so2.emission_rate_kgh == pytest.approx(3.6)
    assert so2.load_kg == pytest.approx(3.6)
    assert result.rate_minutes == 60 and result.flow_defaults == ("humidity", "static_pressure")


def test_without_flow_there_is_no_load_and_parameters_have_none() -> None:
    results = hour_of(gas_minutes(T0, 100.0, flow_m3s=None))
    assert results[SO2].aggregate.load_kg is None
    assert results[TEMP].aggregate.load_kg is None
    assert results[O2].aggregate.o2_corrected is None
    assert FLOW not in results


def test_water_load_from_litres_per_second() -> None:
    data = [measurement("w00000", T0 + timedelta(minutes=i), 10.0, device=WATER) for i in range(60)]
    data += [measurement(COD, T0 + timedelta(minutes=i), 40.0, device=WATER) for i in range(60)]
    cod = hour_of(data, device=WATER)[COD].aggregate
    # 10 L/s → 36 m³ in the hour; 36 m³ × 40 mg/L × 1e-3 = 1.44 kg.
    assert cod.flow_std_m3h == pytest.approx(36.0)
    assert cod.load_kg == pytest.approx(1.44)
    assert cod.o2_reference is None and cod.o2_corrected is None


def test_nox_is_derived_as_no2_when_no_and_no2_are_separate() -> None:
    data = [measurement("a21003", T0 + timedelta(minutes=i), 30.0) for i in range(60)]
    data += [measurement("a21004", T0 + timedelta(minutes=i), 4.0) for i in range(60)]
    nox = hour_of(data)["a21002"].aggregate
    assert nox.mean == pytest.approx(30.0 * 46 / 30 + 4.0)
    assert nox.valid

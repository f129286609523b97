"""Properties of the formulas: O2 correction, dry standard flow, rates and loads."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.flow import (
    FlowBasis,
    dry_standard_flow,
    gas_emission_rate_kgh,
    water_emission_rate_kgh,
    water_flow_m3h,
    water_load_kg,
)
from streams.domain.o2 import disagrees, o2_correct

concentration = st.floats(min_value=0.0, max_value=1e5, allow_nan=False)
oxygen = st.floats(min_value=0.0, max_value=20.9, allow_nan=False)
reference = st.sampled_from([3.0, 3.5, 6.0, 9.0, 10.0, 11.0, 15.0, 16.0, 18.0])
flow = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


@given(concentration, reference)
def test_o2_correction_is_identity_at_the_reference_o2(c: float, ref: float) -> None:
    assert o2_correct(c, ref, ref) == pytest.approx(c)


@given(concentration, oxygen, oxygen, reference)
def test_o2_correction_grows_with_measured_o2(c: float, a: float, b: float, ref: float) -> None:
    low, high = sorted((a, b))
    corrected_low, corrected_high = o2_correct(c, low, ref), o2_correct(c, high, ref)
    assert corrected_low is not None and corrected_high is not None
    assert corrected_low <= corrected_high * (1 + 1e-12)


@given(concentration, concentration, oxygen, reference)
def test_o2_correction_grows_with_concentration(a: float, b: float, o2: float, ref: float) -> None:
    low, high = sorted((a, b))
    assert o2_correct(low, o2, ref) <= o2_correct(high, o2, ref)  # type: ignore[operator]


def test_o2_correction_known_value_and_air_guard() -> None:
    # 100 mg/m³ at 9 % O2, reference 6 %: 100 × 15 / 12 = 125.
    assert o2_correct(100.0, 9.0, 6.0) == pytest.approx(125.0)
    assert o2_correct(100.0, 21.0, 6.0) is None
    assert o2_correct(100.0, 23.5, 6.0) is None


def test_disagreement_tolerance_is_relative_to_our_value() -> None:
    assert not disagrees(100.0, 104.9, 5.0)
    assert disagrees(100.0, 105.1, 5.0)
    assert disagrees(0.0, 0.1, 5.0)
    assert not disagrees(0.0, 0.0, 5.0)


def test_dry_standard_flow_known_value() -> None:
    # 10 m³/s at 273 °C, +10.1325 kPa gauge, 10 % moisture:
    # 36000 × 273/546 × 111457.5/101325 × 0.9 = 17820 m³/h.
    result = dry_standard_flow(10.0, 273.0, 10.1325, 10.0)
    assert result is not None
    assert result.m3h == pytest.approx(17820.0)
    assert result.basis is FlowBasis.CONVERTED and result.defaults == ()


@given(flow)
def test_flow_at_standard_conditions_is_only_converted_to_hours(qs: float) -> None:
    result = dry_standard_flow(qs, 0.0, 0.0, 0.0)
    assert result is not None and result.m3h == pytest.approx(qs * 3600)


@given(
    flow.filter(lambda q: q > 0),
    st.floats(min_value=-40, max_value=400),
    st.floats(min_value=-40, max_value=400),
    st.floats(min_value=0, max_value=60),
)
def test_standard_flow_falls_with_temperature_and_moisture(
    qs: float, t1: float, t2: float, moisture: float
) -> None:
    cold, hot = sorted((t1, t2))
    at_cold = dry_standard_flow(qs, cold, 0.0, moisture)
    at_hot = dry_standard_flow(qs, hot, 0.0, moisture)
    dry = dry_standard_flow(qs, hot, 0.0, 0.0)
    assert at_cold is not None and at_hot is not None and dry is not None
    assert at_hot.m3h <= at_cold.m3h * (1 + 1e-12)
    assert at_hot.m3h <= dry.m3h * (1 + 1e-12)


def test_missing_inputs_take_documented_defaults() -> None:
    as_reported = dry_standard_flow(2.0, None, 1.0, 5.0)
    assert as_reported is not None
    assert as_reported.basis is FlowBasis.AS_REPORTED and as_reported.m3h == 7200.0
    defaulted = dry_standard_flow(2.0, 0.0, None, None)
    assert defaulted is not None
    assert defaulted.m3h == pytest.approx(7200.0)
    assert defaulted.defaults == ("static_pressure", "humidity")
    assert dry_standard_flow(2.0, -300.0, 0.0, 0.0) is None
    assert dry_standard_flow(2.0, 20.0, 0.0, 100.0) is None


def test_gas_rate_known_value() -> None:
    # 35 mg/m³ × 1 000 000 m³/h = 35 kg/h.
    assert gas_emission_rate_kgh(35.0, 1_000_000.0) == pytest.approx(35.0)


@given(concentration, flow, flow)
def test_water_loads_are_additive_over_volumes(c: float, v1: float, v2: float) -> None:
    assert water_load_kg(v1 + v2, c) == pytest.approx(
        water_load_kg(v1, c) + water_load_kg(v2, c), rel=1e-9, abs=1e-9
    )


@given(concentration, flow)
def test_water_rate_is_one_hour_of_load(c: float, litres_per_second: float) -> None:
    one_hour_m3 = litres_per_second * 3600 / 1000
    assert water_flow_m3h(litres_per_second) == pytest.approx(one_hour_m3)
    assert math.isclose(
        water_emission_rate_kgh(c, litres_per_second),
        one_hour_m3 * c * 1e-3,
        rel_tol=1e-9,
        abs_tol=1e-12,
    )

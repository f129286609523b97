"""Hourly aggregation (小时均值) of one device's minutes (HJ 75-2017, HJ 76-2017).

For each factor the device reported in the hour:

- **validity**: the hour is valid with at least ``policy.valid_minutes_per_hour`` (45) valid
  minutes; ``invalid_count`` counts minutes excluded by an F/M/C/D/B flag and
  ``flag_counts`` counts every minute by its flag (T and S included: kept but marked).
- ``mean``, ``min``, ``max``: over the valid minutes (the measured, dry concentration); an hour
  without valid minutes has no mean.
- **O2 correction** (折算浓度) for pollutants at a gas outlet whose standard has a reference
  O2: every valid minute is corrected with the valid O2 (a19001) minute of the same device
  and ``o2_corrected`` is the mean of the corrected minutes; ``o2_measured`` the mean O2 of
  the minutes that had one. Minutes without O2 (``o2_missing_minutes``) or at O2 ≥ 21 %
  (``o2_guard_minutes``) give no corrected value. ``device_o2_corrected`` is the mean of
  the device's own ZsRtd/ZsAvg over the valid minutes; ``o2_disagrees`` when it differs from
  ours by more than ``policy.o2_disagreement_pct``.
- **rate and load** for pollutants, from the MEASURED concentration: every valid minute with a
  usable flow gives a rate (gas: ``C × Qsnd × 1e-6`` kg/h with the minute's dry standard flow;
  water: ``C × Q × 3.6e-3`` kg/h); ``emission_rate_kgh`` is the mean of those minute rates
  and ``load_kg`` = mean rate × 1 h (the rate of the minutes seen stands for the whole hour).
  ``flow_std_m3h`` is the mean flow of those minutes (for the flow factor itself: of all its
  valid minutes). Flow basis assumptions: ``streams.domain.flow``.

Pure and deterministic: the result depends on the set of readings, not on their order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from math import fsum

from schemas.measurement import AggregateValue, PeriodKind
from schemas.registry import AlertPolicy, Medium
from streams.domain import factors
from streams.domain.context import DeviceContext
from streams.domain.flow import (
    FlowBasis,
    StandardFlow,
    dry_standard_flow,
    gas_emission_rate_kgh,
    water_flow_m3h,
    water_load_kg,
)
from streams.domain.minutes import (
    FactorReadings,
    MinuteValue,
    Resent,
    derive_nox,
    minute_values,
)
from streams.domain.o2 import disagrees, o2_correct

MINUTES_PER_HOUR = 60
LOAD_HOURS = 1.0
"""An hourly load is the mean rate (kg/h) over one hour."""

Minutes = Mapping[datetime, MinuteValue]


@dataclass(frozen=True, slots=True)
class HourResult:
    """One factor's hourly aggregate and the evidence that is not part of the wire model."""

    aggregate: AggregateValue
    o2_guard_minutes: int = 0
    o2_missing_minutes: int = 0
    rate_minutes: int = 0
    flow_basis: tuple[str, ...] = ()
    flow_defaults: tuple[str, ...] = ()
    resent: tuple[Resent, ...] = ()
    """Values of the hour re-sent with a value or flag differing from the first held."""
    valid_values: tuple[float, ...] = ()
    """The valid minute values (measured), in time order (for the evasion rules)."""


@dataclass(frozen=True, slots=True)
class _O2Part:
    measured: float | None = None
    corrected: float | None = None
    guard_minutes: int = 0
    missing_minutes: int = 0


@dataclass(frozen=True, slots=True)
class _RatePart:
    rate_kgh: float | None = None
    flow_m3h: float | None = None
    minutes: int = 0
    basis: tuple[str, ...] = ()
    defaults: tuple[str, ...] = ()


def aggregate_hour(
    device: DeviceContext,
    hour: datetime,
    readings: Mapping[str, FactorReadings],
    policy: AlertPolicy,
) -> list[HourResult]:
    """The hourly results of every factor with data in ``readings`` (factor order)."""
    normal_fraction = policy.valid_minutes_per_hour / MINUTES_PER_HOUR
    by_factor: dict[str, dict[datetime, MinuteValue]] = {}
    for factor in sorted(readings):
        values = minute_values(readings[factor], device.medium, normal_fraction)
        if values:
            by_factor[factor] = values
    if device.medium is Medium.GAS:
        derive_nox(by_factor)
    flows = _standard_flows(device.medium, by_factor)
    o2 = _valid_values(by_factor.get(factors.O2, {}))
    results = []
    for factor in sorted(by_factor):
        result = _factor_result(device, hour, factor, by_factor[factor], o2, flows, policy)
        held = readings.get(factor)
        if held is not None and held.resent:
            ordered = sorted(held.resent.values(), key=lambda r: (r.period_start, r.period))
            result = replace(result, resent=tuple(ordered))
        results.append(result)
    return results


def _factor_result(
    device: DeviceContext,
    hour: datetime,
    factor: str,
    minutes: Minutes,
    o2: Mapping[datetime, float],
    flows: Mapping[datetime, StandardFlow],
    policy: AlertPolicy,
) -> HourResult:
    valid = {start: m for start, m in minutes.items() if m.valid}
    values = [m.value for m in valid.values()]
    pollutant = factors.is_pollutant(factor)
    o2_part = _O2Part()
    if pollutant and device.reference_o2 is not None:
        o2_part = _o2_correction(valid, o2, device.reference_o2)
    rate = _rate_part(device.medium, factor, valid, flows)
    device_corrected = _mean(
        [m.device_corrected for m in valid.values() if m.device_corrected is not None]
    )
    aggregate = AggregateValue(
        outlet_id=device.outlet_id,
        device_id=device.device_id,
        factor=factor,
        period=PeriodKind.HOUR,
        period_start=hour,
        valid=len(valid) >= policy.valid_minutes_per_hour,
        valid_count=len(valid),
        invalid_count=len(minutes) - len(valid),
        flag_counts=dict(sorted(Counter(m.flag for m in minutes.values()).items())),
        mean=_mean(values),
        min=min((m.low if m.low is not None else m.value for m in valid.values()), default=None),
        max=max((m.high if m.high is not None else m.value for m in valid.values()), default=None),
        o2_measured=o2_part.measured,
        o2_reference=device.reference_o2 if pollutant else None,
        o2_corrected=o2_part.corrected,
        device_o2_corrected=device_corrected,
        o2_disagrees=_disagree(o2_part.corrected, device_corrected, policy),
        flow_std_m3h=rate.flow_m3h,
        emission_rate_kgh=rate.rate_kgh,
        load_kg=None if rate.rate_kgh is None else rate.rate_kgh * LOAD_HOURS,
        registry_version=device.registry_version,
    )
    return HourResult(
        aggregate,
        o2_guard_minutes=o2_part.guard_minutes,
        o2_missing_minutes=o2_part.missing_minutes,
        rate_minutes=rate.minutes,
        flow_basis=rate.basis,
        flow_defaults=rate.defaults,
        valid_values=tuple(valid[start].value for start in sorted(valid)),
    )


def _rate_part(
    medium: Medium, factor: str, valid: Minutes, flows: Mapping[datetime, StandardFlow]
) -> _RatePart:
    """Rates and loads of a pollutant; the mean flow of the flow factor itself; else nothing."""
    if factors.is_pollutant(factor):
        return _rates(medium, valid, flows)
    if factor in (factors.GAS_FLOW, factors.WATER_FLOW):
        return _RatePart(flow_m3h=_mean([flows[start].m3h for start in valid if start in flows]))
    return _RatePart()


def _o2_correction(valid: Minutes, o2: Mapping[datetime, float], reference: float) -> _O2Part:
    corrected: list[float] = []
    measured: list[float] = []
    guard = missing = 0
    for start, minute in valid.items():
        oxygen = o2.get(start)
        if oxygen is None:
            missing += 1
            continue
        measured.append(oxygen)
        value = o2_correct(minute.value, oxygen, reference)
        if value is None:
            guard += 1
        else:
            corrected.append(value)
    return _O2Part(_mean(measured), _mean(corrected), guard, missing)


def _rates(medium: Medium, valid: Minutes, flows: Mapping[datetime, StandardFlow]) -> _RatePart:
    rates: list[float] = []
    used: list[float] = []
    basis: set[str] = set()
    defaults: set[str] = set()
    for start, minute in valid.items():
        flow = flows.get(start)
        if flow is None:
            continue
        if medium is Medium.GAS:
            rates.append(gas_emission_rate_kgh(minute.value, flow.m3h))
        else:
            rates.append(water_load_kg(flow.m3h, minute.value))
        used.append(flow.m3h)
        basis.add(flow.basis.value)
        defaults.update(flow.defaults)
    return _RatePart(
        _mean(rates), _mean(used), len(rates), tuple(sorted(basis)), tuple(sorted(defaults))
    )


def _standard_flows(
    medium: Medium, by_factor: Mapping[str, Minutes]
) -> dict[datetime, StandardFlow]:
    """Minute → flow in m³/h (gas: dry standard; water: as measured) for valid flow minutes."""
    if medium is Medium.WATER:
        water = _valid_values(by_factor.get(factors.WATER_FLOW, {}))
        return {
            start: StandardFlow(water_flow_m3h(litres), FlowBasis.AS_REPORTED)
            for start, litres in water.items()
        }
    temperature = _valid_values(by_factor.get(factors.GAS_TEMPERATURE, {}))
    pressure = _valid_values(by_factor.get(factors.GAS_PRESSURE, {}))
    humidity = _valid_values(by_factor.get(factors.GAS_HUMIDITY, {}))
    flows: dict[datetime, StandardFlow] = {}
    for start, flow_m3s in _valid_values(by_factor.get(factors.GAS_FLOW, {})).items():
        standard = dry_standard_flow(
            flow_m3s, temperature.get(start), pressure.get(start), humidity.get(start)
        )
        if standard is not None:
            flows[start] = standard
    return flows


def _valid_values(minutes: Minutes) -> dict[datetime, float]:
    return {start: m.value for start, m in minutes.items() if m.valid}


def _disagree(ours: float | None, device: float | None, policy: AlertPolicy) -> bool:
    if ours is None or device is None:
        return False
    return disagrees(ours, device, policy.o2_disagreement_pct)


def _mean(values: list[float]) -> float | None:
    return fsum(values) / len(values) if values else None

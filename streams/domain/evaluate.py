"""Judgements (verdicts) of hourly concentrations and daily/annual loads.

- **hourly concentration** (小时均值达标, every valid hourly mean must meet the limit; domain.md
  §4): the judged value is the O2-corrected mean (折算浓度) where the outlet's standard has a
  reference O2, else the measured mean. When no O2-corrected value could be computed (no O2
  minute, O2 ≥ 21 %) the device's own corrected value is judged, else the measured mean; the
  evidence names the ``basis``. The limit is ``Registry.limit`` (permit over standard).
- **status**: ``invalid`` when the hour is not valid (never an exceedance); ``severe`` for heavy
  metals and persistent organic pollutants at ≥ ``policy.severe_multiple`` × limit (MEP Order
  No. 30 (2014) Art. 6(2)); ``exceedance`` above the limit; ``warning`` at ≥
  ``policy.warning_fraction`` × limit; else ``compliant``. Comparisons allow a relative
  1e-9 for binary rounding (``ROUNDING``).
- **daily load** (日排放量 vs the permit's daily quota, Order No. 30 Art. 5): a load above the
  quota is an exceedance even on an incomplete day (missing hours can only add mass); at or
  below it the day must be valid to be called compliant/warning, else ``invalid``.
- **annual load** (year to date vs the annual quota, Order No. 30 Art. 6(3)): judged each time
  a day closes, on the sum of the daily loads of the year so far (China calendar year).
- **re-sent values** (issue 13): an hourly verdict whose hour holds values re-sent with a
  value or flag differing from the first held (``minutes.Resent``) says so in its evidence:
  ``resent_values`` (how many) and ``resent`` (the first ``RESENT_EXAMPLES``, first and
  re-sent value and flag each).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from schemas.measurement import AggregateValue, PeriodKind
from schemas.registry import AlertPolicy, Registry
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.domain.context import DeviceContext
from streams.domain.hourly import HourResult
from streams.domain.load_substitution import DaySubstitution

RESENT_EXAMPLES: Final = 10
"""Re-sent values listed in an hourly verdict's evidence (all are counted)."""


def judged_value(aggregate: AggregateValue) -> tuple[float | None, str]:
    """The hourly value compared with the limit and its basis (for the evidence)."""
    if aggregate.o2_reference is None:
        return aggregate.mean, "measured"
    if aggregate.o2_corrected is not None:
        return aggregate.o2_corrected, "o2_corrected"
    if aggregate.device_o2_corrected is not None:
        return aggregate.device_o2_corrected, "device_o2_corrected"
    return aggregate.mean, "measured_without_o2"


ROUNDING: Final = 1e-9
"""Relative tolerance of threshold comparisons, so that 0.6 mg/L is "3 × 0.2" although
``3 * 0.2`` is 0.6000000000000001 in binary floating point."""


def _at_least(value: float, threshold: float) -> bool:
    return value >= threshold - abs(threshold) * ROUNDING


def _above(value: float, threshold: float) -> bool:
    return value > threshold + abs(threshold) * ROUNDING


def concentration_status(
    value: float, limit: float, policy: AlertPolicy, heavy_metal_or_pop: bool
) -> VerdictStatus:
    """Status of a valid hourly value against its limit."""
    if heavy_metal_or_pop and _at_least(value, policy.severe_multiple * limit):
        return VerdictStatus.SEVERE
    if _above(value, limit):
        return VerdictStatus.EXCEEDANCE
    if _at_least(value, policy.warning_fraction * limit):
        return VerdictStatus.WARNING
    return VerdictStatus.COMPLIANT


def load_status(
    load_kg: float | None, quota_kg: float, policy: AlertPolicy, complete: bool
) -> VerdictStatus:
    """Status of a load against its quota; ``complete`` is whether the period was valid."""
    if load_kg is not None and _above(load_kg, quota_kg):
        return VerdictStatus.EXCEEDANCE
    if load_kg is None or not complete:
        return VerdictStatus.INVALID
    if _at_least(load_kg, policy.warning_fraction * quota_kg):
        return VerdictStatus.WARNING
    return VerdictStatus.COMPLIANT


def judge_hour(result: HourResult, device: DeviceContext, registry: Registry) -> Verdict | None:
    """The hourly concentration verdict, or None when the factor has no limit here."""
    aggregate = result.aggregate
    found = registry.limit(device.outlet, aggregate.factor)
    if found is None:
        return None
    limit, source = found
    policy = registry.policy
    value, basis = judged_value(aggregate)
    if aggregate.valid and value is not None:
        heavy = registry.is_heavy_metal_or_pop(aggregate.factor)
        status = concentration_status(value, limit, policy, heavy)
    else:
        status = VerdictStatus.INVALID
    evidence: dict[str, Any] = {
        "device_id": device.device_id,
        "basis": basis,
        "hourly_mean": aggregate.mean,
        "o2_corrected": aggregate.o2_corrected,
        "o2_measured": aggregate.o2_measured,
        "o2_reference": aggregate.o2_reference,
        "device_o2_corrected": aggregate.device_o2_corrected,
        "o2_disagrees": aggregate.o2_disagrees,
        "o2_guard_minutes": result.o2_guard_minutes,
        "o2_missing_minutes": result.o2_missing_minutes,
        "valid_minutes": aggregate.valid_count,
        "invalid_minutes": aggregate.invalid_count,
        "valid_minutes_required": policy.valid_minutes_per_hour,
        "flag_counts": aggregate.flag_counts,
        "load_kg": aggregate.load_kg,
        "rate_minutes": result.rate_minutes,
        "flow_basis": list(result.flow_basis),
        "flow_defaults": list(result.flow_defaults),
    }
    if status is VerdictStatus.SEVERE:
        evidence["severe_multiple"] = policy.severe_multiple
    if result.resent:
        evidence["resent_values"] = len(result.resent)
        evidence["resent"] = [r.as_json() for r in result.resent[:RESENT_EXAMPLES]]
    return _verdict(
        device,
        aggregate.factor,
        Rule.HOURLY_CONCENTRATION,
        PeriodKind.HOUR,
        aggregate.period_start,
        value,
        limit,
        status,
        source,
        evidence,
    )


def judge_daily_load(
    day: AggregateValue,
    device: DeviceContext,
    policy: AlertPolicy,
    substitution: DaySubstitution | None = None,
) -> Verdict | None:
    """The daily load verdict, or None when the permit sets no daily quota for the factor.

    With ``substitution`` (HJ 75-2017, ``load_substitution``) holding substituted hours, the
    judged load is the measured load plus the substituted kg, both shown in the evidence
    (substituted hours never count as measured)."""
    quota = device.quota(day.factor)
    if quota is None or quota.daily_kg is None:
        return None
    load = day.load_kg
    substituted = substitution is not None and substitution.hours != ()
    if substitution is not None and substituted:
        load = (day.load_kg or 0.0) + substitution.substituted_kg
    status = load_status(load, quota.daily_kg, policy, complete=day.valid)
    evidence: dict[str, Any] = {
        "device_id": device.device_id,
        "daily_load_kg": load,
        "valid_hours": day.valid_count,
        "hours_with_data": day.valid_count + day.invalid_count,
        "valid_hours_required": policy.valid_hours_per_day,
        "day_valid": day.valid,
    }
    if substitution is not None and substituted:
        evidence.update(substitution.evidence(day.load_kg))
    return _verdict(
        device,
        day.factor,
        Rule.DAILY_LOAD,
        PeriodKind.DAY,
        day.period_start,
        load,
        quota.daily_kg,
        status,
        f"permit:{device.outlet_id}",
        evidence,
    )


def judge_annual_load(
    device: DeviceContext,
    factor: str,
    day: datetime,
    ytd_load_kg: float,
    days_counted: int,
    policy: AlertPolicy,
    substitution: Mapping[str, Any] | None = None,
) -> Verdict | None:
    """The year-to-date load verdict issued when ``day`` closes (period_start = that day),
    or None when the permit sets no annual quota for the factor. ``ytd_load_kg`` is measured
    + HJ 75-2017 substituted kg; ``substitution`` (``annual_substitution.year_evidence``)
    shows them apart in the evidence."""
    quota = device.quota(factor)
    if quota is None or quota.annual_kg is None:
        return None
    status = load_status(ytd_load_kg, quota.annual_kg, policy, complete=True)
    evidence: dict[str, Any] = {
        "device_id": device.device_id,
        "year": day.year,
        "through_day": date(day.year, day.month, day.day).isoformat(),
        "days_counted": days_counted,
        "ytd_load_kg": ytd_load_kg,
    }
    if substitution is not None:
        evidence.update(substitution)
    return _verdict(
        device,
        factor,
        Rule.ANNUAL_LOAD,
        PeriodKind.DAY,
        day,
        ytd_load_kg,
        quota.annual_kg,
        status,
        f"permit:{device.outlet_id}",
        evidence,
    )


def _verdict(
    device: DeviceContext,
    factor: str,
    rule: Rule,
    period: PeriodKind,
    period_start: datetime,
    value: float | None,
    limit: float,
    status: VerdictStatus,
    standard: str,
    evidence: dict[str, Any],
) -> Verdict:
    return Verdict(
        enterprise_id=device.enterprise_id,
        outlet_id=device.outlet_id,
        factor=factor,
        rule=rule,
        period=period,
        period_start=period_start,
        value=value,
        limit=limit,
        ratio=value / limit if value is not None and limit > 0 else None,
        status=status,
        standard=standard,
        evidence=evidence,
        registry_version=device.registry_version,
    )

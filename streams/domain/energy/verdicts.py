"""Energy verdicts: a product's unit consumption against its quota, a meter-day's completeness.

Subjects (``Verdict.outlet_id``, the alert's subject): ``<enterprise>/<product>`` for quotas,
the meter id for completeness. ``factor`` says what was judged: ``<unit>@<window>`` (e.g.
``kWh/t@30d``) for a quota, the carrier for completeness. Period: the (closing) day.
"""

from __future__ import annotations

from schemas.measurement import PeriodKind
from schemas.registry import EnergyQuota, Enterprise, Registry
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.domain.energy.model import ConsumptionRow, IntensityRow
from streams.domain.surcharge_estimate import quota_estimate


def quota_subject(enterprise_id: str, product: str) -> str:
    return f"{enterprise_id}/{product}"


def quota_verdict(
    registry: Registry, enterprise: Enterprise, quota: EnergyQuota, row: IntensityRow
) -> Verdict:
    """Judge ``row`` (an intensity in the quota's unit) against ``quota.limit``."""
    ratio = row.value / quota.limit
    if row.value > quota.limit:
        status = VerdictStatus.EXCEEDANCE
    elif ratio >= registry.policy.energy_quota_warning_fraction:
        status = VerdictStatus.WARNING
    else:
        status = VerdictStatus.COMPLIANT
    evidence = dict(row.evidence)
    evidence.update(
        window=row.window,
        indicator=quota.indicator,
        unit=quota.unit,
        excess=max(0.0, row.value - quota.limit),
        warning_fraction=registry.policy.energy_quota_warning_fraction,
    )
    if status is not VerdictStatus.COMPLIANT:
        estimate = quota_estimate(enterprise.region_code, quota, row.period_start.year,
                                  row.value, row.numerator)  # fmt: skip
        if estimate is not None:
            evidence["surcharge"] = estimate
    return Verdict(
        enterprise_id=enterprise.id,
        outlet_id=quota_subject(enterprise.id, quota.product),
        factor=f"{quota.unit}@{row.window}",
        rule=Rule.ENERGY_QUOTA,
        period=PeriodKind.DAY,
        period_start=row.period_start,
        value=row.value,
        limit=quota.limit,
        ratio=ratio,
        status=status,
        standard=quota.standard,
        evidence=evidence,
        registry_version=registry.version,
    )


def completeness_verdict(registry: Registry, row: ConsumptionRow) -> Verdict:
    """Judge a closed meter-day's completeness against ``policy.energy_completeness_min``."""
    completeness = row.completeness or 0.0
    minimum = registry.policy.energy_completeness_min
    status = VerdictStatus.COMPLIANT if completeness >= minimum else VerdictStatus.WARNING
    return Verdict(
        enterprise_id=row.enterprise_id,
        outlet_id=row.meter_id,
        factor=row.carrier,
        rule=Rule.ENERGY_COMPLETENESS,
        period=PeriodKind.DAY,
        period_start=row.period_start,
        value=completeness,
        limit=minimum,
        ratio=completeness / minimum,
        status=status,
        evidence={
            "readings": row.readings,
            "expected": row.expected,
            "marks": list(row.marks),
            "registry_version": registry.version,
        },
        registry_version=registry.version,
    )

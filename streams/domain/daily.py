"""Daily aggregation (日均值, daily load) from hourly summaries (HJ 75-2017).

- **validity**: a day is valid with at least ``policy.valid_hours_per_day`` (20) valid hours;
  ``invalid_count`` counts the hours with data that were not valid.
- ``mean``, ``min``, ``max``, ``o2_measured``, ``o2_corrected``, ``device_o2_corrected``:
  mean, minimum and maximum of the **valid** hours' values.
- ``load_kg``: the sum of the hourly loads of **every** hour that has one, valid or not (a
  load is mass that left the stack; an invalid hour's load is still the best estimate of
  it). Hours with no rate (no flow, no valid minute) add nothing: no substitution of missing
  data (HJ 75-2017; domain.md §3) is made. ``emission_rate_kgh`` is the mean of the hourly rates,
  ``flow_std_m3h`` the mean of the hourly flows.
- ``flag_counts``: minutes by flag, summed over the hours.

Only what the day needs of a closed hour is kept (``HourSummary``): the minutes of a closed
hour are dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from math import fsum

from schemas.measurement import AggregateValue, PeriodKind
from schemas.registry import AlertPolicy
from streams.domain import factors
from streams.domain.context import DeviceContext
from streams.domain.o2 import disagrees


@dataclass(frozen=True, slots=True)
class HourSummary:
    """What the day needs of one closed hour of one factor, and the fingerprint of the hourly
    aggregate that was issued for it (to re-issue only what late data change)."""

    valid: bool
    mean: float | None
    o2_measured: float | None
    o2_corrected: float | None
    device_o2_corrected: float | None
    flow_std_m3h: float | None
    emission_rate_kgh: float | None
    load_kg: float | None
    flag_counts: tuple[tuple[str, int], ...]
    fingerprint: int
    reported: int = 0
    """Minutes (sub-periods) reported, valid or flagged (``streams.domain.capture``)."""

    @classmethod
    def of(cls, aggregate: AggregateValue) -> HourSummary:
        return cls(
            valid=aggregate.valid,
            mean=aggregate.mean,
            o2_measured=aggregate.o2_measured,
            o2_corrected=aggregate.o2_corrected,
            device_o2_corrected=aggregate.device_o2_corrected,
            flow_std_m3h=aggregate.flow_std_m3h,
            emission_rate_kgh=aggregate.emission_rate_kgh,
            load_kg=aggregate.load_kg,
            flag_counts=tuple(sorted(aggregate.flag_counts.items())),
            fingerprint=fingerprint(aggregate),
            reported=aggregate.valid_count + aggregate.invalid_count,
        )


def fingerprint(aggregate: AggregateValue) -> int:
    """A value that changes when any field of ``aggregate`` changes (within one process)."""
    return hash(aggregate.model_dump_json())


def aggregate_day(
    device: DeviceContext,
    day: datetime,
    factor: str,
    hours: Mapping[datetime, HourSummary],
    policy: AlertPolicy,
) -> AggregateValue:
    """The daily aggregate of ``factor`` from its closed hours (hour start → summary)."""
    ordered = [hours[start] for start in sorted(hours)]
    valid = [h for h in ordered if h.valid]
    means = _present([h.mean for h in valid])
    loads = _present([h.load_kg for h in ordered])
    corrected = _mean(_present([h.o2_corrected for h in valid]))
    device_corrected = _mean(_present([h.device_o2_corrected for h in valid]))
    flags: Counter[str] = Counter()
    for hour in ordered:
        flags.update(dict(hour.flag_counts))
    return AggregateValue(
        outlet_id=device.outlet_id,
        device_id=device.device_id,
        factor=factor,
        period=PeriodKind.DAY,
        period_start=day,
        valid=len(valid) >= policy.valid_hours_per_day,
        valid_count=len(valid),
        invalid_count=len(ordered) - len(valid),
        flag_counts=dict(sorted(flags.items())),
        mean=_mean(means),
        min=min(means, default=None),
        max=max(means, default=None),
        o2_measured=_mean(_present([h.o2_measured for h in valid])),
        o2_reference=device.reference_o2 if factors.is_pollutant(factor) else None,
        o2_corrected=corrected,
        device_o2_corrected=device_corrected,
        o2_disagrees=(
            corrected is not None
            and device_corrected is not None
            and disagrees(corrected, device_corrected, policy.o2_disagreement_pct)
        ),
        flow_std_m3h=_mean(_present([h.flow_std_m3h for h in ordered])),
        emission_rate_kgh=_mean(_present([h.emission_rate_kgh for h in ordered])),
        load_kg=fsum(loads) if loads else None,
        registry_version=device.registry_version,
    )


def _present(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _mean(values: list[float]) -> float | None:
    return fsum(values) / len(values) if values else None

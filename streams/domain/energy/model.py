"""Outputs of the energy engine: the rows the sink stores and ``greenwatch replay`` prints.

Natural keys (the sink's upserts, migration 005):

- ``ReadingRow`` (meter_id, stat_type, at): one posted value, with its data-quality marks;
- ``ConsumptionRow`` (meter_id, period, period_start): consumption of one meter in an hour,
  day or month, in the carrier's unit and in kgce on both bases and kg CO2;
- ``IntensityRow`` (enterprise_id, subject, indicator, window, period_start): Σ/Σ over the
  window ending with the day starting at ``period_start``;
- ``StatisticRow`` (enterprise_id, indicator, product, stat_type, period_start);
- ``ProcessCo2Row`` (enterprise_id, product, period_start): a day's process CO2 (migration 011).

Energy verdicts are ``schemas.verdict.Verdict`` (rules ``energy_quota``, ``energy_completeness``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.verdict import Verdict


@dataclass(frozen=True, slots=True)
class ReadingRow:
    meter_id: str
    enterprise_id: str
    stat_type: str
    at: datetime
    value: float
    unit: str
    register: bool
    marks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsumptionRow:
    meter_id: str
    enterprise_id: str
    carrier: str
    product: str | None
    feedstock: bool
    period: str
    period_start: datetime
    quantity: float
    kgce_calorific: float
    kgce_equivalent: float
    co2_kg: float | None
    readings: int | None = None
    expected: int | None = None
    marks: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def completeness(self) -> float | None:
        if self.readings is None or not self.expected:
            return None
        return min(1.0, self.readings / self.expected)


@dataclass(frozen=True, slots=True)
class IntensityRow:
    enterprise_id: str
    subject: str
    indicator: str
    window: str
    period_start: datetime
    numerator: float
    denominator: float
    value: float
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class StatisticRow:
    enterprise_id: str
    indicator: str
    product: str
    stat_type: str
    period_start: datetime
    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class ProcessCo2Row:
    """Process CO2 of one product on one day (``streams.domain.energy.process``): output (t)
    × factor (t CO2/t); natural key (enterprise_id, product, period_start)."""

    enterprise_id: str
    product: str
    process: str
    period_start: datetime
    output_t: float
    co2_t: float
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(slots=True)
class EnergyOutput:
    """What one ``EnergyEngine.ingest`` call produced or changed."""

    readings: list[ReadingRow] = field(default_factory=list)
    statistics: list[StatisticRow] = field(default_factory=list)
    consumption: list[ConsumptionRow] = field(default_factory=list)
    intensities: list[IntensityRow] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    process_co2: list[ProcessCo2Row] = field(default_factory=list)

    def extend(self, other: EnergyOutput) -> None:
        self.readings += other.readings
        self.statistics += other.statistics
        self.consumption += other.consumption
        self.intensities += other.intensities
        self.verdicts += other.verdicts
        self.process_co2 += other.process_co2

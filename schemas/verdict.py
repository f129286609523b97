"""Verdicts: the judgement of one value against one threshold, with its evidence."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.measurement import PeriodKind

SCHEMA_VERSION = 1


class VerdictStatus(StrEnum):
    """Outcome of judging one value."""

    COMPLIANT = "compliant"
    WARNING = "warning"
    """At or above the warning fraction (default 80%) of the limit, not above it."""
    EXCEEDANCE = "exceedance"
    """Above the limit (concentration) or the quota (load)."""
    SEVERE = "severe"
    """Heavy metal or persistent organic pollutant at ≥3× the limit (Order 30, Art. 6(2))."""
    INVALID = "invalid"
    """Not a valid period: not used to judge exceedance."""


class Rule(StrEnum):
    """What was judged."""

    HOURLY_CONCENTRATION = "hourly_concentration"
    DAILY_LOAD = "daily_load"
    ANNUAL_LOAD = "annual_load"
    ENERGY_QUOTA = "energy_quota"
    """Unit product energy consumption over a rolling window against the product's quota."""
    ENERGY_COMPLETENESS = "energy_completeness"
    """A meter-day's real-time readings against the expected number (key-energy-user rule)."""
    ENERGY_CONSISTENCY = "energy_consistency"
    """A month's reported figure against the sum of its daily figures (key-energy-user rule:
    within 5 %)."""
    PLAN_PROGRESS = "plan_progress"
    """A region's or enterprise's progress toward a plan target (barometer colour, issue 10):
    subject ``region:<GB/T 2260>`` or ``enterprise:<id>``, factor the target id."""


class Verdict(BaseModel):
    """One judgement; the natural key is (outlet, factor, rule, period_start)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    enterprise_id: str
    outlet_id: str
    factor: str
    rule: Rule
    period: PeriodKind
    period_start: AwareDatetime
    value: float | None
    limit: float | None
    ratio: float | None = Field(description="value / limit.")
    status: VerdictStatus
    standard: str | None = Field(default=None, description="Standard or permit the limit is from.")
    evidence: dict[str, Any] = Field(default_factory=dict)
    registry_version: str

"""Wire models of normalised measurements and of hourly/daily aggregates.

Units: concentrations mg/m³ (gas) or mg/L (water), O2 and moisture %, flow m³/s (gas,
actual conditions) or L/s (water), emission rate kg/h, loads kg. Times are aware datetimes;
HJ 212 DataTime is China time (UTC+8) and marks the **start** of a minute/hour/day period.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = 1


class PeriodKind(StrEnum):
    """Period a value covers: HJ 212 CN 2011 (rtd), 2051 (minute), 2061 (hour), 2031 (day)."""

    RTD = "rtd"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"
    """Verdicts only (energy day-vs-month consistency); no HJ 212 data period."""


class DataFlag(StrEnum):
    """HJ 212-2017 data flags (数据标记)."""

    NORMAL = "N"
    STOPPED = "F"
    MAINTENANCE = "M"
    MANUAL = "S"
    FAULT = "D"
    CALIBRATION = "C"
    OVER_RANGE = "T"
    COMM_FAULT = "B"


INVALID_FOR_COMPLIANCE: frozenset[str] = frozenset({"F", "M", "C", "D", "B"})
"""Flags whose data are not valid for compliance (HJ 75-2017; MEE marking rules 2022)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One factor's value for one device and period, as reported (codes mapped to HJ 212-2017).

    A plain slotted dataclass, not a pydantic model: the stream worker makes one per factor per
    frame and every stage reads it (docs/perf.md: validating it was the worker's largest single
    cost). It is built only from typed input, by ``streams.domain.normalize`` (from a decoded
    frame) and ``streams.store`` (from the table), so nothing is validated per instance;
    ``MEASUREMENT_ADAPTER`` gives its JSON Schema and validates external JSON at an edge.
    ``period_start`` and ``received_at`` must be aware.
    """

    schema_version: int = SCHEMA_VERSION
    device_id: Annotated[str, Field(description="HJ 212 MN.")]
    outlet_id: Annotated[str | None, Field(description="Outlet from the registry, if known.")] = (
        None
    )
    factor: Annotated[str, Field(description="HJ 212-2017 factor code, e.g. a21026 (SO2).")]
    factor_as_sent: Annotated[str, Field(description="Code as the device sent it (2005 or 2017).")]
    period: PeriodKind
    period_start: AwareDatetime
    rtd: float | None = None
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    cou: Annotated[float | None, Field(description="Period total (kg or m³).")] = None
    zs_rtd: Annotated[float | None, Field(description="Device O2-corrected (折算) Rtd.")] = None
    zs_avg: Annotated[float | None, Field(description="Device O2-corrected (折算) Avg.")] = None
    flag: Annotated[str, Field(description="Data flag N/F/M/S/D/C/T/B.")] = "N"
    received_at: AwareDatetime
    qn: str | None = None

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Measurement:
        """A copy with ``update`` applied (``dataclasses.replace``; the name pydantic models
        use, so code written against the wire model keeps working)."""
        return dataclasses.replace(self, **(update or {}))


MEASUREMENT_ADAPTER: Final = TypeAdapter(Measurement)
"""Validation and JSON Schema of ``Measurement`` at the edges (``greenwatch schemas export``)."""


class AggregateValue(BaseModel):
    """A valid-or-not hourly or daily value for one outlet and factor (HJ 75-2017 validity).

    ``mean`` is the measured (dry) concentration; ``o2_corrected`` the value at the standard's
    reference O2 (折算浓度, HJ 75-2017). Rates and loads use the measured concentration.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    outlet_id: str
    device_id: str
    factor: str
    period: PeriodKind
    period_start: AwareDatetime
    valid: bool = Field(description="≥45 valid minutes (hour) or ≥20 valid hours (day).")
    valid_count: int = Field(description="Valid minutes (hour) or valid hours (day).")
    invalid_count: int = Field(description="Sub-periods excluded by flag (F/M/C/D/B).")
    flag_counts: dict[str, int] = Field(default_factory=dict)
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    o2_measured: float | None = None
    o2_reference: float | None = None
    o2_corrected: float | None = None
    device_o2_corrected: float | None = None
    o2_disagrees: bool = False
    flow_std_m3h: float | None = Field(default=None, description="Dry standard flow, m³/h.")
    emission_rate_kgh: float | None = None
    load_kg: float | None = None
    registry_version: str

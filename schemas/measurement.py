"""Wire models of normalised measurements and of hourly/daily aggregates.

Units: concentrations mg/m³ (gas) or mg/L (water), O2 and moisture %, flow m³/s (gas,
actual conditions) or L/s (water), emission rate kg/h, loads kg. Times are aware datetimes;
HJ 212 DataTime is China time (UTC+8) and marks the **start** of a minute/hour/day period.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Final, NamedTuple, get_type_hints

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    create_model,
)
from pydantic_core import core_schema

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


class Measurement(NamedTuple):
    """One factor's value for one device and period, as reported (codes mapped to HJ 212-2017).

    A named tuple, not a pydantic model nor a dataclass: the stream worker makes one per
    factor per frame and every stage reads it (docs/perf.md: validating a model was the
    worker's largest single cost, a frozen dataclass's ``object.__setattr__`` per field the
    next). A tuple is built in C and immutable at run time (assigning a field raises
    ``AttributeError``); ``_replace`` / ``model_copy`` give a changed copy. It is built only
    from typed input, by ``streams.domain.normalize`` (from a decoded frame) and
    ``streams.store`` (from the table), so nothing is validated per instance.
    ``MEASUREMENT_ADAPTER`` (and any pydantic ``TypeAdapter(Measurement)``) validates
    external JSON at an edge and exports the JSON Schema: an **object** with these fields,
    derived from this class (``_edge_model``), not an array. ``period_start`` and
    ``received_at`` must be aware.

    Field order is the tuple's layout (the fields without a default first); only
    ``streams.domain.normalize`` builds one positionally (tested against the names).
    """

    device_id: Annotated[str, Field(description="HJ 212 MN.")]
    factor: Annotated[str, Field(description="HJ 212-2017 factor code, e.g. a21026 (SO2).")]
    factor_as_sent: Annotated[str, Field(description="Code as the device sent it (2005 or 2017).")]
    period: PeriodKind
    period_start: AwareDatetime
    received_at: AwareDatetime
    schema_version: int = SCHEMA_VERSION
    outlet_id: Annotated[str | None, Field(description="Outlet from the registry, if known.")] = (
        None
    )
    rtd: float | None = None
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    cou: Annotated[float | None, Field(description="Period total (kg or m³).")] = None
    zs_rtd: Annotated[float | None, Field(description="Device O2-corrected (折算) Rtd.")] = None
    zs_avg: Annotated[float | None, Field(description="Device O2-corrected (折算) Avg.")] = None
    flag: Annotated[str, Field(description="Data flag N/F/M/S/D/C/T/B.")] = "N"
    qn: str | None = None

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Measurement:
        """A copy with ``update`` applied (``_replace``; the name pydantic models use, so
        code written against the wire model keeps working)."""
        return self._replace(**(update or {}))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Validate and serialise as the object ``_edge_model()`` describes (not pydantic's
        array schema of a named tuple); validation returns a ``Measurement``."""
        edge = handler.generate_schema(_edge_model())
        return core_schema.no_info_wrap_validator_function(
            _from_edge,
            edge,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _to_edge, return_schema=edge
            ),
        )


@cache
def _edge_model() -> type[BaseModel]:
    """The pydantic model of ``Measurement``'s fields (names, types, descriptions, defaults
    from the class itself): its JSON Schema and its validation at an edge."""
    hints = get_type_hints(Measurement, include_extras=True)
    defaults = Measurement._field_defaults
    fields: dict[str, Any] = {
        name: (hints[name], defaults.get(name, ...)) for name in Measurement._fields
    }
    return create_model("Measurement", __doc__=_EDGE_DESCRIPTION, **fields)


_EDGE_DESCRIPTION: Final = (
    "One factor's value for one device and period, as reported (codes mapped to HJ 212-2017). "
    "period_start (the start of the period, HJ 212 DataTime) and received_at are aware times."
)


def _from_edge(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> Measurement:
    """A ``Measurement`` as it is, anything else validated as the edge model's object."""
    if isinstance(value, Measurement):
        return value
    return Measurement(**dict(validate(value)))


def _to_edge(measurement: Measurement) -> BaseModel:
    return _edge_model().model_construct(**measurement._asdict())


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

"""Energy contracts: meters and products in the registry, readings and statistics on the wire.

Registry side (``Enterprise.energy``): an enterprise's energy meters (carrier from the fixed
list, reading kind, multiplier and rollover, declared replacements, what it serves), its
products (output unit; the quota itself is an ``EnergyQuota`` of the enterprise naming the
product) and the keyed digest of its API key (HMAC-SHA256 under the server's
``GREENWATCH_ENERGY_KEY_SECRET``; the key is never stored, see ``ingest.energy.keys``).

Wire side: the bodies of ``POST /v1/readings`` and ``POST /v1/statistics`` (``ReadingIn``,
``StatisticIn``); ``EnergyBatch``, the payload of one raw energy record (inside a
``RawEnvelope`` with protocol ``energy-json``): the items of one request that were accepted;
``EnergyRecord``, one item with its enterprise, the unit the energy engine ingests. Times are
aware; China time (UTC+8) periods start at 00:00 local. Statistic types are those of the
key-energy-user system (``statType`` 0 real-time every 15 min, 1 day, 2 month, 3 year;
domain-energy.md §1.4).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.energy_reference import Carrier, FrozenModel

SCHEMA_VERSION = 1


class ReadingKind(StrEnum):
    """How a meter reports: a cumulative register (表码) or the quantity of a period."""

    CUMULATIVE = "cumulative"
    INTERVAL = "interval"


class StatType(StrEnum):
    """Statistic type (statType) of the key-energy-user system."""

    REALTIME = "realtime"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class MeterReplacement(FrozenModel):
    """A declared meter swap: the old register's last value and the new one's first, at ``at``."""

    at: AwareDatetime
    old_final: float = Field(ge=0, description="Old register's final value (raw, unmultiplied).")
    new_initial: float = Field(ge=0, description="New register's value when fitted (raw).")


class Hj212Channel(FrozenModel):
    """Where an HJ 212 device reports a meter beside its pollutants (domain.md §2: ``i33201``
    cumulative kWh, ``i33202`` daily kWh): the gateway turns the factor's value in frames from
    device ``mn`` into readings of the meter (``ingest.gateway.energy_factors``)."""

    mn: str = Field(min_length=1, description="The device's MN (a device of the same enterprise).")
    code: str = Field(pattern=r"^i3\d{4}$", description="The energy factor code (i3…).")
    cn: Literal["2011", "2051", "2061", "2031"] | None = Field(
        default=None,
        description="The data command whose frames carry the readings: a register's value "
        "is the Rtd of real-time data (2011, the default for a cumulative meter); an "
        "interval quantity is the Cou of its period (2031 daily, the default for an interval "
        "meter; 2051/2061 for a meter whose interval is that period). Frames of other "
        "commands repeat the same energy at another resolution and are not read.",
    )


class Meter(FrozenModel):
    """An energy meter (计量器具) of an enterprise."""

    id: str
    carrier: Carrier
    unit: str = Field(description="Unit of the readings; must be the carrier's unit.")
    kind: ReadingKind
    multiplier: float = Field(default=1.0, gt=0, description="CT/PT ratio or register factor.")
    rollover: float | None = Field(
        default=None, gt=0, description="Register wraps to 0 after this raw value."
    )
    max_per_hour: float | None = Field(
        default=None,
        gt=0,
        description="Plausible consumption per hour (unit); above it a delta is marked "
        "implausible_jump (kept, not dropped).",
    )
    interval_minutes: int = Field(default=15, gt=0, description="Real-time reading interval.")
    process: str | None = Field(default=None, description="Process (工序) it serves.")
    product: str | None = Field(default=None, description="Product whose consumption it meters.")
    feedstock: bool = Field(
        default=False,
        description="Use as raw material (原料用能): excluded from intensity per "
        "发改环资〔2022〕803号, still counted in consumption.",
    )
    replacements: list[MeterReplacement] = Field(default_factory=list)
    hj212: Hj212Channel | None = Field(
        default=None, description="Read over HJ 212 on the TCP gateway: device MN and i3… code."
    )


class Product(FrozenModel):
    """A product whose output is reported (the denominator of unit consumption)."""

    id: str
    name: str
    unit: Literal["t"] = "t"
    process_co2: str | None = Field(
        default=None,
        description="Process emissions of making it (a `process_co2` key of the energy "
        "reference: cement_clinker, aluminium_anode, lime): output × factor is added to the "
        "enterprise's CO2.",
    )


class EnterpriseEnergy(FrozenModel):
    """The energy side of an enterprise (重点用能单位)."""

    api_key_hmac: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="hex HMAC-SHA256 of the API key under the server's key secret.",
    )
    meters: list[Meter] = Field(default_factory=list)
    products: list[Product] = Field(default_factory=list)


# --- wire ------------------------------------------------------------------------------


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ReadingIn(_Item):
    """One meter reading: a register value at ``instant`` (cumulative meters) or the quantity
    of the period starting at ``period_start`` (interval meters; length from ``stat_type``)."""

    meter_id: str = Field(min_length=1, max_length=64)
    value: float = Field(description="Raw register value or quantity, in ``unit``; finite.")
    unit: str = Field(min_length=1, max_length=16)
    stat_type: StatType = StatType.REALTIME
    instant: AwareDatetime | None = None
    period_start: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_time(self) -> ReadingIn:
        if (self.instant is None) == (self.period_start is None):
            raise ValueError("give exactly one of instant (register) or period_start (quantity)")
        if self.instant is not None and self.stat_type is not StatType.REALTIME:
            raise ValueError("a register reading (instant) is a real-time statistic")
        if self.value < 0:
            raise ValueError("a reading is never negative")
        return self

    @property
    def at(self) -> datetime:
        """The instant or period start: with meter and stat type, the idempotency key."""
        at = self.instant or self.period_start
        assert at is not None
        return at


class ReadingsRequest(_Item):
    """Body of ``POST /v1/readings`` (at most the server's ``max_items``)."""

    readings: list[ReadingIn]


class StatisticIndicator(StrEnum):
    """Monthly figures an enterprise reports (月报), with their units."""

    OUTPUT = "output"
    INDUSTRIAL_OUTPUT_VALUE = "industrial_output_value"
    VALUE_ADDED = "value_added"
    NEW_WATER = "new_water"
    SOLID_WASTE_GENERATED = "solid_waste_generated"
    SOLID_WASTE_UTILISED = "solid_waste_utilised"
    SOLID_WASTE_UTILISED_FROM_STOCK = "solid_waste_utilised_from_stock"
    PHOSPHOGYPSUM_PRODUCED = "phosphogypsum_produced"
    PHOSPHOGYPSUM_CONSUMED = "phosphogypsum_consumed"
    # Resource indicators of the plans (issue 10, streams/domain/plan_progress.py).
    FLY_ASH_GENERATED = "fly_ash_generated"
    FLY_ASH_UTILISED = "fly_ash_utilised"
    FLY_ASH_UTILISED_FROM_STOCK = "fly_ash_utilised_from_stock"
    PHOSPHOGYPSUM_UTILISED = "phosphogypsum_utilised"
    PHOSPHOGYPSUM_TREATED = "phosphogypsum_treated"
    PHOSPHOGYPSUM_STOCK = "phosphogypsum_stock"


STATISTIC_UNITS: dict[StatisticIndicator, str] = {
    StatisticIndicator.OUTPUT: "t",
    StatisticIndicator.INDUSTRIAL_OUTPUT_VALUE: "10^4 yuan",
    StatisticIndicator.VALUE_ADDED: "10^4 yuan",
    StatisticIndicator.NEW_WATER: "m3",
    StatisticIndicator.SOLID_WASTE_GENERATED: "t",
    StatisticIndicator.SOLID_WASTE_UTILISED: "t",
    StatisticIndicator.SOLID_WASTE_UTILISED_FROM_STOCK: "t",
    StatisticIndicator.PHOSPHOGYPSUM_PRODUCED: "t",
    StatisticIndicator.PHOSPHOGYPSUM_CONSUMED: "t",
    StatisticIndicator.FLY_ASH_GENERATED: "t",
    StatisticIndicator.FLY_ASH_UTILISED: "t",
    StatisticIndicator.FLY_ASH_UTILISED_FROM_STOCK: "t",
    StatisticIndicator.PHOSPHOGYPSUM_UTILISED: "t",
    StatisticIndicator.PHOSPHOGYPSUM_TREATED: "t",
    StatisticIndicator.PHOSPHOGYPSUM_STOCK: "t",
}
"""The unit each indicator is reported in (values at constant prices for the yuan ones)."""


class StatisticIn(_Item):
    """One reported figure for the day or month starting at ``period_start``."""

    indicator: StatisticIndicator
    product: str | None = Field(default=None, description="Product id; required for output.")
    stat_type: Literal[StatType.DAY, StatType.MONTH] = StatType.MONTH
    period_start: AwareDatetime
    value: float = Field(ge=0)
    unit: str

    @model_validator(mode="after")
    def _product(self) -> StatisticIn:
        if (self.indicator is StatisticIndicator.OUTPUT) != (self.product is not None):
            raise ValueError("output names its product; other indicators name none")
        return self


class StatisticsRequest(_Item):
    """Body of ``POST /v1/statistics``."""

    statistics: list[StatisticIn]


class EnergyRecord(BaseModel):
    """Payload of one accepted item on the raw energy topic (key: meter id, or the enterprise
    id for statistics): what was posted, by which enterprise, and when it was accepted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    enterprise_id: str
    reading: ReadingIn | None = None
    statistic: StatisticIn | None = None

    @model_validator(mode="after")
    def _one(self) -> EnergyRecord:
        if (self.reading is None) == (self.statistic is None):
            raise ValueError("an energy record holds one reading or one statistic")
        return self


class EnergyBatch(BaseModel):
    """Payload of one record of the raw energy topic: the items one request of
    ``enterprise_id`` got accepted (one JSON document per record, as a frame is for HJ 212)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    enterprise_id: str
    readings: list[ReadingIn] = Field(default_factory=list)
    statistics: list[StatisticIn] = Field(default_factory=list)

    def records(self) -> list[EnergyRecord]:
        """One ``EnergyRecord`` per item, readings first, each in posted order. The items are
        validated models already: pydantic takes them as they are (no second validation),
        which measured faster than ``model_construct`` and its default handling."""
        enterprise = self.enterprise_id
        return [
            *(EnergyRecord(enterprise_id=enterprise, reading=r) for r in self.readings),
            *(EnergyRecord(enterprise_id=enterprise, statistic=s) for s in self.statistics),
        ]

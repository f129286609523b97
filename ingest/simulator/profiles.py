"""Industry profiles of the simulated province, read from ``industries.yaml`` (typed, validated).

The numbers are typical operating values, not limits; see the YAML's header for units.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Band(_Frozen):
    """A value around ``base`` with absolute noise ``noise``, plus ``per_load`` × load."""

    base: float
    noise: float
    per_load: float = 0.0


class O2Profile(_Frozen):
    """Measured O2 (%): ``full_load`` at full load, plus ``low_load_extra`` × (1 − load)."""

    full_load: float
    low_load_extra: float
    noise: float


class FlowProfile(_Frozen):
    """Flow at full load (gas m³/s, water L/s) and its relative noise."""

    full_load: float
    noise: float


class PollutantProfile(_Frozen):
    """Mean O2-corrected concentration as a fraction of the limit; relative noise."""

    fraction: float = Field(gt=0)
    noise: float = Field(ge=0)


class OutletKind(_Frozen):
    """A kind of outlet: what its monitor measures and how the values behave."""

    medium: Literal["gas", "water"]
    name: str
    load: str
    load_noise: float
    flow: FlowProfile
    pollutants: dict[str, PollutantProfile]
    o2: O2Profile | None = None
    temperature: Band | None = None
    pressure: Band | None = None
    humidity: Band | None = None
    ph: Band | None = None


class OutletPlan(_Frozen):
    """Outlets of one kind an enterprise of an industry has."""

    kind: str
    standard: str
    count: int = Field(ge=1)
    suffix: str


class Industry(_Frozen):
    name: str
    english: str
    code: str
    industry_code: str
    weight: int = Field(ge=1)
    art7_facility: bool = False
    outlets: list[OutletPlan]


class RegionEntry(_Frozen):
    code: str
    name: str


class Profiles(_Frozen):
    """The whole ``industries.yaml``."""

    version: str
    regions: list[RegionEntry]
    load_profiles: dict[str, list[float]]
    outlet_kinds: dict[str, OutletKind]
    industries: dict[str, Industry]

    def load_at(self, profile: str, hour: float) -> float:
        """Fraction of full load at ``hour`` (0-24, China time), linearly interpolated."""
        table = self.load_profiles[profile]
        low = int(hour) % 24
        high = (low + 1) % 24
        weight = hour - int(hour)
        return table[low] * (1 - weight) + table[high] * weight


@lru_cache(maxsize=1)
def load_profiles() -> Profiles:
    """The packaged ``industries.yaml``. Raises ``pydantic.ValidationError`` if it is broken."""
    text = resources.files("ingest.simulator").joinpath("industries.yaml").read_text("utf-8")
    return Profiles.model_validate(yaml.safe_load(text))

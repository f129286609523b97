"""Energy reference data: carriers, standard-coal coefficients, CO2 and grid factors.

The values live in ``schemas/reference/energy.yaml`` (sources and validity years beside each
value, [?] values marked ``unconfirmed``); this module is their model and lookups. Every lookup
returns the entry itself, so a computed tce or CO2 figure can quote the value, its validity
and its source in its evidence (``Coefficient.cite``).

Units: coal coefficients kgce per carrier unit (GB/T 2589-2020, standard coal 29 307 kJ/kg),
CO2 factors kg CO2 per carrier unit, grid factors kg CO2 per kWh.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from schemas.yamlfile import YamlFileError, parse_yaml, read_yaml_file

_T = TypeVar("_T")


class Carrier(StrEnum):
    """Energy carriers a meter may measure (the fixed list of issue 9, GB/T 2589-2020)."""

    ELECTRICITY = "electricity"
    RAW_COAL = "raw_coal"
    WASHED_COAL = "washed_coal"
    COKE = "coke"
    NATURAL_GAS = "natural_gas"
    FUEL_OIL = "fuel_oil"
    DIESEL = "diesel"
    GASOLINE = "gasoline"
    LPG = "lpg"
    STEAM = "steam"
    HEAT = "heat"


class ElectricityBasis(StrEnum):
    """How electricity converts to standard coal: 当量值 (0.1229 kgce/kWh) or 等价值 (yearly)."""

    CALORIFIC = "calorific"
    EQUIVALENT = "equivalent"


class CarrierCategory(StrEnum):
    """GB/T 2589-2020: primary (一次能源) or secondary (二次能源) energy."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class FrozenModel(BaseModel):
    """Base of the energy contracts: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CarrierInfo(FrozenModel):
    name: str
    unit: str = Field(description="Unit a meter of this carrier reports in (kWh, kg, m3, MJ).")
    category: CarrierCategory


class Coefficient(FrozenModel):
    """One reference value with its validity years (inclusive) and source."""

    value: float = Field(gt=0)
    valid_from: int
    valid_to: int | None = None
    source: str
    unconfirmed: bool = False
    carrier: Carrier | None = None
    process: str | None = Field(
        default=None, description="Process of a process-CO2 factor (t CO2 per t of product)."
    )

    def covers(self, year: int) -> bool:
        return self.valid_from <= year and (self.valid_to is None or year <= self.valid_to)

    def cite(self) -> dict[str, Any]:
        """The evidence form: value, validity, source and whether it is [?]."""
        return {
            "value": self.value,
            "valid": f"{self.valid_from}..{self.valid_to or ''}",
            "source": self.source,
            "unconfirmed": self.unconfirmed,
        }


class GridFactor(FrozenModel):
    """kg CO2 per kWh of purchased electricity for one year and region (code prefix)."""

    year: int
    region: str = Field(description="GB/T 2260 code prefix; '' = national.")
    scope: str
    value: float = Field(gt=0)
    source: str
    unconfirmed: bool = False

    def cite(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "year": self.year,
            "scope": self.scope,
            "source": self.source,
            "unconfirmed": self.unconfirmed,
        }


class ElectricityCoefficients(FrozenModel):
    calorific: list[Coefficient]
    equivalent: list[Coefficient]


class EnergyReference(FrozenModel):
    """The whole reference file; lookups raise ``KeyError`` naming what is missing."""

    version: str
    carriers: dict[Carrier, CarrierInfo]
    coal_coefficients: list[Coefficient]
    electricity: ElectricityCoefficients
    co2_factors: list[Coefficient]
    grid_factors: list[GridFactor]
    process_co2: list[Coefficient] = Field(default_factory=list)
    """t CO2 per t of product from the process (clinker, anodes, lime: domain-energy.md §5.3)."""
    _memo: dict[tuple[Any, ...], Any] = PrivateAttr(default_factory=dict)

    def memo(self, key: tuple[Any, ...], build: Callable[[], _T]) -> _T:
        """``build()`` once per ``key`` for this (immutable) reference: lookups derived from it
        (``streams.domain.energy.conversion``) are computed once, not per row."""
        try:
            found: _T = self._memo[key]
        except KeyError:
            found = self._memo[key] = build()
        return found

    @model_validator(mode="after")
    def _check(self) -> EnergyReference:
        missing = set(Carrier) - set(self.carriers)
        if missing:
            raise ValueError(f"carriers missing: {sorted(missing)}")
        for entry in (*self.coal_coefficients, *self.co2_factors):
            if entry.carrier is None:
                raise ValueError(f"coefficient without a carrier: {entry.source}")
        for entry in self.process_co2:
            if entry.process is None:
                raise ValueError(f"process CO2 factor without a process: {entry.source}")
        return self

    def unit(self, carrier: Carrier) -> str:
        return self.carriers[carrier].unit

    def coal_coefficient(self, carrier: Carrier, basis: ElectricityBasis, year: int) -> Coefficient:
        """kgce per unit of ``carrier`` in ``year`` (electricity on ``basis``)."""
        if carrier is Carrier.ELECTRICITY:
            entries = getattr(self.electricity, basis.value)
        else:
            entries = [c for c in self.coal_coefficients if c.carrier is carrier]
        return _in_force(entries, year, f"standard-coal coefficient of {carrier} ({basis})")

    def co2_factor(self, carrier: Carrier, year: int) -> Coefficient | None:
        """kg CO2 per unit burnt, or None when the reference has none for the carrier."""
        entries = [c for c in self.co2_factors if c.carrier is carrier]
        if not entries:
            return None
        return _in_force(entries, year, f"CO2 factor of {carrier}")

    def process_factor(self, process: str, year: int) -> Coefficient:
        """t CO2 per t of product of ``process`` in ``year``; raises ``KeyError``."""
        entries = [c for c in self.process_co2 if c.process == process]
        return _in_force(entries, year, f"process CO2 factor of {process}")

    def processes(self) -> set[str]:
        return {c.process for c in self.process_co2 if c.process is not None}

    def grid_factor(self, year: int, region_code: str) -> GridFactor:
        """The grid factor for ``year`` (else the latest earlier year published) of the
        longest region prefix of ``region_code`` that has one (else national)."""
        years = sorted({g.year for g in self.grid_factors if g.year <= year}, reverse=True)
        for candidate in years:
            matching = [
                g
                for g in self.grid_factors
                if g.year == candidate and region_code.startswith(g.region)
            ]
            if matching:
                return max(matching, key=lambda g: len(g.region))
        raise KeyError(f"no grid factor for {year} or earlier")


def _in_force(entries: list[Coefficient], year: int, what: str) -> Coefficient:
    for entry in entries:
        if entry.covers(year):
            return entry
    raise KeyError(f"no {what} valid in {year}")


class ReferenceError(Exception):
    """The energy reference file cannot be read or is invalid (carries the file)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


def load_energy_reference(path: Path | None = None) -> EnergyReference:
    """Load the energy reference (default: the packaged ``schemas/reference/energy.yaml``)
    through ``schemas.yamlfile`` (bounded size, no aliases, UTF-8); raises ``ReferenceError``
    with the file and reason (``line N:`` first when the YAML is at fault)."""
    try:
        if path is None:
            source = "schemas/reference/energy.yaml"
            files = resources.files("schemas.reference")
            document = parse_yaml(files.joinpath("energy.yaml").read_text("utf-8"))
        else:
            source = str(path)
            document = read_yaml_file(path)
        return EnergyReference.model_validate(document)
    except YamlFileError as exc:
        raise ReferenceError(source, str(exc)) from exc
    except ValidationError as exc:
        raise ReferenceError(source, str(exc)) from exc

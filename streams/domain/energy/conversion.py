"""Quantities of a carrier to standard coal (both electricity bases) and CO2, with citations.

``convert(reference, carrier, quantity, year, region_code, feedstock)`` returns kgce on the
calorific (当量值, 0.1229 kgce/kWh for electricity) and equivalent (等价值) bases and kg CO2:
purchased electricity at the grid factor of the consumption year and region (the latest
earlier year when that year is not yet published), fuels at their combustion factor. Feedstock
use (原料用能) is counted in kgce but its CO2 is not combustion CO2 and is left to the process
accounting (``co2_kg`` None, said in the evidence). A carrier without a CO2 factor in the
reference gives ``co2_kg`` None, never a guess. Each figure's coefficient is cited (value,
validity, source, [?]) together with the reference's version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.energy_reference import Carrier, ElectricityBasis, EnergyReference


@dataclass(frozen=True, slots=True)
class Converted:
    kgce_calorific: float
    kgce_equivalent: float
    co2_kg: float | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Factors:
    """Per carrier unit: kgce on both bases, kg CO2 (None: not computed) and the citations."""

    calorific: float
    equivalent: float
    co2: float | None
    evidence: dict[str, Any]


def convert(
    reference: EnergyReference,
    carrier: Carrier,
    quantity: float,
    year: int,
    region_code: str,
    feedstock: bool = False,
) -> Converted:
    """Convert ``quantity`` (the carrier's unit) consumed in ``year``; raises KeyError when
    the reference has no standard-coal coefficient for that carrier and year. The factors of
    a (carrier, year, region, feedstock) are looked up once per reference; ``evidence`` is
    shared by every figure converted with them (read-only)."""
    region = region_code if carrier is Carrier.ELECTRICITY else ""
    factors = reference.memo(
        ("convert", carrier, year, region, feedstock),
        lambda: _factors(reference, carrier, year, region, feedstock),
    )
    co2 = None if factors.co2 is None else quantity * factors.co2
    return Converted(
        quantity * factors.calorific, quantity * factors.equivalent, co2, factors.evidence
    )


def _factors(
    reference: EnergyReference, carrier: Carrier, year: int, region_code: str, feedstock: bool
) -> _Factors:
    calorific = reference.coal_coefficient(carrier, ElectricityBasis.CALORIFIC, year)
    equivalent = reference.coal_coefficient(carrier, ElectricityBasis.EQUIVALENT, year)
    evidence: dict[str, Any] = {
        "reference_version": reference.version,
        "coal_calorific": calorific.cite(),
    }
    if equivalent is not calorific:
        evidence["coal_equivalent"] = equivalent.cite()
    co2: float | None
    if feedstock:
        co2 = None
        evidence["co2"] = "feedstock: not combustion CO2 (process accounting)"
    elif carrier is Carrier.ELECTRICITY:
        grid = reference.grid_factor(year, region_code)
        co2 = grid.value
        evidence["co2_grid"] = grid.cite()
    else:
        factor = reference.co2_factor(carrier, year)
        co2 = None if factor is None else factor.value
        evidence["co2_factor"] = factor.cite() if factor else "no factor in the reference"
    return _Factors(calorific.value, equivalent.value, co2, evidence)


def kgce(
    reference: EnergyReference,
    carrier: Carrier,
    quantity: float,
    year: int,
    basis: ElectricityBasis,
) -> float:
    """kgce of ``quantity`` on ``basis`` (KeyError when no coefficient is in force)."""
    return quantity * reference.coal_coefficient(carrier, basis, year).value

"""Roles of HJ 212-2017 factor codes (因子编码) in the calculations.

Codes come from HJ 212-2017 Appendix B (see docs/processing.md); these are protocol
identifiers, not reference numbers. A factor is a *pollutant* (its concentration gets a
limit, an O2-corrected value, an emission rate and a load) when it has a 2017 code
(``a`` gas or ``w`` water followed by five digits) and is not one of the operating
parameters below. Codes left as sent by a 2005 device that has no 2017 mapping (e.g. ``S07``)
are neither: they are aggregated but never judged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

O2: Final = "a19001"
"""Oxygen, % (含氧量)."""
GAS_FLOW: Final = "a00000"
"""Flue gas flow (废气流量), m³/s at stack conditions (see ``flow``)."""
GAS_VELOCITY: Final = "a01011"
"""Flue gas velocity, m/s."""
GAS_TEMPERATURE: Final = "a01012"
"""Flue gas temperature, °C."""
GAS_PRESSURE: Final = "a01013"
"""Flue gas static pressure (gauge), kPa."""
GAS_HUMIDITY: Final = "a01014"
"""Flue gas moisture content, % by volume."""
NO: Final = "a21003"
"""Nitric oxide NO, mg/m³."""
NO2: Final = "a21004"
"""Nitrogen dioxide NO2, mg/m³."""
NOX: Final = "a21002"
"""Nitrogen oxides expressed as NO2 (氮氧化物, 以NO2计), mg/m³."""
WATER_FLOW: Final = "w00000"
"""Wastewater flow (污水流量), L/s."""
WATER_PH: Final = "w01001"
"""pH (dimensionless)."""
WATER_TEMPERATURE: Final = "w01010"
"""Water temperature, °C."""

NO_TO_NO2: Final = 46.0 / 30.0
"""Molar-mass ratio M(NO2)/M(NO) used to express NO as NO2: ``NOx = NO × 46/30 + NO2``
(HJ 75-2017; domain.md §3)."""

OPERATING_PARAMETERS: Final = frozenset(
    {
        O2,
        GAS_FLOW,
        GAS_VELOCITY,
        GAS_TEMPERATURE,
        GAS_PRESSURE,
        GAS_HUMIDITY,
        "a01017",  # duct cross-section, m²
        "a01001",  # ambient temperature
        "a01002",  # ambient humidity
        "a01006",  # ambient pressure
        "a01007",  # wind speed
        "a01008",  # wind direction
        WATER_FLOW,
        WATER_PH,
        WATER_TEMPERATURE,
        "w01014",  # conductivity
        "w01003",  # turbidity
    }
)
"""Factors that describe the gas or water stream rather than a pollutant in it."""

_CODE_2017: Final = re.compile(r"[aw]\d{5}")


@lru_cache(maxsize=1024)
def is_pollutant(factor: str) -> bool:
    """True for a 2017 gas/water pollutant code (concentration with a rate and a load)."""
    return factor not in OPERATING_PARAMETERS and _CODE_2017.fullmatch(factor) is not None

"""Flow conversions, emission rates and loads (HJ 75-2017, HJ 76-2017; domain.md §3).

Gas: dry standard flow (标干流量, biaogan liuliang)
``Qsnd = Qs × 273/(273 + t) × (Ba + Ps)/101325 × (1 − Xsw)`` with Qs the flow at stack
conditions (m³/h), t the flue gas temperature (°C), Ba the barometric pressure (Pa), Ps the
static (gauge) pressure of the flue gas (Pa; HJ 212 a01013 reports kPa) and Xsw the moisture
volume fraction (HJ 212 a01014 reports %). Emission rate (排放速率)
``G (kg/h) = C (mg/m³, measured, dry standard) × Qsnd (m³/h) × 1e-6``.

Water: load ``G (kg) = D (m³) × C (mg/L) × 1e-3``; with the flow in L/s (HJ 212 w00000)
one hour carries ``D = Q × 3.6 m³`` so the rate is ``G (kg/h) = C × Q × 3.6e-3``.

**Flow basis assumption (the only place it is decided):** HJ 212 a00000 is read as the flow at
stack conditions (工况流量, m³/s) and converted whenever the same minute has a flue gas
temperature. A device that sends flow **without** any temperature is taken to report dry
standard flow already (``FlowBasis.AS_REPORTED``), as CEMS that compute 标干流量 themselves do.
A missing (or implausible, beyond ±20 kPa) static pressure counts as 0 kPa (gauge) and a
missing moisture as 0 %; each is recorded in ``StandardFlow.defaults``. There is no barometric
factor in HJ 212-2017, so Ba is always 101 325 Pa.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

ZERO_CELSIUS_K: Final = 273.0
"""0 °C in kelvin as HJ 75-2017 writes it (273, not 273.15)."""
STANDARD_PRESSURE_PA: Final = 101325.0
"""Standard atmospheric pressure, Pa."""
DEFAULT_BAROMETRIC_PA: Final = 101325.0
"""Barometric pressure used when the device reports none, Pa."""
SECONDS_PER_HOUR: Final = 3600.0
MG_M3_TO_KG: Final = 1e-6
"""mg/m³ × m³ → kg."""
MG_L_TO_KG_PER_M3: Final = 1e-3
"""mg/L × m³ → kg."""
LITRES_PER_M3: Final = 1000.0
MAX_PLAUSIBLE_STATIC_PRESSURE_KPA: Final = 20.0
"""Largest |static pressure| (gauge, kPa) taken as a reading: flue gas ducts run within a few
kPa of ambient; larger values are another unit (Pa) or junk (``-5000``, ``123.456`` in the
2016 capture) and count as missing (``static_pressure_implausible``)."""


class FlowBasis(StrEnum):
    """How a standard flow was obtained."""

    CONVERTED = "converted"
    """From stack conditions with the HJ 75-2017 formula."""
    AS_REPORTED = "as_reported"
    """No temperature reported: the device's flow is taken as dry standard flow."""


@dataclass(frozen=True, slots=True)
class StandardFlow:
    """A dry standard flow in m³/h and how it was obtained."""

    m3h: float
    basis: FlowBasis
    defaults: tuple[str, ...] = ()
    """Inputs that were missing and took their default: ``static_pressure``,
    ``static_pressure_implausible``, ``humidity``."""


def dry_standard_flow(
    flow_m3s: float,
    temperature_c: float | None,
    static_pressure_kpa: float | None,
    humidity_pct: float | None,
    barometric_pa: float = DEFAULT_BAROMETRIC_PA,
) -> StandardFlow | None:
    """Dry standard flow (m³/h) of a flue gas flow at stack conditions (m³/s).

    Returns None when the inputs are physically impossible (temperature ≤ −273 °C,
    absolute pressure ≤ 0, moisture outside [0, 100) %).
    """
    actual_m3h = flow_m3s * SECONDS_PER_HOUR
    if temperature_c is None:
        return StandardFlow(actual_m3h, FlowBasis.AS_REPORTED)
    defaults: list[str] = []
    if (
        static_pressure_kpa is not None
        and abs(static_pressure_kpa) > MAX_PLAUSIBLE_STATIC_PRESSURE_KPA
    ):
        defaults.append("static_pressure_implausible")
        static_pressure_kpa = 0.0
    if static_pressure_kpa is None:
        defaults.append("static_pressure")
        static_pressure_kpa = 0.0
    if humidity_pct is None:
        defaults.append("humidity")
        humidity_pct = 0.0
    absolute_pa = barometric_pa + static_pressure_kpa * 1000.0
    moisture = humidity_pct / 100.0
    if temperature_c <= -ZERO_CELSIUS_K or absolute_pa <= 0.0 or not 0.0 <= moisture < 1.0:
        return None
    m3h = (
        actual_m3h
        * ZERO_CELSIUS_K
        / (ZERO_CELSIUS_K + temperature_c)
        * absolute_pa
        / STANDARD_PRESSURE_PA
        * (1.0 - moisture)
    )
    return StandardFlow(m3h, FlowBasis.CONVERTED, tuple(defaults))


def gas_emission_rate_kgh(concentration_mg_m3: float, flow_std_m3h: float) -> float:
    """Emission rate (kg/h) of a measured dry concentration at a dry standard flow."""
    return concentration_mg_m3 * flow_std_m3h * MG_M3_TO_KG


def water_flow_m3h(flow_l_s: float) -> float:
    """Wastewater flow in m³/h from L/s."""
    return flow_l_s * SECONDS_PER_HOUR / LITRES_PER_M3


def water_load_kg(volume_m3: float, concentration_mg_l: float) -> float:
    """Load (kg) of ``volume_m3`` of wastewater at ``concentration_mg_l``."""
    return volume_m3 * concentration_mg_l * MG_L_TO_KG_PER_M3


def water_emission_rate_kgh(concentration_mg_l: float, flow_l_s: float) -> float:
    """Load rate (kg/h) of wastewater at ``flow_l_s`` and ``concentration_mg_l``."""
    return water_load_kg(water_flow_m3h(flow_l_s), concentration_mg_l)

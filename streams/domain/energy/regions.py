"""Regional roll-up of energy and carbon by GB/T 2260 administrative-division codes.

An enterprise's six-digit ``region_code`` names its county; its first four digits its city
(``520400``), its first two its province (``520000``). ``roll_up`` adds enterprises' monthly
figures up to every level: energy (tce, calorific basis, without and with feedstock use per
发改环资〔2022〕803号), CO2 (combustion + purchased electricity + process) and value added, and
computes the intensities as **Σ numerator ÷ Σ value added** over the enterprises that reported
value added (never an average of their ratios; ``None`` when none did). It is the pure twin of
the database view ``energy_region_monthly`` (migration 011), which the dashboards and the plan
report read; the tests hold the two equal on the same data. Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

Level = Literal["province", "city", "county"]
LEVELS: Final[tuple[tuple[Level, int], ...]] = (("province", 2), ("city", 4), ("county", 6))


@dataclass(frozen=True, slots=True)
class EnterpriseMonth:
    """One enterprise's month (a row of the view ``energy_enterprise_monthly``)."""

    enterprise_id: str
    region_code: str
    month: date
    tce: float
    tce_with_feedstock: float
    energy_co2_t: float
    process_co2_t: float
    value_added: float | None
    """10^4 yuan at constant prices; ``None`` when not reported."""

    @property
    def co2_t(self) -> float:
        return self.energy_co2_t + self.process_co2_t


@dataclass(frozen=True, slots=True)
class RegionMonth:
    """One region's month: sums over its enterprises and Σ/Σ intensities."""

    level: Level
    region: str
    month: date
    enterprises: int
    tce: float
    tce_with_feedstock: float
    energy_co2_t: float
    process_co2_t: float
    co2_t: float
    value_added: float | None
    tce_per_10k_yuan: float | None
    tco2_per_10k_yuan: float | None


def region_of(region_code: str, digits: int) -> str:
    """The GB/T 2260 code of the level ``digits`` (2, 4, 6) containing ``region_code``."""
    return region_code[:digits].ljust(6, "0")


def roll_up(months: Iterable[EnterpriseMonth]) -> list[RegionMonth]:
    """Every (level, region, month) with at least one enterprise, sorted by those keys."""
    groups: dict[tuple[Level, str, date], list[EnterpriseMonth]] = defaultdict(list)
    for row in months:
        for level, digits in LEVELS:
            groups[(level, region_of(row.region_code, digits), row.month)].append(row)
    return [_region(key, rows) for key, rows in sorted(groups.items())]


def _region(key: tuple[Level, str, date], rows: list[EnterpriseMonth]) -> RegionMonth:
    level, region, month = key
    reporting = [r for r in rows if r.value_added is not None]
    value_added = sum(r.value_added or 0.0 for r in reporting) if reporting else None

    def per_value_added(numerator: float) -> float | None:
        return numerator / value_added if value_added else None

    return RegionMonth(
        level,
        region,
        month,
        len(rows),
        sum(r.tce for r in rows),
        sum(r.tce_with_feedstock for r in rows),
        sum(r.energy_co2_t for r in rows),
        sum(r.process_co2_t for r in rows),
        sum(r.co2_t for r in rows),
        value_added,
        per_value_added(sum(r.tce for r in reporting)),
        per_value_added(sum(r.co2_t for r in reporting)),
    )

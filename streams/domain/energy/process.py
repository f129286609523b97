"""Process CO2 (过程排放): emissions of the process itself, beside combustion and purchased
electricity (domain-energy.md §5.3): carbonate decomposition of cement clinker and lime, the
carbon anodes of aluminium electrolysis. A product that names a process (``Product.process_co2``)
emits output (t) × the reference factor (t CO2/t, ``energy.yaml`` ``process_co2``, the factor
of the output's year) per day.

Daily output figures are used as reported; a month reported only as a monthly figure (no daily
figure in it) is spread evenly over its days, so a month or year-to-date sum is the month's
output × factor and no day double-counts. Pure: no I/O.

Worked example (cement line, 1 March 2026): 4 000 t clinker × 0.52 t CO2/t = 2 080 t CO2 of
process emissions, beside (say) 480 t of raw coal × 1.9003 = 912 t from combustion.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta

from schemas.energy import Product
from schemas.energy_reference import EnergyReference
from streams.domain.energy.model import ProcessCo2Row
from streams.domain.periods import day_start_of


def process_co2_rows(
    enterprise_id: str,
    product: Product,
    reference: EnergyReference,
    by_day: Mapping[date, float],
    by_month: Mapping[date, float],
) -> list[ProcessCo2Row]:
    """The process-CO2 row of every day with output of ``product`` (see the module docstring);
    raises ``KeyError`` when the reference has no factor of its process for a year."""
    if product.process_co2 is None:
        return []
    output: dict[date, tuple[float, str]] = {d: (t, "day") for d, t in by_day.items()}
    months_with_days = {d.replace(day=1) for d in by_day}
    for month, tonnes in by_month.items():
        if month in months_with_days:
            continue
        length = calendar.monthrange(month.year, month.month)[1]
        for offset in range(length):
            output[month + timedelta(days=offset)] = (tonnes / length, "month")
    rows = []
    for day, (tonnes, source) in sorted(output.items()):
        factor = reference.process_factor(product.process_co2, day.year)
        rows.append(
            ProcessCo2Row(
                enterprise_id,
                product.id,
                product.process_co2,
                day_start_of(day),
                tonnes,
                tonnes * factor.value,
                evidence={
                    "factor": factor.cite(),
                    "unit": "t CO2/t",
                    "output_from": source,
                    "reference_version": reference.version,
                },
            )
        )
    return rows


def changed_process_rows(
    held: dict[tuple[str, datetime], ProcessCo2Row], product: str, rows: list[ProcessCo2Row]
) -> list[ProcessCo2Row]:
    """Update ``held`` (by product and day) with ``product``'s current ``rows``; return the
    rows that changed. A day that lost its output (a monthly figure replaced by daily ones)
    is re-issued at zero, so the stored row is corrected rather than left behind."""
    fresh = {(row.product, row.period_start): row for row in rows}
    for key, old in list(held.items()):
        if key[0] == product and key not in fresh:
            fresh[key] = replace(old, output_t=0.0, co2_t=0.0)
    changed = []
    for key, row in fresh.items():
        if held.get(key) != row:
            held[key] = row
            changed.append(row)
    return changed

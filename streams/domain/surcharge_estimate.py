"""Which electricity surcharges an enterprise's figures bring, and how much (pure).

One home for the choice of rules (``streams.domain.surcharge`` computes each): used by
``greenwatch energy surcharge`` on a year's stored figures and by the energy quota verdicts,
whose alerts cite the estimate.

- Aluminium tiered price: applies to a product whose quota is measured by the indicator the
  tiered rule in force names (铝液综合交流电耗 for 1239号, 铝液电解交流电耗 for 2530号), in
  kWh/t. The pricing year's rate follows the previous year's consumption.
- Punitive price: a product over its kWh/t quota pays on the electricity of that product
  (the excess share, or all of it, as the rule says).
- Differential price: needs the plant's policy class (限制类 / 淘汰类), which the registry does
  not hold yet: reported as not computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from schemas.registry import EnergyQuota
from schemas.tariffs import AluminiumRule, SurchargeCatalogue, load_surcharges
from streams.domain.surcharge import Surcharge, aluminium_rate, aluminium_surcharge
from streams.domain.surcharge import punitive_surcharge as punitive


@cache
def packaged_catalogue() -> SurchargeCatalogue:
    """The packaged ``schemas/reference/electricity_surcharges.yaml`` (read once)."""
    return load_surcharges()


def tiered_rule(
    catalogue: SurchargeCatalogue, quota: EnergyQuota, pricing_year: int
) -> AluminiumRule | None:
    """The aluminium tiered rule of ``pricing_year`` if ``quota`` is measured by its indicator."""
    rule = catalogue.aluminium_rule(pricing_year)
    if rule is None or quota.unit != "kWh/t" or quota.indicator != rule.indicator:
        return None
    return rule


@dataclass(frozen=True, slots=True)
class YearFigures:
    """A product's stored figures: unit consumption (kWh/t) and electricity (kWh) of the
    previous year (None: not stored) and of the pricing year so far."""

    previous_unit: float | None
    unit: float | None
    electricity_kwh: float


def year_surcharges(
    catalogue: SurchargeCatalogue,
    region_code: str,
    quota: EnergyQuota,
    year: int,
    figures: YearFigures,
) -> list[tuple[str, Surcharge | None, str]]:
    """(title, surcharge or None, why none) per applicable rule for ``quota``'s product."""
    found: list[tuple[str, Surcharge | None, str]] = []
    rule = tiered_rule(catalogue, quota, year)
    if rule is not None:
        title = f"aluminium tiered price ({quota.product}, {rule.indicator})"
        if figures.previous_unit is None:
            found.append((title, None, f"no stored {rule.indicator} for {year - 1}"))
        else:
            found.append((title, aluminium_surcharge(
                catalogue, year, figures.previous_unit, figures.electricity_kwh), ""))  # fmt: skip
    if quota.unit == "kWh/t":
        title = f"punitive price ({quota.product}, quota {quota.limit:g} kWh/t)"
        if figures.unit is None:
            found.append((title, None, f"no stored unit consumption for {year}"))
        else:
            found.append((title, punitive(catalogue, region_code, year, figures.unit,
                                          quota.limit, figures.electricity_kwh), ""))  # fmt: skip
    return found


def quota_estimate(
    region_code: str, quota: EnergyQuota, year: int, unit: float, electricity_kwh: float
) -> dict[str, object] | None:
    """What a quota verdict's alert cites (None: no surcharge applies): the punitive rate
    and amount on this window's electricity, and the tiered rate next year would bring if
    the year ended at this consumption. Rates in yuan/kWh, amounts in yuan (strings: exact)."""
    if quota.unit != "kWh/t":
        return None
    catalogue = packaged_catalogue()
    estimate: dict[str, object] = {}
    if unit > quota.limit:
        found = punitive(catalogue, region_code, year, unit, quota.limit, electricity_kwh)
        if found.rule_id is not None:
            estimate["punitive"] = _cite(found)
    rule = tiered_rule(catalogue, quota, year + 1)
    if rule is not None:
        rate, lines = aluminium_rate(rule, year + 1, unit)
        estimate["tiered_next_year"] = {
            "rule": rule.id,
            "pricing_year": year + 1,
            "rate_yuan_per_kwh": str(rate),
            "lines": lines,
        }
    return estimate or None


def _cite(found: Surcharge) -> dict[str, object]:
    return {
        "rule": found.rule_id,
        "rate_yuan_per_kwh": str(found.rate_yuan_per_kwh),
        "billed_kwh": str(found.billed_kwh),
        "amount_yuan": str(found.amount_yuan),
        "lines": list(found.lines),
    }


def total(found: list[tuple[str, Surcharge | None, str]]) -> Decimal:
    return sum((s.amount_yuan for _, s, _ in found if s is not None), Decimal(0))

"""Electricity surcharges (电价加价) computed line by line from the dated rules.

Pure: the rules come in as ``schemas.tariffs.SurchargeCatalogue``, the consumption figures as
arguments. Money and rates are ``Decimal`` (a rate is yuan/kWh, an amount yuan), so a
consumption exactly on a step boundary never spills into the next step through float error.
Every result carries the lines a person reads to check it (``greenwatch energy surcharge``).

- Aluminium tiered price (电解铝阶梯电价): the pricing year's rate follows the *previous* year's
  liquid-aluminium AC consumption. 2013 rule: bands (13 700–13 800 kWh/t +0.02, above +0.08).
  2021 rule (发改价格〔2021〕1239号): ``0.01 × ⌈(E − T) / 20⌉`` yuan/kWh above the threshold T
  of the pricing year (13 650 in 2022, 13 450 from 2023, 13 300 from 2025), a part of 20
  counted whole; ×1.5 when unpaid 90 days after notice.
- Punitive price (惩罚性电价) for exceeding a unit-product quota: over by at most 1× the quota →
  the restricted rate, more → the eliminated rate, on the excess electricity (or all of it, as
  the rule says), with a province's override.
- Differential price (差别电价) by policy class: restricted or eliminated rate on all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from schemas.tariffs import AluminiumRule, PolicyClass, SurchargeCatalogue

_FEN = Decimal("0.01")


def _d(value: float | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _n(value: Decimal) -> str:
    """A quantity as a person writes it: 13300, 13650.5, 20 (no exponent, no trailing .0)."""
    return format(value.normalize(), "f")


@dataclass(frozen=True, slots=True)
class Surcharge:
    """A surcharge: the rule, its rate (yuan/kWh), the electricity billed (kWh), the amount
    (yuan, to the fen) and the computation as lines."""

    rule_id: str | None
    rate_yuan_per_kwh: Decimal
    billed_kwh: Decimal
    amount_yuan: Decimal
    lines: tuple[str, ...]


def _result(rule_id: str | None, rate: Decimal, billed_kwh: Decimal, lines: list[str]) -> Surcharge:
    amount = (rate * billed_kwh).quantize(_FEN, rounding=ROUND_HALF_UP)
    lines.append(f"surcharge = {_n(rate)} yuan/kWh × {_n(billed_kwh)} kWh = {amount} yuan")
    return Surcharge(rule_id, rate, billed_kwh, amount, tuple(lines))


def aluminium_rate(
    rule: AluminiumRule, pricing_year: int, previous_kwh_per_t: float | Decimal
) -> tuple[Decimal, list[str]]:
    """The tiered-price rate (yuan/kWh) for ``pricing_year`` given last year's consumption."""
    used = _d(previous_kwh_per_t)
    lines = [
        f"rule {rule.id}: {rule.name}",
        f"{rule.indicator} {pricing_year - 1}: {_n(used)} kWh/t",
    ]
    if rule.kind == "bands":
        rate = Decimal(0)
        for band in rule.bands:
            above = _d(band.above_kwh_per_t)
            if used > above and (band.up_to_kwh_per_t is None or used <= _d(band.up_to_kwh_per_t)):
                rate = _d(band.yuan_per_kwh)
                upper = f"–{band.up_to_kwh_per_t:g}" if band.up_to_kwh_per_t else ""
                lines.append(f"band above {band.above_kwh_per_t:g}{upper} kWh/t: +{rate} yuan/kWh")
        if rate == 0:
            lines.append(f"not above {rule.bands[0].above_kwh_per_t:g} kWh/t: no surcharge")
        return rate, lines
    threshold = rule.threshold(pricing_year)
    assert threshold is not None and rule.step_kwh_per_t and rule.yuan_per_kwh_per_step
    limit = _d(threshold)
    lines.append(f"grading standard {pricing_year}: {_n(limit)} kWh/t")
    if used <= limit:
        lines.append("not above the grading standard: no surcharge")
        return Decimal(0), lines
    step = _d(rule.step_kwh_per_t)
    steps = ((used - limit) / step).to_integral_value(rounding=ROUND_CEILING)
    rate = steps * _d(rule.yuan_per_kwh_per_step)
    lines.append(
        f"steps = ⌈({_n(used)} − {_n(limit)}) / {_n(step)}⌉ = {steps}; rate = {steps} ×"
        f" {rule.yuan_per_kwh_per_step} = {rate} yuan/kWh"
    )
    return rate, lines


def aluminium_surcharge(
    catalogue: SurchargeCatalogue,
    pricing_year: int,
    previous_kwh_per_t: float | Decimal,
    billed_kwh: float | Decimal,
    overdue: bool = False,
) -> Surcharge:
    """The aluminium tiered-price surcharge of ``pricing_year`` on ``billed_kwh`` (the liquid
    aluminium production electricity of that year); ``overdue``: unpaid past the rule's
    ``overdue_days`` (×``overdue_multiple``)."""
    rule = catalogue.aluminium_rule(pricing_year)
    if rule is None:
        return _result(None, Decimal(0), _d(billed_kwh), [f"no tiered rule in {pricing_year}"])
    rate, lines = aluminium_rate(rule, pricing_year, previous_kwh_per_t)
    if overdue and rate > 0 and rule.overdue_multiple:
        multiple = _d(rule.overdue_multiple)
        lines.append(
            f"unpaid {rule.overdue_days} days after notice: × {multiple} ="
            f" {rate * multiple} yuan/kWh"
        )
        rate *= multiple
    return _result(rule.id, rate, _d(billed_kwh), lines)


def punitive_surcharge(
    catalogue: SurchargeCatalogue,
    region_code: str,
    year: int,
    unit_consumption: float | Decimal,
    quota: float | Decimal,
    electricity_kwh: float | Decimal,
) -> Surcharge:
    """The punitive surcharge for a unit consumption over its quota (same unit), on the excess
    share of ``electricity_kwh`` or on all of it, as the rule in force says."""
    rule = catalogue.punitive_rule(year)
    used, limit, power = _d(unit_consumption), _d(quota), _d(electricity_kwh)
    if rule is None:
        return _result(None, Decimal(0), power, [f"no punitive-price rule in {year}"])
    lines = [f"rule {rule.id}: {rule.name}", f"unit consumption {_n(used)} vs quota {_n(limit)}"]
    if used <= limit:
        lines.append("within the quota: no surcharge")
        return _result(rule.id, Decimal(0), Decimal(0), lines)
    over = (used - limit) / limit
    override = catalogue.override(rule.id, region_code)
    restricted = _d(rule.restricted_yuan_per_kwh)
    eliminated = _d(rule.eliminated_yuan_per_kwh)
    if override is not None:
        restricted = _d(override.restricted_yuan_per_kwh or restricted)
        eliminated = _d(override.eliminated_yuan_per_kwh or eliminated)
        lines.append(f"region {override.region_prefix} override: {override.source}")
    if over > _d(rule.over_multiple_for_eliminated):
        rate = eliminated
        lines.append(f"over by {over:.4f}× the quota (> {rule.over_multiple_for_eliminated:g}×):"
                     f" eliminated-class rate {rate} yuan/kWh")  # fmt: skip
    else:
        rate = restricted
        lines.append(f"over by {over:.4f}× the quota (≤ {rule.over_multiple_for_eliminated:g}×):"
                     f" restricted-class rate {rate} yuan/kWh")  # fmt: skip
    if rule.billed_electricity == "excess":
        billed = (power * (used - limit) / used).quantize(Decimal("0.001"))
        unconfirmed = " [?]" if rule.billed_electricity_unconfirmed else ""
        lines.append(
            f"billed: the excess share {_n(power)} × ({_n(used)} − {_n(limit)}) / {_n(used)}"
            f" = {_n(billed)} kWh"
            f"{unconfirmed}"
        )
    else:
        billed = power
    return _result(rule.id, rate, billed, lines)


def differential_surcharge(
    catalogue: SurchargeCatalogue,
    region_code: str,
    industry: str,
    policy_class: PolicyClass,
    year: int,
    electricity_kwh: float | Decimal,
) -> Surcharge:
    """The differential-price surcharge of a restricted or eliminated plant on all of
    ``electricity_kwh``."""
    rule = catalogue.differential_rule(industry, year)
    power = _d(electricity_kwh)
    if rule is None:
        return _result(None, Decimal(0), power, [f"no differential rule for {industry} in {year}"])
    override = catalogue.override(rule.id, region_code)
    rates = {
        "restricted": _d(rule.restricted_yuan_per_kwh),
        "eliminated": _d(rule.eliminated_yuan_per_kwh),
    }
    lines = [f"rule {rule.id}: {rule.name}"]
    if override is not None:
        if override.restricted_yuan_per_kwh:
            rates["restricted"] = _d(override.restricted_yuan_per_kwh)
        if override.eliminated_yuan_per_kwh:
            rates["eliminated"] = _d(override.eliminated_yuan_per_kwh)
        lines.append(f"region {override.region_prefix} override: {override.source}")
    lines.append(f"{industry}, {policy_class} class: +{rates[policy_class]} yuan/kWh")
    return _result(rule.id, rates[policy_class], power, lines)

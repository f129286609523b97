"""Plan progress: intensity reductions vs a baseline, the progress path, the barometer, and
the resource indicators (pure; the targets and rule vintages come from ``schemas.plans``).

- Intensity (单位工业增加值能耗 / CO2 / 用水量) = Σ numerator ÷ Σ value added at constant prices;
  reduction to date = 1 − intensity / baseline intensity (domain-energy.md §3.1).
- Progress path (``even-annual-rate``, our assumption, not official: domain-energy.md §3.5):
  a cumulative reduction R over n years is an even annual rate r = 1 − (1 − R)^(1/n); after k
  years the required reduction is 1 − (1 − r)^k = 1 − (1 − R)^(k/n).
- Barometer (晴雨表, domain-energy.md §3.4): NDRC 2020 (发改办环资〔2020〕901号) — met: green;
  missed by at most 10 % of the required value: yellow; more: red. NDRC 2021
  (发改办环资〔2021〕629号) — intensity rose: red; fell slower than required: yellow; else green.
- Solid waste comprehensive utilisation rate (工业固体废物综合利用率) = utilised ÷ (generated +
  utilised from stock) (domain-energy.md §6); phosphogypsum consumption (消纳) = utilised +
  harmlessly treated, kept apart from its utilisation rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.plans import BarometerRule


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class PlanInputError(ValueError):
    """A figure a plan computation cannot use (carries the figure's name)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise PlanInputError(name, f"must be > 0, got {value}")
    return value


def intensity(numerator: float, value_added: float) -> float:
    """Σ numerator ÷ Σ value added (never an average of ratios); raises PlanInputError for a
    value added that is not positive or a negative numerator."""
    if numerator < 0:
        raise PlanInputError("numerator", f"must be ≥ 0, got {numerator}")
    return numerator / _positive("value_added", value_added)


def reduction(current_intensity: float, baseline_intensity: float) -> float:
    """Reduction to date vs the baseline, as a fraction (0.12 = −12 %; negative = a rise)."""
    return 1.0 - current_intensity / _positive("baseline_intensity", baseline_intensity)


def required_reduction(total_fraction: float, years: int, elapsed: float) -> float:
    """The even-annual-rate path: reduction required after ``elapsed`` of ``years`` years for a
    cumulative ``total_fraction`` (elapsed is clamped to 0..years)."""
    if not 0 < total_fraction < 1:
        raise PlanInputError("total_fraction", f"must be in (0, 1), got {total_fraction}")
    _positive("years", years)
    k = min(max(elapsed, 0.0), float(years))
    return 1.0 - float((1.0 - total_fraction) ** (k / years))


def even_annual_rate(total_fraction: float, years: int) -> float:
    """r = 1 − (1 − R)^(1/n)."""
    return required_reduction(total_fraction, years, 1.0)


@dataclass(frozen=True, slots=True)
class BarometerReading:
    colour: Colour
    actual: float
    required: float
    rule_id: str
    reason: str


def barometer(rule: BarometerRule, actual: float, required: float) -> BarometerReading:
    """The colour of a region or enterprise whose reduction to date is ``actual`` against the
    ``required`` reduction (fractions), under the rule vintage ``rule``."""
    if rule.kind == "gap_of_target":
        assert rule.red_gap_fraction_of_target is not None
        if actual >= required:
            return BarometerReading(Colour.GREEN, actual, required, rule.id, "progress target met")
        gap = required - actual
        bound = rule.red_gap_fraction_of_target * abs(required)
        colour = Colour.RED if gap > bound else Colour.YELLOW
        reason = (
            f"missed by {gap:.4f}, {'more' if colour is Colour.RED else 'not more'} than"
            f" {rule.red_gap_fraction_of_target:g} of the target ({bound:.4f})"
        )
        return BarometerReading(colour, actual, required, rule.id, reason)
    if actual < 0:
        return BarometerReading(Colour.RED, actual, required, rule.id, "intensity rose (不降反升)")
    if actual < required:
        return BarometerReading(
            Colour.YELLOW, actual, required, rule.id, "fell slower than the progress requirement"
        )
    return BarometerReading(Colour.GREEN, actual, required, rule.id, "on track")


def solid_waste_utilisation_rate(
    utilised: float, generated: float, utilised_from_stock: float
) -> float:
    """综合利用量 ÷ (产生量 + 综合利用往年贮存量), a fraction."""
    for name, value in (
        ("utilised", utilised),
        ("generated", generated),
        ("utilised_from_stock", utilised_from_stock),
    ):
        if value < 0:
            raise PlanInputError(name, f"must be ≥ 0, got {value}")
    if utilised_from_stock > utilised:
        raise PlanInputError("utilised_from_stock", "is part of utilised, cannot exceed it")
    return utilised / _positive("generated + utilised_from_stock", generated + utilised_from_stock)


@dataclass(frozen=True, slots=True)
class PhosphogypsumYear:
    """One year's phosphogypsum figures (t): 消纳 = utilised + treated, kept apart from the
    utilisation rate utilised ÷ produced."""

    produced: float
    utilised: float
    treated: float

    @property
    def consumption(self) -> float:
        return self.utilised + self.treated

    @property
    def utilisation_rate(self) -> float:
        return self.utilised / _positive("produced", self.produced)

    @property
    def consumption_exceeds_production(self) -> bool:
        return self.consumption > self.produced


def consumption_growth(previous: PhosphogypsumYear, current: PhosphogypsumYear) -> float:
    """Year-on-year growth of phosphogypsum consumption (消纳量), a fraction."""
    return current.consumption / _positive("previous consumption", previous.consumption) - 1.0

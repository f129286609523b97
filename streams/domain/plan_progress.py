"""Plan progress of enterprises and regions from their summed figures (pure).

Input: per enterprise, the sums of its monthly figures over the year to date (``Figures``:
energy in kgce on the 等价 basis with the feedstock part apart, CO2 in kg, and the reported
statistics by indicator name: value added at constant prices in 10^4 yuan, new water in m3,
solid waste, fly ash and phosphogypsum in t), and the same months of the previous year.
Output: one ``Progress`` per subject and target: the barometer colour under the chosen
vintage (``streams.domain.plan.barometer``) with the evidence a person checks it by.

- Reduction targets (energy, CO2, water per value added): intensity = Σ numerator ÷ Σ value
  added; energy is shown both with feedstock (原料用能) excluded (the judged figure,
  发改环资〔2022〕803号) and included; new renewable electricity is not metered apart, so its
  exclusion is stated as not applied. Required reduction: the target's progress rule (even
  annual rate, our assumption) after the years elapsed since the end of the baseline year,
  clamped to the target year (past it, the whole reduction is due).
- Level targets (fly ash, solid waste utilisation): rate = utilised ÷ (generated + utilised
  from stock) against the level; 超过 (level_above) must exceed it.
- Phosphogypsum: consumption (消纳 = utilised + treated; the reported total when those are
  absent) > production, and consumption growing by at least the target's rate year on year.
- Regions roll up by GB/T 2260 prefix; a target with coverage ``above_designated_size`` sums
  only enterprises flagged 规模以上.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from schemas.plan_registry import INDICATOR_UNITS, contains
from schemas.plans import BarometerRule, Plan, PlanCatalogue, PlanTargetSpec
from schemas.registry import Enterprise, Registry
from streams.domain.plan import (
    Colour,
    PhosphogypsumYear,
    PlanInputError,
    barometer,
    consumption_growth,
    reduction,
    required_reduction,
    solid_waste_utilisation_rate,
)

Figures = Mapping[str, float]
"""Sums by name: ``energy_kgce``, ``feedstock_kgce``, ``co2_kg`` and statistic indicators."""

SubjectKind = Literal["region", "enterprise"]


@dataclass(frozen=True, slots=True)
class Progress:
    """One verdict ``plan_progress``: ``colour`` None when it cannot be judged (``reason``)."""

    subject_kind: SubjectKind
    subject_id: str
    subject_name: str
    region_code: str
    target_id: str
    indicator: str
    colour: Colour | None
    actual: float | None
    required: float | None
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def add(figures: Sequence[Figures]) -> dict[str, float]:
    """The sum of several subjects' figures, name by name."""
    total: dict[str, float] = {}
    for one in figures:
        for name, value in one.items():
            total[name] = total.get(name, 0.0) + value
    return total


INTENSITY_NUMERATORS = ("energy_kgce", "feedstock_kgce", "co2_kg", "new_water")
"""Figures divided by value added: summed only over months that report value added."""


def year_figures(months: Mapping[date, Figures]) -> dict[str, float]:
    """One subject's sums over its months: the numerators of intensities only over months
    with value added reported (a month's energy without its value added would inflate the
    intensity), everything else over every month; ``months_matched`` / ``months_unmatched``
    count the months with and without value added that carry an intensity numerator."""
    total: dict[str, float] = {"months_matched": 0.0, "months_unmatched": 0.0}
    for figures in months.values():
        matched = figures.get("value_added", 0.0) > 0
        if any(name in figures for name in INTENSITY_NUMERATORS):
            total["months_matched" if matched else "months_unmatched"] += 1
        for name, value in figures.items():
            if name in INTENSITY_NUMERATORS and not matched:
                continue
            total[name] = total.get(name, 0.0) + value
    return total


NUMERATOR_SOURCE = {
    "energy_per_value_added": "energy_kgce",
    "co2_per_value_added": "co2_kg",
    "water_per_value_added": "new_water",
}


def _numerators(indicator: str, figures: Figures) -> tuple[float, float | None]:
    """(judged numerator, numerator with feedstock included or None) in the baseline's unit."""
    if indicator == "energy_per_value_added":
        gross = figures.get("energy_kgce", 0.0) / 1000.0
        return gross - figures.get("feedstock_kgce", 0.0) / 1000.0, gross
    if indicator == "co2_per_value_added":
        return figures.get("co2_kg", 0.0) / 1000.0, None
    return figures.get("new_water", 0.0), None


def elapsed_years(baseline_year: int, as_of: date) -> float:
    """Years from the end of the baseline year to ``as_of`` (the end of its day)."""
    start = date(baseline_year + 1, 1, 1)
    return (as_of.toordinal() + 1 - start.toordinal()) / 365.25


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: SubjectKind
    id: str
    name: str
    region_code: str


def _progress(
    subject: _Subject,
    target: PlanTargetSpec,
    colour: Colour | None,
    actual: float | None,
    required: float | None,
    reason: str,
    evidence: dict[str, Any] | None = None,
) -> Progress:
    return Progress(subject.kind, subject.id, subject.name, subject.region_code, target.id,
                    target.indicator, colour, actual, required, reason, evidence or {})  # fmt: skip


def _judge_reduction(
    subject: _Subject,
    target: PlanTargetSpec,
    baseline: float | None,
    figures: Figures,
    rule: BarometerRule,
    as_of: date,
) -> Progress:
    def result(colour: Colour | None, actual: float | None, required: float | None,
               reason: str, evidence: dict[str, Any]) -> Progress:  # fmt: skip
        return _progress(subject, target, colour, actual, required, reason, evidence)

    unit = INDICATOR_UNITS[target.indicator]
    value_added = figures.get("value_added", 0.0)
    evidence: dict[str, Any] = {"value_added_10k_yuan": value_added, "unit": unit}
    if figures.get("months_unmatched"):
        evidence["months_without_value_added"] = figures["months_unmatched"]
    if baseline is None:
        return result(None, None, None, "no baseline in the registry", evidence)
    if value_added <= 0:
        return result(None, None, None, "no value added reported for the period", evidence)
    source = NUMERATOR_SOURCE[target.indicator]
    if source not in figures:
        reason = f"no {source} figures for the months that report value added"
        return result(None, None, None, reason, evidence)
    judged, gross = _numerators(target.indicator, figures)
    assert target.baseline_year is not None and target.reduction_pct is not None
    years = target.target_year - target.baseline_year
    elapsed = elapsed_years(target.baseline_year, as_of)
    required = required_reduction(target.reduction_pct / 100.0, years, elapsed)
    current = judged / value_added
    actual = reduction(current, baseline)
    evidence |= {
        "months": figures.get("months_matched"),
        "months_without_value_added": figures.get("months_unmatched"),
        "numerator": judged,
        "intensity": current,
        "baseline": baseline,
        "baseline_year": target.baseline_year,
        "target_year": target.target_year,
        "reduction_pct_target": target.reduction_pct,
        "elapsed_years": round(min(elapsed, float(years)), 4),
        "progress_rule": target.progress,
        "progress_rule_official": False,
    }
    if gross is not None:
        evidence |= {
            "numerator_with_feedstock": gross,
            "intensity_with_feedstock": gross / value_added,
            "reduction_with_feedstock": reduction(gross / value_added, baseline),
            "feedstock_excluded": True,
            "new_renewable_excluded": "not applied: no meter reports new renewable electricity",
        }
    reading = barometer(rule, actual, required)
    return result(reading.colour, actual, required, reading.reason, evidence)


def _rate(figures: Figures, prefix: str) -> tuple[float | None, dict[str, Any]]:
    generated = figures.get(f"{prefix}_generated", 0.0)
    utilised = figures.get(f"{prefix}_utilised", 0.0)
    from_stock = figures.get(f"{prefix}_utilised_from_stock", 0.0)
    evidence = {
        "generated_t": generated,
        "utilised_t": utilised,
        "utilised_from_stock_t": from_stock,
    }
    if generated + from_stock <= 0:
        return None, evidence
    return solid_waste_utilisation_rate(utilised, generated, from_stock), evidence


def _phosphogypsum(figures: Figures) -> PhosphogypsumYear | None:
    produced = figures.get("phosphogypsum_produced", 0.0)
    if produced <= 0:
        return None
    utilised = figures.get("phosphogypsum_utilised", 0.0)
    treated = figures.get("phosphogypsum_treated", 0.0)
    if utilised + treated <= 0:
        utilised = figures.get("phosphogypsum_consumed", 0.0)
    return PhosphogypsumYear(produced, utilised, treated)


def _judge_level(
    subject: _Subject,
    target: PlanTargetSpec,
    figures: Figures,
    previous: Figures,
    rule: BarometerRule,
) -> Progress:
    def result(colour: Colour | None, actual: float | None, required: float | None,
               reason: str, evidence: dict[str, Any]) -> Progress:  # fmt: skip
        return _progress(subject, target, colour, actual, required, reason, evidence)

    if target.kind == "consumption_exceeds_production":
        now, before = _phosphogypsum(figures), _phosphogypsum(previous)
        if now is None:
            return result(None, None, None, "no phosphogypsum production reported", {})
        evidence: dict[str, Any] = {
            "produced_t": now.produced,
            "utilised_t": now.utilised,
            "treated_t": now.treated,
            "consumption_t": now.consumption,
            "utilisation_rate": now.utilisation_rate,
            "stock_t": figures.get("phosphogypsum_stock"),
        }
        growth = None
        if before is not None and before.consumption > 0:
            growth = consumption_growth(before, now)
        evidence["consumption_growth"] = growth
        needed = (target.min_consumption_growth_pct or 0.0) / 100.0
        grows = growth is not None and growth >= needed
        ratio = now.consumption / now.produced
        if now.consumption_exceeds_production and grows:
            return result(Colour.GREEN, ratio, 1.0, "consumption exceeds production and grows"
                          f" ≥ {needed:.0%} a year", evidence)  # fmt: skip
        missing = [
            *([] if now.consumption_exceeds_production else ["consumption ≤ production"]),
            *([] if grows else [f"consumption growth {_pct(growth)} < {needed:.0%}"]),
        ]
        colour = Colour.RED if len(missing) == 2 else Colour.YELLOW
        return result(colour, ratio, 1.0, "; ".join(missing), evidence)
    prefix = "fly_ash" if target.indicator == "fly_ash_utilisation_rate" else "solid_waste"
    rate, evidence = _rate(figures, prefix)
    assert target.value_pct is not None
    required = target.value_pct / 100.0
    if rate is None:
        return result(None, None, required, f"no {prefix.replace('_', ' ')} reported", evidence)
    if target.kind == "level_above" and rate == required:
        return result(Colour.YELLOW, rate, required, "at the level, not above it (超过)", evidence)
    reading = barometer(rule, rate, required)
    reason = reading.reason
    if reading.colour is Colour.GREEN:
        reason = "at or above the target level"
    elif rule.kind == "direction_and_pace":
        reason = "below the target level (this vintage colours a level below target yellow)"
    return result(reading.colour, rate, required, reason, evidence)


def _pct(value: float | None) -> str:
    return "unknown (no previous year)" if value is None else f"{value:.1%}"


def judge(
    subject: _Subject,
    plan: Plan,
    target: PlanTargetSpec,
    baseline: float | None,
    figures: Figures,
    previous: Figures,
    rule: BarometerRule,
    as_of: date,
) -> Progress:
    """One subject against one target; figures that cannot be used give colour None."""
    try:
        if target.kind == "reduction":
            progress = _judge_reduction(subject, target, baseline, figures, rule, as_of)
        else:
            progress = _judge_level(subject, target, figures, previous, rule)
    except PlanInputError as error:
        return _progress(subject, target, None, None, None, str(error))
    progress.evidence.update({"plan": plan.id, "clause": target.clause, "rule": rule.id})
    return progress


def _covered(enterprise: Enterprise, region_code: str, target: PlanTargetSpec) -> bool:
    if not contains(region_code, enterprise.region_code):
        return False
    return target.coverage == "all" or enterprise.above_designated_size


def subregions(registry: Registry, region_code: str) -> list[str]:
    """The region and the regions one GB/T 2260 level below it that have enterprises or are
    tracked (a province's prefectures, a prefecture's counties), sorted."""
    codes = {r.code for r in registry.plan_regions} | {e.region_code for e in registry.enterprises}
    if region_code.endswith("0000"):
        children = {c[:4] + "00" for c in codes if contains(region_code, c)}
    elif region_code.endswith("00"):
        children = {c for c in codes if contains(region_code, c)}
    else:
        children = set()
    return [region_code, *sorted(children - {region_code})]


def progress_of_region(
    registry: Registry,
    catalogue: PlanCatalogue,
    rule: BarometerRule,
    region_code: str,
    as_of: date,
    figures: Mapping[str, Figures],
    previous: Mapping[str, Figures],
) -> list[Progress]:
    """Every verdict for ``region_code``, its subregions and its enterprises: the targets of
    every plan whose region contains it. ``figures`` / ``previous``: by enterprise id."""
    tracked = {r.code: r for r in registry.plan_regions}
    plans = [p for p in catalogue.plans if contains(p.region_code, region_code)]
    verdicts: list[Progress] = []
    for code in subregions(registry, region_code):
        region = tracked.get(code)
        subject = _Subject("region", code, region.name if region else code, code)
        baselines = {b.target: b.value for b in region.baselines} if region else {}
        for plan in plans:
            for target in plan.targets:
                members = [e.id for e in registry.enterprises if _covered(e, code, target)]
                verdicts.append(
                    _with_members(
                        judge(subject, plan, target, baselines.get(target.id),
                              add([figures.get(m, {}) for m in members]),
                              add([previous.get(m, {}) for m in members]), rule, as_of),
                        members,
                    )
                )  # fmt: skip
    for enterprise in registry.enterprises:
        if not contains(region_code, enterprise.region_code):
            continue
        subject = _Subject("enterprise", enterprise.id, enterprise.name, enterprise.region_code)
        baselines = {b.target: b.value for b in enterprise.plan_baselines}
        for plan in plans:
            for target in plan.targets:
                if target.kind == "reduction" and target.id not in baselines:
                    continue  # an enterprise is judged on a reduction only when assigned one
                progress = judge(subject, plan, target, baselines.get(target.id),
                                 figures.get(enterprise.id, {}), previous.get(enterprise.id, {}),
                                 rule, as_of)  # fmt: skip
                if target.kind != "reduction" and progress.colour is None:
                    continue  # the enterprise does not produce that residue
                verdicts.append(progress)
    return verdicts


def _with_members(progress: Progress, members: list[str]) -> Progress:
    progress.evidence["enterprises"] = members
    return progress

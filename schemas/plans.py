"""The provincial plans' targets as reference data (``schemas/reference/plan_targets.yaml``).

Each target is the seed's clause made checkable: an intensity reduction vs a baseline year
(``reduction``), a rate to exceed or reach (``level_above`` 超过 / ``level_at_least`` 力争达到),
or phosphogypsum consumption exceeding production with a yearly growth of consumption
(``consumption_exceeds_production``). The barometer vintages and the progress-path rule are data
here too; the arithmetic is ``streams.domain.plan``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.registry import RegistryError, validation_reason
from schemas.yamlfile import YamlFileError, parse_yaml, read_yaml_file

Indicator = Literal[
    "energy_per_value_added",
    "co2_per_value_added",
    "water_per_value_added",
    "fly_ash_utilisation_rate",
    "solid_waste_utilisation_rate",
    "phosphogypsum_consumption_over_production",
]
TargetKind = Literal["reduction", "level_above", "level_at_least", "consumption_exceeds_production"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProgressRule(_Frozen):
    id: str
    name: str
    source: str
    official: bool


class BarometerRule(_Frozen):
    """A barometer (晴雨表) vintage: ``gap_of_target`` (NDRC 2020) or ``direction_and_pace``
    (NDRC 2021)."""

    id: str
    name: str
    source: str
    kind: Literal["gap_of_target", "direction_and_pace"]
    red_gap_fraction_of_target: float | None = Field(default=None, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check(self) -> BarometerRule:
        if self.kind == "gap_of_target" and self.red_gap_fraction_of_target is None:
            raise ValueError(f"{self.id}: gap_of_target needs red_gap_fraction_of_target")
        return self


class PlanTargetSpec(_Frozen):
    """One target of a plan, as its seed writes it (``clause``)."""

    id: str
    indicator: Indicator
    kind: TargetKind
    target_year: int
    clause: str = Field(min_length=4)
    coverage: Literal["above_designated_size", "all"] = "all"
    baseline_year: int | None = None
    reduction_pct: float | None = Field(default=None, gt=0.0, lt=100.0)
    progress: str | None = None
    value_pct: float | None = Field(default=None, gt=0.0, le=100.0)
    min_consumption_growth_pct: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _check_kind(self) -> PlanTargetSpec:
        if self.kind == "reduction" and not (
            self.baseline_year and self.reduction_pct and self.progress
        ):
            raise ValueError(f"{self.id}: a reduction needs baseline_year, reduction_pct, progress")
        if self.kind == "reduction" and self.target_year <= (self.baseline_year or 0):
            raise ValueError(f"{self.id}: target year not after the baseline year")
        if self.kind in ("level_above", "level_at_least") and self.value_pct is None:
            raise ValueError(f"{self.id}: a level target needs value_pct")
        return self


class Plan(_Frozen):
    id: str
    name: str
    seed: str
    region_code: str = Field(pattern=r"^\d{6}$")
    document: str | None = None
    targets: list[PlanTargetSpec]


class PlanCatalogue(_Frozen):
    version: str
    progress_rules: list[ProgressRule]
    barometer_rules: list[BarometerRule]
    plans: list[Plan]

    @model_validator(mode="after")
    def _check_references(self) -> PlanCatalogue:
        rules = {r.id for r in self.progress_rules}
        seen: set[str] = set()
        for plan in self.plans:
            for target in plan.targets:
                if target.id in seen:
                    raise ValueError(f"target {target.id} defined twice")
                seen.add(target.id)
                if target.progress is not None and target.progress not in rules:
                    raise ValueError(f"target {target.id}: unknown progress rule {target.progress}")
        return self

    def target(self, target_id: str) -> tuple[Plan, PlanTargetSpec]:
        for plan in self.plans:
            for target in plan.targets:
                if target.id == target_id:
                    return plan, target
        raise KeyError(target_id)

    def barometer_rule(self, rule_id: str) -> BarometerRule:
        for rule in self.barometer_rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def load_plans(path: Path | None = None) -> PlanCatalogue:
    """The packaged plan targets, or ``path``; raises RegistryError with the place at fault."""
    source = "schemas/reference/plan_targets.yaml" if path is None else str(path)
    try:
        if path is None:
            packaged = resources.files("schemas.reference").joinpath("plan_targets.yaml")
            document = parse_yaml(packaged.read_text("utf-8"))
        else:
            document = read_yaml_file(path)
        return PlanCatalogue.model_validate(document)
    except YamlFileError as exc:
        raise RegistryError(source, str(exc)) from exc
    except ValidationError as exc:
        raise RegistryError(source, validation_reason(exc)) from exc

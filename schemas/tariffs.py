"""Electricity surcharges for energy-intensive industries (电价加价) as dated data.

The catalogue (``schemas/reference/electricity_surcharges.yaml``) holds three families, each rule
with its source and validity: the electrolytic-aluminium tiered price (阶梯电价; the 2013 rule's
bands and the 2021 rule's 20 kWh/t steps over a threshold that falls by year), the differential
price by policy class (差别电价: restricted 限制类 / eliminated 淘汰类), and the punitive price for
exceeding a unit-product energy quota (惩罚性电价), with provinces' overrides by GB/T 2260
prefix. The computation is ``streams.domain.surcharge``; this module only validates the data.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, model_validator

from schemas.registry import RegistryError, validation_reason
from schemas.yamlfile import YamlFileError, parse_yaml, read_yaml_file

PolicyClass = Literal["restricted", "eliminated"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Dated(_Frozen):
    id: str
    name: str
    source: str
    valid_from: date
    valid_to: date | None = None

    def in_force(self, pricing_year: int) -> bool:
        """In force on 1 January of ``pricing_year``."""
        day = date(pricing_year, 1, 1)
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class Band(_Frozen):
    """Consumption above ``above_kwh_per_t`` (and up to ``up_to_kwh_per_t``) pays the rate."""

    above_kwh_per_t: PositiveFloat
    up_to_kwh_per_t: PositiveFloat | None = None
    yuan_per_kwh: PositiveFloat


class Threshold(_Frozen):
    """The grading standard (分档标准) from a pricing year on."""

    from_year: int
    kwh_per_t: PositiveFloat


class AluminiumRule(_Dated):
    """An electrolytic-aluminium tiered-price rule on last year's liquid-aluminium AC use."""

    indicator: str
    kind: Literal["bands", "steps"]
    bands: list[Band] = Field(default_factory=list)
    thresholds: list[Threshold] = Field(default_factory=list)
    step_kwh_per_t: PositiveFloat | None = None
    yuan_per_kwh_per_step: PositiveFloat | None = None
    overdue_days: int | None = Field(default=None, ge=1)
    overdue_multiple: float | None = Field(default=None, ge=1.0)

    @model_validator(mode="after")
    def _check_kind(self) -> AluminiumRule:
        if self.kind == "bands" and not self.bands:
            raise ValueError(f"{self.id}: a 'bands' rule needs bands")
        if self.kind == "steps" and not (
            self.thresholds and self.step_kwh_per_t and self.yuan_per_kwh_per_step
        ):
            raise ValueError(
                f"{self.id}: a 'steps' rule needs thresholds, step_kwh_per_t and"
                " yuan_per_kwh_per_step"
            )
        years = [t.from_year for t in self.thresholds]
        if years != sorted(set(years)):
            raise ValueError(f"{self.id}: thresholds must have increasing from_year")
        return self

    def threshold(self, pricing_year: int) -> float | None:
        """The grading standard in force in ``pricing_year`` (steps rules), or None."""
        found = [t.kwh_per_t for t in self.thresholds if t.from_year <= pricing_year]
        return found[-1] if found else None


class DifferentialRule(_Dated):
    industries: list[str]
    restricted_yuan_per_kwh: PositiveFloat
    eliminated_yuan_per_kwh: PositiveFloat


class PunitiveRule(_Dated):
    restricted_yuan_per_kwh: PositiveFloat
    eliminated_yuan_per_kwh: PositiveFloat
    over_multiple_for_eliminated: PositiveFloat = Field(
        description="Over the quota by more than this multiple of it: the eliminated rate."
    )
    billed_electricity: Literal["excess", "all"]
    billed_electricity_unconfirmed: bool = False


class RegionOverride(_Frozen):
    region_prefix: str = Field(pattern=r"^\d{2,6}$")
    rule: str
    restricted_yuan_per_kwh: PositiveFloat | None = None
    eliminated_yuan_per_kwh: PositiveFloat | None = None
    source: str


class SurchargeCatalogue(_Frozen):
    version: str
    aluminium_tiered: list[AluminiumRule]
    differential: list[DifferentialRule]
    punitive: list[PunitiveRule]
    region_overrides: list[RegionOverride] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_overrides(self) -> SurchargeCatalogue:
        known = {r.id for r in (*self.aluminium_tiered, *self.differential, *self.punitive)}
        for override in self.region_overrides:
            if override.rule not in known:
                raise ValueError(f"override for {override.region_prefix}: unknown rule")
        return self

    def aluminium_rule(self, pricing_year: int) -> AluminiumRule | None:
        return next((r for r in self.aluminium_tiered if r.in_force(pricing_year)), None)

    def punitive_rule(self, pricing_year: int) -> PunitiveRule | None:
        return next((r for r in reversed(self.punitive) if r.in_force(pricing_year)), None)

    def differential_rule(self, industry: str, pricing_year: int) -> DifferentialRule | None:
        """The newest rule in force that names ``industry`` (steel 2017 over the 2010 one)."""
        found = [
            r for r in self.differential if industry in r.industries and r.in_force(pricing_year)
        ]
        return max(found, key=lambda r: r.valid_from) if found else None

    def override(self, rule_id: str, region_code: str) -> RegionOverride | None:
        """The most specific override of ``rule_id`` whose prefix ``region_code`` starts with."""
        found = [
            o
            for o in self.region_overrides
            if o.rule == rule_id and region_code.startswith(o.region_prefix)
        ]
        return max(found, key=lambda o: len(o.region_prefix)) if found else None


def load_surcharges(path: Path | None = None) -> SurchargeCatalogue:
    """The packaged catalogue, or ``path``; raises RegistryError with the place at fault."""
    source = "schemas/reference/electricity_surcharges.yaml" if path is None else str(path)
    try:
        if path is None:
            packaged = resources.files("schemas.reference").joinpath("electricity_surcharges.yaml")
            document = parse_yaml(packaged.read_text("utf-8"))
        else:
            document = read_yaml_file(path)
        return SurchargeCatalogue.model_validate(document)
    except YamlFileError as exc:
        raise RegistryError(source, str(exc)) from exc
    except ValidationError as exc:
        raise RegistryError(source, validation_reason(exc)) from exc

"""Plan baselines in the registry: per region and, where a regulator assigns one, per enterprise.

The plans' targets themselves are reference data (``schemas/reference/plan_targets.yaml``,
``schemas.plans``): the seeds state reductions ("−12 % vs 2015"), not levels. A deployment's
registry says which regions it tracks against those targets and what each region's (and, where
assigned, each enterprise's) baseline intensity was in the target's baseline year:

```yaml
plan_regions:
  - code: '520100'                 # GB/T 2260; rolls up every enterprise whose code it prefixes
    name: 贵阳市
    regulator: 贵阳市生态环境局      # who receives the 限批缓批 recommendation of a red barometer
    baselines:
      - {target: gz-energy-per-va-2018, value: 1.35, unit: tce/10^4 yuan, source: …}
enterprises:
  - id: E-AL-01
    above_designated_size: true     # 规模以上: counted in regional figures
    plan_baselines:
      - {target: gz-energy-per-va-2018, value: 9.8, unit: tce/10^4 yuan, source: …,
         assigned_by: 贵州省工业和信息化厅}
```

Checks (``check_plan_baselines``, run by ``Registry`` validation, so ``db load-registry`` exits
2 naming the place): a baseline names a known target of a plan whose region contains the
baseline's region, is a reduction target's (level targets have none), is > 0 in the
indicator's unit; a tracked region has a baseline for every reduction target of its plans.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

if TYPE_CHECKING:
    from schemas.plans import PlanCatalogue

INDICATOR_UNITS: dict[str, str] = {
    "energy_per_value_added": "tce/10^4 yuan",
    "co2_per_value_added": "t/10^4 yuan",
    "water_per_value_added": "m3/10^4 yuan",
}
"""The unit a baseline (and the computed intensity) of each reduction indicator is in."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanBaseline(_Frozen):
    """The baseline-year intensity of one reduction target for a region or an enterprise."""

    target: str = Field(description="A target id of schemas/reference/plan_targets.yaml.")
    value: PositiveFloat = Field(description="Intensity in the baseline year, in ``unit``.")
    unit: str
    source: str = Field(min_length=1, description="Where the figure comes from.")
    assigned_by: str | None = Field(
        default=None, description="The regulator that assigned it (enterprise baselines)."
    )


class PlanRegion(_Frozen):
    """A region tracked against its plans (GB/T 2260 code; a prefix of its enterprises')."""

    code: str = Field(pattern=r"^\d{6}$")
    name: str
    regulator: str | None = Field(
        default=None, description="The authority told of a red barometer (限批缓批)."
    )
    baselines: list[PlanBaseline] = Field(default_factory=list)


def region_prefix(code: str) -> str:
    """The GB/T 2260 prefix a code stands for: 520000 → 52, 520100 → 5201, 520102 → 520102."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def contains(region_code: str, code: str) -> bool:
    """Whether ``code`` lies within ``region_code`` (GB/T 2260 prefix)."""
    return code.startswith(region_prefix(region_code))


@cache
def _catalogue() -> PlanCatalogue:
    from schemas.plans import load_plans  # schemas.plans imports schemas.registry

    return load_plans()


def _check_one(baseline: PlanBaseline, code: str, where: str) -> list[str]:
    catalogue = _catalogue()
    try:
        plan, target = catalogue.target(baseline.target)
    except KeyError:
        return [f"{where}: unknown target {baseline.target!r}"]
    if not contains(plan.region_code, code):
        return [f"{where}: target {target.id} is {plan.region_code}'s, {code} is outside it"]
    if target.kind != "reduction":
        return [f"{where}: target {target.id} is a level ({target.kind}), it has no baseline"]
    unit = INDICATOR_UNITS[target.indicator]
    if baseline.unit != unit:
        return [f"{where}: {target.indicator} is in {unit}, not {baseline.unit}"]
    return []


def check_plan_baselines(
    regions: Sequence[PlanRegion], enterprises: Sequence[tuple[str, str, Sequence[PlanBaseline]]]
) -> list[str]:
    """Problems of the registry's baselines, one line each (empty: fine).

    ``enterprises``: (id, region code, plan baselines) of each enterprise."""
    catalogue = _catalogue()
    problems: list[str] = []
    seen_regions: set[str] = set()
    for region in regions:
        where = f"plan_regions[{region.code}]"
        if region.code in seen_regions:
            problems.append(f"{where}: region listed twice")
        seen_regions.add(region.code)
        for baseline in region.baselines:
            problems += _check_one(baseline, region.code, f"{where} baseline {baseline.target}")
        have = {b.target for b in region.baselines}
        for plan in catalogue.plans:
            if not contains(plan.region_code, region.code):
                continue
            for target in plan.targets:
                if target.kind == "reduction" and target.id not in have:
                    problems.append(
                        f"{where}: target {target.id} has no baseline (its"
                        f" {target.baseline_year} intensity in {INDICATOR_UNITS[target.indicator]})"
                    )
    for enterprise_id, code, baselines in enterprises:
        for baseline in baselines:
            where = f"enterprise {enterprise_id} plan_baselines {baseline.target}"
            problems += _check_one(baseline, code, where)
    return problems

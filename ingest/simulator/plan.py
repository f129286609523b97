"""The simulated province against its plan: registry baselines and monthly statistics. Pure.

``with_plan(registry, plan, secret)`` tracks the province and every city that has an
enterprise (``plan_regions`` with the baselines of ``ingest/simulator/plan.yaml``), flags every
enterprise except Order No. 30 Art. 7 facilities 规模以上, and gives an enterprise that posts
statistics but has no energy section an API key (``sim_key``, demo only).
``statistic_posts(registry, plan, today)`` is what each enterprise posts to
``/v1/statistics``: its industry's monthly figures for every month of this year that is over,
and the same months of last year (scaled by ``previous_year_factor``).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from importlib import resources

import yaml
from pydantic import Field

from ingest.hj212.packet import CHINA_TZ
from ingest.simulator.energy import Post, sim_key
from schemas.energy import STATISTIC_UNITS, EnterpriseEnergy, StatisticIndicator
from schemas.energy_reference import FrozenModel
from schemas.plan_registry import INDICATOR_UNITS, PlanBaseline, PlanRegion
from schemas.plans import load_plans
from schemas.registry import Registry

REGION_NAMES_FILE = "industries.yaml"


class Regulators(FrozenModel):
    province: str
    city: str


class Baselines(FrozenModel):
    province: dict[str, float]
    city: dict[str, float]


class SimPlan(FrozenModel):
    version: str
    regulators: Regulators
    baselines: Baselines
    monthly: dict[str, dict[StatisticIndicator, float]]
    previous_year_factor: float = Field(gt=0)


def load_sim_plan() -> SimPlan:
    text = resources.files("ingest.simulator").joinpath("plan.yaml").read_text("utf-8")
    return SimPlan.model_validate(yaml.safe_load(text))


def _city_names() -> dict[str, str]:
    text = resources.files("ingest.simulator").joinpath(REGION_NAMES_FILE).read_text("utf-8")
    return {r["code"]: r["name"] for r in yaml.safe_load(text)["regions"]}


def _baselines(values: dict[str, float], source: str) -> list[PlanBaseline]:
    catalogue = load_plans()
    found = []
    for target_id, value in values.items():
        _, target = catalogue.target(target_id)
        unit = INDICATOR_UNITS[target.indicator]
        found.append(PlanBaseline(target=target_id, value=value, unit=unit, source=source))
    return found


def _industry(enterprise_id: str) -> str:
    return enterprise_id.split("-")[1]


def with_plan(registry: Registry, plan: SimPlan, secret: str) -> Registry:
    """``registry`` tracked against the plan (version suffixed ``+plan``)."""
    source = f"demo figure ({plan.version}), not an official statistic"
    names = _city_names()
    cities = sorted({e.region_code[:4] + "00" for e in registry.enterprises})
    regions = [
        PlanRegion(code=registry.region.code, name=registry.region.name,
                   regulator=plan.regulators.province,
                   baselines=_baselines(plan.baselines.province, source)),
        *(PlanRegion(code=c, name=names.get(c, c),
                     regulator=plan.regulators.city.format(name=names.get(c, c)),
                     baselines=_baselines(plan.baselines.city, source)) for c in cities),
    ]  # fmt: skip
    enterprises = []
    for e in registry.enterprises:
        update: dict[str, object] = {"above_designated_size": not e.art7_facility}
        if e.energy is None and _industry(e.id) in plan.monthly:
            digest = hmac.new(secret.encode(), sim_key(e.id).encode(), hashlib.sha256)
            update["energy"] = EnterpriseEnergy(api_key_hmac=digest.hexdigest())
        enterprises.append(e.model_copy(update=update))
    return Registry.model_validate(
        {
            **registry.model_dump(exclude={"enterprises", "standards", "energy_reference"}),
            "version": f"{registry.version}+plan",
            "enterprises": [e.model_dump() for e in enterprises],
            "plan_regions": [r.model_dump() for r in regions],
            "standards": registry.standards,
            "energy_reference": registry.energy_reference,
        }
    )


def months_over(today: date) -> list[date]:
    """The first days of this year's months that are over by ``today``."""
    return [date(today.year, m, 1) for m in range(1, today.month)]


def statistic_posts(registry: Registry, plan: SimPlan, today: date) -> list[Post]:
    """One ``/v1/statistics`` request per enterprise with monthly figures."""
    posts = []
    for e in registry.enterprises:
        figures = plan.monthly.get(_industry(e.id))
        if figures is None or e.energy is None:
            continue
        items = []
        for first in months_over(today):
            for year, factor in ((first.year, 1.0), (first.year - 1, plan.previous_year_factor)):
                start = datetime(year, first.month, 1, tzinfo=CHINA_TZ)
                for indicator, value in figures.items():
                    items.append({"indicator": indicator.value, "stat_type": "month",
                                  "period_start": start.isoformat(),
                                  "value": round(value * factor, 3),
                                  "unit": STATISTIC_UNITS[indicator]})  # fmt: skip
        if items:
            posts.append(Post(e.id, sim_key(e.id), "/v1/statistics", {"statistics": items}))
    return posts

"""Simulated energy management systems (接入端): what each enterprise posts, and when. Pure.

The plan (``ingest/simulator/energy.yaml``) gives per industry the product, its quota and the
meters. ``with_energy(registry, start, secret)`` adds to every enterprise of a planned
industry its meters, product, quota and API key digest (key ``sim_key(enterprise_id)``; demo
keys, never for production); the first aluminium potline gets a declared meter replacement
12 h 7 min after ``start``. ``EnergySchedule`` says what is posted at each 15-minute step of
simulated time: every meter's reading (a register value, multiplied and rolled over as the
meter would show it, or the quantity of the interval), and at midnight each product's output
of the day before. Scripted on the first potline (``EPISODES``): a backwards step (one glitch
reading), a three-hour outage whose readings are posted three hours later (back-filled), a
rollover (the register starts near it) and the replacement.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field

from schemas.energy import EnterpriseEnergy, Meter, MeterReplacement, Product
from schemas.energy_reference import Carrier, FrozenModel
from schemas.registry import EnergyQuota, Enterprise, Registry

STEP = timedelta(minutes=15)
GLITCH_AT = timedelta(hours=8)
OUTAGE = (timedelta(hours=15), timedelta(hours=18))
BACKFILL_AT = timedelta(hours=21)
REPLACED_AT = timedelta(hours=12, minutes=7)
EPISODES = (
    "first aluminium potline: register starts near its rollover; backwards step at +8h; "
    "outage +15h..+18h back-filled at +21h; meter replaced at +12h07"
)


class MeterPlan(FrozenModel):
    suffix: str
    carrier: Carrier
    unit: str
    kind: Literal["cumulative", "interval"]
    per_tonne: float | None = None
    per_hour: float | None = None
    multiplier: float = 1.0
    rollover: float | None = None
    start: float = 0.0
    max_per_hour: float | None = None


class ProductPlan(FrozenModel):
    id: str
    name: str
    tonnes_per_day: float = Field(gt=0)


class QuotaPlan(FrozenModel):
    indicator: str
    limit: float
    unit: Literal["kWh/t", "kgce/t", "tce/t"]
    standard: str


class IndustryPlan(FrozenModel):
    product: ProductPlan | None = None
    quota: QuotaPlan | None = None
    meters: list[MeterPlan]


class EnergyPlan(FrozenModel):
    version: str
    interval_minutes: int
    industries: dict[str, IndustryPlan]


def load_energy_plan() -> EnergyPlan:
    text = resources.files("ingest.simulator").joinpath("energy.yaml").read_text("utf-8")
    return EnergyPlan.model_validate(yaml.safe_load(text))


def sim_key(enterprise_id: str) -> str:
    """The demo API key of a simulated enterprise (demo only: derivable by anyone)."""
    return f"sim-energy-{enterprise_id}"


def _industry(enterprise: Enterprise) -> str:
    return enterprise.id.split("-")[1]


def with_energy(registry: Registry, start: datetime, secret: str, plan: EnergyPlan) -> Registry:
    """``registry`` with the planned energy sections (version suffixed ``+energy``)."""
    enterprises = []
    first_potline = True
    for enterprise in registry.enterprises:
        industry = plan.industries.get(_industry(enterprise))
        if industry is None:
            enterprises.append(enterprise)
            continue
        meters = []
        for m in industry.meters:
            replacements = []
            if first_potline and _industry(enterprise) == "AL" and m.kind == "cumulative":
                first_potline = False
                at = start + REPLACED_AT
                old = round(register_at(m, industry, REPLACED_AT), 3)
                replacements = [MeterReplacement(at=at, old_final=old, new_initial=0.0)]
            meters.append(
                Meter(
                    id=f"{enterprise.id}-{m.suffix}",
                    carrier=m.carrier,
                    unit=m.unit,
                    kind=m.kind,
                    multiplier=m.multiplier,
                    rollover=m.rollover,
                    max_per_hour=m.max_per_hour,
                    interval_minutes=plan.interval_minutes,
                    product=industry.product.id if industry.product and m.per_tonne else None,
                    replacements=replacements,
                )
            )
        products = (
            [Product(id=industry.product.id, name=industry.product.name)]
            if industry.product
            else []
        )
        quotas = list(enterprise.energy_quotas)
        if industry.quota and industry.product:
            quotas = [
                EnergyQuota(product=industry.product.id, **industry.quota.model_dump()),
                *(q for q in quotas if q.product != industry.product.id),
            ]
        digest = hmac.new(secret.encode(), sim_key(enterprise.id).encode(), hashlib.sha256)
        energy = EnterpriseEnergy(api_key_hmac=digest.hexdigest(), meters=meters, products=products)
        enterprises.append(
            enterprise.model_copy(update={"energy": energy, "energy_quotas": quotas})
        )
    return Registry.model_validate(
        {
            **registry.model_dump(exclude={"enterprises", "standards", "energy_reference"}),
            "version": f"{registry.version}+energy",
            "enterprises": [e.model_dump() for e in enterprises],
            "standards": registry.standards,
            "energy_reference": registry.energy_reference,
        }
    )


def hourly_rate(meter: MeterPlan, industry: IndustryPlan) -> float:
    """Consumption per hour in the meter's unit."""
    if meter.per_hour is not None:
        return meter.per_hour
    assert industry.product is not None and meter.per_tonne is not None
    return meter.per_tonne * industry.product.tonnes_per_day / 24.0


def register_at(meter: MeterPlan, industry: IndustryPlan, elapsed: timedelta) -> float:
    """The raw register ``elapsed`` after the start, before any replacement (rolled over)."""
    raw = (
        meter.start
        + hourly_rate(meter, industry) * elapsed.total_seconds() / 3600.0 / meter.multiplier
    )
    return raw % meter.rollover if meter.rollover is not None else raw


@dataclass(frozen=True, slots=True)
class Post:
    """One request of one enterprise: its key, the path and the JSON body."""

    enterprise_id: str
    key: str
    path: str
    body: dict[str, Any]


class EnergySchedule:
    """What every simulated 接入端 posts at a simulated step (deterministic)."""

    def __init__(self, registry: Registry, start: datetime, plan: EnergyPlan) -> None:
        self.start = start
        self.plan = plan
        self._sites: list[tuple[Enterprise, IndustryPlan]] = [
            (e, plan.industries[_industry(e)])
            for e in registry.enterprises
            if e.energy is not None and _industry(e) in plan.industries
        ]
        self._scripted = next(
            (m.id for e, _ in self._sites if e.energy for m in e.energy.meters if m.replacements),
            None,
        )
        self._held: list[Post] = []

    def posts(self, at: datetime) -> list[Post]:
        """Requests at simulated time ``at`` (a multiple of 15 minutes after ``start``)."""
        posts: list[Post] = []
        offset = at - self.start
        for enterprise, industry in self._sites:
            assert enterprise.energy is not None
            readings, held = [], []
            for meter, plan in zip(enterprise.energy.meters, industry.meters, strict=True):
                reading = self._reading(meter, plan, industry, at)
                if meter.id == self._scripted and OUTAGE[0] <= offset < OUTAGE[1]:
                    held.append(reading)
                else:
                    readings.append(reading)
            key = sim_key(enterprise.id)
            if readings:
                posts.append(Post(enterprise.id, key, "/v1/readings", {"readings": readings}))
            if held:
                self._held.append(Post(enterprise.id, key, "/v1/readings", {"readings": held}))
            if industry.product and at > self.start and at.hour == 0 and at.minute == 0:
                posts.append(Post(enterprise.id, key, "/v1/statistics", _output(industry, at)))
        if offset == BACKFILL_AT:
            posts += self._held
            self._held = []
        return posts

    def _reading(
        self, meter: Meter, plan: MeterPlan, industry: IndustryPlan, at: datetime
    ) -> dict[str, Any]:
        rate = hourly_rate(plan, industry)
        if plan.kind == "interval":
            start = at - STEP
            value = rate * STEP.total_seconds() / 3600.0 / plan.multiplier
            return {"meter_id": meter.id, "value": round(value, 3), "unit": meter.unit,
                    "period_start": start.isoformat()}  # fmt: skip
        used = rate * (at - self.start).total_seconds() / 3600.0 / plan.multiplier
        raw = plan.start + used
        for swap in meter.replacements:
            if at >= swap.at:
                before = rate * (swap.at - self.start).total_seconds() / 3600.0 / plan.multiplier
                raw = swap.new_initial + (used - before)
        if meter.id == self._scripted and at - self.start == GLITCH_AT:
            raw -= 3_000.0  # the backwards step: a glitch the meter recovers from
        if plan.rollover is not None:
            raw %= plan.rollover
        return {"meter_id": meter.id, "value": round(raw, 3), "unit": meter.unit,
                "instant": at.isoformat()}  # fmt: skip


def _output(industry: IndustryPlan, at: datetime) -> dict[str, Any]:
    assert industry.product is not None
    day = (at - timedelta(days=1)).isoformat()
    item = {"indicator": "output", "product": industry.product.id, "stat_type": "day",
            "period_start": day, "value": industry.product.tonnes_per_day, "unit": "t"}  # fmt: skip
    return {"statistics": [item]}

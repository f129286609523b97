"""The simulated province: enterprises of the listed industries, their outlets (排放口) and
monitors, invented deterministically from a seed, and the registry that describes them.

Every outlet has one monitor (a CEMS or water analyser behind a data logger) with its own HJ
212 MN and password. The registry written for the gateway stores only password digests; the
simulator keeps the plain passwords in memory, regenerated from the same seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from ingest.simulator.profiles import Industry, OutletKind, Profiles, load_profiles
from schemas.registry import (
    AlertPolicy,
    CrcVariant,
    Device,
    Enterprise,
    LoadQuota,
    Medium,
    Outlet,
    Region,
    Registry,
    StandardsCatalogue,
    hash_password,
    load_standards,
)

PROVINCE: Final = Region(code="520000", name="贵州省 (simulated province)")
_AVERAGE_LOAD: Final = 0.85
_QUOTA_MARGIN: Final = 1.3
_DAYS_PER_YEAR: Final = 330


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One monitor as the simulator drives it.

    ``limits``: the outlet standard's limits by factor (mg/m³ or mg/L); ``reference_o2``: %
    for O2 correction (None: no correction); ``ack``: sends Flag=5 (A bit: wants a 9014)
    instead of Flag=4; ``realtime``: also sends CN 2011 every ``realtime_interval_s``.
    """

    mn: str
    password: str
    enterprise_id: str
    outlet_id: str
    kind_name: str
    kind: OutletKind
    limits: dict[str, float]
    reference_o2: float | None
    ack: bool
    realtime: bool

    @property
    def st(self) -> str:
        """HJ 212 system code: 31 air pollution source, 32 water pollution source."""
        return "31" if self.kind.medium == "gas" else "32"


@dataclass(frozen=True, slots=True)
class Province:
    """The invented province: its registry and the devices to drive."""

    seed: int
    registry: Registry
    devices: tuple[SimDevice, ...]

    def device(self, mn: str) -> SimDevice | None:
        return next((d for d in self.devices if d.mn == mn), None)


def build_province(
    enterprises: int,
    seed: int,
    ack_fraction: float = 0.3,
    realtime_fraction: float = 0.2,
    profiles: Profiles | None = None,
    standards: StandardsCatalogue | None = None,
) -> Province:
    """Invent ``enterprises`` enterprises (the first seven one of each industry, the rest drawn
    by industry weight). Same arguments, same province. Raises ``ValueError`` for fewer than
    one enterprise and ``KeyError`` for a profile naming an unknown standard."""
    if enterprises < 1:
        raise ValueError("a province needs at least one enterprise")
    profiles = profiles or load_profiles()
    standards = standards or load_standards()
    rng = random.Random(f"province:{seed}")
    industries = list(profiles.industries.items())
    chosen = [industries[i % len(industries)] for i in range(min(enterprises, len(industries)))]
    weights = [industry.weight for _, industry in industries]
    chosen += rng.choices(industries, weights=weights, k=enterprises - len(chosen))
    numbering: dict[str, int] = {}
    built: list[Enterprise] = []
    devices: list[SimDevice] = []
    for key, industry in chosen:
        numbering[key] = numbering.get(key, 0) + 1
        enterprise, enterprise_devices = _enterprise(
            industry, numbering[key], rng, profiles, standards, ack_fraction, realtime_fraction
        )
        built.append(enterprise)
        devices.extend(enterprise_devices)
    registry = Registry(
        version=f"sim-s{seed}-n{enterprises}",
        region=PROVINCE,
        policy=AlertPolicy(),
        enterprises=built,
        standards=standards,
    )
    return Province(seed, registry, tuple(devices))


def _enterprise(
    industry: Industry,
    number: int,
    rng: random.Random,
    profiles: Profiles,
    standards: StandardsCatalogue,
    ack_fraction: float,
    realtime_fraction: float,
) -> tuple[Enterprise, list[SimDevice]]:
    region = rng.choice(profiles.regions)
    enterprise_id = f"E-{industry.code}-{number:03d}"
    outlets: list[Outlet] = []
    devices: list[SimDevice] = []
    for plan in industry.outlets:
        kind = profiles.outlet_kinds[plan.kind]
        standard = standards.by_id(plan.standard)
        for index in range(1, plan.count + 1):
            outlet_id = f"{enterprise_id}-{plan.suffix}{index}"
            mn = f"SIM{industry.code}{number:03d}{plan.suffix}{index}"
            password = f"{rng.randrange(1_000_000):06d}"
            device = SimDevice(
                mn=mn,
                password=password,
                enterprise_id=enterprise_id,
                outlet_id=outlet_id,
                kind_name=plan.kind,
                kind=kind,
                limits=dict(standard.limits),
                reference_o2=standard.reference_o2,
                ack=rng.random() < ack_fraction,
                realtime=rng.random() < realtime_fraction,
            )
            devices.append(device)
            outlets.append(
                Outlet(
                    id=outlet_id,
                    name=kind.name.format(n=index),
                    medium=Medium(kind.medium),
                    standard=plan.standard,
                    load_quotas=_load_quotas(kind, standard.limits),
                    devices=[
                        Device(
                            mn=mn,
                            password_sha256=hash_password(mn, password),
                            crc=CrcVariant.HJ212,
                            interval_s=60,
                        )
                    ],
                )
            )
    enterprise = Enterprise(
        id=enterprise_id,
        name=industry.name.format(region=region.name, n=number),
        region_code=region.code,
        industry_code=industry.industry_code,
        art7_facility=industry.art7_facility,
        outlets=outlets,
    )
    return enterprise, devices


def _load_quotas(kind: OutletKind, limits: dict[str, float]) -> dict[str, LoadQuota]:
    """Permit quotas (排污许可总量) 30 % above the typical load of each limited pollutant.

    Gas: mg/m³ × m³/s × 86 400 s × 1e-6 = kg/day; water: mg/L × L/s × 86 400 s × 1e-6.
    """
    quotas: dict[str, LoadQuota] = {}
    for factor, profile in kind.pollutants.items():
        limit = limits.get(factor)
        if limit is None:
            continue
        daily = profile.fraction * limit * kind.flow.full_load * _AVERAGE_LOAD * 86_400 * 1e-6
        daily = round(daily * _QUOTA_MARGIN, 3)
        quotas[factor] = LoadQuota(daily_kg=daily, annual_kg=round(daily * _DAYS_PER_YEAR, 1))
    return quotas

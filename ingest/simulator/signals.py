"""Deterministic monitor values: one device's minute readings and their hourly roll-up.

Values follow the outlet kind's profile (``industries.yaml``): a diurnal load curve with
AR(1) noise drives flow, O2 and temperature; pollutant concentrations wander (AR(1)) around
their mean fraction of the limit. Measured (dry) concentrations are derived from the O2-
corrected ones by ``C = C_ref × (21 − O2_measured) / (21 − O2_ref)`` (折算浓度, HJ 75-2017).
Loads (``Cou``): gas kg = mg/m³ × m³/s × 60 s × 1e-6 (measured concentration, domain.md §3);
water kg = mg/L × m³ × 1e-3. Flow ``Cou`` is m³.

Each device has its own ``random.Random`` seeded by (seed, MN); readings must be requested in
time order, one per minute, and are then the same on every run. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from ingest.hj212 import CHINA_TZ
from ingest.simulator.profiles import Band, OutletKind, Profiles
from ingest.simulator.province import SimDevice

O2: Final = "a19001"
TEMPERATURE: Final = "a01012"
PRESSURE: Final = "a01013"
HUMIDITY: Final = "a01014"
GAS_FLOW: Final = "a00000"
WATER_FLOW: Final = "w00000"
PH: Final = "w01001"
_AR_PHI: Final = 0.9
_AR_KEEP: Final = math.sqrt(1 - _AR_PHI**2)


@dataclass(frozen=True, slots=True)
class FactorValues:
    """One factor over one period: mean, min, max, O2-corrected mean (``zs``, pollutants of
    outlets with a reference O2), total (``cou``: kg for pollutants, m³ for flow), data flag
    (N normal, C calibration, M maintenance…)."""

    avg: float
    min: float
    max: float
    zs: float | None = None
    cou: float | None = None
    flag: str = "N"


Reading = dict[str, FactorValues]
"""Factor code → values of one period."""


def significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (what a monitor reports)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


class DeviceSignal:
    """Minute readings of one device, in time order."""

    def __init__(self, device: SimDevice, seed: int, profiles: Profiles) -> None:
        self._device = device
        self._kind: OutletKind = device.kind
        self._profiles = profiles
        self._rng = random.Random(f"signal:{seed}:{device.mn}")
        self._ar: dict[str, float] = {}
        missing = set(self._kind.pollutants) - set(device.limits)
        if missing:
            raise KeyError(f"{device.mn}: no limit for {sorted(missing)} in its standard")

    def minute(self, start: datetime) -> Reading:
        """The reading of the minute starting at ``start`` (aware)."""
        local = start.astimezone(CHINA_TZ)
        hour = local.hour + local.minute / 60
        kind = self._kind
        base = self._profiles.load_at(kind.load, hour)
        load = min(1.05, max(0.2, base * (1 + kind.load_noise * self._walk("load"))))
        if kind.medium == "gas":
            return self._gas(load)
        return self._water(load)

    def _gas(self, load: float) -> Reading:
        kind, rng = self._kind, self._rng
        flow = max(0.0, kind.flow.full_load * load * (1 + kind.flow.noise * rng.gauss()))
        reading: Reading = {GAS_FLOW: self._spread(flow, kind.flow.noise, cou=flow * 60)}
        o2 = 20.9
        if kind.o2 is not None:
            o2 = kind.o2.full_load + kind.o2.low_load_extra * (1 - load)
            o2 = min(20.9, max(0.5, o2 + kind.o2.noise * rng.gauss()))
            reading[O2] = self._spread(o2, 0.01)
        for code, band in ((TEMPERATURE, kind.temperature), (PRESSURE, kind.pressure)):
            if band is not None:
                reading[code] = self._band(band, load)
        if kind.humidity is not None:
            reading[HUMIDITY] = self._band(kind.humidity, load)
        reference = self._device.reference_o2
        for code, profile in kind.pollutants.items():
            limit = self._device.limits[code]
            corrected = max(0.0, profile.fraction * limit * (1 + profile.noise * self._walk(code)))
            measured = corrected
            if reference is not None:
                measured = corrected * (21 - o2) / (21 - reference)
            values = self._spread(measured, profile.noise / 2, cou=measured * flow * 60 * 1e-6)
            reading[code] = replace(
                values, zs=None if reference is None else significant(corrected)
            )
        return reading

    def _water(self, load: float) -> Reading:
        kind = self._kind
        flow = max(0.0, kind.flow.full_load * load * (1 + kind.flow.noise * self._rng.gauss()))
        volume_m3 = flow * 60 / 1000
        reading: Reading = {WATER_FLOW: self._spread(flow, kind.flow.noise, cou=volume_m3)}
        if kind.ph is not None:
            reading[PH] = self._band(kind.ph, load)
        for code, profile in kind.pollutants.items():
            limit = self._device.limits[code]
            value = max(0.0, profile.fraction * limit * (1 + profile.noise * self._walk(code)))
            reading[code] = self._spread(value, profile.noise / 2, cou=value * volume_m3 * 1e-3)
        return reading

    def _walk(self, key: str) -> float:
        """AR(1) step of a standard-normal walk per key (φ = 0.9 per minute)."""
        state = _AR_PHI * self._ar.get(key, self._rng.gauss()) + _AR_KEEP * self._rng.gauss()
        self._ar[key] = state
        return state

    def _band(self, band: Band, load: float) -> FactorValues:
        value = band.base + band.per_load * load + band.noise * self._rng.gauss()
        return self._spread(value, abs(band.noise / band.base) if band.base else 0.01)

    def _spread(self, avg: float, relative: float, cou: float | None = None) -> FactorValues:
        """Minute min/max around the mean (half-normal spread of ``relative``)."""
        low = avg * (1 - abs(self._rng.gauss()) * relative)
        high = avg * (1 + abs(self._rng.gauss()) * relative)
        return FactorValues(
            avg=significant(avg),
            min=significant(min(low, high)),
            max=significant(max(low, high)),
            cou=None if cou is None else significant(cou),
        )


@dataclass(slots=True)
class HourAccumulator:
    """Rolls minute readings up into the hourly reading (CN 2061): mean of the minute means,
    min of mins, max of maxes, sum of totals; the flag of the hour is the most frequent
    non-normal flag when more than a quarter of its minutes carry one, else N."""

    minutes: list[Reading] = field(default_factory=list)

    def add(self, reading: Reading) -> None:
        self.minutes.append(reading)

    def take(self) -> Reading | None:
        """The hourly reading of the minutes added since the last call (None if none)."""
        minutes, self.minutes = self.minutes, []
        if not minutes:
            return None
        factors = dict.fromkeys(code for minute in minutes for code in minute)
        return {code: _roll_up([m[code] for m in minutes if code in m]) for code in factors}


def _roll_up(values: list[FactorValues]) -> FactorValues:
    count = len(values)
    flags = [v.flag for v in values if v.flag != "N"]
    flag = max(sorted(set(flags)), key=flags.count) if len(flags) * 4 > count else "N"
    zs = [v.zs for v in values if v.zs is not None]
    cou = [v.cou for v in values if v.cou is not None]
    return FactorValues(
        avg=significant(sum(v.avg for v in values) / count),
        min=min(v.min for v in values),
        max=max(v.max for v in values),
        zs=significant(sum(zs) / len(zs)) if zs else None,
        cou=significant(sum(cou)) if cou else None,
        flag=flag,
    )

"""The registry: who is monitored and which thresholds apply (models and YAML loader).

The registry is data, versioned (``version``), loaded into the database and published to a
compacted topic; every verdict records the version it was judged under. Emission standards
(limits, reference O2) come from ``schemas/reference/standards.yaml``; an outlet's permit may
override a standard's limit for a factor (``limits``) and sets load quotas (排污许可总量).

Device passwords (HJ 212 ``PW``) are stored as ``sha256(MN + ":" + PW)`` hex digests.

``RegistrySnapshot`` is the value of one record of the registry topic (``<prefix>.registry``,
docs/registry.md): a whole registry, standards included, so a follower judges with exactly
what the publisher validated.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class RegistryError(Exception):
    """The registry file cannot be read or is inconsistent (carries the file and reason)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class Medium(StrEnum):
    GAS = "gas"
    WATER = "water"


class CrcVariant(StrEnum):
    """CRC a device uses: HJ 212 Appendix A (default) or MODBUS in either byte order."""

    HJ212 = "hj212"
    MODBUS = "modbus"
    MODBUS_LE = "modbus-le"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Standard(_Frozen):
    """An emission standard: limits per factor at a reference O2 (mg/m³ or mg/L)."""

    id: str
    name: str
    source: str
    valid_from: date
    valid_to: date | None = None
    medium: Medium
    reference_o2: float | None = None
    reference_o2_unconfirmed: bool = False
    unconfirmed: bool = False
    limits: dict[str, float]


class StandardsCatalogue(_Frozen):
    version: str
    standards: list[Standard]
    heavy_metal_or_pop_factors: list[str]

    def by_id(self, standard_id: str) -> Standard:
        for standard in self.standards:
            if standard.id == standard_id:
                return standard
        raise KeyError(standard_id)


class LoadQuota(_Frozen):
    """Permit total-load quota (排污许可总量控制) for one factor, kg."""

    daily_kg: float | None = None
    annual_kg: float | None = None


class Device(_Frozen):
    """An online monitor (CEMS, water analyser, meter) identified by its HJ 212 MN."""

    mn: str
    password_sha256: str = Field(description="hex sha256 of 'MN:PW'.")
    crc: CrcVariant = CrcVariant.HJ212
    interval_s: int = Field(default=60, gt=0, description="Expected reporting interval.")

    def password_matches(self, password: str) -> bool:
        """Constant-time check of an HJ 212 PW against the stored digest."""
        return hmac.compare_digest(hash_password(self.mn, password), self.password_sha256)


class Outlet(_Frozen):
    """A discharge outlet (排放口) with its standard, permit overrides and devices."""

    id: str
    name: str
    medium: Medium
    standard: str
    reference_o2: float | None = Field(default=None, description="Overrides the standard's.")
    limits: dict[str, float] = Field(default_factory=dict, description="Permit overrides.")
    load_quotas: dict[str, LoadQuota] = Field(default_factory=dict)
    devices: list[Device] = Field(default_factory=list)


class EnergyQuota(_Frozen):
    """Unit product energy quota (单位产品能耗限额), e.g. 13 700 kWh/t aluminium."""

    product: str
    indicator: str
    limit: float
    unit: str
    standard: str


class PlanTarget(_Frozen):
    """A plan target: intensity reduction vs a baseline year (e.g. −12% vs 2015 by 2018)."""

    indicator: str = Field(description="e.g. energy_per_value_added, co2_per_value_added.")
    baseline_year: int
    baseline_value: float
    target_year: int
    reduction_pct: float
    unit: str
    source: str


class Enterprise(_Frozen):
    """A monitored enterprise (排污单位 / 重点用能单位)."""

    id: str
    name: str
    region_code: str = Field(description="GB/T 2260 administrative division code.")
    industry_code: str = Field(description="GB/T 4754 industry classification code.")
    art7_facility: bool = Field(
        default=False,
        description="Order No. 30 Art. 7: sewage, waste, hazardous waste, livelihood or "
        "safety facility: never recommended for suspension.",
    )
    outlets: list[Outlet] = Field(default_factory=list)
    energy_quotas: list[EnergyQuota] = Field(default_factory=list)
    plan_targets: list[PlanTarget] = Field(default_factory=list)


class EvasionPolicy(_Frozen):
    """Thresholds of the evasion rules (``streams.domain.evasion``; the ``tampering`` family of
    data-quality signals, Order No. 30 Art. 6(1)). Our defaults, set by no standard: each a
    registry setting; ``null`` turns a rule off."""

    flat_band_fraction: float | None = Field(default=0.9, gt=0, le=1)
    """Flat just under the limit: the judged hourly value in [this × limit, limit] …"""
    flat_max_cv_pct: float = Field(default=1.0, ge=0)
    """… while its valid minutes vary by at most this coefficient of variation (%)."""
    dilution_correction_factor: float | None = Field(default=2.0, gt=1)
    """O2 dilution: the O2 correction factor (21 − O2_ref) / (21 − O2_measured) at or above
    this (the measured value at most half what it would be at the reference O2) while the
    corrected value is within the limit."""
    bypass_flow_fraction: float | None = Field(default=0.5, gt=0, lt=1)
    """Bypass: the hourly flow below this fraction of the previous hour's while the process
    runs (no F-flagged minute, the hour valid)."""
    identical_minutes: int | None = Field(default=30, gt=1)
    """Identical analysers: at least this many minutes with the same value (not constant)
    on two devices."""
    device_hourly_pct: float | None = Field(default=10.0, gt=0)
    """Device hourly (CN 2061) value differing from the mean of our minutes by more than this %."""
    o2_correction_mismatch: bool = True
    """Device O2-corrected value (ZsAvg) disagreeing with ours (``o2_disagreement_pct``)."""


class AlertPolicy(_Frozen):
    """Thresholds and durations of the alert ladder (design.md); every one a registry setting."""

    warning_fraction: float = 0.8
    severe_multiple: float = 3.0
    sustained_exceedance_hours: int = 3
    resolve_after_compliant_hours: int = 2
    silence_intervals: int = 5
    flatline_minutes: int = 30
    clock_skew_seconds: int = Field(
        default=600, ge=0, description="Tolerated |device clock − arrival| in s; 0 = no check."
    )
    repeat_interval_minutes: int = 60
    valid_minutes_per_hour: int = 45
    valid_hours_per_day: int = 20
    grace_minutes: int = 10
    o2_disagreement_pct: float = 5.0
    # Alert lifecycle (alerts/, docs/alerts.md).
    resolve_after_compliant_days: int = 1
    """Daily-load alerts resolve after this many compliant valid days."""
    quality_pending_minutes: int = 5
    """A data-quality condition must hold this long before its alert fires."""
    quality_resolve_minutes: int = 10
    """A cleared data-quality condition must stay clear this long before the alert resolves."""
    quality_escalate_hours: int = 24
    """A data-quality alert still firing after this long is escalated (the regulator is told)."""
    held_recheck_minutes: int = 5
    """How often an open alert whose first notice is held back (inhibited) is re-checked."""
    inhibiting_quality_kinds: tuple[str, ...] = ("silent",)
    """Firing data-quality kinds that hold back a device's outlet's notices up to exceedance."""
    evasion_quality_kinds: tuple[str, ...] = ("tampering",)
    """Firing data-quality kinds that count as evading supervision (Order No. 30 Art. 6(1))."""
    flag_allowance_minutes: dict[str, int] = Field(default_factory=lambda: {"C": 30})
    """A run of this F/M/C/D/B flag no longer than this (minutes) needs no declared window
    (e.g. the daily automatic calibration); flags not listed: none. Our default."""
    evasion: EvasionPolicy = EvasionPolicy()
    """Thresholds of the evasion rules that raise ``tampering`` signals."""


class Region(_Frozen):
    code: str
    name: str


class Registry(_Frozen):
    """The whole registry of one deployment (a province, a city, a demo)."""

    version: str
    region: Region
    policy: AlertPolicy = AlertPolicy()
    enterprises: list[Enterprise]
    standards: StandardsCatalogue

    @model_validator(mode="after")
    def _check_references(self) -> Registry:
        seen_mn: set[str] = set()
        seen_outlet: set[str] = set()
        for enterprise in self.enterprises:
            for outlet in enterprise.outlets:
                if outlet.id in seen_outlet:
                    raise ValueError(f"outlet {outlet.id} defined twice")
                seen_outlet.add(outlet.id)
                try:
                    self.standards.by_id(outlet.standard)
                except KeyError:
                    raise ValueError(
                        f"outlet {outlet.id}: unknown standard {outlet.standard!r}"
                    ) from None
                for device in outlet.devices:
                    if device.mn in seen_mn:
                        raise ValueError(f"device MN {device.mn} defined twice")
                    seen_mn.add(device.mn)
        return self

    @cached_property
    def _device_index(self) -> dict[str, tuple[Enterprise, Outlet, Device]]:
        return {d.mn: (e, o, d) for e in self.enterprises for o in e.outlets for d in o.devices}

    @cached_property
    def _outlet_index(self) -> dict[str, tuple[Enterprise, Outlet]]:
        return {o.id: (e, o) for e in self.enterprises for o in e.outlets}

    def device(self, mn: str) -> tuple[Enterprise, Outlet, Device] | None:
        """The enterprise, outlet and device of an MN, or None when unknown."""
        return self._device_index.get(mn)

    def outlet(self, outlet_id: str) -> tuple[Enterprise, Outlet] | None:
        return self._outlet_index.get(outlet_id)

    def limit(self, outlet: Outlet, factor: str) -> tuple[float, str] | None:
        """Effective limit of ``factor`` at ``outlet`` and where it comes from, or None."""
        if factor in outlet.limits:
            return outlet.limits[factor], f"permit:{outlet.id}"
        standard = self.standards.by_id(outlet.standard)
        if factor in standard.limits:
            return standard.limits[factor], standard.id
        return None

    def reference_o2(self, outlet: Outlet) -> float | None:
        """Reference O2 (%) for 折算浓度 (HJ 75-2017) at this outlet, or None (water, none)."""
        if outlet.reference_o2 is not None:
            return outlet.reference_o2
        return self.standards.by_id(outlet.standard).reference_o2

    def is_heavy_metal_or_pop(self, factor: str) -> bool:
        return factor in self.standards.heavy_metal_or_pop_factors


class RegistrySnapshot(_Frozen):
    """One record of the compacted registry topic: a whole registry as published.

    Key of the record: ``key`` (the registry's region code, GB/T 2260: one registry per
    deployment region). ``format`` is the layout of this record (1); ``version`` repeats
    ``registry.version`` so a reader can log it without looking inside; ``published_at`` is when
    ``greenwatch db load-registry`` published it (aware). ``registry`` holds the standards
    catalogue too (about 5 kB), so the record stands on its own.
    """

    format: Literal[1] = 1
    version: str
    published_at: datetime
    registry: Registry

    @model_validator(mode="after")
    def _check_version(self) -> RegistrySnapshot:
        if self.version != self.registry.version:
            raise ValueError(
                f"snapshot says version {self.version!r}, its registry {self.registry.version!r}"
            )
        return self

    @property
    def key(self) -> str:
        return self.registry.region.code


def snapshot_of(registry: Registry, published_at: datetime) -> RegistrySnapshot:
    """The topic record of ``registry`` published at ``published_at`` (aware)."""
    return RegistrySnapshot(version=registry.version, published_at=published_at, registry=registry)


def encode_snapshot(snapshot: RegistrySnapshot) -> bytes:
    """UTF-8 JSON value of a registry topic record."""
    return snapshot.model_dump_json().encode()


def decode_snapshot(value: bytes | None, source: str = "<registry topic>") -> RegistrySnapshot:
    """Parse a registry topic record's value; raises ``RegistryError`` (with ``source``, e.g.
    ``topic@offset``) when it is empty, not JSON or not a valid registry."""
    if not value:
        raise RegistryError(source, "empty record (a tombstone?): no registry")
    try:
        return RegistrySnapshot.model_validate_json(value)
    except ValidationError as exc:
        raise RegistryError(source, str(exc)) from exc


def hash_password(mn: str, password: str) -> str:
    """The registry's stored form of a device password: hex sha256 of ``MN:PW``."""
    return hashlib.sha256(f"{mn}:{password}".encode()).hexdigest()


def load_standards(path: Path | None = None) -> StandardsCatalogue:
    """Load the standards catalogue (default: the packaged reference file)."""
    if path is None:
        text = resources.files("schemas.reference").joinpath("standards.yaml").read_text("utf-8")
        source = "schemas/reference/standards.yaml"
    else:
        text, source = path.read_text("utf-8"), str(path)
    try:
        return StandardsCatalogue.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise RegistryError(source, str(exc)) from exc


def parse_registry(document: dict[str, Any], source: str = "<registry>") -> Registry:
    """Validate a registry document (already parsed YAML/JSON); raises RegistryError."""
    if not isinstance(document, dict):
        raise RegistryError(source, "a registry document is a mapping")
    body = dict(document)
    standards_file = body.pop("standards_file", None)
    body["standards"] = load_standards(Path(standards_file) if standards_file else None)
    try:
        return Registry.model_validate(body)
    except ValidationError as exc:
        raise RegistryError(source, str(exc)) from exc


def load_registry(path: Path) -> Registry:
    """Read and validate a registry YAML file; raises RegistryError with the reason."""
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(str(path), str(exc)) from exc
    return parse_registry(document, str(path))


def dump_registry(registry: Registry) -> str:
    """YAML text of a registry (standards referenced from the packaged catalogue)."""
    body = registry.model_dump(mode="json", exclude={"standards"})
    return yaml.safe_dump(body, allow_unicode=True, sort_keys=False)

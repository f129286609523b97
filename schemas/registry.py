"""The registry: who is monitored and which thresholds apply (models and YAML loader).

The registry is data, versioned (``version``), loaded into the database and published to a
compacted topic; every verdict records the version it was judged under. Emission standards
(limits, reference O2) come from ``schemas/reference/standards.yaml``; an outlet's permit may
override a standard's limit for a factor (``limits``) and sets load quotas (排污许可总量).

Device passwords (HJ 212 ``PW``) are never stored. A registry file may carry the legacy
unkeyed digest ``password_sha256`` = ``sha256(MN + ":" + PW)``; ``greenwatch db load-registry``
replaces it by ``password_hmac`` = ``HMAC-SHA256(device key, legacy digest)`` before storing or
publishing, so the database and the registry topic hold only digests that cannot be brute-forced
without the platform's device key (a 6-digit PW fell in 0.27 s from the unkeyed one).

``RegistrySnapshot`` is the value of one record of the registry topic (``<prefix>.registry``,
docs/registry.md): a whole registry, standards included, so a follower judges with exactly
what the publisher validated.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    StringConstraints,
    ValidationError,
    model_validator,
)

from schemas.energy import EnterpriseEnergy, Meter, Product
from schemas.energy_reference import (
    ElectricityBasis,
    EnergyReference,
    ReferenceError,
    load_energy_reference,
)
from schemas.plan_registry import PlanBaseline, PlanRegion, check_plan_baselines
from schemas.yamlfile import YamlFileError, parse_yaml, read_yaml_file


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


FactorCode = Annotated[str, StringConstraints(pattern=r"^[aw]\d{5}$")]
"""An HJ 212-2017 pollutant code (因子编码, Appendix B): ``a`` gas or ``w`` water and five
digits. Only such codes are ever judged, so a limit under any other name would never apply."""

ReferenceO2 = Annotated[float, Field(ge=0.0, lt=21.0)]
"""Reference O2 in % for 折算浓度 (HJ 75-2017, ``streams.domain.o2``): the factor
``(21 − ref) / (21 − measured)`` needs ``ref`` below air's 21 %."""

PasswordDigest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""Lower-case hex of a 32-byte digest."""


def _check_media(owner: str, medium: Medium, factors: list[str]) -> None:
    prefix = "a" if medium is Medium.GAS else "w"
    wrong = sorted(f for f in factors if not f.startswith(prefix))
    if wrong:
        raise ValueError(
            f"{owner}: {medium.value} factors start with {prefix!r}, not {', '.join(wrong)}"
        )


class Standard(_Frozen):
    """An emission standard: limits per factor at a reference O2 (mg/m³ or mg/L)."""

    id: str
    name: str
    source: str
    valid_from: date
    valid_to: date | None = None
    medium: Medium
    reference_o2: ReferenceO2 | None = None
    reference_o2_unconfirmed: bool = False
    unconfirmed: bool = False
    limits: dict[FactorCode, PositiveFloat]

    @model_validator(mode="after")
    def _check_factors(self) -> Standard:
        _check_media(f"standard {self.id}", self.medium, list(self.limits))
        return self


class StandardsCatalogue(_Frozen):
    version: str
    standards: list[Standard]
    heavy_metal_or_pop_factors: list[FactorCode]

    def by_id(self, standard_id: str) -> Standard:
        for standard in self.standards:
            if standard.id == standard_id:
                return standard
        raise KeyError(standard_id)


class LoadQuota(_Frozen):
    """Permit total-load quota (排污许可总量控制) for one factor, kg."""

    daily_kg: PositiveFloat | None = None
    annual_kg: PositiveFloat | None = None


class Device(_Frozen):
    """An online monitor (CEMS, water analyser, meter) identified by its HJ 212 MN."""

    mn: str
    password_sha256: PasswordDigest | None = Field(
        default=None,
        description="Legacy, unkeyed: hex sha256 of 'MN:PW'. load-registry replaces it by "
        "password_hmac; never stored or published.",
    )
    password_hmac: PasswordDigest | None = Field(
        default=None,
        description="hex HMAC-SHA256, keyed with the platform's device key, of sha256('MN:PW').",
    )
    crc: CrcVariant = CrcVariant.HJ212
    interval_s: int = Field(default=60, gt=0, description="Expected reporting interval.")

    @model_validator(mode="after")
    def _one_digest(self) -> Device:
        if (self.password_sha256 is None) == (self.password_hmac is None):
            raise ValueError(
                f"device {self.mn}: give exactly one of password_hmac, password_sha256"
            )
        return self

    def password_matches(self, password: str, device_key: bytes | None) -> bool:
        """Constant-time check of an HJ 212 PW against the stored digest; a keyed digest
        needs the device key (``None``: never matches)."""
        legacy = hash_password(self.mn, password)
        if self.password_hmac is not None:
            if device_key is None:
                return False
            return hmac.compare_digest(keyed_digest(device_key, legacy), self.password_hmac)
        assert self.password_sha256 is not None
        return hmac.compare_digest(legacy, self.password_sha256)

    def keyed(self, device_key: bytes) -> Device:
        """This device with its legacy digest replaced by the keyed one (unchanged if keyed)."""
        if self.password_sha256 is None:
            return self
        return self.model_copy(
            update={
                "password_sha256": None,
                "password_hmac": keyed_digest(device_key, self.password_sha256),
            }
        )


class Outlet(_Frozen):
    """A discharge outlet (排放口) with its standard, permit overrides and devices."""

    id: str
    name: str
    medium: Medium
    standard: str
    reference_o2: ReferenceO2 | None = Field(default=None, description="Overrides the standard's.")
    limits: dict[FactorCode, PositiveFloat] = Field(
        default_factory=dict, description="Permit overrides."
    )
    load_quotas: dict[FactorCode, LoadQuota] = Field(default_factory=dict)
    devices: list[Device] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_factors(self) -> Outlet:
        _check_media(f"outlet {self.id}", self.medium, [*self.limits, *self.load_quotas])
        return self


class EnergyQuota(_Frozen):
    """Unit product energy quota (单位产品能耗限额), e.g. 13 700 kWh/t aluminium.

    ``product`` names a product of the enterprise's ``energy.products`` when it has an energy
    section (then it is judged: ``energy_quota`` verdicts). ``unit`` says what is summed:
    ``kWh/t`` the electricity of the product's meters, ``kgce/t`` / ``tce/t`` every carrier
    of them in standard coal on ``basis`` (feedstock included: a product quota counts it)."""

    product: str
    indicator: str
    limit: PositiveFloat
    unit: Literal["kWh/t", "kgce/t", "tce/t"]
    standard: str
    basis: ElectricityBasis = ElectricityBasis.CALORIFIC


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
    above_designated_size: bool = Field(
        default=False,
        description="规模以上 (industry above designated size): counted in regional plan figures.",
    )
    plan_baselines: list[PlanBaseline] = Field(
        default_factory=list,
        description="Baselines a regulator assigned to this enterprise (schemas.plan_registry).",
    )
    energy: EnterpriseEnergy | None = Field(
        default=None, description="Energy meters, products and API key digest (issue 9)."
    )


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

    warning_fraction: float = Field(default=0.8, gt=0.0, lt=1.0)
    severe_multiple: float = Field(default=3.0, gt=1.0)
    sustained_exceedance_hours: int = Field(default=3, ge=1)
    resolve_after_compliant_hours: int = Field(default=2, ge=1)
    silence_intervals: int = Field(default=5, ge=1)
    flatline_minutes: int = Field(default=30, ge=1)
    clock_skew_seconds: int = Field(
        default=600, ge=0, description="Tolerated |device clock − arrival| in s; 0 = no check."
    )
    repeat_interval_minutes: int = Field(default=60, ge=1)
    valid_minutes_per_hour: int = Field(default=45, ge=1, le=60)
    valid_hours_per_day: int = Field(default=20, ge=1, le=24)
    grace_minutes: int = Field(default=10, ge=0)
    o2_disagreement_pct: float = Field(default=5.0, gt=0.0)
    # Alert lifecycle (alerts/, docs/alerts.md).
    resolve_after_compliant_days: int = Field(default=1, ge=1)
    """Daily-load alerts resolve after this many compliant valid days."""
    quality_pending_minutes: int = Field(default=5, ge=0)
    """A data-quality condition must hold this long before its alert fires."""
    quality_resolve_minutes: int = Field(default=10, ge=0)
    """A cleared data-quality condition must stay clear this long before the alert resolves."""
    quality_escalate_hours: int = Field(default=24, ge=1)
    """A data-quality alert still firing after this long is escalated (the regulator is told)."""
    held_recheck_minutes: int = Field(default=5, ge=1)
    """How often an open alert whose first notice is held back (inhibited) is re-checked."""
    inhibiting_quality_kinds: tuple[str, ...] = ("silent",)
    """Firing data-quality kinds that hold back a device's outlet's notices up to exceedance."""
    evasion_quality_kinds: tuple[str, ...] = ("tampering", "undeclared_flag", "revised_down")
    """Firing data-quality kinds that count as evading supervision (Order No. 30 Art. 6(1)):
    the evasion rules, flagged data nobody declared, and a judgement softened by re-sent or
    late data (design.md: undeclared flags and rewritten data are evasion signals)."""
    # Energy (streams/domain/energy, docs/energy.md).
    energy_completeness_min: float = Field(default=0.9, gt=0, le=1)
    """A meter-day is complete with at least this share of its expected real-time readings
    (key-energy-user data-quality rule, domain-energy.md §1.4)."""
    energy_consistency_max_deviation: float = Field(default=0.05, gt=0, le=1)
    """A month's reported figure may differ from the sum of its daily figures by this share of
    it (key-energy-user data-quality rule, domain-energy.md §1.4); beyond, a warning."""
    energy_quota_windows: tuple[Literal["24h", "30d", "month", "ytd"], ...] = ("30d", "ytd")
    """Rolling windows whose unit consumption is judged against the product's quota."""
    energy_quota_warning_fraction: float = Field(default=0.98, gt=0, le=1)
    """Unit consumption at or above this share of the quota limit is a warning (quota plants
    run close to their limit: the emission ``warning_fraction`` would warn always)."""
    energy_clock_skew_seconds: int = Field(default=900, ge=0)
    """Tolerated lead of a posted reading's time over the server clock, s."""
    flag_allowance_minutes: dict[str, int] = Field(default_factory=lambda: {"C": 30})
    """A run of this F/M/C/D/B flag no longer than this (minutes) needs no declared window
    (e.g. the daily automatic calibration); flags not listed: none. Our default."""
    flag_daily_allowance_minutes: dict[str, int] = Field(default_factory=lambda: {"C": 60})
    """Minutes of this flag per device, factor and China day that need no declared window,
    spent by minute time (the earliest first; ``streams.domain.flag_budget``); beyond them a
    day-level ``undeclared_flag`` signal. Flags not listed: no daily budget. Our default."""
    evasion: EvasionPolicy = EvasionPolicy()
    """Thresholds of the evasion rules that raise ``tampering`` signals."""


class Region(_Frozen):
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class DeviceSite:
    """Where a registered device is: its enterprise and outlet, and the device itself."""

    enterprise: Enterprise
    outlet: Outlet
    device: Device


class Registry(_Frozen):
    """The whole registry of one deployment (a province, a city, a demo)."""

    version: str
    region: Region
    policy: AlertPolicy = AlertPolicy()
    enterprises: list[Enterprise]
    standards: StandardsCatalogue
    energy_reference: EnergyReference = Field(default_factory=load_energy_reference)
    plan_regions: list[PlanRegion] = Field(
        default_factory=list, description="Regions tracked against their plans' targets."
    )

    @model_validator(mode="after")
    def _check_plans(self) -> Registry:
        problems = check_plan_baselines(
            self.plan_regions,
            [(e.id, e.region_code, e.plan_baselines) for e in self.enterprises],
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _check_energy(self) -> Registry:
        seen: set[str] = set()
        channels: set[tuple[str, str]] = set()
        for enterprise in self.enterprises:
            energy = enterprise.energy or EnterpriseEnergy()
            products = {p.id for p in energy.products}
            processes = self.energy_reference.processes()
            for product in energy.products:
                if product.process_co2 is not None and product.process_co2 not in processes:
                    raise ValueError(
                        f"enterprise {enterprise.id} product {product.id}: no process CO2 "
                        f"factor {product.process_co2!r} in the energy reference"
                    )
            for meter in energy.meters:
                where = f"enterprise {enterprise.id} meter {meter.id}"
                if meter.id in seen:
                    raise ValueError(f"{where}: meter id defined twice")
                seen.add(meter.id)
                unit = self.energy_reference.unit(meter.carrier)
                if meter.unit != unit:
                    raise ValueError(
                        f"{where}: {meter.carrier} is metered in {unit}, not {meter.unit}"
                    )
                if meter.product is not None and meter.product not in products:
                    raise ValueError(f"{where}: unknown product {meter.product!r}")
                if meter.replacements and meter.kind.value != "cumulative":
                    raise ValueError(f"{where}: only a cumulative register is replaced")
                self._check_channel(enterprise, meter, where, channels)
            for quota in enterprise.energy_quotas if enterprise.energy else ():
                if quota.product not in products:
                    raise ValueError(
                        f"enterprise {enterprise.id}: quota for unknown product {quota.product!r}"
                    )
        return self

    @staticmethod
    def _check_channel(
        enterprise: Enterprise, meter: Meter, where: str, channels: set[tuple[str, str]]
    ) -> None:
        if meter.hj212 is None:
            return
        channel = (meter.hj212.mn, meter.hj212.code)
        if channel in channels:
            raise ValueError(f"{where}: device {channel[0]} code {channel[1]} mapped twice")
        channels.add(channel)
        own = {d.mn for o in enterprise.outlets for d in o.devices}
        if meter.hj212.mn not in own:
            raise ValueError(f"{where}: device {meter.hj212.mn} is not {enterprise.id}'s")

    @cached_property
    def _channel_index(self) -> dict[tuple[str, str], tuple[Enterprise, Meter]]:
        return {
            (m.hj212.mn, m.hj212.code): (e, m)
            for e in self.enterprises
            if e.energy
            for m in e.energy.meters
            if m.hj212 is not None
        }

    def energy_channel(self, mn: str, code: str) -> tuple[Enterprise, Meter] | None:
        """The enterprise and meter device ``mn`` reports as HJ 212 factor ``code``, or None."""
        return self._channel_index.get((mn, code))

    @cached_property
    def _meter_index(self) -> dict[str, tuple[Enterprise, Meter]]:
        return {m.id: (e, m) for e in self.enterprises if e.energy for m in e.energy.meters}

    @cached_property
    def _api_key_index(self) -> dict[str, Enterprise]:
        return {
            e.energy.api_key_hmac: e
            for e in self.enterprises
            if e.energy is not None and e.energy.api_key_hmac
        }

    def meter(self, meter_id: str) -> tuple[Enterprise, Meter] | None:
        """The enterprise and meter of a meter id, or None when unknown."""
        return self._meter_index.get(meter_id)

    def enterprise_by_key_digest(self, digest: str) -> Enterprise | None:
        """The enterprise whose API key has this keyed digest, or None."""
        return self._api_key_index.get(digest)

    def product(self, enterprise: Enterprise, product_id: str) -> Product | None:
        for product in enterprise.energy.products if enterprise.energy else ():
            if product.id == product_id:
                return product
        return None

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
    def _device_index(self) -> dict[str, DeviceSite]:
        return {
            d.mn: DeviceSite(e, o, d)
            for e in self.enterprises
            for o in e.outlets
            for d in o.devices
        }

    @cached_property
    def _outlet_index(self) -> dict[str, tuple[Enterprise, Outlet]]:
        return {o.id: (e, o) for e in self.enterprises for o in e.outlets}

    def device(self, mn: str) -> DeviceSite | None:
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

    def with_keyed_passwords(self, device_key: bytes) -> Registry:
        """This registry with every legacy device digest replaced by its keyed digest (what
        is stored and published; ``Device.keyed``)."""
        if not self.has_legacy_digests:
            return self
        enterprises = [
            e.model_copy(
                update={
                    "outlets": [
                        o.model_copy(update={"devices": [d.keyed(device_key) for d in o.devices]})
                        for o in e.outlets
                    ]
                }
            )
            for e in self.enterprises
        ]
        return self.model_copy(update={"enterprises": enterprises})

    @property
    def has_legacy_digests(self) -> bool:
        return any(
            d.password_sha256 is not None
            for e in self.enterprises
            for o in e.outlets
            for d in o.devices
        )


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
    """The legacy (unkeyed) digest of a device password: hex sha256 of ``MN:PW``."""
    return hashlib.sha256(f"{mn}:{password}".encode()).hexdigest()


def keyed_digest(device_key: bytes, legacy_digest: str) -> str:
    """The stored form of a device password: hex HMAC-SHA256 of its legacy digest under the
    platform's device key (so today's digests migrate without knowing the passwords)."""
    return hmac.new(device_key, legacy_digest.encode(), hashlib.sha256).hexdigest()


def load_standards(path: Path | None = None) -> StandardsCatalogue:
    """Load the standards catalogue (default: the packaged reference file)."""
    source = "schemas/reference/standards.yaml" if path is None else str(path)
    try:
        if path is None:
            packaged = resources.files("schemas.reference").joinpath("standards.yaml")
            document = parse_yaml(packaged.read_text("utf-8"))
        else:
            document = read_yaml_file(path)
        return StandardsCatalogue.model_validate(document)
    except YamlFileError as exc:
        raise RegistryError(source, str(exc)) from exc
    except ValidationError as exc:
        raise RegistryError(source, validation_reason(exc)) from exc


def parse_registry(document: dict[str, Any], source: str = "<registry>") -> Registry:
    """Validate a registry document (already parsed YAML/JSON); raises RegistryError."""
    if not isinstance(document, dict):
        raise RegistryError(source, "a registry document is a mapping")
    body = dict(document)
    standards_file = body.pop("standards_file", None)
    body["standards"] = load_standards(Path(standards_file) if standards_file else None)
    reference_file = body.pop("energy_reference_file", None)
    try:
        body["energy_reference"] = load_energy_reference(
            Path(reference_file) if reference_file else None
        )
    except ReferenceError as exc:
        raise RegistryError(exc.source, exc.reason) from exc
    try:
        return Registry.model_validate(body)
    except ValidationError as exc:
        raise RegistryError(source, validation_reason(exc)) from exc


def validation_reason(exc: ValidationError) -> str:
    """One line per problem: the path in the document and what is wrong with it."""
    lines = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "(document)"
        lines.append(f"{path}: {error['msg']}")
    return "; ".join(lines)


def load_registry(path: Path) -> Registry:
    """Read and validate a registry YAML file (UTF-8, at most 16 MiB, no YAML aliases);
    raises RegistryError with the reason (and the line, for a file that is not YAML)."""
    try:
        document = read_yaml_file(path)
    except YamlFileError as exc:
        raise RegistryError(str(path), str(exc)) from exc
    return parse_registry(document, str(path))


def dump_registry(registry: Registry) -> str:
    """YAML text of a registry (standards referenced from the packaged catalogue)."""
    body = registry.model_dump(mode="json", exclude={"standards", "energy_reference"})
    return yaml.safe_dump(body, allow_unicode=True, sort_keys=False)

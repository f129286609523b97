"""Evasion signals: patterns of monitoring data that suggest evading supervision.

MEP Order No. 30 (2014) Art. 6(1) (domain.md §5): exceeding the standard while evading
supervision — 篡改、伪造监测数据 (tampering with or falsifying monitoring data) or 不正常运行
污染防治设施 (not running treatment facilities normally, e.g. a bypass) — is a case for
suspension. The seeds order a crackdown on falsified data. Each rule below is a pure function
of one closed hour's data with its threshold from ``EvasionPolicy`` (a registry setting,
``null`` turns it off); a rule firing is a ``Finding``, never proof: it raises a ``tampering``
data-quality signal for a person to look at, and an exceedance at the same outlet while it
fires is an Art. 6(1) case (``AlertPolicy.evasion_quality_kinds``).

- ``flat_near_limit``: the judged hourly value in [``flat_band_fraction`` × limit, limit] while
  its valid minutes vary by at most ``flat_max_cv_pct`` (coefficient of variation): a value
  held just under the limit, not measured.
- ``o2_dilution``: the O2 correction factor (21 − O2_ref) / (21 − O2_measured) (HJ 75-2017
  折算) at or above ``dilution_correction_factor`` while the corrected value is within the
  limit: air let into the stack to thin the measured concentration.
- ``flow_bypass``: the hourly flow below ``bypass_flow_fraction`` of the previous hour's while
  the process runs (no F-flagged minute, the flow hour valid): flue gas or waste water leaving
  by another way.
- ``identical_devices``: two devices reporting the same value for at least
  ``identical_minutes`` of the same minutes, the values not constant: one analyser's data
  copied to another.
- ``device_hourly_mismatch``: the device's own hourly value (CN 2061) differing from the mean of
  the minutes we received by more than ``device_hourly_pct`` %: minutes and hours from
  different books.
- ``o2_correction_mismatch``: the device's own O2-corrected value (ZsAvg) disagreeing with ours
  (``AggregateValue.o2_disagrees``, ``AlertPolicy.o2_disagreement_pct``).

``EvasionWatch`` applies the single-device rules of a device's closed hours and emits
``tampering`` signals per factor when the set of firing rules starts, changes or ends (never
per hour), stamped at the hour's end; hours older than the latest one judged for the factor
(late data) do not change the state. A CN 2061 value is held until its hour closes, or, when
it arrives after, checked against the closed hour's mean if that hour is the factor's latest.
``identical_devices`` is a pure rule only: it needs two devices that may live on different
partitions (a cross-device job).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from math import fsum, sqrt
from typing import Any

from schemas.alert import QualityKind, QualitySignal
from schemas.measurement import AggregateValue
from schemas.registry import EvasionPolicy
from schemas.verdict import Verdict
from streams.domain import factors
from streams.domain.context import DeviceContext
from streams.domain.o2 import AIR_O2_PCT
from streams.domain.periods import HOUR

STOPPED_FLAG = "F"
"""HJ 212-2017 flag F: the monitored process is stopped (停运)."""


class EvasionRule(StrEnum):
    FLAT_NEAR_LIMIT = "flat_near_limit"
    O2_DILUTION = "o2_dilution"
    FLOW_BYPASS = "flow_bypass"
    IDENTICAL_DEVICES = "identical_devices"
    DEVICE_HOURLY_MISMATCH = "device_hourly_mismatch"
    O2_CORRECTION_MISMATCH = "o2_correction_mismatch"


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that fired, with the numbers that made it fire."""

    rule: EvasionRule
    detail: Mapping[str, Any]


def flat_near_limit(
    minute_values: Sequence[float], judged: float | None, limit: float | None, p: EvasionPolicy
) -> Finding | None:
    """The judged value just under the limit while the valid minutes barely vary."""
    if p.flat_band_fraction is None or judged is None or not limit or len(minute_values) < 2:
        return None
    if not p.flat_band_fraction * limit <= judged <= limit:
        return None
    mean = fsum(minute_values) / len(minute_values)
    if mean <= 0:
        return None
    spread = sqrt(fsum((v - mean) ** 2 for v in minute_values) / len(minute_values))
    cv_pct = 100.0 * spread / mean
    if cv_pct > p.flat_max_cv_pct:
        return None
    detail = {"value": judged, "limit": limit, "cv_pct": cv_pct, "minutes": len(minute_values)}
    return Finding(EvasionRule.FLAT_NEAR_LIMIT, detail)


def o2_dilution(
    o2_measured: float | None,
    o2_reference: float | None,
    corrected: float | None,
    limit: float | None,
    p: EvasionPolicy,
) -> Finding | None:
    """O2 so high for the source that the measured value is thinned by air, the corrected
    value within the limit."""
    if p.dilution_correction_factor is None or o2_measured is None or o2_reference is None:
        return None
    if corrected is None or limit is None or corrected > limit or o2_measured >= AIR_O2_PCT:
        return None
    factor = (AIR_O2_PCT - o2_reference) / (AIR_O2_PCT - o2_measured)
    if factor < p.dilution_correction_factor:
        return None
    detail = {
        "o2_measured": o2_measured,
        "o2_reference": o2_reference,
        "correction_factor": factor,
        "o2_corrected": corrected,
        "limit": limit,
    }
    return Finding(EvasionRule.O2_DILUTION, detail)


def flow_bypass(
    flow_m3h: float | None, previous_m3h: float | None, running: bool, p: EvasionPolicy
) -> Finding | None:
    """The flow fell below a fraction of the previous hour's while the process runs."""
    if p.bypass_flow_fraction is None or not running or flow_m3h is None or not previous_m3h:
        return None
    if flow_m3h >= p.bypass_flow_fraction * previous_m3h:
        return None
    detail = {"flow_m3h": flow_m3h, "previous_m3h": previous_m3h, "ratio": flow_m3h / previous_m3h}
    return Finding(EvasionRule.FLOW_BYPASS, detail)


def identical_devices(
    first: Mapping[datetime, float], second: Mapping[datetime, float], p: EvasionPolicy
) -> Finding | None:
    """Two devices' minute values (by minute start) equal for too many minutes."""
    if p.identical_minutes is None:
        return None
    same = sorted(t for t in first.keys() & second.keys() if first[t] == second[t])
    if len(same) < p.identical_minutes or len({first[t] for t in same}) < 2:
        return None
    detail = {"identical_minutes": len(same), "first": same[0].isoformat()}
    return Finding(EvasionRule.IDENTICAL_DEVICES, detail)


def device_hourly_mismatch(
    device_hourly: float | None, our_mean: float | None, p: EvasionPolicy
) -> Finding | None:
    """The device's CN 2061 hourly value against the mean of the minutes we received."""
    if p.device_hourly_pct is None or device_hourly is None or our_mean is None:
        return None
    if abs(device_hourly - our_mean) <= abs(our_mean) * p.device_hourly_pct / 100.0:
        return None
    detail = {"device_hourly": device_hourly, "our_mean": our_mean}
    return Finding(EvasionRule.DEVICE_HOURLY_MISMATCH, detail)


def o2_correction_mismatch(aggregate: AggregateValue, p: EvasionPolicy) -> Finding | None:
    """The device's own O2-corrected value disagrees with ours."""
    if not p.o2_correction_mismatch or not aggregate.o2_disagrees:
        return None
    detail = {"o2_corrected": aggregate.o2_corrected, "device": aggregate.device_o2_corrected}
    return Finding(EvasionRule.O2_CORRECTION_MISMATCH, detail)


@dataclass(frozen=True, slots=True)
class ClosedHour:
    """What ``EvasionWatch`` reads of one closed hour of one device."""

    start: datetime
    aggregates: Sequence[AggregateValue]
    verdicts: Mapping[str, Verdict]
    """Hourly concentration verdicts by factor."""
    valid_minutes: Mapping[str, Sequence[float]]
    """Valid minute values by factor (measured)."""
    device_hourly: Mapping[str, float] = field(default_factory=dict)
    """The device's own hourly values (CN 2061 Avg) by factor, when received before closing."""


@dataclass(slots=True)
class EvasionWatch:
    """One device's evasion state: firing rules per factor and the previous hour's flow."""

    judged: dict[str, datetime] = field(default_factory=dict)
    firing: dict[str, frozenset[EvasionRule]] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    """The findings of each factor's latest judged hour."""
    flow: tuple[datetime, float] | None = None
    held_hourly: dict[tuple[str, datetime], float] = field(default_factory=dict)
    """CN 2061 values of hours not closed yet, by (factor, hour start)."""

    def hold_device_hourly(self, factor: str, hour: datetime, value: float) -> None:
        """Keep a device hourly value (CN 2061) until its hour closes."""
        self.held_hourly[(factor, hour)] = value

    def device_hourly(
        self,
        device: DeviceContext,
        factor: str,
        hour: datetime,
        device_value: float,
        our_mean: float | None,
        policy: EvasionPolicy,
    ) -> list[QualitySignal]:
        """A device hourly value (CN 2061) arriving after its hour closed with ``our_mean``:
        added to the findings of the factor's latest judged hour (older hours: ignored)."""
        if self.judged.get(factor) != hour:
            return []
        finding = device_hourly_mismatch(device_value, our_mean, policy)
        kept = [f for f in self.findings.get(factor, []) if f.rule is not finding_rule(finding)]
        findings = kept + ([finding] if finding is not None else [])
        signal = self._transition(device, factor, hour + HOUR, findings)
        return [signal] if signal is not None else []

    def observe(
        self, device: DeviceContext, hour: ClosedHour, policy: EvasionPolicy
    ) -> list[QualitySignal]:
        """Apply the rules to ``hour``; signals for the factors whose firing set changed."""
        signals: list[QualitySignal] = []
        for factor, findings in self._findings(hour, policy).items():
            latest = self.judged.get(factor)
            if latest is not None and hour.start < latest:
                continue
            self.judged[factor] = hour.start
            signal = self._transition(device, factor, hour.start + HOUR, findings)
            if signal is not None:
                signals.append(signal)
        for key in [k for k in self.held_hourly if k[1] <= hour.start]:
            del self.held_hourly[key]
        return signals

    def _findings(self, hour: ClosedHour, p: EvasionPolicy) -> dict[str, list[Finding]]:
        found: dict[str, list[Finding]] = {}
        stopped = any(a.flag_counts.get(STOPPED_FLAG) for a in hour.aggregates)
        for aggregate in hour.aggregates:
            factor = aggregate.factor
            verdict = hour.verdicts.get(factor)
            if factor in (factors.GAS_FLOW, factors.WATER_FLOW):
                found[factor] = _present(self._bypass(hour.start, aggregate, stopped, p))
                continue
            if verdict is None or not factors.is_pollutant(factor):
                continue
            minutes = hour.valid_minutes.get(factor, ())
            found[factor] = _present(
                flat_near_limit(minutes, verdict.value, verdict.limit, p),
                device_hourly_mismatch(
                    hour.device_hourly.get(factor) if _comparable(aggregate) else None,
                    aggregate.mean,
                    p,
                ),
                o2_dilution(
                    aggregate.o2_measured,
                    aggregate.o2_reference,
                    aggregate.o2_corrected,
                    verdict.limit,
                    p,
                ),
                o2_correction_mismatch(aggregate, p),
            )
        return found

    def _bypass(
        self, start: datetime, aggregate: AggregateValue, stopped: bool, p: EvasionPolicy
    ) -> Finding | None:
        flow = aggregate.flow_std_m3h
        previous = self.flow
        if aggregate.valid and flow is not None and (previous is None or previous[0] < start):
            self.flow = (start, flow)
        if previous is None or previous[0] != start - HOUR:
            return None
        running = aggregate.valid and not stopped
        return flow_bypass(flow, previous[1], running, p)

    def _transition(
        self, device: DeviceContext, factor: str, at: datetime, findings: list[Finding]
    ) -> QualitySignal | None:
        self.findings[factor] = findings
        rules = frozenset(f.rule for f in findings)
        before = self.firing.get(factor, frozenset())
        if rules == before:
            return None
        self.firing[factor] = rules
        detail: dict[str, Any] = {
            "family": "evasion",
            "rules": sorted(r.value for r in rules),
            "findings": {f.rule.value: dict(f.detail) for f in findings},
            "hour_end": at.isoformat(),
        }
        if not rules:
            detail["previous_rules"] = sorted(r.value for r in before)
        return device.signal(factor, QualityKind.TAMPERING, bool(rules), at, detail)


def _comparable(aggregate: AggregateValue) -> bool:
    """Can the device's hourly value be compared with ours: our hour valid, no minute of it
    invalid (a device may average its flagged minutes in; we do not)."""
    return aggregate.valid and aggregate.invalid_count == 0


def finding_rule(finding: Finding | None) -> EvasionRule:
    """The rule of ``finding`` (``device_hourly_mismatch`` when None: the one re-checked)."""
    return finding.rule if finding is not None else EvasionRule.DEVICE_HOURLY_MISMATCH


def _present(*findings: Finding | None) -> list[Finding]:
    return [f for f in findings if f is not None]

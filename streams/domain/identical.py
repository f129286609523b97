"""The cross-device evasion rule: analyser values identical across two devices (issue 13 item 4).

MEP Order No. 30 (2014) Art. 6(1) (domain.md §5): 篡改、伪造监测数据 — one analyser's data copied
to another stack is falsified monitoring data. ``evasion.identical_devices`` is the pure rule
for two series; it needs the values of two devices, which the per-device engine does not see
together (a worker holds the devices of its partitions; devices are keyed by MN). So it runs
as a step over a China day of **stored** values, for every enterprise: each pair of its devices
reporting the same pollutant that day is compared on the real-time and minute values they
share by time stamp (``identical_minutes`` equal values, not constant: ``EvasionPolicy``, a
registry setting, ``null`` off). Run by ``greenwatch evasion identical`` over PostgreSQL (the
worker's stored measurements) and by ``greenwatch replay`` over its in-memory store at the
end, the same function over the same values: replay equals the worker.

Each device of a compared pair gets one ``tampering`` signal per factor and day
(``detail.period: "day"``, stamped at the day's end): active with the finding and the other
device when the rule fires for it with some other device, cleared otherwise, so the alert
``<device>/<factor>/quality.tampering.day`` (docs/alerts.md) opens and resolves with the days.
Devices with no other device of their enterprise reporting the factor that day get none.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import combinations
from typing import Any

from schemas.alert import QualityKind, QualitySignal
from schemas.registry import EvasionPolicy, Registry
from streams.domain import factors
from streams.domain.evasion import EvasionRule, Finding, identical_devices
from streams.domain.periods import DAY

Series = Mapping[datetime, float]
"""One device's values of one factor on one day, by time stamp (period start)."""


def identical_signals(
    registry: Registry,
    day: datetime,
    series: Mapping[tuple[str, str], Series],
    policy: EvasionPolicy,
) -> list[QualitySignal]:
    """The day's ``tampering`` signals of the identical-devices rule; ``series`` by (device MN,
    factor), the day's stored values. Sorted by device and factor."""
    findings: dict[tuple[str, str], list[tuple[str, Finding]]] = {}
    for (device, factor), (other, other_factor) in _pairs(registry, series):
        finding = identical_devices(series[(device, factor)], series[(other, other_factor)], policy)
        findings.setdefault((device, factor), [])
        findings.setdefault((other, factor), [])
        if finding is not None:
            findings[(device, factor)].append((other, finding))
            findings[(other, factor)].append((device, finding))
    signals = []
    for (device, factor), found in sorted(findings.items()):
        site = registry.device(device)
        if site is None:
            continue
        detail: dict[str, Any] = {
            "family": "evasion",
            "period": "day",
            "day": day.date().isoformat(),
            "rules": [EvasionRule.IDENTICAL_DEVICES.value] if found else [],
            "findings": {
                EvasionRule.IDENTICAL_DEVICES.value: [
                    {"other_device": other, **dict(f.detail)}
                    for other, f in sorted(found, key=lambda pair: pair[0])
                ]
            }
            if found
            else {},
        }
        signals.append(
            QualitySignal(
                device_id=device,
                outlet_id=site.outlet.id,
                enterprise_id=site.enterprise.id,
                factor=factor,
                kind=QualityKind.TAMPERING,
                active=bool(found),
                observed_at=day + DAY,
                detail=detail,
            )
        )
    return signals


def _pairs(
    registry: Registry, series: Mapping[tuple[str, str], Series]
) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Pairs of (device, factor) keys of two devices of one enterprise, same pollutant."""
    by_enterprise: dict[tuple[str, str], list[str]] = {}
    for device, factor in sorted(series):
        site = registry.device(device)
        if site is None or not factors.is_pollutant(factor):
            continue
        by_enterprise.setdefault((site.enterprise.id, factor), []).append(device)
    return [
        ((first, factor), (second, factor))
        for (_, factor), devices in sorted(by_enterprise.items())
        for first, second in combinations(devices, 2)
    ]

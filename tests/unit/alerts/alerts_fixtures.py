"""Builders for the alert core tests: the demo registry, verdicts by hour, signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from schemas.alert import QualityKind, QualitySignal
from schemas.measurement import PeriodKind
from schemas.registry import AlertPolicy, Registry, load_registry
from schemas.verdict import Rule, Verdict, VerdictStatus

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
"""Start of hour 0 of every scenario."""

# Demo province: a thermal power plant (gas, ultra-low limits), a phosphorus chemicals plant
# (water, heavy metals), a municipal sewage plant (Art. 7 facility).
POWER = ("E-TP-01", "E-TP-01-G1", "DEMO-TP01-G1")
CHEMICALS = ("E-CH-01", "E-CH-01-W1", "DEMO-CH01-W1")
SEWAGE = ("E-WW-01", "E-WW-01-W1", "DEMO-WW01-W1")
SO2 = "a21026"
COD = "w01018"
LEAD = "w20120"


@lru_cache(maxsize=1)
def _example() -> Registry:
    return load_registry(EXAMPLE)


def demo_registry(**policy: Any) -> Registry:
    """The demo province registry (read once), with ``policy`` fields overridden."""
    registry = _example()
    if not policy:
        return registry
    merged = AlertPolicy(**{**registry.policy.model_dump(), **policy})
    return registry.model_copy(update={"policy": merged})


def verdict(
    hour: int,
    status: VerdictStatus | str,
    *,
    site: tuple[str, str, str] = POWER,
    factor: str = SO2,
    value: float | None = None,
    limit: float = 35.0,
    rule: Rule = Rule.HOURLY_CONCENTRATION,
    version: str = "demo-province-2026.1",
) -> Verdict:
    """A verdict for hour ``hour`` after T0 (days for daily load)."""
    status = VerdictStatus(status)
    if value is None:
        value = {
            VerdictStatus.COMPLIANT: 0.5 * limit,
            VerdictStatus.WARNING: 0.9 * limit,
            VerdictStatus.EXCEEDANCE: 1.5 * limit,
            VerdictStatus.SEVERE: 3.5 * limit,
            VerdictStatus.INVALID: 0.0,
        }[status]
    step = timedelta(days=1) if rule is Rule.DAILY_LOAD else timedelta(hours=1)
    period = PeriodKind.DAY if rule is Rule.DAILY_LOAD else PeriodKind.HOUR
    return Verdict(
        enterprise_id=site[0],
        outlet_id=site[1],
        factor=factor,
        rule=rule,
        period=period,
        period_start=T0 + hour * step,
        value=value,
        limit=limit,
        ratio=value / limit,
        status=status,
        standard="ULE-coal-power" if site is POWER else "demo-water-heavy-metals",
        evidence={"valid_minutes": 58, "flags": {"N": 58}},
        registry_version=version,
    )


def signal(
    kind: QualityKind, active: bool, at: datetime, device: str = POWER[2], factor: str | None = None
) -> QualitySignal:
    return QualitySignal(
        device_id=device, factor=factor, kind=kind, active=active, observed_at=at, detail={}
    )

"""What the calculations need to know about a device, resolved once from the registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.alert import QualityKind, QualitySignal
from schemas.registry import LoadQuota, Medium, Outlet, Registry


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """A monitored device (HJ 212 MN) with its outlet, enterprise and settings.

    ``reference_o2`` is the outlet's reference O2 (%) for 折算浓度 (HJ 75-2017) or None (water,
    or a standard without one). ``interval_s`` is the device's reporting interval.
    """

    device_id: str
    outlet: Outlet
    enterprise_id: str
    medium: Medium
    reference_o2: float | None
    interval_s: int
    registry_version: str
    daily_quota_factors: tuple[str, ...]
    """The factors of the outlet's load quotas with a daily kg (HJ 75-2017 substitution needs
    their rates before each open day), in the quotas' order: resolved once here, not per
    batch (``Engine.prepare_frames``)."""

    @property
    def outlet_id(self) -> str:
        return self.outlet.id

    def quota(self, factor: str) -> LoadQuota | None:
        """The permit's load quota (排污许可总量) of ``factor`` at this outlet, or None."""
        return self.outlet.load_quotas.get(factor)

    def signal(
        self,
        factor: str | None,
        kind: QualityKind,
        active: bool,
        observed_at: datetime,
        detail: dict[str, Any],
    ) -> QualitySignal:
        """A data-quality signal about this device (the one place a signal gets its device,
        outlet and enterprise)."""
        return QualitySignal(
            device_id=self.device_id,
            outlet_id=self.outlet_id,
            enterprise_id=self.enterprise_id,
            factor=factor,
            kind=kind,
            active=active,
            observed_at=observed_at,
            detail=detail,
        )


def device_context(registry: Registry, mn: str) -> DeviceContext | None:
    """The context of device ``mn``, or None when the registry does not know it."""
    found = registry.device(mn)
    if found is None:
        return None
    enterprise, outlet, device = found.enterprise, found.outlet, found.device
    return DeviceContext(
        device_id=mn,
        outlet=outlet,
        enterprise_id=enterprise.id,
        medium=outlet.medium,
        reference_o2=registry.reference_o2(outlet) if outlet.medium is Medium.GAS else None,
        interval_s=device.interval_s,
        registry_version=registry.version,
        daily_quota_factors=tuple(
            f for f, quota in outlet.load_quotas.items() if quota.daily_kg is not None
        ),
    )

"""Alert and data-quality models: the rectification ladder (design.md, domain.md §5)."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class AlertLevel(IntEnum):
    """Rungs of the ladder, ordered: a higher value is more severe."""

    DATA_QUALITY = 0
    WARNING = 1
    EXCEEDANCE = 2
    RESTRICT_PRODUCTION = 3
    """限制生产, Order No. 30 (2014) Art. 5."""
    SUSPEND_FOR_RECTIFICATION = 4
    """停产整治, Order No. 30 (2014) Art. 6."""


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class QualityKind(StrEnum):
    """Data-quality signals from the streams."""

    SILENT = "silent"
    FLATLINE = "flatline"
    FLAGGED = "flagged"
    CLOCK_SKEW = "clock_skew"
    TAMPERING = "tampering"
    LOW_CAPTURE = "low_capture"
    """An hour invalid because too few minutes were reported (raised by the alert service
    from hourly verdicts, ``alerts.capture``)."""
    UNDECLARED_FLAG = "undeclared_flag"
    """F/M/C/D/B data outside a window declared beforehand and beyond the policy allowance
    (raised by the alert service from ``flagged`` signals, ``alerts.flags``)."""
    REVISED_DOWN = "revised_down"
    """A judged warning or exceedance softened by re-sent or late data (raised by the alert
    service from verdict revisions, ``alerts.revisions``)."""


class QualitySignal(BaseModel):
    """A data-quality observation about one device (and factor, when it is factor-specific)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    device_id: str
    outlet_id: str | None = None
    enterprise_id: str | None = None
    factor: str | None = None
    kind: QualityKind
    active: bool = Field(description="True while the condition holds; False when it clears.")
    observed_at: AwareDatetime
    detail: dict[str, Any] = Field(default_factory=dict)


class Alert(BaseModel):
    """One alert per (subject, factor, rule); the current state of its lifecycle."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    alert_id: str = Field(description="Stable id derived from (subject, factor, rule).")
    enterprise_id: str
    outlet_id: str | None
    device_id: str | None = None
    factor: str | None
    rule: str
    level: AlertLevel
    state: AlertState
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    acknowledged_by: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    registry_version: str


class AlertEvent(BaseModel):
    """An append-only entry of an alert's history (what, when, who, evidence)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    alert_id: str
    at: AwareDatetime
    kind: str = Field(description="opened, escalated, repeated, acknowledged, resolved, ...")
    actor: str = Field(description="'system' or the user who acted.")
    level: AlertLevel
    state: AlertState
    evidence: dict[str, Any] = Field(default_factory=dict)
    registry_version: str

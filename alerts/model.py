"""Plain value types of the alert core: keys, records, machine inputs and outputs.

Slotted frozen dataclasses on the hot path (pydantic only at the edges: ``to_alert`` and
``EventRecord.to_schema`` give the wire models of ``schemas.alert``). Times are aware
datetimes; durations are ``timedelta``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas.alert import Alert, AlertEvent, AlertLevel, AlertState

ACTIVE_STATES: frozenset[AlertState] = frozenset(
    {AlertState.PENDING, AlertState.FIRING, AlertState.ESCALATED}
)
"""States of an alert whose episode is not over."""
OPEN_STATES: frozenset[AlertState] = frozenset({AlertState.FIRING, AlertState.ESCALATED})
"""States of an alert that has fired (notices are due)."""

QUALITY_RULE_PREFIX = "quality."


@dataclass(frozen=True, slots=True)
class AlertKey:
    """What one alert is about: (subject, factor, rule); one alert row per key, ever.

    ``subject`` is the outlet id for verdict rules and the device MN for data-quality rules;
    ``rule`` is the verdict rule (``hourly_concentration`` …) or ``quality.<kind>``.
    """

    subject: str
    factor: str | None
    rule: str

    @property
    def alert_id(self) -> str:
        """Stable, readable id: ``<subject>/<factor or ->/<rule>``."""
        return f"{self.subject}/{self.factor or '-'}/{self.rule}"

    @property
    def is_quality(self) -> bool:
        return self.rule.startswith(QUALITY_RULE_PREFIX)


DAY_PERIOD = "day"
"""``detail.period`` of a data-quality signal judged over a whole China day."""


def quality_alert_key(
    device_id: str, factor: str | None, kind: str, period: str | None
) -> AlertKey:
    """The one key rule of data-quality alerts about a device's data (docs/alerts.md):
    subject the device MN, the factor, rule ``quality.<kind>``, plus ``.day`` when the
    condition was judged over a whole China day (``period == "day"``) rather than an hour or
    a run, so that a day's alert is not cleared by the next good hour. Used alike for the
    streams' signals and for the alerts derived from hourly verdicts (``low_capture``,
    ``undeclared_flag``)."""
    return AlertKey(device_id, factor, quality_rule(kind, period))


def quality_rule(kind: str, period: str | None = None) -> str:
    """The rule part of ``quality_alert_key``: ``quality.<kind>``, ``quality.<kind>.day``."""
    suffix = f".{DAY_PERIOD}" if period == DAY_PERIOD else ""
    return f"{QUALITY_RULE_PREFIX}{kind}{suffix}"


@dataclass(frozen=True, slots=True)
class Mark:
    """One judged period of a verdict rule: its status, value, limit and revision."""

    status: str
    value: float | None
    limit: float | None
    revision: int = 1

    def as_json(self) -> dict[str, Any]:
        return {"s": self.status, "v": self.value, "l": self.limit, "r": self.revision}

    @staticmethod
    def from_json(document: Mapping[str, Any]) -> Mark:
        return Mark(str(document["s"]), document.get("v"), document.get("l"), document.get("r", 1))


Marks = Mapping[str, Mark]
"""Judged periods of one key by ISO period start (a bounded window, see ``rules``)."""


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """The whole state of one alert (one key) between two steps of the machine.

    A key that never alerted has no record; ``AlertRecord.blank`` is its starting point
    (state ``resolved``, episode 0). ``notified_level`` is the highest level a notice was sent
    for in the current episode (None: none yet); ``due_at`` is when ``Tick`` has work to do.
    """

    key: AlertKey
    enterprise_id: str
    outlet_id: str | None
    device_id: str | None
    state: AlertState = AlertState.RESOLVED
    level: AlertLevel = AlertLevel.DATA_QUALITY
    episode: int = 0
    basis: str = ""
    opened_at: datetime | None = None
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    updated_at: datetime | None = None
    pending_until: datetime | None = None
    clearing_until: datetime | None = None
    escalate_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    last_notified_at: datetime | None = None
    notified_level: AlertLevel | None = None
    due_at: datetime | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    registry_version: str = ""
    marks: Marks = field(default_factory=dict)

    @staticmethod
    def blank(
        key: AlertKey, enterprise_id: str, outlet_id: str | None, device_id: str | None
    ) -> AlertRecord:
        return AlertRecord(key, enterprise_id, outlet_id, device_id)

    @property
    def alert_id(self) -> str:
        return self.key.alert_id

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    def to_alert(self) -> Alert:
        """The wire model (``schemas.alert.Alert``) of an alert that has had an episode."""
        opened = self.opened_at or self.updated_at
        updated = self.updated_at or opened
        if opened is None or updated is None:
            raise ValueError(f"alert {self.alert_id} never opened")
        return Alert(
            alert_id=self.alert_id,
            enterprise_id=self.enterprise_id,
            outlet_id=self.outlet_id,
            device_id=self.device_id,
            factor=self.key.factor,
            rule=self.key.rule,
            level=self.level,
            state=self.state,
            opened_at=opened,
            updated_at=updated,
            acknowledged_by=self.acknowledged_by,
            evidence=dict(self.evidence),
            registry_version=self.registry_version,
        )


# --- machine inputs ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Raise:
    """The condition of the key holds at ``level`` (by the article ``basis``).

    ``pending_for``: how long the condition must hold before the alert fires (0: at once).
    ``escalate_after``: a firing alert still open after this long is escalated (data quality).
    ``observed_at``: when the condition was observed to start (a data-quality signal's own
    time stamp; None: the moment the input is applied, see ``alerts.machine``).
    ``case``: this input is a case of its own that the record must keep and the recipients
    must hear of even when the level does not rise (an Art. 7 facility's penalisable hour, a
    downward revision): an open alert records a ``case`` event and sends a ``case`` notice
    instead of only refreshing its evidence.
    """

    level: AlertLevel
    basis: str
    evidence: Mapping[str, Any]
    registry_version: str
    pending_for: timedelta = timedelta(0)
    escalate_after: timedelta | None = None
    observed_at: datetime | None = None
    case: bool = False


@dataclass(frozen=True, slots=True)
class Clear:
    """The condition has cleared; the alert resolves once it stayed clear for ``clear_for``.

    ``observed_at``: when the condition was observed to end (None: the moment the input is
    applied, see ``alerts.machine``).
    """

    evidence: Mapping[str, Any]
    registry_version: str
    clear_for: timedelta = timedelta(0)
    observed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """A person acknowledged the alert: repeats stop until the alert escalates."""

    actor: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: fire pending alerts, resolve cleared ones, escalate, repeat notices."""


@dataclass(frozen=True, slots=True)
class OrderNoted:
    """A regulator order (restrict, suspend, lift) concerning this alert's enterprise."""

    action: str
    actor: str
    order_id: int
    evidence: Mapping[str, Any] = field(default_factory=dict)


MachineInput = Raise | Clear | Acknowledge | Tick | OrderNoted


@dataclass(frozen=True, slots=True)
class Conditions:
    """What holds around an alert at ``now`` (looked up by the caller, not by the machine).

    ``suppressed_until``: end of a declared maintenance window covering the alert (None: none);
    ``inhibited``: a firing data-quality alert of the same outlet holds back its notices.
    """

    repeat_interval: timedelta
    held_recheck: timedelta
    suppressed_until: datetime | None = None
    inhibited: bool = False


# --- machine outputs ---------------------------------------------------------------------


class NoticeKind(StrEnum):
    """What a notification says about the alert."""

    OPENED = "opened"
    ESCALATED = "escalated"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    ORDER = "order"
    CASE = "case"
    """A further case on an open alert (``Raise.case``): the level did not rise."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of the append-only ``alert_events`` log."""

    alert_id: str
    episode: int
    at: datetime
    kind: str
    actor: str
    level: AlertLevel
    state: AlertState
    evidence: Mapping[str, Any]
    registry_version: str
    rule: str

    def to_schema(self) -> AlertEvent:
        evidence = {**self.evidence, "episode": self.episode, "rule": self.rule}
        return AlertEvent(
            alert_id=self.alert_id,
            at=self.at,
            kind=self.kind,
            actor=self.actor,
            level=self.level,
            state=self.state,
            evidence=evidence,
            registry_version=self.registry_version,
        )


@dataclass(frozen=True, slots=True)
class NotificationIntent:
    """A notice the machine wants sent; routing decides to whom (``routing.route``)."""

    kind: NoticeKind
    alert: AlertRecord
    at: datetime

    @property
    def level(self) -> AlertLevel:
        return self.alert.level

    @property
    def enterprise_id(self) -> str:
        return self.alert.enterprise_id


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one machine step produced."""

    alert: AlertRecord
    events: tuple[EventRecord, ...] = ()
    intents: tuple[NotificationIntent, ...] = ()


# --- regulator orders and maintenance windows --------------------------------------------


class OrderAction(StrEnum):
    """A regulator's decision under Order No. 30 (2014)."""

    RESTRICT = "restrict"
    """责令限制生产, Art. 5."""
    SUSPEND = "suspend"
    """责令停产整治, Art. 6."""


@dataclass(frozen=True, slots=True)
class RegulatorOrder:
    """An order for a whole enterprise (``outlet_id`` None) or one outlet.

    In force from ``effective_from`` until lifted; exceedance in a period starting at or after
    ``effective_from`` of a restriction is "continuing after a restriction" (Art. 6(4)).
    """

    order_id: int
    enterprise_id: str
    outlet_id: str | None
    action: OrderAction
    effective_from: datetime
    issued_at: datetime
    issued_by: str
    reason: str = ""
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    def covers(self, enterprise_id: str, outlet_id: str | None) -> bool:
        if self.enterprise_id != enterprise_id:
            return False
        return self.outlet_id is None or self.outlet_id == outlet_id

    @property
    def level(self) -> AlertLevel:
        if self.action is OrderAction.SUSPEND:
            return AlertLevel.SUSPEND_FOR_RECTIFICATION
        return AlertLevel.RESTRICT_PRODUCTION


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """Declared by an enterprise: notices for its (outlet's) alerts are held back meanwhile."""

    window_id: int
    enterprise_id: str
    outlet_id: str | None
    starts_at: datetime
    ends_at: datetime
    declared_by: str
    reason: str = ""
    declared_at: datetime | None = None
    """When it was declared (None: unknown, taken as ``starts_at``)."""

    def covers(self, enterprise_id: str, outlet_id: str | None, now: datetime) -> bool:
        if self.enterprise_id != enterprise_id or not self.starts_at <= now < self.ends_at:
            return False
        return self.outlet_id is None or self.outlet_id == outlet_id

    def declared_beforehand(self, enterprise_id: str, outlet_id: str | None, at: datetime) -> bool:
        """Does the window cover ``at`` and was it declared at or before ``at``?"""
        declared = self.declared_at or self.starts_at
        return declared <= at and self.covers(enterprise_id, outlet_id, at)

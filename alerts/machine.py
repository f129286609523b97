"""The alert state machine: ``step(alert, input, now, conditions) -> StepResult``.

States (``schemas.alert.AlertState``)::

    resolved ──Raise──▶ pending ──(pending_for elapsed)──▶ firing ──(higher level, or a
       ▲                   │                                  │       persistent data-quality
       │                 Clear (withdrawn, no notice)         │       alert)──▶ escalated
       └──────────── Clear held for clear_for ◀───────────────┴───────────────────┘

One record per key, ever: a new episode re-opens the same record (``episode`` + 1), so two
active alerts for one key cannot exist. A same-or-lower ``Raise`` on an active alert is a
duplicate: it refreshes the evidence and emits nothing (deduplication). Levels never go down
within an episode.

Notices: ``opened`` when the alert fires, ``escalated`` when its level rises (acknowledgement is
reset), ``repeat`` every ``repeat_interval`` while open and unacknowledged, ``resolved`` when it
resolves if a notice was sent in the episode. A notice is held back while the alert is in a
declared maintenance window (suppressed) or inhibited (exceedance-or-below noise of an outlet
whose device is silent); the transition is still recorded, with ``held_back`` in its evidence,
and the first notice goes out on the first ``Tick`` after the hold ends.

Pure: time is passed in; no I/O. Raises ``AlertNotOpen`` when acknowledging an inactive alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from alerts.errors import AlertNotOpen
from alerts.model import (
    Acknowledge,
    AlertRecord,
    Clear,
    Conditions,
    EventRecord,
    MachineInput,
    NoticeKind,
    NotificationIntent,
    OrderNoted,
    Raise,
    StepResult,
    Tick,
)
from schemas.alert import AlertLevel, AlertState

SYSTEM = "system"


def step(alert: AlertRecord, event: MachineInput, now: datetime, cond: Conditions) -> StepResult:
    """Apply one input to one alert at ``now``; returns the new record, events and intents."""
    if isinstance(event, Raise):
        result = _raise(alert, event, now, cond)
    elif isinstance(event, Clear):
        result = _clear(alert, event, now)
    elif isinstance(event, Acknowledge):
        result = _acknowledge(alert, event, now)
    elif isinstance(event, Tick):
        result = _tick(alert, now, cond)
    else:
        result = _order(alert, event, now)
    record = result.alert
    if record is not alert:
        record = replace(record, updated_at=now)
    due = due_at(record, now, cond)
    if due != record.due_at:
        record = replace(record, due_at=due)
    if record is result.alert:
        return result
    intents = tuple(replace(i, alert=record) for i in result.intents)
    return StepResult(record, result.events, intents)


def due_at(alert: AlertRecord, now: datetime, cond: Conditions) -> datetime | None:
    """When ``Tick`` next has something to do for this alert (None: nothing until an input)."""
    if not alert.active:
        return None
    moments = [m for m in (alert.pending_until, alert.clearing_until, alert.escalate_at) if m]
    if alert.open:
        notice_due: datetime | None = None
        if alert.notified_level is None:
            notice_due = now
        elif alert.acknowledged_by is None and alert.last_notified_at is not None:
            notice_due = alert.last_notified_at + cond.repeat_interval
        if notice_due is not None and _held_back(alert, now, cond) is not None:
            notice_due = max(notice_due, cond.suppressed_until or now + cond.held_recheck)
        if notice_due is not None:
            moments.append(notice_due)
    return min(moments) if moments else None


def _event(
    alert: AlertRecord,
    kind: str,
    now: datetime,
    evidence: Mapping[str, Any] | None = None,
    actor: str = SYSTEM,
) -> EventRecord:
    return EventRecord(
        alert_id=alert.alert_id,
        episode=alert.episode,
        at=now,
        kind=kind,
        actor=actor,
        level=alert.level,
        state=alert.state,
        evidence=dict(alert.evidence if evidence is None else evidence),
        registry_version=alert.registry_version,
        rule=alert.key.rule,
    )


def _held_back(alert: AlertRecord, now: datetime, cond: Conditions) -> str | None:
    """Why a notice for ``alert`` cannot go out now (None: it can)."""
    if cond.suppressed_until is not None and cond.suppressed_until > now:
        return "maintenance"
    if cond.inhibited and alert.level <= AlertLevel.EXCEEDANCE:
        return "inhibited"
    return None


def _notify(
    alert: AlertRecord, kind: NoticeKind, event_kind: str, now: datetime, cond: Conditions
) -> StepResult:
    """Record ``event_kind`` and send ``kind`` unless held back (then record why)."""
    reason = _held_back(alert, now, cond)
    if reason is not None:
        evidence = {**alert.evidence, "held_back": reason}
        return StepResult(alert, (_event(alert, event_kind, now, evidence),))
    sent = replace(
        alert,
        last_notified_at=now,
        notified_level=max(alert.notified_level or alert.level, alert.level),
    )
    return StepResult(
        sent, (_event(sent, event_kind, now),), (NotificationIntent(kind, sent, now),)
    )


def _raise(alert: AlertRecord, ev: Raise, now: datetime, cond: Conditions) -> StepResult:
    if alert.state is AlertState.RESOLVED:
        opened = replace(
            alert,
            state=AlertState.PENDING,
            level=ev.level,
            episode=alert.episode + 1,
            basis=ev.basis,
            opened_at=now,
            fired_at=None,
            resolved_at=None,
            pending_until=now + ev.pending_for,
            clearing_until=None,
            escalate_at=now + ev.escalate_after if ev.escalate_after is not None else None,
            acknowledged_by=None,
            acknowledged_at=None,
            last_notified_at=None,
            notified_level=None,
            evidence=ev.evidence,
            registry_version=ev.registry_version,
        )
        if ev.pending_for.total_seconds() <= 0:
            return _fire(opened, now, cond)
        return StepResult(opened, (_event(opened, "pending", now),))
    if alert.state is AlertState.PENDING:
        pending_until = min(alert.pending_until or now, now + ev.pending_for)
        higher = ev.level > alert.level
        updated = replace(
            alert,
            level=max(alert.level, ev.level),
            basis=ev.basis if higher else alert.basis,
            evidence=ev.evidence,
            registry_version=ev.registry_version,
            pending_until=pending_until,
        )
        if pending_until <= now:
            return _fire(updated, now, cond)
        return StepResult(updated)
    return _raise_open(alert, ev, now, cond)


def _raise_open(alert: AlertRecord, ev: Raise, now: datetime, cond: Conditions) -> StepResult:
    refreshed = replace(
        alert, evidence=ev.evidence, registry_version=ev.registry_version, clearing_until=None
    )
    if ev.level <= alert.level:
        return StepResult(refreshed)
    escalated = replace(
        refreshed,
        state=AlertState.ESCALATED,
        level=ev.level,
        basis=ev.basis,
        acknowledged_by=None,
        acknowledged_at=None,
    )
    return _notify(escalated, NoticeKind.ESCALATED, "escalated", now, cond)


def _fire(alert: AlertRecord, now: datetime, cond: Conditions) -> StepResult:
    fired = replace(alert, state=AlertState.FIRING, fired_at=now, pending_until=None)
    return _notify(fired, NoticeKind.OPENED, "fired", now, cond)


def _clear(alert: AlertRecord, ev: Clear, now: datetime) -> StepResult:
    if alert.state is AlertState.RESOLVED:
        return StepResult(alert)
    if alert.state is AlertState.PENDING:
        withdrawn = replace(
            alert,
            state=AlertState.RESOLVED,
            resolved_at=now,
            pending_until=None,
            evidence=ev.evidence,
        )
        return StepResult(withdrawn, (_event(withdrawn, "withdrawn", now),))
    if ev.clear_for.total_seconds() <= 0 or (
        alert.clearing_until is not None and alert.clearing_until <= now
    ):
        return _resolve(replace(alert, evidence=ev.evidence), now)
    if alert.clearing_until is not None:
        return StepResult(alert)
    return StepResult(replace(alert, clearing_until=now + ev.clear_for, evidence=ev.evidence))


def _resolve(alert: AlertRecord, now: datetime) -> StepResult:
    resolved = replace(
        alert,
        state=AlertState.RESOLVED,
        resolved_at=now,
        pending_until=None,
        clearing_until=None,
        escalate_at=None,
    )
    events = (_event(resolved, "resolved", now),)
    if alert.notified_level is None:
        return StepResult(resolved, events)
    return StepResult(resolved, events, (NotificationIntent(NoticeKind.RESOLVED, resolved, now),))


def _acknowledge(alert: AlertRecord, ev: Acknowledge, now: datetime) -> StepResult:
    if not alert.active:
        raise AlertNotOpen(alert.alert_id, alert.state.value)
    acked = replace(alert, acknowledged_by=ev.actor, acknowledged_at=now)
    evidence = {"note": ev.note} if ev.note else {}
    return StepResult(acked, (_event(acked, "acknowledged", now, evidence, actor=ev.actor),))


def _order(alert: AlertRecord, ev: OrderNoted, now: datetime) -> StepResult:
    evidence = {**ev.evidence, "order_id": ev.order_id, "action": ev.action}
    return StepResult(alert, (_event(alert, f"order_{ev.action}", now, evidence, ev.actor),))


def _tick(alert: AlertRecord, now: datetime, cond: Conditions) -> StepResult:
    if alert.state is AlertState.PENDING:
        if alert.pending_until is not None and alert.pending_until <= now:
            return _fire(alert, now, cond)
        return StepResult(alert)
    if not alert.open:
        return StepResult(alert)
    if alert.clearing_until is not None and alert.clearing_until <= now:
        return _resolve(alert, now)
    if alert.escalate_at is not None and alert.escalate_at <= now:
        escalated = replace(alert, state=AlertState.ESCALATED, escalate_at=None)
        return _notify(escalated, NoticeKind.ESCALATED, "escalated", now, cond)
    if _held_back(alert, now, cond) is not None:
        return StepResult(alert)
    if alert.notified_level is None:
        return _notify(alert, NoticeKind.OPENED, "notified", now, cond)
    last = alert.last_notified_at
    if alert.acknowledged_by is None and last is not None and last + cond.repeat_interval <= now:
        return _notify(alert, NoticeKind.REPEAT, "repeated", now, cond)
    return StepResult(alert)

"""The alert state machine: ``step(alert, input, now, conditions) -> StepResult``.

States (``schemas.alert.AlertState``)::

    resolved ──Raise──▶ pending ──(pending_for elapsed)──▶ firing ──(higher level, or a
       ▲                   │                                  │       persistent data-quality
       │                 Clear (withdrawn, no notice)         │       alert)──▶ escalated
       └──────────── Clear held for clear_for ◀───────────────┴───────────────────┘

One record per key, ever: a new episode re-opens the same record (``episode`` + 1), so two
active alerts for one key cannot exist. A same-or-lower ``Raise`` on an active alert is a
duplicate: it refreshes the evidence and emits nothing (deduplication), unless it is a
``case`` at the alert's level (``Raise.case``: a penalisable hour of an Art. 7 facility, a
downward revision), which is recorded as a ``case`` event with its own evidence and basis and
notified. Levels never go down within an episode. A ``Raise`` whose ``escalate_after`` is
zero fires escalated (the regulator is told with the first notice).

Notices: ``opened`` when the alert fires, ``escalated`` when its level rises (acknowledgement is
reset), ``repeat`` every ``repeat_interval`` while open and unacknowledged, ``resolved`` when it
resolves if a notice was sent in the episode. A notice is held back while the alert is in a
declared maintenance window (suppressed) or inhibited (exceedance-or-below noise of an outlet
whose device is silent); the transition is still recorded, with ``held_back`` in its evidence,
and the first notice goes out on the first ``Tick`` after the hold ends.

Inputs stamped in the past (a ``Raise`` / ``Clear`` with ``observed_at``: a data-quality
signal's own time stamp, e.g. the retroactive pair the streams emit when a device's data
resume after a gap in event time) are applied at their own moment instead of ``now``: first
the alert's timers that fell due before it run at their due moments (pending → firing at
``pending_until``, escalation at ``escalate_at``, clearing → resolved at ``clearing_until``),
then the input; pending and hysteresis are thus measured between the signals' time stamps,
not between their arrival times. The moment is clamped to [the alert's ``updated_at``,
``now``] so an alert's history never runs backwards. ``Tick`` resolves a cleared alert at its
``clearing_until`` (at most ``now``).

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
    """Apply one input to one alert at ``now`` (an observed input at its own moment, see the
    module doc); returns the new record, events and intents."""
    at = _moment(alert, event, now)
    caught = _catch_up(alert, at, cond) if at < now else StepResult(alert)
    result = _apply(caught.alert, event, at, cond)
    record = result.alert
    if record is not alert:
        record = replace(record, updated_at=at)
    due = due_at(record, now, cond)
    if due != record.due_at:
        record = replace(record, due_at=due)
    if record is result.alert and not caught.events:
        return result
    intents = tuple(replace(i, alert=record) for i in result.intents)
    return StepResult(record, caught.events + result.events, caught.intents + intents)


def _apply(alert: AlertRecord, event: MachineInput, at: datetime, cond: Conditions) -> StepResult:
    if isinstance(event, Raise):
        return _raise(alert, event, at, cond)
    if isinstance(event, Clear):
        return _clear(alert, event, at)
    if isinstance(event, Acknowledge):
        return _acknowledge(alert, event, at)
    if isinstance(event, Tick):
        return _tick(alert, at, cond)
    return _order(alert, event, at)


def _moment(alert: AlertRecord, event: MachineInput, now: datetime) -> datetime:
    """When ``event`` happened: its ``observed_at``, within [``alert.updated_at``, ``now``]."""
    observed = event.observed_at if isinstance(event, Raise | Clear) else None
    if observed is None or observed >= now:
        return now
    floor = alert.updated_at
    if floor is not None and floor > observed:
        return min(floor, now)
    return observed


def _catch_up(alert: AlertRecord, until: datetime, cond: Conditions) -> StepResult:
    """The alert's own transitions (fire, escalate, resolve) due at or before ``until``,
    each at its due moment: what ticks would have done before an input stamped ``until``."""
    events: tuple[EventRecord, ...] = ()
    intents: tuple[NotificationIntent, ...] = ()
    while True:
        if alert.state is AlertState.PENDING:
            moments = [alert.pending_until]
        elif alert.open:
            moments = [alert.clearing_until, alert.escalate_at]
        else:
            moments = []
        due = [m for m in moments if m is not None and m <= until]
        if not due:
            return StepResult(alert, events, intents)
        moment = min(due)
        result = _tick(alert, moment, cond)
        alert = replace(result.alert, updated_at=moment)
        events += result.events
        intents += tuple(replace(i, alert=alert) for i in result.intents)


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
    if ev.level < alert.level or (ev.level == alert.level and not ev.case):
        return StepResult(refreshed)
    if ev.level == alert.level:
        return _notify(replace(refreshed, basis=ev.basis), NoticeKind.CASE, "case", now, cond)
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
    """Fire; an alert whose ``escalate_at`` is already due fires escalated (told at once)."""
    due = alert.escalate_at is not None and alert.escalate_at <= now
    state = AlertState.ESCALATED if due else AlertState.FIRING
    fired = replace(
        alert,
        state=state,
        fired_at=now,
        pending_until=None,
        escalate_at=None if due else alert.escalate_at,
    )
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
        return _resolve(alert, alert.clearing_until)
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

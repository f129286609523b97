"""The alert engine: one batch of inputs against the loaded alert records. Pure.

The service (or a CLI command) loads, in one transaction, the records a batch touches plus the
firing data-quality alerts of the outlets involved (they decide inhibition and evasion), builds
a ``Batch``, feeds it verdicts, signals, ticks, acknowledgements or orders, then writes
``Batch.changed``, ``Batch.events`` and ``Batch.outbox`` in the same transaction.

Every event's evidence records ``alerts_registry_version``: the version of the registry the
batch applied (ladder policy, enterprises, Art. 7 flags). The event's own ``registry_version``
stays the one its input was judged under (a verdict's, from the stream worker).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alerts.capture import assess_capture, capture_key
from alerts.errors import RejectedInput, UnknownAlert
from alerts.flags import (
    assess_flag,
    assess_flagged_hour,
    declared_for_hour,
    declared_window,
    flagged_hour_key,
    undeclared_budget,
    undeclared_key,
)
from alerts.machine import step
from alerts.messages import Message, render_alert, render_order
from alerts.model import (
    Acknowledge,
    AlertRecord,
    Clear,
    Conditions,
    EventRecord,
    MachineInput,
    MaintenanceWindow,
    Mark,
    NoticeKind,
    OrderNoted,
    RegulatorOrder,
    Tick,
    quality_rule,
)
from alerts.revisions import revised_down, revision_key
from alerts.routing import Subscription, route
from alerts.rules import (
    VerdictContext,
    assess_quality,
    assess_verdict,
    period_key,
    quality_key,
    verdict_key,
)
from schemas.alert import AlertLevel, AlertState, QualityKind, QualitySignal
from schemas.registry import Enterprise, Registry
from schemas.verdict import Verdict

ALERTS_REGISTRY_VERSION = "alerts_registry_version"
"""Evidence key of every event: the registry version the alert service applied."""


@dataclass(frozen=True, slots=True)
class World:
    """Everything besides the alert records that a batch reads (loaded per transaction)."""

    registry: Registry
    orders: tuple[RegulatorOrder, ...] = ()
    """Orders in force."""
    maintenance: tuple[MaintenanceWindow, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()

    def enterprise(self, enterprise_id: str) -> Enterprise | None:
        return next((e for e in self.registry.enterprises if e.id == enterprise_id), None)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One notification to one subscription, committed with the transition that caused it."""

    alert_id: str | None
    episode: int | None
    subscription_id: int
    enterprise_id: str
    channel: str
    kind: str
    level: AlertLevel
    title: str
    body: str
    not_before: datetime


@dataclass(slots=True)
class Batch:
    """Applies inputs at ``now``; ``records`` holds every record the inputs may touch."""

    world: World
    records: dict[str, AlertRecord]
    now: datetime
    changed: dict[str, AlertRecord] = field(default_factory=dict)
    events: list[EventRecord] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)
    released_outlets: set[str] = field(default_factory=set)
    """Outlets whose inhibiting data-quality alert stopped firing: their held notices are due."""
    firing_quality: dict[str, dict[str, str]] | None = None
    """Outlet → {alert id: rule} of its firing data-quality alerts (built on first use)."""

    # --- inputs ---------------------------------------------------------------------

    def verdict(self, verdict: Verdict, revision: int = 1) -> None:
        """Apply one verdict (``revision``: its re-issue count); raises RejectedInput if its
        outlet belongs to another enterprise."""
        enterprise = self._enterprise_of_outlet(verdict.outlet_id, verdict.enterprise_id)
        enterprise_id = enterprise.id if enterprise is not None else verdict.enterprise_id
        key = verdict_key(verdict)
        record = self.records.get(key.alert_id) or AlertRecord.blank(
            key, enterprise_id, verdict.outlet_id, None
        )
        context = VerdictContext(
            policy=self.world.registry.policy,
            open_level=record.level if record.active else None,
            art7_facility=enterprise.art7_facility if enterprise else False,
            heavy_metal=self.world.registry.is_heavy_metal_or_pop(verdict.factor),
            restriction_since=self._restriction_since(enterprise_id, verdict.outlet_id),
            evasion=self._quality_firing(verdict.outlet_id, self._policy_kinds("evasion")),
        )
        period = period_key(verdict.period_start)
        previous = record.marks.get(period)
        assessment = assess_verdict(record.marks, verdict, context, revision)
        if not assessment.changed:
            return
        record = replace(record, marks=assessment.marks)
        for machine_input in assessment.inputs:
            record = self._step(record, machine_input)
        self._keep(record)
        revised = assessment.marks.get(period)
        if previous is not None and revised is not None:
            self._revised(verdict, enterprise_id, previous, revised)
        self._capture(verdict, enterprise_id)
        self._flagged_hour(verdict, enterprise_id)

    def _flagged_hour(self, verdict: Verdict, enterprise_id: str) -> None:
        """An hour invalid because of undeclared flags is a case (``alerts.flags``)."""
        key = flagged_hour_key(verdict)
        if key is None:
            return
        window = declared_for_hour(
            self.world.maintenance, enterprise_id, verdict.outlet_id, verdict.period_start
        )
        registry = self.world.registry
        inputs = assess_flagged_hour(verdict, window, registry.policy, registry.version)
        if inputs is None:
            return
        record = self.records.get(key.alert_id) or AlertRecord.blank(
            key, enterprise_id, verdict.outlet_id, key.subject
        )
        raised, clear = inputs
        marks = record.marks
        run_open = bool(marks) and marks[max(marks)].status == "active"  # pending or fired
        record = self._step(record, raised)
        if not run_open:  # the flagged run's own alert is not open: resolve after the hour
            record = self._step(record, clear)
        self._keep(record)

    def _capture(self, verdict: Verdict, enterprise_id: str) -> None:
        """An hour with too few minutes reported raises its low-capture alert; one with
        enough clears it (``alerts.capture``)."""
        registry = self.world.registry
        machine_input = assess_capture(verdict, registry.policy, registry.version)
        key = capture_key(verdict)
        if key is None:
            return
        record = self.records.get(key.alert_id)
        if machine_input is None or (isinstance(machine_input, Clear) and record is None):
            return
        record = record or AlertRecord.blank(key, enterprise_id, verdict.outlet_id, key.subject)
        if isinstance(machine_input, Clear) and not record.active:
            return
        self._keep(self._step(record, machine_input))

    def _revised(self, verdict: Verdict, enterprise_id: str, previous: Mark, revised: Mark) -> None:
        """A softened verdict raises its downward-revision alert (``alerts.revisions``)."""
        registry = self.world.registry
        inputs = revised_down(previous, revised, verdict, registry.policy, registry.version)
        if inputs is None:
            return
        key = revision_key(verdict)
        record = self.records.get(key.alert_id) or AlertRecord.blank(
            key, enterprise_id, verdict.outlet_id, None
        )
        for machine_input in inputs:
            record = self._step(record, machine_input)
        self._keep(record)

    def signal(self, signal: QualitySignal) -> None:
        """Apply one data-quality signal; raises RejectedInput for an unknown device."""
        found = self.world.registry.device(signal.device_id)
        outlet_id: str | None
        if found is not None:
            enterprise_id, outlet_id = found.enterprise.id, found.outlet.id
        elif signal.enterprise_id is not None:
            enterprise_id, outlet_id = signal.enterprise_id, signal.outlet_id
        else:
            raise RejectedInput("unknown_device", f"device {signal.device_id} is not registered")
        if signal.kind is QualityKind.FLAGGED:
            self._flagged(signal, enterprise_id, outlet_id)
        signal = undeclared_budget(signal, self.world.maintenance, enterprise_id, outlet_id)
        key = quality_key(signal)
        record = self.records.get(key.alert_id) or AlertRecord.blank(
            key, enterprise_id, outlet_id, signal.device_id
        )
        assessment = assess_quality(
            record.marks, signal, self.world.registry.policy, self.world.registry.version
        )
        if not assessment.changed or (not record.active and not signal.active):
            return
        record = replace(record, marks=assessment.marks)
        for machine_input in assessment.inputs:
            record = self._step(record, machine_input)
        self._keep(record)

    def _flagged(self, signal: QualitySignal, enterprise_id: str, outlet_id: str | None) -> None:
        """A flagged run outside a window declared beforehand (``alerts.flags``)."""
        key = undeclared_key(signal)
        record = self.records.get(key.alert_id) or AlertRecord.blank(
            key, enterprise_id, outlet_id, signal.device_id
        )
        window = declared_window(self.world.maintenance, enterprise_id, outlet_id, signal)
        registry = self.world.registry
        assessment = assess_flag(record.marks, signal, window, registry.policy, registry.version)
        opens = signal.active and bool(assessment.inputs)
        if not assessment.changed or (not record.active and not opens):
            return
        record = replace(record, marks=assessment.marks)
        for machine_input in assessment.inputs:
            record = self._step(record, machine_input)
        self._keep(record)

    def tick(self, alert_ids: Iterable[str]) -> None:
        """Let time pass for these alerts (pending → firing, clearing → resolved, repeats)."""
        for alert_id in alert_ids:
            record = self.records.get(alert_id)
            if record is not None and record.active:
                self._keep(self._step(record, Tick()))

    def acknowledge(self, alert_id: str, actor: str, note: str = "") -> AlertRecord:
        """Acknowledge an alert; raises UnknownAlert or AlertNotOpen."""
        record = self.records.get(alert_id)
        if record is None or record.episode == 0:
            raise UnknownAlert(alert_id)
        record = self._step(record, Acknowledge(actor, note))
        self._keep(record)
        return record

    def order(self, order: RegulatorOrder, lifted: bool) -> None:
        """Record an order (or its lifting) on the active alerts it covers; tell the enterprise."""
        action = "lift" if lifted else order.action.value
        actor = (order.lifted_by or order.issued_by) if lifted else order.issued_by
        evidence = {
            "outlet_id": order.outlet_id,
            "effective_from": order.effective_from.isoformat(),
            "reason": order.reason,
        }
        for record in list(self.records.values()):
            if record.active and order.covers(record.enterprise_id, record.outlet_id):
                self._step(record, OrderNoted(action, actor, order.order_id, evidence))
        message = render_order(order, self.world.registry, lifted)
        self._enqueue(
            None, None, order.enterprise_id, order.level, False, NoticeKind.ORDER, message
        )

    # --- helpers --------------------------------------------------------------------

    def _step(self, record: AlertRecord, machine_input: MachineInput) -> AlertRecord:
        result = step(record, machine_input, self.now, self._conditions(record))
        version = self.world.registry.version
        self.events.extend(
            replace(event, evidence={**event.evidence, ALERTS_REGISTRY_VERSION: version})
            for event in result.events
        )
        for intent in result.intents:
            alert = intent.alert
            message = render_alert(intent, self.world.registry)
            escalated = alert.state is AlertState.ESCALATED
            self._enqueue(
                alert.alert_id,
                alert.episode,
                alert.enterprise_id,
                alert.level,
                escalated,
                intent.kind,
                message,
            )
        return result.alert

    def _enqueue(
        self,
        alert_id: str | None,
        episode: int | None,
        enterprise_id: str,
        level: AlertLevel,
        escalated: bool,
        kind: NoticeKind,
        message: Message,
    ) -> None:
        subscriptions = self.world.subscriptions
        for recipient in route(enterprise_id, level, escalated, subscriptions, self.now):
            sub = recipient.subscription
            self.outbox.append(
                OutboxRow(
                    alert_id=alert_id,
                    episode=episode,
                    subscription_id=sub.subscription_id,
                    enterprise_id=enterprise_id,
                    channel=sub.channel,
                    kind=kind.value,
                    level=level,
                    title=message.title,
                    body=message.body,
                    not_before=recipient.not_before,
                )
            )

    def _keep(self, record: AlertRecord) -> None:
        before = self.records.get(record.alert_id)
        if (
            before is not None
            and before.open
            and not record.open
            and record.outlet_id is not None
            and record.key.rule in self._policy_kinds("inhibiting")
        ):
            self.released_outlets.add(record.outlet_id)
        if before != record:
            self.records[record.alert_id] = record
            self.changed[record.alert_id] = record
            self._index_quality(record)

    def _conditions(self, record: AlertRecord) -> Conditions:
        policy = self.world.registry.policy
        ends = [
            w.ends_at
            for w in self.world.maintenance
            if w.covers(record.enterprise_id, record.outlet_id, self.now)
        ]
        inhibited = not record.key.is_quality and self._quality_firing(
            record.outlet_id, self._policy_kinds("inhibiting")
        )
        return Conditions(
            repeat_interval=timedelta(minutes=policy.repeat_interval_minutes),
            held_recheck=timedelta(minutes=policy.held_recheck_minutes),
            suppressed_until=max(ends) if ends else None,
            inhibited=inhibited,
        )

    def _policy_kinds(self, which: str) -> frozenset[str]:
        policy = self.world.registry.policy
        kinds = (
            policy.evasion_quality_kinds if which == "evasion" else policy.inhibiting_quality_kinds
        )
        # a kind counts whether judged per run or hour or over a whole day (quality_rule)
        return frozenset(quality_rule(kind, period) for kind in kinds for period in (None, "day"))

    def _quality_firing(self, outlet_id: str | None, rules: frozenset[str]) -> bool:
        """Is a data-quality alert of one of ``rules`` firing for a device of the outlet?"""
        if outlet_id is None:
            return False
        if self.firing_quality is None:
            self.firing_quality = {}
            for record in self.records.values():
                self._index_quality(record)
        return not rules.isdisjoint(self.firing_quality.get(outlet_id, {}).values())

    def _index_quality(self, record: AlertRecord) -> None:
        if self.firing_quality is None or not record.key.is_quality or record.outlet_id is None:
            return
        firing = self.firing_quality.setdefault(record.outlet_id, {})
        if record.open:
            firing[record.alert_id] = record.key.rule
        else:
            firing.pop(record.alert_id, None)

    def _restriction_since(self, enterprise_id: str, outlet_id: str | None) -> datetime | None:
        starts = [o.effective_from for o in self.world.orders if o.covers(enterprise_id, outlet_id)]
        return min(starts) if starts else None

    def _enterprise_of_outlet(self, outlet_id: str, claimed: str) -> Enterprise | None:
        """The enterprise owning ``outlet_id`` (None: not in the registry); raises
        RejectedInput when the registry says another enterprise than ``claimed``."""
        found = self.world.registry.outlet(outlet_id)
        if found is None:
            return self.world.enterprise(claimed)
        if found[0].id != claimed:
            raise RejectedInput(
                "enterprise_mismatch",
                f"outlet {outlet_id} belongs to {found[0].id}, the verdict says {claimed}",
            )
        return found[0]

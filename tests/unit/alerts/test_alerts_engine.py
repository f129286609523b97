"""The engine over several alerts: inhibition, maintenance, orders, refused inputs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alerts_fixtures import POWER, SEWAGE, T0, demo_registry, signal, verdict

from alerts.engine import Batch, World
from alerts.errors import RejectedInput, UnknownAlert
from alerts.model import AlertRecord, MaintenanceWindow, OrderAction, RegulatorOrder
from alerts.routing import Audience, Subscription
from schemas.alert import AlertLevel, AlertState, QualityKind
from schemas.verdict import Verdict

SUBS = (Subscription(1, POWER[0], Audience.ENTERPRISE, "json://a", AlertLevel.DATA_QUALITY),)
SO2_ALERT = f"{POWER[1]}/a21026/hourly_concentration"
SILENT_ALERT = f"{POWER[2]}/-/quality.silent"


class Run:
    """Batches a minute apart over shared records, as the service would run them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.records: dict[str, AlertRecord] = {}
        self.minute = 0
        self.last: Batch | None = None

    def batch(self) -> Batch:
        self.minute += 1
        self.last = Batch(self.world, self.records, T0 + timedelta(days=1, minutes=self.minute))
        return self.last

    def verdict(self, item: Verdict) -> Batch:
        batch = self.batch()
        batch.verdict(item)
        return batch

    def signal(self, kind: QualityKind, active: bool) -> Batch:
        batch = self.batch()
        batch.signal(signal(kind, active, batch.now))
        return batch


def test_a_silent_device_holds_back_exceedance_noise_until_it_reports_again() -> None:
    run = Run(
        World(
            demo_registry(quality_pending_minutes=0, quality_resolve_minutes=0), subscriptions=SUBS
        )
    )
    silent = run.signal(QualityKind.SILENT, True)
    assert [o.kind for o in silent.outbox] == ["opened"]
    held = run.verdict(verdict(0, "exceedance"))
    assert held.outbox == []
    assert held.events[0].evidence["held_back"] == "inhibited"
    back = run.signal(QualityKind.SILENT, False)
    assert back.released_outlets == {POWER[1]}
    assert [o.kind for o in back.outbox] == ["resolved"]
    released = run.batch()
    released.tick([SO2_ALERT])
    assert [(o.alert_id, o.kind) for o in released.outbox] == [(SO2_ALERT, "opened")]


def test_sustained_exceedance_is_not_held_back_by_a_silent_device() -> None:
    run = Run(World(demo_registry(quality_pending_minutes=0), subscriptions=SUBS))
    run.signal(QualityKind.SILENT, True)
    outbox = [row for h in range(3) for row in run.verdict(verdict(h, "exceedance")).outbox]
    assert [o.level for o in outbox] == [AlertLevel.RESTRICT_PRODUCTION]


def test_maintenance_window_holds_notices_and_releases_them_when_it_ends() -> None:
    now = T0 + timedelta(days=1)
    window = MaintenanceWindow(1, POWER[0], None, now, now + timedelta(minutes=30), "厂方")
    run = Run(World(demo_registry(), maintenance=(window,), subscriptions=SUBS))
    held = run.verdict(verdict(0, "exceedance"))
    assert held.outbox == [] and held.events[0].evidence["held_back"] == "maintenance"
    record = run.records[SO2_ALERT]
    assert record.state is AlertState.FIRING and record.due_at == window.ends_at
    later = Batch(run.world, run.records, window.ends_at)
    later.tick([SO2_ALERT])
    assert [o.kind for o in later.outbox] == ["opened"]


def test_orders_are_logged_on_the_open_alerts_they_cover_with_the_regulator_as_actor() -> None:
    run = Run(World(demo_registry(), subscriptions=SUBS))
    run.verdict(verdict(0, "exceedance"))
    order = RegulatorOrder(3, POWER[0], None, OrderAction.RESTRICT, T0, T0, "执法支队 张三")
    batch = run.batch()
    batch.order(order, lifted=False)
    (event,) = batch.events
    assert event.kind == "order_restrict" and event.actor == "执法支队 张三"
    assert event.alert_id == SO2_ALERT and event.evidence["order_id"] == 3
    assert [o.kind for o in batch.outbox] == ["order"]


def test_a_verdict_claiming_another_enterprises_outlet_is_refused() -> None:
    run = Run(World(demo_registry(), subscriptions=SUBS))
    forged = verdict(0, "exceedance").model_copy(update={"enterprise_id": SEWAGE[0]})
    with pytest.raises(RejectedInput) as refused:
        run.verdict(forged)
    assert refused.value.reason == "enterprise_mismatch"
    assert run.last is not None and run.last.changed == {} and run.last.outbox == []


def test_signals_from_unknown_devices_are_refused_and_unknown_alerts_cannot_be_acked() -> None:
    run = Run(World(demo_registry()))
    batch = run.batch()
    with pytest.raises(RejectedInput):
        batch.signal(signal(QualityKind.FLATLINE, True, batch.now, device="NOT-REGISTERED"))
    with pytest.raises(UnknownAlert):
        batch.acknowledge("no/such/alert", "王五")


def test_compliant_hours_are_remembered_without_opening_an_alert() -> None:
    """Every judged hour is kept (so a late verdict is judged against all of them), but a
    compliant hour opens nothing and tells nobody; a duplicate writes nothing at all."""
    run = Run(World(demo_registry(), subscriptions=SUBS))
    batch = run.verdict(verdict(0, "compliant"))
    assert batch.events == [] and batch.outbox == []
    record = batch.changed[SO2_ALERT]
    assert record.episode == 0 and record.state is AlertState.RESOLVED and len(record.marks) == 1
    assert run.verdict(verdict(0, "compliant")).changed == {}


def test_a_gap_reported_when_data_resume_is_recorded_as_a_fired_and_resolved_alert() -> None:
    # The streams' event-time pair for a device off from 16:00 to 18:00 (allowed 5 min),
    # arriving the next day; the policy's pending (5 min) and resolve (10 min) times apply
    # between the signals' own time stamps.
    run = Run(World(demo_registry(), subscriptions=SUBS))
    start, end = T0 + timedelta(hours=16, minutes=5), T0 + timedelta(hours=18)
    pair = run.batch()
    pair.signal(signal(QualityKind.SILENT, True, start))
    pair.signal(signal(QualityKind.SILENT, False, end))
    later = run.batch()
    later.tick([SILENT_ALERT])
    record = run.records[SILENT_ALERT]
    assert record.state is AlertState.RESOLVED and record.level is AlertLevel.DATA_QUALITY
    assert [(e.kind, e.at) for e in pair.events + later.events] == [
        ("pending", start),
        ("fired", start + timedelta(minutes=5)),
        ("resolved", end + timedelta(minutes=10)),
    ]
    assert [o.kind for o in pair.outbox + later.outbox] == ["opened", "resolved"]


def test_a_gap_shorter_than_the_pending_time_leaves_no_alert() -> None:
    run = Run(World(demo_registry(), subscriptions=SUBS))
    pair = run.batch()
    pair.signal(signal(QualityKind.SILENT, True, T0))
    pair.signal(signal(QualityKind.SILENT, False, T0 + timedelta(minutes=3)))
    assert [e.kind for e in pair.events] == ["pending", "withdrawn"] and pair.outbox == []

"""Low data capture (issue 13, item 3): an hour invalid because too few minutes were reported
tells the enterprise at once and the regulator when it persists; enough minutes clear it."""

from __future__ import annotations

from datetime import timedelta

from alerts_fixtures import POWER, SO2, T0, demo_registry, verdict

from alerts.engine import Batch, World
from alerts.ladder import Basis
from alerts.model import AlertRecord
from alerts.routing import ALL_ENTERPRISES, Audience, Subscription
from schemas.alert import AlertLevel, AlertState, QualityKind, QualitySignal
from schemas.verdict import Verdict

ENTERPRISE = Subscription(1, POWER[0], Audience.ENTERPRISE, "json://tp", AlertLevel.DATA_QUALITY)
REGULATOR = Subscription(
    9, ALL_ENTERPRISES, Audience.REGULATOR, "json://reg", AlertLevel.DATA_QUALITY
)
LOW = f"{POWER[2]}/{SO2}/quality.low_capture"
"""One key rule for data-quality alerts (docs/alerts.md): the device, the factor, the kind."""
LOW_DAY = f"{POWER[2]}/{SO2}/quality.low_capture.day"


def hour(index: int, valid: int, invalid: int = 0) -> Verdict:
    status = "compliant" if valid >= 45 else "invalid"
    item = verdict(index, status)
    evidence = {
        "device_id": POWER[2],
        "valid_minutes": valid,
        "invalid_minutes": invalid,
        "valid_minutes_required": 45,
    }
    return item.model_copy(update={"evidence": evidence})


class Run:
    def __init__(self) -> None:
        registry = demo_registry(quality_resolve_minutes=0)
        self.world = World(registry, subscriptions=(ENTERPRISE, REGULATOR))
        self.records: dict[str, AlertRecord] = {}
        self.minute = 0

    def verdict(self, item: Verdict) -> Batch:
        self.minute += 1
        batch = Batch(self.world, self.records, T0 + timedelta(days=3, minutes=self.minute))
        batch.verdict(item)
        return batch

    def signal(self, item: QualitySignal) -> Batch:
        self.minute += 1
        batch = Batch(self.world, self.records, T0 + timedelta(days=3, minutes=self.minute))
        batch.signal(item)
        return batch

    @staticmethod
    def told(batch: Batch) -> set[int]:
        return {o.subscription_id for o in batch.outbox if o.alert_id == LOW}


def test_an_hour_with_20_of_60_minutes_tells_the_enterprise() -> None:
    run = Run()
    batch = run.verdict(hour(0, valid=20))
    record = run.records[LOW]
    assert record.state is AlertState.FIRING and record.basis == Basis.LOW_CAPTURE.value
    assert record.evidence["detail"] == {"minutes_reported": 20, "minutes_required": 45}
    assert run.told(batch) == {ENTERPRISE.subscription_id}


def test_low_capture_that_persists_reaches_the_regulator() -> None:
    run = Run()
    told: set[int] = set()
    for index in range(25):  # 24 h after the first short hour ended: escalated
        told |= run.told(run.verdict(hour(index, valid=20)))
    assert run.records[LOW].state is AlertState.ESCALATED
    assert REGULATOR.subscription_id in told


def test_an_hour_with_enough_minutes_clears_it_and_flags_are_not_low_capture() -> None:
    run = Run()
    run.verdict(hour(0, valid=20))
    run.verdict(hour(1, valid=58))
    assert run.records[LOW].state is AlertState.RESOLVED
    quiet = Run()
    quiet.verdict(hour(0, valid=20, invalid=40))  # invalid because of flags: alerts.flags
    quiet.verdict(hour(1, valid=58))
    assert LOW not in quiet.records


def day_signal(active: bool, day: int = 1) -> QualitySignal:
    detail = {"period": "day", "day": "2026-01-01", "valid_hours": 3, "valid_hours_required": 20}
    return QualitySignal(
        device_id=POWER[2],
        outlet_id=POWER[1],
        enterprise_id=POWER[0],
        factor=SO2,
        kind=QualityKind.LOW_CAPTURE,
        active=active,
        observed_at=T0 + timedelta(days=day),
        detail=detail,
    )


def test_hour_and_day_low_capture_are_keyed_by_one_rule_and_a_good_hour_leaves_the_day() -> None:
    run = Run()
    run.verdict(hour(0, valid=20))
    run.signal(day_signal(active=True))
    hour_record, day_record = run.records[LOW], run.records[LOW_DAY]
    assert hour_record.key.subject == day_record.key.subject == POWER[2]  # both the device's
    assert hour_record.device_id == day_record.device_id == POWER[2]
    assert day_record.evidence["rule"] == "quality.low_capture.day"
    run.verdict(hour(25, valid=58))  # the next day's first full hour clears the hour's alert
    assert run.records[LOW].state is AlertState.RESOLVED
    assert run.records[LOW_DAY].active  # not the day's: only a day with enough data does
    run.signal(day_signal(active=False, day=2))
    assert run.records[LOW_DAY].state is AlertState.RESOLVED

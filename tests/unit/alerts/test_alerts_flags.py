"""Flags against declared windows (issue 13, item 3, first part): an F/M/C/D/B run outside a
maintenance window declared beforehand, and beyond the policy's allowance, tells the
enterprise and the regulator at once; a declared one, or a short calibration, does not."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts_fixtures import POWER, SO2, T0, demo_registry, verdict

from alerts.engine import Batch, World
from alerts.ladder import Basis
from alerts.model import AlertRecord, MaintenanceWindow
from alerts.routing import ALL_ENTERPRISES, Audience, Subscription
from alerts.service import scope
from schemas.alert import AlertLevel, AlertState, QualityKind, QualitySignal
from schemas.verdict import Verdict

ENTERPRISE = Subscription(1, POWER[0], Audience.ENTERPRISE, "json://tp", AlertLevel.DATA_QUALITY)
REGULATOR = Subscription(
    9, ALL_ENTERPRISES, Audience.REGULATOR, "json://reg", AlertLevel.DATA_QUALITY
)
UNDECLARED = f"{POWER[2]}/{SO2}/quality.undeclared_flag"
RUN = T0 + timedelta(hours=1)
"""Start of the flagged run."""


def flagged(active: bool, at: datetime, flag: str = "M") -> QualitySignal:
    detail = {"flag": flag} if active else {"flag": "N", "previous_flag": flag}
    return QualitySignal(
        device_id=POWER[2], factor=SO2, kind=QualityKind.FLAGGED, active=active,
        observed_at=at, detail=detail,
    )  # fmt: skip


def window(declared_at: datetime) -> MaintenanceWindow:
    return MaintenanceWindow(
        1, POWER[0], POWER[1], T0, T0 + timedelta(hours=4), "厂环保员 王五", "更换探头", declared_at
    )


class Run:
    def __init__(self, *windows: MaintenanceWindow) -> None:
        registry = demo_registry(quality_pending_minutes=0)
        self.world = World(registry, maintenance=windows, subscriptions=(ENTERPRISE, REGULATOR))
        self.records: dict[str, AlertRecord] = {}
        self.minute = 0

    def signal(self, item: QualitySignal) -> Batch:
        self.minute += 1
        batch = Batch(self.world, self.records, T0 + timedelta(days=1, minutes=self.minute))
        batch.signal(item)
        return batch

    def told(self, batch: Batch) -> set[int]:
        return {o.subscription_id for o in batch.outbox if o.alert_id == UNDECLARED}


def test_an_undeclared_maintenance_flag_tells_enterprise_and_regulator_at_once() -> None:
    run = Run()
    started = run.signal(flagged(True, RUN))
    record = run.records[UNDECLARED]
    assert record.state is AlertState.ESCALATED and record.basis == Basis.UNDECLARED_FLAG.value
    assert run.told(started) == {ENTERPRISE.subscription_id, REGULATOR.subscription_id}
    assert record.evidence["detail"]["flag"] == "M"
    ended = run.signal(flagged(False, RUN + timedelta(hours=2)))
    assert run.records[UNDECLARED].state is AlertState.RESOLVED
    resolved = [(o.kind, o.subscription_id) for o in ended.outbox if o.alert_id == UNDECLARED]
    assert resolved == [("resolved", ENTERPRISE.subscription_id)]  # as for any data quality


def test_a_window_declared_beforehand_covers_the_flags() -> None:
    run = Run(window(declared_at=T0 - timedelta(days=1)))
    run.signal(flagged(True, RUN))
    run.signal(flagged(False, RUN + timedelta(hours=2)))
    assert UNDECLARED not in run.records


def test_a_window_declared_after_the_flags_started_does_not_cover_them() -> None:
    run = Run(window(declared_at=RUN + timedelta(minutes=30)))
    run.signal(flagged(True, RUN))
    assert run.records[UNDECLARED].state is AlertState.ESCALATED


def test_a_calibration_within_the_allowance_is_withdrawn_without_a_notice() -> None:
    run = Run()
    started = run.signal(flagged(True, RUN, flag="C"))
    assert run.records[UNDECLARED].state is AlertState.PENDING and run.told(started) == set()
    ended = run.signal(flagged(False, RUN + timedelta(minutes=20), flag="C"))
    assert run.records[UNDECLARED].state is AlertState.RESOLVED
    assert [e.kind for e in ended.events if e.alert_id == UNDECLARED] == ["withdrawn"]
    assert run.told(ended) == set()


def test_a_calibration_longer_than_the_allowance_is_told() -> None:
    run = Run()
    run.signal(flagged(True, RUN, flag="C"))
    ended = run.signal(flagged(False, RUN + timedelta(minutes=45), flag="C"))
    events = [e for e in ended.events if e.alert_id == UNDECLARED]
    assert [(e.kind, e.at) for e in events] == [
        ("fired", RUN + timedelta(minutes=30)),
        ("resolved", RUN + timedelta(minutes=45)),
    ]
    assert run.told(ended) == {ENTERPRISE.subscription_id, REGULATOR.subscription_id}


def test_a_replayed_signal_changes_nothing() -> None:
    run = Run()
    run.signal(flagged(True, RUN))
    again = run.signal(flagged(True, RUN))
    assert [e for e in again.events if e.alert_id == UNDECLARED] == []


def invalid_by_flags(hour: int, exceeded: list[str]) -> Verdict:
    base = verdict(hour, "invalid")
    evidence = {
        "device_id": POWER[2], "valid_minutes": 20, "invalid_minutes": 40,
        "valid_minutes_required": 45, "flag_counts": {"C": 40, "N": 20},
        "invalid_cause": "flags", "flag_minutes_today": {"C": 40},
        "flag_allowance_exceeded": exceeded,
    }  # fmt: skip
    return base.model_copy(update={"evidence": evidence})


def test_an_hour_invalid_because_of_undeclared_flags_reaches_the_regulator() -> None:
    """Issue 13 item 3: the hour (not only the run) is recorded, with its flags."""
    run = Run()
    batch = Batch(run.world, run.records, T0 + timedelta(days=1))
    batch.verdict(invalid_by_flags(3, ["C"]))
    record = run.records[UNDECLARED]
    assert record.basis == Basis.UNDECLARED_FLAG.value
    assert record.evidence["detail"]["invalid_hour"] == (T0 + timedelta(hours=3)).isoformat()
    assert record.evidence["detail"]["flag_allowance_exceeded"] == ["C"]
    told = {o.subscription_id for o in batch.outbox if o.alert_id == UNDECLARED}
    assert told == {ENTERPRISE.subscription_id, REGULATOR.subscription_id}


def test_an_hour_invalid_by_flags_within_the_allowance_or_declared_is_no_case() -> None:
    declared = Run(window(declared_at=T0 - timedelta(days=1)))
    batch = Batch(declared.world, declared.records, T0 + timedelta(days=1))
    batch.verdict(invalid_by_flags(2, ["C"]))  # inside the declared window T0..T0+4h
    within = Run()
    batch = Batch(within.world, within.records, T0 + timedelta(days=1))
    batch.verdict(invalid_by_flags(2, []))  # the day's calibration budget not used up
    late = Run(window(declared_at=T0 + timedelta(hours=3)))  # declared after the hour
    batch = Batch(late.world, late.records, T0 + timedelta(days=1))
    batch.verdict(invalid_by_flags(2, ["C"]))
    assert UNDECLARED not in declared.records and UNDECLARED not in within.records
    assert UNDECLARED in late.records


def test_an_hour_case_during_a_flagged_run_keeps_the_run_alert_open() -> None:
    """The hour's case must not resolve the alert of a run that is still flagged (pending
    within its allowance or fired): only the run's end does."""
    run = Run()
    Batch(run.world, run.records, RUN + timedelta(minutes=1)).signal(flagged(True, RUN, flag="C"))
    assert run.records[UNDECLARED].state is AlertState.PENDING  # within the 30-minute allowance
    batch = Batch(run.world, run.records, RUN + timedelta(minutes=10))
    batch.verdict(invalid_by_flags(0, ["C"]))
    record = run.records[UNDECLARED]
    assert record.state is AlertState.ESCALATED
    run.signal(flagged(False, RUN + timedelta(hours=3), flag="C"))
    assert run.records[UNDECLARED].state is AlertState.RESOLVED


def test_the_service_loads_the_undeclared_flag_alert_of_an_hourly_verdict() -> None:
    """Without it, the hour's case would start from a blank record and close the run's alert."""
    ids, _, _ = scope([invalid_by_flags(0, ["C"])], demo_registry())
    assert UNDECLARED in ids


BUDGET = f"{POWER[2]}/{SO2}/quality.undeclared_flag.day"


def over_budget_day(*hours: int) -> QualitySignal:
    """The streams' day-level budget signal (streams.domain.flag_budget) for day T0."""
    rows = [{"hour": (T0 + timedelta(hours=h)).isoformat(), "minutes": 20} for h in hours]
    budgets = {"C": {"allowance_minutes": 60, "minutes": 60 + 20 * len(hours), "over_budget": rows}}
    detail = {"period": "day", "day": T0.date().isoformat(), "budgets": budgets}
    return QualitySignal(
        device_id=POWER[2], factor=SO2, kind=QualityKind.UNDECLARED_FLAG, active=True,
        observed_at=T0 + timedelta(days=1), detail=detail,
    )  # fmt: skip


def test_a_day_beyond_its_calibration_budget_is_its_own_alert_unless_declared() -> None:
    run = Run()
    run.signal(over_budget_day(2, 9))
    record = run.records[BUDGET]
    assert record.active and record.device_id == POWER[2]
    assert record.evidence["detail"]["budgets"]["C"]["over_budget"][0]["minutes"] == 20
    assert UNDECLARED not in run.records  # not the run's or the hour's alert
    declared = Run(window(declared_at=T0 - timedelta(days=1)))  # covers hours 0–4 only
    declared.signal(over_budget_day(2))
    assert BUDGET not in declared.records  # every hour beyond the budget was declared
    declared.signal(
        over_budget_day(2, 9).model_copy(update={"observed_at": T0 + timedelta(days=2)})
    )
    left = declared.records[BUDGET].evidence["detail"]
    assert [r["hour"] for r in left["budgets"]["C"]["over_budget"]] == [
        (T0 + timedelta(hours=9)).isoformat()
    ]
    assert left["declared_hours"] == [(T0 + timedelta(hours=2)).isoformat()]

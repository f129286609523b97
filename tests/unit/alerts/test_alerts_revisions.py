"""Downward revisions are signals (issue 13, item 2): a verdict revised from exceedance, severe
or warning to something milder raises a data-quality alert that reaches the enterprise and the
regulator at once, with both judgements in the evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alerts_fixtures import POWER, SO2, T0, demo_registry, verdict

from alerts.engine import Batch, World
from alerts.ladder import Basis
from alerts.model import AlertRecord, Mark
from alerts.revisions import softened
from alerts.routing import ALL_ENTERPRISES, Audience, Subscription
from schemas.alert import AlertLevel, AlertState, QualityKind, QualitySignal
from schemas.verdict import Verdict

ENTERPRISE = Subscription(1, POWER[0], Audience.ENTERPRISE, "json://tp", AlertLevel.DATA_QUALITY)
REGULATOR = Subscription(
    9, ALL_ENTERPRISES, Audience.REGULATOR, "json://reg", AlertLevel.DATA_QUALITY
)
REVISED = f"{POWER[1]}/{SO2}/quality.revised_down"


class Run:
    """Batches a minute apart over shared records, as the service would run them."""

    def __init__(self, **policy: object) -> None:
        self.world = World(demo_registry(**policy), subscriptions=(ENTERPRISE, REGULATOR))
        self.records: dict[str, AlertRecord] = {}
        self.minute = 0

    def batch(self) -> Batch:
        self.minute += 1
        return Batch(self.world, self.records, T0 + timedelta(days=1, minutes=self.minute))

    def verdict(self, item: Verdict, revision: int) -> Batch:
        batch = self.batch()
        batch.verdict(item, revision)
        return batch


def test_exceedance_rewritten_to_compliant_tells_enterprise_and_regulator_at_once() -> None:
    run = Run()
    run.verdict(verdict(10, "exceedance", value=100.0), 1)
    rewrite = run.verdict(verdict(10, "compliant", value=5.0), 2)
    record = run.records[REVISED]
    assert record.state is AlertState.ESCALATED and record.level is AlertLevel.DATA_QUALITY
    assert record.basis == Basis.REVISED_DOWN.value
    fired = [e for e in rewrite.events if e.alert_id == REVISED]
    assert [e.kind for e in fired] == ["fired"]
    detail = fired[0].evidence["detail"]
    assert detail["previous"] == {
        "status": "exceedance",
        "value": 100.0,
        "limit": 35.0,
        "revision": 1,
    }
    assert detail["revised"] == {"status": "compliant", "value": 5.0, "limit": 35.0, "revision": 2}
    told = {o.subscription_id for o in rewrite.outbox if o.alert_id == REVISED}
    assert told == {ENTERPRISE.subscription_id, REGULATOR.subscription_id}
    body = next(o.body for o in rewrite.outbox if o.subscription_id == REGULATOR.subscription_id)
    assert "100" in body and "compliant" in body and "下调" in body
    assert detail["cause"] == "late_or_recomputed"


def test_an_exceedance_laundered_into_invalid_is_a_downward_revision() -> None:
    run = Run()
    run.verdict(verdict(3, "exceedance"), 1)
    run.verdict(verdict(3, "invalid", value=0.0), 2)
    assert run.records[REVISED].state is AlertState.ESCALATED


@pytest.mark.parametrize(
    ("first", "then", "revision"),
    [
        ("compliant", "compliant", 2),  # a compliant hour re-sent with another value
        ("exceedance", "severe", 2),  # revised upwards
        ("exceedance", "exceedance", 2),  # still exceeding, another value
        ("invalid", "compliant", 2),  # late data made an invalid hour judgeable
        ("exceedance", "compliant", 0),  # stale: a lower revision than the one marked
    ],
)
def test_honest_or_upward_revisions_raise_nothing(first: str, then: str, revision: int) -> None:
    run = Run()
    run.verdict(verdict(5, first), 1)
    value = 40.0 if then == first else None
    run.verdict(verdict(5, then, value=value), revision)
    assert REVISED not in run.records


def test_the_same_revision_replayed_is_not_a_second_signal() -> None:
    run = Run()
    run.verdict(verdict(5, "warning"), 1)
    first = run.verdict(verdict(5, "compliant"), 2)
    again = run.verdict(verdict(5, "compliant"), 2)
    assert [e.kind for e in first.events if e.alert_id == REVISED] == ["fired"]
    assert [e.kind for e in again.events if e.alert_id == REVISED] == []


def test_each_further_softened_period_is_recorded_and_told_while_the_alert_is_open() -> None:
    run = Run()
    for hour in (1, 2):
        run.verdict(verdict(hour, "exceedance"), 1)
    run.verdict(verdict(1, "compliant"), 2)
    second = run.verdict(verdict(2, "compliant"), 2)
    (case,) = [e for e in second.events if e.alert_id == REVISED]
    assert case.kind == "case"
    assert case.evidence["period_start"] == (T0 + timedelta(hours=2)).isoformat()
    told = {o.subscription_id for o in second.outbox if o.alert_id == REVISED}
    assert told == {ENTERPRISE.subscription_id, REGULATOR.subscription_id}


def test_the_signal_resolves_after_the_quality_resolve_time() -> None:
    run = Run(quality_resolve_minutes=10)
    run.verdict(verdict(1, "exceedance"), 1)
    run.verdict(verdict(1, "compliant"), 2)
    record = run.records[REVISED]
    assert record.due_at is not None
    later = Batch(run.world, run.records, record.due_at + timedelta(minutes=10))
    later.tick([REVISED])
    assert run.records[REVISED].state is AlertState.RESOLVED


def test_softened_orders_judgements_by_gravity() -> None:
    def mark(status: str) -> Mark:
        return Mark(status, None, None)

    assert softened(mark("severe"), mark("exceedance"))
    assert softened(mark("warning"), mark("invalid"))
    assert not softened(mark("compliant"), mark("invalid"))
    assert not softened(mark("warning"), mark("exceedance"))


def test_a_revision_by_resent_values_names_its_cause() -> None:
    run = Run()
    run.verdict(verdict(10, "exceedance", value=100.0), 1)
    rewritten = verdict(10, "compliant", value=5.0)
    resent = rewritten.model_copy(update={"evidence": {**rewritten.evidence, "resent_values": 60}})
    batch = run.verdict(resent, 2)
    (fired,) = [e for e in batch.events if e.alert_id == REVISED]
    assert fired.evidence["detail"]["cause"] == "resent"
    assert fired.evidence["detail"]["resent_values"] == 60


def test_an_exceedance_after_a_rewrite_is_an_art6_1_case_by_default() -> None:
    """Issue 13 item 8: rewritten data are evading supervision (design.md; Order No. 30
    Art. 6(1)): the next exceedance at the outlet while the downward revision is open walks
    the ladder to the suspension recommendation, with the default policy."""
    run = Run()
    run.verdict(verdict(10, "exceedance", value=100.0), 1)
    run.verdict(verdict(10, "compliant", value=5.0), 2)
    assert run.records[REVISED].state is AlertState.ESCALATED
    run.verdict(verdict(12, "exceedance", value=90.0), 1)
    record = run.records[f"{POWER[1]}/{SO2}/hourly_concentration"]
    assert record.basis == Basis.ART6_EVASION.value
    assert record.level is AlertLevel.SUSPEND_FOR_RECTIFICATION


def test_an_exceedance_while_identical_analysers_fire_is_an_art6_1_case() -> None:
    """Issue 13 item 4: the cross-device tampering signal (a day's, streams.domain.identical)
    counts among the evasion kinds like the per-hour one."""
    run = Run(quality_pending_minutes=0)
    detail = {"family": "evasion", "period": "day", "rules": ["identical_devices"]}
    batch = run.batch()
    batch.signal(
        QualitySignal(
            device_id=POWER[2], outlet_id=POWER[1], enterprise_id=POWER[0], factor=SO2,
            kind=QualityKind.TAMPERING, active=True, observed_at=T0 + timedelta(hours=1),
            detail=detail,
        )
    )  # fmt: skip
    run.batch().tick(run.records)  # past the pending time: firing
    assert run.records[f"{POWER[2]}/{SO2}/quality.tampering.day"].open
    run.verdict(verdict(12, "exceedance", value=90.0), 1)
    record = run.records[f"{POWER[1]}/{SO2}/hourly_concentration"]
    assert record.basis == Basis.ART6_EVASION.value

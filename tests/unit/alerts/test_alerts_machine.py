"""The state machine: transitions, notices, holds, repeats, acknowledgement."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from alerts_fixtures import T0

from alerts.errors import AlertNotOpen
from alerts.machine import step
from alerts.model import (
    Acknowledge,
    AlertKey,
    AlertRecord,
    Clear,
    Conditions,
    NoticeKind,
    Raise,
    StepResult,
    Tick,
)
from schemas.alert import AlertLevel, AlertState

KEY = AlertKey("E-TP-01-G1", "a21026", "hourly_concentration")
QKEY = AlertKey("DEMO-TP01-G1", None, "quality.silent")
COND = Conditions(repeat_interval=timedelta(minutes=60), held_recheck=timedelta(minutes=5))
MINUTE = timedelta(minutes=1)


def blank(key: AlertKey = KEY) -> AlertRecord:
    return AlertRecord.blank(key, "E-TP-01", "E-TP-01-G1", None)


def exceed(level: AlertLevel = AlertLevel.EXCEEDANCE) -> Raise:
    return Raise(level, "exceedance", {"value": 52.5}, "v1")


def clear(after: timedelta = timedelta(0)) -> Clear:
    return Clear({"streak": 2}, "v1", clear_for=after)


def notices(result: StepResult) -> list[NoticeKind]:
    return [i.kind for i in result.intents]


def test_exceedance_fires_at_once_with_an_opened_notice() -> None:
    result = step(blank(), exceed(), T0, COND)
    assert result.alert.state is AlertState.FIRING
    assert result.alert.episode == 1
    assert [e.kind for e in result.events] == ["fired"]
    assert notices(result) == [NoticeKind.OPENED]


def test_the_same_condition_again_is_deduplicated() -> None:
    fired = step(blank(), exceed(), T0, COND).alert
    again = step(fired, exceed(), T0 + 60 * MINUTE, COND)
    assert again.events == () and again.intents == ()
    assert again.alert.state is AlertState.FIRING


def test_higher_level_escalates_and_resets_acknowledgement() -> None:
    fired = step(blank(), exceed(), T0, COND).alert
    acked = step(fired, Acknowledge("张三"), T0 + MINUTE, COND).alert
    assert acked.acknowledged_by == "张三"
    result = step(acked, exceed(AlertLevel.RESTRICT_PRODUCTION), T0 + 2 * MINUTE, COND)
    assert result.alert.state is AlertState.ESCALATED
    assert result.alert.level is AlertLevel.RESTRICT_PRODUCTION
    assert result.alert.acknowledged_by is None
    assert notices(result) == [NoticeKind.ESCALATED]


def test_levels_never_go_down_within_an_episode() -> None:
    high = step(blank(), exceed(AlertLevel.RESTRICT_PRODUCTION), T0, COND).alert
    lower = step(high, exceed(), T0 + MINUTE, COND).alert
    assert lower.level is AlertLevel.RESTRICT_PRODUCTION


def test_repeat_notice_after_the_interval_unless_acknowledged() -> None:
    fired = step(blank(), exceed(), T0, COND).alert
    assert fired.due_at == T0 + 60 * MINUTE
    early = step(fired, Tick(), T0 + 59 * MINUTE, COND)
    assert early.intents == ()
    due = step(fired, Tick(), T0 + 60 * MINUTE, COND)
    assert notices(due) == [NoticeKind.REPEAT]
    acked = step(fired, Acknowledge("李四"), T0 + MINUTE, COND).alert
    assert acked.due_at is None
    assert step(acked, Tick(), T0 + 120 * MINUTE, COND).intents == ()


def test_resolved_notice_only_after_a_notice_was_sent() -> None:
    fired = step(blank(), exceed(), T0, COND).alert
    resolved = step(fired, clear(), T0 + MINUTE, COND)
    assert resolved.alert.state is AlertState.RESOLVED
    assert notices(resolved) == [NoticeKind.RESOLVED]
    in_maintenance = Conditions(COND.repeat_interval, COND.held_recheck, T0 + 90 * MINUTE)
    silent = step(blank(), exceed(), T0, in_maintenance).alert
    assert notices(step(silent, clear(), T0 + MINUTE, in_maintenance)) == []


def test_maintenance_holds_notices_but_records_the_transition() -> None:
    window_end = T0 + 30 * MINUTE
    cond = Conditions(COND.repeat_interval, COND.held_recheck, suppressed_until=window_end)
    result = step(blank(), exceed(), T0, cond)
    assert result.alert.state is AlertState.FIRING
    assert result.intents == ()
    assert result.events[0].evidence["held_back"] == "maintenance"
    assert result.alert.due_at == window_end
    released = step(result.alert, Tick(), window_end, COND)
    assert notices(released) == [NoticeKind.OPENED]
    assert [e.kind for e in released.events] == ["notified"]


def test_inhibition_holds_exceedance_noise_but_not_restriction() -> None:
    cond = Conditions(COND.repeat_interval, COND.held_recheck, inhibited=True)
    assert step(blank(), exceed(), T0, cond).intents == ()
    restrict = step(blank(), exceed(AlertLevel.RESTRICT_PRODUCTION), T0, cond)
    assert notices(restrict) == [NoticeKind.OPENED]


def test_quality_alert_is_pending_first_and_withdrawn_without_notice() -> None:
    raise_dq = Raise(AlertLevel.DATA_QUALITY, "dq", {}, "v1", pending_for=5 * MINUTE)
    pending = step(blank(QKEY), raise_dq, T0, COND)
    assert pending.alert.state is AlertState.PENDING and pending.intents == ()
    assert pending.alert.due_at == T0 + 5 * MINUTE
    withdrawn = step(pending.alert, clear(), T0 + 2 * MINUTE, COND)
    assert withdrawn.alert.state is AlertState.RESOLVED
    assert [e.kind for e in withdrawn.events] == ["withdrawn"] and withdrawn.intents == ()
    fired = step(pending.alert, Tick(), T0 + 5 * MINUTE, COND)
    assert fired.alert.state is AlertState.FIRING and notices(fired) == [NoticeKind.OPENED]


def test_clear_with_hysteresis_resolves_on_tick_and_a_new_raise_cancels_it() -> None:
    fired = step(blank(), exceed(), T0, COND).alert
    clearing = step(fired, clear(10 * MINUTE), T0 + MINUTE, COND).alert
    assert clearing.state is AlertState.FIRING and clearing.clearing_until == T0 + 11 * MINUTE
    back = step(clearing, exceed(), T0 + 5 * MINUTE, COND).alert
    assert back.clearing_until is None
    resolved = step(clearing, Tick(), T0 + 11 * MINUTE, COND)
    assert resolved.alert.state is AlertState.RESOLVED


def test_persistent_quality_alert_escalates_to_tell_the_regulator() -> None:
    raise_dq = Raise(AlertLevel.DATA_QUALITY, "dq", {}, "v1", escalate_after=timedelta(hours=24))
    fired = step(blank(QKEY), raise_dq, T0, COND).alert
    assert fired.escalate_at == T0 + timedelta(hours=24)
    escalated = step(fired, Tick(), T0 + timedelta(hours=24), COND)
    assert escalated.alert.state is AlertState.ESCALATED
    assert escalated.alert.level is AlertLevel.DATA_QUALITY
    assert notices(escalated) == [NoticeKind.ESCALATED]


def test_a_new_episode_reopens_the_same_record() -> None:
    first = step(blank(), exceed(), T0, COND).alert
    resolved = step(first, clear(), T0 + MINUTE, COND).alert
    second = step(resolved, exceed(), T0 + 2 * MINUTE, COND).alert
    assert second.alert_id == first.alert_id and second.episode == 2
    assert second.state is AlertState.FIRING and second.acknowledged_by is None


def test_acknowledging_a_resolved_alert_is_refused() -> None:
    with pytest.raises(AlertNotOpen) as caught:
        step(blank(), Acknowledge("王五"), T0, COND)
    assert caught.value.state == "resolved"


def test_acknowledgement_is_logged_with_the_actor() -> None:
    fired = step(blank(), exceed(), T0, COND).alert
    result = step(fired, Acknowledge("王五", "已安排检修"), T0 + MINUTE, COND)
    (event,) = result.events
    assert event.actor == "王五" and event.kind == "acknowledged"
    assert event.evidence == {"note": "已安排检修"}


def dq_raise(at: datetime) -> Raise:
    return Raise(
        AlertLevel.DATA_QUALITY,
        "data_quality",
        {},
        "v1",
        pending_for=5 * MINUTE,
        escalate_after=timedelta(hours=24),
        observed_at=at,
    )


def dq_clear(at: datetime) -> Clear:
    return Clear({}, "v1", clear_for=10 * MINUTE, observed_at=at)


def history(*results: StepResult) -> list[tuple[str, datetime]]:
    return [(e.kind, e.at) for r in results for e in r.events]


def test_a_retroactive_pair_longer_than_pending_fires_and_resolves_at_its_own_times() -> None:
    now = T0 + timedelta(days=2)  # the pair arrives long after the outage
    start, end = T0 + 65 * MINUTE, T0 + 3 * 60 * MINUTE
    raised = step(blank(QKEY), dq_raise(start), now, COND)
    cleared = step(raised.alert, dq_clear(end), now, COND)
    assert cleared.alert.state is AlertState.FIRING
    due = cleared.alert.due_at
    assert due is not None and due <= now  # the hysteresis is long over: due at the next tick
    resolved = step(cleared.alert, Tick(), now, COND)
    assert history(raised, cleared, resolved) == [
        ("pending", start),
        ("fired", start + 5 * MINUTE),
        ("resolved", end + 10 * MINUTE),
    ]
    assert (resolved.alert.fired_at, resolved.alert.resolved_at) == (
        start + 5 * MINUTE,
        end + 10 * MINUTE,
    )
    assert notices(cleared) + notices(resolved) == [NoticeKind.OPENED, NoticeKind.RESOLVED]


def test_a_retroactive_pair_shorter_than_pending_is_withdrawn() -> None:
    now = T0 + timedelta(days=2)
    raised = step(blank(QKEY), dq_raise(T0), now, COND)
    withdrawn = step(raised.alert, dq_clear(T0 + 4 * MINUTE), now, COND)
    assert withdrawn.alert.state is AlertState.RESOLVED and withdrawn.intents == ()
    assert history(raised, withdrawn) == [("pending", T0), ("withdrawn", T0 + 4 * MINUTE)]


def test_an_outage_past_the_escalation_time_escalates_before_it_resolves() -> None:
    now = T0 + timedelta(days=3)
    raised = step(blank(QKEY), dq_raise(T0), now, COND)
    cleared = step(raised.alert, dq_clear(T0 + timedelta(hours=30)), now, COND)
    assert [kind for kind, _ in history(raised, cleared)] == ["pending", "fired", "escalated"]
    assert notices(cleared) == [NoticeKind.OPENED, NoticeKind.ESCALATED]


def test_an_observed_time_never_moves_an_alert_back_nor_past_now() -> None:
    fired = step(blank(QKEY), dq_raise(T0), T0 + 5 * MINUTE, COND)  # pending, at T0
    late = step(fired.alert, Tick(), T0 + 20 * MINUTE, COND).alert  # fired at T0 + 20 min
    before_it = step(late, dq_clear(T0 + 10 * MINUTE), T0 + 30 * MINUTE, COND).alert
    assert before_it.clearing_until == T0 + 30 * MINUTE  # counted from T0 + 20 min
    future = step(blank(QKEY), dq_raise(T0 + timedelta(hours=1)), T0, COND).alert
    assert future.opened_at == T0 and future.pending_until == T0 + 5 * MINUTE


def test_in_accelerated_time_a_tick_between_a_pair_puts_its_clearing_on_the_wall_clock() -> None:
    # Why the simulator's accelerated registry keeps quality_pending/resolve_minutes at 0
    # (ingest/cli.py): a calibration episode of 2 simulated hours lasts 4 s of wall time at
    # 1800×. Its Raise is stamped in the (simulated) past, the service's tick fires it at
    # wall-clock `now`, and the Clear stamped 2 simulated hours later is then clamped to that
    # tick: the alert resolves quality_resolve_minutes of wall time later, after the demo.
    # With both durations 0 it fires at its stamp and resolves as soon as the Clear arrives.
    wall = T0 + timedelta(hours=12)
    start, end = T0, T0 + timedelta(hours=2)
    raised = step(blank(QKEY), dq_raise(start), wall, COND)
    ticked = step(raised.alert, Tick(), wall + timedelta(seconds=2), COND)
    cleared = step(ticked.alert, dq_clear(end), wall + timedelta(seconds=4), COND)
    assert cleared.alert.state is AlertState.FIRING
    assert cleared.alert.clearing_until == wall + timedelta(seconds=2) + 10 * MINUTE
    at_once = Clear({}, "v1", observed_at=end)
    fired = step(blank(QKEY), replace(dq_raise(start), pending_for=timedelta(0)), wall, COND)
    ticked = step(fired.alert, Tick(), wall + timedelta(seconds=2), COND)
    resolved = step(ticked.alert, at_once, wall + timedelta(seconds=4), COND)
    assert resolved.alert.state is AlertState.RESOLVED
    assert history(fired)[0] == ("fired", start)

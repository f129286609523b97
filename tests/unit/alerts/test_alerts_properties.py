"""Properties of the engine over random verdict sequences (hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from alerts_fixtures import LEAD, POWER, SEWAGE, T0, demo_registry, verdict
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.engine import Batch, OutboxRow, World
from alerts.model import AlertRecord, EventRecord, OrderAction, RegulatorOrder
from alerts.routing import Audience, Subscription
from schemas.alert import AlertLevel
from schemas.verdict import Verdict

STATUSES = st.sampled_from(["compliant", "warning", "exceedance", "severe", "invalid"])
SUBS = (
    Subscription(1, POWER[0], Audience.ENTERPRISE, "json://a", AlertLevel.DATA_QUALITY),
    Subscription(2, SEWAGE[0], Audience.ENTERPRISE, "json://b", AlertLevel.DATA_QUALITY),
)


def run(
    verdicts: list[Verdict], world: World, records: dict[str, AlertRecord] | None = None
) -> tuple[dict[str, AlertRecord], list[EventRecord], list[OutboxRow]]:
    """Feed verdicts one batch each, a minute apart, carrying the records over."""
    records = dict(records or {})
    events: list[EventRecord] = []
    outbox: list[OutboxRow] = []
    for index, item in enumerate(verdicts):
        batch = Batch(world, records, T0 + timedelta(days=3, minutes=index))
        batch.verdict(item)
        records, events, outbox = batch.records, events + batch.events, outbox + batch.outbox
    return records, events, outbox


def episodes_never_overlap(events: list[EventRecord]) -> None:
    open_episode: dict[str, int | None] = defaultdict(lambda: None)
    last_episode: dict[str, int] = defaultdict(int)
    for event in events:
        current = open_episode[event.alert_id]
        if current is None:
            assert event.kind in ("pending", "fired"), event
            assert event.episode == last_episode[event.alert_id] + 1
            open_episode[event.alert_id] = event.episode
        else:
            assert event.episode == current, "two episodes open at once"
        last_episode[event.alert_id] = event.episode
        if event.kind in ("resolved", "withdrawn"):
            open_episode[event.alert_id] = None


hours = st.lists(
    st.tuples(st.integers(0, 40), STATUSES, st.sampled_from(["a21026", "a21002"])), max_size=60
)


@settings(max_examples=150, deadline=None)
@given(hours)
def test_never_two_open_alerts_for_one_key_even_out_of_order(
    items: list[tuple[int, str, str]],
) -> None:
    world = World(demo_registry(), subscriptions=SUBS)
    verdicts = [verdict(h, s, factor=f) for h, s, f in items]
    records, events, _ = run(verdicts, world)
    episodes_never_overlap(events)
    assert len({r.key for r in records.values()}) == len(records)


@settings(max_examples=150, deadline=None)
@given(st.lists(STATUSES, max_size=48))
def test_flapping_notices_are_bounded_by_hysteresis(statuses: list[str]) -> None:
    """In-order hours: an alert re-opens only after it resolved, and each resolution consumes
    `resolve_after` consecutive hours within the limit (invalid hours transparent) that no other
    resolution uses; so opened notices ≤ 1 + Σ over maximal within-limit runs of len // need."""
    world = World(demo_registry(), subscriptions=SUBS)
    _, _, outbox = run([verdict(h, s) for h, s in enumerate(statuses)], world)
    need = world.registry.policy.resolve_after_compliant_hours
    runs, streak = 0, 0
    for status in [*statuses, "exceedance"]:
        if status == "invalid":
            continue
        if status in ("compliant", "warning"):
            streak += 1
        else:
            runs, streak = runs + streak // need, 0
    opened = sum(row.kind == "opened" for row in outbox)
    assert opened <= 1 + runs
    assert sum(row.kind == "resolved" for row in outbox) <= opened
    assert sum(row.kind == "escalated" for row in outbox) <= 3 * opened


def test_alternating_exceedance_and_compliance_notifies_once() -> None:
    world = World(demo_registry(), subscriptions=SUBS)
    statuses = ["exceedance", "compliant"] * 12
    _, events, outbox = run([verdict(h, s) for h, s in enumerate(statuses)], world)
    assert [row.kind for row in outbox] == ["opened"]
    assert [e.kind for e in events] == ["fired"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), STATUSES), max_size=50),
    st.booleans(),
    st.integers(0, 30),
)
def test_art7_facility_never_reaches_suspension(
    items: list[tuple[int, str]], restricted: bool, order_hour: int
) -> None:
    orders = (
        (
            RegulatorOrder(
                1, SEWAGE[0], None, OrderAction.RESTRICT, T0 + timedelta(hours=order_hour), T0, "x"
            ),
        )
        if restricted
        else ()
    )
    world = World(demo_registry(), orders=orders, subscriptions=SUBS)
    verdicts = [verdict(h, s, site=SEWAGE, factor=LEAD, limit=0.2) for h, s in items]
    records, events, outbox = run(verdicts, world)
    assert all(e.level < AlertLevel.SUSPEND_FOR_RECTIFICATION for e in events)
    assert all(r.level < AlertLevel.SUSPEND_FOR_RECTIFICATION for r in records.values())
    assert all(row.level < AlertLevel.SUSPEND_FOR_RECTIFICATION for row in outbox)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), STATUSES), max_size=40))
def test_replaying_the_same_verdicts_changes_nothing(items: list[tuple[int, str]]) -> None:
    """At-least-once input: a replay after a crash must not notify or log again."""
    world = World(demo_registry(), subscriptions=SUBS)
    verdicts = [verdict(h, s) for h, s in items]
    latest: dict[object, Verdict] = {}
    for item in verdicts:
        latest[item.period_start] = item
    records, _, _ = run(verdicts, world)
    replayed, events, outbox = run(list(latest.values()), world, records)
    assert events == [] and outbox == []
    assert {k: (r.state, r.level, r.episode) for k, r in replayed.items()} == {
        k: (r.state, r.level, r.episode) for k, r in records.items()
    }


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), STATUSES, st.booleans()), max_size=40))
def test_no_enterprise_ever_gets_another_enterprises_notice(
    items: list[tuple[int, str, bool]],
) -> None:
    world = World(demo_registry(), subscriptions=SUBS)
    verdicts = [
        verdict(h, s, site=POWER) if a else verdict(h, s, site=SEWAGE, factor="w01018", limit=50.0)
        for h, s, a in items
    ]
    _, _, outbox = run(verdicts, world)
    for row in outbox:
        owner = {1: POWER[0], 2: SEWAGE[0]}[row.subscription_id]
        assert row.enterprise_id == owner
        other = SEWAGE if owner == POWER[0] else POWER
        assert other[1] not in row.body

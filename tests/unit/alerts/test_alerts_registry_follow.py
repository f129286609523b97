"""Hot reload of the alert service's registry: the inbox between the follow thread and the
loop, the swap between batches, the version every event records, the swap's log line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

from alerts_fixtures import POWER, T0, demo_registry, verdict

from alerts.engine import ALERTS_REGISTRY_VERSION, Batch, World
from alerts.model import AlertRecord
from alerts.registry_follow import (
    RegistryFollowThread,
    RegistryInbox,
    describe_change,
)
from alerts.service import AlertService
from runtime.kafka_access import KafkaAccess
from runtime.registry_watch import RegistryUpdates
from schemas.alert import AlertState
from schemas.registry import Enterprise, Registry

SO2_ALERT = f"{POWER[1]}/a21026/hourly_concentration"


def version(registry: Registry, name: str) -> Registry:
    return registry.model_copy(update={"version": name})


def with_enterprise(registry: Registry, enterprise: Enterprise) -> Registry:
    return registry.model_copy(update={"enterprises": [*registry.enterprises, enterprise]})


def test_the_inbox_hands_over_the_newest_registry_once() -> None:
    inbox = RegistryInbox()
    assert inbox.take() is None
    first, second = version(demo_registry(), "v2"), version(demo_registry(), "v3")
    inbox.offer(first)
    inbox.offer(second)
    offer = inbox.take()
    assert offer is not None and offer.registry is second and offer.superseded == 1
    assert inbox.take() is None


def updates_of(*registries: Registry) -> tuple[threading.Event, RegistryUpdates]:
    """A follower stand-in: yields ``registries`` then blocks until stopped, like the topic's."""
    done = threading.Event()

    def follow(stop: threading.Event) -> Iterator[Registry]:
        yield from registries
        done.set()
        stop.wait()

    return done, follow


def test_the_follow_thread_offers_what_is_published_and_the_service_swaps_only_when_asked() -> None:
    old, new = demo_registry(), version(demo_registry(resolve_after_compliant_hours=1), "v2")
    done, follow = updates_of(new)
    thread = RegistryFollowThread(follow, RegistryInbox())
    service = AlertService(
        KafkaAccess("127.0.0.1:1"), "unit", "postgresql://unused", old, updates=thread
    )
    thread.start()
    try:
        assert done.wait(10)
        assert service.registry is old  # nothing changes until the loop asks, between batches
        assert service.take_registry_update() is True
        assert service.registry is new
        assert service.take_registry_update() is False
    finally:
        thread.stop()
    assert not thread.failed


def test_a_failing_follower_leaves_the_service_on_its_registry() -> None:
    def follow(stop: threading.Event) -> Iterator[Registry]:
        raise RuntimeError("broker gone for good")
        yield  # pragma: no cover

    thread = RegistryFollowThread(follow, RegistryInbox())
    service = AlertService(
        KafkaAccess("127.0.0.1:1"), "unit", "postgresql://unused", demo_registry()
    )
    thread.start()
    thread.stop()
    assert thread.failed
    assert service.take_registry_update() is False


def test_alert_state_carries_over_a_swap_and_the_new_policy_applies_to_the_next_verdict() -> None:
    records: dict[str, AlertRecord] = {}
    before = World(version(demo_registry(resolve_after_compliant_hours=2), "v1"))
    after = World(version(demo_registry(resolve_after_compliant_hours=1), "v2"))
    now = T0 + timedelta(days=1)
    Batch(before, records, now).verdict(verdict(0, "exceedance"))
    first_clear = Batch(before, records, now + timedelta(minutes=1))
    first_clear.verdict(verdict(1, "compliant"))
    assert records[SO2_ALERT].state is AlertState.FIRING  # one compliant hour of two
    swapped = Batch(after, records, now + timedelta(minutes=2))
    swapped.verdict(verdict(2, "warning"))  # within the limit: counts as clear for it
    assert records[SO2_ALERT].state is AlertState.RESOLVED
    assert records[SO2_ALERT].episode == 1  # the same episode, resolved under v2
    assert [(e.kind, e.evidence[ALERTS_REGISTRY_VERSION]) for e in swapped.events] == [
        ("resolved", "v2")
    ]
    assert swapped.events[0].registry_version == "demo-province-2026.1"  # the verdict's


def test_every_event_records_the_registry_version_the_batch_applied() -> None:
    registry = version(demo_registry(), "alerts-v7")
    batch = Batch(World(registry), {}, T0 + timedelta(days=1))
    batch.verdict(verdict(0, "exceedance"))
    assert [e.kind for e in batch.events] == ["fired"]
    assert batch.events[0].evidence[ALERTS_REGISTRY_VERSION] == "alerts-v7"
    assert batch.events[0].to_schema().evidence[ALERTS_REGISTRY_VERSION] == "alerts-v7"


def test_the_swap_line_names_what_changes_for_the_ladder() -> None:
    old = demo_registry()
    sewage = next(e for e in old.enterprises if e.art7_facility)
    newcomer = sewage.model_copy(update={"id": "E-NEW-01", "outlets": []})
    flipped = [
        e.model_copy(update={"art7_facility": False}) if e.id == sewage.id else e
        for e in old.enterprises
    ]
    new = with_enterprise(
        demo_registry(resolve_after_compliant_hours=1, warning_fraction=0.7).model_copy(
            update={"enterprises": flipped}
        ),
        newcomer,
    )
    line = describe_change(old, new)
    assert "resolve_after_compliant_hours 2 → 1" in line
    assert "warning_fraction 0.8 → 0.7" in line
    assert "enterprises added E-NEW-01" in line
    assert f"art7_facility {sewage.id} True → False" in line
    assert describe_change(old, version(old, "v2")) == "no ladder change"
    assert "enterprises removed E-NEW-01" in describe_change(new, old)

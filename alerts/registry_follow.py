"""Hot reload of the alert service's registry: the registry topic's follower (kafka-python,
blocking) runs on its own thread and leaves each newly published registry in a one-slot inbox;
the service's loop takes it between two batches (``AlertService._loop``), never during one.

``RegistryUpdates`` (``runtime.registry_watch``) is any callable that, given a stop event,
blocks and yields the registries published from now on until the event is set; the CLI passes
``runtime.registry_topic.RegistryFollower.follow``. The thread never touches the service: it
prepares each registry (its device and outlet indexes are built there) and offers it; the
newest offer wins, since no input is applied between two versions offered before one take.

``describe_change`` (pure) says what a swap changes for the alert ladder, for the log line.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from runtime.registry_watch import RegistryUpdates, RegistryWatch
from schemas.registry import Registry


@dataclass(frozen=True, slots=True)
class RegistryOffer:
    """What ``RegistryInbox.take`` hands over: the newest registry offered and how many
    versions offered before it were never taken (superseded before the next batch)."""

    registry: Registry
    superseded: int = 0


class RegistryInbox:
    """A thread-safe slot holding the newest registry offered and not yet taken.

    ``offer`` (the follow thread) and ``take`` (the service loop) never block beyond a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._newest: Registry | None = None
        self._superseded = 0

    def offer(self, registry: Registry) -> None:
        """Keep ``registry`` as the newest; an untaken older one is superseded."""
        with self._lock:
            if self._newest is not None:
                self._superseded += 1
            self._newest = registry

    def take(self) -> RegistryOffer | None:
        """The newest registry offered since the last take (None: nothing new). Non-blocking."""
        with self._lock:
            newest, superseded = self._newest, self._superseded
            self._newest, self._superseded = None, 0
        return None if newest is None else RegistryOffer(newest, superseded)


class RegistryFollowThread(RegistryWatch):
    """The registry watch (``runtime.registry_watch``) delivering into ``inbox``: runs
    ``updates`` on a daemon thread and offers each registry there; ``failed`` when the follower
    raised (the service keeps the registry it has, no hot reload until restart)."""

    def __init__(self, updates: RegistryUpdates, inbox: RegistryInbox) -> None:
        super().__init__(
            updates, inbox.offer, owner="alert service", thread_name="alerts-registry-follow"
        )
        self.inbox = inbox


def describe_change(old: Registry, new: Registry) -> str:
    """What replacing ``old`` by ``new`` changes for the alert ladder, in one line: the policy
    settings that differ (``name old → new``), enterprises added and removed, and enterprises
    whose Order No. 30 Art. 7 flag (``art7_facility``) changed, and the number of devices when
    it changed. "no ladder change" when none of these differ."""
    parts: list[str] = []
    before, after = old.policy.model_dump(), new.policy.model_dump()
    changed = [
        f"{name} {before[name]} → {after[name]}" for name in after if before[name] != after[name]
    ]
    if changed:
        parts.append("policy " + ", ".join(changed))
    old_enterprises = {e.id: e for e in old.enterprises}
    new_enterprises = {e.id: e for e in new.enterprises}
    added = sorted(new_enterprises.keys() - old_enterprises.keys())
    removed = sorted(old_enterprises.keys() - new_enterprises.keys())
    if added:
        parts.append("enterprises added " + ", ".join(added))
    if removed:
        parts.append("enterprises removed " + ", ".join(removed))
    art7 = sorted(
        f"{eid} {old_enterprises[eid].art7_facility} → {e.art7_facility}"
        for eid, e in new_enterprises.items()
        if eid in old_enterprises and old_enterprises[eid].art7_facility != e.art7_facility
    )
    if art7:
        parts.append("art7_facility " + ", ".join(art7))
    devices_before, devices_after = _device_count(old), _device_count(new)
    if devices_before != devices_after:
        parts.append(f"devices {devices_before} → {devices_after}")
    return "; ".join(parts) if parts else "no ladder change"


def _device_count(registry: Registry) -> int:
    return sum(len(o.devices) for e in registry.enterprises for o in e.outlets)

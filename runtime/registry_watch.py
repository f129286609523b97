"""Hot reload of a registry: a follower that blocks (kafka-python) runs on its own thread and
hands each new registry to its user. Used by the HJ 212 gateway (``ingest.gateway.runner``),
the stream worker (``streams.worker``) and the alert service (``alerts.registry_follow``).

``RegistryUpdates`` is any callable that, given a stop event, blocks and yields the registries
published from now on until the event is set; the composition roots pass the registry topic's
follower (``runtime.registry_topic.RegistryFollower.follow``). The watch thread never touches
its user: it prepares each registry (its device index is built there, off the loop) and hands
it over through ``deliver``: onto an event loop (``on_loop``) or into the alert service's
inbox; the user decides where the swap happens (the gateway between two frames, the worker
and the alert service between two batches).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TypeAlias

from schemas.registry import Registry

RegistryUpdates: TypeAlias = Callable[[threading.Event], Iterable[Registry]]
"""Blocks and yields newly published registries until the event is set."""

_log = logging.getLogger(__name__)


def on_loop(
    loop: asyncio.AbstractEventLoop, apply: Callable[[Registry], None]
) -> Callable[[Registry], None]:
    """A ``deliver`` for ``RegistryWatch`` that runs ``apply(registry)`` on ``loop`` (through
    ``call_soon_threadsafe``); once the loop is closed (we are stopping) it does nothing."""

    def deliver(registry: Registry) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(apply, registry)

    return deliver


class RegistryWatch:
    """Runs ``updates`` on a daemon thread and calls ``deliver(registry)`` there for each.

    ``deliver`` must be thread-safe and quick: ``on_loop(loop, apply)`` for an asyncio user, a
    one-slot inbox's ``offer`` for a synchronous one. ``start`` returns at once; ``stop`` sets
    the stop event and joins the thread (blocking: call it from an executor when on a loop).
    If ``updates`` raises, the error is logged, ``failed`` becomes True and the user keeps the
    registry it has (no more hot reload until restart).
    """

    def __init__(
        self,
        updates: RegistryUpdates,
        deliver: Callable[[Registry], None],
        *,
        owner: str = "process",
        thread_name: str = "registry-watch",
    ) -> None:
        """``owner`` names the user in the log line of a failed follower."""
        self.failed = False
        self._updates = updates
        self._owner = owner
        self._deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the follower to stop and wait for the thread up to ``timeout_s`` (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            for registry in self._updates(self._stop):
                if self._stop.is_set():
                    return
                registry.device("")  # build the indexes here, not on the user's loop
                self._deliver(registry)
        except Exception:
            self.failed = True
            _log.exception("registry watch failed: the %s keeps its current registry", self._owner)

"""Hot reload of a registry: a follower that blocks (kafka-python) runs on its own thread and
hands each new registry to an asyncio event loop. Used by the HJ 212 gateway
(``ingest.gateway.runner``) and the stream worker (``streams.worker``).

``RegistryUpdates`` is any callable that, given a stop event, blocks and yields the registries
published from now on until the event is set; the composition roots pass the registry topic's
follower (``deploy.registry_topic.RegistryFollower.follow``). The watch thread never touches
its user: it prepares each registry (its device index is built there, off the loop) and hands
it over with ``loop.call_soon_threadsafe``; the user decides where the swap happens (the
gateway between two frames, the worker between two batches).
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


class RegistryWatch:
    """Runs ``updates`` on a daemon thread and calls ``apply(registry)`` on ``loop`` for each.

    ``start`` returns at once; ``stop`` sets the stop event and joins the thread (blocking: call
    it from an executor when on the loop). If ``updates`` raises, the error is logged and the
    user keeps the registry it has (no more hot reload until restart).
    """

    def __init__(
        self,
        updates: RegistryUpdates,
        apply: Callable[[Registry], None],
        loop: asyncio.AbstractEventLoop,
        *,
        owner: str = "process",
    ) -> None:
        """``owner`` names the user in the log line of a failed follower."""
        self._updates = updates
        self._owner = owner
        self._apply = apply
        self._loop = loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry-watch", daemon=True)

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
                registry.device("")  # build the MN index here, not on the loop
                with contextlib.suppress(RuntimeError):  # loop closed: we are stopping
                    self._loop.call_soon_threadsafe(self._apply, registry)
        except Exception:
            _log.exception("registry watch failed: the %s keeps its current registry", self._owner)

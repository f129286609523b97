"""The HJ 212 gateway: an asyncio TCP server that owns the connections, the Kafka publisher,
the global in-flight budget, the devices-online count and the periodic sweep (idle timeout,
split-packet expiry).

Lifecycle: ``Gateway.start`` binds and accepts; ``Gateway.stop`` stops accepting, lets records
in flight be acknowledged (and their acks written) for up to ``drain_timeout_s``, closes the
connections and the producer. Everything runs on one event loop; gateways scale out as
processes (``reuse_port``) or hosts, each with its own producer (design.md: stateless
gateways, partition by MN).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from datetime import UTC, datetime
from typing import Final

from ingest.gateway.admission import Admission
from ingest.gateway.config import GatewayConfig
from ingest.gateway.connection import Hj212Connection
from ingest.gateway.deadletter_budget import DeadLetterBudget, Suppressed
from ingest.gateway.publisher import Completion, KafkaPublisher
from ingest.gateway.stats import GatewayStats
from runtime.raw_record import Headers
from schemas.envelope import DeadLetter
from schemas.registry import Registry

_SWEEP_MAX_S: Final = 5.0


class Gateway:
    """Shared state of all connections of one gateway process (the connections' ``Hub``)."""

    def __init__(
        self,
        config: GatewayConfig,
        admission: Admission,
        publisher: KafkaPublisher,
        stats: GatewayStats | None = None,
    ) -> None:
        self.config = config
        self.admission = admission
        self.stats = stats or GatewayStats()
        self.stats.registry_version = admission.registry.version
        self.inflight_total = 0
        self._publisher = publisher
        self._connections: set[Hj212Connection] = set()
        self._devices: dict[str, int] = {}  # MN -> open connections it authenticated on
        self._peers: dict[str, int] = {}  # peer IP address -> open connections
        self.deadletter_budget = DeadLetterBudget(
            config.deadletters_per_peer, config.deadletter_window_s
        )
        self._waiting: set[Hj212Connection] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- what connections call -------------------------------------------------------------

    def send(
        self, topic: str, key: bytes, value: bytes, done: Completion, headers: Headers = ()
    ) -> None:
        def settled(error: BaseException | None) -> None:
            done(error)
            self._wake_waiting()

        self._publisher.send(topic, key, value, settled, headers)

    def opened(self, connection: Hj212Connection) -> bool:
        if len(self._connections) >= self.config.max_connections:
            self.stats.connections["refused_limit"] += 1
            return False
        host = connection.peer_host
        per_peer = self.config.max_connections_per_peer
        if per_peer and self._peers.get(host, 0) >= per_peer:
            self.stats.connections["refused_peer_limit"] += 1
            return False
        self._peers[host] = self._peers.get(host, 0) + 1
        self._connections.add(connection)
        self.stats.connections["accepted"] += 1
        return True

    def closed(self, connection: Hj212Connection) -> None:
        if connection in self._connections:
            left = self._peers.get(connection.peer_host, 0) - 1
            if left > 0:
                self._peers[connection.peer_host] = left
            else:
                self._peers.pop(connection.peer_host, None)
        self._connections.discard(connection)
        self._waiting.discard(connection)

    def device_online(self, mn: str) -> None:
        self._devices[mn] = self._devices.get(mn, 0) + 1

    def device_offline(self, mn: str) -> None:
        left = self._devices.get(mn, 0) - 1
        if left > 0:
            self._devices[mn] = left
        else:
            self._devices.pop(mn, None)

    def wait_for_budget(self, connection: Hj212Connection) -> None:
        self._waiting.add(connection)

    def use_registry(self, registry: Registry) -> str:
        """Authenticate every frame from now on against ``registry`` (hot reload); return the
        version it replaces. Call on the gateway's loop: the swap is one attribute assignment
        between two frames, so a frame is judged by one registry, the old or the new. A device
        the new registry lacks is refused at its next frame (``auth_unknown_mn``); its
        connection stays open until ``max_auth_failures`` closes it."""
        previous = self.admission.registry.version
        self.admission = Admission(registry, self.config.clock_skew_limit_s, self.config.device_key)
        self.stats.registry_version = registry.version
        self.stats.registry_swaps += 1
        return previous

    # -- views -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (useful with ``port=0``). Raises ``RuntimeError`` before start."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("gateway is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connections_open(self) -> int:
        return len(self._connections)

    @property
    def devices_online(self) -> int:
        """Distinct MNs authenticated on at least one open connection."""
        return len(self._devices)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start accepting connections. Raises ``OSError`` when the port is taken."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Hj212Connection(self),
            self.config.host,
            self.config.port,
            reuse_port=self.config.reuse_port or None,
            backlog=1024,
        )
        self._sweeper = asyncio.create_task(self._sweep(), name="gateway-sweep")

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Stop accepting and reading; handle every complete frame already received (whatever
        the budgets); drain records in flight (acks still written) for up to
        ``drain_timeout_s``; close everything (the producer flushes what is queued)."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for connection in list(self._connections):
            connection.finish()
        deadline = time.monotonic() + drain_timeout_s
        while self.inflight_total > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for connection in list(self._connections):
            connection.close("shutdown")
        await asyncio.sleep(0)  # let transports flush and report connection_lost
        self._publish_suppressed(math.inf)
        await self._publisher.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _sweep(self) -> None:
        """Close connections past their frame deadlines and expire split packets, every few
        seconds. Only a complete frame is progress: a connection that has sent none within
        ``first_frame_timeout_s`` of connecting is closed (``no_frame``), one without a new
        frame for ``idle_timeout_s`` too (``idle``), whatever bytes it trickles; never one
        the gateway paused itself."""
        config = self.config
        shortest = min(config.idle_timeout_s, config.first_frame_timeout_s)
        interval = min(_SWEEP_MAX_S, max(0.05, shortest / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            self._publish_suppressed(now)
            for connection in list(self._connections):
                connection.expire_splits(now)
                if connection.waiting_for_budget:
                    continue
                if (
                    connection.frames_seen == 0
                    and now - connection.connected_at >= config.first_frame_timeout_s
                ):
                    connection.refuse("no_frame")
                elif now - connection.last_frame_at >= config.idle_timeout_s:
                    connection.close("idle")

    def _publish_suppressed(self, now: float) -> None:
        """One summary dead letter per (peer, reason) whose window ended with dead letters
        suppressed: the counts in its message, a sample of their bytes as its payload."""
        for summary in self.deadletter_budget.expired(now):
            self._publisher.send(
                self.config.deadletter_topic,
                summary.peer_host.encode(),
                _summary_record(self.config, summary).model_dump_json().encode(),
                self._summary_sent,
            )

    def _summary_sent(self, error: BaseException | None) -> None:
        if error is None:
            self.stats.published["deadletter"] += 1
        else:
            self.stats.publish_failed["deadletter"] += 1

    def _wake_waiting(self) -> None:
        """Resume connections paused by the global budget once it is half free."""
        if not self._waiting or self.inflight_total > self.config.max_inflight_total // 2:
            return
        waiting, self._waiting = self._waiting, set()
        for connection in waiting:
            connection.pump()


def _summary_record(config: GatewayConfig, summary: Suppressed) -> DeadLetter:
    return DeadLetter(
        source=config.deadletter_source,
        reason=summary.reason,
        message=(
            f"{summary.count} more {summary.reason} dead letters from {summary.peer_host} "
            f"({summary.payload_bytes} bytes) suppressed within {summary.window_s:g} s; "
            f"payload: the first {len(summary.sample)} bytes of the first"
        ),
        peer=summary.peer_host,
        device_id=None,
        received_at=datetime.now(UTC),
        payload=summary.sample,
    )

"""Run a gateway: ``serve`` (a coroutine, for the CLI) and ``GatewayThread`` (a gateway on its
own event loop in a background thread, for tests, the demo and the benchmark).

``serve`` connects the producer (creating the raw and dead-letter topics when missing, with the
partitions of ``schemas.topics.CATALOGUE``), starts listening, optionally serves Prometheus
metrics and reports a summary line every ``summary_interval_s``, and stops cleanly when
``stop`` is set. Given ``updates`` (a registry follower), it swaps each newly published
registry in while serving (``runtime.registry_watch``) and logs one line per swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from ingest.gateway.admission import Admission
from ingest.gateway.config import GatewayConfig
from ingest.gateway.metrics import serve_metrics
from ingest.gateway.publisher import KafkaPublisher, ProducerOptions
from ingest.gateway.server import Gateway
from ingest.gateway.stats import GatewayStats
from ingest.gateway.summary import SummaryWindow
from runtime.registry_watch import RegistryUpdates, RegistryWatch, on_loop
from runtime.topics import KafkaTopic
from schemas.registry import Registry
from schemas.topics import CATALOGUE, Topic

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How ``serve`` runs besides the gateway's own config.

    ``metrics_port``: Prometheus endpoint (``None``: none); ``summary_interval_s``: seconds
    between summary lines (``None``: none); ``drain_timeout_s``: at stop, how long records in
    flight may still be acknowledged.
    """

    metrics_port: int | None = None
    summary_interval_s: float | None = None
    drain_timeout_s: float = 10.0


def _partitions(topic: Topic) -> int:
    return next(spec.partitions for spec in CATALOGUE if spec.topic is topic)


async def serve(
    config: GatewayConfig,
    registry: Registry,
    producer: ProducerOptions,
    stop: asyncio.Event,
    options: RunOptions | None = None,
    on_summary: Callable[[str], None] | None = None,
    on_ready: Callable[[Gateway], None] | None = None,
    *,
    updates: RegistryUpdates | None = None,
) -> GatewayStats:
    """Run one gateway until ``stop`` is set; return its final stats.

    ``registry`` is used from the start; ``updates``, when given, yields the registries
    published later, each swapped in as it arrives (``Gateway.use_registry``).
    Raises ``KafkaError`` when Kafka cannot be reached and ``OSError`` when a port is taken.
    """
    options = options or RunOptions()
    topics = [
        KafkaTopic(config.raw_topic, _partitions(Topic.RAW_HJ212)),
        KafkaTopic(config.deadletter_topic, _partitions(Topic.DEADLETTER)),
    ]
    if config.energy_topic is not None:
        topics.append(KafkaTopic(config.energy_topic, _partitions(Topic.RAW_ENERGY)))
    publisher = await KafkaPublisher.start(producer, topics)
    gateway = Gateway(
        config, Admission(registry, config.clock_skew_limit_s, config.device_key), publisher
    )
    try:
        await gateway.start()
    except BaseException:
        await publisher.close()
        raise
    if options.metrics_port is not None:
        serve_metrics(
            options.metrics_port,
            gateway.stats,
            lambda: (gateway.connections_open, gateway.devices_online, gateway.inflight_total),
        )
    if on_ready is not None:
        on_ready(gateway)
    reporter = None
    if options.summary_interval_s and on_summary is not None:
        reporter = asyncio.create_task(_report(gateway, options.summary_interval_s, on_summary))
    loop = asyncio.get_running_loop()
    watch = None
    if updates is not None:
        watch = RegistryWatch(
            updates, on_loop(loop, lambda new: _swap(gateway, new)), owner="gateway"
        )
        watch.start()
    try:
        await stop.wait()
    finally:
        if watch is not None:
            await loop.run_in_executor(None, watch.stop)
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        await gateway.stop(options.drain_timeout_s)
    return gateway.stats


def _swap(gateway: Gateway, registry: Registry) -> None:
    previous = gateway.use_registry(registry)
    devices = sum(len(o.devices) for e in registry.enterprises for o in e.outlets)
    _log.info(
        "registry %s → %s: %d enterprises, %d devices authenticated from now on",
        previous,
        registry.version,
        len(registry.enterprises),
        devices,
    )


async def _report(gateway: Gateway, interval_s: float, emit: Callable[[str], None]) -> None:
    window = SummaryWindow(gateway.stats, time.monotonic())
    while True:
        await asyncio.sleep(interval_s)
        emit(window.line(time.monotonic(), gateway.connections_open, gateway.devices_online))


class GatewayThread:
    """A gateway serving on a background thread's event loop.

    ``with GatewayThread(config, registry, producer) as running:`` returns once the gateway
    listens (``running.port``) and stops it on exit; ``updates`` as for ``serve``. Stats and
    counts are read from the caller's thread (plain integers; a reading may be a moment
    stale). Raises what ``serve`` raises, in the caller's thread, when the gateway cannot
    start.
    """

    def __init__(
        self,
        config: GatewayConfig,
        registry: Registry,
        producer: ProducerOptions,
        options: RunOptions | None = None,
        on_summary: Callable[[str], None] | None = None,
        *,
        updates: RegistryUpdates | None = None,
    ) -> None:
        self._args = (config, registry, producer, options, on_summary)
        self._updates = updates
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.gateway: Gateway | None = None
        self._thread = threading.Thread(target=self._run, name="hj212-gateway", daemon=True)

    @property
    def port(self) -> int:
        assert self.gateway is not None, "gateway not started"
        return self.gateway.port

    @property
    def stats(self) -> GatewayStats:
        assert self.gateway is not None, "gateway not started"
        return self.gateway.stats

    def __enter__(self) -> GatewayThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the gateway and wait for its thread (idempotent)."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)

    def call(self, function: Callable[[], object]) -> None:
        """Run ``function`` on the gateway's loop (e.g. to read state consistently)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(function)

    def _run(self) -> None:
        config, registry, producer, options, on_summary = self._args

        def ready(gateway: Gateway) -> None:
            self.gateway = gateway
            self._ready.set()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await serve(
                config,
                registry,
                producer,
                self._stop,
                options,
                on_summary,
                ready,
                updates=self._updates,
            )

        try:
            asyncio.run(main())
        except BaseException as error:  # reported to the caller of __enter__
            self._error = error
        finally:
            self._ready.set()

"""Run one stream worker (``greenwatch worker``): the composition root of ``streams``.

``run_worker(settings, tuning)`` loads the registry, creates the catalogue's topics that are
missing (partitions and cleanup policy from ``schemas.topics.CATALOGUE``), builds the one
psycopg pool, the sink, the store and the engine, adds the agents to the faust App and runs
a faust Worker until SIGTERM/SIGINT. Several processes with the same settings form one
consumer group and split the raw topic's partitions.

Blocks; exits the process (faust's Worker raises ``SystemExit``). Raises ``WorkerError``
before starting when the registry file is not set or invalid, or Kafka cannot be reached.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field
from typing import Any

import faust
from kafka.errors import KafkaError
from prometheus_client import start_http_server

from deploy.topics import catalogue_topics
from deploy.topics import ensure_topics as create_missing_topics
from greenwatch.settings import Settings, database_dsn, kafka_servers
from schemas.registry import Registry, RegistryError, load_registry
from streams.agents import register_agents
from streams.app import WorkerTuning, create_app, stream_topics
from streams.domain.engine import Engine
from streams.domain.normalize import normalize_packet
from streams.metrics import StreamMetrics
from streams.pipeline import Pipeline
from streams.sink import PgSink, create_pool
from streams.store import PgStore

log = logging.getLogger(__name__)


class WorkerError(Exception):
    """The worker cannot start (carries the reason, shown to the operator)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Process-level options: the tuning plus the metrics port (0 = no HTTP endpoint)."""

    tuning: WorkerTuning = field(default_factory=WorkerTuning)
    metrics_port: int = 0
    loglevel: str = "info"


def ensure_topics(bootstrap: str, prefix: str, timeout_s: float = 30.0) -> list[str]:
    """Create the catalogue's missing topics under ``prefix``; returns the names created.

    Raises WorkerError when Kafka does not answer within about ``timeout_s``.
    """
    try:
        return create_missing_topics(
            bootstrap,
            catalogue_topics(prefix),
            client_id="greenwatch-worker-setup",
            timeout_s=timeout_s,
        )
    except KafkaError as error:
        raise WorkerError(f"cannot create topics on {bootstrap}: {error}") from error


class _Worker(faust.Worker):
    """faust's Worker, telling the pipeline to stop before the app waits for its acks."""

    def __init__(self, app: faust.App, pipeline: Pipeline, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._pipeline = pipeline

    async def on_stop(self) -> None:
        # Runs before the app stops: a batch retrying the database gives up and the process
        # ends unacked (agents.die) instead of waiting forever in faust's wait_empty.
        self._pipeline.stop()
        await super().on_stop()


def _tune_garbage_collector() -> None:
    """Fewer, later cyclic collections: a batch allocates ~10⁵ short-lived objects (models,
    rows) that reference counting frees, and with the default thresholds the collector
    would also scan the engine's and the registry's long-lived objects several times per
    batch (measured: ~20 % of a worker's CPU at 10 000 devices). What is alive now (the
    registry, imported modules) is frozen out of collection for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _registry(settings: Settings) -> Registry:
    if settings.registry_file is None:
        raise WorkerError("no registry: set GREENWATCH_REGISTRY_FILE to the registry YAML")
    try:
        return load_registry(settings.registry_file)
    except RegistryError as error:
        raise WorkerError(str(error)) from error


def run_worker(settings: Settings, options: WorkerOptions) -> None:
    """Start the worker and block until it stops (see the module docstring)."""
    registry = _registry(settings)
    _tune_garbage_collector()
    created = ensure_topics(kafka_servers(settings), settings.topic_prefix)
    if created:
        log.info("created topics %s", ", ".join(created))
    metrics = StreamMetrics.create()
    if options.metrics_port:
        start_http_server(options.metrics_port, addr="127.0.0.1")
    pool = create_pool(database_dsn(settings))
    pipeline = Pipeline(
        registry,
        engine_factory=Engine,
        normalize=normalize_packet,
        sink=PgSink(pool, metrics=metrics),
        store=PgStore(pool),
        metrics=metrics,
    )
    app = create_app(settings, options.tuning)
    register_agents(app, stream_topics(app, settings.topic_prefix), pipeline, options.tuning,
                    metrics)  # fmt: skip
    worker = _Worker(app, pipeline, loglevel=options.loglevel, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        pool.close()

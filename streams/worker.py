"""Run one stream worker (``greenwatch worker``): the composition root of ``streams``.

``run_worker(settings, options)`` gets the registry, creates those of its own topics
(``worker_topics``: the ones it reads or writes) that are missing (partitions and cleanup
policy from ``schemas.topics.CATALOGUE``), builds the one psycopg pool, the sink, the store
and the engine, adds the agents to the faust App and runs a faust Worker until SIGTERM/SIGINT.
Several processes with the same settings form one consumer group and split the raw topic's
partitions.

The registry comes from a file (``--registry`` or ``GREENWATCH_REGISTRY_FILE``), read once,
or else from the registry topic ``<prefix>.registry`` (``greenwatch db load-registry``): the
worker waits for the version in force, starts with it and follows the topic, each new version
swapped in between two batches (``CommitLane.swap_registry`` → ``Pipeline.prepare_registry``).

Blocks; exits the process (faust's Worker raises ``SystemExit``). Raises ``WorkerError``
before starting when the registry file is invalid, no valid registry is published on the
topic within ``WorkerOptions.registry_wait_s``, or Kafka cannot be reached.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from kafka.errors import KafkaError
from prometheus_client import start_http_server

from runtime.kafka_access import KafkaAccess, Principal, kafka_access
from runtime.kafka_acls import RIGHTS
from runtime.registry_topic import (
    NO_REGISTRY_HINT,
    InvalidRegistryRecord,
    NoRegistryPublished,
    RegistrySource,
    open_registry_source,
)
from runtime.registry_watch import RegistryWatch, on_loop
from runtime.settings import DbLogin, Settings, database_dsn, registry_key
from runtime.topics import catalogue_topics
from runtime.topics import ensure_topics as create_missing_topics
from schemas.registry import RegistryError
from schemas.topics import Topic
from streams.agents import CommitLane, register_agents
from streams.app import WorkerTuning, create_app, stream_topics
from streams.domain.engine import Engine
from streams.domain.errors import StreamsError
from streams.domain.normalize import normalize_packet
from streams.lane_trace import LaneTrace
from streams.metrics import StreamMetrics
from streams.pipeline import Pipeline
from streams.process_memory import (
    TRIM_INTERVAL_S,
    limit_malloc_arenas,
    release_free_memory,
)
from streams.registry_file import load_registry_apart
from streams.registry_memory import share_fields_sets
from streams.sink import PgSink, create_pool
from streams.store import PgStore

log = logging.getLogger(__name__)


class WorkerError(StreamsError):
    """The worker cannot start (carries the reason, shown to the operator)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Process-level options: the tuning, the metrics port (0 = no HTTP endpoint) and where
    the registry comes from: ``registry_file`` (else ``Settings.registry_file``; read once),
    or, with neither, the registry topic, waiting up to ``registry_wait_s`` seconds for a
    first version."""

    tuning: WorkerTuning = field(default_factory=WorkerTuning)
    metrics_port: int = 0
    loglevel: str = "info"
    registry_file: Path | None = None
    registry_wait_s: float = 30.0


def worker_topics() -> frozenset[Topic]:
    """The topics the worker reads or writes (``runtime.kafka_acls.RIGHTS``): the only ones it
    may see, so the only ones it checks at start (others, e.g. ``raw.energy``, would be
    refused)."""
    return RIGHTS[Principal.WORKER].reads | RIGHTS[Principal.WORKER].writes


def ensure_topics(
    kafka: KafkaAccess,
    prefix: str,
    timeout_s: float = 30.0,
    *,
    only: Iterable[Topic] | None = None,
) -> list[str]:
    """Create the missing topics under ``prefix`` of ``only`` (default: ``worker_topics()``;
    pass ``Topic`` for the whole catalogue); returns the names created.

    Raises WorkerError when Kafka does not answer within about ``timeout_s``.
    """
    try:
        return create_missing_topics(
            kafka,
            catalogue_topics(prefix, worker_topics() if only is None else only),
            client_id="greenwatch-worker-setup",
            timeout_s=timeout_s,
        )
    except KafkaError as error:
        raise WorkerError(f"cannot create topics on {kafka.bootstrap}: {error}") from error


class _Worker(faust.Worker):
    """faust's Worker, telling the pipeline to stop before the app waits for its acks, and
    following the registry topic while it runs (when the registry came from there)."""

    def __init__(
        self,
        app: faust.App,
        pipeline: Pipeline,
        lane: CommitLane,
        source: RegistrySource,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self._pipeline = pipeline
        self._lane = lane
        self._source = source
        self._watch: RegistryWatch | None = None

    async def on_start(self) -> None:
        await super().on_start()
        source = self._source
        log.info("registry %s (%s)", source.registry.version, source.origin)
        updates = source.updates()
        if updates is not None and self._watch is None:
            loop = asyncio.get_running_loop()
            self._watch = RegistryWatch(
                updates, on_loop(loop, self._lane.swap_registry), owner="worker"
            )
            self._watch.start()
        self.add_future(self._release_free_memory())

    async def _release_free_memory(self) -> None:
        """Now and then, the C heap's free pages back to the system (``process_memory``)."""
        while not self.should_stop:
            await self.sleep(TRIM_INTERVAL_S)
            release_free_memory()

    async def on_stop(self) -> None:
        # Runs before the app stops: a batch retrying the database gives up and the process
        # ends unacked (agents.die) instead of waiting forever in faust's wait_empty.
        self._pipeline.stop()
        if self._watch is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._watch.stop)
        await super().on_stop()


def tune_garbage_collector() -> None:
    """Fewer, later cyclic collections: a batch allocates ~10⁵ short-lived objects (models,
    rows) that reference counting frees, and with the default thresholds the collector
    would also scan the engine's and the registry's long-lived objects several times per
    batch (measured: ~20 % of a worker's CPU at 10 000 devices). What is alive now (the
    registry, imported modules) is frozen out of collection for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def registry_source(settings: Settings, options: WorkerOptions) -> RegistrySource:
    """The registry file when one is given, else the version in force on the registry topic
    (waiting up to ``options.registry_wait_s``) with the follower to keep reading it.

    Blocks up to the wait. Raises ``WorkerError`` when the file is invalid, the topic holds
    no valid registry within the wait, or Kafka does not answer.
    """
    kafka, prefix = kafka_access(settings, Principal.WORKER), settings.topic_prefix
    file = options.registry_file or settings.registry_file
    try:
        if file is not None:  # read apart: the YAML's peak stays out of the worker's memory
            origin = f"file {file}, read once, no hot reload"
            return RegistrySource(load_registry_apart(file), origin)
        return open_registry_source(
            None,
            kafka,
            prefix,
            "greenwatch-worker-registry",
            options.registry_wait_s,
            key=registry_key(settings),
        )
    except RegistryError as error:
        raise WorkerError(str(error)) from error
    except NoRegistryPublished as error:
        raise WorkerError(
            f"no registry published on {error.topic}: {NO_REGISTRY_HINT}"
            f" (waited {options.registry_wait_s:g} s)"
        ) from None
    except InvalidRegistryRecord as error:
        reason = f"{error}: publish a valid one with `greenwatch db load-registry`"
        raise WorkerError(reason) from error
    except KafkaError as error:
        raise WorkerError(f"cannot read {prefix}.registry on {kafka.bootstrap}: {error}") from error


def run_worker(settings: Settings, options: WorkerOptions) -> None:
    """Start the worker and block until it stops (see the module docstring)."""
    limit_malloc_arenas()  # before any thread: the registry's reader starts one
    source = registry_source(settings, options)
    try:
        _run(settings, options, source)
    finally:
        source.close()


def _run(settings: Settings, options: WorkerOptions, source: RegistrySource) -> None:
    registry = source.registry
    share_fields_sets(registry)  # before the freeze: 16.7 of its 32 MiB at 10 000 devices
    tune_garbage_collector()
    release_free_memory()  # the registry JSON's parse garbage
    created = ensure_topics(kafka_access(settings, Principal.WORKER), settings.topic_prefix)
    if created:
        log.info("created topics %s", ", ".join(created))
    metrics = StreamMetrics.create()
    if options.metrics_port:
        start_http_server(options.metrics_port, addr="127.0.0.1")
    pool = create_pool(database_dsn(settings, DbLogin.WORKER))
    pipeline = Pipeline(
        registry,
        engine_factory=Engine,
        normalize=normalize_packet,
        sink=PgSink(pool, metrics=metrics),
        store=PgStore(pool),
        metrics=metrics,
        trace=LaneTrace.from_env(),
    )
    app = create_app(settings, options.tuning)
    lane = register_agents(app, stream_topics(app, settings.topic_prefix), pipeline,
                           options.tuning, metrics)  # fmt: skip
    worker = _Worker(app, pipeline, lane, source, loglevel=options.loglevel,
                     redirect_stdouts=False)  # fmt: skip
    try:
        worker.execute_from_commandline()
    finally:
        pool.close()

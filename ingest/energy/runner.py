"""Run the energy API (``greenwatch gateway energy``): Kafka publisher + FastAPI on uvicorn.

``serve(registry, secret, options)`` connects the shared ``KafkaPublisher`` (acks=all,
idempotent; creates the raw energy and dead-letter topics when missing), builds the app and
runs uvicorn until SIGINT/SIGTERM, then flushes the producer. Blocks; raises ``KafkaError``
when the cluster cannot be reached at start.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import uvicorn
from pydantic import SecretStr

from ingest.energy.api import ApiOptions, KafkaRecordSink, create_app
from ingest.gateway.publisher import KafkaPublisher, ProducerOptions
from runtime.kafka_access import KafkaAccess
from runtime.registry_watch import RegistryUpdates, RegistryWatch, on_loop
from runtime.topics import catalogue_topics
from schemas.registry import Registry
from schemas.topics import Topic, topic_name

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    kafka: KafkaAccess
    prefix: str
    host: str = "127.0.0.1"
    port: int = 8212
    max_body_bytes: int = 1_048_576
    max_items: int = 5_000


def api_options(options: ServeOptions) -> ApiOptions:
    return ApiOptions(
        raw_topic=topic_name(options.prefix, Topic.RAW_ENERGY),
        deadletter_topic=topic_name(options.prefix, Topic.DEADLETTER),
        max_body_bytes=options.max_body_bytes,
        max_items=options.max_items,
    )


async def serve(
    registry: Registry,
    secret: SecretStr,
    options: ServeOptions,
    updates: RegistryUpdates | None = None,
) -> None:
    """Serve until stopped by a signal (uvicorn's handlers). With ``updates`` (the registry
    topic's follower) each newly published registry replaces the app's between two requests
    (on the loop: a request sees one registry from start to end)."""
    topics = catalogue_topics(options.prefix, (Topic.RAW_ENERGY, Topic.DEADLETTER))
    publisher = await KafkaPublisher.start(
        ProducerOptions(options.kafka, client_id="greenwatch-energy-api"), topics
    )
    loop = asyncio.get_running_loop()
    watch = None
    try:
        app = create_app(registry, secret, KafkaRecordSink(publisher), api_options(options))
        if updates is not None:

            def swap(new: Registry) -> None:
                log.info("energy API: registry %s → %s", app.state.registry.version, new.version)
                app.state.registry = new

            watch = RegistryWatch(
                updates, on_loop(loop, swap), owner="energy API", thread_name="energy-api-registry"
            )
            watch.start()
        config = uvicorn.Config(
            app, host=options.host, port=options.port, log_level="warning", access_log=False
        )
        await uvicorn.Server(config).serve()
    finally:
        if watch is not None:
            await loop.run_in_executor(None, watch.stop)
        await publisher.close()

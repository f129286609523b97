"""Run the energy API (``greenwatch gateway energy``): Kafka publisher + FastAPI on uvicorn.

``serve(registry, secret, options)`` connects the shared ``KafkaPublisher`` (acks=all,
idempotent; creates the raw energy and dead-letter topics when missing), builds the app and
runs uvicorn until SIGINT/SIGTERM, then flushes the producer. Blocks; raises ``KafkaError``
when the cluster cannot be reached at start.
"""

from __future__ import annotations

from dataclasses import dataclass

import uvicorn
from pydantic import SecretStr

from deploy.topics import catalogue_topics
from ingest.energy.api import ApiOptions, KafkaRecordSink, create_app
from ingest.gateway.publisher import KafkaPublisher, ProducerOptions
from schemas.registry import Registry
from schemas.topics import Topic, topic_name


@dataclass(frozen=True, slots=True)
class ServeOptions:
    bootstrap: str
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


async def serve(registry: Registry, secret: SecretStr, options: ServeOptions) -> None:
    """Serve until stopped by a signal (uvicorn's handlers)."""
    topics = catalogue_topics(options.prefix, (Topic.RAW_ENERGY, Topic.DEADLETTER))
    publisher = await KafkaPublisher.start(
        ProducerOptions(options.bootstrap, client_id="greenwatch-energy-api"), topics
    )
    try:
        app = create_app(registry, secret, KafkaRecordSink(publisher), api_options(options))
        config = uvicorn.Config(
            app, host=options.host, port=options.port, log_level="warning", access_log=False
        )
        await uvicorn.Server(config).serve()
    finally:
        await publisher.close()

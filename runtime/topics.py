"""Kafka topic provisioning: create the catalogue's topics that are missing.

Every service calls this at start (gateway, workers, alert service), so a fresh cluster needs
no manual step. Replication factor 1 suits the local single broker; on a real cluster create
the topics beforehand with the replication you need — existing topics are left as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError

from runtime.kafka_access import KafkaAccess
from runtime.raw_retention import RAW_TOPICS, RETENTION_KEY, retention_ms
from schemas.topics import CATALOGUE, Topic, topic_name


@dataclass(frozen=True, slots=True)
class KafkaTopic:
    """A concrete topic: full name, partitions, whether it is compacted, and further topic
    configs set at creation, as (name, value) pairs (e.g. ``("max.message.bytes", "…")``)."""

    name: str
    partitions: int
    compacted: bool = False
    configs: tuple[tuple[str, str], ...] = ()


def catalogue_topics(
    prefix: str, only: Iterable[Topic] | None = None, *, raw_retention_days: int | None = None
) -> list[KafkaTopic]:
    """The catalogue's topics under ``prefix`` (all, or those in ``only``); with
    ``raw_retention_days`` (the setting) the raw topics are created with that retention
    (``runtime.raw_retention``; existing topics are changed by ``apply_raw_retention``)."""
    wanted = None if only is None else set(only)
    return [
        KafkaTopic(
            topic_name(prefix, spec.topic),
            spec.partitions,
            spec.compacted,
            _retention(spec.topic, raw_retention_days),
        )
        for spec in CATALOGUE
        if wanted is None or spec.topic in wanted
    ]


def _retention(topic: Topic, days: int | None) -> tuple[tuple[str, str], ...]:
    if days is None or topic not in RAW_TOPICS:
        return ()
    return ((RETENTION_KEY, str(retention_ms(days))),)


def ensure_topics(
    kafka: KafkaAccess,
    topics: Sequence[KafkaTopic],
    *,
    client_id: str = "greenwatch-setup",
    timeout_s: float = 30.0,
) -> list[str]:
    """Create those of ``topics`` that do not exist; return the names created.

    Blocks up to about ``timeout_s``; raises ``kafka.errors.KafkaError`` when Kafka does not
    answer. Safe against a concurrent creator (another worker starting at the same moment).
    A topic the principal may not create (nor see: with ACLs, ``list_topics`` shows only the
    topics it may describe) is skipped: the admin provisions it (``deploy.kafka_provision``).
    """
    admin = KafkaAdminClient(
        **kafka.client_config(),
        client_id=client_id,
        request_timeout_ms=int(timeout_s * 1000),
        bootstrap_timeout_ms=int(timeout_s * 1000),
    )
    try:
        existing = set(admin.list_topics())
        created: list[str] = []
        for topic in topics:
            if topic.name in existing:
                continue
            configs = {"cleanup.policy": "compact"} if topic.compacted else {}
            configs.update(dict(topic.configs))
            with contextlib.suppress(TopicAlreadyExistsError, TopicAuthorizationFailedError):
                admin.create_topics(
                    [NewTopic(topic.name, topic.partitions, 1, topic_configs=configs)]
                )
                created.append(topic.name)
        return created
    finally:
        admin.close()

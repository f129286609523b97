"""How long the raw topics keep the record: the ``raw_topic_retention_days`` setting on Kafka.

The raw topics (``raw.hj212``, ``raw.energy``; ``schemas.topics``) hold the frames and items
as received: the immutable record replay re-derives everything from (design.md). Their
``retention.ms`` is a setting (``GREENWATCH_RAW_TOPIC_RETENTION_DAYS``, default 7, -1 =
forever), set on the broker when the admin provisions the topics (``deploy.kafka_provision``:
``stack up``, ``stack provision``) and by ``greenwatch archive retention --apply`` on topics
that exist, by an incremental config change (other topic configs are left as they are).
Records older than the retention survive only in the files of ``greenwatch archive raw``
(docs/operations-archive.md says why and what it costs).

Blocks as long as the admin client does; raises ``kafka.errors.KafkaError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from runtime.kafka_access import KafkaAccess
from schemas.topics import Topic, topic_name

RAW_TOPICS: Final = (Topic.RAW_HJ212, Topic.RAW_ENERGY)
"""The topics holding the record as received."""
RETENTION_KEY: Final = "retention.ms"
FOREVER: Final = -1
DAY_MS: Final = 24 * 3600 * 1000


def retention_ms(days: int) -> int:
    """``retention.ms`` for ``days`` (-1: forever, Kafka's own convention)."""
    return FOREVER if days == FOREVER else days * DAY_MS


def raw_topic_names(prefix: str) -> list[str]:
    return [topic_name(prefix, t) for t in RAW_TOPICS]


def apply_raw_retention(
    kafka: KafkaAccess, prefix: str, days: int, *, client_id: str = "greenwatch-retention"
) -> dict[str, int]:
    """Set ``retention.ms`` of the raw topics under ``prefix`` that exist; returns what each
    one has now (topic → ms). Needs ALTER_CONFIGS on the topics (the admin principal)."""
    admin = KafkaAdminClient(**kafka.client_config(), client_id=client_id)
    try:
        existing = set(admin.list_topics())
        names = [n for n in raw_topic_names(prefix) if n in existing]
        if names:
            value = str(retention_ms(days))
            resources = [
                ConfigResource(ConfigResourceType.TOPIC, n, {RETENTION_KEY: value}) for n in names
            ]
            admin.alter_configs(resources, incremental=True)
        return _describe(admin, names)
    finally:
        admin.close()


def raw_retention(kafka: KafkaAccess, prefix: str) -> dict[str, int]:
    """``retention.ms`` of each raw topic under ``prefix`` that exists, as the broker has it
    (its default when the topic sets none)."""
    admin = KafkaAdminClient(**kafka.client_config(), client_id="greenwatch-retention")
    try:
        existing = set(admin.list_topics())
        return _describe(admin, [n for n in raw_topic_names(prefix) if n in existing])
    finally:
        admin.close()


def _describe(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, [RETENTION_KEY]) for n in names]
    described = admin.describe_configs(resources, config_filter="all")
    return {name: _value(described, name) for name in names}


def _value(described: Mapping[str, Any], name: str) -> int:
    """The ``retention.ms`` of ``name`` in a ``describe_configs`` answer."""
    for by_name in described.values():
        if isinstance(by_name, Mapping) and name in by_name:
            entry = by_name[name][RETENTION_KEY]
            value = entry["value"] if isinstance(entry, Mapping) else entry
            return int(value)
    raise KeyError(f"{name}: {RETENTION_KEY} not described")


def describe_days(ms: int) -> str:
    """Human form of a retention: ``forever`` or ``N days`` (fractions kept)."""
    if ms < 0:
        return "forever"
    days = ms / DAY_MS
    return f"{days:g} days"

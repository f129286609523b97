"""The topic catalogue: every Kafka topic Greenwatch reads or writes, in one place.

Names are ``<prefix>.<name>`` with the prefix from settings (``GREENWATCH_TOPIC_PREFIX``), so
tests and tenants can run side by side on one cluster. Keys are the device id (MN) for raw and
measurement topics and the outlet id for verdicts, so one device's data stays in one partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Topic(StrEnum):
    """Logical topic names (without prefix)."""

    RAW_HJ212 = "raw.hj212"
    """Raw HJ 212 frames as received by the gateway, key = MN (``runtime.raw_record``: frame
    bytes as value and the envelope as headers; the JSON RawEnvelope of version 1)."""
    RAW_ENERGY = "raw.energy"
    """Items accepted by the energy API, one record per request (RawEnvelope energy-json,
    device_id and key = enterprise id, payload an EnergyBatch; one energy worker owns all of an
    enterprise's meters).
    Written by ``gateway energy`` only; read by ``energy-worker`` and replay."""
    DEADLETTER = "deadletter"
    """Input that could not be decoded or normalised (DeadLetter, original bytes + reason)."""
    MEASUREMENTS = "measurements"
    """Normalised measurements, one per device, factor and period (Measurement, key = MN)."""
    HOURLY = "hourly"
    """Hourly and daily aggregates per outlet and factor (AggregateValue, key = outlet)."""
    VERDICTS = "verdicts"
    """Compliance verdicts (Verdict, key = outlet id)."""
    QUALITY = "quality"
    """Data-quality signals: silence, flatline, flags, clock skew (QualitySignal, key = MN)."""
    REGISTRY = "registry"
    """Registry snapshots, compacted (key = registry id)."""
    ALERT_EVENTS = "alert-events"
    """Alert lifecycle events (AlertEvent, key = alert id)."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How a topic is created: partitions and cleanup policy."""

    topic: Topic
    partitions: int
    compacted: bool = False


CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec(Topic.RAW_HJ212, partitions=4),
    TopicSpec(Topic.RAW_ENERGY, partitions=4),
    TopicSpec(Topic.DEADLETTER, partitions=1),
    TopicSpec(Topic.MEASUREMENTS, partitions=4),
    TopicSpec(Topic.HOURLY, partitions=4),
    TopicSpec(Topic.VERDICTS, partitions=4),
    TopicSpec(Topic.QUALITY, partitions=4),
    TopicSpec(Topic.REGISTRY, partitions=1, compacted=True),
    TopicSpec(Topic.ALERT_EVENTS, partitions=4),
)


def topic_name(prefix: str, topic: Topic) -> str:
    """Full Kafka topic name for ``topic`` under ``prefix`` (e.g. ``gw.raw.hj212``)."""
    return f"{prefix}.{topic.value}" if prefix else topic.value


def consumer_group(prefix: str, service: str) -> str:
    """The Kafka consumer group of ``service`` (``streams``, ``alerts``, ``energy``) for the
    topics under ``prefix`` (e.g. ``gw-alerts``): two deployments (or demo runs) on one broker
    never share a group. Every group of a prefix starts with ``group_prefix(prefix)``."""
    return f"{group_prefix(prefix)}{service}"


def group_prefix(prefix: str) -> str:
    """What the consumer groups of ``prefix`` start with (their ACL, runtime.kafka_acls):
    ``<prefix>-``, or ``greenwatch-`` for the empty prefix."""
    return f"{prefix}-" if prefix else "greenwatch-"

"""Kafka adapter of the registry topic (``<prefix>.registry``): publish a snapshot, read the
latest one, follow new ones.

The topic is compacted with one partition (``schemas.topics.CATALOGUE``). Each record is a
whole registry (``schemas.registry.RegistrySnapshot``, JSON, key = region code), so the record
at the end of the partition is always the registry in force: a follower seeks to
``end - 1`` and reads on. Publication order decides, not version order: loading an older file
again rolls back. The codec is pure (``schemas.registry``); this module only moves bytes.

Size: a province of 1 633 outlets is 0.9 MB of JSON, 97 kB gzipped. Records are gzipped, the
producer accepts up to ``MAX_SNAPSHOT_BYTES`` before compression and the topic is created with
``max.message.bytes`` = ``MAX_RECORD_BYTES`` (after compression), enough for a country.

Errors (one root): ``RegistryTopicError`` ─┬─ ``RegistryPublishError`` (Kafka unreachable or
did not acknowledge), ─ ``NoRegistryPublished`` (nothing on the topic within the wait),
─ ``InvalidRegistryRecord`` (the latest record is not a valid registry).

Integrity: ``publish_registry`` signs each record (``runtime.registry_mac``, header
``greenwatch-registry-mac``) with the registry key; the follower refuses a record whose MAC is
missing or wrong exactly like an undecodable one (``latest`` raises, ``follow`` skips), logs it
and counts it in ``greenwatch_registry_records_refused_total{reason}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client import Counter

from runtime.errors import RuntimePlumbingError
from runtime.kafka_access import KafkaAccess, Principal, kafka_access
from runtime.registry_mac import MAC_HEADER, mac_refusal, registry_mac
from runtime.registry_watch import RegistryUpdates
from runtime.settings import Settings, registry_key
from runtime.topics import KafkaTopic, ensure_topics
from schemas.registry import (
    Registry,
    RegistryError,
    RegistrySnapshot,
    decode_snapshot,
    encode_snapshot,
    load_registry,
    snapshot_of,
)
from schemas.topics import Topic, topic_name

MAX_SNAPSHOT_BYTES: Final = 64 * 1024 * 1024
"""Largest snapshot the producer sends, uncompressed JSON (bytes)."""
MAX_RECORD_BYTES: Final = 16 * 1024 * 1024
"""The topic's ``max.message.bytes``: largest record batch the broker takes, compressed."""
_PARTITION: Final = 0
_RETRY_AFTER_S: Final = 1.0

_log = logging.getLogger(__name__)

REFUSED_RECORDS: Final = Counter(
    "greenwatch_registry_records_refused",
    "Registry records a follower refused because their MAC was missing or wrong.",
    ["reason"],
)
"""On the default prometheus registry (the worker's /metrics); the gateway adds it to its own."""


class RegistryTopicError(RuntimePlumbingError):
    """Root of this module's errors; carries the topic name."""

    def __init__(self, topic: str, message: str) -> None:
        super().__init__(message)
        self.topic = topic


class RegistryPublishError(RegistryTopicError):
    """Kafka at ``bootstrap`` could not be reached or did not acknowledge the snapshot."""

    def __init__(self, topic: str, bootstrap: str, reason: str) -> None:
        super().__init__(topic, f"cannot publish to {topic} at {bootstrap}: {reason}")
        self.bootstrap = bootstrap
        self.reason = reason


class NoRegistryPublished(RegistryTopicError):
    """The topic held no snapshot within ``waited_s`` seconds."""

    def __init__(self, topic: str, waited_s: float) -> None:
        super().__init__(topic, f"no registry on {topic} after {waited_s:g} s")
        self.waited_s = waited_s


class InvalidRegistryRecord(RegistryTopicError):
    """The record at ``offset`` is not a valid registry snapshot (``reason`` says why)."""

    def __init__(self, topic: str, offset: int, reason: str) -> None:
        super().__init__(topic, f"{topic}@{offset}: not a valid registry: {reason}")
        self.offset = offset
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    """A snapshot as found on the topic, with its offset."""

    topic: str
    offset: int
    snapshot: RegistrySnapshot

    @property
    def registry(self) -> Registry:
        return self.snapshot.registry


def registry_topic(prefix: str) -> KafkaTopic:
    """The registry topic under ``prefix``: compacted, one partition, large records allowed."""
    return KafkaTopic(
        topic_name(prefix, Topic.REGISTRY),
        partitions=1,
        compacted=True,
        configs=(("max.message.bytes", str(MAX_RECORD_BYTES)),),
    )


def publish_registry(
    kafka: KafkaAccess,
    topic: KafkaTopic,
    registry: Registry,
    published_at: datetime,
    *,
    key: bytes,
    timeout_s: float = 30.0,
) -> RegistryRecord:
    """Publish ``registry`` as one snapshot record signed with the registry ``key`` and wait
    until Kafka acknowledges it (``acks=all``, idempotent producer, gzip). Creates the topic
    when missing.

    Blocks up to about ``2 × timeout_s`` (bootstrap, then delivery). Raises
    ``RegistryPublishError`` when Kafka is unreachable or the record is not acknowledged.
    """
    snapshot = snapshot_of(registry, published_at)
    try:
        ensure_topics(kafka, [topic], client_id="greenwatch-registry", timeout_s=timeout_s)
        producer = KafkaProducer(
            **kafka.client_config(),
            client_id="greenwatch-registry",
            acks="all",
            enable_idempotence=True,
            compression_type="gzip",
            max_request_size=MAX_SNAPSHOT_BYTES,
            bootstrap_timeout_ms=int(timeout_s * 1000),
            request_timeout_ms=int(timeout_s * 1000),
            delivery_timeout_ms=int(timeout_s * 1000) + 1000,
        )
    except KafkaError as error:
        raise RegistryPublishError(topic.name, kafka.bootstrap, str(error)) from error
    try:
        record_key, value = snapshot.key.encode(), encode_snapshot(snapshot)
        headers = [(MAC_HEADER, registry_mac(key, record_key, value))]
        future = producer.send(topic.name, key=record_key, value=value, headers=headers)
        metadata = future.get(timeout=timeout_s + 2)
    except KafkaError as error:
        raise RegistryPublishError(topic.name, kafka.bootstrap, str(error)) from error
    finally:
        producer.close(timeout=timeout_s)
    return RegistryRecord(topic.name, int(metadata.offset), snapshot)


def publish_as_publisher(
    settings: Settings, registry: Registry, timeout_s: float = 30.0
) -> RegistryRecord:
    """``publish_registry`` as ``db load-registry`` does it: the ``registry`` principal (the
    only writer the ACLs allow), signed with the registry key, on the configured prefix's
    topic, published now. Raises ``RegistryPublishError``."""
    return publish_registry(
        kafka_access(settings, Principal.REGISTRY),
        registry_topic(settings.topic_prefix),
        registry,
        datetime.now(UTC),
        key=registry_key(settings),
        timeout_s=timeout_s,
    )


class RegistryFollower:
    """Reads the registry in force from the topic, then the ones published after it.

    ``latest`` (once, first) blocks until a snapshot is there; ``follow`` then blocks on
    its caller's thread, yielding each new snapshot, until ``stop`` is set. Both use one
    consumer (no consumer group: partition 0 assigned by hand, nothing committed), so no
    publication between them is missed. Not thread-safe: call ``latest``, ``follow`` and
    ``close`` one after the other, from any thread.
    """

    def __init__(
        self, kafka: KafkaAccess, topic: KafkaTopic, client_id: str = "greenwatch", *, key: bytes
    ) -> None:
        """Connect and create the topic when missing; ``key`` is the registry key records are
        verified with. Raises ``KafkaError`` when Kafka does not answer within 30 s."""
        ensure_topics(kafka, [topic], client_id=client_id)
        self.topic = topic.name
        self._key = key
        self._partition = TopicPartition(topic.name, _PARTITION)
        self._consumer = KafkaConsumer(
            **kafka.client_config(),
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_RECORD_BYTES,
            fetch_max_bytes=MAX_RECORD_BYTES,
        )
        self._consumer.assign([self._partition])
        self.invalid_records = 0
        """Records ``follow`` skipped because they were not a valid registry."""

    def latest(self, wait_s: float) -> RegistryRecord:
        """The last snapshot on the topic, waiting up to ``wait_s`` seconds for one when the
        topic is empty. Raises ``NoRegistryPublished`` after the wait, ``InvalidRegistryRecord``
        when the last record is not a valid registry, ``KafkaError`` on Kafka failures."""
        consumer, partition = self._consumer, self._partition
        begin = consumer.beginning_offsets([partition])[partition]
        end = consumer.end_offsets([partition])[partition]
        consumer.seek(partition, max(begin, end - 1))
        deadline = time.monotonic() + wait_s
        while True:
            records = consumer.poll(timeout_ms=200).get(partition, [])
            if records:
                last = records[-1]
                try:
                    return self._record(last.offset, last.key, last.value, last.headers)
                except RegistryError as error:
                    raise InvalidRegistryRecord(self.topic, last.offset, error.reason) from None
            if time.monotonic() >= deadline:
                break
        raise NoRegistryPublished(self.topic, wait_s)

    def follow(self, stop: threading.Event, poll_s: float = 0.5) -> Iterator[RegistryRecord]:
        """Yield every valid snapshot published after the current position until ``stop`` is
        set (checked every ``poll_s`` seconds). Invalid records are logged, counted in
        ``invalid_records`` and skipped; Kafka errors are logged and retried after a second."""
        while not stop.is_set():
            try:
                batches = self._consumer.poll(timeout_ms=int(poll_s * 1000))
            except KafkaError as error:
                _log.warning("registry topic %s: %s; retrying", self.topic, error)
                stop.wait(_RETRY_AFTER_S)
                continue
            for record in batches.get(self._partition, []):
                found = self._valid_or_none(record)
                if found is not None:
                    yield found

    def close(self) -> None:
        """Close the consumer (nothing to commit)."""
        self._consumer.close(autocommit=False)

    def _valid_or_none(self, record: Any) -> RegistryRecord | None:
        try:
            return self._record(record.offset, record.key, record.value, record.headers)
        except RegistryError as error:
            self.invalid_records += 1
            _log.error(
                "registry topic %s@%d skipped: not a valid registry: %s",
                self.topic,
                record.offset,
                error.reason,
            )
            return None

    def _record(
        self, offset: int, record_key: bytes | None, value: Any, headers: Any
    ) -> RegistryRecord:
        """The snapshot of a record; raises ``RegistryError`` when its MAC is missing or wrong
        (logged and counted here) or it does not decode."""
        source = f"{self.topic}@{offset}"
        refusal = mac_refusal(self._key, record_key, value or b"", headers)
        if refusal is not None:
            REFUSED_RECORDS.labels(reason=refusal).inc()
            _log.error(
                "registry topic %s refused: %s (not signed with the registry key by "
                "`greenwatch db load-registry`)",
                source,
                refusal,
            )
            raise RegistryError(source, f"refused: {refusal} (not from the registry publisher)")
        snapshot = decode_snapshot(value, source)
        return RegistryRecord(self.topic, offset, snapshot)


def read_latest_registry(
    kafka: KafkaAccess, topic: KafkaTopic, wait_s: float, *, key: bytes
) -> RegistryRecord:
    """The registry in force on ``topic`` (see ``RegistryFollower.latest`` for errors)."""
    follower = RegistryFollower(kafka, topic, client_id="greenwatch-registry-reader", key=key)
    try:
        return follower.latest(wait_s)
    finally:
        follower.close()


NO_REGISTRY_HINT: Final = "run `greenwatch db load-registry FILE`, or give --registry FILE"
"""What to do when a process finds no registry on the topic."""


@dataclass(frozen=True, slots=True)
class RegistrySource:
    """The registry a process starts with, where it comes from (for its log), and the
    topic's follower that keeps reading it (None: a file, read once, no hot reload).

    The one answer for every service (gateway, worker, alert service) to "which registry do
    I judge with, and how do I learn of the next one": ``open_registry_source`` builds it,
    ``updates`` feeds ``runtime.registry_watch.RegistryWatch``."""

    registry: Registry
    origin: str
    follower: RegistryFollower | None = None

    def updates(self) -> RegistryUpdates | None:
        """The registries published from now on (blocking, until the stop event is set), or
        None when there is no follower (a file: no hot reload)."""
        follower = self.follower
        if follower is None:
            return None

        def updates(stop: threading.Event) -> Iterator[Registry]:
            return (record.registry for record in follower.follow(stop))

        return updates

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()


def open_registry_source(
    file: Path | None,
    kafka: KafkaAccess,
    prefix: str,
    client_id: str,
    wait_s: float,
    fallback: Callable[[], Registry] | None = None,
    fallback_name: str = "fallback",
    *,
    key: bytes,
) -> RegistrySource:
    """``file`` (read once) when given, else the version in force on ``<prefix>.registry``
    with its follower (the caller closes it: ``RegistrySource.close``). When nothing is
    published within ``wait_s`` and a ``fallback`` is given (the alert service: the database's
    newest version, ``fallback_name`` "database"), start from what it returns and follow the
    topic all the same. ``key``: the registry key (``runtime.settings.registry_key``).

    Blocks up to ``wait_s`` on an empty topic (and up to 30 s when Kafka does not answer).
    Raises ``RegistryError`` for a bad file (or from ``fallback``), ``NoRegistryPublished``
    (without a fallback), ``InvalidRegistryRecord`` or ``KafkaError``; the follower is closed
    when it raises."""
    if file is not None:
        return RegistrySource(load_registry(file), f"file {file}, read once, no hot reload")
    topic = registry_topic(prefix)
    follower = RegistryFollower(kafka, topic, client_id, key=key)
    try:
        try:
            record = follower.latest(wait_s)
        except NoRegistryPublished:
            if fallback is None:
                raise
            origin = f"{fallback_name}, nothing published on {topic.name} yet; following it"
            return RegistrySource(fallback(), origin, follower)
    except BaseException:
        follower.close()
        raise
    origin = f"following {topic.name} from offset {record.offset}, hot reload"
    return RegistrySource(record.registry, origin, follower)

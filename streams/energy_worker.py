"""The energy stream worker (``greenwatch energy-worker``): raw energy topic → PostgreSQL.

A worker role of its own (kafka-python consumer, group ``greenwatch-energy``) on the shared
runner (``runtime.runner.BatchRunner``, as the alert service): per polled batch, in ONE
database transaction, (1) decode every message (``RawEnvelope`` with protocol ``energy-json``
holding an ``EnergyBatch``; anything else is a dead letter with the original bytes, the reason
and its Kafka position), (2) hydrate the ``EnergyEngine`` with what the store holds for
enterprises it has no state for, (3) ingest, (4) write readings, statistics, consumption,
intensities and verdicts on their natural keys and the dead letters; (5) publish the verdicts
(``<prefix>.verdicts``, key the subject, header ``revision``, for the alert service) and dead
letters and wait until the broker acknowledged every one (``publish_and_await``); then COMMIT
and only then commit the Kafka offsets: at-least-once input and output, exactly-once effects.
A publish that fails rolls the transaction back (``PublishFailed``): nothing of the batch is
stored or committed, and it is read again from the committed offsets.

The raw topic is keyed by enterprise, so one worker owns all of an enterprise's meters; on
every partition assignment the engine forgets its state and hydrates again. A database or
broker failure ends the session; the next one starts after a pause from the committed
offsets. Following the registry topic, a new version is swapped in between two batches.
Blocks until ``stop`` is set.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from psycopg_pool import ConnectionPool
from pydantic import ValidationError

from alerts.registry_follow import RegistryInbox
from runtime.dead_letters import KeyedDeadLetter, SourcePosition, insert_dead_letters
from runtime.kafka_access import KafkaAccess
from runtime.registry_watch import RegistryUpdates, RegistryWatch
from runtime.runner import BatchRunner, Outgoing, PublishFailed
from schemas.energy import EnergyBatch, EnergyRecord
from schemas.envelope import DeadLetter, Protocol, RawEnvelope
from schemas.registry import Registry
from schemas.topics import Topic, consumer_group, topic_name
from schemas.verdict import Verdict
from streams.domain.energy.engine import EnergyEngine
from streams.domain.energy.model import EnergyOutput
from streams.energy_store import load_enterprise, write_energy
from streams.upserts import VerdictKey

log = logging.getLogger(__name__)
SOURCE = "streams.energy"


@dataclass(frozen=True, slots=True)
class EnergyWorkerOptions:
    kafka: KafkaAccess
    prefix: str
    group_id: str | None = None
    """Kafka consumer group; None = the prefix's (``<prefix>-energy``, schemas.topics)."""
    batch_size: int = 2_000
    poll_ms: int = 500
    restart_pause_s: float = 2.0
    publish_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Message:
    """What the stream needs of a consumer record."""

    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass(slots=True)
class BatchResult:
    output: EnergyOutput
    dead_letters: list[KeyedDeadLetter] = field(default_factory=list)
    revisions: dict[VerdictKey, int] = field(default_factory=dict)


class EnergyStream:
    """One batch through decode, hydration, the engine and one database transaction."""

    def __init__(self, engine: EnergyEngine, pool: ConnectionPool) -> None:
        self.engine = engine
        self._pool = pool

    @contextlib.contextmanager
    def transaction(self, messages: Sequence[Message]) -> Iterator[BatchResult]:
        """Derive and write the batch inside an open transaction and yield what it produced;
        leaving without an error commits, with one rolls back (and the engine forgets its
        state, which held the batch: the next batch hydrates again from the store). Raises
        psycopg errors."""
        records, rejected = decode_messages(messages)
        try:
            with self._pool.connection() as conn, conn.transaction():
                for enterprise_id in sorted(self.engine.missing(records)):
                    self.engine.hydrate(enterprise_id, load_enterprise(conn, enterprise_id))
                output = self.engine.ingest(records)
                with conn.cursor() as cur:
                    revisions = write_energy(cur, output, self.engine.registry.version)
                    insert_dead_letters(cur, rejected)
                yield BatchResult(output, rejected, revisions)
        except BaseException:
            self.engine.forget()
            raise

    def process(self, messages: Sequence[Message]) -> BatchResult:
        """Returns after COMMIT; raises psycopg errors (nothing committed)."""
        with self.transaction(messages) as result:
            return result


class EnergySteps:
    """The energy worker's ``runtime.runner.Steps``: a polled batch of raw energy records →
    one transaction → the verdicts (header ``revision``) and dead letters to publish. The
    runner publishes them and waits for the broker's acknowledgement before the transaction
    commits; a publish that fails rolls it back, and no offset is committed."""

    def __init__(self, stream: EnergyStream, prefix: str) -> None:
        self.stream = stream
        self._verdicts = topic_name(prefix, Topic.VERDICTS)
        self._deadletter = topic_name(prefix, Topic.DEADLETTER)

    @contextlib.contextmanager
    def write(self, records: Sequence[Any]) -> Iterator[Sequence[Outgoing]]:
        messages = [Message(r.topic, r.partition, r.offset, r.value) for r in records]
        with self.stream.transaction(messages) as result:
            yield self.outgoing(result)

    def outgoing(self, result: BatchResult) -> list[Outgoing]:
        """The verdicts (with their stored revision) and the dead letters of one batch."""
        out = [
            Outgoing(
                self._verdicts,
                verdict.outlet_id.encode(),
                verdict.model_dump_json().encode(),
                (("revision", str(result.revisions.get(_key(verdict), 1)).encode()),),
            )
            for verdict in result.output.verdicts
        ]
        out += [
            Outgoing(self._deadletter, None, rejected.letter.model_dump_json().encode())
            for rejected in result.dead_letters
        ]
        return out


def decode_messages(
    messages: Sequence[Message],
) -> tuple[list[EnergyRecord], list[KeyedDeadLetter]]:
    """Records of the messages, and a dead letter for each one that is not a valid record."""
    records: list[EnergyRecord] = []
    rejected: list[KeyedDeadLetter] = []
    for message in messages:
        device: str | None = None
        try:
            envelope = RawEnvelope.model_validate_json(message.value)
            device = envelope.device_id
            if envelope.protocol is not Protocol.ENERGY_JSON:
                raise ValueError(f"protocol {envelope.protocol}, not energy-json")
            records.extend(EnergyBatch.model_validate_json(envelope.payload).records())
        except (ValidationError, ValueError) as error:
            position = SourcePosition(message.topic, message.partition, message.offset)
            letter = DeadLetter(
                source=SOURCE,
                reason="bad_energy_record",
                message=str(error)[:2000],
                device_id=device,
                received_at=datetime.now(UTC),
                payload=message.value,
                position=position.wire(),  # one natural key wherever it is stored
            )
            rejected.append(KeyedDeadLetter(letter, position))
    return records, rejected


class _ForgetOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, engine: EnergyEngine) -> None:
        self._engine = engine

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._engine.forget()

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._engine.forget()


def run_energy_worker(
    registry: Registry,
    pool: ConnectionPool,
    options: EnergyWorkerOptions,
    stop: threading.Event,
    updates: RegistryUpdates | None = None,
) -> None:
    """Run sessions until ``stop`` is set (see the module docstring). With ``updates`` (the
    registry topic's follower) each newly published registry is swapped in between two
    batches (``EnergyEngine.swap_registry``: what is held is derived again under it)."""
    engine = EnergyEngine(registry)
    stream = EnergyStream(engine, pool)
    inbox = RegistryInbox()
    watch = None
    if updates is not None:
        watch = RegistryWatch(
            updates, inbox.offer, owner="energy worker", thread_name="energy-registry-follow"
        )
        watch.start()
    try:
        while not stop.is_set():
            try:
                _session(stream, options, stop, inbox)
            except (KafkaError, PublishFailed, psycopg.Error) as error:
                log.warning("energy worker session ended: %s; restarting", error)
                engine.forget()
                stop.wait(options.restart_pause_s)
    finally:
        if watch is not None:
            watch.stop()


def _session(
    stream: EnergyStream, options: EnergyWorkerOptions, stop: threading.Event, inbox: RegistryInbox
) -> None:
    raw = topic_name(options.prefix, Topic.RAW_ENERGY)
    consumer = KafkaConsumer(
        **options.kafka.client_config(),
        group_id=options.group_id or consumer_group(options.prefix, "energy"),
        client_id="greenwatch-energy-worker",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=options.batch_size,
    )
    producer = KafkaProducer(
        **options.kafka.client_config(),
        client_id="greenwatch-energy-worker",
        acks="all",
        enable_idempotence=True,
        max_block_ms=int(options.publish_timeout_s * 1000),
    )
    try:
        consumer.subscribe([raw], listener=_ForgetOnAssign(stream.engine))
        runner = BatchRunner(
            consumer,
            producer,
            EnergySteps(stream, options.prefix),
            poll_ms=options.poll_ms,
            publish_timeout_s=options.publish_timeout_s,
        )
        while not stop.is_set():
            offer = inbox.take()
            if offer is not None:
                old = stream.engine.registry.version
                stream.engine.swap_registry(offer.registry)
                log.info("energy worker: registry %s → %s", old, offer.registry.version)
            runner.run_once()
    finally:
        consumer.close()
        producer.close(timeout=10)


def _key(verdict: Verdict) -> VerdictKey:
    return (verdict.outlet_id, verdict.factor, verdict.rule.value, verdict.period_start)

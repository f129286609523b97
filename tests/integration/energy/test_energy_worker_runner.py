"""The energy worker runs on the shared runner (``runtime.runner.BatchRunner``): what a batch
publishes is acknowledged by the real broker before its transaction commits, and a publish the
broker refuses stores nothing and commits no offset, so the batch is read again and nothing is
lost (real Kafka, real PostgreSQL)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from energy_support import day, energy_registry
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from services import PgSchema, Services, kafka_config

from deploy.migrate import migrate
from runtime.runner import BatchRunner, PublishFailed
from schemas.energy import EnergyBatch, ReadingIn
from schemas.envelope import Protocol, RawEnvelope
from streams.domain.energy.engine import EnergyEngine
from streams.energy_worker import EnergySteps, EnergyStream
from streams.sink import create_pool

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def _runner(services: Services, raw: str, group: str, steps: EnergySteps) -> Iterator[BatchRunner]:
    consumer = KafkaConsumer(
        raw,
        **kafka_config(services.kafka_bootstrap),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = KafkaProducer(
        **kafka_config(services.kafka_bootstrap), acks="all", max_block_ms=3_000
    )
    try:
        yield BatchRunner(consumer, producer, steps, poll_ms=5_000, publish_timeout_s=5.0)
    finally:
        consumer.close()
        producer.close(timeout=5)


def _first_batch(runner: BatchRunner) -> int:
    """Run the runner until it consumed a batch (the group's first polls may be empty)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if taken := runner.run_once():
            return taken
    raise AssertionError("no batch within 30 s")


def test_a_refused_publish_stores_nothing_and_the_batch_is_read_again(
    services: Services,
    topic_prefix: str,
    pg_schema: PgSchema,
    db_conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    migrate(db_conn)
    raw = f"{topic_prefix}.raw.energy"
    admin = KafkaAdminClient(**kafka_config(services.kafka_bootstrap))
    refusing = f"{topic_prefix}.refusing"
    admin.create_topics(
        [
            NewTopic(raw, num_partitions=1, replication_factor=1),
            # records over 64 bytes: the real broker refuses every dead letter
            NewTopic(
                f"{refusing}.deadletter",
                num_partitions=1,
                replication_factor=1,
                topic_configs={"max.message.bytes": "64"},
            ),
        ]
    )
    admin.close()
    reading = ReadingIn(meter_id="AL-POT-1", value=10.0, unit="kWh", instant=day(0))
    batch = EnergyBatch(enterprise_id="E-AL-01", readings=[reading])
    envelope = RawEnvelope(
        protocol=Protocol.ENERGY_JSON,
        device_id="E-AL-01",
        peer="127.0.0.1:1",
        received_at=datetime.now(UTC),
        payload=batch.model_dump_json().encode(),
    )
    producer = KafkaProducer(**kafka_config(services.kafka_bootstrap), acks="all")
    producer.send(raw, key=b"E-AL-01", value=envelope.model_dump_json().encode())
    producer.send(raw, key=b"E-AL-01", value=b"not an envelope")  # a dead letter to publish
    producer.flush()
    producer.close()

    pool = create_pool(pg_schema.dsn, name="energy-runner-test")
    group = f"energy-runner-{topic_prefix}"
    stream = EnergyStream(EnergyEngine(energy_registry()), pool)

    def stored() -> tuple[object, ...]:
        readings = db_conn.execute("SELECT count(*) FROM energy_readings").fetchone()
        letters = db_conn.execute("SELECT count(*) FROM dead_letters").fetchone()
        assert readings is not None and letters is not None
        return readings[0], letters[0]

    try:
        with (
            _runner(services, raw, group, EnergySteps(stream, refusing)) as refused,
            pytest.raises(PublishFailed),
        ):
            _first_batch(refused)
        assert stored() == (0, 0)  # rolled back: the row was not committed

        with _runner(services, raw, group, EnergySteps(stream, topic_prefix)) as good:
            assert _first_batch(good) == 2  # the same two records: no offset was committed
        assert stored() == (1, 1)
        letters = KafkaConsumer(
            f"{topic_prefix}.deadletter",
            **kafka_config(services.kafka_bootstrap),
            auto_offset_reset="earliest",
            consumer_timeout_ms=10_000,
        )
        try:
            first = next(iter(letters))
        finally:
            letters.close()
        assert b"bad_energy_record" in first.value
    finally:
        pool.close()

"""The alert service with its broker stopped mid-batch: nothing committed, nothing lost.

A private Kafka broker (the stack's jars, its own ports and data directory) serves this test
alone, so stopping it disturbs no other test. The broker is stopped when the service sends the
first record of a batch it has applied (between its database writes and the publication):
the publication fails, and then neither the batch's rows nor its offsets may be committed.
Once the broker is back, the batch is applied again and every alert event and dead letter
reaches its topic, each dead letter stored once, also when the stream worker stores what it
reads back from the dead-letter topic, and when the topics are replayed from the start.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alerts_harness import POWER, Feed, free_port, wait_for
from conftest import registry_document
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import SecretStr

import alerts.service
from alerts.service import AlertService, ServiceOptions
from deploy import kafka_service
from deploy.migrate import migrate
from runtime.kafka_access import KafkaAccess
from runtime.registry_store import store_registry
from runtime.topics import catalogue_topics, ensure_topics
from schemas.envelope import DeadLetter
from schemas.registry import parse_registry
from schemas.topics import Topic, topic_name
from streams.pipeline import RawRecord, foreign_dead_letter
from streams.sink import PgSink, SinkBatch, SourcePosition, create_pool

PRIVATE_ADMIN = "private-admin-password"


class PrivateBroker:
    """A broker of this test's own, started and stopped on demand (same data kept)."""

    def __init__(self, libs: Path, home: Path) -> None:
        home.mkdir(parents=True)
        (home / "libs").symlink_to(libs.resolve())
        self.layout = kafka_service.KafkaLayout(home, free_port(), free_port())

    @property
    def access(self) -> KafkaAccess:
        """Its super user, logging in with PLAIN (no SCRAM user is made on this broker)."""
        return KafkaAccess(
            self.layout.bootstrap, "SASL_PLAINTEXT", "PLAIN", "admin", SecretStr(PRIVATE_ADMIN)
        )

    def start(self) -> None:
        kafka_service.start(self.layout, lambda _: None, PRIVATE_ADMIN)
        wait_for("private broker healthy", lambda: kafka_service.is_healthy(self.access), 90)

    def stop(self) -> None:
        kafka_service.stop(self.layout, lambda _: None)


@pytest.fixture
def broker(services: Any, tmp_path: Path) -> Iterator[PrivateBroker]:
    libs = Path(services.settings.state_dir) / "kafka" / "libs"
    if not any(libs.glob("kafka_*.jar")):
        pytest.skip(f"no Kafka jars in {libs} to start a private broker (make install)")
    private = PrivateBroker(libs, tmp_path / "kafka")
    private.start()
    try:
        yield private
    finally:
        private.stop()


class SessionLog(logging.Handler):
    """Counts the service's ended sessions."""

    def __init__(self) -> None:
        super().__init__()
        self.ended = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "session ended" in record.getMessage():
            self.ended += 1


def topic_values(kafka: KafkaAccess, topic: str) -> list[bytes]:
    """Every record value on ``topic`` (all partitions)."""
    consumer = KafkaConsumer(**kafka.client_config(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        values: list[bytes] = []
        deadline = time.monotonic() + 20
        while any(consumer.position(p) < ends[p] for p in partitions):
            assert time.monotonic() < deadline, f"{topic} not read to its end"
            for batch in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in batch)
        return values
    finally:
        consumer.close()


@contextlib.contextmanager
def running(service: AlertService) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)


def test_broker_stopped_mid_batch_commits_nothing_and_loses_nothing(
    broker: PrivateBroker, pg_schema: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = parse_registry(registry_document(), "test")
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        migrate(conn)
        store_registry(conn, registry)
    prefix = "test.alerts.publish"
    ensure_topics(broker.access, catalogue_topics(prefix))
    events_topic = topic_name(prefix, Topic.ALERT_EVENTS)
    dead_topic = topic_name(prefix, Topic.DEADLETTER)

    stopped = threading.Event()

    class StopsTheBroker(KafkaProducer):  # type: ignore[misc]
        """The service's producer; its first send of an alert event stops the broker."""

        def send(self, topic: str, *args: Any, **kwargs: Any) -> Any:
            if topic == events_topic and not stopped.is_set():
                broker.stop()
                stopped.set()
            return super().send(topic, *args, **kwargs)

    monkeypatch.setattr(alerts.service, "KafkaProducer", StopsTheBroker)
    sessions = SessionLog()
    logging.getLogger(alerts.service.__name__).addHandler(sessions)
    feed = Feed(broker.access, prefix)
    feed.verdict(0, "exceedance")
    feed.raw(feed.verdicts, POWER[1], b"not a verdict")
    feed.close()
    options = ServiceOptions(
        group_id="alerts-publish-it", notify=False, restart_pause_s=0.5, publish_timeout_s=3.0,
        tick_s=3600.0,
    )  # fmt: skip
    service = AlertService(broker.access, prefix, pg_schema.dsn, registry, options)

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
            return conn.execute(sql).fetchall()

    try:
        with running(service):
            wait_for("the broker stopped mid-batch", stopped.is_set, 60)
            wait_for("the failed session ended", lambda: sessions.ended, 90)
            # Nothing of the batch committed: no alert, no event, no dead letter.
            assert query("SELECT count(*) FROM alerts") == [(0,)]
            assert query("SELECT count(*) FROM alert_events") == [(0,)]
            assert query("SELECT count(*) FROM dead_letters") == [(0,)]

            broker.start()
            wait_for("the event published", lambda: topic_values(broker.access, events_topic), 90)
            wait_for("the dead letter published", lambda: topic_values(broker.access, dead_topic))
    finally:
        logging.getLogger(alerts.service.__name__).removeHandler(sessions)

    # Nothing lost: the batch was applied again and every event of it published.
    stored_events = query("SELECT count(*) FROM alert_events")[0][0]
    assert stored_events >= 1
    published = topic_values(broker.access, events_topic)
    assert len(published) == stored_events
    [letter_bytes] = topic_values(broker.access, dead_topic)
    letter = DeadLetter.model_validate_json(letter_bytes)
    assert (letter.reason, letter.payload) == ("invalid_verdict", b"not a verdict")
    assert letter.position is not None and letter.position.topic == feed.verdicts
    assert query("SELECT count(*) FROM dead_letters") == [(1,)]

    # The stream worker stores what it reads back from the dead-letter topic: still one row.
    read_back = RawRecord(SourcePosition(dead_topic, 0, 0), letter_bytes, datetime.now(UTC))
    # (its position on the dead-letter topic does not matter: the letter carries its own)
    keyed = foreign_dead_letter(read_back)
    assert keyed is not None
    pool = create_pool(pg_schema.dsn)
    try:
        PgSink(pool).flush(SinkBatch(dead_letters=[keyed]))
    finally:
        pool.close()
    assert query("SELECT count(*) FROM dead_letters") == [(1,)]

    # A replay of the topics (another consumer group from the start) duplicates nothing.
    replay = AlertService(
        broker.access, prefix, pg_schema.dsn, registry,
        ServiceOptions(group_id="alerts-publish-replay", notify=False, tick_s=3600.0),
    )  # fmt: skip
    with running(replay):
        wait_for("the replay consumed both records", lambda: replay.counters.verdicts >= 1, 60)
        wait_for("the replay's dead letter", lambda: replay.counters.dead_letters >= 1, 60)
    assert query("SELECT count(*) FROM dead_letters") == [(1,)]

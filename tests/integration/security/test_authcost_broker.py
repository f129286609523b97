"""Issue 11, "authentication must not cost the pipeline more than 10 %": the benchmark's
private broker (``bench.bench_authcost.two_listeners``) is ONE broker serving the same topics
on two listeners — the open baseline and the secured one, whose ACLs still hold — and the
local stack's broker has no open listener."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from bench.bench_authcost import two_listeners
from deploy import kafka_service
from deploy.kafka_provision import provision
from runtime.kafka_access import KafkaAccess, Principal, kafka_access
from runtime.settings import Settings
from schemas.topics import Topic, topic_name

pytestmark = pytest.mark.timeout(300)


def _send(access: KafkaAccess, topic: str, value: bytes) -> None:
    producer = KafkaProducer(**access.client_config(), acks="all", max_block_ms=10_000)
    try:
        producer.send(topic, key=b"k", value=value).get(timeout=15)
    finally:
        producer.close(timeout=5)


def _values(access: KafkaAccess, topic: str) -> list[bytes]:
    consumer = KafkaConsumer(**access.client_config(), enable_auto_commit=False,
                             consumer_timeout_ms=3000)  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return sorted(message.value for message in consumer)
    finally:
        consumer.close()


def _position(access: KafkaAccess, topic: str) -> int:
    consumer = KafkaConsumer(**access.client_config(), enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        consumer.poll(timeout_ms=3000)
        return int(consumer.position(partition))
    finally:
        consumer.close()


def test_one_broker_serves_the_baseline_and_the_secured_side(services: Any, tmp_path: Path) -> None:
    if services.origin != "local":
        pytest.skip("the private broker runs from the local stack's jars")
    settings: Settings = services.settings
    with two_listeners(settings, tmp_path / "broker") as broker:
        prefix = f"ac{uuid.uuid4().hex[:8]}"
        provision(broker.secured, prefix)
        raw = topic_name(prefix, Topic.RAW_HJ212)
        baseline = broker.producer("A")
        assert baseline.protocol == "PLAINTEXT" and baseline.bootstrap == broker.baseline
        _send(baseline, raw, b"anonymous")
        _send(broker.producer("B"), raw, b"gateway")  # SCRAM as the gateway principal
        worker = kafka_access(broker.secured, Principal.WORKER)
        assert _values(worker, raw) == [b"anonymous", b"gateway"]  # the same topic
        with pytest.raises(TopicAuthorizationFailedError):  # the ACLs still hold on B
            _position(kafka_access(broker.secured, Principal.ALERTS), raw)
        with pytest.raises(KafkaError):  # B takes no anonymous client
            _send(KafkaAccess(worker.bootstrap), raw, b"forged")
        assert broker.refusals() >= 1
    stack = kafka_service.layout(settings.state_dir, settings.kafka_port, 0).properties
    if stack.exists():
        assert "BASELINE" not in stack.read_text() and "ANONYMOUS" not in stack.read_text()

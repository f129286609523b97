"""Issue 11, item 1, against the local stack's real broker: Kafka refuses a client without
credentials or with a wrong password, and each service principal may read and write exactly
the topics of ``runtime.kafka_acls`` — nobody but the registry publisher writes the registry
topic, nobody but the worker reads the raw frames (they hold the devices' PW)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAuthorizationFailedError
from pydantic import SecretStr

from deploy.kafka_provision import provision
from runtime.kafka_access import KafkaAccess, Principal, kafka_access
from runtime.kafka_acls import RIGHTS
from runtime.settings import Settings
from schemas.topics import CATALOGUE, Topic, topic_name

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def prefix(local: Settings, services: Any) -> Iterator[str]:
    """A prefix whose topics and ACLs are provisioned as ``stack up`` does for its own."""
    name = f"acl{uuid.uuid4().hex[:10]}"
    provision(local, name, users=False)
    yield name
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**services.kafka.client_config())
    try:
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(f"{name}.")])
    finally:
        admin.close()


def _write(access: KafkaAccess, topic: str) -> None:
    producer = KafkaProducer(**access.client_config(), acks="all", max_block_ms=10_000)
    try:
        producer.send(topic, key=b"k", value=b"probe").get(timeout=15)
    finally:
        producer.close(timeout=5)


def _read(access: KafkaAccess, topic: str) -> None:
    consumer = KafkaConsumer(**access.client_config(), enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        consumer.poll(timeout_ms=3000)
        consumer.position(partition)
    finally:
        consumer.close()


def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
    local: Settings, prefix: str
) -> None:
    raw = topic_name(prefix, Topic.RAW_HJ212)
    anonymous = KafkaAccess(kafka_access(local, Principal.GATEWAY).bootstrap)  # PLAINTEXT
    with pytest.raises(KafkaError):
        _write(anonymous, raw)
    wrong = dataclasses.replace(
        kafka_access(local, Principal.GATEWAY), password=SecretStr("771204")
    )
    with pytest.raises(KafkaError):
        _write(wrong, raw)


WRITES = [(p, spec.topic) for p in RIGHTS for spec in CATALOGUE]


@pytest.mark.parametrize(("principal", "topic"), WRITES, ids=[f"{p}-writes-{t}" for p, t in WRITES])
def test_each_principal_writes_only_its_topics(
    local: Settings, prefix: str, principal: Principal, topic: Topic
) -> None:
    access = kafka_access(local, principal)
    assert access.username == principal.value and access.mechanism == "SCRAM-SHA-512"
    name = topic_name(prefix, topic)
    if topic in RIGHTS[principal].writes:
        _write(access, name)
    elif RIGHTS[principal].writes:
        with pytest.raises(TopicAuthorizationFailedError):
            _write(access, name)
    else:  # writes nothing (archiver): not even an idempotent producer id
        with pytest.raises(KafkaError):  # topic or cluster authorization, whichever first
            _write(access, name)


READS = [
    (Principal.GATEWAY, Topic.RAW_HJ212),
    (Principal.ALERTS, Topic.RAW_HJ212),
    (Principal.ENERGY_WORKER, Topic.RAW_HJ212),
    (Principal.REGISTRY, Topic.RAW_HJ212),
    (Principal.ENERGY_GATEWAY, Topic.RAW_ENERGY),
    (Principal.WORKER, Topic.ALERT_EVENTS),
    (Principal.GATEWAY, Topic.VERDICTS),
    (Principal.ARCHIVER, Topic.MEASUREMENTS),  # the archiver reads the raw topics only
    (Principal.ARCHIVER, Topic.REGISTRY),
]


@pytest.mark.parametrize(("principal", "topic"), READS, ids=[f"{p}-reads-{t}" for p, t in READS])
def test_a_principal_without_the_read_acl_is_refused(
    local: Settings, prefix: str, principal: Principal, topic: Topic
) -> None:
    assert topic not in RIGHTS[principal].reads
    with pytest.raises(TopicAuthorizationFailedError):
        _read(kafka_access(local, principal), topic_name(prefix, topic))


@pytest.mark.parametrize("principal", list(RIGHTS), ids=str)
def test_each_principal_reads_its_topics(
    local: Settings, prefix: str, principal: Principal
) -> None:
    for topic in RIGHTS[principal].reads:
        _read(kafka_access(local, principal), topic_name(prefix, topic))

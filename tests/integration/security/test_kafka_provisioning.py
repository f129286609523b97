"""Issue 11 follow-ups, against the local stack's real broker: provisioning returns only once
the broker's authorizer serves the ACLs it created (a freshly granted principal writes at
once, its first record accepted), the wait names the ACLs missing when they never show, and
the stream worker's start-up topic check asks only for its own topics (no refusal)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import TopicAuthorizationFailedError

import runtime.topics
from bench import pipeline_fleet
from bench.bench_pipeline import _produce
from bench.pipeline_fleet import DAY0
from bench.sends import ProduceRefused
from deploy.kafka_acl_wait import AclsNotInForce, wait_for_acls
from deploy.kafka_provision import acl_bindings, provision
from runtime.kafka_access import Principal, kafka_access
from runtime.settings import Settings
from schemas.topics import Topic, topic_name
from streams.worker import ensure_topics

pytestmark = pytest.mark.timeout(300)

ROUNDS = 4
"""Fresh prefixes provisioned and written at once: each one a chance for the race."""


@pytest.fixture
def admin(services: Any) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(**services.kafka.client_config())
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def prefixes(admin: KafkaAdminClient) -> Iterator[list[str]]:
    """Prefixes the test provisions; their topics and ACLs are removed afterwards."""
    made: list[str] = []
    yield made
    for prefix in made:
        admin.delete_acls(acl_bindings(prefix))
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(f"{prefix}.")])


def test_a_freshly_granted_principal_writes_as_soon_as_provisioning_returns(
    local: Settings, prefixes: list[str]
) -> None:
    for _ in range(ROUNDS):
        prefix = f"prov{uuid.uuid4().hex[:10]}"
        prefixes.append(prefix)
        provision(local, prefix, users=False)
        producer = KafkaProducer(
            **kafka_access(local, Principal.GATEWAY).client_config(), acks="all", retries=0
        )
        try:  # refused (TopicAuthorizationFailedError) if the ACL were not in force yet
            producer.send(topic_name(prefix, Topic.RAW_HJ212), b"first").get(timeout=15)
        finally:
            producer.close(timeout=5)


def test_the_wait_names_the_acls_the_broker_never_shows(admin: KafkaAdminClient) -> None:
    never = acl_bindings(f"absent{uuid.uuid4().hex[:8]}")  # a prefix nobody provisions
    with pytest.raises(AclsNotInForce) as refused:
        wait_for_acls(admin, never, deadline_s=0.5)
    assert refused.value.missing == never
    first = never[0]
    assert f"{len(never)} ACL(s) 0.5 s after they were created: " in str(
        refused.value
    ) and f"TOPIC:{first.resource_pattern.resource_name} (LITERAL)" in str(refused.value)


def test_the_worker_start_up_check_is_refused_nothing(
    local: Settings, prefixes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"prov{uuid.uuid4().hex[:10]}"
    prefixes.append(prefix)
    provision(local, prefix, users=False)
    refusals: list[str] = []

    class Recording(KafkaAdminClient):  # type: ignore[misc]
        def create_topics(self, new_topics: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().create_topics(new_topics, *args, **kwargs)
            except TopicAuthorizationFailedError:
                refusals.extend(t.name for t in new_topics)
                raise

    monkeypatch.setattr(runtime.topics, "KafkaAdminClient", Recording)
    assert ensure_topics(kafka_access(local, Principal.WORKER), prefix) == []
    assert refusals == []


def test_the_pipeline_benchmark_fails_loudly_on_a_refused_record(
    local: Settings, prefixes: list[str]
) -> None:
    """``bench_pipeline._produce`` as a principal that may not write the raw topic: the
    benchmark stops with the broker's refusal instead of draining forever."""
    prefix = f"prov{uuid.uuid4().hex[:10]}"
    prefixes.append(prefix)
    provision(local, prefix, users=False)
    at = DAY0
    frames = [pipeline_fleet.frame(pipeline_fleet.mn(0), at, at + timedelta(seconds=3))]
    with pytest.raises(ProduceRefused, match=r"1 of 1 records to \S+\.raw\.hj212 refused"):
        _produce(kafka_access(local, Principal.ALERTS), prefix, frames)

"""Issue 11, item 2: a registry record that a writer other than the registry publisher put on
the topic (a well-formed snapshot with no MAC, or a MAC under a guessed key)
is never swapped in by a follower; it is logged and counted."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from runtime.registry_mac import MAC_HEADER, registry_mac
from runtime.registry_topic import (
    REFUSED_RECORDS,
    InvalidRegistryRecord,
    RegistryFollower,
    publish_registry,
    read_latest_registry,
    registry_topic,
)
from runtime.settings import registry_key
from schemas.registry import encode_snapshot, load_registry, snapshot_of

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"
pytestmark = pytest.mark.timeout(120)


def _forge(services: Any, topic: str, mac_key: bytes | None) -> None:
    """A well-formed snapshot (version "forged"), written straight to the topic."""
    registry = load_registry(EXAMPLE)
    document = registry.model_dump(mode="json")
    document["version"] = "forged"
    forged = type(registry).model_validate(document)
    snapshot = snapshot_of(forged, datetime.now(UTC))
    key, value = snapshot.key.encode(), encode_snapshot(snapshot)
    headers = [] if mac_key is None else [(MAC_HEADER, registry_mac(mac_key, key, value))]
    producer = KafkaProducer(**services.kafka.client_config(), acks="all")
    producer.send(topic, key=key, value=value, headers=headers).get(timeout=30)
    producer.close()


def _refused(reason: str) -> float:
    return REFUSED_RECORDS.labels(reason=reason)._value.get()  # type: ignore[no-any-return]


def test_a_follower_never_swaps_in_a_record_the_publisher_did_not_sign(
    services: Any, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = registry_key(services.settings)
    topic = registry_topic(topic_prefix)
    registry = load_registry(EXAMPLE)
    publish_registry(services.kafka, topic, registry, datetime.now(UTC), key=key)
    follower = RegistryFollower(services.kafka, topic, "forgery-test", key=key)
    unsigned, bad = _refused("unsigned"), _refused("bad MAC")
    try:
        assert follower.latest(wait_s=10).snapshot.version == registry.version
        _forge(services, topic.name, None)
        _forge(services, topic.name, b"guessed-key" * 6)
        second = registry.model_copy(update={"version": "signed-2"})
        publish_registry(services.kafka, topic, second, datetime.now(UTC), key=key)
        stop, seen = threading.Event(), []
        with caplog.at_level(logging.ERROR, logger="runtime.registry_topic"):
            for record in follower.follow(stop, poll_s=0.2):
                seen.append(record.snapshot.version)
                stop.set()
    finally:
        follower.close()
    assert seen == ["signed-2"]
    assert follower.invalid_records == 2
    assert (_refused("unsigned") - unsigned, _refused("bad MAC") - bad) == (1, 1)
    assert f"registry topic {topic.name}@1 refused: unsigned" in caplog.text
    assert f"registry topic {topic.name}@2 refused: bad MAC" in caplog.text


def test_a_forged_record_in_force_stops_a_service_from_starting_on_it(
    services: Any, topic_prefix: str
) -> None:
    key = registry_key(services.settings)
    topic = registry_topic(topic_prefix)
    publish_registry(services.kafka, topic, load_registry(EXAMPLE), datetime.now(UTC), key=key)
    _forge(services, topic.name, None)
    with pytest.raises(InvalidRegistryRecord, match="refused: unsigned"):
        read_latest_registry(services.kafka, topic, wait_s=5, key=key)

"""The simulated province through the real gateway into the real Kafka: every intact frame is
published and acked, every damaged or unauthenticated one is a dead letter, and the frames a
unit stored during a communication loss arrive after its reconnection (补发)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from kafka import KafkaConsumer, TopicPartition
from services import kafka_config

from ingest.gateway.config import GatewayConfig
from ingest.gateway.publisher import ProducerOptions
from ingest.gateway.runner import GatewayThread
from ingest.hj212 import CHINA_TZ, decode
from ingest.simulator.episodes import parse_episodes
from ingest.simulator.fleet import FleetConfig
from ingest.simulator.province import build_province
from ingest.simulator.session import simulate
from runtime.raw_record import decode_raw
from schemas.envelope import DeadLetter

pytestmark = pytest.mark.timeout(180)
M = TypeVar("M")


def _count(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(**kafka_config(bootstrap))
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def _records(bootstrap: str, topic: str, count: int, parse: Callable[[bytes, Any], M]) -> list[M]:
    """The first ``count`` records of ``topic``, each ``parse(value, headers)`` (offset order
    on one partition); fewer if they do not come within 30 s."""
    consumer = KafkaConsumer(topic, **kafka_config(bootstrap), auto_offset_reset="earliest")
    records: list[M] = []
    deadline = time.monotonic() + 30
    try:
        while len(records) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(parse(r.value, r.headers) for r in batch)
    finally:
        consumer.close()
    return records


def _dead_letter(value: bytes, _headers: Any) -> DeadLetter:
    return DeadLetter.model_validate_json(value)


def test_two_simulated_hours_arrive_complete_with_rejects_by_reason(
    services: Any, kafka_topic_factory: Callable[..., str]
) -> None:
    province = build_province(3, seed=11, ack_fraction=1.0, realtime_fraction=0.0)
    corrupt_mn, impostor_mn = province.devices[0].mn, province.devices[2].mn
    episodes = parse_episodes(
        f"corrupt@{corrupt_mn}+10m/30m:1;bad_password@{impostor_mn}+1h/10m;exceedance@*+30m/20m"
    )
    config = GatewayConfig(
        raw_topic=kafka_topic_factory("raw", partitions=2),
        deadletter_topic=kafka_topic_factory("dl"),
        host="127.0.0.1",
        port=0,
        clock_skew_limit_s=0,
        max_auth_failures=0,
    )
    start = datetime(2026, 3, 2, tzinfo=CHINA_TZ)
    with GatewayThread(config, province.registry, ProducerOptions(services.kafka)) as gw:
        fleet = FleetConfig("127.0.0.1", gw.port, start, speed=4 * 3600, hours=2, drain_s=10)
        sent = asyncio.run(simulate(province, episodes, fleet))
        accepted = gw.stats.frames["accepted"]
        frames = Counter(gw.stats.frames)

    devices = len(province.devices)
    assert sent.sent == Counter({"2051": devices * 120, "2061": devices * 2})
    rejected = sent.corrupted["bad_crc"] + sent.corrupted["lost_characters"]
    assert frames["auth_bad_password"] == 10
    assert accepted == sent.frames_sent - rejected - 10
    assert sent.acks == accepted
    assert sent.answers == Counter({"3": 10})
    assert _count(services.kafka_bootstrap, config.raw_topic) == accepted

    letters = _records(
        services.kafka_bootstrap, config.deadletter_topic, 10 + rejected, _dead_letter
    )
    reasons = Counter(letter.reason for letter in letters)
    assert reasons["auth_bad_password"] == 10
    assert reasons["bad_crc"] + reasons["length_mismatch"] == rejected
    assert reasons["garbage"] == sent.corrupted["line_noise"]
    claimed = {letter.device_id for letter in letters if letter.reason != "garbage"}
    assert claimed <= {corrupt_mn, impostor_mn, None}  # None: MN itself damaged


def test_frames_of_a_communication_loss_arrive_after_the_reconnection(
    services: Any, kafka_topic_factory: Callable[..., str]
) -> None:
    province = build_province(1, seed=11, ack_fraction=1.0, realtime_fraction=0.0)
    lost_mn = province.devices[0].mn
    episodes = parse_episodes(f"comm_loss@{lost_mn}+20m/40m")  # 00:20–01:00, hour 00 inside
    config = GatewayConfig(
        raw_topic=kafka_topic_factory("raw"),
        deadletter_topic=kafka_topic_factory("dl"),
        host="127.0.0.1",
        port=0,
        clock_skew_limit_s=0,
    )
    start = datetime(2026, 3, 2, tzinfo=CHINA_TZ)
    with GatewayThread(config, province.registry, ProducerOptions(services.kafka)) as gw:
        fleet = FleetConfig("127.0.0.1", gw.port, start, speed=4 * 3600, hours=1.25, drain_s=10)
        sent = asyncio.run(simulate(province, episodes, fleet))
        accepted = gw.stats.frames["accepted"]

    devices = len(province.devices)
    assert sent.backfilled == Counter({"2051": 40, "2061": 1})
    assert sent.sent == Counter({"2051": devices * 75, "2061": devices})  # nothing lost
    assert accepted == sent.frames_sent
    # the link is cut at the loss, so acks of the frames written just before it (at most the
    # 20 minutes before) can be missed; everything sent after the reconnection is acked
    assert accepted - 20 <= sent.acks <= accepted
    records = _records(services.kafka_bootstrap, config.raw_topic, accepted, decode_raw)
    assert len(records) == accepted
    lost = [decode(r.payload) for r in records if r.device_id == lost_mn]
    order = [(p.cn, p.data_time) for p in lost]
    minute = timedelta(minutes=1)
    reconnected = order.index(("2051", start + 60 * minute))  # the live minute comes first
    assert order[:reconnected] == [("2051", start + m * minute) for m in range(20)]
    resent = [item for item in order[reconnected + 1 :] if item[1] < start + 60 * minute]
    assert resent == [*(("2051", start + m * minute) for m in range(20, 60)), ("2061", start)]
    assert order[reconnected + 31] == ("2051", start + 61 * minute)  # 30 re-sent per minute
    assert sorted(order) == sorted(
        [("2051", start + m * minute) for m in range(75)] + [("2061", start)]
    )

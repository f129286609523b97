"""Hot reload of the gateway's registry without Kafka: the topic record's codec, the swap between
frames, the version metric and the thread that hands registries to the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from gateway_fixtures import DEVICE, NOW, PASSWORD, frame, registry_of
from prometheus_client import CollectorRegistry, generate_latest

from ingest.gateway.admission import AUTH_UNKNOWN_MN, Admission, Admitted, Refused
from ingest.gateway.config import GatewayConfig
from ingest.gateway.metrics import GatewayCollector
from ingest.gateway.server import Gateway
from ingest.hj212 import QnRtn, decode
from runtime.registry_watch import RegistryWatch, on_loop
from schemas.registry import (
    Registry,
    RegistryError,
    decode_snapshot,
    encode_snapshot,
    hash_password,
    snapshot_of,
)

NEW_DEVICE = "GW-TEST-0002"
PUBLISHED_AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_snapshot_carries_the_whole_registry_keyed_by_region() -> None:
    edition = registry_of("ed-1", DEVICE, NEW_DEVICE)
    value = encode_snapshot(snapshot_of(edition, PUBLISHED_AT))

    document = json.loads(value)
    assert (document["format"], document["version"]) == (1, "ed-1")
    decoded = decode_snapshot(value, "t@0")
    assert decoded.registry == edition
    assert decoded.registry.standards == edition.standards  # thresholds travel with it
    assert decoded.published_at == PUBLISHED_AT
    assert decoded.key == "520000"


def test_snapshot_holds_password_digests_never_passwords() -> None:
    value = encode_snapshot(snapshot_of(registry_of("ed-1", DEVICE), PUBLISHED_AT))
    assert PASSWORD.encode() not in value
    assert hash_password(DEVICE, PASSWORD).encode() in value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "tombstone"),
        (None, "tombstone"),
        (b"{not json", "Invalid JSON"),
        (b'{"format": 2}', "format"),
    ],
)
def test_records_that_are_not_a_registry_are_refused_with_their_position(
    value: bytes | None, reason: str
) -> None:
    with pytest.raises(RegistryError, match=reason) as raised:
        decode_snapshot(value, "gw.registry@7")
    assert raised.value.source == "gw.registry@7"


def test_a_snapshot_whose_version_disagrees_with_its_registry_is_refused() -> None:
    document = json.loads(encode_snapshot(snapshot_of(registry_of("ed-1"), PUBLISHED_AT)))
    document["version"] = "ed-2"
    with pytest.raises(RegistryError, match="ed-2"):
        decode_snapshot(json.dumps(document).encode())


def _gateway(initial: Registry) -> Gateway:
    config = GatewayConfig(raw_topic="raw", deadletter_topic="dl")
    return Gateway(config, Admission(initial), publisher=None)  # type: ignore[arg-type]


def test_after_a_swap_an_added_device_is_admitted_and_a_removed_one_refused() -> None:
    gateway = _gateway(registry_of("ed-1", DEVICE))
    new_frame = frame(mn=NEW_DEVICE)
    assert isinstance(gateway.admission.admit(new_frame, NOW), Refused)
    assert isinstance(gateway.admission.admit(frame(), NOW), Admitted)

    replaced = gateway.use_registry(registry_of("ed-2", NEW_DEVICE))

    assert replaced == "ed-1"
    assert isinstance(gateway.admission.admit(new_frame, NOW), Admitted)
    refused = gateway.admission.admit(frame(), NOW)
    assert isinstance(refused, Refused) and refused.reason == AUTH_UNKNOWN_MN
    assert refused.reply is not None
    answer = decode(refused.reply)
    assert (answer.cn, answer.cp_params["QnRtn"]) == ("9011", str(int(QnRtn.MN_ERROR)))
    assert (gateway.stats.registry_version, gateway.stats.registry_swaps) == ("ed-2", 1)


def test_metrics_say_which_registry_version_is_in_use() -> None:
    gateway = _gateway(registry_of("ed-1", DEVICE))
    gateway.use_registry(registry_of("ed-2", DEVICE))
    metrics = CollectorRegistry(auto_describe=False)
    metrics.register(GatewayCollector(gateway.stats, lambda: (0, 0, 0)))

    text = generate_latest(metrics).decode()

    assert 'greenwatch_gateway_registry_info{protocol="hj212",version="ed-2"} 1.0' in text
    assert 'greenwatch_gateway_registry_swaps_total{protocol="hj212"} 1.0' in text


def test_watch_hands_registries_to_the_loop_in_order_and_stops_a_blocked_follower() -> None:
    editions = [registry_of("ed-2", DEVICE), registry_of("ed-3", DEVICE, NEW_DEVICE)]
    follower_done = threading.Event()

    def updates(stop: threading.Event) -> Iterator[Registry]:
        yield from editions
        stop.wait()  # a follower with nothing new blocks until asked to stop
        follower_done.set()

    async def main() -> list[tuple[str, bool]]:
        applied: list[tuple[str, bool]] = []
        both = asyncio.Event()
        loop_thread = threading.current_thread()

        def apply(edition: Registry) -> None:
            applied.append((edition.version, threading.current_thread() is loop_thread))
            if len(applied) == len(editions):
                both.set()

        loop = asyncio.get_running_loop()
        watch = RegistryWatch(updates, on_loop(loop, apply))
        watch.start()
        await asyncio.wait_for(both.wait(), 10)
        await loop.run_in_executor(None, watch.stop)
        return applied

    assert asyncio.run(main()) == [("ed-2", True), ("ed-3", True)]
    assert follower_done.is_set()


def test_a_failing_follower_is_logged_and_the_gateway_keeps_its_registry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def updates(stop: threading.Event) -> Iterator[Registry]:
        raise ConnectionError("broker gone")
        yield  # pragma: no cover

    async def main() -> list[Registry]:
        applied: list[Registry] = []
        watch = RegistryWatch(updates, on_loop(asyncio.get_running_loop(), applied.append))
        watch.start()
        await asyncio.get_running_loop().run_in_executor(None, watch.stop)
        return applied

    with caplog.at_level(logging.ERROR, logger="runtime.registry_watch"):
        assert asyncio.run(main()) == []
    assert "keeps its current registry" in caplog.text
    assert "broker gone" in caplog.text

"""`greenwatch gateway hj212` without a registry file follows the registry topic: a device added by
a later publication is accepted without restart, a removed one is refused; an empty topic is a
clear error. The gateway runs as the real command (a separate process) on the real Kafka."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "gateway"))
from gateway_fixtures import DEVICE, frame, registry_of

from greenwatch.demo_sinks import free_port
from ingest.hj212 import Packet, decode
from runtime.registry_topic import publish_registry, registry_topic
from runtime.settings import registry_key

pytestmark = pytest.mark.timeout(120)
ADDED = "GW-TEST-0002"


@pytest.fixture
def prefix(topic_prefix: str) -> str:
    return topic_prefix


def _gateway(services: Any, prefix: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "GREENWATCH_REGISTRY_FILE"}
    env |= {"GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap}
    env |= {"GREENWATCH_TOPIC_PREFIX": prefix}
    command = [sys.executable, "-m", "greenwatch", "gateway", "hj212", "--host", "127.0.0.1"]
    return subprocess.Popen(
        [*command, *args], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )


def _key(services: Any) -> bytes:
    """The registry key of the local stack the gateway under test verifies with."""
    return registry_key(services.settings)


def _produce(services: Any, topic: str, value: bytes) -> None:
    """A record from some other producer than ``load-registry``."""
    producer = KafkaProducer(**services.kafka.client_config())
    producer.send(topic, key=b"520000", value=value).get(timeout=30)
    producer.close()


def _wait_for_version(metrics_port: int, version: str, timeout_s: float = 30) -> None:
    wanted = f'greenwatch_gateway_registry_info{{protocol="hj212",version="{version}"}} 1.0'
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            url = f"http://127.0.0.1:{metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:
                if wanted in response.read().decode():
                    return
        time.sleep(0.2)
    raise AssertionError(f"gateway never reported registry {version}")


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=15)


def _answer(sock: socket.socket, mn: str) -> Packet:
    """Send one frame asking for a reply (Flag A bit) and return the gateway's answer."""
    sock.sendall(frame(mn=mn))
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        assert chunk, "gateway closed the connection without answering"
        data += chunk
    return decode(data)


def test_gateway_follows_published_registries_without_restart(services: Any, prefix: str) -> None:
    topic = registry_topic(prefix)
    publish_registry(
        services.kafka,
        topic,
        registry_of("ed-1", DEVICE),
        datetime.now(UTC),
        key=_key(services),
    )
    port, metrics_port = free_port(), free_port()
    gateway = _gateway(services, prefix, "--port", str(port), "--metrics-port", str(metrics_port))
    try:
        _wait_for_version(metrics_port, "ed-1")
        with _connect(port) as kept_open, _connect(port) as newcomer:
            assert _answer(kept_open, DEVICE).cn == "9014"  # data ack: accepted
            refused = _answer(newcomer, ADDED)
            assert (refused.cn, refused.cp_params["QnRtn"]) == ("9011", "4")  # MN error

            _produce(services, topic.name, b'{"format": 1, "version": "broken"}')
            second = registry_of("ed-2", ADDED)  # ADDED joins, DEVICE leaves
            publish_registry(services.kafka, topic, second, datetime.now(UTC), key=_key(services))
            _wait_for_version(metrics_port, "ed-2")

            assert _answer(newcomer, ADDED).cn == "9014"
            removed = _answer(kept_open, DEVICE)  # its next frame, same connection
            assert (removed.cn, removed.cp_params["QnRtn"]) == ("9011", "4")
    finally:
        gateway.terminate()
        _, stderr = gateway.communicate(timeout=30)
    assert gateway.returncode == 0, stderr
    assert f"registry ed-1 (following {topic.name} from offset 0, hot reload)" in stderr
    assert f"registry topic {topic.name}@1 skipped: not a valid registry" in stderr
    assert "registry ed-1 → ed-2: 1 enterprises, 1 devices" in stderr


def test_gateway_refuses_to_start_on_a_record_that_is_not_a_registry(
    services: Any, prefix: str
) -> None:
    topic = registry_topic(prefix)
    publish_registry(
        services.kafka,
        topic,
        registry_of("ed-1", DEVICE),
        datetime.now(UTC),
        key=_key(services),
    )
    _produce(services, topic.name, b"not json")
    gateway = _gateway(services, prefix, "--port", str(free_port()))
    _, stderr = gateway.communicate(timeout=60)
    assert gateway.returncode == 2
    assert f"{topic.name}@1: not a valid registry" in stderr


def test_gateway_refuses_to_start_on_an_empty_registry_topic(services: Any, prefix: str) -> None:
    gateway = _gateway(services, prefix, "--port", str(free_port()), "--registry-wait", "1")
    _, stderr = gateway.communicate(timeout=60)
    assert gateway.returncode == 2
    assert f"no registry published on {prefix}.registry (waited 1 s)" in stderr
    assert "greenwatch db load-registry FILE" in stderr

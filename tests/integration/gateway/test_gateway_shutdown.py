"""SIGTERM mid-stream: `greenwatch gateway hj212` (the real command, a separate process, on the
real Kafka) publishes or dead-letters every complete frame it had received before it exits, also
the frames a connection paused for backpressure still held in its buffer."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaConsumer
from services import kafka_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "gateway"))
from gateway_fixtures import frame, registry

from greenwatch.demo_sinks import free_port
from ingest.hj212 import redact_password
from runtime.raw_record import decode_raw
from schemas.envelope import DeadLetter

pytestmark = pytest.mark.timeout(180)


def _metric(metrics_port: int, name: str, label: str = "") -> float:
    """One sample of the gateway's metrics (0 when absent or not yet served)."""
    labels = 'protocol="hj212"' + (f",{label}" if label else "")
    wanted = f"greenwatch_gateway_{name}{{{labels}}} "
    with contextlib.suppress(OSError):
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(wanted):
                    return float(line[len(wanted) :])
    return 0.0


def _records(bootstrap: str, topic: str) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """Every record of ``topic`` (the process has exited: nothing more comes)."""
    consumer = KafkaConsumer(
        topic, **kafka_config(bootstrap), auto_offset_reset="earliest", enable_auto_commit=False
    )
    values: list[tuple[bytes, list[tuple[str, bytes]]]] = []
    try:
        quiet_until = time.monotonic() + 5
        while time.monotonic() < quiet_until:
            for batch in consumer.poll(timeout_ms=300).values():
                values.extend((r.value, r.headers) for r in batch)
                quiet_until = time.monotonic() + 2
    finally:
        consumer.close()
    return values


def test_sigterm_mid_stream_publishes_every_complete_frame_received(
    services: Any, topic_prefix: str, tmp_path: Path
) -> None:
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(yaml.safe_dump(registry().model_dump(mode="json", exclude_none=True)))
    port, metrics_port = free_port(), free_port()
    env = os.environ | {
        "GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "GREENWATCH_TOPIC_PREFIX": topic_prefix,
    }
    command = [sys.executable, "-m", "greenwatch", "gateway", "hj212", "--host", "127.0.0.1"]
    options = ["--port", str(port), "--metrics-port", str(metrics_port)]
    options += ["--registry", str(registry_file), "--clock-skew-seconds", "0"]
    # A 1-record budget makes the device faster than the gateway: while it streams, frames the
    # gateway has read wait in the connection's buffer with reading paused (backpressure).
    options += ["--max-inflight-per-connection", "1"]
    gateway = subprocess.Popen(
        [*command, *options], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    frames = [frame(flag=4 + n % 2, qn=f"2026030110{n:07d}") for n in range(20_000)]
    data = b"".join(frames)
    device = socket.socket()
    sender = threading.Thread(target=_send_quietly, args=(device, data), daemon=True)
    try:
        deadline = time.monotonic() + 60
        while _metric(metrics_port, "frames_total", 'result="accepted"') < 20:
            assert gateway.poll() is None and time.monotonic() < deadline, "no frames accepted"
            if sender.ident is None:  # not connected yet
                with contextlib.suppress(ConnectionRefusedError):  # not listening yet
                    device.connect(("127.0.0.1", port))
                    sender.start()
            time.sleep(0.05)
    finally:
        gateway.send_signal(signal.SIGTERM)  # mid-stream: the device is still sending
        _, stderr = gateway.communicate(timeout=60)
        device.close()
    assert gateway.returncode == 0, stderr
    found = re.search(r"gateway stopped: ([\d,]+) bytes received", stderr)
    assert found, stderr
    received = int(found.group(1).replace(",", ""))

    ends = list(itertools.accumulate(map(len, frames)))
    complete = frames[: sum(end <= received for end in ends)]
    assert 20 <= len(complete) < len(frames)
    raw = [
        decode_raw(v, h).payload
        for v, h in _records(services.kafka_bootstrap, f"{topic_prefix}.raw.hj212")
    ]
    assert raw == complete  # one MN, one partition: in the order sent, none lost
    tail = data[sum(map(len, complete)) : received]
    letters = [
        (d.reason, d.payload)
        for d in (
            DeadLetter.model_validate_json(v)
            for v, _ in _records(services.kafka_bootstrap, f"{topic_prefix}.deadletter")
        )
    ]
    assert letters == ([("truncated", redact_password(tail))] if tail else [])


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the gateway exits before it reads everything
        sock.sendall(data)

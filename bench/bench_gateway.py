"""HJ 212 gateway end to end: frames/s from many concurrent TCP connections into the real Kafka,
and the latency from sending a frame to receiving its 9014 ack.

Setup: the gateway runs as its own process (``greenwatch gateway hj212``, the real command)
against the local stack's Kafka (``greenwatch stack up`` first; it is never started or stopped
here), on fresh topics under a unique prefix. This process is the device fleet: ``CONNECTIONS``
asyncio connections, one registered MN each, each keeping up to ``WINDOW`` frames unacked
(Flag=5, A bit set). The gateway sends a 9014 only once Kafka acknowledged the raw record
(acks=all), so every ack received is a frame durable in Kafka.

Figures: acks/s over the measured window (after a warm-up); client-side latency send → ack
(p50/p99/p999: an upper bound of receive → Kafka ack, it adds both TCP hops and the client's
own scheduling); the gateway's own receive → Kafka-ack quantiles (its Prometheus gauges);
the raw topic's end offsets as a cross-check; the gateway's CPU use.

Frames are CN 2051 minute data of a flue-gas CEMS with 8 factors (~700 bytes), as the
simulator sends. Target (issue "HJ 212 gateway"): ≥ 10 000 frames/s on this 2-core machine.
The machine is shared, so figures vary between runs; nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.cpu_budget import cpu_seconds
from bench.kafka import bench_kafka, service_env
from ingest.hj212 import CHINA_TZ, encode
from runtime.kafka_access import KafkaAccess, Principal
from runtime.settings import Settings, kafka_servers
from schemas.registry import dump_registry, hash_password, parse_registry
from schemas.topics import Topic, topic_name

CONNECTIONS = int(os.environ.get("BENCH_GATEWAY_CONNECTIONS", "200"))
PROCESSES = int(os.environ.get("BENCH_GATEWAY_PROCESSES", "2"))
WINDOW = int(os.environ.get("BENCH_GATEWAY_WINDOW", "8"))
PACED_RATE = float(os.environ.get("BENCH_GATEWAY_PACED_RATE", "5000"))
WARMUP_S = float(os.environ.get("BENCH_GATEWAY_WARMUP_S", "4"))
MEASURE_S = float(os.environ.get("BENCH_GATEWAY_MEASURE_S", "12"))
FRAMES_PER_DEVICE = 64  # distinct QNs cycled; > WINDOW so an ack's QN is unambiguous
TARGET_FRAMES_PER_S = 10_000
PASSWORD = "bench-pw"
_QN = re.compile(rb"QN=(\d{17})")


def run() -> list[str]:
    settings = Settings()
    bootstrap = kafka_servers(settings)
    if not _reachable(bootstrap):
        return [f"Kafka not reachable at {bootstrap}: run `greenwatch stack up` first"]
    prefix = f"bench.{uuid.uuid4().hex[:8]}"
    kafka = bench_kafka(settings, prefix)
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        registry_file = Path(tmp) / "registry.yaml"
        registry_file.write_text(_registry_yaml(CONNECTIONS), "utf-8")
        port = _free_port()
        metrics_ports = [_free_port() for _ in range(PROCESSES)]
        gateways = [
            _start_gateway(settings, prefix, registry_file, port, metrics_port)
            for metrics_port in metrics_ports
        ]
        try:
            for gateway in gateways:
                _wait_listening(port, gateway)
            cpu_before = sum(cpu_seconds(g.pid) for g in gateways)
            fleet = asyncio.run(_drive(port, WINDOW))
            cpu_used = sum(cpu_seconds(g.pid) for g in gateways) - cpu_before
            gauges = [_scrape(metrics_port) for metrics_port in metrics_ports]
            paced = asyncio.run(_drive(port, 0, PACED_RATE))
        finally:
            for gateway in gateways:
                gateway.terminate()
            for gateway in gateways:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    gateway.wait(30)
        stored = _end_offsets(kafka, topic_name(prefix, Topic.RAW_HJ212))
        _delete_topics(kafka, prefix)
    return [*_report(fleet, gauges, stored, cpu_used), *_report_paced(paced)]


# -- the device fleet ------------------------------------------------------------------------


class _Device(asyncio.Protocol):
    """One connection: keeps ``window`` frames unacked (0: sends only when told), matches
    acks by QN."""

    def __init__(self, frames: list[tuple[bytes, bytes]], fleet: _Fleet, window: int) -> None:
        self._frames = frames
        self._window = window
        self._fleet = fleet
        self._next = 0
        self._sent_at: dict[bytes, float] = {}
        self._buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.send(self._window)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\r\n")
        now = time.perf_counter()
        acked = 0
        for line in lines:
            match = _QN.search(line)
            sent = self._sent_at.pop(match.group(1), None) if match else None
            if sent is not None:
                self._fleet.acked(sent, now)
                acked += 1
        if self._window:
            self.send(acked)

    def send(self, count: int) -> None:
        if self.transport is None or self._fleet.stopping:
            return
        now = time.perf_counter()
        chunk = []
        for _ in range(count):
            qn, frame = self._frames[self._next % len(self._frames)]
            self._next += 1
            self._sent_at[qn] = now
            chunk.append(frame)
        if chunk:
            self.transport.write(b"".join(chunk))


class _Fleet:
    def __init__(self) -> None:
        self.stopping = False
        self.window_start = float("inf")
        self.window_end = float("inf")
        self.acks_in_window = 0
        self.acks_total = 0
        self.latencies: list[float] = []

    def acked(self, sent: float, now: float) -> None:
        self.acks_total += 1
        if self.window_start <= now < self.window_end:
            self.acks_in_window += 1
            self.latencies.append(now - sent)


async def _drive(port: int, window: int, paced_rate: float | None = None) -> _Fleet:
    """Connect the fleet; saturate with ``window`` frames per connection, or (``window`` 0)
    send ``paced_rate`` frames/s round-robin over the connections."""
    fleet = _Fleet()
    loop = asyncio.get_running_loop()
    devices = []
    for index in range(CONNECTIONS):
        frames = _device_frames(index)
        _, device = await loop.create_connection(
            functools.partial(_Device, frames, fleet, window), "127.0.0.1", port
        )
        devices.append(device)
    pacer = asyncio.create_task(_pace(devices, paced_rate)) if paced_rate else None
    await asyncio.sleep(WARMUP_S)
    fleet.window_start = time.perf_counter()
    fleet.window_end = fleet.window_start + MEASURE_S
    await asyncio.sleep(MEASURE_S)
    fleet.stopping = True
    if pacer is not None:
        pacer.cancel()
    await asyncio.sleep(2)  # let the last acks arrive
    for device in devices:
        if device.transport is not None:
            device.transport.close()
    await asyncio.sleep(0.2)
    return fleet


async def _pace(devices: list[_Device], rate: float) -> None:
    """Send ``rate`` frames/s in total, one frame per device in turn, every 5 ms."""
    owed, turn, last = 0.0, 0, time.perf_counter()
    while True:
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        owed += (now - last) * rate
        last = now
        while owed >= 1:
            devices[turn % len(devices)].send(1)
            turn += 1
            owed -= 1


def _device_frames(index: int) -> list[tuple[bytes, bytes]]:
    mn = _mn(index)
    start = datetime(2026, 3, 1, tzinfo=CHINA_TZ)
    frames = []
    for n in range(FRAMES_PER_DEVICE):
        qn = f"{(start + timedelta(seconds=n)).strftime('%Y%m%d%H%M%S')}{n % 1000:03d}"
        values: dict[str, dict[str, float | str]] = {
            factor: {"Avg": 12.5 + n, "Min": 10.25, "Max": 15.75, "ZsAvg": 14.5, "Flag": "N"}
            for factor in ("a21026", "a21002", "a34013")
        }
        for factor in ("a19001", "a01012", "a01013", "a01014", "a00000"):
            values[factor] = {"Avg": 6.5, "Min": 6.25, "Max": 6.75, "Flag": "N"}
        text = encode(
            st="31",
            cn="2051",
            mn=mn,
            pw=PASSWORD,
            qn=qn,
            flag=5,
            data_time=start + timedelta(minutes=n),
            values=values,
        )
        frames.append((qn.encode(), text.encode()))
    return frames


def _mn(index: int) -> str:
    return f"BENCH{index:06d}"


# -- the gateway process -----------------------------------------------------------------------


def _registry_yaml(devices: int) -> str:
    document: dict[str, Any] = {
        "version": "bench-1",
        "region": {"code": "520000", "name": "bench"},
        "enterprises": [
            {
                "id": "E-BENCH",
                "name": "bench fleet",
                "region_code": "520100",
                "industry_code": "4411",
                "outlets": [
                    {
                        "id": "E-BENCH-G1",
                        "name": "bench outlet",
                        "medium": "gas",
                        "standard": "ULE-coal-power",
                        "devices": [
                            {"mn": _mn(i), "password_sha256": hash_password(_mn(i), PASSWORD)}
                            for i in range(devices)
                        ],
                    }
                ],
            }
        ],
    }
    return dump_registry(parse_registry(document))


def _start_gateway(
    settings: Settings, prefix: str, registry: Path, port: int, metrics_port: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **service_env(settings, Principal.GATEWAY),
        "GREENWATCH_TOPIC_PREFIX": prefix,
    }
    command = [
        sys.executable,
        "-m",
        "greenwatch",
        "gateway",
        "hj212",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--metrics-port",
        str(metrics_port),
        "--registry",
        str(registry),
        "--clock-skew-seconds",
        "0",
        "--reuse-port",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_listening(port: int, gateway: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gateway.poll() is not None:
            error = gateway.stderr.read().decode() if gateway.stderr else ""
            raise RuntimeError(f"gateway exited ({gateway.returncode}): {error}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise RuntimeError("gateway did not listen in time")


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    found = re.findall(
        r'publish_latency_quantile_seconds\{protocol="hj212",quantile="([0-9.]+)"\} (\S+)', text
    )
    return {quantile: float(value) for quantile, value in found}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _reachable(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), 2):
            return True
    except OSError:
        return False


def _end_offsets(kafka: KafkaAccess, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**kafka.client_config())
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def _delete_topics(kafka: KafkaAccess, prefix: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**kafka.client_config())
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix + ".")]
        with contextlib.suppress(Exception):  # best effort: a leftover topic harms nobody
            admin.delete_topics(mine)
    finally:
        admin.close()


def _quantile(latencies: list[float], q: float) -> str:
    """``latencies`` sorted; the q quantile in ms."""
    if not latencies:
        return "-"
    return f"{latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000:.1f} ms"


def _report_paced(fleet: _Fleet) -> list[str]:
    latencies = sorted(fleet.latencies)
    return [
        f"paced at {PACED_RATE:,.0f} frames/s offered ({fleet.acks_in_window / MEASURE_S:,.0f} "
        f"acked/s): client send -> 9014 ack p50 {_quantile(latencies, 0.5)}, "
        f"p99 {_quantile(latencies, 0.99)}, p999 {_quantile(latencies, 0.999)}"
    ]


def _report(fleet: _Fleet, gauges: list[dict[str, float]], stored: int, cpu_s: float) -> list[str]:
    rate = fleet.acks_in_window / MEASURE_S
    latencies = sorted(fleet.latencies)

    def quantile(q: float) -> str:
        return _quantile(latencies, q)

    def gauge(q: str) -> str:
        found = [g[q] * 1000 for g in gauges if q in g]
        return " / ".join(f"{value:.1f}" for value in found) + " ms" if found else "-"

    verdict = "meets" if rate >= TARGET_FRAMES_PER_S else "BELOW"
    run_s = WARMUP_S + MEASURE_S
    return [
        f"gateway: {rate:,.0f} frames/s acked (durable in Kafka, acks=all) over {MEASURE_S:.0f} s, "
        f"{CONNECTIONS} connections x window {WINDOW}, ~700-byte 2051 frames, "
        f"{PROCESSES} gateway process(es) sharing the port",
        f"target {TARGET_FRAMES_PER_S:,} frames/s: {verdict}",
        f"client send -> 9014 ack: p50 {quantile(0.5)}, p99 {quantile(0.99)}, "
        f"p999 {quantile(0.999)}",
        f"gateway receive -> Kafka ack (saturation phase, per process): p50 {gauge('0.5')}, "
        f"p99 {gauge('0.99')}, p999 {gauge('0.999')}",
        f"raw topic holds {stored:,} records after both phases; saturation phase received "
        f"{fleet.acks_total:,} acks",
        f"gateway CPU {cpu_s:.1f} s over {run_s:.0f} s run "
        f"({fleet.acks_total / cpu_s if cpu_s else 0:,.0f} frames per CPU-second)",
    ]


if __name__ == "__main__":
    for line in run():
        print(line)

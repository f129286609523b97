"""Latency percentiles, the summary line and the Prometheus exposition of the gateway."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from ingest.gateway.metrics import GatewayCollector
from ingest.gateway.stats import GatewayStats, LatencyRecorder
from ingest.gateway.summary import SummaryWindow


def test_percentiles_are_within_five_percent() -> None:
    recorder = LatencyRecorder()
    for millis in range(1, 1001):  # 1 ms .. 1 s, uniform
        recorder.record(millis / 1000)
    assert recorder.percentile(0.5) == pytest.approx(0.5, rel=0.05)
    assert recorder.percentile(0.99) == pytest.approx(0.99, rel=0.05)
    assert recorder.percentile(1.0) == pytest.approx(1.0)
    assert LatencyRecorder().percentile(0.99) is None


def test_merged_recorders_count_everything() -> None:
    a, b = LatencyRecorder(), LatencyRecorder()
    a.record(0.001)
    b.record(0.1)
    a.merge(b)
    assert a.count == 2
    assert a.percentile(1.0) == pytest.approx(0.1)


def test_summary_line_reports_rate_devices_and_rejects_by_reason() -> None:
    stats = GatewayStats()
    window = SummaryWindow(stats, now=0.0)
    stats.frames.update({"accepted": 900, "bad_crc": 80, "auth_unknown_mn": 20})
    stats.latency.record(0.004)
    line = window.line(now=10.0, connections=7, devices=5)
    assert "frames/s 100 (accepted 90)" in line
    assert "connections 7" in line and "devices 5" in line
    assert "rejects: bad_crc 80, auth_unknown_mn 20" in line


def test_prometheus_exposition_has_frames_by_result_and_devices_online() -> None:
    stats = GatewayStats()
    stats.frames.update({"accepted": 3, "garbage": 1})
    stats.latency.record(0.002)
    registry = CollectorRegistry()
    registry.register(GatewayCollector(stats, lambda: (2, 1, 0)))
    text = generate_latest(registry).decode()
    assert 'greenwatch_gateway_frames_total{protocol="hj212",result="accepted"} 3.0' in text
    assert 'greenwatch_gateway_frames_total{protocol="hj212",result="garbage"} 1.0' in text
    assert 'greenwatch_gateway_devices_online{protocol="hj212"} 1.0' in text
    assert (
        'greenwatch_gateway_publish_latency_seconds_bucket{le="+Inf",protocol="hj212"} 1.0' in text
    )
    assert (
        'greenwatch_gateway_publish_latency_seconds_bucket{le="0.00256",protocol="hj212"} 1.0'
        in text
    )

"""Prometheus metrics of the gateway, read from ``GatewayStats`` at scrape time.

Metric names (all prefixed ``greenwatch_gateway_hj212_``):

- ``frames_total{result}``: frames by result: ``accepted`` (durable in the raw topic),
  ``publish_failed``, or the refusal/junk reason (``bad_crc``, ``auth_unknown_mn``,
  ``garbage``…).
- ``devices_online``: distinct MNs authenticated on an open connection.
- ``connections_open``; ``connections_total{outcome}`` (``accepted``, ``refused_limit``);
  ``connections_closed_total{reason}`` (``idle``, ``auth_failures``, ``garbage``, ``shutdown``).
- ``replies_total{cn}``: 9014 data acks and 9011 request answers written.
- ``clock_skewed_frames_total``; ``split_packets_total{outcome}``.
- ``published_records_total{topic}`` / ``publish_failures_total{topic}`` (``raw``,
  ``deadletter``); ``inflight_records``; ``received_bytes_total``.
- ``publish_latency_seconds``: histogram, frame received → Kafka acknowledged its raw record;
  ``publish_latency_quantile_seconds{quantile}``: its 0.5/0.9/0.99/0.999 quantiles (±5 %).

A custom collector keeps the hot path to plain integer increments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ingest.gateway.stats import GatewayStats, LatencyRecorder

PREFIX: Final = "greenwatch_gateway_hj212_"
QUANTILES: Final = (0.5, 0.9, 0.99, 0.999)


class GatewayCollector(Collector):
    """Exposes one gateway's stats; ``gauges`` returns (connections open, devices online,
    records in flight) at scrape time."""

    def __init__(self, stats: GatewayStats, gauges: Callable[[], tuple[int, int, int]]) -> None:
        self._stats = stats
        self._gauges = gauges

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        stats = self._stats
        connections, devices, inflight = self._gauges()
        yield _labelled("frames", "Frames by result.", "result", stats.frames)
        yield GaugeMetricFamily(
            PREFIX + "devices_online", "MNs authenticated on an open connection.", devices
        )
        yield GaugeMetricFamily(PREFIX + "connections_open", "Open connections.", connections)
        yield GaugeMetricFamily(
            PREFIX + "inflight_records", "Records sent to Kafka, not yet acknowledged.", inflight
        )
        yield _labelled("connections", "Connections by outcome.", "outcome", stats.connections)
        yield _labelled("connections_closed", "Closed by the gateway.", "reason", stats.closed)
        yield _labelled("replies", "Replies written, by CN.", "cn", stats.acks)
        yield _labelled("split_packets", "Split packets.", "outcome", stats.split)
        yield _labelled("published_records", "Records Kafka acked.", "topic", stats.published)
        yield _labelled("publish_failures", "Records Kafka failed.", "topic", stats.publish_failed)
        yield CounterMetricFamily(
            PREFIX + "clock_skewed_frames",
            "Admitted frames whose device clock is off by more than the limit.",
            value=stats.clock_skewed,
        )
        yield CounterMetricFamily(
            PREFIX + "received_bytes", "Bytes received.", value=stats.bytes_received
        )
        yield _histogram(stats.latency)
        quantiles = GaugeMetricFamily(
            PREFIX + "publish_latency_quantile_seconds",
            "Receive-to-Kafka-ack latency quantiles since start (±5 %).",
            labels=["quantile"],
        )
        for fraction in QUANTILES:
            value = stats.latency.percentile(fraction)
            if value is not None:
                quantiles.add_metric([str(fraction)], value)
        yield quantiles


def _labelled(
    name: str, documentation: str, label: str, counts: Counter[str]
) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


def _histogram(latency: LatencyRecorder) -> HistogramMetricFamily:
    buckets = [(f"{bound:.6g}", count) for bound, count in latency.cumulative_by_octave()]
    buckets.append(("+Inf", latency.count))
    return HistogramMetricFamily(
        PREFIX + "publish_latency_seconds",
        "Frame received to Kafka acknowledgement of its raw record.",
        buckets=buckets,
        sum_value=latency.total_s,
    )


def serve_metrics(
    port: int, stats: GatewayStats, gauges: Callable[[], tuple[int, int, int]], host: str = ""
) -> CollectorRegistry:
    """Start the ``/metrics`` HTTP endpoint on ``port`` (a daemon thread) and return its
    registry. Raises ``OSError`` when the port is taken."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(stats, gauges))
    start_http_server(port, addr=host or "0.0.0.0", registry=registry)
    return registry
